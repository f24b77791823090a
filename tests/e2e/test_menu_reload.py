"""A supervisor edits the live menu file while callers are in it (issue 3).

The IVR runs on a copy of config/menus/12333.yaml named by a test config (IVR_CONFIG) and picks
up an edit within about five seconds (it polls the file's mtime). A call keeps the version it
started on; a new call gets the new one; an edit that does not validate is refused with a
message naming file and line, and the last good version stays live.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.e2e.call_log import answered_after, call_lines, events
from tests.e2e.conftest import stop_cleanly
from tests.e2e.server import ROOT, IvrProcess, call, start_ivr

MENU = (ROOT / "config" / "menus" / "12333.yaml").read_text(encoding="utf-8")
MAIN_KEYS = '    keys:\n      "1": query\n      "2": card_services\n'
# The edit a supervisor makes: 信息查询 and 社保卡业务 swap keys on the main menu.
SWAPPED_KEYS = '    keys:\n      "1": card_services\n      "2": query\n'
RELOAD_WAIT = 12.0  # the app polls every 5 s; a reload takes well under a second more


def version_of(text: str) -> str:
    """The version the IVR logs for a menu text (a hash of the file, first 8 characters)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:8]


@pytest.fixture(scope="module")
def menu_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    assert MENU.count(MAIN_KEYS) == 1, "the main menu's keys moved: update this test"
    return tmp_path_factory.mktemp("menus") / "12333.yaml"


@pytest.fixture(scope="module")
def editable(
    storage: tuple[str | None, str | None],
    menu_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[IvrProcess]:
    """An IVR whose menu file is `menu_file`, fresh from the shipped menu (everything else as
    config/ivr.yaml)."""
    menu_file.write_text(MENU, encoding="utf-8")
    settings = yaml.safe_load((ROOT / "config" / "ivr.yaml").read_text(encoding="utf-8"))
    settings["menus"] = {"file": str(menu_file)}
    config = tmp_path_factory.mktemp("config") / "ivr.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    database_url, redis_url = storage
    server = start_ivr(
        tmp_path_factory.mktemp("ivr"),
        database_url=database_url,
        redis_url=redis_url,
        extra_env={"IVR_CONFIG": str(config)},
    )
    yield server
    stop_cleanly(server)


def press_one(server: IvrProcess) -> tuple[str, list[str]]:
    """A new call pressing 1 at the greeting: (its menu version, its log lines)."""
    since = len(server.log())
    report = call(server, [{"at": 1.5, "dtmf": "1"}, {"at": 4, "hangup": True}])
    assert report["connected"] and report["ended"], report
    answered = answered_after(server, since)
    return answered["version"], call_lines(server, answered["ref"])


def test_a_call_keeps_its_version_while_a_new_call_gets_the_edit(
    editable: IvrProcess, menu_file: Path
) -> None:
    old = version_of(MENU)
    assert f"menu 12333 version {old}" in editable.log()
    since = len(editable.log())
    result: dict[str, object] = {}
    # This caller listens to the greeting and presses 1 only after the edit went live.
    phone = threading.Thread(
        target=lambda: result.update(
            call(editable, [{"at": 13, "dtmf": "1"}, {"at": 16, "hangup": True}])
        )
    )
    phone.start()
    answered = answered_after(editable, since)
    ref = answered["ref"]
    assert answered["version"] == old

    edited = MENU.replace(MAIN_KEYS, SWAPPED_KEYS)
    menu_file.write_text(edited, encoding="utf-8")
    live = editable.wait_for_log(
        rf"menu {re.escape(str(menu_file))} version {version_of(edited)} is live",
        timeout=RELOAD_WAIT,
    )
    phone.join(60)
    assert result["connected"] and result["ended"], result
    lines = call_lines(editable, ref)
    pressed = next(line for line in lines if "] key 1 " in line)
    assert editable.log().index(live.group(0)) < editable.log().index(pressed)
    # The call in progress still runs the old tree: 1 is 信息查询 there.
    assert events(lines, "play")[-1] == "query_menu"

    new_version, new_lines = press_one(editable)
    assert new_version == version_of(edited)
    assert "card_services_menu" in events(new_lines, "play"), new_lines


def test_an_invalid_edit_is_refused_naming_the_line_and_the_last_good_version_stays(
    editable: IvrProcess, menu_file: Path
) -> None:
    good = menu_file.read_text(encoding="utf-8")
    broken_key = '      "3": nowhere\n'
    keys_end = good.index('      "2": ', good.index("  main:\n"))
    keys_end = good.index("\n", keys_end) + 1
    broken = good[:keys_end] + broken_key + good[keys_end:]
    line = broken[:keys_end].count("\n") + 1
    since = len(editable.log())
    menu_file.write_text(broken, encoding="utf-8")

    refused = editable.wait_for_log(
        rf"menu {re.escape(str(menu_file))} refused, keeping version {version_of(good)}:\n"
        rf"(?P<problem>.*)",
        timeout=RELOAD_WAIT,
    )
    problem = refused.group("problem")
    assert problem.startswith(f"{menu_file}:{line}: "), problem
    assert "nowhere" in problem, problem
    assert f"version {version_of(broken)}" not in editable.log()[since:]

    version, lines = press_one(editable)
    assert version == version_of(good)
    main_key_one = "card_services_menu" if good.count(SWAPPED_KEYS) else "query_menu"
    assert main_key_one in events(lines, "play"), lines
