"""The blocking pool bounds its queue: beyond it a job is refused at once, not queued for good."""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from typing import Any

from twisted.internet.task import Clock

from ivr.workers import BlockingPool, Coalesced, PoolBusy


class ThreadedReactor:
    """What `deferToThreadPool` needs of a reactor: results handed back to the test's thread."""

    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...]]] = queue.Queue()

    def callFromThread(self, fn: Callable[..., Any], *args: Any) -> None:
        self.calls.put((fn, args))

    def run_one(self, timeout: float = 10) -> None:
        fn, args = self.calls.get(timeout=timeout)
        fn(*args)


def test_a_full_queue_refuses_work_at_once_and_takes_it_again_when_drained() -> None:
    reactor = ThreadedReactor()
    pool = BlockingPool(reactor, "test-db", max_threads=1, max_queued=1)  # type: ignore[arg-type]
    release = threading.Event()
    answers: list[object] = []
    try:
        for _ in range(2):  # one running, one queued
            pool.run(release.wait, 10).addBoth(answers.append)
        refused: list[Any] = []
        pool.run(release.wait, 10).addErrback(refused.append)
        assert len(refused) == 1 and refused[0].check(PoolBusy)
        release.set()
        reactor.run_one()
        reactor.run_one()
        assert answers == [True, True] and pool.pending == 0
        pool.run(lambda: "again").addBoth(answers.append)
        reactor.run_one()
        assert answers[-1] == "again"
    finally:
        release.set()
        pool.stop()


def test_a_pool_without_a_bound_queues_everything() -> None:
    reactor = ThreadedReactor()
    pool = BlockingPool(reactor, "test-rec", max_threads=1)  # type: ignore[arg-type]
    release = threading.Event()
    answers: list[object] = []
    try:
        for _ in range(20):
            pool.run(release.wait, 10).addBoth(answers.append)
        release.set()
        for _ in range(20):
            reactor.run_one()
        assert answers == [True] * 20
    finally:
        pool.stop()


def test_a_pool_with_nice_runs_its_jobs_on_threads_scheduled_lower() -> None:
    reactor = ThreadedReactor()
    pool = BlockingPool(reactor, "test-asr", max_threads=1, nice=5)  # type: ignore[arg-type]
    plain = BlockingPool(reactor, "test-db", max_threads=1)  # type: ignore[arg-type]
    seen: list[object] = []

    def own_priority() -> int:
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    try:
        base = os.getpriority(os.PRIO_PROCESS, 0)
        pool.run(own_priority).addBoth(seen.append)
        reactor.run_one()
        plain.run(own_priority).addBoth(seen.append)
        reactor.run_one()
        assert seen == [min(base + 5, 19), base]
    finally:
        pool.stop()
        plain.stop()


def test_requests_until_a_coalesced_job_runs_share_that_one_run() -> None:
    clock = Clock()
    runs: list[float] = []
    job = Coalesced(clock, 1.0, lambda: runs.append(clock.seconds()))
    job.request()
    clock.advance(0.4)
    job.request()
    job.request()
    clock.advance(0.6)
    assert runs == [1.0]
    clock.advance(5.0)
    assert runs == [1.0]  # nothing asked since
    job.request()  # asked again after the run: a run of its own
    clock.advance(1.0)
    assert runs == [1.0, 7.0]
