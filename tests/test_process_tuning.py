"""What the process sets at its start so that nothing stops or slows the media tick."""

from __future__ import annotations

import gc

from threadpoolctl import threadpool_info, threadpool_limits

from ivr.app import FULL_COLLECTION_AFTER, quiet_collector, single_threaded_blas


def test_the_start_ups_objects_are_frozen_and_full_collections_come_rarely() -> None:
    before = gc.get_threshold()
    try:
        quiet_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == (before[0], before[1], FULL_COLLECTION_AFTER)
    finally:
        gc.set_threshold(*before)
        gc.unfreeze()


def test_blas_runs_on_one_thread_so_the_ticks_products_wake_no_workers() -> None:
    before = threadpool_limits(user_api="blas")  # no limit: remembers what to restore
    try:
        single_threaded_blas()
        blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
        assert blas, "numpy's OpenBLAS is loaded"
        assert all(pool["num_threads"] == 1 for pool in blas)
    finally:
        before.restore_original_limits()
