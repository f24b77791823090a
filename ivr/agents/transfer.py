"""Hand-off to a human: the IVR calls an agent's phone and bridges it to the caller.

While the agent's phone rings the caller hears ringback (China's 450 Hz, 1 s on / 4 s off).
On answer the two RTP streams are relayed packet by packet (transcoded when the phones chose
different G.711 laws); when either side hangs up, both are torn down. No answer within
`ring_timeout` (or a refusal) cancels the agent leg and gives the menu `no_answer`, which
apologizes and returns the caller to a menu.

What the agent's screen needs (caller, path, masked values, why) is published in Redis under
`ivr:agent-context:<call ref>` so a console on any node can show it, and travels in the INVITE
as `X-IVR-Call` so a softphone can pop it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from twisted.internet.interfaces import IDelayedCall

from ivr.interfaces import Address, DatagramHandler, MediaPort, Scheduler
from ivr.logs import CallLog
from ivr.media.frames import Frames, encode_frames
from ivr.media.pacer import PacedStream, RtpStream
from ivr.media.player import Player
from ivr.rtp.g711 import SAMPLE_RATE, Codec, codec_named
from ivr.rtp.session import RtpSession
from ivr.sip.events import (
    CallEnded,
    CallHandle,
    Event,
    OutgoingAnswered,
    OutgoingFailed,
    Referred,
)
from ivr.sip.sdp import NoCommonCodec, build_offer, parse_answer

if TYPE_CHECKING:
    from redis import Redis
    from twisted.internet.defer import Deferred

log = logging.getLogger("ivr.agents")

CONTEXT_TTL = 3600  # seconds the agent's screen can still fetch a call's context


class Leg(Protocol):
    """An agent leg as the queue and the callback dialer hold it (`AgentLeg`)."""

    def caller_audio(self, payload: bytes) -> None: ...
    def hang_up(self) -> None: ...
    def play_ringback(self, seconds: float) -> None: ...
    def stop_playing(self) -> None: ...


class CallerSide(Protocol):
    """What an agent leg needs from the caller's call (`ivr.call.Call`)."""

    @property
    def codec(self) -> Codec: ...
    @property
    def ended(self) -> bool: ...
    @property
    def log(self) -> CallLog: ...

    def ringback(self, frames: Frames) -> None: ...
    def transfer_ended(self, outcome: str) -> None: ...
    def agent_audio(self, payload: bytes) -> None: ...
    def hang_up(self, reason: str) -> None: ...
    def referred(self, target: str) -> None:
        """The bridged agent transferred the call (REFER) to `target`."""
        ...


class LegPacer(Protocol):
    """The process's media clock (`ivr.media.pacer.PacingClock`): 20 ms frames of a stream."""

    def register(self, stream: PacedStream) -> None: ...
    def unregister(self, stream: PacedStream) -> None: ...


class LegServices(Protocol):
    """What an agent leg needs from the process (`ivr.app.IvrApp`; fakes in tests)."""

    @property
    def media_host(self) -> str: ...
    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def pacer(self) -> LegPacer: ...
    @property
    def signalling(self) -> LegSignalling: ...
    def open_rtp(self, on_datagram: DatagramHandler) -> MediaPort: ...
    def publish_context(self, ref: str, context: Mapping[str, Any]) -> Deferred[None]: ...
    def leg_closed(self, handle: CallHandle) -> None: ...


class LegSignalling(Protocol):
    """The SIP commands of a call the IVR places."""

    def invite(
        self, target: str, sdp: bytes, from_user: str, headers: Mapping[str, str]
    ) -> CallHandle: ...
    def hang_up(self, call: CallHandle) -> None: ...


@dataclass(frozen=True)
class AgentSettings:
    target: str | None = None  # sip:agent@host:port of the agent's phone
    ring_timeout: float = 30.0

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> AgentSettings:
        target = section.get("target")
        return cls(
            target=str(target) if target else None,
            ring_timeout=float(section.get("ring_timeout", cls.ring_timeout)),
        )


@cache
def ringback(codec_name: str) -> Frames:
    """One 5 s cycle of China's ringback tone: 450 Hz for 1 s, then 4 s of silence."""
    t = np.arange(SAMPLE_RATE) / SAMPLE_RATE
    tone = (0.25 * 32767 * np.sin(2 * np.pi * 450 * t)).astype(np.int16)
    cycle = np.concatenate([tone, np.zeros(4 * SAMPLE_RATE, dtype=np.int16)])
    return encode_frames(cycle, codec_named(codec_name))


def publish_context(redis: Redis, ref: str, context: Mapping[str, Any]) -> None:
    """BLOCKING (Redis): store the agent-screen context of a call for the consoles."""
    redis.set(f"ivr:agent-context:{ref}", json.dumps(context, ensure_ascii=False), ex=CONTEXT_TTL)


class AgentLeg:
    """The IVR's outgoing call to an agent, on behalf of one caller (`ref`, calling from
    `from_user`); the caller's SIP events for this leg go to `on_sip`."""

    def __init__(
        self,
        services: LegServices,
        call: CallerSide,
        target: str,
        ring_timeout: float,
        *,
        ref: str,
        from_user: str,
        context: Mapping[str, Any],
    ) -> None:
        self.services = services
        self.call = call
        self.answered = False
        self.closed = False
        self.session: RtpSession | None = None
        self._tone: RtpStream | None = None  # what the IVR plays to the answered agent
        self._rtp = services.open_rtp(self._agent_rtp)
        offer = build_offer(
            services.media_host, self._rtp.port, session_id=self._rtp.port, version=1
        )
        headers = {"X-IVR-Call": ref, "Subject": "12333 transfer"}
        self.handle = services.signalling.invite(target, offer, from_user, headers)
        self._timer: IDelayedCall | None = services.scheduler.callLater(
            ring_timeout, self._ring_timeout
        )
        cycles = max(1, int(ring_timeout // 5) + 1)
        call.ringback(ringback(call.codec.name) * cycles)
        services.publish_context(ref, dict(context)).addErrback(
            lambda failure: call.log.warning("agent context not published: %s", failure.value)
        )
        call.log.info("calling agent %s", target)

    # --- SIP events of the agent leg ------------------------------------------------------

    def on_sip(self, event: Event) -> None:
        if self.closed:
            return  # the end of a leg we hung up ourselves: whoever did it has settled it
        if isinstance(event, OutgoingAnswered):
            self._answered(event.sdp)
        elif isinstance(event, Referred) and self.answered:
            self.call.referred(event.target)
        elif isinstance(event, OutgoingFailed):
            self.call.log.info("agent did not take the call: %d %s", event.status, event.reason)
            self._close()
            self.call.transfer_ended("no_answer")
        elif isinstance(event, CallEnded):
            was_bridged = self.answered
            self._close()
            if was_bridged:
                self.call.hang_up("the agent hung up")
            else:
                self.call.transfer_ended("no_answer")

    def _answered(self, sdp: bytes) -> None:
        self._cancel_timer()
        try:
            choice = parse_answer(sdp)
        except NoCommonCodec:
            self.call.log.warning("agent answered with unusable SDP; hanging up the agent")
            self.hang_up()
            self.call.transfer_ended("no_answer")
            return
        self.session = RtpSession(
            codec_named(choice.codec),
            (choice.remote_host, choice.remote_port),
            payload_type=choice.payload_type,
            telephone_event_pt=choice.telephone_event_pt,
        )
        self.answered = True
        self.call.log.info("agent answered: bridged (%s to %s)", self.call.codec.name, choice.codec)
        self.call.transfer_ended("answered")

    def _ring_timeout(self) -> None:
        self._timer = None
        if not self.answered and not self.closed:
            self.call.log.info("agent did not answer in time")
            self.hang_up()
            self.call.transfer_ended("no_answer")

    # --- the caller's keys and plays -------------------------------------------------------

    def key(self, digit: str) -> bool:
        """Keys while a fixed agent phone rings or talks are the menu's, as before."""
        return False

    def prompt_finished(self, token: Hashable) -> None:
        """The ringback's end: nothing follows it."""

    # --- media ----------------------------------------------------------------------------

    def play_ringback(self, seconds: float) -> None:
        """Ringback to the answered agent while the IVR rings the other party ("call back
        now"): China's tone in the agent's codec, paced by the media clock like a caller's
        prompts, until `stop_playing` (the other party answered) or the leg ends."""
        if self.session is None or self.closed:
            return
        self.stop_playing()
        player = Player(self.session.codec)
        player.play(ringback(self.session.codec.name) * max(1, int(seconds // 5) + 1))
        self._tone = RtpStream(player, self.session, self._rtp.send)
        self.services.pacer.register(self._tone)

    def stop_playing(self) -> None:
        if self._tone is not None:
            self.services.pacer.unregister(self._tone)
            self._tone = None

    def caller_audio(self, payload: bytes) -> None:
        if self.session is not None:
            data = transcode(payload, self.call.codec, self.session.codec)
            self._rtp.send(self.session.packet(data), self.session.remote)

    def _agent_rtp(self, data: bytes, source: Address, now: float) -> None:
        if self.session is None or self.call.ended:
            return
        received = self.session.receive(data, source, now)
        if received.payload is not None:
            self.call.agent_audio(transcode(received.payload, self.session.codec, self.call.codec))

    # --- tear-down ------------------------------------------------------------------------

    def hang_up(self) -> None:
        """BYE to a bridged agent, CANCEL to a ringing one."""
        if not self.closed:
            self.call.log.info("agent leg ended: %s", "BYE" if self.answered else "CANCEL")
            self._close()  # first: the SIP layer reports the CANCEL's or BYE's end at once
            self.services.signalling.hang_up(self.handle)

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._cancel_timer()
        self.stop_playing()
        self.services.leg_closed(self.handle)
        self._rtp.close()

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


def transcode(payload: bytes, source: Codec, target: Codec) -> bytes:
    return payload if source.name == target.name else target.encode(source.decode(payload))
