"""The media pump: ONE clock for every call, sending each call's due 20 ms frame per tick.

Deadlines are absolute: frame n is due at t0 + n * 20 ms on the monotonic clock, and each tick
schedules the next one from that formula, never from "now + 20 ms", so reactor lateness never
accumulates into drift (over an hour exactly 180,000 frames leave). One `callLater` per tick for
the whole process, whatever the number of calls.

Lateness policy, when the reactor wakes us more than one frame late (GC pause, a slow callback):
  - up to `max_burst` frames due (default 3 = 60 ms): send them all now, back to back; the
    phone's jitter buffer absorbs a small burst and the audio and RTP timestamps stay whole;
  - more than that: send the newest `max_burst` frames and skip the rest: the RTP timestamp
    jumps over the skipped frames (it stays true to wall time), the sequence number does not
    (nothing was lost in the network), the prompt resumes where it was (the caller hears all of
    it, slightly later), and the marker bit flags the discontinuity.

Each stream keeps its place in the tick's sending order for its whole life: a new stream takes
the first slot an ended one left free, and the streams after a leaving one do not move up.
Sending 400 streams takes ~5 ms; in a plain ordered set, a stream that began at the end of the
order moved to its front as the calls before it ended, and reached its phone up to 5 ms earlier
at the end of its call than at its start, a slope a jitter buffer sees as clock drift.
"""

from __future__ import annotations

import heapq
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall, IReactorTime

from ivr.media.player import Player
from ivr.rtp.session import Address, RtpSession

log = logging.getLogger(__name__)

FRAME_INTERVAL = 0.020
MAX_BURST = 3


class PacedStream(Protocol):
    def send_frames(self, count: int, skipped: int) -> None:
        """Send `count` frames now, after accounting for `skipped` frames not sent."""


@dataclass(frozen=True)
class PacingFigures:
    """A pacing clock's counts since it started, for the node's operators."""

    frames: int  # frames due (sent or skipped)
    ticks_late: int  # ticks that found more than one frame due: frames left back to back
    frames_skipped: int
    streams: int  # streams paced now


class PacingClock:
    def __init__(
        self,
        reactor: IReactorTime,
        monotonic: Callable[[], float] = time.monotonic,
        interval: float = FRAME_INTERVAL,
        max_burst: int = MAX_BURST,
        on_failure: Callable[[PacedStream], None] | None = None,
    ) -> None:
        self._reactor = reactor
        self._monotonic = monotonic
        self._interval = interval
        self._max_burst = max_burst
        self._on_failure = on_failure
        self._slots: list[PacedStream | None] = []  # the sending order; None: a free slot
        self._slot_of: dict[PacedStream, int] = {}
        self._free: list[int] = []  # heap of free slots: the first one is taken first
        self._hooks: list[Callable[[], object]] = []
        self._call: IDelayedCall | None = None
        self._t0 = 0.0
        self.frames = 0  # frames due since start (sent or skipped)
        self.frames_skipped = 0
        self.ticks_late = 0  # ticks at least a whole frame late (more than one frame due)
        self.max_lateness = 0.0  # worst wake-up delay past a deadline, seconds

    def register(self, stream: PacedStream) -> None:
        """Send `stream` its frames from the next tick on, in the first free slot."""
        if stream in self._slot_of:
            return
        if self._free:
            slot = heapq.heappop(self._free)
            self._slots[slot] = stream
        else:
            slot = len(self._slots)
            self._slots.append(stream)
        self._slot_of[stream] = slot

    def unregister(self, stream: PacedStream) -> None:
        """No more frames for `stream`; its slot is free and the others keep theirs."""
        slot = self._slot_of.pop(stream, None)
        if slot is not None:
            self._slots[slot] = None
            heapq.heappush(self._free, slot)

    def add_tick_hook(self, hook: Callable[[], object]) -> None:
        """Run `hook` once per tick after the streams (e.g. batched in-band DTMF detection)."""
        self._hooks.append(hook)

    @property
    def running(self) -> bool:
        return self._call is not None

    def start(self) -> None:
        if self._call is None:
            self._t0 = self._monotonic()
            self.frames = 0
            self._schedule()

    def figures(self) -> PacingFigures:
        return PacingFigures(self.frames, self.ticks_late, self.frames_skipped, len(self._slot_of))

    def stop(self) -> None:
        if self._call is not None:
            self._call.cancel()
            self._call = None

    def _failed(self, stream: PacedStream) -> None:
        """A stream that cannot send is dropped at its first failure, logged once (not 50
        tracebacks a second), and handed to `on_failure` (the app ends its call)."""
        log.exception("media stream failed; it gets no more frames")
        self.unregister(stream)
        if self._on_failure is not None:
            self._on_failure(stream)

    def _schedule(self) -> None:
        deadline = self._t0 + (self.frames + 1) * self._interval
        self._call = self._reactor.callLater(max(0.0, deadline - self._monotonic()), self._tick)

    def _tick(self) -> None:
        now = self._monotonic()
        # the epsilon keeps float rounding from calling a frame early-by-a-nanosecond not due
        due = math.floor((now - self._t0) / self._interval + 1e-6)
        missed = due - self.frames
        if missed > 0:
            self.max_lateness = max(
                self.max_lateness, now - (self._t0 + (self.frames + 1) * self._interval)
            )
            count = min(missed, self._max_burst)
            skipped = missed - count
            self.frames = due
            self.frames_skipped += skipped
            self.ticks_late += missed > 1
            for stream in tuple(self._slots):  # streams may come and go while frames leave
                if stream is None:
                    continue
                try:
                    stream.send_frames(count, skipped)
                except Exception:
                    self._failed(stream)
            for hook in self._hooks:
                try:
                    hook()
                except Exception:
                    log.exception("pacing tick hook failed")
        self._schedule()


class RtpStream:
    """One call's outbound media: frames from its Player, packetized by its RtpSession."""

    def __init__(
        self, player: Player, session: RtpSession, send: Callable[[bytes, Address], None]
    ) -> None:
        self.player = player
        self.session = session
        self._send = send

    def send_frames(self, count: int, skipped: int) -> None:
        resync = skipped > 0
        if resync:
            self.session.skip(skipped)
        for _ in range(count):
            payload = self.player.next_payload()
            marker = resync or self.player.talkspurt_start
            resync = False
            self._send(self.session.packet(payload, marker), self.session.remote)
