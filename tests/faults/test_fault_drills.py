"""Fault drills: real IVR processes, real phones, a PostgreSQL and a Redis of the drill's own that
the drills stop, freeze (SIGSTOP) and bring back, and an IVR killed with SIGKILL mid-action.

After each drill: every loss report a caller heard confirmed ("loss_done" played) is in the
database, and no report exists for a call that heard it failed ("system_busy") or hung up.
The caller hears what the IVR played; the IVR's log names every prompt it played per call.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.store.db import Database, make_engine
from ivr.store.models import CallRecord, LossReport
from tests.e2e.call_log import answered_after, call_lines, events
from tests.e2e.server import ROOT, IvrProcess, call, start_ivr
from tests.e2e.test_journeys import CONFIRM_TIME, ID_TIME, LOSS_PATH, WU_XIA, hang_up, key, keyed
from tests.faults.private_servers import PrivatePostgres, PrivateRedis

ACTION_AT = 6 + ID_TIME + CONFIRM_TIME + 1  # the confirming 1: the action starts
ACTION_TIMEOUT = 20  # defaults.action_timeout of config/menus/12333.yaml


def loss_call(hang_up_after: float) -> list[dict[str, object]]:
    return [
        *LOSS_PATH,
        key(6, keyed(WU_XIA.id_number)),
        key(ACTION_AT, "1"),
        hang_up(ACTION_AT + hang_up_after),
    ]


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres.create()
    yield server
    server.remove()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis.create()
    yield server
    server.stop()


def seed(env: dict[str, str]) -> None:
    subprocess.run(
        [sys.executable, "-m", "ivr", "db", "seed-demo"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip


def storage_env(postgres: PrivatePostgres, redis_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IVR_")}
    env.update(IVR_DATABASE_URL=postgres.url, IVR_REDIS_URL=redis_url, IVR_DATA_DIR=str(data_dir))
    return env


def reports(postgres: PrivatePostgres) -> list[LossReport]:
    db = Database(make_engine(postgres.url))
    try:
        with db.reading() as session:
            return list(session.scalars(select(LossReport).where(LossReport.call_ref.is_not(None))))
    finally:
        db.dispose()


def told(server: IvrProcess, ref: str) -> str:
    """What the caller of `ref` heard about the loss: reported, failed or nothing."""
    played = events(call_lines(server, ref), "play")
    if "loss_done" in played:
        return "reported"
    if "system_busy" in played:
        return "failed"
    return "nothing"


def place(server: IvrProcess, steps: list[dict[str, object]]) -> tuple[str, threading.Thread]:
    """Start one call in the background; its server call reference once answered."""
    since = len(server.log())
    phone = threading.Thread(target=call, args=(server, steps), daemon=True)
    phone.start()
    return answered_after(server, since, timeout=30)["ref"], phone


def assert_truthful(server: IvrProcess, postgres: PrivatePostgres, refs: list[str]) -> None:
    committed = {report.call_ref for report in reports(postgres)}
    for ref in refs:
        heard = told(server, ref)
        if heard == "reported":
            assert ref in committed, f"{ref} heard 'reported' but nothing is committed"
        else:
            assert ref not in committed, f"{ref} heard {heard!r} but its report committed"


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


def test_caller_hangs_up_while_the_database_hangs(
    postgres: PrivatePostgres, private_redis: PrivateRedis, tmp_path: Path
) -> None:
    """Told nothing, gone: the action must not commit when the database answers again."""
    env = storage_env(postgres, private_redis.url, tmp_path)
    seed(env)
    server = start_ivr(tmp_path, database_url=postgres.url, redis_url=private_redis.url)
    try:
        ref, phone = place(server, loss_call(6))  # hangs up 6 s into the action
        time.sleep(ACTION_AT - 1)
        postgres.freeze()
        phone.join(120)
        server.wait_for_log(rf"\[{ref} [^\]]*\] ended: ", timeout=30)
        postgres.thaw()
        time.sleep(6)  # the job resumes, finds its guard withdrawn and rolls back
        assert told(server, ref) == "nothing"
        assert_truthful(server, postgres, [ref])
        server.wait_for_log(rf"call {ref}: action temporary_loss rolled back", timeout=30)
    finally:
        postgres.thaw()
        server.stop()
