"""RTP media-path benchmark: what 300 calls cost this process.

Part 1 (micro): per-packet receive path, per-tick send path for 300 streams, per-tick in-band
DTMF detection for 300 calls, in microseconds, and the share of one core 300 calls would use.
Part 2 (load, unless --load-seconds 0): a child process plays 300 callers (50 packets/s each,
PCMU with DTMF tones) against 300 real UDP ports served by the Twisted reactor, while one
PacingClock sends 300 streams back. Three phases: receiving only, sending only, both; prints
the process's CPU per received and per sent packet, and the RTP interval error at the far end.

    python bench/bench_rtp.py [--calls 300] [--load-seconds 10]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import socket
import subprocess
import sys
import time
from pathlib import Path
from timeit import Timer

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.app import single_threaded_blas
from ivr.media.intake import AudioIntake
from ivr.media.pacer import FRAME_INTERVAL, PacingClock, RtpStream
from ivr.media.player import Player
from ivr.rtp.g711 import PCMU
from ivr.rtp.inband_dtmf import InbandDtmfBank
from ivr.rtp.packet import RtpPacket
from ivr.rtp.ports import RtpPortPool
from ivr.rtp.session import RtpSession
from ivr.rtp.transport import RtpReceiver, listen_rtp

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
    parse_us = per_call_us(lambda: session.receive(audio, caller, 0.0), 100_000)  # latches
    fast_us = per_call_us(lambda: session.audio(audio, caller, 0.0), 100_000)
    event_us = per_call_us(lambda: session.receive(event, caller, 0.0), 100_000)
    intake = AudioIntake(InbandDtmfBank())
    receive_us = per_call_us(
        lambda: intake.add(0, session.audio(audio, caller, 0.0), PCMU, None), 100_000
    )
    intake = AudioIntake(InbandDtmfBank())  # the one queued above is left behind

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

    payloads = speech_like_frames(calls)

    def detect_tick() -> None:
        for call, payload in enumerate(payloads):
            intake.add(call, payload, PCMU, None)
        intake.tick()
        intake.inband.detect()

    detect_us = per_call_us(detect_tick, 200)

    packets_per_second = calls * TICKS_PER_SECOND
    core = (
        packets_per_second * receive_us
        + TICKS_PER_SECOND * (send_us + detect_us)
        + packets_per_second * sendto_us
    ) / 1e6
    print(f"micro-benchmarks, {calls} calls ({packets_per_second} packets/s each way)")
    print(f"  receive, parse+latch (receive())    {parse_us:8.2f} us/packet")
    print(f"  receive, latched audio (audio())    {fast_us:8.2f} us/packet")
    print(f"  receive, audio + queue for the tick {receive_us:8.2f} us/packet")
    print(f"  receive, RFC 4733 event             {event_us:8.2f} us/packet")
    print(
        f"  send, {calls} streams per tick        {send_us:8.1f} us/tick "
        f"({send_us / calls:.2f} us/stream, socket excluded)"
    )
    print(f"  socket sendto, loopback             {sendto_us:8.2f} us/packet")
    print(
        f"  intake tick, {calls} calls: decode + in-band DTMF {detect_us:8.1f} us/tick"
        " (queue included)"
    )
    print(f"  => share of one core for {calls} calls (Python work + sendto): {core:.1%}")
    return core


CALLER_SCRIPT = r"""
import socket, struct, sys, time
ports = [int(p) for p in sys.argv[1].split(",")]
phases = [float(s) for s in sys.argv[2].split(",")]  # seconds sending, silent, sending, ...
payloads = [bytes.fromhex(h) for h in sys.argv[3].split(",")]
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
header = struct.Struct("!BBHII")
SLOTS = 20  # phones send at their own moments: the calls are spread over the 20 ms, 1 ms apart
t0 = time.monotonic()
ends = [sum(phases[: k + 1]) for k in range(len(phases))]
step = 0
while step * 0.001 < ends[-1]:
    n, slot = divmod(step, SLOTS)
    phase = next(k for k, end in enumerate(ends) if step * 0.001 < end)
    if phase % 2 == 0:
        payload = payloads[n % len(payloads)]
        for i in range(slot, len(ports), SLOTS):
            packet = header.pack(0x80, 0, n & 0xFFFF, n * 160, i) + payload
            sock.sendto(packet, ("127.0.0.1", ports[i]))
    step += 1
    delay = t0 + step * 0.001 - time.monotonic()
    if delay > 0:
        time.sleep(delay)
"""

# The far end of the IVR's streams: arrival-time error of every packet against its RTP
# timestamp spacing (what a phone's jitter buffer sees), and each stream's drift.
# The far end of the IVR's streams: arrival-time error of every packet against its RTP
# timestamp spacing (what a phone's jitter buffer sees), and each stream's drift. Arrival times
# are the kernel's (SO_TIMESTAMPNS), so this process's own scheduling does not count.
LISTENER_SCRIPT = r"""
import json, socket, struct
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 23)
sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
sock.bind(("127.0.0.1", 0))
print(sock.getsockname()[1], flush=True)
fields = struct.Struct("!II")
timespec = struct.Struct("@qq")
first, last, errors = {}, {}, []
while True:
    try:
        data, ancillary, _flags, _addr = sock.recvmsg(2048, socket.CMSG_SPACE(16))
    except TimeoutError:
        break
    sock.settimeout(1.0)
    seconds, nanoseconds = timespec.unpack_from(ancillary[0][2])
    now = seconds + nanoseconds / 1e9
    ts, ssrc = fields.unpack_from(data, 4)
    previous = last.get(ssrc)
    if previous is None:
        first[ssrc] = (now, ts)
    else:
        errors.append(abs(now - previous[0] - ((ts - previous[1]) & 0xFFFFFFFF) / 8000))
    last[ssrc] = (now, ts)
errors.sort()
drift = [abs((last[s][0] - first[s][0]) - ((last[s][1] - first[s][1]) & 0xFFFFFFFF) / 8000)
         for s in first]
print(json.dumps({"packets": len(errors) + len(first), "streams": len(first),
                  "p50_ms": 1000 * errors[len(errors) // 2],
                  "p99_ms": 1000 * errors[int(len(errors) * 0.99)],
                  "max_ms": 1000 * errors[-1], "max_drift_ms": 1000 * max(drift)}))
"""


def dtmf_payloads() -> list[bytes]:
    """A 100 ms key '5' then 400 ms silence, as PCMU frames: every caller presses 2 keys/s."""
    t = np.arange(800) / 8000
    tone = 5000 * (np.sin(2 * np.pi * 770 * t) + np.sin(2 * np.pi * 1336 * t))
    pcm = np.concatenate([tone, np.zeros(3200)]).astype(np.int16)
    data = PCMU.encode(pcm)
    return [data[i : i + 160] for i in range(0, len(data), 160)]


def load(calls: int, seconds: float) -> None:
    """Three phases of `seconds` on one reactor, the pacing clock ticking throughout (its hooks
    decode and detect): callers sending, no stream (the receive path); streams, no caller (the
    send path); both. CPU per phase from getrusage."""
    from twisted.internet import reactor

    listener = subprocess.Popen(
        [sys.executable, "-c", LISTENER_SCRIPT], stdout=subprocess.PIPE, text=True
    )
    far_end = ("127.0.0.1", int(listener.stdout.readline()))
    pool = RtpPortPool(31000, 31000 + 2 * calls + 200)
    bank = InbandDtmfBank()
    intake = AudioIntake(bank)
    received = [0]
    digits = [0]
    endpoints = []
    pacing = PacingClock(reactor)
    prompt = tuple(speech_like_frames(400))
    streams: list[RtpStream] = []
    receiver = RtpReceiver()

    for call in range(calls):
        session = RtpSession(PCMU, far_end, telephone_event_pt=101)

        def on_datagram(data, source, now, session=session, call=call):
            received[0] += 1
            payload = session.audio(data, source, now)  # as `Call.on_rtp`
            if payload is None:
                payload = session.receive(data, source, now).payload
            if payload is not None:
                intake.add(call, payload, PCMU, None)

        endpoint = listen_rtp(receiver, pool, on_datagram, "127.0.0.1")
        endpoints.append(endpoint)
        player = Player(PCMU)
        player.play(prompt * 100)
        # the callers' packets come from another port: keep sending to the listener
        streams.append(
            RtpStream(player, session, lambda data, to, e=endpoint: e.protocol.send(data, far_end))
        )

    pacing.add_tick_hook(receiver.drain)  # as the IVR: RTP read once per tick
    pacing.add_tick_hook(intake.tick)
    pacing.add_tick_hook(lambda: digits.__setitem__(0, digits[0] + len(bank.detect())))
    ports = ",".join(str(e.port) for e in endpoints)
    hexes = ",".join(p.hex() for p in dtmf_payloads())
    marks: list[tuple[float, float, int]] = []  # (wall, CPU seconds, packets received)

    def mark() -> None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        marks.append((time.monotonic(), usage.ru_utime + usage.ru_stime, received[0]))

    def phase_two() -> None:  # callers done: sending only
        mark()
        for stream in streams:
            pacing.register(stream)

    def phase_three() -> None:  # both
        mark()

    pacing.start()  # its tick runs the intake and in-band detection from the start
    # one caller process throughout: RTP latches to the first source and keeps it
    phases = f"{seconds + 0.5},{seconds},{seconds}"
    caller = subprocess.Popen([sys.executable, "-c", CALLER_SCRIPT, ports, phases, hexes])
    reactor.callLater(0.5, mark)  # the callers are up
    reactor.callLater(seconds + 0.5, phase_two)
    reactor.callLater(2 * seconds + 0.5, phase_three)
    reactor.callLater(3 * seconds + 0.5, lambda: (mark(), reactor.stop()))
    reactor.run()
    for endpoint in endpoints:
        endpoint.close()
    caller.wait()
    heard = json.loads(listener.communicate()[0])
    spans = [(b[0] - a[0], b[1] - a[1], b[2] - a[2]) for a, b in itertools.pairwise(marks)]
    (wall_r, cpu_r, got_r), (wall_s, cpu_s, _), (wall_b, cpu_b, got_b) = spans
    sent_s = calls * wall_s / FRAME_INTERVAL  # every stream sends one packet a tick
    sent_b = calls * wall_b / FRAME_INTERVAL
    print(f"load run: {calls} calls on the Twisted reactor (real UDP), 3 phases of {seconds:.0f} s")
    print(
        f"  receive only: {got_r / wall_r:6.0f} packets/s, CPU {cpu_r / wall_r:6.1%} of a core"
        f" = {cpu_r / got_r * 1e6:5.1f} us per received packet"
    )
    print(
        f"  send only:    {sent_s / wall_s:6.0f} packets/s, CPU {cpu_s / wall_s:6.1%} of a core"
        f" = {cpu_s / sent_s * 1e6:5.1f} us per sent packet"
    )
    print(
        f"  both:         CPU {cpu_b / wall_b:6.1%} of a core"
        f" = {cpu_b / (got_b + sent_b) * 1e6:5.1f} us per packet (in + out)"
    )
    print(f"  in-band digits detected {digits[0]} (callers pressed ~{int(4 * seconds) * calls})")
    print(
        f"  RTP interval error at the far end: p50 {heard['p50_ms']:.2f} ms, "
        f"p99 {heard['p99_ms']:.2f} ms, max {heard['max_ms']:.2f} ms; "
        f"worst stream drift {heard['max_drift_ms']:.2f} ms; "
        f"frames skipped {pacing.frames_skipped}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    args = parser.parse_args()
    single_threaded_blas()  # as the IVR runs
    micro(args.calls)
    if args.load_seconds > 0:
        load(args.calls, args.load_seconds)


if __name__ == "__main__":
    main()
