"""Callback requests: a caller who would rather be called back leaves a number and a time
window; agents work the list ("call back now"). Claiming is atomic, so two agents never call
the same caller back.

BLOCKING (SQL): from the database pool or a console request thread.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update

from ivr.store.db import Database
from ivr.store.models import CallbackRequest

WINDOWS = {
    "1": "今天",
    "2": "明天上午",
    "3": "明天下午",
}  # key pressed -> window, as the caller chose


@dataclass(frozen=True)
class Callback:
    id: int
    queue: str
    number: str
    window: str
    call_id: str | None
    requested_at: dt.datetime
    state: str
    agent: str | None


def _callback(row: CallbackRequest) -> Callback:
    return Callback(
        row.id, row.queue, row.number, row.window, row.call_id, row.requested_at, row.state,
        row.agent,
    )  # fmt: skip


def request_callback(
    db: Database, queue: str, number: str, window: str, call_id: str | None, now: dt.datetime
) -> int:
    with db.transaction() as session:
        row = CallbackRequest(
            queue=queue, number=number, window=window, call_id=call_id, requested_at=now,
            state="pending",
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def pending(db: Database, queues: tuple[str, ...] | None = None) -> list[Callback]:
    with db.reading() as session:
        query = select(CallbackRequest).where(CallbackRequest.state.in_(("pending", "calling")))
        if queues is not None:
            query = query.where(CallbackRequest.queue.in_(queues))
        return [_callback(row) for row in session.scalars(query.order_by(CallbackRequest.id))]


def claim(db: Database, callback_id: int, agent: str) -> Callback | None:
    """Mark a pending callback as being called by `agent`; None if someone else has it."""
    with db.transaction() as session:
        taken = session.execute(
            update(CallbackRequest)
            .where(CallbackRequest.id == callback_id, CallbackRequest.state == "pending")
            .values(state="calling", agent=agent)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        row = session.get(CallbackRequest, callback_id)
        assert row is not None
        return _callback(row)


def finish(db: Database, callback_id: int, done: bool, now: dt.datetime) -> None:
    """`done`: the caller was reached; otherwise the request is pending again."""
    with db.transaction() as session:
        row = session.get(CallbackRequest, callback_id)
        if row is None:
            return
        row.state = "done" if done else "pending"
        row.done_at = now if done else None
        if not done:
            row.agent = None
