""" "Call back now" on a fake clock: the agent's leg first, then the caller's, bridged; a leg
that fails puts the request back on the list. SQL and Redis are real; the legs are fakes."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred, maybeDeferred

from ivr.agents import callbacks
from ivr.agents.bindings import Binding
from ivr.agents.callback_dial import CALLER_RING, DialJob, DialPoller, push_dial
from ivr.agents.queue_log import events_of_call
from ivr.agents.registrar_store import RegistrarStore
from ivr.agents.transfer import CallerSide
from tests.backends import Stores

T0 = 1_800_000_000.0
GATEWAY = "sip:{number}@127.0.0.1:5099"


class FakeLeg:
    def __init__(self, side: CallerSide, target: str) -> None:
        self.side, self.target = side, target
        self.hung_up = False
        self.sent: list[bytes] = []
        self.ringback: list[float] = []  # seconds of ringback asked for
        self.stopped = False

    def caller_audio(self, payload: bytes) -> None:
        self.sent.append(payload)

    def hang_up(self) -> None:
        self.hung_up = True

    def play_ringback(self, seconds: float) -> None:
        self.ringback.append(seconds)

    def stop_playing(self) -> None:
        self.stopped = True


class Process:
    def __init__(self, stores: Stores) -> None:
        self.clock = task.Clock()
        self.database = stores.db
        self.redis = stores.redis
        self.registrar_store = RegistrarStore(stores.redis)
        self.legs: list[FakeLeg] = []

    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Deferred[Any]:
        return maybeDeferred(fn, *args)

    def epoch(self) -> float:
        return T0 + self.clock.seconds()

    def call_agent(
        self,
        side: CallerSide,
        contact: str,
        ring_timeout: float,
        *,
        call_id: str,
        caller: str,
        context: Mapping[str, Any],
    ) -> FakeLeg:
        leg = FakeLeg(side, contact)
        self.legs.append(leg)
        return leg


@pytest.fixture
def dialing(stores: Stores) -> tuple[Process, int]:
    process = Process(stores)
    binding = Binding("sip:1001@127.0.0.1:5070", T0 + 3600, "r", 1, "x", "udp")
    process.registrar_store.update("1001", T0, lambda _: {"k": binding})
    request = callbacks.request_callback(
        stores.db, "agents", "13900001234", "今天", "c1", dt.datetime.now(dt.UTC)
    )
    assert callbacks.claim(stores.db, request, "1001") is not None
    push_dial(stores.redis, DialJob(request, "1001", "agents", "13900001234"))
    DialPoller(process, GATEWAY, process.clock).start()
    process.clock.advance(1.0)
    return process, request


def test_agent_first_then_the_caller_then_bridged_both_ways(dialing: tuple[Process, int]) -> None:
    process, request = dialing
    (agent,) = process.legs
    assert agent.target == "sip:1001@127.0.0.1:5070"
    agent.side.transfer_ended("answered")
    caller = process.legs[1]
    assert caller.target == "sip:13900001234@127.0.0.1:5099"
    caller.side.ringback((b"",))  # what a leg does while its phone rings
    assert agent.ringback == [CALLER_RING] and not agent.stopped
    caller.side.transfer_ended("answered")
    assert agent.stopped
    agent.side.agent_audio(b"agent says")
    caller.side.agent_audio(b"caller says")
    assert caller.sent == [b"agent says"] and agent.sent == [b"caller says"]
    assert callbacks.pending(process.database) == []
    (done,) = events_of_call(process.database, f"callback-{request}")
    assert (done.event, done.agent, done.detail) == ("callback_done", "1001", "answered")
    agent.side.hang_up("the agent hung up")
    assert caller.hung_up


def test_an_unanswered_caller_puts_the_request_back(dialing: tuple[Process, int]) -> None:
    process, request = dialing
    agent = process.legs[0]
    agent.side.transfer_ended("answered")
    process.legs[1].side.transfer_ended("no_answer")
    assert agent.hung_up
    (back,) = callbacks.pending(process.database)
    assert back.id == request and back.state == "pending" and back.agent is None


def test_an_agent_who_does_not_answer_leaves_the_caller_uncalled(
    dialing: tuple[Process, int],
) -> None:
    process, _ = dialing
    process.legs[0].side.transfer_ended("no_answer")
    assert len(process.legs) == 1  # the caller was never rung
    assert callbacks.pending(process.database)[0].state == "pending"
