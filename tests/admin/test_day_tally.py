"""Figures counted incrementally equal figures counted afresh, and a new day starts at zero."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

from ivr.admin.figures import DayTally, TotalsTally, figures, totals
from ivr.store.cdr import CallDetail, record_call
from tests.backends import Stores

ZONE = ZoneInfo("Asia/Shanghai")
MORNING = dt.datetime(2026, 11, 30, 1, 0, tzinfo=dt.UTC)  # 09:00 in Shanghai


def call(stores: Stores, at: dt.datetime, path: list[str], reason: str) -> None:
    record_call(stores.db, CallDetail(
        call_id=f"c{at.timestamp()}{len(path)}{reason}", started_at=at, answered_at=at,
        ended_at=at + dt.timedelta(seconds=30), path=tuple(path), end_reason=reason,
    ))  # fmt: skip


def counted(stores: Stores, now: dt.datetime, tally: DayTally | None) -> dict:  # type: ignore[type-arg]
    shown = figures(stores.db, stores.redis, "12333", now, ZONE, tally).as_json()
    return {key: shown[key] for key in ("calls_today", "hung_up_today", "calls_by_hour",
                                        "reach", "drop_off", "outcomes_today")}  # fmt: skip


def test_incremental_counts_equal_fresh_counts_and_reset_at_midnight(stores: Stores) -> None:
    tally, since = DayTally(), TotalsTally()
    call(stores, MORNING, ["主菜单", "信息查询"], "bye")
    call(stores, MORNING - dt.timedelta(hours=2), ["主菜单"], "bye")  # 07:00, still today
    call(stores, MORNING - dt.timedelta(hours=10), ["主菜单"], "bye")  # yesterday, local time
    first = counted(stores, MORNING, tally)
    assert first["calls_today"] == 2 and first["drop_off"] == {"信息查询": 1, "主菜单": 1}
    call(stores, MORNING + dt.timedelta(minutes=5), ["主菜单", "社保卡业务"], "bye-sent")
    later = MORNING + dt.timedelta(minutes=10)
    assert counted(stores, later, tally) == counted(stores, later, None)
    assert counted(stores, later, tally)["calls_today"] == 3
    assert totals(stores.db, since).calls_by_end_reason == {"bye": 3, "bye-sent": 1}
    call(stores, later, ["主菜单"], "bye")
    assert totals(stores.db, since).calls_by_end_reason == {"bye": 4, "bye-sent": 1}
    next_day = MORNING + dt.timedelta(days=1)
    assert counted(stores, next_day, tally)["calls_today"] == 0
    assert json.dumps(counted(stores, next_day, tally)["calls_by_hour"]) == json.dumps([0] * 24)


def test_figures_say_when_they_were_read_in_the_service_zone(stores: Stores) -> None:
    shown = figures(stores.db, stores.redis, "12333", MORNING, ZONE, None).as_json()
    assert (shown["day"], shown["as_of"]) == ("2026-11-30", "09:00:00")  # not 01:00 UTC
