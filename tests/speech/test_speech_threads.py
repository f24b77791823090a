"""The pool path for real: decoding on BlockingPool threads, events back on the reactor thread.

twisted's task.Clock runs no threads, so a minimal reactor stands in: `callFromThread` queues
the call and the test thread (the "reactor thread") runs the queue, as the real reactor does.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from twisted.internet.defer import Deferred

from ivr.speech.events import IntentHeard, SpeechEvent
from ivr.speech.service import SpeechService
from ivr.workers import BlockingPool

from .signals import call_audio, feed, say, silence

T = TypeVar("T")


class QueueReactor:
    def __init__(self) -> None:
        self.calls: queue.Queue[tuple[Callable[..., Any], tuple[Any, ...], dict[str, Any]]]
        self.calls = queue.Queue()

    def callFromThread(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.calls.put((fn, args, kwargs))

    def run_until(self, done: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not done():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("the pool did not answer in time")
            try:
                fn, args, kwargs = self.calls.get(timeout=remaining)
            except queue.Empty:
                continue
            fn(*args, **kwargs)


@pytest.fixture
def threaded_pool() -> Any:
    reactor = QueueReactor()
    pool = BlockingPool(reactor, "speech-test", max_threads=2)  # type: ignore[arg-type]
    yield reactor, pool
    pool.stop()


def test_calls_are_decoded_on_pool_threads_and_heard_on_the_reactor_thread(
    korean_section: dict[str, Any], threaded_pool: tuple[QueueReactor, BlockingPool]
) -> None:
    reactor, pool = threaded_pool
    reactor_thread = threading.get_ident()
    decoding_threads: set[int] = set()

    class WatchedPool:
        def run(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
            def watched(*inner: Any) -> T:
                decoding_threads.add(threading.get_ident())
                return fn(*inner)

            return pool.run(watched, *args)

    service = SpeechService(korean_section, WatchedPool(), environ={})
    heard: dict[str, tuple[SpeechEvent, int]] = {}

    def on_event_for(call: str) -> Callable[[SpeechEvent], None]:
        return lambda event: heard.setdefault(call, (event, threading.get_ident()))

    listeners = {
        call: service.listener_for_call(call, on_event_for(call)) for call in ("a", "b", "c")
    }
    speech = call_audio(silence(0.3), say("상담원 연결"), silence(1.0))
    for listener in listeners.values():
        assert listener is not None
        feed(listener, speech)  # the audio arrives faster than real time: work piles up
    reactor.run_until(lambda: len(heard) == 3, timeout=60)
    for event, thread in heard.values():
        assert event == IntentHeard("agent", "상담원 연결", 1.0)
        assert thread == reactor_thread
    assert decoding_threads and reactor_thread not in decoding_threads
