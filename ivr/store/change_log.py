"""The change log: one row per change made in the consoles or with an account command.

`record_change` adds the row to the caller's session, so it commits with the change it describes
(or not at all). BLOCKING (SQL): call from a worker thread, or from a command.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.store.db import Database
from ivr.store.models import ChangeLogEntry


@dataclass(frozen=True)
class Change:
    at: dt.datetime
    username: str
    action: str
    target: str
    detail: dict[str, Any]


def record_change(
    session: Session,
    *,
    at: dt.datetime,
    username: str,
    action: str,
    target: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add the log line of one change (never put a password or a full ID number in `detail`)."""
    session.add(
        ChangeLogEntry(
            at=at,
            username=username,
            action=action,
            target=target[:255],
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        )
    )


def recent_changes(db: Database, limit: int = 100, action_prefix: str = "") -> list[Change]:
    """The newest changes first; `action_prefix` narrows them (e.g. "menu.")."""
    query = select(ChangeLogEntry).order_by(ChangeLogEntry.id.desc()).limit(limit)
    if action_prefix:
        query = query.where(ChangeLogEntry.action.startswith(action_prefix))
    with db.reading() as session:
        return [
            Change(
                row.at,
                row.username,
                row.action,
                row.target,
                json.loads(row.detail) if row.detail else {},
            )
            for row in session.scalars(query)
        ]
