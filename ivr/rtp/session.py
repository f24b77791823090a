"""One call's RTP stream, sans-I/O: datagrams in, digits and audio out; payloads in, packets out.

Receive: parse, keep only the negotiated audio and telephone-event payload types (SIPp's PT 97
no-op packets and anything else are ignored), decode RFC 4733 events, and hand back the audio
payload, still encoded (the pacing tick decodes every call's at once, `ivr.media.intake`).
`audio()` is the fast path for the common datagram, `receive()` judges every other.
Strict symmetric RTP (Asterisk's `strictrtp`, FreeSWITCH's guarded auto-adjust): we send to the
SDP address until the caller's media arrives, then latch ONCE to the source of the first valid
packet (a NATed phone sends from elsewhere than its SDP says: the first SSRC heard). From
then on only that source counts: audio and telephone-events from any other address are dropped,
so a third party spraying the port range neither hears the call nor presses keys. The one
exception: a latch to a guessed source gives way, once, to a packet from the SDP address itself,
which is final (a spoofer that won the race is locked out when the real phone speaks). A new
SDP address (re-INVITE) opens a new latch.
Send: random SSRC, sequence and timestamp start; the timestamp advances 160 per 20 ms frame,
whether the frame is a prompt or silence, so it stays true to wall time.
"""

from __future__ import annotations

import random
from typing import Final, NamedTuple

from ivr.rtp.g711 import FRAME_SAMPLES, Codec
from ivr.rtp.packet import (
    HEADER_SIZE,
    MAX_PAYLOAD_TYPE,
    PLAIN_HEADER,
    RtpPacket,
    RtpParseError,
    pack_header,
)
from ivr.rtp.telephone_event import TelephoneEventDecoder

Address = tuple[str, int]


class RtpInput(NamedTuple):
    """What one datagram brought: RFC 4733 digits and/or audio (its encoded payload)."""

    digits: tuple[str, ...]
    payload: bytes | None


NOTHING: Final = RtpInput((), None)


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
        if not 0 <= self.payload_type <= MAX_PAYLOAD_TYPE:
            raise ValueError(f"RTP payload type {self.payload_type} is not 0-127")
        self.telephone_event_pt = telephone_event_pt
        self._sdp_remote = remote
        self.remote = remote  # where we send: the SDP address, then the latched source
        self.latched: Address | None = None
        self.ssrc = rng.getrandbits(32)
        self.sequence = rng.getrandbits(16)
        self.timestamp = rng.getrandbits(32)
        self.last_received: float | None = None  # for the call's media-timeout check
        self._events = TelephoneEventDecoder()

    def retarget(self, remote: Address) -> None:
        """A renegotiated SDP address (re-INVITE): send there; a new address may latch anew."""
        if remote != self._sdp_remote:
            self._sdp_remote = remote
            self.remote = remote
            self.latched = None

    def audio(self, data: bytes, source: Address, now: float) -> bytes | None:
        """The fast path for nearly every datagram of a call: the latched source's audio under a
        plain 12-byte header (no CSRC, extension or padding) gives its payload, with what
        `receive` would do; None means "not that", and `receive` must judge the datagram.
        It skips the parse and the result object (~1 us of each of 50 packets a second a call)."""
        if (
            source == self.latched
            and len(data) > HEADER_SIZE
            and data[0] == PLAIN_HEADER
            and data[1] & 0x7F == self.payload_type
        ):
            self.last_received = now
            return data[HEADER_SIZE:]
        return None

    def receive(self, data: bytes, source: Address, now: float) -> RtpInput:
        try:
            packet = RtpPacket.parse(data)
        except RtpParseError:
            return NOTHING
        if source != self.latched and not self._may_latch(source):
            return NOTHING
        if packet.payload_type == self.payload_type:
            result = RtpInput((), packet.payload)
        elif packet.payload_type == self.telephone_event_pt:
            digit = self._events.feed(packet.ssrc, packet.timestamp, packet.payload)
            result = RtpInput((digit,) if digit else (), None)
        else:
            return NOTHING
        if source != self.latched:
            self.latched = self.remote = source
        self.last_received = now
        return result

    def _may_latch(self, source: Address) -> bool:
        """Whether a packet from `source` (not the latched one) may take the latch."""
        if self.latched is None:
            return True
        return source == self._sdp_remote and self.latched != self._sdp_remote

    def packet(self, payload: bytes, marker: bool = False) -> bytes:
        """The next outgoing packet carrying one 20 ms frame."""
        data = pack_header(self.payload_type, self.sequence, self.timestamp, self.ssrc, marker)
        self.sequence = (self.sequence + 1) & 0xFFFF
        self.timestamp = (self.timestamp + FRAME_SAMPLES) & 0xFFFFFFFF
        return data + payload

    def skip(self, frames: int) -> None:
        """Frames not sent (the process stalled): the timestamp jumps, the sequence does not."""
        self.timestamp = (self.timestamp + frames * FRAME_SAMPLES) & 0xFFFFFFFF
