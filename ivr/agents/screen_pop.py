"""What an agent's screen shows about a call, from what the IVR left in Redis and SQL.

The call's context (caller, menu path, values keyed — masked —, actions and their outcomes, why
it came to a person) is published in Redis under `ivr:agent-context:<Call-ID>` by the node that
has the call, before the agent's phone rings; what the caller said (Vosk transcripts, where
enabled) is appended to `...:transcript`. Earlier calls from the same number today and the notes
come from SQL. BLOCKING: run on the worker pool.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import select

from ivr.agents.call_notes import notes_of_call
from ivr.store.db import Database
from ivr.store.models import CallRecord

CONTEXT_KEY = "ivr:agent-context:{}"
TRANSCRIPT_KEY = "ivr:agent-context:{}:transcript"
CONTEXT_TTL = 3600
MAX_EARLIER = 20


def add_transcript(client: redis.Redis, call_id: str, text: str) -> None:
    key = TRANSCRIPT_KEY.format(call_id)
    pipe = client.pipeline(transaction=True)
    pipe.rpush(key, text)
    pipe.ltrim(key, -50, -1)
    pipe.expire(key, CONTEXT_TTL)
    pipe.execute()


def screen_pop(
    db: Database, client: redis.Redis, call_id: str, now: dt.datetime, zone: ZoneInfo
) -> dict[str, Any]:
    raw = client.get(CONTEXT_KEY.format(call_id))
    context: dict[str, Any] = json.loads(raw) if raw else {}
    transcript = [
        line.decode() if isinstance(line, bytes) else str(line)
        for line in client.lrange(TRANSCRIPT_KEY.format(call_id), 0, -1)
    ]
    number = str(context.get("caller") or "")
    earlier: list[dict[str, Any]] = []
    if number:
        midnight = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
        with db.reading() as session:
            rows = session.scalars(
                select(CallRecord)
                .where(
                    CallRecord.caller == number,
                    CallRecord.started_at >= midnight.astimezone(dt.UTC),
                    CallRecord.call_id != call_id,
                )
                .order_by(CallRecord.started_at.desc())
                .limit(MAX_EARLIER)
            )
            earlier = [
                {
                    "call_id": row.call_id,
                    "started_at": row.started_at.astimezone(zone).strftime("%H:%M"),
                    "path": json.loads(row.path or "[]"),
                    "outcome": row.outcome or "",
                }
                for row in rows
            ]
    notes = [
        {"agent": n.agent, "at": n.at.astimezone(zone).strftime("%H:%M"), "text": n.text}
        for n in notes_of_call(db, call_id)
    ]
    return {
        "call_id": call_id,
        "caller": number,
        "reason": context.get("reason", ""),
        "path": context.get("path", []),
        "collected": context.get("collected", {}),
        "outcomes": context.get("outcomes", []),
        "transcript": transcript,
        "earlier_today": earlier,
        "notes": notes,
    }
