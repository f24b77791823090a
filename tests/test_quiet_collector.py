"""After the start, full garbage collections are rare: they stop every call's media."""

from __future__ import annotations

import gc

from ivr.app import FULL_COLLECTION_AFTER, quiet_collector


def test_the_start_ups_objects_are_frozen_and_full_collections_come_rarely() -> None:
    before = gc.get_threshold()
    try:
        quiet_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (before[0], before[1], FULL_COLLECTION_AFTER)
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()
