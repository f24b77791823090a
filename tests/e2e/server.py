"""The IVR as a real process for end-to-end tests: `run_ivr.py` on free loopback ports."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ivr.config import StoreSettings
from ivr.store.db import Database, open_database

ROOT = Path(__file__).resolve().parents[2]
SIP_CLIENTS = ROOT.parent / "shared" / "sip-clients"  # the project's shared test callers
CALLER = ROOT / "tests" / "clients" / "scripted_caller.py"
OWN_SCENARIOS = ROOT / "tests" / "e2e" / "sipp"  # callers the shared scenarios do not cover
PCAP_TOOL = SIP_CLIENTS / "gen_rtp_pcap.py"


def free_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (SIP listens on both)."""
    for _ in range(100):
        port = random.randint(30000, 45000)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp, socket.socket() as tcp:
            try:
                udp.bind(("127.0.0.1", port))
                tcp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port")


@dataclass
class IvrProcess:
    process: subprocess.Popen[bytes]
    sip_port: int
    data_dir: Path
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def target(self) -> str:
        return f"sip:12333@127.0.0.1:{self.sip_port}"

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 10.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log())
            if found:
                return found
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"no log line matching {pattern!r}; log:\n{self.log()[-4000:]}")

    def stop(self, timeout: float = 15.0, sig: signal.Signals = signal.SIGINT) -> int:
        """SIGINT by default: every call ends at once (SIGTERM would let calls drain)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_ivr(
    data_dir: Path,
    *,
    database_url: str | None = None,
    redis_url: str | None = None,
    extra_env: dict[str, str] | None = None,
    args: list[str] | None = None,
) -> IvrProcess:
    sip_port = free_port()
    rtp_low = random.randrange(46000, 60000, 2)
    env = dict(os.environ)
    env.update(
        {
            "IVR_SIP_PORT": str(sip_port),
            "IVR_RTP_PORTS": f"{rtp_low}-{rtp_low + 400}",
            "IVR_DATA_DIR": str(data_dir),
            "IVR_WEB_PORT": "0",  # any free port; the log line "web console on" names it
            "PYTHONUNBUFFERED": "1",
        }
    )
    for name in ("IVR_DATABASE_URL", "IVR_REDIS_URL", "IVR_CONFIG"):
        env.pop(name, None)
    if database_url:
        env["IVR_DATABASE_URL"] = database_url
    if redis_url:
        env["IVR_REDIS_URL"] = redis_url
    env.update(extra_env or {})
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "ivr.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "run_ivr.py"), *(args or [])],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = IvrProcess(process, sip_port, data_dir, log_path, env)
    server.wait_for_log(r"IVR ready", timeout=60)
    return server


class Dialled(Protocol):
    """What a phone dials: an IVR node, or a front door (Kamailio) before several nodes."""

    @property
    def target(self) -> str: ...


def call(
    server: Dialled,
    steps: list[dict[str, object]],
    *,
    record: Path | None = None,
    codec: str = "pcmu",
    tcp: bool = False,
    timeout: float = 90.0,
) -> dict[str, object]:
    """Place one call with the pjsua2 phone and return its JSON report."""
    command = [
        sys.executable,
        str(CALLER),
        "--target",
        server.target + (";transport=tcp" if tcp else ""),
        "--steps",
        json.dumps(steps),
        "--codec",
        codec,
        "--timeout",
        str(timeout),
    ]
    if record:
        command += ["--record", str(record)]
    if tcp:
        command.append("--tcp")
    done = subprocess.run(command, capture_output=True, timeout=timeout + 30, check=False)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"caller failed ({done.returncode}): {done.stdout!r} {done.stderr[-2000:]!r}"
        ) from None


def open_store(server: IvrProcess) -> Database:
    """The IVR's own database, to check what a call left behind."""
    settings = StoreSettings(
        database_url=server.env.get("IVR_DATABASE_URL"), data_dir=server.data_dir
    )
    return open_database(settings)


def sipp(server: IvrProcess, scenario: str | Path, *args: str, timeout: float = 60) -> str:
    """Run one sipp call (a name: a scenario of the shared sip-clients; a path: our own);
    returns its output."""
    command = [
        "sipp",
        f"127.0.0.1:{server.sip_port}",
        "-sf",
        str(scenario if isinstance(scenario, Path) else SIP_CLIENTS / "sipp" / scenario),
        "-s",
        "12333",
        "-i",
        "127.0.0.1",
        "-mi",
        "127.0.0.1",
        "-p",
        str(free_port()),
        "-m",
        "1",
        "-nostdin",
        "-timeout",
        f"{int(timeout)}s",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout + 20)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return done.stdout
