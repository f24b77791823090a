"""A fake process around real `Call`s and `AgentLeg`s: `task.Clock` time, recorded SIP commands,
fake RTP ports that keep what was sent, the real pacing clock, menu interpreter and DTMF bank."""

from __future__ import annotations

import datetime as dt
import itertools
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from twisted.internet import defer, task

from ivr.actions.base import ActionRequest, ActionResult
from ivr.call import Call, CallInfo, InbandMode, TransferLeg
from ivr.call_limits import CallLimits
from ivr.interfaces import Address, DatagramHandler
from ivr.media.frames import Frames, encode_frames
from ivr.media.intake import AudioIntake
from ivr.media.pacer import PacingClock
from ivr.menus import events as menu
from ivr.menus.interpreter import MenuRun
from ivr.rtp.g711 import FRAME_SAMPLES, Codec, codec_named
from ivr.rtp.inband_dtmf import COLUMN_HZ, KEYS, ROW_HZ, InbandDtmfBank
from ivr.rtp.packet import RtpPacket
from ivr.rtp.ports import PortsExhausted
from ivr.sip.events import CallHandle, Event
from ivr.sip.message import Request
from tests.menus.menu_harness import MINI_MENU, NATIONAL_CALENDAR, OPEN_HOURS, tree_from

PHONE = ("127.0.0.1", 6000)  # where the fake caller's SDP says it receives RTP
AGENT = ("127.0.0.1", 7000)
PROMPT_FRAMES = 10  # every prompt of the fake catalog lasts 200 ms


def sdp(port: int, codecs: str = "0 101", *extra: str) -> bytes:
    lines = [
        "v=0",
        "o=phone 1 1 IN IP4 127.0.0.1",
        "s=-",
        "c=IN IP4 127.0.0.1",
        "t=0 0",
        f"m=audio {port} RTP/AVP {codecs}",
        "a=rtpmap:101 telephone-event/8000",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


def invite(caller: str = "13800138000") -> Request:
    from ivr.sip.headers import Headers

    headers = Headers()
    headers.add("From", f"<sip:{caller}@127.0.0.1>;tag=a")
    return Request("INVITE", "sip:12333@127.0.0.1", headers, b"")


@dataclass
class FakePort:
    """A bound RTP port that keeps every datagram sent through it."""

    port: int
    deliver: DatagramHandler
    sent: list[tuple[bytes, Address]] = field(default_factory=list)
    closed: bool = False

    def send(self, data: bytes, destination: Address) -> None:
        self.sent.append((data, destination))

    def close(self) -> None:
        self.closed = True

    def payloads(self) -> list[bytes]:
        return [RtpPacket.parse(data).payload for data, _ in self.sent]


class FakeSignalling:
    """Keeps each SIP command as a tuple: ("answer", handle, sdp), ("invite", target, ...)."""

    def __init__(self) -> None:
        self.commands: list[tuple[Any, ...]] = []
        self._legs = itertools.count(1)

    def answer(self, call: CallHandle, sdp: bytes) -> None:
        self.commands.append(("answer", call, sdp))

    def reject(self, call: CallHandle, status: int) -> None:
        self.commands.append(("reject", call, status))

    def hang_up(self, call: CallHandle) -> None:
        self.commands.append(("hang_up", call))

    def answer_reinvite(self, call: CallHandle, sdp: bytes) -> None:
        self.commands.append(("answer_reinvite", call, sdp))

    def reject_reinvite(self, call: CallHandle, status: int) -> None:
        self.commands.append(("reject_reinvite", call, status))

    def invite(
        self, target: str, sdp: bytes, from_user: str, headers: Mapping[str, str]
    ) -> CallHandle:
        handle = CallHandle(f"leg{next(self._legs)}", "t")
        self.commands.append(("invite", target, sdp, from_user, dict(headers), handle))
        return handle

    def names(self) -> list[str]:
        return [command[0] for command in self.commands]

    def last(self, name: str) -> tuple[Any, ...]:
        return next(c for c in reversed(self.commands) if c[0] == name)


class FakeProcess:
    """What `CallProcess` and `LegServices` promise, with fakes at the edges only."""

    media_host = "127.0.0.1"
    limits = CallLimits(max_duration=600.0, media_timeout=60.0)
    inband_dtmf: InbandMode = "always"

    def __init__(self, agent: str | None = "sip:agent@127.0.0.1:7070") -> None:
        self.clock = task.Clock()
        self.clock.advance(1000.0)
        self.scheduler = self.clock
        self.signalling = FakeSignalling()
        self.pacer = PacingClock(self.clock, monotonic=self.clock.seconds)
        self.inband = InbandDtmfBank()
        self.intake = AudioIntake(self.inband)
        self.pacer.add_tick_hook(self.intake.tick)
        self.pacer.add_tick_hook(self._detect_inband)
        self.tree = tree_from(MINI_MENU)
        self.ports: list[FakePort] = []
        self.free_ports = 100
        self.played: list[str] = []
        self.heard: list[str] = []
        self.actions: list[tuple[ActionRequest, defer.Deferred[ActionResult]]] = []
        self.agent = agent
        self.legs: dict[CallHandle, Any] = {}
        self.contexts: list[tuple[str, dict[str, Any]]] = []
        self.finished: list[Call] = []
        self.calls: dict[CallHandle, Call] = {}
        self.pacer.start()

    # --- CallProcess ----------------------------------------------------------------------

    def monotonic(self) -> float:
        return self.clock.seconds()

    def wallclock(self) -> dt.datetime:
        return OPEN_HOURS

    def open_rtp(self, on_datagram: DatagramHandler) -> FakePort:
        if self.free_ports == 0:
            raise PortsExhausted("no RTP port free")
        self.free_ports -= 1
        port = FakePort(20000 + 2 * len(self.ports), on_datagram)
        self.ports.append(port)
        return port

    def prompt_frames(self, prompt: menu.PromptRef, codec: Codec) -> Frames:
        self.played.append(prompt.prompt_id)
        return encode_frames(np.full(PROMPT_FRAMES * FRAME_SAMPLES, 1000, np.int16), codec)

    def menu_run(self, caller: str, call_ref: str) -> MenuRun:
        return MenuRun(
            self.tree,
            wallclock=self.wallclock,
            calendar=NATIONAL_CALENDAR,
            caller=caller,
            call_ref=call_ref,
        )

    def listener_for_call(self, call_ref: str, on_event: Any) -> None:
        return None

    def open_recorder(self, info: CallInfo) -> None:
        return None

    def run_action(self, request: ActionRequest) -> defer.Deferred[ActionResult]:
        result: defer.Deferred[ActionResult] = defer.Deferred()
        self.actions.append((request, result))
        return result

    def start_transfer(self, call: Call, command: menu.Transfer) -> TransferLeg | None:
        from ivr.agents.transfer import AgentLeg

        if self.agent is None:
            return None
        leg = AgentLeg(
            self,
            call,
            self.agent,
            30.0,
            ref=call.info.ref,
            from_user=call.info.caller,
            context=command.context,
        )
        self.legs[leg.handle] = leg
        return leg

    def transcript(self, call: Call, text: str) -> None:
        raise AssertionError("speech is off in these tests")

    def note_heard(self, what: str) -> None:
        self.heard.append(what)

    def call_finished(self, call: Call) -> None:
        self.finished.append(call)
        self.calls.pop(call.handle, None)

    # --- LegServices ----------------------------------------------------------------------

    def publish_context(self, ref: str, context: Mapping[str, Any]) -> defer.Deferred[None]:
        self.contexts.append((ref, dict(context)))
        return defer.succeed(None)

    def leg_closed(self, handle: CallHandle) -> None:
        self.legs.pop(handle, None)

    # --- driving it -----------------------------------------------------------------------

    def new_call(self, offer: bytes | None = None, caller: str = "13800138000") -> Call:
        handle = CallHandle(f"call{len(self.calls) + len(self.finished)}", "ivr")
        call = Call(self, handle, invite(caller))
        self.calls[handle] = call
        call.invited(sdp(PHONE[1]) if offer is None else offer)
        return call

    def sip(self, event: Event) -> None:
        """Route one SIP event as the app does."""
        target = self.calls.get(event.call) or self.legs.get(event.call)
        if target is not None:
            target.on_sip(event)

    def run(self, seconds: float) -> None:
        """Let time pass in 20 ms steps: the pacing clock sends, the timers fire."""
        for _ in range(round(seconds / 0.02)):
            self.clock.advance(0.02)

    def _detect_inband(self) -> None:
        for handle, digit in self.inband.detect():
            call = self.calls.get(handle)  # type: ignore[call-overload]
            if call is not None:
                call.inband_digit(digit)


class Phone:
    """The caller's RTP: audio, RFC 4733 keys and in-band tones into a call's port."""

    def __init__(self, process: FakeProcess, port: FakePort, pt: int = 0) -> None:
        self.process = process
        self.port = port
        self.pt = pt
        self.sequence = 1
        self.timestamp = 0

    def _send(self, pt: int, payload: bytes) -> None:
        data = RtpPacket(pt, self.sequence, self.timestamp, 77, payload).serialize()
        self.port.deliver(data, PHONE, self.process.monotonic())
        self.sequence += 1

    def audio(self, pcm: np.ndarray) -> None:
        """20 ms packets of `pcm` as PCMU, one per tick of the fake clock."""
        codec = codec_named("PCMU")
        for frame in encode_frames(pcm.astype(np.int16), codec):
            self._send(self.pt, frame)
            self.timestamp += FRAME_SAMPLES
            self.process.run(0.02)

    def rfc4733(self, key: str) -> None:
        code = "0123456789*#".index(key)
        for end in (False, True, True, True):
            self._send(101, struct.pack("!BBH", code, 0x80 if end else 0, 800))
        self.timestamp += 800
        self.process.run(0.1)

    def inband(self, key: str) -> None:
        index = KEYS.index(key)
        t = np.arange(int(8000 * 0.12)) / 8000
        tone = 6000 * np.sin(2 * np.pi * ROW_HZ[index // 4] * t) + 6000 * np.sin(
            2 * np.pi * COLUMN_HZ[index % 4] * t
        )
        self.audio(np.concatenate([tone, np.zeros(800)]))
