"""A caller in the shared agent queue, and the node's dispatcher that offers its callers.

`QueuedCaller` is what a call transferring to a queue holds as its transfer leg: it puts the
caller in the queue (`ivr.agents.acd`), runs what the caller hears and may do while waiting
(`ivr.agents.queue_wait`), rings the agent(s) it is offered (`ivr.agents.transfer.AgentLeg`, one
per agent; several for ring-all) and bridges the first to answer; a leg that fails sends the
caller back to the head of the queue. Every step goes to the queue log.

`QueueDispatcher` is one per node: it asks the queue for offers at once when a caller of its
enters (or is back at the head) and when a queue of its waiting callers is nudged
(`ivr:acd:offer`: an agent became available on any node), and four times a second while it has
callers waiting, as the safety net for a lost nudge. Only the head caller of a queue is ever
offered, by its own node, and only the queue's scripts decide who is offered to whom. It also
beats the node's heartbeat, sweeps away what dead nodes left behind, and nudges the nodes when
an agent's wrap-up here runs out (that needs no write, so no script nudges for it).

Redis and SQL run on the process's worker pool (`run_blocking`); timers on its scheduler; all of
this runs on the reactor thread otherwise.
"""

from __future__ import annotations

import datetime as dt
import itertools
import logging
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import unquote

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall
from twisted.python.failure import Failure

from ivr.agents import callbacks, queue_wait
from ivr.agents.acd import (
    Acd,
    AgentState,
    Offer,
    Strategy,
    agent_ready,
    announce_change,
    estimated_wait,
)
from ivr.agents.hold_music import hold_music
from ivr.agents.queue_log import QueueEvent, record
from ivr.agents.registrar_store import RegistrarStore
from ivr.agents.transfer import CallerSide, Leg
from ivr.interfaces import Scheduler
from ivr.logs import CallLog
from ivr.media.frames import Frames
from ivr.menus.events import PromptRef
from ivr.menus.schema import QueueSpec
from ivr.rtp.g711 import Codec
from ivr.store.db import Database

log = logging.getLogger("ivr.agents.queue")

OFFER_INTERVAL = 0.25  # seconds between a node's offer rounds while it has callers waiting
HEARTBEAT_INTERVAL = 5.0
SWEEP_INTERVAL = 10.0
HOLD_LOOPS = 20  # hold music queued at once (16 s each): longer than any announcement gap


class QueueCall(Protocol):
    """What a queued caller needs from its call (`ivr.call.Call`)."""

    @property
    def codec(self) -> Codec: ...
    @property
    def ended(self) -> bool: ...
    @property
    def log(self) -> CallLog: ...
    @property
    def call_id(self) -> str: ...
    @property
    def caller(self) -> str: ...

    def play(self, frames: Frames, token: Hashable) -> None: ...
    def transfer_ended(self, outcome: str) -> None: ...
    def agent_audio(self, payload: bytes) -> None: ...
    def hang_up(self, reason: str) -> None: ...
    def unbridge(self) -> None: ...


class QueueServices(Protocol):
    """What the queue needs from the process (`ivr.app.IvrApp`; fakes in tests)."""

    @property
    def scheduler(self) -> Scheduler: ...
    @property
    def acd(self) -> Acd: ...
    @property
    def database(self) -> Database: ...
    @property
    def registrar_store(self) -> RegistrarStore: ...
    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Deferred[Any]: ...
    def epoch(self) -> float: ...
    def prompt_frames(self, prompt: PromptRef, codec: Codec) -> Frames: ...
    def call_agent(
        self,
        side: CallerSide,
        contact: str,
        ring_timeout: float,
        *,
        call_id: str,
        caller: str,
        context: Mapping[str, Any],
    ) -> Leg | None: ...


@dataclass(frozen=True)
class Offered:
    offer: Offer
    contacts: Mapping[str, str]  # agent -> the Contact to ring (its freshest binding)
    at: float  # epoch seconds when the queue made the offer (not when this node got to it)


def _utc(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.UTC)


class QueuedCaller:
    def __init__(
        self,
        services: QueueServices,
        dispatcher: QueueDispatcher,
        call: QueueCall,
        spec: QueueSpec,
        context: Mapping[str, Any],
        queues: Mapping[str, QueueSpec] | None = None,
    ) -> None:
        """`queues`: where an agent may transfer the caller (the call's menu's queues)."""
        self.services = services
        self.dispatcher = dispatcher
        self.call = call
        self.spec = spec
        self.queues = dict(queues or {})
        self.context = dict(context)
        self.wait = self._wait_for(spec)
        self.legs: dict[str, Leg] = {}  # agent -> its ringing (or bridged) leg
        self.agent: str | None = None  # the agent bridged to
        self.left = False  # out of the queue by its own choice (menu, callback)
        self.closed = False
        self._ringing_heard = False
        self._timer: IDelayedCall | None = None

    def _wait_for(self, spec: QueueSpec) -> queue_wait.QueueWait:
        settings = queue_wait.QueueSettings(spec.announce_every, spec.max_wait)
        return queue_wait.QueueWait(settings, self.call.caller, self.services.epoch())

    # --- entering -------------------------------------------------------------------------

    def start(self) -> None:
        acd, call_id, queue = self.services.acd, self.call.call_id, self.spec.name
        now = self.services.epoch()

        def enter() -> tuple[int, float | None]:
            position = acd.enter(queue, call_id, self.call.caller, now)
            return position, estimated_wait(acd.queue_view(queue), position, now)

        def entered(result: tuple[int, float | None]) -> None:
            position, estimate = result
            self.call.log.info("queued in %s at position %d", queue, position)
            self._write(QueueEvent(_utc(now), queue, call_id, "enter", position=position))
            if self.closed:
                return
            self.dispatcher.waiting(self)
            self._feed(queue_wait.Entered(position, estimate))

        self._blocking(enter, entered, "queue entry")

    # --- from the call --------------------------------------------------------------------

    def key(self, digit: str) -> bool:
        """A key the caller pressed; True when the queue took it (always, until bridged)."""
        if self.agent is not None:
            return False
        self._feed(queue_wait.Key(digit))
        return True

    def prompt_finished(self, token: Hashable) -> None:
        if isinstance(token, tuple) and token[0] == "queue":
            self._feed(queue_wait.PromptDone(token[1]))

    def caller_audio(self, payload: bytes) -> None:
        if self.agent is not None:
            self.legs[self.agent].caller_audio(payload)

    def hang_up(self) -> None:
        """The call ended (either side): stop every leg, settle the queue and the log."""
        if self.closed:
            return
        self.closed = True
        self._cancel_timer()
        self.dispatcher.forget(self)
        acd, call_id, queue, agent = (
            self.services.acd,
            self.call.call_id,
            self.spec.name,
            self.agent,
        )
        for leg in self.legs.values():
            leg.hang_up()
        self.legs.clear()
        now = self.services.epoch()
        if agent is not None:
            self._complete(agent, "complete")
        elif not self.left:

            def abandoned(left: Any) -> None:
                if left is not None:
                    event = QueueEvent(
                        _utc(now), queue, call_id, "abandon", position=left.position,
                        wait_s=round(left.wait_s, 1),
                    )  # fmt: skip
                    self._write(event)

            self._blocking(lambda: acd.leave(call_id, now), abandoned, "queue leave")

    def _complete(self, agent: str, event: str, detail: str | None = None) -> None:
        """The agent's part of the call is over: wrap-up, then the next caller."""
        acd, call_id, queue = self.services.acd, self.call.call_id, self.spec.name
        now, wrap_up = self.services.epoch(), self.spec.wrap_up

        def complete() -> float | None:
            return acd.complete(call_id, agent, now, wrap_up)

        def completed(talk: float | None) -> None:
            self._write(
                QueueEvent(_utc(now), queue, call_id, event, agent, talk_s=talk, detail=detail)
            )
            if talk is not None and wrap_up > 0:
                self.dispatcher.ready_after(agent, wrap_up)

        self._blocking(complete, completed, "queue completion")

    def _referred(self, agent: str, target: str) -> None:
        """The bridged agent transferred the caller (REFER): to another queue when the
        target's user part names one (sip:医保@...), otherwise back into the menu."""
        if self.closed or agent != self.agent:
            return
        self.agent = None
        leg = self.legs.pop(agent, None)
        if leg is not None:
            leg.hang_up()
        # a phone may percent-encode the queue's name (sip:%E5%8C%BB%E4%BF%9D@...; RFC 3261 19.1.2)
        user = unquote(target.partition(":")[2].partition("@")[0].partition(";")[0])
        self._complete(agent, "transfer", target)
        self.call.unbridge()
        spec = self.queues.get(user)
        if spec is None:
            self.call.log.info("agent %s transferred the caller back to the menu", agent)
            self.closed = True
            self._cancel_timer()
            self.dispatcher.forget(self)
            self.call.transfer_ended("left")
            return
        self.call.log.info("agent %s transferred the caller to queue %s", agent, spec.name)
        self.spec = spec
        self.wait = self._wait_for(spec)
        self.start()

    # --- the caller's side (queue_wait commands) -----------------------------------------

    def _feed(self, event: queue_wait.Event) -> None:
        if self.closed:
            return
        for command in self.wait.handle(event, self.services.epoch()):
            self._apply(command)
        self._arm_timer()

    def _apply(self, command: queue_wait.Command) -> None:
        call = self.call
        if isinstance(command, queue_wait.Say):
            frames = tuple(
                itertools.chain.from_iterable(
                    self.services.prompt_frames(PromptRef(p, command.variables), call.codec)
                    for p in command.prompts
                )
            )
            call.log.info("play %s", " ".join(command.prompts))
            call.play(frames, ("queue", command.token))
        elif isinstance(command, queue_wait.HoldMusic):
            call.play(hold_music(call.codec.name) * HOLD_LOOPS, "hold")
        elif isinstance(command, queue_wait.RefreshPosition):
            self._refresh()
        elif isinstance(command, queue_wait.LeaveQueue):
            self._leave(command.to)
        elif isinstance(command, queue_wait.StoreCallback):
            self._store_callback(command)
        elif isinstance(command, queue_wait.BackToMenu):
            self.closed = True
            self._cancel_timer()
            call.transfer_ended("left")
        elif isinstance(command, queue_wait.HangUp):
            call.hang_up(command.reason)

    def _refresh(self) -> None:
        acd, call_id, queue = self.services.acd, self.call.call_id, self.spec.name
        now = self.services.epoch()

        def look() -> tuple[int, float | None]:
            position = acd.position(call_id) or 0
            estimate = estimated_wait(acd.queue_view(queue), position, now) if position else None
            return position, estimate

        self._blocking(look, lambda r: self._feed(queue_wait.Position(*r)), "queue position")

    def _leave(self, to: str) -> None:
        self.left = True
        self.dispatcher.forget(self)
        acd, call_id, queue = self.services.acd, self.call.call_id, self.spec.name
        now = self.services.epoch()

        def left(result: Any) -> None:
            if result is not None and to == "menu":
                event = QueueEvent(
                    _utc(now), queue, call_id, "exit_menu", position=result.position,
                    wait_s=round(result.wait_s, 1),
                )  # fmt: skip
                self._write(event)

        self.call.log.info("left queue %s (%s)", queue, to)
        self._blocking(lambda: acd.leave(call_id, now), left, "queue leave")

    def _store_callback(self, command: queue_wait.StoreCallback) -> None:
        db, call_id, queue = self.services.database, self.call.call_id, self.spec.name
        now = _utc(self.services.epoch())

        def store() -> int:
            request = callbacks.request_callback(
                db, queue, command.number, command.window, call_id, now
            )
            record(
                db,
                QueueEvent(now, queue, call_id, "callback_requested", detail=command.window),
            )
            announce_change(self.services.acd.redis, queues=(queue,))
            return request

        self.call.log.info("callback requested (%s)", command.window)
        self._blocking(store, lambda _: None, "callback request")

    def _arm_timer(self) -> None:
        self._cancel_timer()
        deadline = self.wait.next_deadline()
        if deadline is not None and not self.closed:
            delay = max(0.0, deadline - self.services.epoch())
            self._timer = self.services.scheduler.callLater(delay, self._feed, queue_wait.Timer())

    def _cancel_timer(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    # --- the agents' side -----------------------------------------------------------------

    def offered(self, offered: Offered) -> None:
        """The queue chose agent(s) for this caller: ring them."""
        offer = offered.offer
        self._feed(queue_wait.Offered())
        self._ringing_heard = False
        self._write(
            *(
                QueueEvent(_utc(offered.at), self.spec.name, offer.call_id, "offer", agent)
                for agent in offer.agents
            )
        )
        for agent in offer.agents:
            contact = offered.contacts.get(agent)
            leg = None
            if contact is not None:
                self.call.log.info("offering to agent %s at %s", agent, contact)
                leg = self.services.call_agent(
                    _AgentSide(self, agent),
                    contact,
                    self.spec.ring_timeout,
                    call_id=self.call.call_id,
                    caller=self.call.caller,
                    context=self.context,
                )
            if leg is None:
                self._no_answer(agent, "unreachable")
            else:
                self.legs[agent] = leg

    def _leg_ended(self, agent: str, outcome: str) -> None:
        if self.closed:
            return
        if outcome == "answered":
            self._answered(agent)
        else:
            self.legs.pop(agent, None)
            self._no_answer(agent, "no answer")

    def _answered(self, agent: str) -> None:
        acd, call_id, queue = self.services.acd, self.call.call_id, self.spec.name
        now = self.services.epoch()

        def taken(answered: Any) -> None:
            leg = self.legs.get(agent)
            if answered is None or self.closed or leg is None:
                if leg is not None:
                    self.legs.pop(agent).hang_up()  # the offer had gone: caller left meanwhile
                return
            self.agent = agent
            for other, other_leg in list(self.legs.items()):
                if other != agent:
                    other_leg.hang_up()
                    del self.legs[other]
            self._write(
                QueueEvent(
                    _utc(now), queue, call_id, "connect", agent, wait_s=round(answered.wait_s, 1)
                )
            )
            self.call.log.info(
                "agent %s answered after %.0f s in the queue", agent, answered.wait_s
            )
            self._feed(queue_wait.Connected())
            self.call.transfer_ended("answered")

        self._blocking(lambda: acd.answered(call_id, agent, now), taken, "queue answer")

    def _no_answer(self, agent: str, why: str) -> None:
        acd, call_id, queue = self.services.acd, self.call.call_id, self.spec.name
        now = self.services.epoch()
        limit = self.spec.max_no_answer

        def missed() -> tuple[AgentState, bool]:
            return acd.no_answer(call_id, agent, now, limit)

        def settled(result: tuple[AgentState, bool]) -> None:
            state, requeued = result
            detail = f"{why}; agent {state.value}"
            self._write(QueueEvent(_utc(now), queue, call_id, "no_answer", agent, detail=detail))
            self.call.log.info("agent %s did not take the call (%s)", agent, detail)
            if requeued and not self.closed:
                self.dispatcher.waiting(self)
                self._feed(queue_wait.BackInQueue())

        self._blocking(missed, settled, "queue no-answer")

    def _ringback(self, frames: Frames) -> None:
        if not self._ringing_heard:  # ring-all: one ringback for all the phones
            self._ringing_heard = True
            self.call.play(frames, "ringback")

    # --- helpers --------------------------------------------------------------------------

    def _blocking(self, fn: Callable[[], Any], then: Callable[[Any], None], what: str) -> None:
        def failed(failure: Failure) -> None:
            self.call.log.error("%s failed: %s", what, failure.getErrorMessage())

        self.services.run_blocking(fn).addCallbacks(then, failed)

    def _write(self, *events: QueueEvent) -> None:
        stamped = [replace(event, node=self.dispatcher.node) for event in events]
        self.services.run_blocking(record, self.services.database, *stamped).addErrback(
            lambda failure: log.error("queue log not written: %s", failure.getErrorMessage())
        )


class _AgentSide:
    """One agent leg's view of the queued caller."""

    def __init__(self, queued: QueuedCaller, agent: str) -> None:
        self.queued = queued
        self.agent = agent
        self.codec = queued.call.codec

    @property
    def ended(self) -> bool:
        return self.queued.call.ended

    @property
    def log(self) -> CallLog:
        return self.queued.call.log

    def ringback(self, frames: Frames) -> None:
        self.queued._ringback(frames)

    def transfer_ended(self, outcome: str) -> None:
        self.queued._leg_ended(self.agent, outcome)

    def agent_audio(self, payload: bytes) -> None:
        if self.queued.agent == self.agent:
            self.queued.call.agent_audio(payload)

    def hang_up(self, reason: str) -> None:
        self.queued.call.hang_up(reason)

    def referred(self, target: str) -> None:
        self.queued._referred(self.agent, target)


class QueueDispatcher:
    def __init__(self, services: QueueServices, node: str, strategies: Callable[[str], Strategy]):
        self.services = services
        self.node = node
        self.strategy_of = strategies
        self._waiting: dict[str, QueuedCaller] = {}
        self._busy = False
        self._again = False  # a nudge came during a round: one more round right after it
        self._soon = False  # the pending round is due at once (not the periodic one)
        self._offer_timer: IDelayedCall | None = None
        self._beat_timer: IDelayedCall | None = None
        self._wrap_timers: dict[str, IDelayedCall] = {}
        self._last_sweep = 0.0

    def start(self) -> None:
        self._beat()

    def stop(self) -> None:
        for timer in (self._offer_timer, self._beat_timer, *self._wrap_timers.values()):
            if timer is not None and timer.active():
                timer.cancel()

    def waiting(self, caller: QueuedCaller) -> None:
        """A caller entered the queue, or is back at its head: an offer round at once."""
        self._waiting[caller.call.call_id] = caller
        self._offer_soon()

    def forget(self, caller: QueuedCaller) -> None:
        self._waiting.pop(caller.call.call_id, None)

    def nudged(self, data: str) -> None:
        """An `ivr:acd:offer` nudge (on the reactor): the queues named may have an offer to make
        now; a round at once if this node has callers waiting in one of them."""
        queues = set(data.split())
        if any(caller.spec.name in queues for caller in self._waiting.values()):
            self._offer_soon()

    def ready_after(self, agent: str, wrap_up: float) -> None:
        """The agent's wrap-up ends in `wrap_up` seconds with no write; nudge then, so the nodes
        holding callers of its queues offer at once."""
        old = self._wrap_timers.pop(agent, None)
        if old is not None and old.active():
            old.cancel()

        def ready() -> None:
            self._wrap_timers.pop(agent, None)
            self.services.run_blocking(agent_ready, self.services.acd.redis, agent).addErrback(
                lambda failure: log.warning("wrap-up nudge failed: %s", failure.getErrorMessage())
            )

        self._wrap_timers[agent] = self.services.scheduler.callLater(wrap_up, ready)

    def _offer_soon(self) -> None:
        """A round on the next turn of the reactor (however many nudges come in this one), or
        right after the round in progress."""
        if self._busy:
            self._again = True
            return
        if self._offer_timer is not None and self._offer_timer.active():
            if self._soon:
                return  # already due at once
            self._offer_timer.cancel()
        self._soon = True
        self._offer_timer = self.services.scheduler.callLater(0, self._offer_round)

    def _schedule_offers(self) -> None:
        if self._waiting and (self._offer_timer is None or not self._offer_timer.active()):
            self._offer_timer = self.services.scheduler.callLater(OFFER_INTERVAL, self._offer_round)

    def _offer_round(self) -> None:
        self._offer_timer = None
        self._soon = False
        if not self._waiting:
            return
        if self._busy:  # the last round is still in Redis: one more right after it
            self._again = True
            return
        self._busy = True
        queues = {caller.spec.name for caller in self._waiting.values()}
        rounds = [(queue, self.strategy_of(queue)) for queue in sorted(queues)]
        acd, store, now = self.services.acd, self.services.registrar_store, self.services.epoch()

        def offer_all() -> tuple[list[Offered], list[str]]:
            # Each offer is stamped when its script runs, here on the pool's thread: the queue
            # log's offers must be in the order the queue made them, whichever node's reactor
            # gets to its result first.
            offers: list[Offered] = []
            ghosts: list[str] = []
            for queue, strategy in rounds:
                while True:
                    at = self.services.epoch()
                    result = acd.offer(queue, strategy, at)
                    ghosts += [f"{queue}:{ghost}" for ghost in result.ghosts]
                    if result.offer is None:
                        break
                    contacts = {}
                    for agent in result.offer.agents:
                        bindings = store.bindings(agent, at)
                        if bindings:
                            best = max(bindings.values(), key=lambda b: (b.q, b.expires_at))
                            contacts[agent] = best.contact
                    offers.append(Offered(result.offer, contacts, at))
            return offers, ghosts

        def done(result: tuple[list[Offered], list[str]]) -> None:
            offers, ghosts = result
            for offered in offers:
                caller = self._waiting.pop(offered.offer.call_id, None)
                if caller is None or caller.closed:
                    call_id = offered.offer.call_id  # gone meanwhile: give its agents back
                    self.services.run_blocking(acd.leave, call_id, self.services.epoch())
                    continue
                caller.offered(offered)
            self._log_ghosts(ghosts, now)

        def finished(_: object) -> None:
            self._busy = False
            if self._again:
                self._again = False
                self._offer_soon()
            else:
                self._schedule_offers()

        self.services.run_blocking(offer_all).addCallbacks(
            done, lambda failure: log.error("offer round failed: %s", failure.getErrorMessage())
        ).addBoth(finished)

    def _beat(self) -> None:
        acd, now = self.services.acd, self.services.epoch()
        sweep = now - self._last_sweep >= SWEEP_INTERVAL
        if sweep:
            self._last_sweep = now

        def beat() -> tuple[tuple[str, ...], tuple[str, ...]]:
            acd.heartbeat(now)
            return acd.sweep(now) if sweep else ((), ())

        def swept(result: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
            callers, agents = result
            self._log_ghosts(list(callers), now)
            for agent in agents:
                log.warning("agent %s freed: the node handling its call stopped", agent)

        self.services.run_blocking(beat).addCallbacks(
            swept, lambda failure: log.error("heartbeat failed: %s", failure.getErrorMessage())
        )
        self._beat_timer = self.services.scheduler.callLater(HEARTBEAT_INTERVAL, self._beat)

    def _log_ghosts(self, ghosts: list[str], now: float) -> None:
        if not ghosts:
            return
        events = []
        for ghost in ghosts:
            queue, _, call_id = ghost.partition(":")
            log.warning("caller %s removed from %s: its node stopped", call_id, queue)
            events.append(QueueEvent(_utc(now), queue, call_id, "ghost", node=self.node))
        self.services.run_blocking(record, self.services.database, *events)
