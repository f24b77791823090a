"""SDP offer/answer for one dialog the IVR answers, sans-I/O (RFC 3264, RFC 3261 §13, RFC 6337).

The call layer hands each INVITE, re-INVITE and ACK body in and sends what comes out; this
module decides what the IVR says and which media is agreed:

- early offer: the INVITE carries the offer, our 200 OK the answer;
- delayed offer: an INVITE without SDP gets our offer (PCMU, PCMA, telephone-event) in the 200
  OK and the caller's answer comes in the ACK; an ACK without a usable answer raises `NoAnswer`
  (the call layer then sends BYE, RFC 3261 §13.2.1 / RFC 6337 §3.1);
- re-INVITE with SDP: answered like the first offer (hold, resume, a new address), but a change
  of codec is refused with 488 (`NotAcceptable`) and the session stays as it was: changing codec
  mid-call would re-encode every queued prompt, and phones keep theirs anyway;
- re-INVITE without SDP (a session refresh): our offer is the session as it stands, with the
  agreed codec only, and `sendrecv` since the IVR itself never holds (RFC 6337 §5.3: the held
  side offers what it wants; the holder answers `sendonly` or `inactive` if it still holds); the
  answer comes in the ACK; an unusable one leaves the session as it was;
- the o= line keeps one session id, and its version grows by one whenever our description
  differs from the last one we sent, and only then (RFC 3264 §8; RFC 6337 §5.1: a repeated
  description keeps its version).
"""

from __future__ import annotations

import enum
import ipaddress
from collections.abc import Callable
from dataclasses import replace

from ivr.sip.sdp import MediaChoice, NoCommonCodec, build_answer, build_offer, negotiate

SUPPORTED = ("PCMU", "PCMA")  # what `build_offer` offers


class NotAcceptable(Exception):
    """Refuse this (re-)INVITE with 488 Not Acceptable Here; nothing was agreed or changed."""


class NoAnswer(Exception):
    """The ACK brought no usable answer to the offer in our 2xx and no session exists: BYE."""


class OfferPending(Exception):
    """An offer arrived while ours still waits for its answer (the UA answers 491 first)."""


class Phase(enum.Enum):
    IDLE = "idle"  # no INVITE yet
    OFFER_SENT = "offer sent"  # our offer went in a 2xx; its answer is due in the ACK
    STABLE = "stable"  # every offer has its answer


class OfferAnswer:
    """The media of one incoming call: `choice` is what both sides agreed, None before that."""

    def __init__(self, host: str, port: int, family: int = 4) -> None:
        """`family`: the IP version of our RTP socket; a peer address of the other is unusable."""
        self.host = host
        self.port = port
        self.family = family
        self.loopback_ok = _is_loopback(host)  # a public IVR never sends media to loopback
        self.session_id = port  # unique enough per host and stable for the dialog
        self.version = 1
        self.phase = Phase.IDLE
        self.choice: MediaChoice | None = None
        self._sent: bytes | None = None  # our last description, offer or answer
        self._offered_codecs: tuple[str, ...] = ()

    # --- what arrives ---------------------------------------------------------------------

    def invite(self, body: bytes) -> bytes:
        """The body of our 200 OK to the dialog's INVITE: the answer to its offer, or our offer
        when it came without one. Raises `NotAcceptable` (488) for an offer we cannot serve."""
        if self.phase is not Phase.IDLE:
            raise RuntimeError("the dialog's first INVITE was already handled")
        if not body.strip():
            return self._offer(
                lambda version: build_offer(self.host, self.port, self.session_id, version)
            )
        self.choice = self._negotiate(body, SUPPORTED)
        self.phase = Phase.STABLE
        return self._answer()

    def reinvite(self, body: bytes) -> bytes:
        """The body of our 200 OK to a re-INVITE; `NotAcceptable` (488) keeps the session."""
        if self.choice is None:
            raise RuntimeError("re-INVITE before the session was agreed")
        if self.phase is Phase.OFFER_SENT:
            raise OfferPending("our offer still waits for its answer")
        if not body.strip():
            return self._offer(self._describing(replace(self.choice, direction="sendrecv")))
        choice = self._negotiate(body, SUPPORTED)
        if choice.codec != self.choice.codec:
            raise NotAcceptable(f"codec change {self.choice.codec} -> {choice.codec} refused")
        self.choice = choice
        return self._answer()

    def ack(self, body: bytes) -> MediaChoice | None:
        """An ACK for our 2xx. Returns the media it settled when it answered our offer, None
        when nothing changed. `NoAnswer` when the first offer got no usable answer."""
        if self.phase is not Phase.OFFER_SENT:
            return None  # the ACK of an answer we sent: any body is not an answer (ignored)
        self.phase = Phase.STABLE
        try:
            choice = self._negotiate(body, self._offered_codecs)
        except NotAcceptable as refused:
            if self.choice is None:
                raise NoAnswer(str(refused)) from None
            return None  # a refresh answered badly: the session stays as it was
        self.choice = choice
        return choice

    # --- what we say ----------------------------------------------------------------------

    @property
    def description(self) -> bytes | None:
        """Our last description sent (offer or answer), None before the first."""
        return self._sent

    def _offer(self, build: Callable[[int], bytes]) -> bytes:
        self.phase = Phase.OFFER_SENT
        self._offered_codecs = (self.choice.codec,) if self.choice else SUPPORTED
        return self._stamp(build)

    def _answer(self) -> bytes:
        assert self.choice is not None
        return self._stamp(self._describing(self.choice))

    def _describing(self, choice: MediaChoice) -> Callable[[int], bytes]:
        return lambda version: build_answer(choice, self.host, self.port, self.session_id, version)

    def _stamp(self, build: Callable[[int], bytes]) -> bytes:
        """Our next description, its o= version grown when it differs from the last one sent."""
        description = build(self.version)
        if self._sent is not None and description != self._sent:
            self.version += 1
            description = build(self.version)
        self._sent = description
        return description

    def _negotiate(self, body: bytes, supported: tuple[str, ...]) -> MediaChoice:
        try:
            return negotiate(body, supported, self.family, self.loopback_ok)
        except NoCommonCodec as error:
            raise NotAcceptable(str(error)) from None


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name: not an address of ours on loopback
        return False
