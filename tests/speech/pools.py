"""An executor with BlockingPool's `run` signature that works inline, for thread-free tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer
from twisted.internet.defer import Deferred

T = TypeVar("T")


class InlinePool:
    """Runs blocking work at once on the calling thread, and remembers what it ran."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    def run(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        self.jobs.append(fn.__name__)
        try:
            return defer.succeed(fn(*args))
        except Exception:
            return defer.fail()


class HeldPool:
    """Queues work until the test runs it, like a pool whose threads are all busy."""

    def __init__(self) -> None:
        self.queued: list[tuple[Callable[..., Any], tuple[Any, ...], Deferred[Any]]] = []

    def run(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        work: Deferred[T] = Deferred()
        self.queued.append((fn, args, work))
        return work

    def run_queued(self, name: str) -> int:
        """Run the queued jobs of function `name` (and any they queue); how many ran."""
        ran = 0
        while job := next((job for job in self.queued if job[0].__name__ == name), None):
            self.queued.remove(job)
            fn, args, work = job
            work.callback(fn(*args))
            ran += 1
        return ran

    def names(self) -> list[str]:
        return [fn.__name__ for fn, _, _ in self.queued]
