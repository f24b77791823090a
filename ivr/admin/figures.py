"""The line's figures, for the dashboard and /metrics: counted from the database every node
writes (call records, the action audit log, menu publications) and from Redis, where every node
reports its calls in progress.

Calls now: each node writes, every LIVE_REPORT_S, a hash `ivr:live-calls:<node>` of menu node ->
calls there, expiring after LIVE_TTL_S, so a node that dies drops out of the figure by itself.

BLOCKING (SQL, Redis): run on the worker pool.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

import redis
from redis.exceptions import RedisError
from sqlalchemy import func, select

from ivr.admin.queue_figures import QueueFigures
from ivr.store.db import Database
from ivr.store.models import AuditEntry, CallRecord, MenuPublication

LIVE_PREFIX = "ivr:live-calls:"
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
    found: dict[str, dict[str, int]] = {}
    for key in client.scan_iter(match=LIVE_PREFIX + "*", count=100):
        name = key.decode() if isinstance(key, bytes) else str(key)
        values = client.hgetall(key)
        found[name.removeprefix(LIVE_PREFIX)] = {
            (k.decode() if isinstance(k, bytes) else k): int(v) for k, v in values.items()
        }
    return found


@dataclass
class Figures:
    day: str
    calls_now: int = 0
    calls_now_by_menu_node: dict[str, int] = field(default_factory=dict)
    calls_now_by_ivr_node: dict[str, int] = field(default_factory=dict)
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


def figures(
    db: Database, client: redis.Redis, menu: str, now: dt.datetime, zone: ZoneInfo
) -> Figures:
    start = local_midnight(now, zone)
    result = Figures(day=start.date().isoformat())
    try:
        by_ivr = live_calls(client)
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

    query = select(
        CallRecord.started_at, CallRecord.answered_at, CallRecord.path, CallRecord.outcome,
        CallRecord.end_reason,
    ).where(CallRecord.started_at >= start, CallRecord.started_at <= now)  # fmt: skip
    reach: Counter[str] = Counter()
    drop: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    with db.reading() as session:
        for started, answered, path_text, outcome, end_reason in session.execute(query):
            result.calls_today += 1
            result.answered_today += answered is not None
            result.calls_by_hour[started.astimezone(zone).hour] += 1
            path = json.loads(path_text) if path_text else []
            reach.update(set(path))
            if end_reason in CALLER_HUNG_UP:
                result.hung_up_today += 1
                if path:
                    drop[path[-1]] += 1
            outcomes[outcome or "—"] += 1
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
    result.reach = dict(reach.most_common())
    result.drop_off = dict(drop.most_common())
    result.outcomes_today = dict(outcomes.most_common())
    return result


def totals(db: Database) -> Totals:
    with db.reading() as session:
        by_outcome = session.execute(
            select(CallRecord.outcome, func.count()).group_by(CallRecord.outcome)
        )
        by_reason = session.execute(
            select(CallRecord.end_reason, func.count()).group_by(CallRecord.end_reason)
        )
        actions = session.execute(
            select(AuditEntry.action, AuditEntry.outcome, func.count()).group_by(
                AuditEntry.action, AuditEntry.outcome
            )
        )
        publications = session.scalar(select(func.count(MenuPublication.id))) or 0
        return Totals(
            {outcome or "none": int(count) for outcome, count in by_outcome},
            {reason or "none": int(count) for reason, count in by_reason},
            {(action, outcome): int(count) for action, outcome, count in actions},
            int(publications),
        )
