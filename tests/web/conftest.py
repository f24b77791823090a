"""A console in a real IVR on the embedded defaults and, when IVR_TEST_DATABASE_URL /
IVR_TEST_REDIS_URL are set, again on those servers (the e2e `storage` fixture)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import stop_cleanly, storage  # noqa: F401  (fixture)
from tests.e2e.server import IvrProcess, start_ivr
from tests.web.console_client import METRICS_TOKEN, add_user, web_url


@pytest.fixture(scope="module")
def console_server(
    storage: tuple[str | None, str | None],  # noqa: F811
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[IvrProcess]:
    """One IVR with its console; a supervisor and an agent exist."""
    database_url, redis_url = storage
    data_dir: Path = tmp_path_factory.mktemp("console")
    server = start_ivr(
        data_dir,
        database_url=database_url,
        redis_url=redis_url,
        extra_env={"IVR_METRICS_TOKEN": METRICS_TOKEN},
    )
    try:
        add_user(server, "boss", "supervisor", "王班长")
        add_user(server, "agent1", "agent", "李坐席")
        yield server
    finally:
        stop_cleanly(server)


@pytest.fixture(scope="module")
def base_url(console_server: IvrProcess) -> str:
    return web_url(console_server)
