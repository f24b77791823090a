"""A publication nudges every node through Redis pub/sub at once."""

from __future__ import annotations

import threading

from ivr.store.menu_nudge import NudgeListener, nudge_nodes
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

    listeners = [NudgeListener(stores.redis, on(name)) for name in ("a", "b")]
    for listener in listeners:
        listener.start()
    try:
        deadline = threading.Event()
        for _ in range(50):  # subscriptions take effect asynchronously: wait until they count
            if stores.redis.pubsub_numsub("ivr:menu-published")[0][1] == 2:
                break
            deadline.wait(0.1)
        nudge_nodes(stores.redis, "12333")
        assert both.wait(2.0), heard  # generous on a loaded machine; typically milliseconds
        assert sorted(heard) == [("a", "12333"), ("b", "12333")]
    finally:
        for listener in listeners:
            listener.stop()
