"""A supervisor edits the live menu while callers are in it, on two IVR nodes (issue 3).

Two IVR processes share one database, each with its own copy of config/menus/12333.yaml named by
a test config (IVR_CONFIG), as nodes behind a SIP dispatcher would. Node A picks up an edit of its
file within about five seconds and publishes it to the database; node B, whose file never
changed, follows the publication. A call keeps the version it started on; a new call gets the new
one; an edit that does not validate is refused with a message naming file and line, and the last
good version stays live; `python -m ivr menus rollback` puts an earlier version back everywhere.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import sys
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
def shared_database(
    storage: tuple[str | None, str | None], tmp_path_factory: pytest.TempPathFactory
) -> str:
    """The database both nodes use: the test server's, or one embedded SQLite file."""
    return storage[0] or f"sqlite:///{tmp_path_factory.mktemp('shared') / 'ivr.sqlite3'}"


def start_node(
    storage: tuple[str | None, str | None],
    database_url: str,
    menu_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> IvrProcess:
    """An IVR whose menu file is `menu_file`, fresh from the shipped menu (everything else as
    config/ivr.yaml)."""
    menu_file.write_text(MENU, encoding="utf-8")
    settings = yaml.safe_load((ROOT / "config" / "ivr.yaml").read_text(encoding="utf-8"))
    settings["menus"] = {"file": str(menu_file)}
    config = tmp_path_factory.mktemp("config") / "ivr.yaml"
    config.write_text(yaml.safe_dump(settings, allow_unicode=True), encoding="utf-8")
    return start_ivr(
        tmp_path_factory.mktemp("ivr"),
        database_url=database_url,
        redis_url=storage[1],
        extra_env={"IVR_CONFIG": str(config)},
    )


@pytest.fixture(scope="module")
def editable(
    storage: tuple[str | None, str | None],
    shared_database: str,
    menu_file: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[IvrProcess]:
    """Node A: the supervisor edits its menu file, `menu_file`."""
    server = start_node(storage, shared_database, menu_file, tmp_path_factory)
    yield server
    stop_cleanly(server)


@pytest.fixture(scope="module")
def other_node(
    storage: tuple[str | None, str | None],
    shared_database: str,
    editable: IvrProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[IvrProcess]:
    """Node B: the same database, its own copy of the menu file, which nobody edits."""
    own_file = tmp_path_factory.mktemp("menus-b") / "12333.yaml"
    server = start_node(storage, shared_database, own_file, tmp_path_factory)
    yield server
    stop_cleanly(server)


def went_live(server: IvrProcess, text: str, source: str) -> re.Match[str]:
    return server.wait_for_log(
        rf"menu 12333 version {version_of(text)} is live \(from {re.escape(source)}\)",
        timeout=RELOAD_WAIT,
    )


def press_one(server: IvrProcess) -> tuple[str, list[str]]:
    """A new call pressing 1 at the greeting: (its menu version, its log lines)."""
    since = len(server.log())
    report = call(server, [{"at": 1.5, "dtmf": "1"}, {"at": 4, "hangup": True}])
    assert report["connected"] and report["ended"], report
    answered = answered_after(server, since)
    return answered["version"], call_lines(server, answered["ref"])


def test_a_call_keeps_its_version_while_a_new_call_gets_the_edit(
    editable: IvrProcess, other_node: IvrProcess, menu_file: Path
) -> None:
    old = version_of(MENU)
    assert f"menu 12333 version {old} published from {menu_file}" in editable.log()
    # B started later with the same text, which the database had seen: B publishes nothing.
    assert f"menu 12333 version {old} is live" in other_node.log()
    assert "published from" not in other_node.log()
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
    live = went_live(editable, edited, str(menu_file))
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
    broken_key = '      "5": nowhere\n'
    keys_end = good.index('      "2": ', good.index("  main:\n"))
    keys_end = good.index("\n", keys_end) + 1
    broken = good[:keys_end] + broken_key + good[keys_end:]
    line = broken[:keys_end].count("\n") + 1
    since = len(editable.log())
    menu_file.write_text(broken, encoding="utf-8")

    refused = editable.wait_for_log(
        rf"menu refused, running version {version_of(good)}:\n(?P<problem>.*)",
        timeout=RELOAD_WAIT,
    )
    problem = refused.group("problem").strip()  # continuation lines are indented in the log
    assert problem.startswith(f"{menu_file}:{line}: "), problem
    assert "nowhere" in problem, problem
    assert f"version {version_of(broken)}" not in editable.log()[since:]

    version, lines = press_one(editable)
    assert version == version_of(good)
    main_key_one = "card_services_menu" if good.count(SWAPPED_KEYS) else "query_menu"
    assert main_key_one in events(lines, "play"), lines


def test_the_other_node_follows_an_edit_published_by_the_first(
    editable: IvrProcess, other_node: IvrProcess, menu_file: Path
) -> None:
    edited = MENU.replace(MAIN_KEYS, SWAPPED_KEYS) + "# 信息查询 and 社保卡业务 swapped\n"
    menu_file.write_text(edited, encoding="utf-8")
    went_live(editable, edited, str(menu_file))
    went_live(other_node, edited, str(menu_file))
    version, lines = press_one(other_node)
    assert version == version_of(edited)
    assert "card_services_menu" in events(lines, "play"), lines


def test_a_rollback_puts_the_earlier_version_back_on_every_node(
    editable: IvrProcess,
    other_node: IvrProcess,
    menu_file: Path,
    shared_database: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    env = {
        **{name: value for name, value in editable.env.items() if name != "IVR_CONFIG"},
        "IVR_DATABASE_URL": shared_database,
        "IVR_DATA_DIR": str(tmp_path_factory.mktemp("cli")),
    }
    # An edit of its own first: the rollback must not depend on what earlier tests left live.
    edited = MENU.replace(MAIN_KEYS, SWAPPED_KEYS) + "# edited before the rollback\n"
    menu_file.write_text(edited, encoding="utf-8")
    for node in (editable, other_node):
        went_live(node, edited, str(menu_file))
    command = [sys.executable, "-m", "ivr", "menus", "rollback", version_of(MENU)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    full = hashlib.sha256(MENU.encode("utf-8")).hexdigest()[:12]
    assert done.stdout == f"menu 12333 version {full} published: every node takes it at once\n"
    for node in (editable, other_node):
        went_live(node, MENU, f"rollback to {full}")
        version, lines = press_one(node)
        assert version == version_of(MENU)
        assert "query_menu" in events(lines, "play"), lines
