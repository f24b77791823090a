"""One call: the only place where SIP, RTP, the menu run and speech meet for one caller.

A `Call` holds no business rule and no protocol logic. It exists from the caller's INVITE on:
it opens its RTP port, lets its `OfferAnswer` settle the media (at once for an early offer, at
the ACK for a delayed one), then turns what arrives (RTP datagrams, SIP events, speech events,
worker results, its timer) into menu events and carries out the menu's commands (play, stop,
run an action, transfer, hang up). What it needs from the process is `CallProcess`; nothing here
knows the reactor or the application. Everything runs on the reactor thread.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Literal, Protocol, get_args

from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from ivr.actions.base import ActionRequest, ActionResult
from ivr.call_limits import CallLimits
from ivr.config import ConfigError
from ivr.interfaces import Address, DatagramHandler, MediaPort, Scheduler
from ivr.logs import CallLog
from ivr.media.frames import Frames
from ivr.media.intake import AudioIntake
from ivr.media.pacer import PacedStream, RtpStream
from ivr.media.player import Player
from ivr.menus import events as menu
from ivr.menus.interpreter import MenuRun
from ivr.menus.schema import Kind
from ivr.rtp.dtmf_merge import DtmfMerger, Source
from ivr.rtp.g711 import Codec, codec_named
from ivr.rtp.ports import PortsExhausted
from ivr.rtp.session import RtpSession
from ivr.sip.events import (
    CallCancelled,
    CallConfirmed,
    CallEnded,
    CallHandle,
    DtmfInfo,
    Event,
    Reinvite,
)
from ivr.sip.identity import caller_identity
from ivr.sip.offer_answer import NoAnswer, NotAcceptable, OfferAnswer, OfferPending
from ivr.sip.sdp import MediaChoice
from ivr.speech import events as speech
from ivr.store.commit_guard import CommitGuard

if TYPE_CHECKING:
    from twisted.internet.defer import Deferred

    from ivr.media.recorder import CallRecorder
    from ivr.sip.message import Request
    from ivr.speech.listener import CallListener

log = logging.getLogger("ivr.call")

# Which calls' audio in-band DTMF detection hears: every call's ("always"), or ("auto", as
# Asterisk's dtmf_mode=auto) only the calls whose phone offered no RFC 4733 telephone-event:
# a phone that sends its keys as events needs no decoding and no detection of every frame,
# a few points of a core at 500 calls. "always" also hears a phone that offers the events and
# then plays its keys as tones (some gateways).
InbandMode = Literal["always", "auto"]
INBAND_MODES: Final = get_args(InbandMode)

_refs = itertools.count(1)

# Seconds between the last frame of a goodbye prompt leaving and the BYE: the caller's jitter
# buffer still holds its last words, and a phone drops them the moment the BYE arrives.
HANGUP_DRAIN = 0.5


class CallSignalling(Protocol):
    """The SIP commands a call gives for its own dialog."""

    def answer(self, call: CallHandle, sdp: bytes) -> None: ...
    def reject(self, call: CallHandle, status: int) -> None: ...
    def hang_up(self, call: CallHandle) -> None: ...
    def answer_reinvite(self, call: CallHandle, sdp: bytes) -> None: ...
    def reject_reinvite(self, call: CallHandle, status: int) -> None: ...


class MediaClock(Protocol):
    """The pacing clock: sends a registered stream's frames every 20 ms."""

    def register(self, stream: PacedStream) -> None: ...
    def unregister(self, stream: PacedStream) -> None: ...


class TransferLeg(Protocol):
    """Where a transfer took the call: an agent leg it is bridged (or being bridged) to
    (ivr/agents/transfer.py), or a place in an agent queue (ivr/agents/queueing.py)."""

    def caller_audio(self, payload: bytes) -> None: ...
    def hang_up(self) -> None: ...
    def key(self, digit: str) -> bool:
        """A key the caller pressed; True when the transfer took it (not the menu)."""
        ...

    def prompt_finished(self, token: Hashable) -> None:
        """A play the transfer started (`Call.play`) ended."""
        ...


class CallProcess(Protocol):
    """What a call needs from the process (`ivr.app.IvrApp`; fakes in tests)."""

    @property
    def media_host(self) -> str: ...
    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def signalling(self) -> CallSignalling: ...
    @property
    def pacer(self) -> MediaClock: ...
    @property
    def intake(self) -> AudioIntake: ...
    @property
    def limits(self) -> CallLimits: ...
    @property
    def inband_dtmf(self) -> InbandMode: ...
    def monotonic(self) -> float: ...
    def wallclock(self) -> dt.datetime: ...
    def open_rtp(self, on_datagram: DatagramHandler) -> MediaPort: ...
    def prompt_frames(self, prompt: menu.PromptRef, codec: Codec) -> Frames: ...
    def menu_run(self, caller: str, call_ref: str) -> MenuRun: ...
    def listener_for_call(
        self, call_ref: str, on_event: Callable[[speech.SpeechEvent], None]
    ) -> CallListener | None: ...
    def open_recorder(self, info: CallInfo) -> CallRecorder | None: ...
    def run_action(self, request: ActionRequest) -> Deferred[ActionResult]: ...
    def start_transfer(self, call: Call, command: menu.Transfer) -> TransferLeg | None: ...
    def transcript(self, call: Call, text: str) -> None: ...
    def note_heard(self, what: str) -> None: ...
    def call_finished(self, call: Call) -> None: ...


@dataclass(frozen=True)
class CallSettings:
    """The `call:` section of config/ivr.yaml."""

    record: bool = False  # keep the caller's side of each call as WAV under data_dir/recordings
    inband_dtmf: InbandMode = "always"  # or "auto": only where the phone offered no RFC 4733
    db_threads: int = 8  # worker threads for actions, CDRs and Redis (bounded)
    drain_timeout: float = 600.0  # SIGTERM: seconds calls in progress may take, then BYE
    limits: CallLimits = field(default_factory=CallLimits)  # max_duration, media_timeout

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> CallSettings:
        known = {
            "record", "inband_dtmf", "db_threads", "drain_timeout", "max_duration", "media_timeout"
        }  # fmt: skip
        unknown = set(section) - known
        if unknown:
            raise ConfigError(f"call: unknown setting(s) {', '.join(sorted(unknown))}")
        record = section.get("record", cls.record)
        threads = section.get("db_threads", cls.db_threads)
        if not isinstance(record, bool):
            raise ConfigError(f"call: record must be true or false, not {record!r}")
        inband = section.get("inband_dtmf", cls.inband_dtmf)
        if inband not in INBAND_MODES:
            raise ConfigError(f"call: inband_dtmf must be always or auto, not {inband!r}")
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"call: db_threads must be a whole number above 0, not {threads!r}")
        try:
            drain = float(section.get("drain_timeout", cls.drain_timeout))
        except (TypeError, ValueError):
            raise ConfigError("call: drain_timeout must be a number of seconds") from None
        return cls(record, inband, threads, drain, CallLimits.from_section(section))


@dataclass(frozen=True)
class CallInfo:
    """What the rest of the system may know about a call (logs, CDR, agent screen)."""

    ref: str
    call_id: str
    caller: str
    callee: str
    started_at: dt.datetime


class Call:
    # Set when the media is agreed (`_start`): the answer to an early offer, or the ACK's.
    codec: Codec
    session: RtpSession
    player: Player
    stream: RtpStream
    run: MenuRun

    def __init__(self, process: CallProcess, handle: CallHandle, request: Request) -> None:
        self.process = process
        self.handle = handle
        self.info = CallInfo(
            ref=f"c{next(_refs)}",
            call_id=handle.call_id,
            caller=caller_identity(request),
            callee=request.uri,
            started_at=process.wallclock(),
        )
        self.log = CallLog(log, f"{self.info.ref} {handle.call_id[:16]}")
        self.rtp: MediaPort | None = None
        self.media: OfferAnswer | None = None
        self.merger = DtmfMerger()
        self.listener: CallListener | None = None
        self.recorder: CallRecorder | None = None
        self.transfer: TransferLeg | None = None
        self._bridged = False  # to an agent: the agent's audio replaces our prompts
        self._inband = True  # the caller's audio goes to in-band DTMF detection (`_follow`)
        self.answered_at: dt.datetime | None = None
        self.started = False
        self.held = False
        self.ended = False
        self.end_reason: str | None = None
        self.last_outcome: str | None = None
        self._timer: IDelayedCall | None = None
        self._action_guard: CommitGuard | None = None  # of the action the menu waits for
        self._answered_monotonic = 0.0

    # --- life cycle -----------------------------------------------------------------------

    def invited(self, sdp: bytes) -> None:
        """The INVITE: open RTP, answer its offer (the menu starts at once) or offer ours in the
        200 OK (the menu starts at the ACK's answer); refuse with 503 or 488 when we cannot."""
        try:
            self.rtp = self.process.open_rtp(self.on_rtp)
        except (CannotListenError, PortsExhausted):
            self.log.warning("refused: no RTP port free (503)")
            self.process.signalling.reject(self.handle, 503)
            return
        self.media = OfferAnswer(self.process.media_host, self.rtp.port)
        try:
            reply = self.media.invite(sdp)
        except NotAcceptable:
            self.log.info("refused: no common codec (488)")
            self.process.signalling.reject(self.handle, 488)
            return
        self.process.signalling.answer(self.handle, reply)
        if self.media.choice is None:
            self.log.info("INVITE without SDP, offered in the 200 OK")
        else:
            self._start(self.media.choice, "answered")

    def _start(self, choice: MediaChoice, how: str) -> None:
        """Media and menu on, once the caller's media is agreed."""
        assert self.rtp is not None
        self.started = True
        self.answered_at = self.process.wallclock()
        self._answered_monotonic = self.process.monotonic()
        self.codec = codec_named(choice.codec)
        self.session = RtpSession(
            self.codec,
            (choice.remote_host, choice.remote_port),
            payload_type=choice.payload_type,
            telephone_event_pt=choice.telephone_event_pt,
        )
        self.player = Player(self.codec, self._prompt_finished)
        self.stream = RtpStream(self.player, self.session, self.rtp.send)
        self.run = self.process.menu_run(self.info.caller, self.info.ref)
        self.listener = self.process.listener_for_call(self.info.ref, self._speech_event)
        self.recorder = self.process.open_recorder(self.info)
        self.log.info(
            "%s: caller %s, %s/%s, RTP port %d, menu %s@%s",
            how,
            self.info.caller or "anonymous",
            choice.codec,
            choice.telephone_event_pt,
            self.rtp.port,
            self.run.tree.name,
            self.run.tree.version[:8],
        )
        self._follow(choice)
        self._apply(self.run.start(self.process.monotonic()))

    def hang_up(self, reason: str) -> None:
        """End the call from our side (BYE); cleanup follows the SIP layer's CallEnded."""
        if not self.ended:
            self.log.info("hanging up: %s", reason)
            self.process.signalling.hang_up(self.handle)

    def on_sip(self, event: Event) -> None:
        if isinstance(event, DtmfInfo):
            self._digit(event.digit, "info", self.process.monotonic())
        elif isinstance(event, CallConfirmed):
            self._acknowledged(event.sdp)
        elif isinstance(event, Reinvite):
            self._reinvite(event.sdp)
        elif isinstance(event, CallEnded):
            self._finish(event.reason)
        elif isinstance(event, CallCancelled):
            self._finish("cancelled")

    def _acknowledged(self, sdp: bytes) -> None:
        """An ACK: it starts a delayed-offer call, or settles the answer to a refresh offer."""
        if self.media is None or self.ended:
            return
        try:
            choice = self.media.ack(sdp)
        except NoAnswer:
            self.log.warning("the ACK brought no usable SDP answer, BYE")
            self.hang_up("no SDP answer in the ACK")
            return
        if choice is None:
            return
        if not self.started:
            self._start(choice, "answered (delayed offer)")
        else:
            self._follow(choice)

    def _finish(self, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.end_reason = reason
        if self.started:
            self.process.pacer.unregister(self.stream)
            self.player.close()  # its handler is ours: the call is freed when it is dropped
        self.process.intake.forget(self.handle)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        if self._action_guard is not None:
            self._action_guard.withdraw()  # hung up mid-action: its work must not commit
        if self.listener is not None:
            self.listener.close()
        if self.recorder is not None:
            self.recorder.close()
        if self.transfer is not None:
            self.transfer.hang_up()
        if self.rtp is not None:
            self.rtp.close()
        self.log.info("%s: %s", "ended" if self.started else "ended before its answer", reason)
        self.process.call_finished(self)

    # --- media in -------------------------------------------------------------------------

    def on_rtp(self, data: bytes, source: Address, now: float) -> None:
        if not self.started:
            return  # a delayed offer's answer is not in yet: nothing is agreed
        payload = self.session.audio(data, source, now)
        if payload is None:
            received = self.session.receive(data, source, now)
            for digit in received.digits:
                self._digit(digit, "rfc4733", now)
            payload = received.payload
            if payload is None:
                return
        if self.recorder is not None:  # the caller's side of the whole call, agent's part too
            self.recorder.write(self.codec.decode(payload))
        if self.transfer is not None:
            self.transfer.caller_audio(payload)
            return
        if self._inband or self.listener is not None:
            self.process.intake.add(self.handle, payload, self.codec, self.listener, self._inband)

    def check_limits(self, now: float) -> None:
        """Hang up a call over its maximum length, or whose caller's RTP stopped (a phone that
        vanished without BYE); the rules are `CallLimits.overdue`."""
        if not self.started or self.ended:
            return
        reason = self.process.limits.overdue(
            self._answered_monotonic, self.session.last_received, self.held, now
        )
        if reason is not None:
            self.hang_up(reason)

    def inband_digit(self, digit: str) -> None:
        self._digit(digit, "inband", self.process.monotonic())

    def _digit(self, digit: str, source: Source, now: float) -> None:
        if self.ended or not self.started or not self.merger.accept(digit, source, now):
            return
        # A key is shown only where it picks a menu entry: anywhere else (typing an ID number
        # or PIN, confirming, during an action, typed ahead into a prompt) it may be a secret.
        shown = digit if self.run.node.kind is Kind.MENU else "•"
        self.log.info("key %s (%s)", shown, source)
        self.process.note_heard(f"按键 {shown}")
        if self.transfer is not None and self.transfer.key(digit):
            return
        self._feed(menu.DigitPressed(digit), now)

    def _reinvite(self, offer: bytes) -> None:
        if self.media is None or not self.started:
            return  # the UA answers 491 before the first ACK; nothing reaches here
        try:
            reply = self.media.reinvite(offer)
        except (NotAcceptable, OfferPending) as refused:
            status = 491 if isinstance(refused, OfferPending) else 488
            self.log.info("re-INVITE refused (%d): %s", status, refused)
            self.process.signalling.reject_reinvite(self.handle, status)
            return
        self.process.signalling.answer_reinvite(self.handle, reply)
        if not offer.strip():
            # A session refresh: our offer is the session as it stands; the ACK answers it.
            self.log.info("re-INVITE without SDP: offered the session as it stands")
            return
        assert self.media.choice is not None
        self._follow(self.media.choice)
        self.log.info("re-INVITE: %s", "on hold" if self.held else "resumed")

    def _follow(self, choice: MediaChoice) -> None:
        """Send to where the agreed media says, and only while the caller does not hold."""
        self.session.retarget((choice.remote_host, choice.remote_port))  # a new address re-latches
        self.session.telephone_event_pt = choice.telephone_event_pt
        self._inband = self.process.inband_dtmf == "always" or choice.telephone_event_pt is None
        self.held = not choice.sending
        if self.held or self._bridged:
            self.process.pacer.unregister(self.stream)
        else:
            self.process.pacer.register(self.stream)

    def _speech_event(self, event: speech.SpeechEvent) -> None:
        if self.ended:
            return
        if isinstance(event, speech.IntentHeard):
            self.log.info("heard intent %s (%.2f)", event.intent, event.confidence)
            self.process.note_heard(f"意图 {event.intent}")
            self._feed(menu.IntentHeard(event.intent, event.text), self.process.monotonic())
        elif isinstance(event, speech.Transcript):
            self.process.transcript(self, event.text)

    # --- the menu -------------------------------------------------------------------------

    def _feed(self, event: menu.Event, now: float | None = None) -> None:
        if self.ended:
            return
        self._apply(self.run.handle(event, self.process.monotonic() if now is None else now))

    def _apply(self, commands: list[menu.Command]) -> None:
        for command in commands:
            if self.ended:
                return
            if isinstance(command, menu.Play):
                self._play(command)
            elif isinstance(command, menu.StopPlayback):
                self.player.stop()
            elif isinstance(command, menu.RunAction):
                self._run_action(command)
            elif isinstance(command, menu.Transfer):
                self._transfer(command)
            elif isinstance(command, menu.Hangup):
                self.process.scheduler.callLater(HANGUP_DRAIN, self.hang_up, command.reason)
        self._arm_timer()

    def _arm_timer(self) -> None:
        deadline = self.run.next_deadline()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if deadline is not None and not self.ended:
            delay = max(0.0, deadline - self.process.monotonic())
            self._timer = self.process.scheduler.callLater(delay, self._timer_expired)

    def _timer_expired(self) -> None:
        guard = self._action_guard
        if guard is not None and self.run.node.kind is Kind.ACTION:
            # The action timeout: take its commit back before the menu says it failed.
            if not guard.withdraw():
                self.log.info("action timeout: its commit is under way, waiting for it")
                return
            self._action_guard = None
        self._feed(menu.TimerExpired())

    def _play(self, command: menu.Play) -> None:
        frames: list[Frames] = []
        for prompt in command.prompts:
            frames.append(self.process.prompt_frames(prompt, self.codec))
            self.log.info("play %s", prompt.prompt_id)
        self.player.play(tuple(itertools.chain.from_iterable(frames)), command.play_id)

    def _prompt_finished(self, token: Hashable, completed: bool) -> None:
        if isinstance(token, int):
            self._feed(menu.PromptFinished(token))
        elif self.transfer is not None:
            self.transfer.prompt_finished(token)

    def _run_action(self, command: menu.RunAction) -> None:
        """Run the action with a `CommitGuard`: once the caller is told it failed (the menu's
        action timeout) or hangs up, the guard is withdrawn and the action cannot commit; an
        action that claimed it first is waited for, so the caller hears what committed."""
        guard = self._action_guard = CommitGuard()
        request = ActionRequest(
            name=command.name,
            params=dict(command.params),
            caller=self.info.caller,
            call_ref=self.info.ref,
            guard=guard,
        )

        def done(result: ActionResult) -> None:
            if self._action_guard is not guard:
                return  # the caller was already told it failed
            self._action_guard = None
            self.last_outcome = f"{command.name}:{result.outcome}"
            self.log.info("action %s -> %s", command.name, result.outcome)
            self._feed(menu.ActionCompleted(command.request_id, result.outcome, result.values))

        def failed(failure: Failure) -> None:
            if self._action_guard is not guard:
                return
            self._action_guard = None
            guard.withdraw()
            self.log.error("action %s failed: %s", command.name, type(failure.value).__name__)
            self._feed(menu.ActionCompleted(command.request_id, "unavailable"))

        self.process.run_action(request).addCallbacks(done, failed)

    # --- transfer -------------------------------------------------------------------------

    def _transfer(self, command: menu.Transfer) -> None:
        self.transfer = self.process.start_transfer(self, command)
        if self.transfer is None:  # no agent to call: the menu hears so on the next turn
            self.process.scheduler.callLater(0, self.transfer_ended, "no_answer")

    def ringback(self, frames: Frames) -> None:
        """What the caller hears while the agent's phone rings."""
        self.player.play(frames, token="ringback")

    def play(self, frames: Frames, token: Hashable) -> None:
        """Play for the transfer (queue announcements, hold music); its end goes back to the
        transfer's `prompt_finished` with `token` (never an int: those are the menu's)."""
        self.player.play(frames, token=token)

    @property
    def call_id(self) -> str:
        return self.info.call_id

    @property
    def caller(self) -> str:
        return self.info.caller

    def transfer_ended(self, outcome: str) -> None:
        """The transfer's verdict: "answered" (bridged), "no_answer", "closed", or "left" (the
        caller left the queue for the menu)."""
        self.last_outcome = f"transfer:{outcome}"
        if outcome == "answered":
            self._bridged = True
            self.player.stop()
            self.process.pacer.unregister(self.stream)
            if self.listener is not None:
                self.listener.set_active(False)
        else:
            self.transfer = None
        self._feed(menu.TransferEnded(outcome))  # type: ignore[arg-type]

    def referred(self, target: str) -> None:
        """The agent transferred the call (REFER) back into the IVR: its leg ends and the menu
        goes on where the caller was (here the agent's phone is the fixed `agents.target`)."""
        self.log.info("the agent transferred the call to %s: back to the menu", target)
        leg, self.transfer = self.transfer, None
        if leg is not None:
            leg.hang_up()
        self.unbridge()
        self.transfer_ended("left")

    def unbridge(self) -> None:
        """Back from an agent to the IVR: our prompts and the caller's keys and speech again."""
        if self._bridged:
            self._bridged = False
            if not self.held:
                self.process.pacer.register(self.stream)
            if self.listener is not None:
                self.listener.set_active(True)

    def agent_audio(self, payload: bytes) -> None:
        """A frame from the bridged agent, relayed to the caller as it arrives."""
        assert self.rtp is not None
        self.rtp.send(self.session.packet(payload), self.session.remote)
