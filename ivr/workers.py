"""Bounded thread pools for blocking work (SQL, Vosk, TTS), so the reactor thread never blocks.

Results come back to the reactor thread as Deferreds; a full pool queues work instead of starting
more threads, which keeps a burst of calls from turning into a burst of database connections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorCore, IReactorThreads
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")


class BlockingPool:
    """One named, bounded pool; started and stopped with the reactor."""

    def __init__(self, reactor: IReactorThreads, name: str, max_threads: int) -> None:
        self._reactor = reactor
        self._pool = ThreadPool(minthreads=0, maxthreads=max_threads, name=name)
        self._started = False

    def start(self) -> None:
        if not self._started:
            self._pool.start()
            self._started = True
            if IReactorCore.providedBy(self._reactor):
                self._reactor.addSystemEventTrigger("during", "shutdown", self.stop)

    def stop(self) -> None:
        if self._started:
            self._started = False
            self._pool.stop()

    def run(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> Deferred[T]:
        """Run `fn(*args, **kwargs)` on a pool thread; the Deferred fires on the reactor thread."""
        self.start()
        return deferToThreadPool(self._reactor, self._pool, fn, *args, **kwargs)
