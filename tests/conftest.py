"""Suite-wide: tests that drive real IVR processes, phones and sockets carry the `e2e` marker.

Everything under tests/e2e/, tests/web/ and tests/faults/ (drills on real IVR processes and
storage servers of their own) is end to end; elsewhere a module says so with
`pytestmark = pytest.mark.e2e`. `pytest -m "not e2e"` is the fast suite; `./scripts/test`
runs both, spread over xdist workers in the groups of tests/scheduling.py, the slowest first,
then the other end-to-end modules, then the rest. A worker that has reached the rest lowers its
priority (niceness 10): end-to-end tests still run real-time calls then.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from xdist.remote import Producer

from tests.scheduling import GroupScheduling, rank

TESTS = Path(__file__).resolve().parent
E2E_DIRECTORIES = ("e2e", "web", "faults")
NICE_AFTER_E2E = 10


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.resolve().relative_to(TESTS).parts[0] in E2E_DIRECTORIES:
            item.add_marker(pytest.mark.e2e)

    # stable: a module's tests keep their order
    items.sort(key=lambda item: rank(item.nodeid, item.get_closest_marker("e2e") is not None))


def pytest_runtest_setup(item: pytest.Item) -> None:
    """On a worker, the first test that is not end to end: no e2e test comes after it (groups
    are handed out e2e first), so the worker lowers its priority for good."""
    worker = "PYTEST_XDIST_WORKER" in os.environ
    if worker and item.get_closest_marker("e2e") is None and os.nice(0) < NICE_AFTER_E2E:
        os.nice(NICE_AFTER_E2E - os.nice(0))


@pytest.hookimpl(tryfirst=True)  # before xdist's own, which would make its LoadGroupScheduling
def pytest_xdist_make_scheduler(config: pytest.Config, log: Producer) -> GroupScheduling | None:
    return GroupScheduling(config, log) if config.getvalue("dist") == "loadgroup" else None
