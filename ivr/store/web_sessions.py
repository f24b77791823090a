"""Console sessions in the database, so a browser logged in on one node is served by any node.

The browser holds a random token; the table holds only its SHA-256, plus the session's CSRF
token. A session ends at logout, at its expiry, or at once when its user is disabled. Each use
slides the expiry forward, written at most once a minute per session.

BLOCKING (SQL): call from a worker thread.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import delete, select, update

from ivr.store.db import Database
from ivr.store.models import User, WebSession

REFRESH_AFTER = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class SessionUser:
    """Who a request comes from, and the CSRF token its forms must carry."""

    user_id: int
    username: str
    display_name: str
    role: str
    csrf_token: str


def _key(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def open_session(db: Database, user_id: int, now: dt.datetime, lifetime: dt.timedelta) -> str:
    """A new session for `user_id`; returns the token for the cookie."""
    token = secrets.token_urlsafe(32)
    with db.transaction() as session:
        session.add(
            WebSession(
                id=_key(token),
                user_id=user_id,
                csrf_token=secrets.token_urlsafe(32),
                created_at=now,
                expires_at=now + lifetime,
            )
        )
    return token


def session_user(
    db: Database, token: str, now: dt.datetime, lifetime: dt.timedelta
) -> SessionUser | None:
    """The live session's user, or None (unknown, expired, or the user is disabled)."""
    query = (
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.id == _key(token))
    )
    with db.reading() as session:
        found = session.execute(query).first()
    if found is None:
        return None
    row, user = found
    if row.expires_at <= now or user.disabled:
        return None
    if row.expires_at - lifetime + REFRESH_AFTER <= now:
        with db.transaction() as session:
            session.execute(
                update(WebSession).where(WebSession.id == row.id).values(expires_at=now + lifetime)
            )
    return SessionUser(user.id, user.username, user.display_name, user.role, row.csrf_token)


def close_session(db: Database, token: str) -> None:
    with db.transaction() as session:
        session.execute(delete(WebSession).where(WebSession.id == _key(token)))


def purge_expired(db: Database, now: dt.datetime) -> int:
    with db.transaction() as session:
        result = session.execute(delete(WebSession).where(WebSession.expires_at <= now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
