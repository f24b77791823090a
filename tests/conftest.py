"""Suite-wide: tests that drive real IVR processes, phones and sockets carry the `e2e` marker.

Everything under tests/e2e/, tests/web/ and tests/faults/ (drills on real IVR processes and
storage servers of their own) is end to end; elsewhere a module says so with
`pytestmark = pytest.mark.e2e`. `pytest -m "not e2e"` is the fast suite; `./scripts/test`
runs both, spread over xdist workers (`--dist loadscope`: a module's server starts once).
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent
E2E_DIRECTORIES = ("e2e", "web", "faults")
HEARD_AUDIO = (
    "test_journeys.py",
    "test_sip_calls.py",
    "test_speech_transfer.py",
    "test_agent_queue.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        relative = item.path.resolve().relative_to(TESTS)
        if relative.parts[0] in E2E_DIRECTORIES:
            item.add_marker(pytest.mark.e2e)
        group = "heard-audio" if item.path.name in HEARD_AUDIO else str(relative)
        item.add_marker(pytest.mark.xdist_group(group))
