"""Fault drills: Redis down at start-up, stopped or hung (SIGSTOP) mid-call: actions fail closed."""

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
def test_redis_fails_mid_call(
    postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path, fault: str
) -> None:
    env = storage_env(postgres, private_redis.url, tmp_path)
    seed(env)
    server = start_ivr(tmp_path, database_url=postgres.url, redis_url=private_redis.url)
    try:
        ref, phone = place(server, loss_call(ACTION_TIMEOUT + 10))
        time.sleep(ACTION_AT - 1)
        private_redis.stop() if fault == "stopped" else private_redis.freeze()
        phone.join(120)
        assert told(server, ref) == "failed"  # the day's limits fail closed
        assert_truthful(server, postgres, [ref])
    finally:
        private_redis.thaw()
        server.stop()


def test_redis_down_at_start_then_back(
    postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = storage_env(postgres, private_redis.url, tmp_path)
    seed(env)
    private_redis.stop()
    server = start_ivr(tmp_path, database_url=postgres.url, redis_url=private_redis.url)
    try:
        ref, phone = place(server, loss_call(ACTION_TIMEOUT + 8))
        phone.join(120)
        assert told(server, ref) == "failed"  # the day's limits cannot be counted: closed
        private_redis.restart()
        second, phone = place(server, loss_call(25))
        phone.join(120)
        assert told(server, second) == "reported"
        assert_truthful(server, postgres, [ref, second])
    finally:
        server.stop()
