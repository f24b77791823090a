"""Flood drill: 100 yardstick calls stay clean while one source floods INVITEs and another
holds TCP connections open byte by byte (slowloris).

Two runs of the same sipp load (bench/bench_sipp.py's yardstick call, LEVEL concurrent calls,
2.5 x LEVEL calls in all), each against a fresh IVR (bench/ivr-bench.yaml), both with the IVR's
RTP captured on loopback (dumpcap):
  1. unloaded;
  2. loaded: from the moment all LEVEL calls are up, for --seconds (30):
     - 127.0.0.2 sends --rate (2000) INVITEs a second over UDP, each a new call with SDP, and
       never ACKs what it is answered; every response is counted by status;
     - 127.0.0.3 opens --slow-connections (50) TCP connections and sends an INVITE into each
       one octet a second, reopening any connection the IVR closes.
It prints, for each run: failed sipp calls, RTP send-interval error p50/p99 over every stream
the IVR sent, and the IVR's resident memory (idle, peak, end); for the flood: INVITEs sent,
responses by status, INVITEs that got no answer; for slowloris: connections opened, refused at
once, cut off later and their longest life. The drill passes when the loaded run has no failed
call and an RTP interval p99 within 2x the unloaded one.

Run as root (sipp's pcap playback uses a raw socket), loopback only, ~3.5 minutes:
    python bench/flood_drill.py [--level 100] [--seconds 30] [--rate 2000]
Needs sipp and dumpcap (apt-get install sip-tester tshark).
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

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
    statuses: Counter[int] = field(default_factory=Counter)
    answered_calls: set[str] = field(default_factory=set)  # Call-IDs that got a final answer

    def unanswered(self) -> int:
        return self.sent - len(self.answered_calls)


class InviteFlood(threading.Thread):
    """`rate` INVITEs a second from FLOOD_SOURCE, in 10 ms batches, each a new call."""

    def __init__(self, target: tuple[str, int], rate: int, seconds: float) -> None:
        super().__init__(daemon=True)
        self.target, self.rate, self.seconds = target, rate, seconds
        self.stats = FloodStats()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((FLOOD_SOURCE, 0))
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._stop = threading.Event()
        self._listener = threading.Thread(target=self._listen, daemon=True)

    def invite(self, n: int) -> bytes:
        port = self.sock.getsockname()[1]
        sdp = (
            f"v=0\r\no=- {n} 1 IN IP4 {FLOOD_SOURCE}\r\ns=-\r\nc=IN IP4 {FLOOD_SOURCE}\r\n"
            "t=0 0\r\nm=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
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
        self._stop.set()

    def _listen(self) -> None:
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            status = int(data[8:11]) if data.startswith(b"SIP/2.0 ") else 0
            self.stats.statuses[status] += 1
            if status >= 200:
                start = data.find(b"Call-ID: ") + 9
                self.stats.answered_calls.add(data[start : data.find(b"\r\n", start)].decode())


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


@dataclass
class Run:
    failed: int
    created: int
    pacing: object
    rss_idle: float
    rss_peak: float
    rss_end: float
    flood: FloodStats | None
    slow: SlowStats | None


def run(args: argparse.Namespace, work: Path, dtmf_pcap: Path, loaded: bool) -> Run:
    work.mkdir(parents=True)
    level = args.level
    sip_port = yardstick.free_port()
    total_calls = round(yardstick.CALLS_PER_LEVEL * level)
    run_seconds = total_calls * yardstick.CALL_SECONDS / level + yardstick.CALL_SECONDS
    ramp = yardstick.CALL_SECONDS + 2
    ivr, _ = yardstick.start_ivr(work, sip_port, args.rtp_ports)
    capture, pcap, _ = yardstick.start_capture(
        work, "ivr-rtp", f"udp src portrange {args.rtp_ports}", 64
    )
    rss = yardstick.PeakRss(ivr.pid)
    rss_idle = yardstick.rss_mb(ivr.pid)
    rss.start()
    command = ["sipp", f"127.0.0.1:{sip_port}", "-sf", str(yardstick.SCENARIO), "-s", "ivr"]
    command += ["-key", "dtmf_pcap", str(dtmf_pcap)]
    command += ["-set", "listen_ms", str(yardstick.LISTEN_MS)]
    command += ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-nostdin"]
    command += ["-r", str(level), "-rp", str(round(yardstick.CALL_SECONDS * 1000))]
    command += ["-l", str(level), "-m", str(total_calls), "-timeout", f"{round(run_seconds + 90)}s"]
    command += ["-trace_stat", "-fd", "1", "-stf", "stat.csv"]
    flood = slow = None
    sipp = None
    try:
        with (work / "sipp.out").open("w") as out:
            sipp = subprocess.Popen(command, cwd=work, stdout=out, stderr=subprocess.STDOUT)
            time.sleep(ramp)
            if loaded:
                target = ("127.0.0.1", sip_port)
                flood = InviteFlood(target, args.rate, args.seconds)
                slow = Slowloris(target, args.slow_connections, args.seconds)
                flood.start()
                slow.start()
                flood.join()
                slow.join()
            sipp.wait(timeout=run_seconds + 180)
        rss_end = yardstick.rss_mb(ivr.pid)
    finally:
        if sipp is not None:
            yardstick.stop(sipp, signal.SIGINT)
        yardstick.stop(capture, signal.SIGINT)
        yardstick.stop(ivr)
        rss.stop()
    result = yardstick.sipp_result(work / "stat.csv", work / "none")
    return Run(
        failed=result.failed,
        created=result.created,
        pacing=yardstick.pacing(yardstick.rtp_streams(pcap)),
        rss_idle=rss_idle,
        rss_peak=rss.peak,
        rss_end=rss_end,
        flood=flood.stats if flood else None,
        slow=slow.stats if slow else None,
    )


def report(name: str, result: Run) -> None:
    p = result.pacing
    print(
        f"{name}: sipp calls {result.created}, failed {result.failed}; RTP interval error "
        f"p50 {p.p50_ms:.2f} ms, p99 {p.p99_ms:.2f} ms, max {p.max_ms:.1f} ms over "
        f"{p.streams} streams; RSS idle {result.rss_idle:.0f} MB, peak {result.rss_peak:.0f} MB, "
        f"end {result.rss_end:.0f} MB"
    )
    if result.flood:
        f = result.flood
        by_status = ", ".join(f"{s}: {n:,}" for s, n in sorted(f.statuses.items()))
        print(f"  flood: {f.sent:,} INVITEs sent; responses {by_status}; "
              f"{f.unanswered():,} got no final answer")  # fmt: skip
    if result.slow:
        s = result.slow
        print(f"  slowloris: {s.opened} connections opened, {s.refused} refused at once, "
              f"{s.cut_off} cut off later, longest lived {s.longest:.0f} s")  # fmt: skip


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--level", type=int, default=100, help="concurrent sipp calls")
    parser.add_argument("--seconds", type=float, default=30.0, help="flood duration")
    parser.add_argument("--rate", type=int, default=2000, help="flood INVITEs per second")
    parser.add_argument("--slow-connections", type=int, default=50)
    parser.add_argument("--rtp-ports", default="61000-64999", help="IVR RTP range (captured)")
    parser.add_argument("--keep", action="store_true", help="keep captures and logs")
    args = parser.parse_args(argv)
    if os.geteuid() != 0:
        parser.error("run as root: sipp's play_pcap_audio sends through a raw socket")
    for tool in ("sipp", "dumpcap"):
        if yardstick.find_tool(tool) is None:
            parser.error(f"{tool} is not installed (apt-get install sip-tester tshark)")
    work = Path(tempfile.mkdtemp(prefix="flood_drill-"))
    dtmf_pcap = work / "dtmf_123hash.pcap"
    subprocess.run(
        [sys.executable, str(yardstick.PCAP_TOOL), "--digits", "123#", "--pt", "101",
         "-o", str(dtmf_pcap)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    unloaded = run(args, work / "unloaded", dtmf_pcap, loaded=False)
    report("unloaded", unloaded)
    loaded = run(args, work / "loaded", dtmf_pcap, loaded=True)
    report("loaded  ", loaded)
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
