"""A queued caller and the node's dispatcher on a fake clock, with the real queue in Redis and
the real queue log in SQL: the call and the agents' phones are fakes that record what they got."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import pytest
from twisted.internet import task
from twisted.internet.defer import Deferred, maybeDeferred

from ivr.agents.acd import OFFER_CHANNEL, Acd, AgentState, Strategy
from ivr.agents.bindings import Binding
from ivr.agents.callbacks import pending
from ivr.agents.queue_log import events_of_call
from ivr.agents.queueing import QueuedCaller, QueueDispatcher
from ivr.agents.registrar_store import RegistrarStore
from ivr.agents.transfer import CallerSide
from ivr.logs import CallLog
from ivr.media.frames import Frames
from ivr.menus.events import PromptRef
from ivr.menus.schema import QueueSpec
from ivr.rtp.g711 import PCMU, Codec
from ivr.store.db import Database
from ivr.store.nudges import scoped
from tests.backends import Stores

SPEC = QueueSpec("社保卡", ring_timeout=20, max_no_answer=1, wrap_up=10, max_wait=300)
T0 = 1_800_000_000.0


class FakeCall:
    def __init__(self, call_id: str, caller: str = "13800138000") -> None:
        self.codec: Codec = PCMU
        self.ended = False
        self.call_id = call_id
        self.caller = caller
        self.log = CallLog(__import__("logging").getLogger("test"), call_id)
        self.played: list[Hashable] = []
        self.outcomes: list[str] = []
        self.hung_up: list[str] = []
        self.heard_from_agent: list[bytes] = []
        self.unbridged = 0

    def play(self, frames: Frames, token: Hashable) -> None:
        self.played.append(token)

    def transfer_ended(self, outcome: str) -> None:
        self.outcomes.append(outcome)

    def agent_audio(self, payload: bytes) -> None:
        self.heard_from_agent.append(payload)

    def hang_up(self, reason: str) -> None:
        self.hung_up.append(reason)

    def unbridge(self) -> None:
        self.unbridged += 1


class FakeLeg:
    def __init__(self, side: CallerSide, contact: str) -> None:
        self.side, self.contact = side, contact
        self.hung_up = False
        self.sent: list[bytes] = []

    def caller_audio(self, payload: bytes) -> None:
        self.sent.append(payload)

    def hang_up(self) -> None:
        self.hung_up = True


class Process:
    """The queue's view of the process: Redis and SQL run at once (synchronously)."""

    def __init__(self, stores: Stores, clock: task.Clock) -> None:
        self.scheduler = clock
        self.clock = clock
        self.acd = Acd(stores.redis, "node-a", node_ttl=1e9)
        self.database: Database = stores.db
        self.registrar_store = RegistrarStore(stores.redis)
        self.legs: list[FakeLeg] = []
        self.prompts: list[PromptRef] = []

    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Deferred[Any]:
        return maybeDeferred(fn, *args)

    def epoch(self) -> float:
        return T0 + self.clock.seconds()

    def prompt_frames(self, prompt: PromptRef, codec: Codec) -> Frames:
        self.prompts.append(prompt)
        return (b"\xff" * 160,)

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
def process(stores: Stores) -> Process:
    return Process(stores, task.Clock())


def staff(process: Process, *agents: str) -> None:
    for n, agent in enumerate(agents):
        binding = Binding(f"sip:{agent}@127.0.0.1:{5070 + n}", T0 + 3600, "r", 1, "x", "udp")
        process.registrar_store.update(agent, T0, lambda _, b=binding: {"k": b})
        process.acd.set_state(agent, AgentState.AVAILABLE, T0 + n, queues=(SPEC.name,))


_ids = itertools.count(1)


def queued(process: Process, dispatcher: QueueDispatcher, caller: str = "13800138000"):
    # Callers arrive at distinct instants, as they do on a real clock: the queue orders by
    # arrival time, and two entries at the same instant would be ordered by Call-ID.
    process.clock.advance(0.001)
    call = FakeCall(f"call-{next(_ids)}", caller)
    queued_caller = QueuedCaller(process, dispatcher, call, SPEC, {"caller": caller})
    queued_caller.start()
    return call, queued_caller


def dispatcher_for(process: Process, strategy: Strategy = Strategy.LONGEST_IDLE) -> QueueDispatcher:
    dispatcher = QueueDispatcher(process, "node-a", lambda queue: strategy)
    dispatcher.start()
    return dispatcher


def events(process: Process, call: FakeCall) -> list[tuple[str, str | None]]:
    return [(e.event, e.agent) for e in events_of_call(process.database, call.call_id)]


def test_caller_hears_position_then_is_bridged_to_the_longest_idle_agent(process: Process) -> None:
    staff(process, "1001", "1002")
    dispatcher = dispatcher_for(process)
    call, caller = queued(process, dispatcher)
    assert call.played == [("queue", 1)]
    assert [p.prompt_id for p in process.prompts] == ["queue_position", "queue_keys"]
    process.clock.advance(0.25)
    (leg,) = process.legs
    assert leg.contact == "sip:1001@127.0.0.1:5070"
    leg.side.ringback((b"",))
    assert call.played[-1] == "ringback"
    leg.side.transfer_ended("answered")
    assert call.outcomes == ["answered"] and caller.agent == "1001"
    caller.caller_audio(b"hello")
    leg.side.agent_audio(b"hi")
    assert leg.sent == [b"hello"] and call.heard_from_agent == [b"hi"]
    process.clock.advance(60)
    caller.hang_up()
    assert leg.hung_up
    assert events(process, call) == [
        ("enter", None), ("offer", "1001"), ("connect", "1001"), ("complete", "1001"),
    ]  # fmt: skip
    complete = events_of_call(process.database, call.call_id)[-1]
    assert complete.talk_s == pytest.approx(60, abs=0.5) and complete.node == "node-a"
    assert process.acd.agent("1001").state is AgentState.WRAP_UP


def test_no_answer_pauses_the_agent_and_rings_the_next(process: Process) -> None:
    staff(process, "1001", "1002")
    dispatcher = dispatcher_for(process)
    call, caller = queued(process, dispatcher)
    process.clock.advance(0.25)
    first = process.legs[0]
    first.side.transfer_ended("no_answer")  # the leg's ring timeout
    assert process.acd.agent("1001").state is AgentState.PAUSED
    assert process.prompts[-1].prompt_id == "queue_still_waiting"
    process.clock.advance(0.25)
    second = process.legs[1]
    assert second.contact.startswith("sip:1002@")
    second.side.transfer_ended("answered")
    assert caller.agent == "1002"
    assert [e for e, _ in events(process, call)] == [
        "enter", "offer", "no_answer", "offer", "connect",
    ]  # fmt: skip


def test_ring_all_bridges_the_first_to_answer_and_cancels_the_others(process: Process) -> None:
    staff(process, "1001", "1002", "1003")
    dispatcher = dispatcher_for(process, Strategy.RING_ALL)
    call, caller = queued(process, dispatcher)
    process.clock.advance(0.25)
    assert len(process.legs) == 3
    for leg in process.legs:
        leg.side.ringback((b"",))
    assert call.played.count("ringback") == 1
    process.legs[1].side.transfer_ended("answered")
    assert caller.agent == "1002"
    assert [leg.hung_up for leg in process.legs] == [True, False, True]
    assert process.acd.agent("1001").state is AgentState.AVAILABLE


def test_callers_are_offered_in_arrival_order(process: Process) -> None:
    dispatcher = dispatcher_for(process)
    _, first = queued(process, dispatcher)
    process.clock.advance(0.1)
    _, second = queued(process, dispatcher)
    staff(process, "1001")  # both wait for the first agent
    assert [
        p.variables.get("ahead") for p in process.prompts if p.prompt_id == "queue_position"
    ] == [0, 1]
    process.clock.advance(0.25)
    assert len(process.legs) == 1
    process.legs[0].side.transfer_ended("answered")
    assert first.agent == "1001" and second.agent is None


class BusyNode(Process):
    """A busy node: its pool runs each job at once, its reactor gets to the result LAG later."""

    LAG = 2.0

    def run_blocking(self, fn: Callable[..., Any], *args: Any) -> Deferred[Any]:
        result = fn(*args)
        arrived: Deferred[Any] = Deferred()
        self.clock.callLater(self.LAG, arrived.callback, result)
        return arrived


def test_an_offer_is_logged_when_the_queue_made_it_not_when_a_busy_node_got_to_it(
    stores: Stores,
) -> None:
    """Two nodes' offers are logged in the order the queue made them, however late either
    node's reactor got to its result (the two-nodes e2e test once saw them swapped)."""
    process = BusyNode(stores, task.Clock())
    made: list[float] = []  # when the queue's OFFER script made an offer
    offer = process.acd.offer

    def offer_and_note(*args: Any) -> Any:
        result = offer(*args)
        if result.offer is not None:
            made.append(process.epoch())
        return result

    process.acd.offer = offer_and_note  # type: ignore[method-assign]
    staff(process, "1001")
    dispatcher = dispatcher_for(process)
    call, _ = queued(process, dispatcher)
    for _ in range(20):
        process.clock.advance(0.25)
    assert len(made) == 1 and len(process.legs) == 1  # rung once the node got to the offer
    offers = [e for e in events_of_call(process.database, call.call_id) if e.event == "offer"]
    assert [e.at.timestamp() for e in offers] == pytest.approx(made, abs=1e-3)


def test_abandon_while_waiting_is_logged_with_position_and_wait(process: Process) -> None:
    dispatcher = dispatcher_for(process)  # nobody staffed
    queued(process, dispatcher)
    call, caller = queued(process, dispatcher)
    process.clock.advance(42)
    caller.hang_up()
    (abandon,) = [e for e in events_of_call(process.database, call.call_id) if e.event == "abandon"]
    assert abandon.position == 2 and abandon.wait_s == pytest.approx(42, abs=0.5)


def test_star_returns_to_the_menu_and_one_leaves_a_callback(process: Process) -> None:
    dispatcher = dispatcher_for(process)
    call, caller = queued(process, dispatcher)
    assert caller.key("*")
    assert call.outcomes == ["left"]
    assert [e for e, _ in events(process, call)] == ["enter", "exit_menu"]
    other, waiting = queued(process, dispatcher, caller="13912345678")
    for digit in "11":  # 1 callback, 1 this number
        waiting.key(digit)
    waiting.key("3")  # tomorrow afternoon
    (request,) = pending(process.database)
    assert (request.number, request.window, request.call_id) == (
        "13912345678", "明天下午", other.call_id,
    )  # fmt: skip
    done_token = other.played[-1]
    waiting.prompt_finished(done_token)
    assert other.hung_up == ["callback requested"]
    waiting.hang_up()
    assert [e for e, _ in events(process, other)] == ["enter", "callback_requested"]


def test_position_is_announced_again_after_the_interval(process: Process) -> None:
    dispatcher = dispatcher_for(process)
    queued(process, dispatcher)
    call, caller = queued(process, dispatcher)
    caller.prompt_finished(call.played[-1])
    assert call.played[-1] == "hold"
    process.clock.advance(SPEC.announce_every)
    assert call.played[-1] == ("queue", 2)
    assert process.prompts[-1].variables["ahead"] == 1


def test_an_offer_for_a_caller_who_left_gives_the_agent_back(process: Process) -> None:
    staff(process, "1001")
    dispatcher = dispatcher_for(process)
    call, caller = queued(process, dispatcher)
    process.clock.advance(0.25)
    caller.hang_up()  # hung up while the agent's phone rang
    assert process.legs[0].hung_up
    assert process.acd.agent("1001").state is AgentState.AVAILABLE
    assert [e for e, _ in events(process, call)] == ["enter", "offer", "abandon"]


def bridged(process: Process, queues: dict[str, QueueSpec]) -> tuple[FakeCall, QueuedCaller]:
    staff(process, "1001")
    dispatcher = dispatcher_for(process)
    call = FakeCall(f"call-{next(_ids)}")
    caller = QueuedCaller(process, dispatcher, call, SPEC, {}, queues)
    caller.start()
    process.clock.advance(0.25)
    process.legs[-1].side.transfer_ended("answered")
    assert caller.agent == "1001"
    return call, caller


def test_agent_transfers_the_caller_back_into_the_menu(process: Process) -> None:
    call, caller = bridged(process, {})
    leg = process.legs[-1]
    process.clock.advance(30)
    leg.side.referred("sip:ivr@127.0.0.1:5060")
    assert leg.hung_up and call.unbridged == 1 and call.outcomes == ["answered", "left"]
    transfer = events_of_call(process.database, call.call_id)[-1]
    assert (transfer.event, transfer.agent, transfer.detail) == (
        "transfer", "1001", "sip:ivr@127.0.0.1:5060",
    )  # fmt: skip
    assert transfer.talk_s == pytest.approx(30, abs=0.5)
    assert process.acd.agent("1001").state is AgentState.WRAP_UP
    caller.hang_up()  # the call ends later in the menu: nothing more for the queue
    assert [e for e, _ in events(process, call)][-1] == "transfer"


@pytest.mark.parametrize(
    "refer_to", ["sip:医保@127.0.0.1:5060", "sip:%E5%8C%BB%E4%BF%9D@127.0.0.1:5060;transport=udp"]
)
def test_agent_transfers_the_caller_to_another_queue(process: Process, refer_to: str) -> None:
    medical = QueueSpec("医保", ring_timeout=20)
    call, caller = bridged(process, {"医保": medical})
    process.acd.set_state("2001", AgentState.AVAILABLE, T0, queues=("医保",))
    binding = Binding("sip:2001@127.0.0.1:5090", T0 + 3600, "r", 1, "x", "udp")
    process.registrar_store.update("2001", T0, lambda _: {"k": binding})
    process.legs[-1].side.referred(refer_to)
    assert caller.spec is medical and call.unbridged == 1
    assert call.played[-1] == ("queue", 1)  # the new queue's position announcement
    process.clock.advance(0.25)
    assert process.legs[-1].contact == "sip:2001@127.0.0.1:5090"
    process.legs[-1].side.transfer_ended("answered")
    assert caller.agent == "2001" and call.outcomes == ["answered", "answered"]
    story = [(e.queue, e.event) for e in events_of_call(process.database, call.call_id)]
    assert story[-4:] == [("社保卡", "transfer"), ("医保", "enter"), ("医保", "offer"),
                          ("医保", "connect")]  # fmt: skip


def offer_nudges(process: Process) -> Any:
    pubsub = process.acd.redis.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(scoped(process.acd.redis, OFFER_CHANNEL))
    pubsub.get_message(timeout=1.0)  # the subscription's confirmation
    return pubsub


def heard(pubsub: Any) -> list[str]:
    out = []
    while (message := pubsub.get_message(timeout=0.2)) is not None:
        out.append(message["data"].decode())
    return out


def test_an_agent_available_on_any_node_is_offered_at_once_on_the_nudge(process: Process) -> None:
    """The ACD script that makes an agent available nudges `ivr:acd:offer`; the node holding
    the waiting caller runs a round on the next reactor turn, not at its 0.25 s safety net."""
    dispatcher = dispatcher_for(process)
    queued(process, dispatcher)
    process.clock.advance(0.3)  # rounds ran: nobody to offer to
    assert process.legs == []
    pubsub = offer_nudges(process)
    try:
        dispatcher.nudged("医保")  # another queue's nudge: nothing to do here
        process.clock.advance(0)
        assert process.legs == []
        staff(process, "1001")  # as another node's console would
        (nudge,) = heard(pubsub)
        assert nudge == SPEC.name
        dispatcher.nudged(nudge)  # what the process's listener hands over on the reactor
        process.clock.advance(0)  # the next reactor turn, long before the periodic round
        (leg,) = process.legs
        assert leg.contact.startswith("sip:1001@")
    finally:
        pubsub.close()


def test_wrap_up_running_out_and_a_first_registration_nudge_the_nodes(process: Process) -> None:
    staff(process, "1001")
    dispatcher = dispatcher_for(process)
    _, caller = queued(process, dispatcher)
    process.clock.advance(0.25)
    process.legs[0].side.transfer_ended("answered")
    pubsub = offer_nudges(process)
    try:
        process.clock.advance(30)
        caller.hang_up()  # wrap-up (10 s) begins: no script runs when it ends
        assert heard(pubsub) == []
        process.clock.advance(SPEC.wrap_up)
        assert heard(pubsub) == [SPEC.name]
        process.acd.set_state("2001", AgentState.AVAILABLE, T0, queues=(SPEC.name,))
        assert heard(pubsub) == [SPEC.name]  # available, but no phone yet: never offered
        binding = Binding("sip:2001@127.0.0.1:5090", T0 + 3600, "r", 1, "x", "udp")
        process.registrar_store.update("2001", T0, lambda _: {"k": binding})
        assert heard(pubsub) == [SPEC.name]  # its phone registered: it may be offered now
        process.registrar_store.update("2001", T0 + 60, lambda _: {"k": binding})
        assert heard(pubsub) == []  # a refresh changes nothing for the queue
    finally:
        pubsub.close()
