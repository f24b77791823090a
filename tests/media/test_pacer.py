"""The pacing clock on a fake reactor clock: no drift, and the lateness policy."""

import random

from twisted.internet.task import Clock

from ivr.media.pacer import FRAME_INTERVAL, PacingClock, PacingFigures, RtpStream
from ivr.media.player import Player
from ivr.rtp.g711 import PCMU
from ivr.rtp.packet import RtpPacket
from ivr.rtp.session import RtpSession


class RecordingStream:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.calls: list[tuple[float, int, int]] = []

    def send_frames(self, count: int, skipped: int) -> None:
        self.calls.append((self.clock.seconds(), count, skipped))


def started(reactor: Clock, **kwargs) -> PacingClock:
    pacing = PacingClock(reactor, monotonic=reactor.seconds, **kwargs)
    pacing.start()
    return pacing


def test_one_reactor_timer_serves_every_stream():
    reactor = Clock()
    pacing = started(reactor)
    streams = [RecordingStream(reactor) for _ in range(300)]
    for stream in streams:
        pacing.register(stream)
    assert len(reactor.getDelayedCalls()) == 1
    reactor.advance(FRAME_INTERVAL)
    assert all(s.calls == [(FRAME_INTERVAL, 1, 0)] for s in streams)
    assert len(reactor.getDelayedCalls()) == 1


def test_no_drift_over_a_simulated_hour_with_a_jittery_late_reactor():
    reactor = Clock()
    pacing = started(reactor)
    stream = RecordingStream(reactor)
    pacing.register(stream)
    rng = random.Random(7)
    sent = 0
    while reactor.seconds() < 3600.0:
        (call,) = reactor.getDelayedCalls()
        # the reactor fires every timer 0-15 ms late, never early
        reactor.advance(call.getTime() - reactor.seconds() + rng.uniform(0.0, 0.015))
        at, count, skipped = stream.calls[-1]
        assert skipped == 0
        sent += count
        assert at >= sent * FRAME_INTERVAL - 1e-9  # never ahead of wall time
        assert at - sent * FRAME_INTERVAL < FRAME_INTERVAL  # never a frame behind
    assert sent == pacing.frames == int(reactor.seconds() / FRAME_INTERVAL + 1e-6)
    assert 180_000 <= sent <= 180_001


def test_a_late_tick_sends_the_missed_frames_at_once():
    reactor = Clock()
    pacing = started(reactor)
    stream = RecordingStream(reactor)
    pacing.register(stream)
    reactor.advance(0.065)  # frames 1-3 due
    assert stream.calls == [(0.065, 3, 0)]
    reactor.advance(0.015)  # back on schedule: frame 4 at 80 ms
    assert stream.calls[-1] == (0.08, 1, 0)


def test_a_long_stall_skips_frames_beyond_the_burst_cap():
    reactor = Clock()
    pacing = started(reactor)
    stream = RecordingStream(reactor)
    pacing.register(stream)
    reactor.advance(1.0)  # 50 frames due
    assert stream.calls == [(1.0, 3, 47)]
    assert pacing.frames_skipped == 47
    assert pacing.max_lateness == 1.0 - FRAME_INTERVAL
    reactor.advance(FRAME_INTERVAL)
    assert stream.calls[-1] == (1.02, 1, 0)


def test_ticks_a_whole_frame_late_or_more_are_counted_for_the_operators():
    reactor = Clock()
    pacing = started(reactor)
    pacing.register(RecordingStream(reactor))
    reactor.advance(0.035)  # 15 ms late: one frame due, on time enough
    reactor.advance(0.025)  # at 60 ms: frames 2 and 3 due, a whole frame late
    reactor.advance(0.020)  # on time again
    reactor.advance(1.0)  # a stall: 50 frames due, 47 of them skipped
    assert pacing.figures() == PacingFigures(frames=54, ticks_late=2, frames_skipped=47, streams=1)


def test_rtp_timestamps_stay_true_to_wall_time_across_a_stall():
    reactor = Clock()
    pacing = started(reactor)
    packets: list[bytes] = []
    player = Player(PCMU)
    player.play(tuple(bytes([i]) * 160 for i in range(100)))
    session = RtpSession(PCMU, ("127.0.0.1", 4000))
    pacing.register(RtpStream(player, session, lambda data, to: packets.append(data)))
    reactor.advance(FRAME_INTERVAL)
    reactor.advance(0.5)  # stall: 25 frames due
    reactor.advance(FRAME_INTERVAL)
    parsed = [RtpPacket.parse(p) for p in packets]
    first = parsed[0]
    # frame 1 at 20 ms; at 520 ms frames 2-26 are due: 2-23 skipped, 24-26 sent; 27 at 540 ms
    assert [(p.timestamp - first.timestamp) // 160 for p in parsed] == [0, 23, 24, 25, 26]
    assert [p.sequence - first.sequence for p in parsed] == [0, 1, 2, 3, 4]
    assert [p.marker for p in parsed] == [True, True, False, False, False]
    assert [p.payload[0] for p in parsed] == [0, 1, 2, 3, 4]  # the prompt resumes, nothing lost


def test_unregistered_streams_get_no_more_frames_and_hooks_run_each_tick():
    reactor = Clock()
    pacing = started(reactor)
    stream = RecordingStream(reactor)
    ticks = []
    pacing.register(stream)
    pacing.add_tick_hook(lambda: ticks.append(reactor.seconds()))
    reactor.advance(FRAME_INTERVAL)
    pacing.unregister(stream)
    reactor.advance(FRAME_INTERVAL)
    assert len(stream.calls) == 1
    assert ticks == [0.02, 0.04]


def test_a_stream_keeps_its_place_in_the_sending_order_while_others_come_and_go():
    # a stream's frames leave at the same point of every tick, from its call's start to its
    # end: otherwise it drifts earlier by a stream's sending time each time one before it ends
    reactor = Clock()
    pacing = started(reactor)
    order: list[str] = []

    class Named:
        def __init__(self, name: str) -> None:
            self.name = name

        def send_frames(self, count: int, skipped: int) -> None:
            order.append(self.name)

    a, b, c, d, e = (Named(name) for name in "abcde")
    for stream in (a, b, c):
        pacing.register(stream)
    reactor.advance(FRAME_INTERVAL)
    assert order == ["a", "b", "c"]
    pacing.unregister(a)
    pacing.unregister(b)
    order.clear()
    reactor.advance(FRAME_INTERVAL)
    assert order == ["c"]
    pacing.register(d)  # the first free slot: a's
    pacing.register(e)  # then b's, before c
    pacing.register(c)  # registered already: it keeps its place
    order.clear()
    reactor.advance(FRAME_INTERVAL)
    assert order == ["d", "e", "c"]


def test_a_failing_stream_does_not_stop_the_others():
    class Broken:
        def send_frames(self, count: int, skipped: int) -> None:
            raise RuntimeError("boom")

    reactor = Clock()
    pacing = started(reactor)
    healthy = RecordingStream(reactor)
    pacing.register(Broken())
    pacing.register(healthy)
    reactor.advance(FRAME_INTERVAL)
    reactor.advance(FRAME_INTERVAL)
    assert len(healthy.calls) == 2


def test_a_failing_stream_is_dropped_once_and_reported(caplog):
    class Broken:
        attempts = 0

        def send_frames(self, count: int, skipped: int) -> None:
            self.attempts += 1
            raise OSError("no route")

    reactor = Clock()
    failed = []
    pacing = PacingClock(reactor, monotonic=reactor.seconds, on_failure=failed.append)
    pacing.start()
    broken = Broken()
    pacing.register(broken)
    for _ in range(50):
        reactor.advance(FRAME_INTERVAL)
    assert broken.attempts == 1
    assert failed == [broken]
    assert len([r for r in caplog.records if r.name == "ivr.media.pacer"]) == 1


def test_stop_cancels_the_timer():
    reactor = Clock()
    pacing = started(reactor)
    pacing.stop()
    assert reactor.getDelayedCalls() == []
    assert not pacing.running


def test_prompt_streams_with_marker_on_first_frame_and_reports_its_end():
    reactor = Clock()
    pacing = started(reactor)
    done = []
    packets: list[tuple[bytes, tuple[str, int]]] = []
    player = Player(PCMU, lambda token, completed: done.append((token, reactor.seconds())))
    session = RtpSession(PCMU, ("127.0.0.1", 4000))
    pacing.register(RtpStream(player, session, lambda data, to: packets.append((data, to))))
    reactor.advance(FRAME_INTERVAL)  # silence
    player.play((b"\x01" * 160, b"\x02" * 160), "hello")
    reactor.advance(FRAME_INTERVAL)
    reactor.advance(FRAME_INTERVAL)
    reactor.advance(FRAME_INTERVAL)
    parsed = [RtpPacket.parse(data) for data, _to in packets]
    assert [p.payload[0] for p in parsed] == [0xFF, 0x01, 0x02, 0xFF]
    assert [p.marker for p in parsed] == [False, True, False, False]
    assert done == [("hello", 0.06)]
    assert {to for _data, to in packets} == {("127.0.0.1", 4000)}
