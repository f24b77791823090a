"""CDRs are spooled to disk and reach the database when it is there, once each."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ivr.store.cdr import CallDetail
from ivr.store.cdr_spool import CURRENT, CdrSpool
from ivr.store.db import Database, make_engine
from ivr.store.models import CallRecord
from tests.backends import Stores

START = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)


def detail(n: int) -> CallDetail:
    return CallDetail(
        call_id=f"call-{n}@pc33",
        started_at=START + dt.timedelta(seconds=n),
        caller="13800138000",
        answered_at=START + dt.timedelta(seconds=n, milliseconds=250),
        ended_at=START + dt.timedelta(seconds=n + 60),
        menu_version="abc123",
        path=("main", "card_services"),
        outcome="temporary_loss:reported",
        end_reason="bye",
    )


def rows(stores: Stores) -> list[tuple[str, dt.datetime, str | None]]:
    with stores.db.reading() as session:
        return [
            (r.call_id, r.started_at, r.path)
            for r in session.scalars(select(CallRecord).order_by(CallRecord.started_at))
        ]


def test_records_spooled_during_an_outage_are_written_when_the_database_returns(
    stores: Stores, tmp_path: Path
) -> None:
    spool = CdrSpool(tmp_path)
    down = Database(make_engine(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}"))
    for n in range(3):
        spool.append(detail(n))
    with pytest.raises(SQLAlchemyError):
        spool.drain(down)
    spool.append(detail(3))  # the outage goes on; calls go on ending
    assert spool.waiting() == 4
    assert spool.drain(stores.db) == 4
    assert spool.waiting() == 0
    written = rows(stores)
    assert [r[0] for r in written] == [f"call-{n}@pc33" for n in range(4)]
    assert written[0][1] == START and written[0][2] == '["main", "card_services"]'
    assert spool.drain(stores.db) == 0


def test_a_batch_kept_by_a_crash_after_its_commit_is_not_written_twice(
    stores: Stores, tmp_path: Path
) -> None:
    spool = CdrSpool(tmp_path)
    for n in range(2):
        spool.append(detail(n))
    (spool.directory / CURRENT).rename(spool.directory / "batch-kept.jsonl")
    saved = (spool.directory / "batch-kept.jsonl").read_text(encoding="utf-8")
    assert spool.drain(stores.db) == 2
    (spool.directory / "batch-kept.jsonl").write_text(saved, encoding="utf-8")  # as if unlink lost
    with (spool.directory / CURRENT).open("a", encoding="utf-8") as current:
        current.write('{"call_id": "cut-sh')  # the line being written when killed
    assert CdrSpool(tmp_path).drain(stores.db) == 0
    assert len(rows(stores)) == 2
