"""Call detail records: search by time, number and outcome; CSV and JSON export.

Numbers are shown and exported masked (`138****8000`); only the search itself sees them whole.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from twisted.web.server import Request

from ivr.admin.figures import local_midnight
from ivr.masking import mask_card_number
from ivr.store.db import Database
from ivr.store.models import CallRecord
from ivr.store.web_sessions import SessionUser
from ivr.web.server import BadRequest, JsonResponse, WebConsole

MAX_ROWS = 1000


def mask_number(number: str | None) -> str:
    """A caller's number with its middle hidden: 13800138000 -> 138****8000."""
    if not number:
        return ""
    if len(number) >= 11:
        return number[:3] + "*" * (len(number) - 7) + number[-4:]
    return mask_card_number(number)


@dataclass(frozen=True)
class CdrQuery:
    start: dt.datetime
    end: dt.datetime
    number: str
    outcome: str
    zone: ZoneInfo  # how times are written out


def search(db: Database, query: CdrQuery) -> list[dict[str, Any]]:
    """BLOCKING: matching records, newest first, numbers masked."""
    statement = (
        select(CallRecord)
        .where(CallRecord.started_at >= query.start, CallRecord.started_at < query.end)
        .order_by(CallRecord.started_at.desc())
        .limit(MAX_ROWS)
    )
    if query.number:
        statement = statement.where(CallRecord.caller.contains(query.number, autoescape=True))
    if query.outcome:
        statement = statement.where(CallRecord.outcome == query.outcome)
    with db.reading() as session:
        return [
            {
                "started_at": row.started_at.astimezone(query.zone).isoformat(timespec="seconds"),
                "ended_at": (
                    row.ended_at.astimezone(query.zone).isoformat(timespec="seconds")
                    if row.ended_at
                    else None
                ),
                "seconds": round((row.ended_at - row.started_at).total_seconds())
                if row.ended_at
                else None,
                "caller": mask_number(row.caller),
                "menu_version": row.menu_version,
                "path": json.loads(row.path) if row.path else [],
                "outcome": row.outcome,
                "end_reason": row.end_reason,
                "node": row.node,
            }
            for row in session.scalars(statement)
        ]


class CdrPages:
    def __init__(self, console: WebConsole, roles: Sequence[str], zone: ZoneInfo) -> None:
        self.console = console
        self.zone = zone
        console.add_nav("通话记录", "/admin/cdr", roles)
        console.page("/admin/cdr", roles=roles)(self.cdr)

    def _query(self, request: Request) -> tuple[CdrQuery, dict[str, str]]:
        args = {k.decode(): v[0].decode("utf-8", "replace") for k, v in request.args.items() if v}
        now = self.console.services.wallclock()
        try:
            start = (
                dt.datetime.fromisoformat(args["from"]).replace(tzinfo=self.zone)
                if args.get("from")
                else local_midnight(now, self.zone)
            )
            end = (
                dt.datetime.fromisoformat(args["to"]).replace(tzinfo=self.zone)
                if args.get("to")
                else now + dt.timedelta(minutes=1)
            )
        except ValueError:
            raise BadRequest("时间格式应为 2026-11-30T08:00") from None
        number = "".join(ch for ch in args.get("number", "") if ch.isalnum())[:32]
        form = {
            "from": start.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M"),
            "to": end.astimezone(self.zone).strftime("%Y-%m-%dT%H:%M"),
            "number": number,
            "outcome": args.get("outcome", "")[:64],
            "format": args.get("format", ""),
        }
        return CdrQuery(start, end, number, form["outcome"], self.zone), form

    async def cdr(self, request: Request, user: SessionUser) -> Any:
        query, form = self._query(request)
        rows = await self.console.blocking(search, self.console.services.db, query)
        if form["format"] == "json":
            request.setHeader(b"Content-Disposition", b'attachment; filename="cdr.json"')
            return JsonResponse({"query": form, "calls": rows})
        if form["format"] == "csv":
            out = io.StringIO()
            fields = ["started_at", "ended_at", "seconds", "caller", "menu_version", "path",
                      "outcome", "end_reason", "node"]  # fmt: skip
            writer = csv.DictWriter(out, fields)
            writer.writeheader()
            for row in rows:
                writer.writerow({**row, "path": " > ".join(row["path"])})
            request.setHeader(b"Content-Type", b"text/csv; charset=utf-8")
            request.setHeader(b"Content-Disposition", b'attachment; filename="cdr.csv"')
            return ("\ufeff" + out.getvalue()).encode("utf-8")  # BOM: Excel reads it as UTF-8
        return self.console.render(
            request, user, "admin/cdr.html", rows=rows, form=form, limit=MAX_ROWS
        )
