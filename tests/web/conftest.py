from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.server import IvrProcess, start_ivr
from tests.web.console_client import METRICS_TOKEN, add_user, web_url


@pytest.fixture(scope="module")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IvrProcess]:
    """One IVR with its console on the embedded defaults; a supervisor and an agent exist."""
    data_dir: Path = tmp_path_factory.mktemp("console")
    server = start_ivr(data_dir, extra_env={"IVR_METRICS_TOKEN": METRICS_TOKEN})
    try:
        add_user(server, "boss", "supervisor", "王班长")
        add_user(server, "agent1", "agent", "李坐席")
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def base_url(console_server: IvrProcess) -> str:
    return web_url(console_server)
