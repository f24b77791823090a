"""Call detail records: one `CallDetail` per finished call. The IVR spools them to disk and writes
them in batches (`ivr.store.cdr_spool`); `record_call` commits one at once (tests, tools)."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from ivr.store.db import Database
from ivr.store.models import CallRecord


@dataclass(frozen=True)
class CallDetail:
    call_id: str
    started_at: dt.datetime  # aware datetimes (wall clock, not monotonic)
    caller: str | None = None
    callee: str | None = None
    answered_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    menu_version: str | None = None
    path: tuple[str, ...] = ()  # menu node ids in the order visited
    outcome: str | None = None  # e.g. the last action outcome, "transferred", "abandoned"
    end_reason: str | None = None  # e.g. "bye", "bye-sent", "ack-timeout"
    node: str | None = None  # which IVR node took the call


def call_row(cdr: CallDetail) -> dict[str, Any]:
    """The column values of one record's row."""
    return {
        "call_id": cdr.call_id,
        "caller": cdr.caller,
        "callee": cdr.callee,
        "started_at": cdr.started_at,
        "answered_at": cdr.answered_at,
        "ended_at": cdr.ended_at,
        "menu_version": cdr.menu_version,
        "path": json.dumps(list(cdr.path), ensure_ascii=False),
        "outcome": cdr.outcome,
        "end_reason": cdr.end_reason,
        "node": cdr.node,
    }


def record_call(db: Database, cdr: CallDetail) -> int:
    """Commit one record and return its id. BLOCKING: call it from a worker thread."""
    with db.transaction() as session:
        row = CallRecord(**call_row(cdr))
        session.add(row)
        session.flush()
        return row.id
