"""Console sessions in the database: found by token, slid forward on use, ended by expiry, by
disabling the user, by logout; expired rows purged."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from ivr.store.accounts import add_user, authenticate, set_disabled
from ivr.store.models import WebSession
from ivr.store.web_sessions import close_session, open_session, purge_expired, session_user
from tests.backends import Stores

T0 = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)
LIFE = dt.timedelta(hours=1)


def rows(stores: Stores) -> int:
    with stores.db.reading() as session:
        return int(session.scalar(select(func.count(WebSession.id))) or 0)


def test_a_session_lives_while_used_and_ends_with_expiry_logout_or_a_disabled_user(
    stores: Stores,
) -> None:
    account = add_user(stores.db, "wang", "王班长", "supervisor", "pass-word-1", by="cli", now=T0)
    assert authenticate(stores.db, "wang", "pass-word-1") == account
    assert authenticate(stores.db, "wang", "wrong-pass") is None
    token = open_session(stores.db, account.id, T0, LIFE)
    seen = session_user(stores.db, token, T0 + dt.timedelta(minutes=50), LIFE)
    assert seen is not None and seen.username == "wang" and len(seen.csrf_token) > 30
    # Used at 50 minutes: it now lasts until 1 h 50 min.
    assert session_user(stores.db, token, T0 + dt.timedelta(minutes=100), LIFE) is not None
    assert session_user(stores.db, token, T0 + dt.timedelta(minutes=170), LIFE) is None
    assert session_user(stores.db, "made-up-token", T0, LIFE) is None

    second = open_session(stores.db, account.id, T0, LIFE)
    set_disabled(stores.db, "wang", True, by="cli", now=T0)
    assert session_user(stores.db, second, T0, LIFE) is None
    assert authenticate(stores.db, "wang", "pass-word-1") is None
    set_disabled(stores.db, "wang", False, by="cli", now=T0)
    close_session(stores.db, second)
    assert session_user(stores.db, second, T0, LIFE) is None

    assert rows(stores) == 1  # the first one, expired
    assert purge_expired(stores.db, T0 + dt.timedelta(hours=3)) == 1
    assert rows(stores) == 0
