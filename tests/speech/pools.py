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
