"""The line's figures, for the dashboard and /metrics: counted from the database every node
writes (call records, the action audit log, menu publications) and from Redis, where every node
reports its calls in progress.

Calls now: each node writes, every LIVE_REPORT_S, a hash `ivr:live-calls:<node>` of menu node ->
calls there, expiring after LIVE_TTL_S, so a node that dies drops out of the figure by itself.
Its media pacing clock's counts go beside them, in `ivr:media-pacing:<node>`, with the same TTL.

BLOCKING (SQL, Redis): run on the worker pool.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ivr.admin.queue_figures import QueueFigures
from ivr.store.db import Database
from ivr.store.models import AuditEntry, CallRecord, MenuPublication

LIVE_PREFIX = "ivr:live-calls:"
MEDIA_PREFIX = "ivr:media-pacing:"
HEARD_PREFIX = "ivr:heard:"  # + local day: key or intent -> times heard, summed over nodes
HEARD_TTL_S = 8 * 86400
LIVE_REPORT_S = 2.0
LIVE_TTL_S = 10
TOTAL_FIELD = "\x00total"  # a field no menu node label can be
CALLER_HUNG_UP = frozenset({"bye", "cancelled"})  # the caller left before the IVR ended the call


def report_live_calls(client: redis.Redis, node: str, calls: Mapping[str, int]) -> None:
    """This node's calls in progress per menu node (replaces its last report)."""
    key = LIVE_PREFIX + node
    mapping: dict[Any, int] = {name: int(count) for name, count in calls.items()}
    mapping[TOTAL_FIELD] = sum(mapping.values())  # so an idle node still shows, with 0 calls
    pipe = client.pipeline(transaction=True)
    pipe.delete(key)
    pipe.hset(key, mapping=mapping)
    pipe.expire(key, LIVE_TTL_S)
    pipe.execute()


def report_media_pacing(client: redis.Redis, node: str, pacing: Mapping[str, int]) -> None:
    """This node's pacing clock counts (replaces its last report)."""
    key = MEDIA_PREFIX + node
    pipe = client.pipeline(transaction=True)
    pipe.delete(key)
    pipe.hset(key, mapping={name: int(count) for name, count in pacing.items()})
    pipe.expire(key, LIVE_TTL_S)
    pipe.execute()


def add_heard(client: redis.Redis, day: str, heard: Mapping[str, int]) -> None:
    """Add this node's keys and intents since its last report to the day's shared counts."""
    if not heard:
        return
    key = HEARD_PREFIX + day
    pipe = client.pipeline(transaction=True)
    for what, count in heard.items():
        pipe.hincrby(key, what, int(count))
    pipe.expire(key, HEARD_TTL_S)
    pipe.execute()


def live_calls(client: redis.Redis) -> dict[str, dict[str, int]]:
    """IVR node -> menu node -> calls there now, over every node that reported lately."""
    return _reported(client, LIVE_PREFIX)


def media_pacing(client: redis.Redis) -> dict[str, dict[str, int]]:
    """IVR node -> its pacing clock's counts, over every node that reported lately."""
    return _reported(client, MEDIA_PREFIX)


def _reported(client: redis.Redis, prefix: str) -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = {}
    for key in client.scan_iter(match=prefix + "*", count=100):
        name = key.decode() if isinstance(key, bytes) else str(key)
        values = client.hgetall(key)
        found[name.removeprefix(prefix)] = {
            (k.decode() if isinstance(k, bytes) else k): int(v) for k, v in values.items()
        }
    return found


@dataclass
class Figures:
    day: str
    as_of: str = ""  # the time of day the figures were read, in the service's zone (HH:MM:SS)
    calls_now: int = 0
    calls_now_by_menu_node: dict[str, int] = field(default_factory=dict)
    calls_now_by_ivr_node: dict[str, int] = field(default_factory=dict)
    # IVR node -> its media pacing counts (`ivr.media.pacer.PacingFigures`'s fields, and
    # ticks_late_recent: the late ticks since its report before)
    media_by_ivr_node: dict[str, dict[str, int]] = field(default_factory=dict)
    live_report_s: float = LIVE_REPORT_S  # how often each node reports (ticks_late_recent's span)
    calls_today: int = 0
    answered_today: int = 0
    hung_up_today: int = 0  # the caller hung up before the IVR was done
    calls_by_hour: list[int] = field(default_factory=lambda: [0] * 24)
    reach: dict[str, int] = field(default_factory=dict)  # menu node label -> calls that got there
    drop_off: dict[str, int] = field(default_factory=dict)  # label -> callers who hung up there
    outcomes_today: dict[str, int] = field(default_factory=dict)  # CDR outcome -> calls
    actions_today: dict[str, dict[str, int]] = field(default_factory=dict)  # action -> outcome -> n
    heard_today: dict[str, int] = field(default_factory=dict)  # "按键 1" / "意图 agent" -> times
    live_version: str | None = None
    redis_ok: bool = True
    queues: list[QueueFigures] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        shown = self.__dict__.copy()
        shown["queues"] = [
            {**queue.__dict__, "service_level": queue.service_level} for queue in self.queues
        ]
        return shown


@dataclass(frozen=True)
class Totals:
    """Counts since the beginning (for Prometheus counters: they only grow)."""

    calls_by_outcome: dict[str, int]
    calls_by_end_reason: dict[str, int]
    actions: dict[tuple[str, str], int]
    publications: int


def local_midnight(now: dt.datetime, zone: ZoneInfo) -> dt.datetime:
    local = now.astimezone(zone)
    return dt.datetime.combine(local.date(), dt.time(), zone)


class DayTally:
    """Today's call figures, counted incrementally: each look reads only the call records added
    since the last one (ids only grow), so a dashboard refresh or a scrape on a busy day costs
    the new calls, not the whole day. One per process; a new day starts a new count.

    Not thread-safe on its own: `figures` holds its lock while it updates.
    """

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._reset("")

    def _reset(self, day: str) -> None:
        self.day = day
        self.last_id = 0
        self.calls = 0
        self.answered = 0
        self.hung_up = 0
        self.by_hour = [0] * 24
        self.reach: Counter[str] = Counter()
        self.drop: Counter[str] = Counter()
        self.outcomes: Counter[str] = Counter()

    def update(self, session: Session, start: dt.datetime, zone: ZoneInfo) -> None:
        day = start.date().isoformat()
        if day != self.day:
            self._reset(day)  # a new day: count afresh
        rows = session.execute(
            select(
                CallRecord.id, CallRecord.started_at, CallRecord.answered_at, CallRecord.path,
                CallRecord.outcome, CallRecord.end_reason,
            )
            .where(CallRecord.id > self.last_id, CallRecord.started_at >= start)
            .order_by(CallRecord.id)
        )  # fmt: skip
        for row_id, started, answered, path_text, outcome, end_reason in rows:
            self.last_id = max(self.last_id, row_id)
            self.calls += 1
            self.answered += answered is not None
            self.by_hour[started.astimezone(zone).hour] += 1
            path = json.loads(path_text) if path_text else []
            self.reach.update(set(path))
            if end_reason in CALLER_HUNG_UP:
                self.hung_up += 1
                if path:
                    self.drop[path[-1]] += 1
            self.outcomes[outcome or "—"] += 1

    def fill(self, result: Figures) -> None:
        result.calls_today = self.calls
        result.answered_today = self.answered
        result.hung_up_today = self.hung_up
        result.calls_by_hour = list(self.by_hour)
        result.reach = dict(self.reach.most_common())
        result.drop_off = dict(self.drop.most_common())
        result.outcomes_today = dict(self.outcomes.most_common())


def figures(
    db: Database,
    client: redis.Redis,
    menu: str,
    now: dt.datetime,
    zone: ZoneInfo,
    tally: DayTally | None = None,
) -> Figures:
    """The figures at `now`; `tally` carries today's call counts from the last look."""
    start = local_midnight(now, zone)
    result = Figures(day=start.date().isoformat(), as_of=now.astimezone(zone).strftime("%H:%M:%S"))
    try:
        by_ivr = live_calls(client)
        result.media_by_ivr_node = media_pacing(client)
        heard = client.hgetall(HEARD_PREFIX + result.day)
    except RedisError:
        by_ivr, heard, result.redis_ok = {}, {}, False
    counted = {(k.decode() if isinstance(k, bytes) else k): int(v) for k, v in heard.items()}
    result.heard_today = dict(sorted(counted.items(), key=lambda item: -item[1]))
    by_menu: Counter[str] = Counter()
    for ivr_node, calls in by_ivr.items():
        result.calls_now_by_ivr_node[ivr_node] = calls.pop(TOTAL_FIELD, sum(calls.values()))
        by_menu.update(calls)
    result.calls_now_by_menu_node = dict(by_menu.most_common())
    result.calls_now = sum(by_menu.values())

    tally = tally or DayTally()
    with db.reading() as session:
        with tally.lock:
            tally.update(session, start, zone)
            tally.fill(result)
        actions = session.execute(
            select(AuditEntry.action, AuditEntry.outcome, func.count())
            .where(AuditEntry.at >= start, AuditEntry.at <= now)
            .group_by(AuditEntry.action, AuditEntry.outcome)
        )
        for action, outcome, count in actions:
            result.actions_today.setdefault(action, {})[outcome] = int(count)
        result.live_version = session.scalar(
            select(MenuPublication.version)
            .where(MenuPublication.menu == menu)
            .order_by(MenuPublication.id.desc())
            .limit(1)
        )
    return result


class TotalsTally:
    """Counts since the beginning for Prometheus counters, read incrementally like `DayTally`:
    each scrape reads only the call records and audit lines added since the last one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.last_call = 0
        self.last_audit = 0
        self.by_outcome: Counter[str] = Counter()
        self.by_reason: Counter[str] = Counter()
        self.actions: Counter[tuple[str, str]] = Counter()

    def update(self, session: Session) -> None:
        calls = session.execute(
            select(CallRecord.id, CallRecord.outcome, CallRecord.end_reason)
            .where(CallRecord.id > self.last_call)
            .order_by(CallRecord.id)
        )
        for row_id, outcome, end_reason in calls:
            self.last_call = row_id
            self.by_outcome[outcome or "none"] += 1
            self.by_reason[end_reason or "none"] += 1
        audited = session.execute(
            select(AuditEntry.id, AuditEntry.action, AuditEntry.outcome)
            .where(AuditEntry.id > self.last_audit)
            .order_by(AuditEntry.id)
        )
        for row_id, action, outcome in audited:
            self.last_audit = row_id
            self.actions[(action, outcome)] += 1


def totals(db: Database, tally: TotalsTally | None = None) -> Totals:
    tally = tally or TotalsTally()
    with db.reading() as session, tally.lock:
        tally.update(session)
        publications = session.scalar(select(func.count(MenuPublication.id))) or 0
        return Totals(
            dict(tally.by_outcome), dict(tally.by_reason), dict(tally.actions), int(publications)
        )
