"""Capacity benchmark: the yardstick call with a caller streaming audio, level by level, one
process direct and N processes behind Kamailio, side by side in one run (issue 12).

The yardstick: answer, ~8 s prompt, digits until `#`, ~8 s prompt, hang up (bench/menus/
yardstick.yaml). The caller (sipp) streams RTP from the answer to the hang-up as every phone
does, 50 packets a second: speech-like audio (a room's noise floor under Korean phrases with
pauses, or only the noise floor for a caller who listens; bench/caller_audio.py), keys `123#`
by RFC 4733 at ~9 s, audio again after them.

Callers (`--caller`), the same packets either way:
  stream  (default) sipp's `rtp_stream` sends the audio (bench/sipp/yardstick-stream.xml):
          a playback thread serves `--rtp-threadtasks` calls; at 9 s the stream pauses while a
          short pcap plays the keys and the audio between them. Every call's media leaves from
          and returns to sipp's one media socket (sipp 3.6 streams from no other);
  pcap    `play_pcap_audio` of one pcap per call holding audio and keys (bench/sipp/
          yardstick.xml): a thread per call, which made sipp the bottleneck at 600 calls.

Configurations (`--configs`):
  keys    DTMF only (speech off); every caller talks, so in-band DTMF detection sees speech;
  speech  speech listening on for every call: VAD on every frame, Vosk (PyPI's Korean model,
          the one the tests run) decoding whatever VAD hears on the ASR pool; a share of the
          callers talk (`--talk-share`, default 0.25), the others listen;
  bridge  the caller keys 0 after the greeting (bench/menus/yardstick-agent.yaml, sipp/
          yardstick-agent.xml), hears "please hold", and an agent (one sipp answering every
          leg: ../shared/sip-clients/sipp/uas_agent.xml, talking) is bridged: the IVR relays RTP
          both ways until the caller hangs up 22 s after the answer.
Modes (`--modes`):
  direct    one IVR process, sipp dials it;
  kamailio  `run_ivr.py --nodes N` (default 2): Kamailio (deploy/kamailio/kamailio.cfg) on the
            SIP port, N IVR processes behind it sharing one SQLite file and one Redis.

For each level L, configuration and mode the bench starts a fresh IVR (a temporary data dir),
captures the IVR's RTP on loopback with dumpcap, and runs sipp at L/CALL_SECONDS calls/s with at
most L calls at once, 2.5 L calls in all. It measures:
  - failed calls (sipp) and flows the IVR finished (its log: `hanging up: completed`; bridge:
    `agent answered: bridged`);
  - INVITE->200 p50/p99 on the wire (a capture of the SIP port sipp dials: first INVITE of a
    call to its first 200; behind Kamailio that includes Kamailio);
  - RTP send-interval error of the IVR's packets as the kernel timestamped them on loopback:
    per stream (source port, SSRC), first and last packet left out, |inter-arrival - 20 ms|
    p50/p99/max over all streams; drift = how far a stream's arrival clock fell behind (or ran
    ahead of) its RTP timestamps from its first to its last half second, taking the least
    lateness at each end so that jitter and single stalls do not count, only slope; short
    streams = streams missing more than 1% of the packets their duration calls for;
  - late ticks: the IVR's own count of pacing ticks a whole frame or more late (its /metrics,
    `ivr_media_ticks_late_total`, every node), per 100 ticks of the steady part: at each one a
    frame of every call left back to back with the next, so above ~1% the interval p99 is 20 ms;
  - CPU over the steady part (all L calls up; 100% = one core) of the IVR process(es), of
    Kamailio (all its processes) and of sipp, the load average before the level, and resident
    memory of the IVR process(es): idle, peak, and (peak - idle) per concurrent call.
Clean = the issue's targets: 0 failed, INVITE->200 p99 <= 20 ms, RTP interval error p99 <= 10 ms,
drift <= 5 ms, no short stream. A configuration and mode stops climbing after its first level
that is not clean.

Run as root (sipp's pcap playback uses a raw socket), loopback only, bounded in time:
    python bench/bench_sipp.py --levels 200,400,600,800 [--configs keys,speech,bridge]
        [--modes direct,kamailio] [--nodes 2] [--caller stream|pcap] [--profile 15]
`--profile S` records the IVR with py-spy for S seconds of each level's steady part and prints
the hottest functions (needs `pip install py-spy`). `--count-caller` also captures the callers'
packets to the IVR and prints how many arrived against 50 a second of each call's stream.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SIPP = ROOT / "bench" / "sipp"
AGENT_SCENARIO = ROOT.parent / "shared" / "sip-clients" / "sipp" / "uas_agent.xml"
CONFIG = ROOT / "bench" / "ivr-bench.yaml"
SPEECH_SECTION = ROOT / "tests" / "speech" / "speech_ko.yaml"

LEVELS = "100,200,400,600,800"
CALL_SECONDS = 18.0  # greeting 8.3 s, keys at 9 s (0.8 s), closing prompt 7.5 s, BYE
CALLER_MEDIA_PORT = 10000  # sipp's [auto_media_port]: 10000-19999
AGENT_MEDIA_PORT = 8000
BRIDGED_MS = 22000  # bridge: the caller hangs up 22 s after the answer (~10 s with the agent)
KEYS_AT = 9.0  # the greeting is 8.3 s and ignores keys (barge_in: false)
CALLER_SECONDS = 40.0  # the caller's pcap outlasts the call; its playback ends at the BYE
CALLS_PER_LEVEL = 2.5  # x N: ramp up for CALL_SECONDS, then ~1.5 x CALL_SECONDS at N
FRAME = 0.020
INVITE_P99_MS = 20.0  # issue 12's targets
CLEAN_P99_MS = 10.0
MAX_DRIFT_MS = 5.0
SHORT_STREAM = 0.01  # a stream missing more than 1% of its packets is short
DRIFT_WINDOW = 25  # packets at each end of a stream whose least lateness marks its clock
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
CALLERS = ("stream", "pcap")
RTP_THREADTASKS = 20  # sipp's default
METRICS_TOKEN = "bench"  # the IVR's /metrics, for its own count of late media ticks


@dataclass(frozen=True)
class Setup:
    """What a configuration dials (per caller) and what a finished flow leaves in the IVR's log."""

    scenarios: dict[str, Path]
    keys: str
    call_seconds: float
    finished: str


_YARDSTICK = {"stream": SIPP / "yardstick-stream.xml", "pcap": SIPP / "yardstick.xml"}
SETUPS = {
    "keys": Setup(_YARDSTICK, "123#", CALL_SECONDS, "hanging up: completed"),
    "speech": Setup(_YARDSTICK, "123#", CALL_SECONDS, "hanging up: completed"),
    "bridge": Setup(
        {"stream": SIPP / "yardstick-agent-stream.xml", "pcap": SIPP / "yardstick-agent.xml"},
        "0",
        BRIDGED_MS / 1000 + 1,
        "agent answered: bridged",
    ),
}


@dataclass(frozen=True)
class Pacing:
    streams: int
    packets: int
    p50_ms: float
    p99_ms: float
    max_ms: float
    drift_ms: float  # largest change, start to end of a stream, of arrival minus RTP time
    short_pct: float  # packets missing against elapsed / 20 ms, all streams
    short_streams: int = 0  # streams missing more than SHORT_STREAM of theirs


@dataclass(frozen=True)
class Inbound:
    """The callers' packets as they reached the IVR's ports (`--count-caller`)."""

    streams: int
    packets: int
    expected: int  # 50 a second over each stream's span, first to last packet
    short_streams: int  # streams missing more than SHORT_STREAM of theirs

    def line(self) -> str:
        share = 100 * self.packets / max(1, self.expected)
        return (
            f"      callers -> IVR: {self.streams} streams, {self.packets} packets,"
            f" {share:.1f}% of 50 a second over each stream, {self.short_streams} short"
        )


@dataclass(frozen=True)
class SippResult:
    created: int
    successful: int
    failed: int
    peak_concurrent: int
    retransmissions: int
    rtt_p99_ms: float


@dataclass(frozen=True)
class LevelResult:
    level: int
    config: str  # keys | speech | bridge
    mode: str  # direct | kamailio
    caller: str  # stream | pcap
    sipp: SippResult
    completed: int  # flows the IVR finished (the closing prompt; bridge: the agent answered)
    pacing: Pacing
    ivr_cpu_pct: float  # every IVR process together
    kamailio_cpu_pct: float
    sipp_cpu_pct: float
    rss_idle_mb: float  # every IVR process together
    rss_peak_mb: float
    late_ticks_pct: float  # the IVR's own count (/metrics): ticks a frame late, steady part
    load: str  # the load average (1, 5, 15 min) just before the level
    invite_p50_ms: float  # INVITE -> 200 on the wire
    invite_p99_ms: float
    capture_dropped: int
    inbound: Inbound | None  # with --count-caller

    @property
    def failed(self) -> int:
        """sipp's failures plus calls sipp saw end well whose keys the IVR never finished."""
        return self.sipp.failed + max(0, self.sipp.successful - self.completed)

    @property
    def rss_per_call_kb(self) -> float:
        peak = max(1, self.sipp.peak_concurrent)
        return (self.rss_peak_mb - self.rss_idle_mb) * 1024 / peak

    def clean(self) -> bool:
        """Issue 12's targets: 0 failed, INVITE->200 p99 <= 20 ms, RTP interval error p99 <= 10
        ms, drift <= 5 ms, no short stream."""
        return (
            self.failed == 0
            and self.sipp.created > 0
            and self.invite_p99_ms <= INVITE_P99_MS
            and self.pacing.p99_ms <= CLEAN_P99_MS
            and self.pacing.drift_ms <= MAX_DRIFT_MS
            and self.pacing.short_streams == 0
        )


# --- pcap ------------------------------------------------------------------------------------

_LINK_HEADER = {0: 4, 1: 14, 113: 16, 276: 20}  # null/loopback, Ethernet, Linux SLL, SLL2


def read_pcap(path: Path) -> Iterator[tuple[float, bytes]]:
    """(kernel timestamp, IP packet) of each record of a classic pcap file."""
    with path.open("rb") as f:
        header = f.read(24)
        magic = header[:4]
        order = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        scale = 1e-9 if magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d") else 1e-6
        link = struct.unpack(order + "I", header[20:24])[0] & 0x0FFFFFFF
        skip = _LINK_HEADER[link]
        record = struct.Struct(order + "IIII")
        data = f.read()
    offset = 0
    while offset + 16 <= len(data):
        seconds, fraction, captured, _ = record.unpack_from(data, offset)
        offset += 16
        yield seconds + fraction * scale, data[offset + skip : offset + captured]
        offset += captured


def rtp_streams(path: Path) -> dict[tuple[int, int], list[tuple[float, int]]]:
    """(source port, SSRC) -> [(arrival, RTP timestamp)] of the UDP/RTP packets in a capture."""
    streams: dict[tuple[int, int], list[tuple[float, int]]] = defaultdict(list)
    for arrival, ip in read_pcap(path):
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = (ip[0] & 0x0F) * 4
        rtp = ip[udp + 8 :]
        if len(rtp) < 12 or rtp[0] >> 6 != 2 or 72 <= rtp[1] & 0x7F <= 76:  # not RTCP
            continue
        source_port = struct.unpack_from("!H", ip, udp)[0]
        timestamp, ssrc = struct.unpack_from("!II", rtp, 4)
        streams[source_port, ssrc].append((arrival, timestamp))
    return streams


def pacing(streams: dict[tuple[int, int], list[tuple[float, int]]]) -> Pacing:
    """Send-interval error and drift of every stream, its first and last packet left out."""
    errors: list[np.ndarray] = []
    drift = 0.0
    received = expected = short = 0
    for packets in streams.values():
        inner = np.array(packets[1:-1], dtype=np.float64)
        if len(inner) < 3:
            continue
        arrival = inner[:, 0]
        rtp_time = np.cumsum(np.diff(inner[:, 1].astype(np.int64)) % 2**32) / 8000.0
        errors.append(np.abs(np.diff(arrival) - FRAME))
        lateness = (arrival[1:] - arrival[0]) - rtp_time  # jitter, stalls, and any drift
        if len(lateness) >= 2 * DRIFT_WINDOW:
            end, start = lateness[-DRIFT_WINDOW:].min(), lateness[:DRIFT_WINDOW].min()
            drift = max(drift, abs(float(end - start)))
        due = round((arrival[-1] - arrival[0]) / FRAME) + 1
        received += len(arrival)
        expected += due
        short += len(arrival) < (1 - SHORT_STREAM) * due
    if not errors:
        return Pacing(0, 0, float("nan"), float("nan"), float("nan"), float("nan"), 0.0)
    error_ms = np.concatenate(errors) * 1000
    p50, p99 = np.percentile(error_ms, [50, 99])
    return Pacing(
        streams=len(errors),
        packets=received,
        p50_ms=float(p50),
        p99_ms=float(p99),
        max_ms=float(error_ms.max()),
        drift_ms=drift * 1000,
        short_pct=100.0 * max(0, expected - received) / expected,
        short_streams=short,
    )


def inbound(path: Path, gap: float = 1.0) -> Inbound:
    """The UDP/RTP packets of a capture per destination port (an IVR call's port; every stream
    caller sends from one source), a pause over `gap` s starting a new stream (a port the IVR
    gave to a later call): packets against 50 a second from each stream's first to last."""
    arrivals: dict[int, list[float]] = defaultdict(list)
    for arrival, ip in read_pcap(path):
        if len(ip) < 20 or ip[0] >> 4 != 4 or ip[9] != 17:
            continue
        udp = (ip[0] & 0x0F) * 4
        if len(ip) >= udp + 20 and ip[udp + 8] >> 6 == 2:
            arrivals[struct.unpack_from("!H", ip, udp + 2)[0]].append(arrival)
    streams = packets = expected = short = 0
    for times in arrivals.values():
        at = np.array(times)
        for run in np.split(at, np.flatnonzero(np.diff(at) > gap) + 1):
            if len(run) < 3:
                continue
            due = round((run[-1] - run[0]) / FRAME) + 1
            streams += 1
            packets += len(run)
            expected += due
            short += len(run) < (1 - SHORT_STREAM) * due
    return Inbound(streams, packets, expected, short)


_CALL_ID = re.compile(rb"^(?:Call-ID|i)[ \t]*:[ \t]*(\S+)", re.MULTILINE | re.IGNORECASE)
_CSEQ_INVITE = re.compile(rb"^CSeq[ \t]*:[ \t]*\d+[ \t]+INVITE", re.MULTILINE | re.IGNORECASE)


def invite_latencies(path: Path, port: int | None = None) -> np.ndarray:
    """Seconds from each call's first INVITE (not its retransmissions) to its first 200;
    with `port`, only INVITEs sent to it and 200s sent from it (not the IVR's own INVITEs to
    agents, which leave from the same port)."""
    invites: dict[bytes, float] = {}
    answers: dict[bytes, float] = {}
    for arrival, ip in read_pcap(path):
        udp = (ip[0] & 0x0F) * 4
        source, destination = struct.unpack_from("!HH", ip, udp)
        sip = ip[udp + 8 :]
        call_id = _CALL_ID.search(sip)
        if call_id is None:
            continue
        if sip.startswith(b"INVITE ") and port in (None, destination):
            invites.setdefault(call_id.group(1), arrival)
        elif sip.startswith(b"SIP/2.0 200") and _CSEQ_INVITE.search(sip) and port in (None, source):
            answers.setdefault(call_id.group(1), arrival)
    return np.array([answers[c] - t for c, t in invites.items() if c in answers])


# --- sipp ------------------------------------------------------------------------------------


def sipp_result(stat_csv: Path, rtt_csv: Path) -> SippResult:
    """Totals from sipp's -trace_stat file, INVITE->200 percentiles from its -trace_rtt file."""
    with stat_csv.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter=";"))
    last = rows[-1] if rows else {}

    def number(row: dict[str, str], key: str) -> int:
        return int(float(row.get(key) or 0))

    rtts: list[float] = []
    if rtt_csv.exists():
        with rtt_csv.open(newline="") as f:
            rtts = [float(row["response_time_ms"]) for row in csv.DictReader(f, delimiter=";")]
    p99 = np.percentile(rtts, 99) if rtts else float("nan")
    return SippResult(
        created=number(last, "TotalCallCreated"),
        successful=number(last, "SuccessfulCall(C)"),
        failed=number(last, "FailedCall(C)"),
        peak_concurrent=max((number(row, "CurrentCall") for row in rows), default=0),
        retransmissions=number(last, "Retransmissions(C)"),
        rtt_p99_ms=float(p99),
    )


# --- processes -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds; 0 once it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children, their children, ...)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        parent = pending.pop()
        try:
            with open(f"/proc/{parent}/task/{parent}/children") as f:
                children = [int(child) for child in f.read().split()]
        except OSError:
            continue
        found += children
        pending += children
    return found


def command_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


class PeakRss(threading.Thread):
    """Samples the summed resident memory of processes every half second; `peak` is the
    largest sum seen."""

    def __init__(self, pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.pids = pids
        self.peak = 0.0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(0.5):
            self.peak = max(self.peak, sum(rss_mb(pid) for pid in self.pids))

    def stop(self) -> None:
        self._done.set()
        self.join()


def find_tool(name: str) -> str | None:
    """A program on PATH or beside this Python (a venv's py-spy)."""
    beside = Path(sys.executable).parent / name
    return shutil.which(name) or (str(beside) if beside.exists() else None)


def free_ports(count: int, kind: socket.SocketKind = socket.SOCK_DGRAM) -> int:
    """The first of `count` consecutive free ports: a SIP port and the nodes' after it (UDP),
    the nodes' consoles (TCP: node k's on port + k - 1)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, kind) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + count < 60000 and all(_port_free(port + k, kind) for k in range(1, count)):
            return port
    raise RuntimeError("no free port run")


def _port_free(port: int, kind: socket.SocketKind) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def wait_for(path: Path, text: str, process: subprocess.Popen, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        if process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited: {path.read_text(errors='replace')}")
        time.sleep(0.1)
    raise RuntimeError(f"no '{text}' in {path} after {seconds} s")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM, seconds: float = 30) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def bench_config(work: Path, config: str, agent_port: int, inband: str) -> Path:
    """bench/ivr-bench.yaml, with speech on (the Korean model the tests run) for `speech`, the
    bridged menu and the agents' sipp for `bridge`; `inband`: the `call: inband_dtmf` mode."""
    settings = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    settings["call"]["inband_dtmf"] = inband
    if config == "speech":
        settings["speech"] = yaml.safe_load(SPEECH_SECTION.read_text(encoding="utf-8"))["speech"]
        settings["speech"]["enabled"] = True
    if config == "bridge":
        settings["menus"] = {"file": "bench/menus/yardstick-agent.yaml"}
        settings["agents"] = {"target": f"sip:agent@127.0.0.1:{agent_port}", "ring_timeout": 20}
    path = work / f"ivr-{config}.yaml"
    path.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return path


class PhoneSinks:
    """The callers' and agents' media ports, bound and never read, as phones listening.

    sipp's pcap playback sends through a raw socket and binds no media port, so without these
    every packet the IVR sends would hit a closed port and the kernel would answer each with an
    ICMP error (work on the IVR's cores that no real call causes, and an error on its socket).
    A socket that is never read costs nothing: its small buffer fills and the kernel drops the
    rest quietly. Ports are [auto_media_port] = base + 4 (call - 1) mod 10000; sipp binds
    the base port (and base + 2) itself, the agents' sipp its one media port too.
    """

    def __init__(self) -> None:
        self.sockets: list[socket.socket] = []
        for port in range(CALLER_MEDIA_PORT + 4, CALLER_MEDIA_PORT + 10000, 4):
            sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sink.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
            try:
                sink.bind(("127.0.0.1", port))
            except OSError:  # someone else's: their packets are theirs
                sink.close()
                continue
            self.sockets.append(sink)

    def close(self) -> None:
        for sink in self.sockets:
            sink.close()


def start_agents(work: Path, port: int, agent_pcap: Path) -> subprocess.Popen:
    """One sipp answering every agent leg: rings 1 s, streams the agent's voice, awaits BYE."""
    command = ["sipp", "-sf", str(AGENT_SCENARIO), "-key", "agent_pcap", str(agent_pcap)]
    command += ["-p", str(port), "-i", "127.0.0.1", "-mi", "127.0.0.1"]
    command += ["-mp", str(AGENT_MEDIA_PORT)]
    command += ["-l", "5000", "-nostdin", "-trace_err", "-error_file", "agent-errors.log"]
    with (work / "agents.out").open("w") as out:
        return subprocess.Popen(command, cwd=work, stdout=out, stderr=subprocess.STDOUT)


@dataclass
class Ivr:
    """The IVR under test: one process, or the supervisor of Kamailio and its nodes."""

    process: subprocess.Popen
    log: Path
    nodes: list[int]  # IVR process ids
    kamailio: list[int]


def start_ivr(
    work: Path, config: Path, sip_port: int, web_port: int, args: argparse.Namespace, mode: str
) -> Ivr:
    from ivr.nodes import answers_options

    log = work / "ivr.log"
    env = dict(os.environ, IVR_CONFIG=str(config), PYTHONUNBUFFERED="1")
    env["IVR_METRICS_TOKEN"] = METRICS_TOKEN
    command = [sys.executable, str(ROOT / "run_ivr.py"), "--sip-port", str(sip_port)]
    command += ["--web-port", str(web_port)]
    command += ["--rtp-ports", args.rtp_ports, "--data-dir", str(work / "data")]
    if mode == "kamailio":
        command += ["--nodes", str(args.nodes)]
    with log.open("w") as out:
        ivr = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    if mode == "direct":
        wait_for(log, "IVR ready", ivr, 90)
        return Ivr(ivr, log, [ivr.pid], [])
    wait_for(log, "front door: Kamailio on", ivr, 180)
    deadline = time.monotonic() + 30
    while not answers_options("127.0.0.1", sip_port):
        if time.monotonic() > deadline:
            raise RuntimeError("Kamailio does not answer OPTIONS")
    below = descendants(ivr.pid)
    nodes = [pid for pid in below if "run_ivr.py" in command_of(pid)]
    kamailio = [pid for pid in below if "kamailio" in command_of(pid).split(" ")[0]]
    return Ivr(ivr, log, nodes, kamailio)


def media_pacing(web_port: int) -> tuple[float, float]:
    """(frames due, late ticks) of every IVR node, as its last report to /metrics says."""
    from prometheus_client.parser import text_string_to_metric_families

    request = urllib.request.Request(
        f"http://127.0.0.1:{web_port}/metrics",
        headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read().decode()
    totals = {"ivr_media_frames": 0.0, "ivr_media_ticks_late": 0.0}
    for family in text_string_to_metric_families(text):
        if family.name in totals:
            totals[family.name] += sum(sample.value for sample in family.samples)
    return totals["ivr_media_frames"], totals["ivr_media_ticks_late"]


def start_capture(
    work: Path, name: str, bpf: str, snaplen: int
) -> tuple[subprocess.Popen, Path, Path]:
    pcap, log = work / f"{name}.pcap", work / f"dumpcap-{name}.log"
    command = ["dumpcap", "-i", "lo", "-f", bpf, "-s", str(snaplen), "-P", "-q", "-B", "64"]
    command += ["-w", str(pcap)]
    with log.open("w") as out:
        capture = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    wait_for(log, "Capturing on", capture, 20)
    return capture, pcap, log


def capture_dropped(log: Path) -> int:
    """Packets dumpcap reports dropped (it prints 'received/dropped on interface ...: R/D')."""
    found = re.search(r"received/dropped on interface '[^']*': \d+/(\d+)", log.read_text())
    return int(found.group(1)) if found else 0


def profile(pid: int, seconds: int, out: Path) -> list[tuple[str, float]]:
    """py-spy for `seconds`: the functions the IVR's threads spend the most samples in (self)."""
    command = [str(find_tool("py-spy")), "record", "--pid", str(pid), "--duration", str(seconds)]
    command += ["--rate", "200", "--nonblocking", "--format", "raw", "-o", str(out)]
    subprocess.run(command, capture_output=True, timeout=seconds + 60, check=False)
    samples: Counter[str] = Counter()
    if out.exists():
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            function = re.sub(r":\d+\)$", ")", stack.rsplit(";", 1)[-1])  # all its lines
            samples[function] += int(count)
    total = sum(samples.values()) or 1
    return [(frame, 100 * n / total) for frame, n in samples.most_common(15)]


def caller_media(work: Path, keys: str, caller: str, threadtasks: int) -> list[str]:
    """sipp's arguments for the talker's and the listener's RTP (bench/caller_audio.py), `keys`
    at KEYS_AT: a pcap each (`pcap`), or raw audio each and a pcap of the keys (`stream`)."""
    from bench.caller_audio import (
        caller_audio,
        keys_seconds,
        write_caller_pcap,
        write_caller_stream,
    )

    name = keys.replace("#", "hash")
    arguments: list[str] = []
    for kind, seed in (("talker", 7), ("listener", 8)):
        audio = caller_audio(kind, CALLER_SECONDS, seed)
        if caller == "pcap":
            pcap = write_caller_pcap(work / f"{kind}-{name}.pcap", audio, keys, KEYS_AT)
            arguments += ["-key", f"{kind}_pcap", str(pcap)]
            continue
        raw = write_caller_stream(work / f"{kind}.ulaw", audio)
        start = round(KEYS_AT * 8000)
        during = audio[start : start + round(keys_seconds(keys) * 8000)]
        pcap = write_caller_pcap(work / f"{kind}-keys-{name}.pcap", during, keys, 0.0)
        arguments += ["-key", f"{kind}_stream", f"{raw},-1,0", "-key", f"{kind}_keys", str(pcap)]
    if caller == "stream":
        arguments += ["-set", "keys_at_ms", str(round(KEYS_AT * 1000))]
        arguments += ["-set", "keys_ms", str(round(keys_seconds(keys) * 1000))]
        arguments += ["-rtp_threadtasks", str(threadtasks)]
    return arguments


def agent_pcap(work: Path) -> Path:
    """The agents' voice: talking, no keys, a stream of its own (another SSRC)."""
    from bench.caller_audio import caller_audio, write_caller_pcap

    audio = caller_audio("talker", CALLER_SECONDS, 9)
    return write_caller_pcap(work / "agent.pcap", audio, "", KEYS_AT, ssrc=0x1233_3A9E)


# --- one level -------------------------------------------------------------------------------


def run_level(
    level: int,
    config: str,
    mode: str,
    args: argparse.Namespace,
    work: Path,
    media: list[str],
    agent_voice: Path,
) -> LevelResult:
    work.mkdir(parents=True)
    setup = SETUPS[config]
    load = "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())
    sip_port = free_ports(5)
    call_seconds = setup.call_seconds
    rate_period_ms = round(call_seconds * 1000)
    total_calls = round(CALLS_PER_LEVEL * level)
    run_seconds = total_calls * call_seconds / level + call_seconds
    steady = (call_seconds + 2, total_calls * call_seconds / level)  # all L calls up
    share = args.talk_share if config == "speech" else 1.0
    agent_port = free_ports(5)
    web_port = free_ports(args.nodes if mode == "kamailio" else 1, socket.SOCK_STREAM)

    sinks = PhoneSinks() if args.caller == "pcap" else None  # stream: sipp's socket listens
    settings = bench_config(work, config, agent_port, args.inband)
    ivr = start_ivr(work, settings, sip_port, web_port, args, mode)
    agents = start_agents(work, agent_port, agent_voice) if config == "bridge" else None
    # only the IVR's packets to the callers' and the agents' media ports: other processes on
    # this loopback (tests running beside the bench) may use ports of the IVR's range too
    rtp_filter = f"udp src portrange {args.rtp_ports} and udp dst portrange 8000-19999"
    capture, pcap, capture_log = start_capture(work, "ivr-rtp", rtp_filter, 64)
    caller_capture = None
    if args.count_caller:
        caller_filter = f"udp src portrange 8000-19999 and udp dst portrange {args.rtp_ports}"
        caller_capture = start_capture(work, "caller-rtp", caller_filter, 64)
    sip_capture, sip_pcap, _ = start_capture(work, "sip", f"udp port {sip_port}", 65535)
    rss = PeakRss(ivr.nodes)
    rss_idle = sum(rss_mb(pid) for pid in ivr.nodes)
    rss.start()
    scenario = setup.scenarios[args.caller]
    command = ["sipp", f"127.0.0.1:{sip_port}", "-sf", str(scenario), "-s", "ivr", *media]
    command += ["-set", "talk_share", str(share)]
    if config == "bridge":
        command += ["-set", "call_ms", str(BRIDGED_MS)]
    command += ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", str(CALLER_MEDIA_PORT), "-nostdin"]
    command += ["-r", str(level), "-rp", str(rate_period_ms), "-l", str(level)]
    command += ["-m", str(total_calls), "-timeout", f"{round(run_seconds + 60)}s"]
    command += ["-trace_stat", "-fd", "1", "-trace_rtt", "-rtt_freq", "1", "-trace_err"]
    command += ["-stf", "stat.csv", "-error_file", "errors.log"]
    sipp: subprocess.Popen | None = None
    hot: list[tuple[str, float]] = []
    try:
        with (work / "sipp.out").open("w") as out:
            started = time.monotonic()
            sipp = subprocess.Popen(command, cwd=work, stdout=out, stderr=subprocess.STDOUT)
            time.sleep(steady[0])
            groups = (ivr.nodes, ivr.kamailio, [sipp.pid])
            before = [sum(map(cpu_seconds, pids)) for pids in groups]
            t0 = time.monotonic()
            pacing_before = media_pacing(web_port)
            if args.profile:
                hot = profile(ivr.nodes[0], args.profile, work / "py-spy.txt")
            time.sleep(max(0.0, started + steady[1] - time.monotonic()))
            elapsed = time.monotonic() - t0
            pacing_after = media_pacing(web_port)
            ivr_cpu, kamailio_cpu, sipp_cpu = (
                (sum(map(cpu_seconds, pids)) - used) / elapsed * 100
                for pids, used in zip(groups, before, strict=True)
            )
            sipp.wait(timeout=run_seconds + 120)
    finally:
        if sipp is not None:
            stop(sipp, signal.SIGINT)  # already gone unless the bench was interrupted
        stop(capture, signal.SIGINT)
        stop(sip_capture, signal.SIGINT)
        if caller_capture is not None:
            stop(caller_capture[0], signal.SIGINT)
        stop(ivr.process, signal.SIGINT)
        if agents is not None:
            stop(agents, signal.SIGINT, seconds=5)
        rss.stop()
        if sinks is not None:
            sinks.close()
    rtt_files = list(work.glob("*_rtt.csv"))
    completed = ivr.log.read_text(errors="replace").count(setup.finished)
    invites = invite_latencies(sip_pcap, sip_port) * 1000
    result = LevelResult(
        level=level,
        config=config,
        mode=mode,
        caller=args.caller,
        sipp=sipp_result(work / "stat.csv", rtt_files[0] if rtt_files else work / "none"),
        completed=completed,
        pacing=pacing(rtp_streams(pcap)),
        ivr_cpu_pct=ivr_cpu,
        kamailio_cpu_pct=kamailio_cpu,
        sipp_cpu_pct=sipp_cpu,
        rss_idle_mb=rss_idle,
        rss_peak_mb=rss.peak,
        late_ticks_pct=late_share(pacing_before, pacing_after),
        load=load,
        invite_p50_ms=float(np.percentile(invites, 50)) if len(invites) else float("nan"),
        invite_p99_ms=float(np.percentile(invites, 99)) if len(invites) else float("nan"),
        capture_dropped=capture_dropped(capture_log),
        inbound=inbound(caller_capture[1]) if caller_capture is not None else None,
    )
    if hot:
        print(f"\npy-spy, {args.profile} s at {level} calls (self samples, one IVR process):")
        for frame, share_pct in hot:
            print(f"  {share_pct:5.1f}%  {frame}")
    if not args.keep:
        pcap.unlink(missing_ok=True)
        sip_pcap.unlink(missing_ok=True)
        if caller_capture is not None:
            caller_capture[1].unlink(missing_ok=True)
    return result


def late_share(before: tuple[float, float], after: tuple[float, float]) -> float:
    """Late ticks per 100 ticks between two readings, over every node (a node's frames due are
    its ticks; the nodes report every 2 s)."""
    frames = after[0] - before[0]
    return 100 * (after[1] - before[1]) / frames if frames > 0 else float("nan")


# --- report ----------------------------------------------------------------------------------

HEADER = (
    "level config mode     caller |  peak  calls failed | INV->200 p50   p99 ms |"
    " RTP err p50   p99    max ms | drift ms short | CPU% IVR  kam sipp | RSS MB KB/call |"
    " late % | clean | load 1/5/15"
)


def row(r: LevelResult) -> str:
    p = r.pacing
    return (
        f"{r.level:5d} {r.config:6s} {r.mode:8s} {r.caller:6s} |"
        f" {r.sipp.peak_concurrent:5d} {r.sipp.created:6d} {r.failed:6d} |"
        f" {r.invite_p50_ms:12.1f} {r.invite_p99_ms:5.1f}    |"
        f" {p.p50_ms:11.2f} {p.p99_ms:6.2f} {p.max_ms:6.1f}    |"
        f" {p.drift_ms:8.1f} {p.short_streams:5d} |"
        f" {r.ivr_cpu_pct:8.0f} {r.kamailio_cpu_pct:4.0f} {r.sipp_cpu_pct:4.0f} |"
        f" {r.rss_peak_mb:6.0f} {r.rss_per_call_kb:7.0f} |"
        f" {r.late_ticks_pct:6.2f} |"
        f" {'yes' if r.clean() else 'NO':5s} | {r.load}"
    )


def headline(results: list[LevelResult]) -> str:
    """The peak concurrency of the highest level that, with every level below it, was clean."""
    best = None
    for result in sorted(results, key=lambda r: r.level):
        if not result.clean():
            break
        best = result
    if best is None:
        return "no level clean"
    return f"{best.sipp.peak_concurrent} concurrent calls clean (level {best.level})"


def levels_by_config(text: str, configs: list[str]) -> dict[str, list[int]]:
    """`200,400` for every configuration, or `keys:200,400,800/speech:200,400` each its own."""
    if ":" not in text:
        return {config: [int(level) for level in text.split(",")] for config in configs}
    given = dict(part.split(":", 1) for part in text.split("/"))
    return {config: [int(level) for level in given.get(config, "").split(",") if level]
            for config in configs}  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--levels",
        default=LEVELS,
        help="concurrent calls, comma-separated; per configuration: keys:200,400/speech:200",
    )
    parser.add_argument(
        "--all-levels", action="store_true", help="go on climbing after a level that slipped"
    )
    parser.add_argument("--configs", default="keys,speech,bridge", help="keys, speech, bridge")
    parser.add_argument("--modes", default="direct,kamailio", help="direct, kamailio")
    parser.add_argument("--nodes", type=int, default=2, help="IVR processes behind Kamailio")
    parser.add_argument("--talk-share", type=float, default=0.25, help="speech: callers talking")
    parser.add_argument(
        "--inband",
        choices=("always", "auto"),
        default="always",
        help="call: inband_dtmf (auto: no in-band detection where the phone offered RFC 4733)",
    )
    parser.add_argument("--caller", choices=CALLERS, default="stream", help="how sipp sends RTP")
    parser.add_argument(
        "--rtp-threadtasks", type=int, default=RTP_THREADTASKS, help="stream: calls per thread"
    )
    parser.add_argument(
        "--count-caller", action="store_true", help="capture and count the callers' packets too"
    )
    parser.add_argument("--rtp-ports", default="20000-29999", help="IVR RTP range (captured)")
    parser.add_argument("--max-minutes", type=float, default=60, help="skip runs beyond this")
    parser.add_argument("--profile", type=int, default=0, help="py-spy seconds per level")
    parser.add_argument("--keep", action="store_true", help="keep the captures and logs")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: sipp's play_pcap_audio sends through a raw socket")
    tools = ("sipp", "dumpcap") + (("py-spy",) if args.profile else ())
    tools += ("kamailio",) if "kamailio" in args.modes else ()
    for tool in tools:
        if find_tool(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            parser.error(f"{tool} is not installed")

    work = Path(tempfile.mkdtemp(prefix="bench_sipp-"))
    media = {
        keys: caller_media(work, keys, args.caller, args.rtp_threadtasks)
        for keys in {s.keys for s in SETUPS.values()}
    }
    agent_voice = agent_pcap(work)
    deadline = time.monotonic() + args.max_minutes * 60
    results: list[LevelResult] = []
    slipped: set[tuple[str, str]] = set()
    print(f"{os.cpu_count()} CPUs; load average before the run {os.getloadavg()}")
    if args.caller == "stream":
        print(f"caller: sipp rtp_stream, {args.rtp_threadtasks} calls a thread, keys from a pcap")
    else:
        print("caller: sipp play_pcap_audio, a thread per call")
    print(f"in-band DTMF detection (call: inband_dtmf): {args.inband}")
    print(HEADER)
    levels = levels_by_config(args.levels, args.configs.split(","))
    for level in sorted({level for wanted in levels.values() for level in wanted}):
        for config in args.configs.split(","):
            for mode in args.modes.split(","):
                if (config, mode) in slipped or level not in levels[config]:
                    continue
                seconds = SETUPS[config].call_seconds
                needed = CALLS_PER_LEVEL * seconds + seconds + 40 + args.profile
                if time.monotonic() + needed > deadline:
                    print(f"({config} {mode} level {level} skipped: over --max-minutes)")
                    continue
                name = f"level-{level}-{config}-{mode}"
                result = run_level(
                    level, config, mode, args, work / name, media[SETUPS[config].keys], agent_voice
                )
                results.append(result)
                print(row(result), flush=True)
                if result.capture_dropped:
                    print(f"      dumpcap dropped {result.capture_dropped} packets at this level")
                if result.inbound is not None:
                    print(result.inbound.line())
                if not result.clean() and not args.all_levels:
                    slipped.add((config, mode))
    print(
        f"\nclean = 0 failed, INVITE->200 p99 <= {INVITE_P99_MS:g} ms, RTP interval error p99 <="
        f" {CLEAN_P99_MS:g} ms, drift <= {MAX_DRIFT_MS:g} ms, no short stream:"
    )
    for config in args.configs.split(","):
        for mode in args.modes.split(","):
            runs = [r for r in results if (r.config, r.mode) == (config, mode)]
            print(f"  {config:6s} {mode:8s}: {headline(runs)}")
    if args.keep:
        print(f"logs and captures: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
