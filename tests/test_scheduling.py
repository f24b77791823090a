"""How the suite is spread over xdist workers (tests/scheduling.py)."""

from __future__ import annotations

from pathlib import Path

from tests.scheduling import SLOWEST, group_of, rank

ROOT = Path(__file__).resolve().parent.parent


def test_a_module_is_one_group_per_backend_and_a_fault_drill_a_group_of_its_own() -> None:
    journeys = "tests/e2e/test_journeys.py::test_seeds_loss_path"
    assert group_of(f"{journeys}[embedded]") == group_of(f"{journeys}_too[embedded]")
    assert group_of(f"{journeys}[embedded]") != group_of(f"{journeys}[servers]")
    assert group_of("tests/web/test_menu.py::test_x[servers-chromium]").endswith("[servers]")
    drill = "tests/faults/test_redis_drills.py::test_redis_fails_mid_call"
    assert group_of(f"{drill}[hung]") != group_of(f"{drill}[stopped]")


def test_the_slowest_groups_go_first_then_end_to_end_then_the_rest() -> None:
    order = sorted(
        [
            ("tests/sip/test_parser.py::test_x", False),
            ("tests/e2e/test_admission.py::test_x", True),
            ("tests/faults/test_redis_drills.py::test_x", True),
            ("tests/e2e/test_journeys.py::test_x[embedded]", True),
        ],
        key=lambda test: rank(*test),
    )
    assert [nodeid.split("::")[0].rsplit("/", 1)[1] for nodeid, _ in order] == [
        "test_journeys.py",
        "test_redis_drills.py",
        "test_admission.py",
        "test_parser.py",
    ]


def test_every_slowest_module_exists() -> None:
    assert [module for module in SLOWEST if not (ROOT / module).is_file()] == []
