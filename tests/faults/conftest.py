"""Each drill gets a PostgreSQL cluster and a redis-server of its own, removed afterwards."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.private_servers import PrivatePostgres, PrivateRedis


@pytest.fixture
def postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres.create()
    yield server
    server.remove()


@pytest.fixture
def private_redis() -> Iterator[PrivateRedis]:
    server = PrivateRedis.create()
    yield server
    server.stop()
