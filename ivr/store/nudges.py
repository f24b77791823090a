"""Redis pub/sub nudges between nodes: hints that something shared changed, never the state.

A nudge makes a node do now what its periodic work would do soon anyway: look at the live menu
(`ivr:menu-published`), load the supervisors' prompt edits (`ivr:prompts-changed`), run an
offer round for its waiting callers (`ivr:acd:offer`), refresh the agent consoles it serves
(`ivr:acd:changed`). The database and Redis stay the authority, and
a lost nudge (Redis restarting, a node reconnecting) costs at most the next periodic look.

One `NudgeListener` per process holds one subscription for every channel on one daemon thread;
whoever wants a channel registers a handler with `on`, and fans out to its own readers.

Pub/sub ignores Redis's numbered databases: a deployment (or a test run) on db 3 would hear the
nudges of another on db 5 of the same server. So every channel goes out under the name
`scoped` gives it, which carries the client's db number.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import redis
from redis.exceptions import RedisError

log = logging.getLogger("ivr.store")

MENU_CHANNEL = "ivr:menu-published"
PROMPTS_CHANNEL = "ivr:prompts-changed"
RECONNECT_S = 2.0


def scoped(client: redis.Redis, channel: str) -> str:
    """The channel's name on the wire for `client`'s database (`ivr:menu-published@0`)."""
    return f"{channel}@{client.connection_pool.connection_kwargs.get('db', 0)}"


def nudge_nodes(client: redis.Redis, menu: str) -> None:
    """Tell every node that `menu` has a new publication. BLOCKING (Redis)."""
    send_nudge(client, MENU_CHANNEL, menu)


def send_nudge(client: redis.Redis, channel: str, data: str) -> None:
    """Publish a nudge; a failure is logged, not raised (the periodic look follows). BLOCKING."""
    try:
        client.publish(scoped(client, channel), data)
    except RedisError as error:
        log.warning("nudge on %s not sent (periodic work follows): %s", channel,
                    type(error).__name__)  # fmt: skip


class NudgeListener:
    """A daemon thread subscribed to every channel a handler was registered for (also after
    `start`: it subscribes within a second). Handlers run on that thread, so they must hand
    over to the reactor themselves (`reactor.callFromThread`)."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._handlers: dict[str, list[Callable[[str], None]]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="ivr-nudges", daemon=True)

    def on(self, channel: str, handler: Callable[[str], None]) -> None:
        with self._lock:
            self._handlers.setdefault(channel, []).append(handler)

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
                subscribed: set[str] = set()
                while not self._stopping.is_set():
                    with self._lock:
                        wanted = set(self._handlers) - subscribed
                    if wanted:
                        pubsub.subscribe(*sorted(scoped(self._client, name) for name in wanted))
                        subscribed |= wanted
                    if not subscribed:
                        self._stopping.wait(1.0)
                        continue
                    message = pubsub.get_message(timeout=1.0)
                    if message is not None:
                        self._deliver(message["channel"], message["data"])
                pubsub.close()
            except Exception as error:  # the connection dies in many ways; a nudge is a hint
                if self._stopping.is_set():
                    return  # Redis went away with the process
                log.warning("nudges paused (%s); periodic work goes on", type(error).__name__)
                self._stopping.wait(RECONNECT_S)

    def _deliver(self, channel: bytes | str, data: bytes | str) -> None:
        name = channel.decode() if isinstance(channel, bytes) else str(channel)
        name = name.rpartition("@")[0]  # as `on` was given it
        text = data.decode() if isinstance(data, bytes) else str(data)
        with self._lock:
            handlers = list(self._handlers.get(name, ()))
        for handler in handlers:
            try:
                handler(text)
            except Exception:  # one reader's bug must not stop the others' nudges
                log.exception("nudge handler for %s failed", name)
