"""Agents' SIP credentials, kept beside their console accounts (`ivr.store.accounts`).

An agent is a console user with role `agent` plus an `agent_credential` row: one name and one
password for the console and the softphone. The password becomes the scrypt hash of the
console and the digest HA1s (MD5, SHA-256) of the phone in one transaction, and is then
forgotten. Disabling the user (`python -m ivr agents disable`, or the supervisor console)
refuses the phone's next REGISTER too.

BLOCKING (SQL, scrypt): the registrar calls `credentials` on the database pool.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ivr.agents.digest import ha1
from ivr.store import accounts as users
from ivr.store.accounts import AccountError
from ivr.store.db import Database
from ivr.store.models import AgentCredential, User

__all__ = ["AccountError", "AgentCredentials", "add_agent", "credentials", "list_agents"]


@dataclass(frozen=True)
class AgentCredentials:
    username: str
    display_name: str
    realm: str
    ha1_md5: str
    ha1_sha256: str
    enabled: bool

    def ha1_for(self, algorithm: str) -> str:
        return self.ha1_sha256 if algorithm == "SHA-256" else self.ha1_md5


def add_agent(
    db: Database,
    username: str,
    password: str,
    realm: str,
    display_name: str,
    now: dt.datetime,
    by: str = "cli",
) -> None:
    with db.transaction() as session:
        account = users.add_user(
            db, username, display_name, "agent", password, by=by, now=now, session=session
        )
        session.add(
            AgentCredential(
                user_id=account.id,
                realm=realm,
                ha1_md5=ha1("MD5", username, realm, password),
                ha1_sha256=ha1("SHA-256", username, realm, password),
                changed_at=now,
            )
        )


def set_password(
    db: Database, username: str, password: str, realm: str, now: dt.datetime, by: str = "cli"
) -> None:
    with db.transaction() as session:
        users.set_password(db, username, password, by=by, now=now, session=session)
        row = session.scalar(select(AgentCredential).join(User).where(User.username == username))
        if row is None:
            raise AccountError(f"{username} 不是坐席（没有话机账号）")
        row.realm = realm
        row.ha1_md5 = ha1("MD5", username, realm, password)
        row.ha1_sha256 = ha1("SHA-256", username, realm, password)
        row.changed_at = now


def credentials(db: Database, username: str) -> AgentCredentials | None:
    with db.reading() as session:
        row = session.execute(
            select(User, AgentCredential)
            .join(AgentCredential, AgentCredential.user_id == User.id)
            .where(User.username == username)
        ).first()
        return None if row is None else _credentials(*row)


def list_agents(db: Database) -> list[AgentCredentials]:
    with db.reading() as session:
        rows = session.execute(
            select(User, AgentCredential)
            .join(AgentCredential, AgentCredential.user_id == User.id)
            .order_by(User.username)
        )
        return [_credentials(*row) for row in rows]


def _credentials(user: User, credential: AgentCredential) -> AgentCredentials:
    return AgentCredentials(
        username=user.username,
        display_name=user.display_name,
        realm=credential.realm,
        ha1_md5=credential.ha1_md5,
        ha1_sha256=credential.ha1_sha256,
        enabled=not user.disabled,
    )
