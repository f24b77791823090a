"""Nudges reach every node through Redis pub/sub at once: a menu publication, and any other
channel a reader registered for, also after the listener started."""

from __future__ import annotations

import threading

import redis

from ivr.store.nudges import NudgeListener, nudge_nodes, scoped, send_nudge
from tests.backends import Stores


def test_every_listening_node_hears_the_nudge_at_once(stores: Stores) -> None:
    heard: list[tuple[str, str]] = []
    both = threading.Event()

    def on(node: str):  # type: ignore[no-untyped-def]
        def nudged(menu: str) -> None:
            heard.append((node, menu))
            if len(heard) == 2:
                both.set()

        return nudged

    listeners = [NudgeListener(stores.redis) for _ in ("a", "b")]
    for name, listener in zip(("a", "b"), listeners, strict=True):
        listener.on("ivr:menu-published", on(name))
        listener.start()
    try:
        deadline = threading.Event()
        for _ in range(50):  # subscriptions take effect asynchronously: wait until they count
            if stores.redis.pubsub_numsub(scoped(stores.redis, "ivr:menu-published"))[0][1] == 2:
                break
            deadline.wait(0.1)
        nudge_nodes(stores.redis, "12333")
        assert both.wait(2.0), heard  # generous on a loaded machine; typically milliseconds
        assert sorted(heard) == [("a", "12333"), ("b", "12333")]
    finally:
        for listener in listeners:
            listener.stop()


def test_a_channel_registered_after_start_is_heard_by_its_handlers_only(stores: Stores) -> None:
    heard: list[tuple[str, str]] = []
    got = threading.Event()
    listener = NudgeListener(stores.redis)
    listener.on("ivr:menu-published", lambda menu: heard.append(("menu", menu)))
    listener.start()
    try:

        def offer(data: str) -> None:
            heard.append(("offer", data))
            got.set()

        listener.on("ivr:acd:offer", offer)
        for _ in range(50):
            if stores.redis.pubsub_numsub(scoped(stores.redis, "ivr:acd:offer"))[0][1] == 1:
                break
            got.wait(0.1)
        send_nudge(stores.redis, "ivr:acd:offer", "医保 就业")
        assert got.wait(2.0), heard
        assert heard == [("offer", "医保 就业")]
    finally:
        listener.stop()


def test_a_deployment_on_another_db_of_the_server_is_not_nudged(stores: Stores) -> None:
    """Pub/sub channels span a server's databases; the scoped names keep them apart."""
    pool = stores.redis.connection_pool
    neighbour = redis.Redis(
        connection_pool=redis.ConnectionPool(
            connection_class=pool.connection_class, **{**pool.connection_kwargs, "db": 15}
        )
    )
    heard: list[str] = []
    got = threading.Event()
    listener = NudgeListener(stores.redis)
    listener.on("ivr:menu-published", lambda menu: (heard.append(menu), got.set()))
    listener.start()
    try:
        for _ in range(50):
            if stores.redis.pubsub_numsub(scoped(stores.redis, "ivr:menu-published"))[0][1]:
                break
            got.wait(0.1)
        nudge_nodes(neighbour, "theirs")
        nudge_nodes(stores.redis, "ours")
        assert got.wait(2.0), heard
        got.wait(0.3)  # a nudge from the neighbour would have come first
        assert heard == ["ours"]
    finally:
        listener.stop()
        neighbour.close()
