"""One call: the only place where SIP, RTP, the menu run and speech meet for one caller.

A `Call` holds no business rule and no protocol logic. It turns what arrives (RTP datagrams,
SIP events, speech events, worker results, its timer) into menu events, and carries out the
menu's commands (play, stop, run an action, transfer, hang up) with the shared services.
Everything here runs on the reactor thread; blocking work goes to the worker pools.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Hashable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from ivr.actions.base import ActionRequest, ActionResult
from ivr.logs import CallLog
from ivr.media.frames import Frames, load_frames
from ivr.media.pacer import RtpStream
from ivr.media.player import Player
from ivr.menus import events as menu
from ivr.menus.interpreter import MenuRun
from ivr.menus.schema import Kind
from ivr.rtp.dtmf_merge import DtmfMerger, Source
from ivr.rtp.g711 import codec_named
from ivr.rtp.session import Address, RtpSession
from ivr.sip.events import CallCancelled, CallEnded, CallHandle, DtmfInfo, Event, Reinvite
from ivr.sip.sdp import MediaChoice, NoCommonCodec, build_answer, negotiate
from ivr.sip.uri import NameAddr
from ivr.speech import events as speech
from ivr.store.commit_guard import CommitGuard

if TYPE_CHECKING:
    from ivr.app import IvrApp
    from ivr.media.recorder import CallRecorder
    from ivr.rtp.transport import RtpEndpoint
    from ivr.sip.message import Request
    from ivr.speech.listener import CallListener

log = logging.getLogger("ivr.call")

_refs = itertools.count(1)

# Seconds between the last frame of a goodbye prompt leaving and the BYE: the caller's jitter
# buffer still holds its last words, and a phone drops them the moment the BYE arrives.
HANGUP_DRAIN = 0.5


class TransferLeg(Protocol):
    """An agent leg the call is bridged (or being bridged) to; see ivr/agents/transfer.py."""

    def caller_audio(self, payload: bytes) -> None: ...
    def hang_up(self) -> None: ...


@dataclass(frozen=True)
class CallInfo:
    """What the rest of the system may know about a call (logs, CDR, agent screen)."""

    ref: str
    call_id: str
    caller: str
    callee: str
    started_at: dt.datetime


def caller_number(request: Request) -> str:
    """The user part of From (`sip:13800138000@...` -> `13800138000`), or '' if none."""
    try:
        address = NameAddr.parse(request.headers.get("From") or "")
    except ValueError:
        return ""
    return getattr(address.uri, "user", None) or ""


class Call:
    def __init__(
        self,
        services: IvrApp,
        handle: CallHandle,
        request: Request,
        choice: MediaChoice,
        rtp: RtpEndpoint,
        offered: bytes | None = None,
    ) -> None:
        """`offered`: the SDP our 200 OK already carried (a delayed offer), if any."""
        self.services = services
        self.handle = handle
        self.choice = choice
        self.rtp = rtp
        self.info = CallInfo(
            ref=f"c{next(_refs)}",
            call_id=handle.call_id,
            caller=caller_number(request),
            callee=request.uri,
            started_at=services.wallclock(),
        )
        self.log = CallLog(log, f"{self.info.ref} {handle.call_id[:16]}")
        codec = codec_named(choice.codec)
        self.codec = codec
        self.session = RtpSession(
            codec,
            (choice.remote_host, choice.remote_port),
            payload_type=choice.payload_type,
            telephone_event_pt=choice.telephone_event_pt,
        )
        self.player = Player(codec, self._prompt_finished)
        self.stream = RtpStream(self.player, self.session, rtp.protocol.send)
        self.merger = DtmfMerger()
        self.menu_tree = services.menu.current
        self.run = MenuRun(
            self.menu_tree,
            wallclock=services.wallclock,
            calendar=services.calendar,
            caller=self.info.caller,
            call_ref=self.info.ref,
        )
        self.listener: CallListener | None = services.speech.listener_for_call(
            self.info.ref, self._speech_event
        )
        self.recorder: CallRecorder | None = services.open_recorder(self.info)
        self.transfer: TransferLeg | None = None
        self.answered_at: dt.datetime | None = None
        self.held = False
        self.ended = False
        self.end_reason: str | None = None
        self.last_outcome: str | None = None
        self._timer: IDelayedCall | None = None
        self._action_guard: CommitGuard | None = None  # of the action the menu waits for
        self._sdp_version = 1
        self._sent_sdp = offered

    # --- life cycle -----------------------------------------------------------------------

    def answer(self) -> None:
        """Send 200 OK with our SDP answer and start the menu at once."""
        sdp = self._sdp()
        self.services.sip.command(lambda ua, now: ua.answer(self.handle, sdp, now))
        self.start("answered")

    def _sdp(self) -> bytes:
        """Our session description for the media as chosen now. Its o= version grows when it
        differs from the last one we sent and only then (RFC 3264 §8)."""
        sdp = self._describe()
        if self._sent_sdp is not None and sdp != self._sent_sdp:
            self._sdp_version += 1
            sdp = self._describe()
        self._sent_sdp = sdp
        return sdp

    def _describe(self) -> bytes:
        return build_answer(
            self.choice,
            self.services.media_host,
            self.rtp.port,
            session_id=self.rtp.port,
            version=self._sdp_version,
        )

    def start(self, how: str) -> None:
        """Media and menu on: at our 200 OK, or at the ACK that brought the caller's answer to
        the offer our 200 OK carried (a delayed offer; the app sent that 200 OK)."""
        self.answered_at = self.services.wallclock()
        self.log.info(
            "%s: caller %s, %s/%s, RTP port %d, menu %s@%s",
            how,
            self.info.caller or "anonymous",
            self.choice.codec,
            self.choice.telephone_event_pt,
            self.rtp.port,
            self.menu_tree.name,
            self.menu_tree.version[:8],
        )
        self.services.pacer.register(self.stream)
        self._apply(self.run.start(self.services.monotonic()))

    def hang_up(self, reason: str) -> None:
        """End the call from our side (BYE); cleanup follows the SIP layer's CallEnded."""
        if not self.ended:
            self.log.info("hanging up: %s", reason)
            self.services.sip.command(lambda ua, now: ua.hangup(self.handle, now))

    def on_sip(self, event: Event) -> None:
        if isinstance(event, DtmfInfo):
            self._digit(event.digit, "info", self.services.monotonic())
        elif isinstance(event, Reinvite):
            self._reinvite(event.sdp)
        elif isinstance(event, CallEnded):
            self._finish(event.reason)
        elif isinstance(event, CallCancelled):
            self._finish("cancelled")

    def _finish(self, reason: str) -> None:
        if self.ended:
            return
        self.ended = True
        self.end_reason = reason
        self.services.pacer.unregister(self.stream)
        self.services.intake.forget(self.handle)
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
        self.rtp.close()
        self.log.info("ended: %s", reason)
        self.services.call_finished(self)

    # --- media in -------------------------------------------------------------------------

    def on_rtp(self, data: bytes, source: Address, now: float) -> None:
        received = self.session.receive(data, source, now)
        for digit in received.digits:
            self._digit(digit, "rfc4733", now)
        if received.payload is None:
            return
        if self.recorder is not None:  # the caller's side of the whole call, agent's part too
            self.recorder.write(received.pcm)
        if self.transfer is not None:
            self.transfer.caller_audio(received.payload)
            return
        self.services.intake.add(self.handle, received.payload, self.codec, self.listener)

    def inband_digit(self, digit: str) -> None:
        self._digit(digit, "inband", self.services.monotonic())

    def _digit(self, digit: str, source: Source, now: float) -> None:
        if self.ended or not self.merger.accept(digit, source, now):
            return
        # Keys typed into a collect may be an ID number or a PIN: never log those digits.
        shown = "•" if self.run.node.kind is Kind.COLLECT and digit.isdigit() else digit
        self.log.info("key %s (%s)", shown, source)
        self.services.note_heard(f"按键 {shown}")
        self._feed(menu.DigitPressed(digit), now)

    def _reinvite(self, offer: bytes) -> None:
        if not offer.strip():
            # A re-INVITE without SDP (a session refresh by some PBXs): our offer is the
            # session as it stands, unchanged, so its answer in the ACK cannot change it.
            sdp = self._sdp()
            self.services.sip.command(lambda ua, now: ua.answer_reinvite(self.handle, sdp, now))
            self.log.info("re-INVITE without SDP: offered the session as it stands")
            return
        try:
            choice = negotiate(offer)
        except NoCommonCodec:
            self.services.sip.command(lambda ua, now: ua.reject_reinvite(self.handle, 488, now))
            return
        if choice.codec != self.choice.codec:
            # Changing codec mid-call would re-encode every queued prompt; phones keep theirs.
            self.services.sip.command(lambda ua, now: ua.reject_reinvite(self.handle, 488, now))
            return
        self.choice = choice
        self.session.remote = (choice.remote_host, choice.remote_port)
        self.session.telephone_event_pt = choice.telephone_event_pt
        self.held = not choice.sending
        if self.held:
            self.services.pacer.unregister(self.stream)
        else:
            self.services.pacer.register(self.stream)
        sdp = self._sdp()
        self.services.sip.command(lambda ua, now: ua.answer_reinvite(self.handle, sdp, now))
        self.log.info("re-INVITE: %s", "on hold" if self.held else "resumed")

    def _speech_event(self, event: speech.SpeechEvent) -> None:
        if self.ended:
            return
        if isinstance(event, speech.IntentHeard):
            self.log.info("heard intent %s (%.2f)", event.intent, event.confidence)
            self.services.note_heard(f"意图 {event.intent}")
            self._feed(menu.IntentHeard(event.intent, event.text), self.services.monotonic())
        elif isinstance(event, speech.Transcript):
            self.services.transcript(self, event.text)

    # --- the menu -------------------------------------------------------------------------

    def _feed(self, event: menu.Event, now: float | None = None) -> None:
        if self.ended:
            return
        self._apply(self.run.handle(event, self.services.monotonic() if now is None else now))

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
                self.services.start_transfer(self, command)
            elif isinstance(command, menu.Hangup):
                self.services.reactor.callLater(HANGUP_DRAIN, self.hang_up, command.reason)
        self._arm_timer()

    def _arm_timer(self) -> None:
        deadline = self.run.next_deadline()
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if deadline is not None and not self.ended:
            delay = max(0.0, deadline - self.services.monotonic())
            self._timer = self.services.reactor.callLater(delay, self._timer_expired)

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
            for path in self.services.prompts.segments(prompt.prompt_id, prompt.variables):
                frames.append(load_frames(path, self.codec))
            self.log.info("play %s", prompt.prompt_id)
        self.player.play(tuple(itertools.chain.from_iterable(frames)), command.play_id)

    def _prompt_finished(self, token: Hashable, completed: bool) -> None:
        if isinstance(token, int):
            self._feed(menu.PromptFinished(token))

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
            self.log.error("action %s failed: %s", command.name, failure.type.__name__)
            self._feed(menu.ActionCompleted(command.request_id, "unavailable"))

        self.services.run_action(request).addCallbacks(done, failed)

    # --- transfer -------------------------------------------------------------------------

    def transfer_ended(self, outcome: str) -> None:
        """The agent leg's verdict: "answered" (bridged), "no_answer" or "closed"."""
        self.last_outcome = f"transfer:{outcome}"
        if outcome != "answered":
            self.transfer = None
        if outcome == "answered":
            self.services.pacer.unregister(self.stream)
            if self.listener is not None:
                self.listener.set_active(False)
        self._feed(menu.TransferEnded(outcome))  # type: ignore[arg-type]

    def agent_audio(self, payload: bytes) -> None:
        """A frame from the bridged agent, relayed to the caller as it arrives."""
        self.rtp.protocol.send(self.session.packet(payload), self.session.remote)
