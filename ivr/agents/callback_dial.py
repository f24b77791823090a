""" "Call back now": the IVR rings the agent's phone, then the caller who asked for a callback,
and bridges the two.

The agent console claims a callback request (so no other agent takes it), pauses the agent
(回电, so the queue offers nobody meanwhile) and pushes a dial job to Redis; whichever IVR node
polls it first places the calls, so the console needs no SIP of its own. The caller's number is
reached through `agents.callback_gateway` (a PSTN gateway or trunk, a SIP URI template with
`{number}`). Two `AgentLeg`s are bridged: each relays the other's audio (both through PCMU, so
either side may speak PCMA). The agent leg is placed first; if the agent does not answer or the
caller's leg fails, the request goes back on the list; when the caller answers, it is done.

Jobs and results go to SQL (callback_request, queue_log) on the worker pool.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import redis
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IDelayedCall

from ivr.agents import callbacks
from ivr.agents.acd import announce_change
from ivr.agents.queue_log import QueueEvent, record
from ivr.agents.registrar_store import RegistrarStore
from ivr.agents.transfer import CallerSide, Leg
from ivr.interfaces import Scheduler
from ivr.logs import CallLog
from ivr.masking import mask_digits
from ivr.media.frames import Frames
from ivr.rtp.g711 import PCMU, Codec
from ivr.store.db import Database

log = logging.getLogger("ivr.agents.callback")

DIAL_JOBS = "ivr:callbacks:dial"
POLL_INTERVAL = 1.0
AGENT_RING = 30.0  # seconds the agent's own phone may ring
CALLER_RING = 45.0  # seconds the caller's phone may ring


@dataclass(frozen=True)
class DialJob:
    callback_id: int
    agent: str
    queue: str
    number: str

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str | bytes) -> DialJob:
        return cls(**json.loads(text))


def push_dial(client: redis.Redis, job: DialJob) -> None:
    """BLOCKING (Redis): ask any IVR node to place a callback."""
    client.rpush(DIAL_JOBS, job.to_json())


class DialServices(Protocol):
    """What placing a callback needs from the process (`ivr.app.IvrApp`)."""

    @property
    def database(self) -> Database: ...
    @property
    def registrar_store(self) -> RegistrarStore: ...
    @property
    def redis(self) -> redis.Redis: ...
    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Deferred[Any]: ...
    def epoch(self) -> float: ...
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


class _Side:
    """One leg's view of the bridge: what it hears goes to the other leg."""

    codec: Codec = PCMU

    def __init__(self, bridge: CallbackBridge, which: str) -> None:
        self.bridge = bridge
        self.which = which

    @property
    def ended(self) -> bool:
        return self.bridge.ended

    @property
    def log(self) -> CallLog:
        return self.bridge.log

    def ringback(self, frames: Frames) -> None:
        """The caller's phone rings: the agent, already on the line, hears ringback. (While
        the agent's own phone rings, nobody is on the line to hear it.)"""
        if self.which == "caller":
            self.bridge.ringing_caller()

    def transfer_ended(self, outcome: str) -> None:
        self.bridge.leg_ended(self.which, outcome)

    def agent_audio(self, payload: bytes) -> None:
        self.bridge.relay(self.which, payload)

    def hang_up(self, reason: str) -> None:
        self.bridge.end(f"{self.which} hung up")

    def referred(self, target: str) -> None:
        """A callback is not transferred: the agent calls the caller back from the queue."""
        self.bridge.log.info("transfer to %s refused on a callback", target)


class CallbackBridge:
    def __init__(self, services: DialServices, job: DialJob, agent_contact: str, gateway: str):
        self.services = services
        self.job = job
        self.gateway = gateway
        self.log = CallLog(log, f"cb{job.callback_id}")
        self.ended = False
        self.bridged = False
        self.legs: dict[str, Leg] = {}
        self.ref = f"callback-{job.callback_id}"
        context = {"caller": job.number, "reason": "callback", "path": [], "collected": {}}
        self.log.info("calling agent %s, then %s", job.agent, mask_digits(job.number))
        leg = services.call_agent(
            _Side(self, "agent"), agent_contact, AGENT_RING, call_id=self.ref, caller="12333",
            context=context,
        )  # fmt: skip
        if leg is None:
            self._finish(False, "no RTP port for the agent")
        else:
            self.legs["agent"] = leg

    def leg_ended(self, which: str, outcome: str) -> None:
        if self.ended:
            return
        if outcome != "answered":
            self.legs.pop(which, None)
            self.end(f"the {which} did not answer")
        elif which == "agent":
            self._call_caller()
        else:
            self.bridged = True
            agent = self.legs.get("agent")
            if agent is not None:
                agent.stop_playing()  # the ringback ends: the two talk now
            self.log.info("caller answered: bridged to agent %s", self.job.agent)
            self._settle(True, "answered")

    def ringing_caller(self) -> None:
        agent = self.legs.get("agent")
        if agent is not None:
            agent.play_ringback(CALLER_RING)

    def relay(self, which: str, payload: bytes) -> None:
        other = self.legs.get("caller" if which == "agent" else "agent")
        if self.bridged and other is not None:
            other.caller_audio(payload)

    def end(self, why: str) -> None:
        if self.ended:
            return
        self.ended = True
        for leg in self.legs.values():
            leg.hang_up()
        self.legs.clear()
        self.log.info("callback ended: %s", why)
        if not self.bridged:
            self._settle(False, why)

    def _call_caller(self) -> None:
        target = self.gateway.format(number=self.job.number)
        leg = self.services.call_agent(
            _Side(self, "caller"), target, CALLER_RING, call_id=self.ref, caller="12333",
            context={},
        )  # fmt: skip
        if leg is None:
            self.end("no RTP port for the caller")
        else:
            self.legs["caller"] = leg

    def _finish(self, reached: bool, why: str) -> None:
        self.ended = True
        self._settle(reached, why)

    def _settle(self, reached: bool, why: str) -> None:
        db, job = self.services.database, self.job
        now = dt.datetime.fromtimestamp(self.services.epoch(), dt.UTC)

        def write() -> None:
            callbacks.finish(db, job.callback_id, reached, now)
            detail = "answered" if reached else f"not reached: {why}"
            record(db, QueueEvent(now, job.queue, self.ref, "callback_done", job.agent,
                                  detail=detail))  # fmt: skip
            announce_change(self.services.redis, queues=(job.queue,))

        self.services.run_blocking(write).addErrback(
            lambda failure: self.log.error("callback not settled: %s", failure.getErrorMessage())
        )


class DialPoller:
    """Takes dial jobs from Redis (any node may) and places them."""

    def __init__(self, services: DialServices, gateway: str | None, scheduler: Scheduler) -> None:
        self.services = services
        self.gateway = gateway
        self.scheduler = scheduler
        self.bridges: list[CallbackBridge] = []
        self._busy = False
        self._timer: IDelayedCall | None = None

    def start(self) -> None:
        if self.gateway:
            self._timer = self.scheduler.callLater(POLL_INTERVAL, self._poll)

    def stop(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        for bridge in self.bridges:
            bridge.end("server shutting down")

    def _unreachable(self, job: DialJob, now: float) -> None:
        """The agent has no phone registered: the request goes back on the list. BLOCKING."""
        finished = dt.datetime.fromtimestamp(now, dt.UTC)
        callbacks.finish(self.services.database, job.callback_id, False, finished)
        announce_change(self.services.redis, queues=(job.queue,))

    def _poll(self) -> None:
        self._timer = self.scheduler.callLater(POLL_INTERVAL, self._poll)
        if self._busy:
            return
        self._busy = True
        client, store, now = (
            self.services.redis,
            self.services.registrar_store,
            self.services.epoch(),
        )

        def take() -> tuple[DialJob, str | None] | None:
            raw = client.lpop(DIAL_JOBS)
            if raw is None or isinstance(raw, list):  # (a list only when a count is asked)
                return None
            job = DialJob.from_json(raw)
            bindings = store.bindings(job.agent, now)
            best = max(bindings.values(), key=lambda b: (b.q, b.expires_at)) if bindings else None
            return job, best.contact if best else None

        def place(taken: tuple[DialJob, str | None] | None) -> None:
            if taken is None:
                return
            job, contact = taken
            assert self.gateway is not None
            if contact is None:
                log.warning("callback %d: agent %s has no registered phone", job.callback_id,
                            job.agent)  # fmt: skip
                self.services.run_blocking(self._unreachable, job, now)
                return
            self.bridges = [b for b in self.bridges if not b.ended]
            self.bridges.append(CallbackBridge(self.services, job, contact, self.gateway))

        def done(_: object) -> None:
            self._busy = False

        self.services.run_blocking(take).addCallbacks(
            place, lambda failure: log.error("callback poll failed: %s", failure.getErrorMessage())
        ).addBoth(done)
