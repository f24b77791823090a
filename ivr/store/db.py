"""Engine and sessions: one `Database` per process, shared by every pool thread.

`Database.transaction()` is the only way actions write: it commits on leaving the block, so a
caller is told "done" only after the commit returned. On PostgreSQL, writers take row locks with
`SELECT ... FOR UPDATE`; SQLite has no row locks, so there every write transaction starts with
`BEGIN IMMEDIATE`, taking the database's single write lock up front: two calls on one card then
run one after the other instead of both reading the old state (and WAL keeps readers unblocked).

Every wait is bounded by `store.timeout` (below the menus' action timeouts): SQLite's busy wait;
PostgreSQL's connect, statement, lock and idle-in-transaction timeouts; the connection pool's
checkout. A transaction given a `CommitGuard` claims it right before COMMIT and rolls back
instead when its caller was already told the action failed (see `ivr.store.commit_guard`).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from math import ceil
from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session, sessionmaker

from ivr.config import StoreSettings
from ivr.store.commit_guard import CommitGuard

SQLITE_FILE = "ivr.sqlite3"
_IMMEDIATE = "ivr_sqlite_immediate"


def database_url(settings: StoreSettings) -> str:
    """The configured URL, or the embedded SQLite file under `data_dir`."""
    if settings.database_url:
        return settings.database_url
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{settings.data_dir / SQLITE_FILE}"


def make_engine(
    url: str, *, search_path: str | None = None, timeout: float = StoreSettings.timeout
) -> Engine:
    """An engine for `url`; `search_path` puts PostgreSQL tables in that schema (tests use it).

    A plain `postgresql://` URL means psycopg2 (our requirement), not SQLAlchemy 2.1's default.
    `timeout` (seconds) bounds every wait of one operation, as described above.
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, connect_args={"timeout": timeout})
        _configure_sqlite(engine, timeout)
        return engine
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg2")
    ms = int(timeout * 1000)
    options = [
        f"-cstatement_timeout={ms}",
        f"-clock_timeout={ms}",
        f"-cidle_in_transaction_session_timeout={ms * 3}",
    ]
    if search_path:
        options.append(f"-csearch_path={search_path}")
    # The URL's own `?options=` (e.g. a search_path, as the e2e tests give each run a schema)
    # would otherwise be replaced by ours: keep it, ours after it.
    given = parsed.query.get("options")
    if given:
        options.insert(0, given if isinstance(given, str) else " ".join(given))
        parsed = parsed.difference_update_query(["options"])
    connect_args: dict[str, Any] = {
        "connect_timeout": max(1, ceil(timeout)),
        "options": " ".join(options),
        # A server that vanished without a FIN: the kernel notices within ~timeout + 2 probes.
        "keepalives": 1,
        "keepalives_idle": max(1, ceil(timeout)),
        "keepalives_interval": 1,
        "keepalives_count": 2,
    }
    return create_engine(
        parsed, pool_pre_ping=True, pool_timeout=timeout, connect_args=connect_args
    )


def _use_wal(cursor: Any, timeout: float) -> None:
    """Put the file in WAL mode (it stays so), unless it is already.

    Switching needs the file to itself, and SQLite reports "database is locked" at once instead of
    waiting when another connection holds it: nodes starting together on a new file (`run_ivr.py
    --nodes`) each try. So the switch is retried, within `timeout`, until one of them made it.
    """
    deadline = time.monotonic() + timeout
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() >= deadline:
                raise
            time.sleep(0.02)


def _configure_sqlite(engine: Engine, timeout: float) -> None:
    # pysqlite's own transaction handling would defer BEGIN; take it over (SQLAlchemy's recipe).
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        _use_wal(cursor, timeout)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Connection) -> None:
        immediate = connection.get_execution_options().get(_IMMEDIATE, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def writing(engine: Engine) -> Engine:
    """`engine` for write transactions: on SQLite they take the write lock at BEGIN."""
    return engine.execution_options(**{_IMMEDIATE: True})


class Database:
    """An engine with a writing and a reading session factory."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._writing = sessionmaker(writing(engine), expire_on_commit=False)
        self._reading = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def transaction(self, guard: CommitGuard | None = None) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back if it raises.

        With a `guard`, the commit happens only if the guard is claimed right before it;
        otherwise `CommitWithdrawn` is raised and everything is rolled back."""
        with self._writing.begin() as session:
            yield session
            if guard is not None:
                guard.claim()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only unit of work (never committed)."""
        with self._reading() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def open_database(settings: StoreSettings) -> Database:
    return Database(make_engine(database_url(settings), timeout=settings.timeout))
