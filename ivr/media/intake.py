"""The callers' audio of every call, decoded and measured once per pacing tick.

A packet's audio is not decoded when it arrives: `add()` only queues its payload. Once per tick
(`tick()`, a pacing-clock hook that runs before in-band detection) the queued 20 ms payloads of
every call are joined and decoded by one G.711 table lookup, in-band DTMF detection gets them as
one matrix, their energies (what VAD judges) come from one product, and each call's listener
gets its frames in arrival order with their energies. So the reactor does a list append per
packet and numpy does the arithmetic for all calls at once, as it already did for the in-band
detector. Payloads of another size (phones sending 10 or 30 ms packets) are decoded as they come.
Analysis lags arrival by at most one tick (20 ms).
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Protocol

import numpy as np

from ivr.rtp.g711 import FRAME_SAMPLES, Codec
from ivr.rtp.inband_dtmf import InbandDtmfBank
from ivr.speech.vad import frame_energies_db


class FrameListener(Protocol):
    def feed(self, frame: np.ndarray, energy_db: float | None = None) -> None: ...


class _Queue:
    """One codec's payloads of this tick, with whose they are."""

    __slots__ = ("calls", "codec", "inband", "listeners", "payloads")

    def __init__(self, codec: Codec) -> None:
        self.codec = codec
        self.calls: list[Hashable] = []
        self.payloads: list[bytes] = []
        self.listeners: list[FrameListener | None] = []
        self.inband: list[bool] = []


class AudioIntake:
    def __init__(self, inband: InbandDtmfBank) -> None:
        self.inband = inband
        self._queues: dict[str, _Queue] = {}  # by codec name (a str caches its hash)

    def add(
        self,
        call: Hashable,
        payload: bytes,
        codec: Codec,
        listener: FrameListener | None,
        inband: bool = True,
    ) -> None:
        """A packet's audio for this tick's analysis: in-band DTMF detection (`inband`) and the
        call's speech listener."""
        if len(payload) != FRAME_SAMPLES:
            pcm = codec.decode(payload)
            if inband:
                self.inband.add(call, pcm)
            if listener is not None:
                listener.feed(pcm)
            return
        queue = self._queues.get(codec.name)
        if queue is None:
            queue = self._queues[codec.name] = _Queue(codec)
        queue.calls.append(call)
        queue.payloads.append(payload)
        queue.listeners.append(listener)
        queue.inband.append(inband)

    def forget(self, call: Hashable) -> None:
        """The call ended: drop its queued audio and its in-band detector."""
        for queue in self._queues.values():
            if call in queue.calls:
                keep = [i for i, owner in enumerate(queue.calls) if owner != call]
                queue.calls = [queue.calls[i] for i in keep]
                queue.payloads = [queue.payloads[i] for i in keep]
                queue.listeners = [queue.listeners[i] for i in keep]
                queue.inband = [queue.inband[i] for i in keep]
        self.inband.forget(call)

    def tick(self) -> None:
        for name, queue in self._queues.items():
            if not queue.calls:
                continue
            frames = queue.codec.decode(b"".join(queue.payloads)).reshape(-1, FRAME_SAMPLES)
            if all(queue.inband):
                self.inband.add_frames(queue.calls, frames)
            else:
                hearing = [i for i, inband in enumerate(queue.inband) if inband]
                if hearing:
                    self.inband.add_frames([queue.calls[i] for i in hearing], frames[hearing])
            listening = [i for i, listener in enumerate(queue.listeners) if listener is not None]
            if listening:
                energies = frame_energies_db(frames[listening]).tolist()
                for i, energy in zip(listening, energies, strict=True):
                    queue.listeners[i].feed(frames[i], energy)  # type: ignore[union-attr]
            self._queues[name] = _Queue(queue.codec)
