"""Fault drills: PostgreSQL stopped or hung (SIGSTOP) mid-action. Every report a caller heard
confirmed is committed; none that failed is."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.e2e.server import start_ivr
from tests.faults.drill import (
    ACTION_AT,
    ACTION_TIMEOUT,
    assert_truthful,
    loss_call,
    place,
    seed,
    storage_env,
    told,
)
from tests.faults.private_servers import PrivatePostgres, PrivateRedis


@pytest.mark.parametrize("fault", ["stopped", "hung"])
def test_database_fails_mid_action(
    postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path, fault: str
) -> None:
    env = storage_env(postgres, private_redis.url, tmp_path)
    seed(env)
    server = start_ivr(tmp_path, database_url=postgres.url, redis_url=private_redis.url)
    try:
        ref, phone = place(server, loss_call(ACTION_TIMEOUT + 10))
        time.sleep(ACTION_AT - 1)  # just before the action starts
        postgres.stop() if fault == "stopped" else postgres.freeze()
        phone.join(120)
        assert told(server, ref) == "failed"
        postgres.start() if fault == "stopped" else postgres.thaw()
        time.sleep(6)  # a hung job resumes and must roll back
        assert_truthful(server, postgres, [ref])
        second, phone = place(server, loss_call(25))
        phone.join(120)
        assert told(server, second) == "reported"
        assert_truthful(server, postgres, [ref, second])
    finally:
        postgres.thaw()
        server.stop()
