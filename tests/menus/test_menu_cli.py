"""`python -m ivr menus validate FILE`: OK or `FILE:LINE: problem`, and the exit status."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from menu_harness import MINI_MENU

from ivr.config import PROJECT_ROOT
from ivr.menus.cli import main

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
