"""`python -m ivr menus validate FILE`: OK or `FILE:LINE: problem`, and the exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from menu_harness import MINI_MENU

from ivr.config import PROJECT_ROOT
from ivr.menus.cli import main
from ivr.menus.validate import load_menu

MENU_12333 = PROJECT_ROOT / "config" / "menus" / "12333.yaml"


def test_the_12333_menu_validates(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(MENU_12333)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{MENU_12333}: OK (")
    assert "prompts checked against" in out


def test_a_broken_menu_prints_each_problem_with_its_line_and_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    menu = tmp_path / "broken.yaml"
    menu.write_text(MINI_MENU.replace("yes: lookup", "yes: look"), encoding="utf-8")
    assert main(["validate", str(menu)]) == 1
    line = next(n for n, text in enumerate(MINI_MENU.splitlines(), 1) if "yes: lookup" in text)
    assert capsys.readouterr().out == (
        f"{menu}:{line}: node 'confirm': 'yes' goes to unknown node 'look'\n"
    )


def test_prompt_ids_are_checked_against_the_prompts_file_beside_the_menu(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    menu = tmp_path / "mini.yaml"
    menu.write_text(MINI_MENU, encoding="utf-8")
    (tmp_path / "mini.prompts.yaml").write_text("welcome: 您好。\n", encoding="utf-8")
    assert main(["validate", str(menu)]) == 1
    out = capsys.readouterr().out
    assert f"{menu}:" in out and "unknown prompt 'main_keys' in 'greet_long'" in out


def test_a_missing_file_is_an_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 1
    assert "nope.yaml:1: cannot read the file" in capsys.readouterr().out


def test_python_dash_m_ivr_runs_it() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "menus", "validate", str(MENU_12333)],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert ": OK (" in done.stdout


# --- publish, history, rollback: the live version every node follows ------------------------

SWAP_FROM = '    keys:\n      "1": query\n      "2": card_services\n'
SWAP_TO = '    keys:\n      "1": card_services\n      "2": query\n'


def menus(config_file: Path, *args: str) -> int:
    return main(["--config", str(config_file), *args])


def history(config_file: Path, capsys: pytest.CaptureFixture[str]) -> list[str]:
    capsys.readouterr()
    assert menus(config_file, "history") == 0
    return capsys.readouterr().out.splitlines()


def test_publish_makes_a_version_live_and_history_lists_it(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert menus(config_file, "history") == 1
    assert capsys.readouterr().out == "menu 12333 has never been published\n"
    assert menus(config_file, "publish", str(MENU_12333)) == 0
    first = load_menu(MENU_12333).version
    assert capsys.readouterr().out == (
        f"menu 12333 version {first} published: every node takes it at once\n"
    )
    assert menus(config_file, "publish", str(MENU_12333)) == 0
    assert capsys.readouterr().out == f"menu 12333 version {first} is already live\n"

    edited = tmp_path / "12333.yaml"
    edited.write_text(MENU_12333.read_text(encoding="utf-8").replace(SWAP_FROM, SWAP_TO), "utf-8")
    assert menus(config_file, "publish", str(edited)) == 0
    second = load_menu(edited).version
    lines = history(config_file, capsys)
    assert [line.split()[0] for line in lines] == [second, first]
    assert lines[0].endswith(f"{edited}  live") and lines[1].endswith(str(MENU_12333))

    assert menus(config_file, "rollback", first[:6]) == 0
    lines = history(config_file, capsys)
    assert [line.split()[0] for line in lines] == [first, second, first]
    assert lines[0].endswith(f"rollback to {first}  live")


def test_publish_checks_prompts_against_the_servers_catalog(
    config_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = MENU_12333.read_text(encoding="utf-8")
    main_short = "greet_short: main_menu\n"
    assert text.count(main_short) == 1, "the main menu moved: update this test"
    broken = tmp_path / "12333.yaml"
    broken.write_text(text.replace(main_short, "greet_short: no_such\n"), "utf-8")
    line = text[: text.index(main_short)].count("\n") + 1
    assert menus(config_file, "publish", str(broken)) == 1
    assert capsys.readouterr().out == (
        f"{broken}:{line}: node 'main': unknown prompt 'no_such' in 'greet_short'\n"
    )
    assert menus(config_file, "history") == 1


def test_rollback_to_a_version_never_published_is_refused(
    config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert menus(config_file, "publish", str(MENU_12333)) == 0
    capsys.readouterr()
    assert menus(config_file, "rollback", "ffff") == 1
    assert capsys.readouterr().out == "menu 12333: no published version starts with 'ffff'\n"
