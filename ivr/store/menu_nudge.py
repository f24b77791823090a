"""A Redis pub/sub nudge after a menu publication, so every node looks at once.

The database stays the authority: a nudge only makes a node run its usual menu poll now instead
of at the next 5 s tick, and a lost nudge (Redis restarting, a node reconnecting) costs at most
that tick.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis
from redis.exceptions import RedisError

log = logging.getLogger("ivr.store")

CHANNEL = "ivr:menu-published"
RECONNECT_S = 2.0


def nudge_nodes(client: redis.Redis, menu: str) -> None:
    """Tell every node that `menu` has a new publication. BLOCKING (Redis)."""
    try:
        client.publish(CHANNEL, menu)
    except RedisError as error:
        log.warning("menu nudge not sent (nodes follow within 5 s): %s", type(error).__name__)


class NudgeListener:
    """A daemon thread subscribed to the channel; `on_nudge(menu)` runs on that thread, so it
    must hand over to the reactor itself (`reactor.callFromThread`)."""

    def __init__(self, client: redis.Redis, on_nudge: Callable[[str], None]) -> None:
        self._client = client
        self._on_nudge = on_nudge
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="ivr-menu-nudge", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> None:
        """Wait for the thread to leave (it checks for `stop` every second). BLOCKING."""
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _listen(self) -> None:
        while not self._stopping.is_set():
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(CHANNEL)
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        data = message["data"]
                        self._on_nudge(data.decode() if isinstance(data, bytes) else str(data))
                pubsub.close()
            except Exception as error:  # the connection dies in many ways; the nudge is a hint
                if self._stopping.is_set():
                    return  # Redis went away with the process
                log.warning("menu nudges paused (%s); the 5 s poll goes on", type(error).__name__)
                self._stopping.wait(RECONNECT_S)
