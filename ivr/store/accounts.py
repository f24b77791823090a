"""Console accounts: users with a role, a scrypt password hash, and a disabled flag.

Every change goes into the change log in the same transaction, naming who made it (`by`: a
console username, or "cli" for `python -m ivr users`). Passwords are kept only as
self-describing hashes, `scrypt$n$r$p$salt_hex$hash_hex` (stdlib `hashlib.scrypt`, as the PINs
are), so the cost can be raised later without invalidating stored hashes.

The agents room builds on this: `python -m ivr agents add` calls `add_user(..., role="agent")`
inside its own transaction (`session=`) and stores the SIP credential beside it (see
`ivr.store.models.User`).

BLOCKING (SQL, and scrypt costs ~50 ms of CPU): call from a worker thread, or from a command.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.change_log import record_change
from ivr.store.db import Database
from ivr.store.models import User

ROLES = ("agent", "supervisor")
MIN_PASSWORD_LENGTH = 8
USERNAME = re.compile(r"[a-z0-9][a-z0-9._-]{1,63}")
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
SALT_BYTES = 16
HASH_BYTES = 32


class AccountError(ValueError):
    """A refused account change; the message says why, in the console's language."""


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    role: str
    disabled: bool
    created_at: dt.datetime
    updated_at: dt.datetime


def _account(row: User) -> Account:
    return Account(
        row.id, row.username, row.display_name, row.role, row.disabled, row.created_at,
        row.updated_at,
    )  # fmt: skip


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    maxmem = 128 * r * (n + p + 2) + 1024 * 1024
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=maxmem, dklen=HASH_BYTES
    )


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    scheme, n, r, p, salt_hex, digest_hex = stored.split("$")
    if scheme != "scrypt":
        raise ValueError(f"unknown password hash scheme {scheme!r}")
    digest = _scrypt(password, bytes.fromhex(salt_hex), int(n), int(r), int(p))
    return hmac.compare_digest(digest, bytes.fromhex(digest_hex))


# Checked when the username is unknown, so a wrong name takes as long as a wrong password.
_DUMMY_HASH = hash_password(secrets.token_hex(16))


def check_password_rules(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"密码至少 {MIN_PASSWORD_LENGTH} 位")


def add_user(
    db: Database,
    username: str,
    display_name: str,
    role: str,
    password: str,
    *,
    by: str,
    now: dt.datetime,
    session: Session | None = None,
) -> Account:
    """Create an account. `session`: add it to that open transaction instead of a new one."""
    if not USERNAME.fullmatch(username):
        raise AccountError("用户名须为 2-64 位小写字母、数字、点、横线或下划线")
    if role not in ROLES:
        raise AccountError(f"角色须为 {' / '.join(ROLES)}")
    check_password_rules(password)
    if session is None:
        with db.transaction() as own:
            return add_user(db, username, display_name, role, password, by=by, now=now, session=own)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AccountError(f"用户名 {username} 已存在")
    row = User(
        username=username,
        display_name=display_name or username,
        role=role,
        password_hash=hash_password(password),
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    session.add(row)
    session.flush()
    record_change(
        session, at=now, username=by, action="user.add", target=username, detail={"role": role}
    )
    return _account(row)


def _find(session: Session, username: str) -> User:
    row = session.scalars(select(User).where(User.username == username).with_for_update()).first()
    if row is None:
        raise AccountError(f"没有用户 {username}")
    return row


def set_password(
    db: Database,
    username: str,
    password: str,
    *,
    by: str,
    now: dt.datetime,
    session: Session | None = None,
) -> None:
    """`session`: change it in that open transaction (an agent's SIP digests change with it)."""
    check_password_rules(password)
    if session is None:
        with db.transaction() as own:
            set_password(db, username, password, by=by, now=now, session=own)
        return
    row = _find(session, username)
    row.password_hash = hash_password(password)
    row.updated_at = now
    record_change(session, at=now, username=by, action="user.passwd", target=username)


def set_disabled(db: Database, username: str, disabled: bool, *, by: str, now: dt.datetime) -> None:
    """Disable (or enable again) an account; a disabled user's sessions stop working at once."""
    with db.transaction() as session:
        row = _find(session, username)
        row.disabled = disabled
        row.updated_at = now
        action = "user.disable" if disabled else "user.enable"
        record_change(session, at=now, username=by, action=action, target=username)


def list_users(db: Database) -> list[Account]:
    with db.reading() as session:
        return [_account(row) for row in session.scalars(select(User).order_by(User.username))]


def authenticate(db: Database, username: str, password: str) -> Account | None:
    """The account when the password is right and the account enabled, else None."""
    with db.reading() as session:
        row = session.scalars(select(User).where(User.username == username)).first()
        account = _account(row) if row is not None else None
        stored = row.password_hash if row is not None else _DUMMY_HASH
    right = verify_password(password, stored)
    if account is None or not right or account.disabled:
        return None
    return account
