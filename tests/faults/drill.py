"""What every fault drill shares: the seeds' loss journey, and what callers heard against what
the database holds.

A drill runs a real IVR process (tests/e2e/server.py) on a PostgreSQL and a Redis of its own
(`private_servers.py`), and a pjsua phone making the loss journey. What the caller heard is read
from the IVR's log, which names every prompt it played per call: "loss_done" is the loss
confirmed, "system_busy" is "暂时无法为您办理".
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from ivr.store.db import Database, make_engine
from ivr.store.models import LossReport
from tests.e2e.call_log import answered_after, call_lines, events
from tests.e2e.server import ROOT, IvrProcess, call
from tests.e2e.test_journeys import ID_TIME, LOSS_PATH, WU_XIA, hang_up, key, keyed
from tests.faults.private_servers import PrivatePostgres

# The confirming 1, pressed 2 s into the ID's read-back (a key cuts a prompt short): the action
# starts. The drills are about the action; test_journeys hears the read-back through.
ACTION_AT = 6 + ID_TIME + 2
ACTION_TIMEOUT = 20  # defaults.action_timeout of config/menus/12333.yaml


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


def loss_call(hang_up_after: float) -> list[dict[str, object]]:
    return [
        *LOSS_PATH,
        key(6, keyed(WU_XIA.id_number)),
        key(ACTION_AT, "1"),
        hang_up(ACTION_AT + hang_up_after),
    ]
