"""How `./scripts/test` spreads the suite over xdist workers (`--dist loadgroup`).

A group runs on one worker, its tests one after another:
- a test module is a group per storage backend (its module-scoped IVR starts once per backend;
  the [embedded] and [servers] halves of a module run on two workers at once);
- a fault drill (tests/faults) is a group of its own: each has its own servers and IVR.
Groups are handed out in collection order (`--no-loadscope-reorder`), which tests/conftest.py
sorts with `rank`: the slowest groups first (SLOWEST, measured), so that none of them starts
last and runs alone while the other workers idle, then the other end-to-end tests, then the
rest.

xdist's own loadgroup reads `xdist_group` marks through node ids that the worker rewrites, which
pytest 9.2 no longer lets it do (pytest-dev/pytest-xdist#1386): every test became a group of its
own, modules were split over workers, each starting the module's IVR again. So the controller
names the groups itself, from the node ids.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

# Groups of 1-2 minutes or more on a quiet machine (6 workers, 2026-11-30), slowest first.
SLOWEST = (
    "tests/e2e/test_journeys.py",
    "tests/e2e/test_speech_transfer.py",
    "tests/e2e/test_agent_queue.py",
    "tests/faults/test_database_drills.py",
    "tests/faults/test_database_outage_drills.py",
    "tests/faults/test_redis_drills.py",
    "tests/e2e/test_menu_reload.py",
    "tests/e2e/test_kamailio_nodes.py",
    "tests/web/test_agent_browser.py",
    "tests/faults/test_media_impairment.py",
    "tests/faults/test_crash_drills.py",
)


def backend_of(nodeid: str) -> str:
    """The e2e `storage` backend a test runs on: "servers" when that parameter says so."""
    params = nodeid.partition("[")[2].removesuffix("]")
    return "servers" if "servers" in params.split("-") else "embedded"


def group_of(nodeid: str) -> str:
    """The group of a test (see the module's docstring)."""
    module = nodeid.partition("::")[0]
    if module.startswith("tests/faults/"):
        return nodeid
    return f"{module}[{backend_of(nodeid)}]"


def rank(nodeid: str, end_to_end: bool) -> int:
    """Where a test's group goes in the hand-out order: SLOWEST's order, then the other end-to-end
    tests, then the rest."""
    module = nodeid.partition("::")[0]
    if module in SLOWEST:
        return SLOWEST.index(module)
    return len(SLOWEST) + (0 if end_to_end else 1)


class GroupScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with `group_of` as the scope."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)
