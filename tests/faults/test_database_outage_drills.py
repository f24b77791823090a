"""Fault drills: PostgreSQL down at start-up, and stopped and back within a call."""

from __future__ import annotations

import time
from pathlib import Path

from sqlalchemy import select

from ivr.store.db import Database, make_engine
from ivr.store.models import CallRecord
from tests.e2e.server import start_ivr
from tests.faults.drill import (
    ACTION_TIMEOUT,
    assert_truthful,
    loss_call,
    place,
    seed,
    storage_env,
    told,
)
from tests.faults.private_servers import PrivatePostgres, PrivateRedis


def test_database_down_at_start_then_back(
    postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = storage_env(postgres, private_redis.url, tmp_path)
    seed(env)
    postgres.stop()
    server = start_ivr(tmp_path, database_url=postgres.url, redis_url=private_redis.url)
    try:
        server.wait_for_log(r"database is unavailable at start")
        ref, phone = place(server, loss_call(ACTION_TIMEOUT + 8))
        phone.join(120)
        assert told(server, ref) == "failed"
        postgres.start()
        server.wait_for_log(r"schema up to date", timeout=30)
        second, phone = place(server, loss_call(25))
        phone.join(120)
        assert told(server, second) == "reported"
        assert_truthful(server, postgres, [ref, second])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # both CDRs, the one spooled in the outage too
            db = Database(make_engine(postgres.url))
            with db.reading() as session:
                calls = set(session.scalars(select(CallRecord.outcome)))
            db.dispose()
            if len(calls) >= 2:
                break
            time.sleep(1)
        assert {"temporary_loss:reported"} <= calls and len(calls) >= 2
    finally:
        server.stop()


def test_database_stopped_and_back_within_a_call(
    postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    """The pool's connections died with the server; the action reconnects and reports."""
    env = storage_env(postgres, private_redis.url, tmp_path)
    seed(env)
    server = start_ivr(tmp_path, database_url=postgres.url, redis_url=private_redis.url)
    try:
        ref, phone = place(server, loss_call(25))
        time.sleep(3)  # the caller is in the menus
        postgres.stop()
        postgres.start()
        phone.join(120)
        assert told(server, ref) == "reported"
        assert_truthful(server, postgres, [ref])
    finally:
        server.stop()
