"""The agent queues on the dashboard: who waits, for how long, which agents are in which state
(from the shared ACD in Redis), and today's service level (from the SQL queue log).

BLOCKING (Redis, SQL): run on the worker pool.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

import redis
from sqlalchemy import select

from ivr.agents.acd import Acd
from ivr.menus.schema import MenuTree, TransferNode
from ivr.store.db import Database
from ivr.store.models import QueueLogEntry

SERVICE_LEVEL_S = 20.0  # answered within this many seconds counts toward the service level


@dataclass
class QueueFigures:
    name: str
    label: str
    waiting: int = 0
    longest_wait_s: float = 0.0
    agents: dict[str, int] = field(default_factory=dict)  # state -> agents in it
    answered_today: int = 0
    answered_in_time_today: int = 0
    abandoned_today: int = 0

    @property
    def service_level(self) -> float | None:
        """Share answered within SERVICE_LEVEL_S of those who were answered or gave up."""
        offered = self.answered_today + self.abandoned_today
        return round(100 * self.answered_in_time_today / offered, 1) if offered else None


def queue_names(tree: MenuTree | None) -> dict[str, str]:
    """Queue name -> label: the `queues:` section and every transfer node's queue."""
    if tree is None:
        return {}
    names = {name: spec.label or name for name, spec in tree.queues.items()}
    for node in tree.nodes.values():
        if isinstance(node, TransferNode):
            names.setdefault(node.queue, node.queue)
    return names


def queue_figures(
    client: redis.Redis,
    db: Database,
    node: str,
    queues: dict[str, str],
    since: dt.datetime,
    now: dt.datetime,
) -> list[QueueFigures]:
    acd = Acd(client, node)
    epoch = now.timestamp()
    found = {name: QueueFigures(name, label) for name, label in sorted(queues.items())}
    for name, figures in found.items():
        view = acd.queue_view(name)
        figures.waiting = view.waiting_count
        figures.longest_wait_s = round(view.longest_wait(epoch), 1)
        figures.agents = dict(Counter(agent.shown_state(epoch).value for agent in view.agents))
    rows: Iterable[tuple[str, str, float | None]] = []
    with db.reading() as session:
        rows = session.execute(
            select(QueueLogEntry.queue, QueueLogEntry.event, QueueLogEntry.wait_s).where(
                QueueLogEntry.at >= since,
                QueueLogEntry.at <= now,
                QueueLogEntry.event.in_(("connect", "abandon")),
            )
        ).all()
    for queue, event, wait_s in rows:
        figures = found.setdefault(queue, QueueFigures(queue, queue))
        if event == "connect":
            figures.answered_today += 1
            figures.answered_in_time_today += (wait_s or 0.0) <= SERVICE_LEVEL_S
        else:
            figures.abandoned_today += 1
    return list(found.values())
