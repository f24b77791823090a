"""Fault drills: the IVR killed (SIGKILL) mid-action, a caller hanging up mid-action: nothing the
caller was not told commits."""

from __future__ import annotations

import signal
import time
from pathlib import Path

from tests.e2e.server import start_ivr
from tests.faults.drill import (
    ACTION_AT,
    ACTION_TIMEOUT,
    assert_truthful,
    loss_call,
    place,
    reports,
    seed,
    storage_env,
    told,
)
from tests.faults.private_servers import PrivatePostgres, PrivateRedis


def test_ivr_killed_mid_action(
    postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    env = storage_env(postgres, private_redis.url, tmp_path)
    seed(env)
    server = start_ivr(tmp_path, database_url=postgres.url, redis_url=private_redis.url)
    try:
        ref, phone = place(server, loss_call(ACTION_TIMEOUT + 10))
        time.sleep(ACTION_AT - 1)
        postgres.freeze()  # the action is held mid-transaction
        server.wait_for_log(rf"\[{ref} [^\]]*\] play please_wait", timeout=30)
        time.sleep(2)
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
        postgres.thaw()
        phone.join(120)
        time.sleep(3)  # the server sees the connection gone and rolls back
        assert [report.call_ref for report in reports(postgres)] == []
    finally:
        postgres.thaw()
        server.stop()


def test_caller_hangs_up_while_the_database_hangs(
    postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    """Told nothing, gone: the action must not commit when the database answers again."""
    env = storage_env(postgres, private_redis.url, tmp_path)
    seed(env)
    server = start_ivr(tmp_path, database_url=postgres.url, redis_url=private_redis.url)
    try:
        # Hangs up 1.5 s into the action: before `store.timeout` could answer it (a new
        # connection to the frozen server times out after 4 s; a pooled one waits for good).
        ref, phone = place(server, loss_call(1.5))
        time.sleep(ACTION_AT - 1)
        postgres.freeze()
        phone.join(120)
        server.wait_for_log(rf"\[{ref} [^\]]*\] ended: ", timeout=30)
        postgres.thaw()
        # The job resumes and finds its guard withdrawn (or its connection timed out).
        server.wait_for_log(rf"call {ref}: action temporary_loss (rolled back|unavailable)", 30)
        assert told(server, ref) == "nothing"
        assert_truthful(server, postgres, [ref])
    finally:
        postgres.thaw()
        server.stop()
