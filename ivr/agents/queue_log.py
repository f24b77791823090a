"""The queue log in SQL, like Asterisk's `queue_log`: one row per thing that happened to a
caller in a queue, for reports (service level, abandon rate, talk times) on any node.

BLOCKING (SQL): write from the database pool. Rows are only ever added.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ivr.store.db import Database
from ivr.store.models import QueueLogEntry

EVENTS = frozenset(
    {
        "enter",  # position
        "offer",  # agent (one row per agent rung)
        "no_answer",  # agent, detail: why (timeout, busy, refused) and what the agent is now
        "connect",  # agent, wait_s
        "abandon",  # position, wait_s (hung up while waiting or ringing)
        "exit_menu",  # position, wait_s (went back to the menu with *)
        "exit_timeout",  # wait_s (the maximum wait passed; callback offered)
        "ghost",  # the caller's node stopped beating: removed by another node
        "transfer",  # agent, detail: where to
        "complete",  # agent, talk_s
        "callback_requested",  # detail: the window
        "callback_done",  # agent, detail: answered or failed
    }
)


@dataclass(frozen=True)
class QueueEvent:
    at: dt.datetime
    queue: str
    call_id: str
    event: str
    agent: str | None = None
    position: int | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    node: str | None = None
    detail: str | None = None

    def __post_init__(self) -> None:
        if self.event not in EVENTS:
            raise ValueError(f"unknown queue event {self.event!r}")


def record(db: Database, *events: QueueEvent) -> None:
    """The events as rows of one transaction (a QueueEvent's fields are the row's columns)."""
    with db.transaction() as session:
        session.add_all(QueueLogEntry(**vars(event)) for event in events)


def events_of_call(db: Database, call_id: str) -> list[QueueEvent]:
    with db.reading() as session:
        rows = session.scalars(
            select(QueueLogEntry).where(QueueLogEntry.call_id == call_id).order_by(QueueLogEntry.id)
        )
        return [
            QueueEvent(
                row.at,
                row.queue,
                row.call_id,
                row.event,
                row.agent,
                row.position,
                row.wait_s,
                row.talk_s,
                row.node,
                row.detail,
            )
            for row in rows
        ]
