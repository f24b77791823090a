"""Flood drill: the yardstick calls stay clean while one source floods INVITEs and another
holds TCP connections open byte by byte (slowloris).

Two runs of bench/bench_sipp.py's yardstick level (`keys` configuration, one IVR process,
LEVEL concurrent callers streaming audio and keying `123#`, 2.5 x LEVEL calls in all), each
against a fresh IVR, with the IVR's RTP towards the callers captured on loopback (dumpcap):
  1. unloaded;
  2. loaded: from the moment all LEVEL calls are up, for --seconds (30):
     - 127.0.0.2 sends --rate (2000) INVITEs a second over UDP, each a new call with SDP, and
       never ACKs what it is answered; every response is counted by status;
     - 127.0.0.3 opens --slow-connections (50) TCP connections and sends an INVITE into each
       one octet a second, reopening any connection the IVR closes.
It prints, for each run: failed calls, RTP send-interval error p50/p99 over the callers'
streams, and the IVR's resident memory (idle, peak); for the flood: INVITEs sent, responses by
status, INVITEs that got no final answer; for slowloris: connections opened, refused at once,
cut off later and their longest life. The drill passes when the loaded run has no failed call
and an RTP interval p99 within 2x the unloaded one.

Run as root (sipp's pcap playback uses a raw socket), loopback only, ~2.5 minutes:
    python bench/flood_drill.py [--level 100] [--seconds 30] [--rate 2000]
Needs sipp and dumpcap (apt-get install sip-tester tshark).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("bench_sipp", ROOT / "bench" / "bench_sipp.py")
assert _spec and _spec.loader
yardstick = sys.modules["bench_sipp"] = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(yardstick)

FLOOD_SOURCE = "127.0.0.2"
SLOW_SOURCE = "127.0.0.3"


@dataclass
class FloodStats:
    sent: int = 0
    finals: dict[str, int] = field(default_factory=dict)  # Call-ID -> its first final status

    def by_status(self) -> Counter[int]:
        return Counter(self.finals.values())

    def unanswered(self) -> int:
        return self.sent - len(self.finals)


class InviteFlood(threading.Thread):
    """`rate` INVITEs a second from FLOOD_SOURCE, in 10 ms batches, each a new call."""

    def __init__(self, target: tuple[str, int], rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.target, self.rate, self.seconds = target, rate, seconds
        self.stats = FloodStats()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((FLOOD_SOURCE, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._done = threading.Event()
        self._listener = threading.Thread(target=self._listen, daemon=True)

    def invite(self, n: int) -> bytes:
        port = self.sock.getsockname()[1]
        sdp = (
            f"v=0\r\no=- {n} 1 IN IP4 {FLOOD_SOURCE}\r\ns=-\r\nc=IN IP4 {FLOOD_SOURCE}\r\n"
            "t=0 0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
        )
        return (
            f"INVITE sip:12333@{self.target[0]}:{self.target[1]} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {FLOOD_SOURCE}:{port};branch=z9hG4bK-flood-{n};rport\r\n"
            f"From: <sip:flood@{FLOOD_SOURCE}>;tag=f{n}\r\nTo: <sip:12333@{self.target[0]}>\r\n"
            f"Call-ID: flood-{n}\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\n"
            f"Contact: <sip:flood@{FLOOD_SOURCE}:{port}>\r\nContent-Type: application/sdp\r\n"
            f"Content-Length: {len(sdp)}\r\n\r\n{sdp}"
        ).encode()

    def run(self) -> None:
        self._listener.start()
        batch = max(1, self.rate // 100)
        start = time.monotonic()
        numbers = itertools.count()
        for tick in itertools.count():
            due = start + tick * 0.01
            if due - start >= self.seconds:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            for _ in range(batch):
                self.sock.sendto(self.invite(next(numbers)), self.target)
                self.stats.sent += 1
        time.sleep(2.0)  # late answers
        self._done.set()

    def _listen(self) -> None:
        self.sock.settimeout(0.2)
        while not self._done.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            status = int(data[8:11]) if data.startswith(b"SIP/2.0 ") else 0
            if status >= 200:
                start = data.find(b"Call-ID: ") + 9
                call_id = data[start : data.find(b"\r\n", start)].decode()
                self.stats.finals.setdefault(call_id, status)


@dataclass
class SlowStats:
    opened: int = 0
    refused: int = 0  # closed by the IVR within a second of connecting
    cut_off: int = 0  # closed by the IVR later
    longest: float = 0.0


class Slowloris(threading.Thread):
    """`connections` TCP connections from SLOW_SOURCE, each trickling an INVITE, one octet a
    second; a connection the IVR closes is counted and opened again."""

    def __init__(self, target: tuple[str, int], connections: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.target, self.connections, self.seconds = target, connections, seconds
        self.stats = SlowStats()
        self.request = (
            f"INVITE sip:12333@{target[0]} SIP/2.0\r\n"
            f"Via: SIP/2.0/TCP {SLOW_SOURCE};branch=z9hG4bK-s\r\nX-Slow: " + "x" * 500 + "\r\n"
        ).encode()

    def _open(self) -> tuple[socket.socket, float, int]:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.bind((SLOW_SOURCE, 0))
        sock.setblocking(False)
        sock.connect_ex(self.target)
        self.stats.opened += 1
        return sock, time.monotonic(), 0

    def run(self) -> None:
        conns = [self._open() for _ in range(self.connections)]
        end = time.monotonic() + self.seconds
        while time.monotonic() < end:
            time.sleep(1.0)
            now = time.monotonic()
            for index, (sock, opened, sent) in enumerate(conns):
                try:
                    if sock.recv(1, socket.MSG_PEEK) == b"":
                        raise ConnectionResetError
                except BlockingIOError:
                    pass  # still open, nothing to read
                except OSError:
                    self._closed(now - opened)
                    sock.close()
                    conns[index] = self._open()
                    continue
                try:
                    sock.send(self.request[sent % len(self.request) : sent % len(self.request) + 1])
                    conns[index] = (sock, opened, sent + 1)
                except BlockingIOError:
                    pass  # not connected yet
                except OSError:
                    self._closed(now - opened)
                    sock.close()
                    conns[index] = self._open()
        for sock, _, _ in conns:
            sock.close()

    def _closed(self, lived: float) -> None:
        if lived <= 1.5:
            self.stats.refused += 1
        else:
            self.stats.cut_off += 1
        self.stats.longest = max(self.stats.longest, lived)


def run(
    args: argparse.Namespace, work: Path, media: list[str], loaded: bool
) -> tuple[Any, FloodStats | None, SlowStats | None]:
    """One level of the yardstick; when `loaded`, the flood and slowloris start once every
    call is up (bench_sipp's run_level picks the SIP port: the drill watches which it took)."""
    ports: list[int] = []
    pick_port = yardstick.free_port

    def watched_free_port() -> int:
        port = pick_port()
        ports.append(port)
        return port

    yardstick.free_port = watched_free_port
    attackers: list[InviteFlood | Slowloris] = []

    def attack() -> None:
        sipp_started = work / "sipp.out"
        while not sipp_started.exists():
            time.sleep(0.1)
        time.sleep(yardstick.CALL_SECONDS + 2)  # all calls up
        target = ("127.0.0.1", ports[0])
        attackers.extend(
            [
                InviteFlood(target, args.rate, args.seconds),
                Slowloris(target, args.slow_connections, args.seconds),
            ]
        )
        for attacker in attackers:
            attacker.start()
        for attacker in attackers:
            attacker.join()

    attacking = threading.Thread(target=attack, daemon=True)
    if loaded:
        attacking.start()
    try:
        result = yardstick.run_level(args.level, "keys", "direct", args, work, media, Path())
    finally:
        yardstick.free_port = pick_port
    if loaded:
        attacking.join()
    flood = next((a.stats for a in attackers if isinstance(a, InviteFlood)), None)
    slow = next((a.stats for a in attackers if isinstance(a, Slowloris)), None)
    return result, flood, slow


def report(name: str, result: Any, flood: FloodStats | None, slow: SlowStats | None) -> None:
    p = result.pacing
    print(
        f"{name}: {result.sipp.created} calls, {result.failed} failed, peak "
        f"{result.sipp.peak_concurrent} at once; RTP interval error p50 {p.p50_ms:.2f} ms, "
        f"p99 {p.p99_ms:.2f} ms, max {p.max_ms:.1f} ms over {p.streams} streams; IVR CPU "
        f"{result.ivr_cpu_pct:.0f}%; RSS idle {result.rss_idle_mb:.0f} MB, peak "
        f"{result.rss_peak_mb:.0f} MB"
    )
    if flood:
        by_status = ", ".join(f"{s}: {n:,}" for s, n in sorted(flood.by_status().items()))
        print(f"  flood: {flood.sent:,} INVITEs sent; final answers by status {by_status}; "
              f"{flood.unanswered():,} got none")  # fmt: skip
    if slow:
        print(f"  slowloris: {slow.opened} connections opened, {slow.refused} refused at once, "
              f"{slow.cut_off} cut off later, longest lived {slow.longest:.0f} s")  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", type=int, default=100, help="concurrent sipp calls")
    parser.add_argument("--seconds", type=float, default=30.0, help="flood duration")
    parser.add_argument("--rate", type=int, default=2000, help="flood INVITEs per second")
    parser.add_argument("--slow-connections", type=int, default=50)
    parser.add_argument("--rtp-ports", default="50000-53999", help="IVR RTP range (captured)")
    parser.add_argument("--media-port", type=int, default=40000, help="sipp's first RTP port")
    parser.add_argument("--keep", action="store_true", help="keep captures and logs")
    args = parser.parse_args(argv)
    args.nodes, args.talk_share, args.profile = 1, 1.0, 0  # what run_level reads besides
    # the caller of the drill's recorded runs: play_pcap_audio, from each call's own port
    args.caller, args.count_caller = "pcap", False
    # sipp's callers on media ports of their own, and only the IVR's packets to them captured:
    # a yardstick run beside this one uses 8000-19999
    yardstick.CALLER_MEDIA_PORT = args.media_port
    capture = yardstick.start_capture
    theirs, ours = (
        "dst portrange 8000-19999",
        f"dst portrange {args.media_port}-{args.media_port + 1999}",
    )

    def start_capture(work: Path, name: str, bpf: str, snaplen: int) -> Any:
        return capture(work, name, bpf.replace(theirs, ours), snaplen)

    yardstick.start_capture = start_capture
    if os.geteuid() != 0:
        parser.error("run as root: sipp's play_pcap_audio sends through a raw socket")
    for tool in ("sipp", "dumpcap"):
        if yardstick.find_tool(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install sip-tester tshark)")
    work = Path(tempfile.mkdtemp(prefix="flood_drill-"))
    media = yardstick.caller_media(work, "123#", args.caller, yardstick.RTP_THREADTASKS)
    unloaded, _, _ = run(args, work / "unloaded", media, loaded=False)
    report("unloaded", unloaded, None, None)
    loaded, flood, slow = run(args, work / "loaded", media, loaded=True)
    report("loaded  ", loaded, flood, slow)
    limit = 2 * unloaded.pacing.p99_ms
    clean = loaded.failed == 0 and loaded.pacing.p99_ms <= limit
    print(
        f"\n{'PASS' if clean else 'FAIL'}: loaded p99 {loaded.pacing.p99_ms:.2f} ms "
        f"(limit 2 x {unloaded.pacing.p99_ms:.2f} = {limit:.2f} ms), "
        f"{loaded.failed} failed calls"
    )
    if args.keep:
        print(f"logs and captures: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
