"""How `./scripts/test` spreads the suite over xdist workers (`--dist loadgroup`).

A group runs on one worker, its tests one after another:
- a test module is a group per storage backend (its module-scoped IVR starts once per backend;
  the [embedded] and [servers] halves of a module run on two workers at once);
- a fault drill (tests/faults) is a group of its own: each has its own servers and IVR;
- the modules that compare what a caller heard with the prompts (HEARD_AUDIO) run one after
  another in one lane per backend, so no more than two of them record at a time (phones'
  recordings glitch when too many compete for two cores). test_speech_transfer has no backend
  parameter: it runs in the servers lane, which is the shorter without it.

xdist's own loadgroup reads `xdist_group` marks through node ids that the worker rewrites, which
pytest 9.2 no longer lets it do (pytest-dev/pytest-xdist#1386): every test became a group of its
own, modules were split over workers, each starting the module's IVR again, and heard-audio
modules ran side by side. So the controller names the groups itself, from the node ids.
Groups are handed out in collection order (`--no-loadscope-reorder`), which
tests/conftest.py sorts longest first.
"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

HEARD_AUDIO = (
    "test_journeys.py",
    "test_sip_calls.py",
    "test_agent_queue.py",
    "test_speech_transfer.py",
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
    backend, name = backend_of(nodeid), module.rsplit("/", 1)[-1]
    if name == "test_speech_transfer.py":
        return "heard-audio-servers"
    if name in HEARD_AUDIO:
        return f"heard-audio-{backend}"
    return f"{module}[{backend}]"


class GroupScheduling(LoadScopeScheduling):
    """xdist's scope scheduling with `group_of` as the scope."""

    def _split_scope(self, nodeid: str) -> str:
        return group_of(nodeid)
