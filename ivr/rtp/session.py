"""One call's RTP stream, sans-I/O: datagrams in, digits and audio out; payloads in, packets out.

Receive: parse, keep only the negotiated audio and telephone-event payload types (SIPp's PT 97
no-op packets and anything else are ignored), decode RFC 4733 events, and hand back the audio
payload; it is decoded to int16 PCM only when someone asks for `RtpInput.pcm`.
Symmetric RTP: we send to the SDP address until the caller's media arrives, then to wherever the
latest valid packet came from (NAT, or a phone that moved its port).
Send: random SSRC, sequence and timestamp start; the timestamp advances 160 per 20 ms frame,
whether the frame is a prompt or silence, so it stays true to wall time.
"""

from __future__ import annotations

import random
from typing import Final

import numpy as np

from ivr.rtp.g711 import FRAME_SAMPLES, Codec
from ivr.rtp.packet import RtpPacket, RtpParseError, pack_header
from ivr.rtp.telephone_event import TelephoneEventDecoder

Address = tuple[str, int]


class RtpInput:
    """What one datagram brought: RFC 4733 digits and/or audio (decoded on first use)."""

    __slots__ = ("_codec", "_pcm", "digits", "payload")

    def __init__(self, digits: tuple[str, ...], payload: bytes | None, codec: Codec | None) -> None:
        self.digits = digits
        self.payload = payload
        self._codec = codec
        self._pcm: np.ndarray | None = None

    @property
    def pcm(self) -> np.ndarray | None:
        """The audio as int16 samples, or None when the packet held no audio."""
        if self._pcm is None and self.payload is not None and self._codec is not None:
            self._pcm = self._codec.decode(self.payload)
        return self._pcm


NOTHING: Final = RtpInput((), None, None)


class RtpSession:
    def __init__(
        self,
        codec: Codec,
        remote: Address,
        *,
        payload_type: int | None = None,
        telephone_event_pt: int | None = None,
        rng: random.Random | None = None,
    ) -> None:
        rng = rng or random.SystemRandom()
        self.codec = codec
        self.payload_type = codec.payload_type if payload_type is None else payload_type
        self.telephone_event_pt = telephone_event_pt
        self.remote = remote
        self.ssrc = rng.getrandbits(32)
        self.sequence = rng.getrandbits(16)
        self.timestamp = rng.getrandbits(32)
        self.last_received: float | None = None  # for the call's media-timeout check
        self._events = TelephoneEventDecoder()

    def receive(self, data: bytes, source: Address, now: float) -> RtpInput:
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError:
            return NOTHING
        if packet.payload_type == self.payload_type:
            result = RtpInput((), packet.payload, self.codec)
        elif packet.payload_type == self.telephone_event_pt:
            digit = self._events.feed(packet.ssrc, packet.timestamp, packet.payload)
            result = RtpInput((digit,) if digit else (), None, None)
        else:
            return NOTHING
        self.remote = source
        self.last_received = now
        return result

    def packet(self, payload: bytes, marker: bool = False) -> bytes:
        """The next outgoing packet carrying one 20 ms frame."""
        data = pack_header(self.payload_type, self.sequence, self.timestamp, self.ssrc, marker)
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        return data + payload

    def skip(self, frames: int) -> None:
        """Frames not sent (the process stalled): the timestamp jumps, the sequence does not."""
        self.timestamp = (self.timestamp + frames * FRAME_SAMPLES) & 0xFFFFFFFF
