"""Call detail records survive a database outage and a crash: spooled to disk, then written.

A finished call's record is appended as one JSON line to `<data_dir>/cdr-spool/current.jsonl`
(no database involved, so an outage cannot lose it), and `drain` moves spooled records into the
database in one transaction per batch file: it first renames the current file to a batch, so new
records go on landing while the batch is written, and deletes the batch only after its commit. A
batch found at start (the process was killed) is drained like any other. A record committed just
before a crash that kept its batch is recognised by call id and start time and not written
twice; a line cut short by the crash is skipped with a warning.

BLOCKING (file and SQL): one thread (`append` and `drain` on the same single-thread pool).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, tuple_

from ivr.store.cdr import CallDetail, call_row
from ivr.store.db import Database
from ivr.store.models import CallRecord

log = logging.getLogger(__name__)

SPOOL_DIR = "cdr-spool"
CURRENT = "current.jsonl"
_TIMES = ("started_at", "answered_at", "ended_at")


def _encode(cdr: CallDetail) -> str:
    fields: dict[str, Any] = asdict(cdr)
    for name in _TIMES:
        value = fields[name]
        fields[name] = value.isoformat() if value is not None else None
    fields["path"] = list(cdr.path)
    return json.dumps(fields, ensure_ascii=False)


def _decode(line: str) -> CallDetail:
    fields = json.loads(line)
    for name in _TIMES:
        if fields[name] is not None:
            fields[name] = dt.datetime.fromisoformat(fields[name])
    fields["path"] = tuple(fields["path"])
    return CallDetail(**fields)


class CdrSpool:
    def __init__(self, data_dir: Path) -> None:
        self.directory = data_dir / SPOOL_DIR
        self.directory.mkdir(parents=True, exist_ok=True)

    def append(self, cdr: CallDetail) -> None:
        """Keep one record on disk (survives the process being killed; written to the OS)."""
        with (self.directory / CURRENT).open("a", encoding="utf-8") as spool:
            spool.write(_encode(cdr) + "\n")

    def waiting(self) -> int:
        """Records on disk not yet in the database."""
        return sum(len(self._lines(path)) for path in self._files())

    def drain(self, db: Database) -> int:
        """Write every spooled record to the database; how many were written. Raises the
        storage error when the database is down (the records stay spooled)."""
        current = self.directory / CURRENT
        if current.exists() and current.stat().st_size:
            current.rename(self.directory / f"batch-{time.time_ns():020d}.jsonl")
        written = 0
        for batch in sorted(self.directory.glob("batch-*.jsonl")):
            written += self._write(db, batch)
            os.unlink(batch)
        return written

    def _files(self) -> list[Path]:
        return [*sorted(self.directory.glob("batch-*.jsonl")), self.directory / CURRENT]

    @staticmethod
    def _lines(path: Path) -> list[str]:
        try:
            return [line for line in path.read_text(encoding="utf-8").splitlines() if line]
        except FileNotFoundError:
            return []

    def _write(self, db: Database, batch: Path) -> int:
        records: list[CallDetail] = []
        for line in self._lines(batch):
            try:
                records.append(_decode(line))
            except (ValueError, TypeError, KeyError):
                log.warning("CDR spool %s: skipped a line cut short", batch.name)
        if not records:
            return 0
        keys = [(r.call_id, r.started_at) for r in records]
        with db.transaction() as session:
            present = set(
                session.execute(
                    select(CallRecord.call_id, CallRecord.started_at).where(
                        tuple_(CallRecord.call_id, CallRecord.started_at).in_(keys)
                    )
                ).all()
            )
            fresh = [r for r in records if (r.call_id, r.started_at) not in present]
            if fresh:  # one executemany, no ORM objects: this thread holds the GIL less
                session.execute(insert(CallRecord), [call_row(r) for r in fresh])
        return len(fresh)
