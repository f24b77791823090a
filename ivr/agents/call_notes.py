"""Agents' notes on a call, kept with its call record (by SIP Call-ID).

BLOCKING (SQL): from a console request thread or the database pool.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from ivr.store.db import Database
from ivr.store.models import CallNote

MAX_NOTE = 2000  # characters


@dataclass(frozen=True)
class Note:
    call_id: str
    agent: str
    at: dt.datetime
    text: str


def add_note(db: Database, call_id: str, agent: str, text: str, now: dt.datetime) -> Note:
    text = text.strip()
    if not text:
        raise ValueError("备注不能为空")
    if len(text) > MAX_NOTE:
        raise ValueError(f"备注最多 {MAX_NOTE} 字")
    with db.transaction() as session:
        session.add(CallNote(call_id=call_id, agent=agent, at=now, text=text))
    return Note(call_id, agent, now, text)


def notes_of_call(db: Database, call_id: str) -> list[Note]:
    with db.reading() as session:
        rows = session.scalars(
            select(CallNote).where(CallNote.call_id == call_id).order_by(CallNote.id)
        )
        return [Note(row.call_id, row.agent, row.at, row.text) for row in rows]
