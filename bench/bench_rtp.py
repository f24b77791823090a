"""RTP media-path benchmark: what 300 calls cost this process.

Part 1 (micro): per-packet receive path, per-tick send path for 300 streams, per-tick in-band
DTMF detection for 300 calls, in microseconds, and the share of one core 300 calls would use.
Part 2 (load, unless --load-seconds 0): a child process plays 300 callers (50 packets/s each,
PCMU with DTMF tones) against 300 real UDP ports served by the Twisted reactor, while one
PacingClock sends 300 streams back; prints CPU share and the p99 tick-interval error.

    python bench/bench_rtp.py [--calls 300] [--load-seconds 10]
"""

from __future__ import annotations

import argparse
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from timeit import Timer

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.media.pacer import FRAME_INTERVAL, PacingClock, RtpStream
from ivr.media.player import Player
from ivr.rtp.g711 import PCMU
from ivr.rtp.inband_dtmf import InbandDtmfBank
from ivr.rtp.packet import RtpPacket
from ivr.rtp.ports import RtpPortPool
from ivr.rtp.session import RtpSession
from ivr.rtp.transport import listen_rtp

TICKS_PER_SECOND = round(1 / FRAME_INTERVAL)


def per_call_us(statement, number: int) -> float:
    return min(Timer(statement).repeat(repeat=5, number=number)) / number * 1e6


def speech_like_frames(count: int) -> list[bytes]:
    rng = np.random.default_rng(0)
    pcm = (rng.normal(0, 3000, count * 160)).astype(np.int16)
    data = PCMU.encode(pcm)
    return [data[i * 160 : (i + 1) * 160] for i in range(count)]


def micro(calls: int) -> float:
    caller = ("127.0.0.1", 40000)
    session = RtpSession(PCMU, caller, telephone_event_pt=101)
    audio = RtpPacket(0, 1, 160, 77, speech_like_frames(1)[0]).serialize()
    event = RtpPacket(101, 2, 160, 77, b"\x05\x8a\x03\x20").serialize()
    bank = InbandDtmfBank()
    parse_us = per_call_us(lambda: session.receive(audio, caller, 0.0), 100_000)
    receive_us = per_call_us(lambda: session.receive(audio, caller, 0.0).pcm, 100_000)
    event_us = per_call_us(lambda: session.receive(event, caller, 0.0), 100_000)

    prompt = tuple(speech_like_frames(500))
    streams = []
    for _ in range(calls):
        player = Player(PCMU)
        player.play(prompt * 1000)
        streams.append(RtpStream(player, RtpSession(PCMU, caller), lambda data, to: None))

    def send_tick() -> None:
        for stream in streams:
            stream.send_frames(1, 0)

    send_us = per_call_us(send_tick, 200)
    sink = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sink.bind(("127.0.0.1", 0))
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    packet = audio
    address = sink.getsockname()
    sendto_us = per_call_us(lambda: sender.sendto(packet, address), 20_000)
    sink.close()
    sender.close()

    frames = [PCMU.decode(f) for f in speech_like_frames(calls)]

    def detect_tick() -> None:
        for call, pcm in enumerate(frames):
            bank.add(call, pcm)
        bank.detect()

    detect_us = per_call_us(detect_tick, 200)

    packets_per_second = calls * TICKS_PER_SECOND
    core = (
        packets_per_second * receive_us
        + TICKS_PER_SECOND * (send_us + detect_us)
        + packets_per_second * sendto_us
    ) / 1e6
    print(f"micro-benchmarks, {calls} calls ({packets_per_second} packets/s each way)")
    print(f"  receive, parse+dispatch only        {parse_us:8.2f} us/packet")
    print(f"  receive, + decode to int16          {receive_us:8.2f} us/packet")
    print(f"  receive, RFC 4733 event             {event_us:8.2f} us/packet")
    print(
        f"  send, {calls} streams per tick        {send_us:8.1f} us/tick "
        f"({send_us / calls:.2f} us/stream, socket excluded)"
    )
    print(f"  socket sendto, loopback             {sendto_us:8.2f} us/packet")
    print(f"  in-band DTMF, {calls} calls per tick  {detect_us:8.1f} us/tick (queue + detect)")
    print(f"  => share of one core for {calls} calls (Python work + sendto): {core:.1%}")
    return core


CALLER_SCRIPT = r"""
import socket, struct, sys, time
ports = [int(p) for p in sys.argv[1].split(",")]
seconds = float(sys.argv[2])
payloads = [bytes.fromhex(h) for h in sys.argv[3].split(",")]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind(("127.0.0.1", 0))
sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
print(sock.getsockname()[1], flush=True)
header = struct.Struct("!BBHII")
t0 = time.monotonic()
n = 0
while n * 0.02 < seconds:
    payload = payloads[n % len(payloads)]
    for i, port in enumerate(ports):
        sock.sendto(header.pack(0x80, 0, n & 0xFFFF, n * 160, i) + payload, ("127.0.0.1", port))
    n += 1
    delay = t0 + n * 0.02 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
"""


def dtmf_payloads() -> list[bytes]:
    """A 100 ms key '5' then 400 ms silence, as PCMU frames: every caller presses 2 keys/s."""
    t = np.arange(800) / 8000
    tone = 5000 * (np.sin(2 * np.pi * 770 * t) + np.sin(2 * np.pi * 1336 * t))
    pcm = np.concatenate([tone, np.zeros(3200)]).astype(np.int16)
    data = PCMU.encode(pcm)
    return [data[i : i + 160] for i in range(0, len(data), 160)]


def load(calls: int, seconds: float) -> None:
    from twisted.internet import reactor

    pool = RtpPortPool(31000, 31000 + 2 * calls + 200)
    bank = InbandDtmfBank()
    received = [0]
    digits = [0]
    endpoints = []
    sessions = []
    pacing = PacingClock(reactor)
    tick_times: list[float] = []
    prompt = tuple(speech_like_frames(400))

    for call in range(calls):
        session = RtpSession(PCMU, ("127.0.0.1", 9), telephone_event_pt=101)

        def on_datagram(data, source, now, session=session, call=call):
            received[0] += 1
            got = session.receive(data, source, now)
            if got.pcm is not None:
                bank.add(call, got.pcm)

        endpoint = listen_rtp(reactor, pool, on_datagram, "127.0.0.1")
        endpoints.append(endpoint)
        sessions.append(session)
        player = Player(PCMU)
        player.play(prompt * 100)
        pacing.register(RtpStream(player, session, endpoint.protocol.send))

    def after_tick() -> None:
        tick_times.append(time.monotonic())
        digits[0] += len(bank.detect())

    pacing.add_tick_hook(after_tick)
    hexes = ",".join(p.hex() for p in dtmf_payloads())
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CALLER_SCRIPT,
            ",".join(str(e.port) for e in endpoints),
            str(seconds),
            hexes,
        ],
        stdout=subprocess.PIPE,
    )
    sink_port = int(child.stdout.readline())
    for session in sessions:
        session.remote = ("127.0.0.1", sink_port)

    usage0 = resource.getrusage(resource.RUSAGE_SELF)
    wall0 = time.monotonic()
    pacing.start()
    reactor.callLater(seconds, reactor.stop)
    reactor.run()
    wall = time.monotonic() - wall0
    usage1 = resource.getrusage(resource.RUSAGE_SELF)
    child.wait()
    cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    intervals = np.diff(np.array(tick_times[5:]))
    errors_ms = np.abs(intervals - FRAME_INTERVAL) * 1000
    expected_frames = int(wall / FRAME_INTERVAL)
    print(f"load run: {calls} calls for {seconds:.0f} s on the Twisted reactor (real UDP)")
    print(
        f"  packets received {received[0]} ({received[0] / wall:.0f}/s), "
        f"sent {pacing.frames * calls} ({pacing.frames * calls / wall:.0f}/s)"
    )
    print(f"  in-band digits detected {digits[0]} (callers pressed ~{int(2 * seconds) * calls})")
    print(
        f"  CPU {cpu / wall:.1%} of one core "
        f"(user {usage1.ru_utime - usage0.ru_utime:.1f} s, "
        f"sys {usage1.ru_stime - usage0.ru_stime:.1f} s)"
    )
    print(
        f"  tick interval error p50 {np.percentile(errors_ms, 50):.2f} ms, "
        f"p99 {np.percentile(errors_ms, 99):.2f} ms, max {errors_ms.max():.2f} ms; "
        f"frames due {pacing.frames} of {expected_frames} wall-clock frames, "
        f"skipped {pacing.frames_skipped}"
    )
    for endpoint in endpoints:
        endpoint.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    args = parser.parse_args()
    micro(args.calls)
    if args.load_seconds > 0:
        load(args.calls, args.load_seconds)


if __name__ == "__main__":
    main()
