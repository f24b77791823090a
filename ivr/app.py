"""The process: one reactor, the SIP transport, the pacing clock, worker pools and every call.

`IvrApp` builds the shared services once (prompt catalog, live menu, action registry, speech
model, storage) and creates a `Call` per incoming INVITE. It provides what a call needs
(`ivr.call.CallProcess`) and what an agent leg needs (`ivr.agents.transfer.LegServices`), so
neither reaches anything global, and routes each SIP event to the call or leg it belongs to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import signal
import time
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from redis import Redis
from sqlalchemy.exc import SQLAlchemyError
from threadpoolctl import threadpool_limits
from twisted.internet import task
from twisted.internet.defer import Deferred
from twisted.internet.error import CannotListenError, ReactorNotRunning

from ivr import logs
from ivr.actions.base import ActionRequest, ActionResult
from ivr.actions.counter import sweep_lapsed
from ivr.actions.registry import ActionRegistry, action_outcomes
from ivr.actions.service import ActionContext
from ivr.admission import Admission, AdmissionSettings
from ivr.agents.acd import OFFER_CHANNEL, Acd, Strategy
from ivr.agents.callback_dial import DialPoller
from ivr.agents.queueing import QueuedCaller, QueueDispatcher
from ivr.agents.registrar import RegistrarSettings, Reply
from ivr.agents.registrar_store import RegistrarStore
from ivr.agents.registration import Registration
from ivr.agents.screen_pop import add_transcript
from ivr.agents.transfer import AgentLeg, AgentSettings, CallerSide, publish_context
from ivr.call import Call, CallInfo, CallSettings, TransferLeg
from ivr.config import Config
from ivr.consoles import start_consoles
from ivr.interfaces import DatagramHandler
from ivr.media.frames import Frames
from ivr.media.intake import AudioIntake
from ivr.media.pacer import PacedStream, PacingClock
from ivr.media.prompt_audio import PromptAudio
from ivr.media.prompt_catalog import PromptSettings
from ivr.media.prompt_follower import PromptFollower, first_audio
from ivr.media.recorder import CallRecorder
from ivr.menus import events as menu
from ivr.menus.interpreter import MenuRun
from ivr.menus.live import LiveMenu
from ivr.menus.publishing import MenuFollower, MenuSync, configured_menu_file
from ivr.rtp.g711 import Codec
from ivr.rtp.inband_dtmf import InbandDtmfBank
from ivr.rtp.ports import PortsExhausted, RtpPortPool
from ivr.rtp.transport import RtpEndpoint, RtpReceiver, listen_rtp
from ivr.sip.commands import SipCommands
from ivr.sip.events import CallHandle, Event, IncomingCall, RegisterReceived, RequestHandle
from ivr.sip.tcp_limits import TcpLimits
from ivr.sip.transport import SipTransport
from ivr.sip.useragent import UserAgent
from ivr.speech.events import SpeechEvent
from ivr.speech.listener import CallListener
from ivr.speech.service import SpeechService
from ivr.store.cdr import CallDetail
from ivr.store.cdr_spool import CdrSpool
from ivr.store.db import Database
from ivr.store.migrate import upgrade
from ivr.store.nudges import MENU_CHANNEL, PROMPTS_CHANNEL, NudgeListener
from ivr.store.redis_state import release
from ivr.web.services import WebServices
from ivr.workers import BlockingPool, Coalesced

log = logging.getLogger("ivr.app")

SHUTDOWN_GRACE = 2.0  # seconds for BYEs to be answered before the process exits
ASR_NICE = 10  # the speech recognition threads' niceness relative to the reactor thread
DRAIN_CHECK = 0.5  # seconds between looks, while draining, for the last call to end
LAPSE_SWEEP_INTERVAL = 300.0  # seconds between audit-log sweeps of lapsed temporary losses
FULL_COLLECTION_AFTER = 1000  # middle-generation collections between full ones (CPython: 10)
CDR_WRITE_DELAY = 1.0  # seconds: the records of the calls ending meanwhile share a transaction


class IvrApp:
    def __init__(self, config: Config, reactor: Any) -> None:
        self.config = config
        self.reactor = reactor
        self.scheduler = reactor
        self.monotonic: Callable[[], float] = time.monotonic
        self.wallclock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.call_settings = CallSettings.from_section(config.section("call"))
        self.limits = self.call_settings.limits
        self.inband_dtmf = self.call_settings.inband_dtmf
        self.media_host = config.sip.advertised_host
        self.recordings_dir: Path | None = (
            config.store.data_dir / "recordings" if self.call_settings.record else None
        )

        db_threads = self.call_settings.db_threads
        # Beyond four jobs a thread waiting, an action is answered "busy" at once (PoolBusy).
        self.db_pool = BlockingPool(reactor, "ivr-db", db_threads, max_queued=4 * db_threads)
        # CDRs: spooled to disk, then drained into the database, in order, on one thread.
        self.cdr_pool = BlockingPool(reactor, "ivr-cdr", 1)
        self.cdr_spool = CdrSpool(config.store.data_dir)
        self._cdr_writer = Coalesced(reactor, CDR_WRITE_DELAY, self._drain_cdrs)
        self.schema_ready = False  # set once the start-up upgrade reached the database
        # One writer thread for every recording: each file's writes stay in order.
        self.recording_pool = BlockingPool(reactor, "ivr-rec", 1)
        self.action_context = ActionContext.from_config(config)
        self.calendar = self.action_context.settings.calendar  # agents' hours follow it too
        self.actions = ActionRegistry(self.action_context)
        self.prompt_settings = PromptSettings.from_config(config)
        # Blocking: the reactor waits. The console's edits, from the database, over the files.
        self.prompts = first_audio(self.prompt_settings, self.action_context.db)
        self._log_missing_recordings()
        self.prompt_pool = BlockingPool(reactor, "ivr-prompts", 1)
        self.prompt_follower = PromptFollower(
            self.prompt_settings, self.action_context.db, self.prompts, self.prompt_pool.run,
            reactor, self._prompts_reloaded,
        )  # fmt: skip
        self.menu_follower = MenuFollower(
            configured_menu_file(config),
            self.action_context.db,
            self.wallclock,
            known_prompts=set(self.prompts.catalog.ids()),
            actions=action_outcomes(),
        )
        first = self.menu_follower.start()  # blocking, but the reactor is not running yet
        assert first.live is not None  # start() raises MenuError when there is no menu
        self.menu = LiveMenu(first.live)
        self._menu_synced(first)
        self._menu_polling = False
        speech_settings = config.section("speech")
        # Recognition may lag a little; the media tick may not: its threads yield the cores.
        self.asr_pool = BlockingPool(
            reactor, "ivr-asr", int(speech_settings.get("threads", 2)), nice=ASR_NICE
        )
        self.speech = SpeechService(speech_settings, self.asr_pool)

        self.ports = RtpPortPool(config.rtp.port_low, config.rtp.port_high)
        self.pacer = PacingClock(reactor, on_failure=self._stream_failed)
        self.inband = InbandDtmfBank()
        self.intake = AudioIntake(self.inband)  # callers' audio, decoded once per tick
        # Every tick, after its frames left: RTP read from every socket, its audio analysed,
        # in-band keys found; the reactor itself only wakes for the tick and for SIP.
        self.rtp_receiver = RtpReceiver(self.monotonic)
        self.pacer.add_tick_hook(self.rtp_receiver.drain)
        self.pacer.add_tick_hook(self.intake.tick)
        self.pacer.add_tick_hook(self._detect_inband)
        admission = config.section("admission")
        self.admission = Admission(
            AdmissionSettings.from_section(admission), active_calls=lambda: len(self.calls)
        )
        self.ua = UserAgent(
            host=config.sip.advertised_host,
            port=config.sip.port,
            user_agent=config.sip.user_agent,
            registrar=True,
            admission=self.admission,
            message_gate=self.admission.allows_message,
        )
        self.sip = SipTransport(
            self.ua,
            self._sip_event,
            reactor=reactor,
            clock=self.monotonic,
            tcp_limits=TcpLimits.from_section(admission),
        )
        self.signalling = SipCommands(self.sip)
        self.registration = Registration.build(
            RegistrarSettings.from_section(config.section("agents")),
            self.action_context.db,
            self.action_context.redis,
            self.db_pool.run,
            self._respond,
        )
        self.agent_settings = AgentSettings.from_section(config.section("agents"))
        self.node = f"{config.sip.advertised_host}:{config.sip.port}"
        # Without a fixed `agents.target`, transfers queue for the agents who registered.
        self.acd = Acd(self.action_context.redis, self.node)
        self.registrar_store = RegistrarStore(self.action_context.redis)
        self.queue_dispatcher = QueueDispatcher(self, self.node, self._strategy)
        gateway = config.section("agents").get("callback_gateway")
        self.dialer = DialPoller(self, str(gateway) if gateway else None, reactor)
        self.calls: dict[CallHandle, Call] = {}
        self.legs: dict[CallHandle, AgentLeg] = {}
        self.draining = False
        self.heard: Counter[str] = Counter()  # keys and intents since the consoles last took them
        self._housekeeping = task.LoopingCall(self._sweep)
        self._housekeeping.clock = reactor
        self._lapse_sweeper = task.LoopingCall(self._record_lapses)
        self._lapse_sweeper.clock = reactor
        # One pub/sub listener for the process: a publication elsewhere is polled for at once
        # (the 5 s poll stays the safety net); the queue and the consoles add their channels.
        self.nudges = NudgeListener(self.action_context.redis)
        self.on_nudge(MENU_CHANNEL, lambda _menu: self._poll_menu())
        # A prompt edited in any node's console: this node loads it at once (30 s safety net).
        self.on_nudge(PROMPTS_CHANNEL, self.prompt_follower.nudged)
        # An agent available on any node: this node offers its waiting callers at once.
        self.on_nudge(OFFER_CHANNEL, self.queue_dispatcher.nudged)

    # --- start and stop --------------------------------------------------------------------

    def start(self) -> None:
        self.sip.listen(self.config.sip.host)
        log.info(
            "RTP ports %d-%d; menu %s version %s; speech %s",
            self.config.rtp.port_low,
            self.config.rtp.port_high,
            self.menu.current.name,
            self.menu.current.version[:8],
            "on" if self.speech.enabled else "off (DTMF only)",
        )
        self.pacer.start()
        self._housekeeping.start(5.0, now=False)
        self._lapse_sweeper.start(LAPSE_SWEEP_INTERVAL, now=True)
        self._drain_cdrs()  # records a killed process left in the spool
        self.nudges.start()
        self.prompt_follower.start()
        self.queue_dispatcher.start()
        self.dialer.start()
        log.info("IVR ready")

    def drain(self) -> None:
        """SIGTERM: take no new call (INVITEs and OPTIONS probes get 503, so a dispatcher such
        as Kamailio sends new calls to other nodes), let the calls in progress finish, then
        stop. Calls still up after `call.drain_timeout` seconds get a BYE. A second SIGTERM
        stops at once."""
        if self.draining:
            self.stop_reactor()
            return
        self.draining = True
        self.ua.draining = True
        deadline = self.monotonic() + self.call_settings.drain_timeout
        log.info("draining: %d call(s) in progress, no new calls", len(self.calls))

        def check() -> None:
            if not self.calls:
                log.info("drained: every call has ended")
                self.stop_reactor()
            elif self.monotonic() >= deadline:
                log.info("drain timeout: %d call(s) still up", len(self.calls))
                self.stop_reactor()
            else:
                self.reactor.callLater(DRAIN_CHECK, check)

        check()

    def stop_reactor(self) -> None:
        with contextlib.suppress(ReactorNotRunning):  # already stopping
            self.reactor.stop()

    def stop(self) -> Deferred[None]:
        """Refuse new calls, BYE every call, give the BYEs a moment to be answered."""
        self.draining = True
        self.nudges.stop()
        self.prompt_follower.stop()
        self.queue_dispatcher.stop()
        self.dialer.stop()
        for loop in (self._housekeeping, self._lapse_sweeper):
            if loop.running:
                loop.stop()
        for call in list(self.calls.values()):
            call.hang_up("server shutting down")
        log.info("shutting down: %d calls ended", len(self.calls))
        return task.deferLater(self.reactor, SHUTDOWN_GRACE if self.calls else 0, self._stopped)

    def _stopped(self) -> None:
        self.pacer.stop()
        self.sip.stop()

    def close(self) -> None:
        """After the reactor has stopped: let the nudge thread leave, then close every Redis
        connection, so an embedded Redis stops with the process (see `redis_state.release`)."""
        self.nudges.join(timeout=2.0)
        release(self.action_context.redis)

    def on_nudge(self, channel: str, handler: Callable[[str], None]) -> None:
        """Run `handler(data)` on the reactor for every nudge published on `channel`."""
        self.nudges.on(channel, lambda data: self.reactor.callFromThread(handler, data))

    # --- SIP -------------------------------------------------------------------------------

    def _sip_event(self, event: Event) -> None:
        if isinstance(event, IncomingCall):
            self._incoming(event)
            return
        if isinstance(event, RegisterReceived):
            self.registration.receive(event)
            return
        handler = self.calls.get(event.call) or self.legs.get(event.call)
        if handler is not None:
            handler.on_sip(event)

    def _respond(self, handle: RequestHandle, reply: Reply) -> None:
        self.sip.command(
            lambda ua, now: ua.respond(handle, reply.status, now, reply.reason, reply.headers)
        )

    def _incoming(self, event: IncomingCall) -> None:
        if self.draining:
            self.signalling.reject(event.call, 503)
            return
        call = Call(self, event.call, event.request)
        self.calls[event.call] = call
        call.invited(event.sdp)

    # --- services for calls and agent legs -------------------------------------------------

    def open_rtp(self, on_datagram: DatagramHandler) -> RtpEndpoint:
        """Bind the next free RTP port of the range (raises when none is left)."""
        return listen_rtp(
            self.rtp_receiver, self.ports, on_datagram, interface=self.config.sip.host
        )

    def prompt_frames(self, prompt: menu.PromptRef, codec: Codec) -> Frames:
        return self.prompts.frames(prompt.prompt_id, prompt.variables, codec)

    def menu_run(self, caller: str, call_ref: str) -> MenuRun:
        """A run of the menu version live now; the call keeps it to its end."""
        return MenuRun(
            self.menu.current,
            wallclock=self.wallclock,
            calendar=self.calendar,
            caller=caller,
            call_ref=call_ref,
        )

    def listener_for_call(
        self, call_ref: str, on_event: Callable[[SpeechEvent], None]
    ) -> CallListener | None:
        return self.speech.listener_for_call(call_ref, on_event)

    def run_action(self, request: ActionRequest) -> Deferred[ActionResult]:
        return self.db_pool.run(self.actions.run, request)

    def open_recorder(self, info: CallInfo) -> CallRecorder | None:
        if self.recordings_dir is None:
            return None
        path = self.recordings_dir / f"{info.started_at:%Y%m%d-%H%M%S}-{info.ref}.wav"
        return CallRecorder(path, submit=self._write_recording)

    def _write_recording(self, job: Callable[[], None]) -> None:
        self.recording_pool.run(job).addErrback(
            lambda failure: log.error("recording not written: %s", failure.getErrorMessage())
        )

    def start_transfer(self, call: Call, command: menu.Transfer) -> TransferLeg | None:
        target = self.agent_settings.target
        if target is None:  # the agents' queue: every node's callers, every registered agent
            tree = call.run.tree
            queued = QueuedCaller(
                self, self.queue_dispatcher, call, tree.queue(command.queue), command.context,
                tree.queues,
            )  # fmt: skip
            queued.start()
            return queued
        try:
            leg = AgentLeg(
                self,
                call,
                target,
                self.agent_settings.ring_timeout,
                ref=call.info.ref,
                from_user=call.info.caller or "12333",
                context=command.context,
            )
        except (CannotListenError, PortsExhausted):
            call.log.warning("transfer to %s: no RTP port free", command.queue)
            return None
        self.legs[leg.handle] = leg
        return leg

    # --- services for the agents' queue ----------------------------------------------------

    @property
    def database(self) -> Database:
        return self.action_context.db

    @property
    def redis(self) -> Redis:
        return self.action_context.redis

    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Deferred[Any]:
        return self.db_pool.run(fn, *args)

    def epoch(self) -> float:
        return time.time()

    def call_agent(
        self,
        side: CallerSide,
        contact: str,
        ring_timeout: float,
        *,
        call_id: str,
        caller: str,
        context: Mapping[str, Any],
    ) -> AgentLeg | None:
        """Ring an agent's registered phone for a queued caller; None when no RTP port is free.
        The context is published under the caller's Call-ID, which every node's console finds
        in the agent's state."""
        try:
            leg = AgentLeg(
                self, side, contact, ring_timeout, ref=call_id, from_user=caller or "12333",
                context=context,
            )  # fmt: skip
        except (CannotListenError, PortsExhausted):
            side.log.warning("agent %s not called: no RTP port free", contact)
            return None
        self.legs[leg.handle] = leg
        return leg

    def _strategy(self, queue: str) -> Strategy:
        return Strategy(self.menu.current.queue(queue).strategy)

    def publish_context(self, ref: str, context: Mapping[str, Any]) -> Deferred[None]:
        return self.db_pool.run(publish_context, self.action_context.redis, ref, context)

    def leg_closed(self, handle: CallHandle) -> None:
        self.legs.pop(handle, None)

    def transcript(self, call: Call, text: str) -> None:
        """What the caller said, for the agent's screen pop (any node's console)."""
        call.log.info("transcript: %d characters", len(text))
        self.db_pool.run(add_transcript, self.action_context.redis, call.info.call_id, text)

    def call_finished(self, call: Call) -> None:
        self.calls.pop(call.handle, None)
        if call.answered_at is None:
            return  # refused, or ended before the ACK answered our offer: no call took place
        detail = CallDetail(
            call_id=call.info.call_id,
            started_at=call.info.started_at,
            caller=call.info.caller or None,
            callee=call.info.callee,
            answered_at=call.answered_at,
            ended_at=self.wallclock(),
            menu_version=call.run.tree.version,
            path=tuple(call.run.path),
            outcome=call.last_outcome,
            end_reason=call.end_reason,
        )
        self.cdr_pool.run(self.cdr_spool.append, detail).addErrback(
            lambda failure: call.log.error("CDR not spooled: %s", type(failure.value).__name__)
        )
        self._cdr_writer.request()

    def _drain_cdrs(self) -> None:
        """Move spooled CDRs into the database; they stay spooled while it is down."""

        def drained(count: int) -> None:
            if count > 1:
                log.info("%d spooled call records written to the database", count)

        self.cdr_pool.run(self.cdr_spool.drain, self.action_context.db).addCallbacks(
            drained,
            lambda failure: log.warning("CDRs kept in the spool: %s", type(failure.value).__name__),
        )

    def note_heard(self, what: str) -> None:
        """A key ("按键 1", "按键 •" for a typed digit) or an intent heard, for the dashboard."""
        self.heard[what] += 1

    def _take_heard(self) -> Counter[str]:
        taken, self.heard = self.heard, Counter()
        return taken

    def console_services(self) -> WebServices:
        """What the web consoles may use of this process (they never see the app itself)."""
        ctx = self.action_context
        return WebServices(
            config=self.config,
            db=ctx.db,
            redis=ctx.redis,
            pool=self.db_pool,
            node=self.node,
            wallclock=self.wallclock,
            calls_now=lambda: Counter(
                call.run.node.label for call in self.calls.values() if call.started
            ),
            take_heard=self._take_heard,
            pacing=self.pacer.figures,
            on_nudge=self.on_nudge,
        )

    def _stream_failed(self, stream: PacedStream) -> None:
        """A call's media could not be sent (the pacer dropped it, once): end the call."""
        for call in list(self.calls.values()):
            if call.started and call.stream is stream:
                call.hang_up("media could not be sent")

    # --- periodic work ---------------------------------------------------------------------

    def _detect_inband(self) -> None:
        for handle, digit in self.inband.detect():
            call = self.calls.get(handle)  # type: ignore[call-overload]
            if call is not None:
                call.inband_digit(digit)

    def _sweep(self) -> None:
        """Hang up calls past their limits (`call:` max_duration, media_timeout); pick up an
        edited or newly published menu, and edited prompts or recordings; finish the start-up's
        database work if it was down."""
        if not self.schema_ready:
            self._upgrade_schema()
        elif self.cdr_pool.pending == 0:  # (a look at an empty spool needs no database)
            self._drain_cdrs()
        self._poll_menu()
        self.prompt_follower.look()
        now = self.monotonic()
        for call in list(self.calls.values()):
            call.check_limits(now)

    def _upgrade_schema(self) -> None:
        def upgraded(_: object) -> None:
            self.schema_ready = True
            log.info("database reached: schema up to date")
            self._drain_cdrs()

        self.db_pool.run(upgrade_database, self.config).addCallbacks(
            upgraded,
            lambda failure: log.warning("database still unavailable: %s", failure.type.__name__),
        )

    def _record_lapses(self) -> None:
        """Audit temporary losses that lapsed (their state needs no job; the audit log does)."""

        def recorded(count: int) -> None:
            if count:
                log.info("recorded %d lapsed temporary loss(es) in the audit log", count)

        self.db_pool.run(sweep_lapsed, self.action_context).addCallbacks(
            recorded, lambda failure: log.warning("lapse sweep failed: %s", failure.type.__name__)
        )

    def _poll_menu(self) -> None:
        """Publish an edited menu file and follow the live version, on the database pool."""
        if self._menu_polling:  # the last look is still waiting for the database
            return
        self._menu_polling = True

        def done(result: object) -> None:
            self._menu_polling = False

        self.db_pool.run(self.menu_follower.poll).addCallbacks(
            self._menu_synced,
            lambda failure: log.warning("menu poll failed: %s", failure.getErrorMessage()),
        ).addBoth(done)

    def _prompts_reloaded(self, audio: PromptAudio) -> None:
        """Calls switch to the new audio at their next play."""
        self.prompts = audio
        self.menu_follower.known_prompts = set(audio.catalog.ids())
        self._log_missing_recordings()

    def _log_missing_recordings(self) -> None:
        missing = self.prompts.missing
        if missing:
            log.error(
                "%d prompt clips have no recording and are skipped (python -m ivr prompts "
                "build): %s",
                len(missing),
                ", ".join(clip.name for clip in missing[:10]),
            )

    def _menu_synced(self, sync: MenuSync) -> None:
        if sync.live is not None:
            self.menu.go_live(sync.live)
        if sync.refused:
            log.error(
                "menu refused, running version %s:\n%s",
                self.menu.current.version[:8],
                "\n".join(str(problem) for problem in sync.refused),
            )
        if sync.published is not None:
            log.info(
                "menu %s version %s published from %s",
                sync.published.name,
                sync.published.version[:8],
                self.menu_follower.file,
            )
        if sync.live is not None:
            log.info(
                "menu %s version %s is live (from %s)",
                sync.live.name,
                sync.live.version[:8],
                sync.source,
            )


def run(config: Config, log_level: str = "INFO") -> int:
    """Run the IVR until SIGINT/SIGTERM; returns the process exit status."""
    logs.configure(log_level)
    from twisted.internet import reactor as installed

    reactor: Any = installed  # the platform's default reactor, whatever its interfaces

    try:
        schema_ready = try_upgrade_database(config)
        app = IvrApp(config, reactor)
        app.schema_ready = schema_ready
        app.start()
        start_consoles(reactor, app.console_services())
    except CannotListenError as error:
        log.error("the IVR could not start: %s", error)
        return 1
    except Exception:
        log.exception("the IVR could not start")
        return 1
    quiet_collector()
    single_threaded_blas()
    reactor.addSystemEventTrigger("before", "shutdown", app.stop)
    signal.signal(signal.SIGTERM, lambda *_: reactor.callFromThread(app.drain))
    signal.signal(signal.SIGINT, lambda *_: reactor.callFromThread(app.stop_reactor))
    reactor.run(installSignalHandlers=False)
    app.close()
    return 0


def quiet_collector() -> None:
    """Keep full garbage collections off the media tick once the IVR has started.

    A full collection walks every tracked object while holding the GIL: with the start-up's
    (menus, prompt catalog, SQLAlchemy, Twisted) it took 45-80 ms, and every call's RTP stopped
    that long. Frozen, they are never walked again. What calls leave is reclaimed by reference
    counting (a call leaves no cycle), young cycles by the two young generations; so the full
    collections, which still walk every live call's objects (25-40 ms at 400 calls; 61-68 ms
    measured at 600 and with speech at 400), run after FULL_COLLECTION_AFTER collections of the
    middle generation (about one a second at 400 calls) instead of CPython's 10, which after the
    first one, ~40 s into the load, came whenever the objects promoted since exceeded a quarter
    of those it left: every few seconds."""
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_AFTER)


def single_threaded_blas() -> None:
    """One OpenBLAS thread for the process. The tick's matrix product (in-band DTMF of every
    call: 600 x 160 by 160 x 32 at 600 calls) is too small to share: with worker threads,
    OpenBLAS wakes them for every product and they spin after it, burning the core the reactor
    needs. On one thread it takes 0.15 ms a tick; numpy's einsum loop, used to keep BLAS out,
    took 1.3 ms (6% of a core at 600 calls). Vosk decodes on the ASR pool's own threads."""
    threadpool_limits(1, user_api="blas")


def try_upgrade_database(config: Config) -> bool:
    """Upgrade at start; with the database down the IVR starts anyway (menus that need no
    storage work, actions answer "busy") and the housekeeping sweep upgrades once it is back."""
    try:
        upgrade_database(config)
    except SQLAlchemyError as error:
        log.warning(
            "the database is unavailable at start (%s): actions answer busy until it returns",
            type(error).__name__,
        )
        return False
    return True


def upgrade_database(config: Config) -> None:
    """Bring the schema to head at start-up (idempotent; `python -m ivr db upgrade` is the same)."""
    from ivr.store.db import open_database

    database = open_database(config.store)
    try:
        upgrade(database.engine)
    finally:
        database.dispose()
