"""Bounded thread pools for blocking work (SQL, Vosk, TTS), so the reactor thread never blocks.

Results come back to the reactor thread as Deferreds; a full pool queues work instead of starting
more threads, which keeps a burst of calls from turning into a burst of database connections.
A pool given `max_queued` also bounds that queue: beyond it `run` fails at once with `PoolBusy`
(the caller hears "busy" now rather than an answer long after the menu stopped waiting, and a
hung database cannot pile up jobs without end).
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, fail
from twisted.internet.interfaces import IDelayedCall, IReactorCore, IReactorThreads, IReactorTime
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

T = TypeVar("T")


class PoolBusy(Exception):
    """Every thread of the pool is busy and its queue is full: the job was not taken."""


class BlockingPool:
    """One named, bounded pool; started and stopped with the reactor."""

    def __init__(
        self,
        reactor: IReactorThreads,
        name: str,
        max_threads: int,
        max_queued: int | None = None,
        nice: int = 0,
    ) -> None:
        """`max_queued`: jobs that may wait for a thread (None: no bound). `nice`: how much
        lower than the process its threads are scheduled (Linux thread niceness): work that
        may lag (speech recognition) then never takes a core from the reactor thread, whose
        20 ms media tick must not."""
        self._reactor = reactor
        self._pool = ThreadPool(minthreads=0, maxthreads=max_threads, name=name)
        self._started = False
        self.name = name
        self._capacity = None if max_queued is None else max_threads + max_queued
        self.pending = 0  # jobs taken and not yet answered (running or queued)
        self._nice = nice

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
        """Run `fn(*args, **kwargs)` on a pool thread; the Deferred fires on the reactor thread.
        Call it from the reactor thread. Fails with `PoolBusy` when the queue is full."""
        if self._capacity is not None and self.pending >= self._capacity:
            return fail(PoolBusy(self.name))
        self.start()
        self.pending += 1
        if self._nice:
            fn = functools.partial(_lowered, self._nice, fn)
        done = deferToThreadPool(self._reactor, self._pool, fn, *args, **kwargs)
        done.addBoth(self._answered)
        return done

    def _answered(self, result: Any) -> Any:
        self.pending -= 1
        return result


class Coalesced:
    """A job asked for often that needs running only once in a while: the first request runs
    it `delay` seconds later, and every request until then joins that one run. (A CDR written
    to the database at every call's end cost a transaction each: at 400 calls, 22 a second on
    the database thread, ~7% of a core and the GIL taken from the media tick that often.)"""

    def __init__(self, clock: IReactorTime, delay: float, job: Callable[[], object]) -> None:
        self._clock = clock
        self._delay = delay
        self._job = job
        self._call: IDelayedCall | None = None

    def request(self) -> None:
        if self._call is None:
            self._call = self._clock.callLater(self._delay, self._run)

    def _run(self) -> None:
        self._call = None
        self._job()


_thread_state = threading.local()


def _lowered(nice: int, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn` on a pool thread whose scheduling priority was lowered by `nice` (once per thread)."""
    if getattr(_thread_state, "nice", 0) != nice:
        thread = threading.get_native_id()  # a new thread starts at the niceness of the process
        os.setpriority(
            os.PRIO_PROCESS, thread, min(os.getpriority(os.PRIO_PROCESS, thread) + nice, 19)
        )
        _thread_state.nice = nice
    return fn(*args, **kwargs)
