"""`python -m ivr agents ...` on the embedded defaults: accounts kept as HA1s only."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.agents.cli import main
from ivr.agents.digest import ha1
from ivr.config import load_config
from ivr.store.db import open_database
from ivr.store.models import AgentCredential, ChangeLogEntry, User


def run(config_file: Path, monkeypatch: pytest.MonkeyPatch, *argv: str, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["--config", str(config_file), *argv])


def stored(config_file: Path, username: str) -> tuple[User, AgentCredential]:
    db = open_database(load_config(config_file).store)
    with db.reading() as session:
        row = session.execute(
            select(User, AgentCredential).join(AgentCredential).where(User.username == username)
        ).first()
    db.dispose()
    assert row is not None
    return row[0], row[1]


def change_log(config_file: Path) -> list[str]:
    db = open_database(load_config(config_file).store)
    with db.reading() as session:
        actions = list(session.scalars(select(ChangeLogEntry.action).order_by(ChangeLogEntry.id)))
    db.dispose()
    return actions


def test_add_passwd_disable_and_list(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            config_file,
            monkeypatch,
            "add",
            "1001",
            "--name",
            "王芳",
            "--password-stdin",
            stdin="first-pass\n",
        )
        == 0
    )
    user, agent = stored(config_file, "1001")
    assert user.role == "agent" and user.display_name == "王芳"
    assert agent.ha1_md5 == ha1("MD5", "1001", "12333", "first-pass")
    assert agent.ha1_sha256 == ha1("SHA-256", "1001", "12333", "first-pass")
    assert "first-pass" not in agent.ha1_md5 + agent.ha1_sha256 + user.password_hash
    assert (
        run(config_file, monkeypatch, "passwd", "1001", "--password-stdin", stdin="second-pass\n")
        == 0
    )
    assert stored(config_file, "1001")[1].ha1_md5 == ha1("MD5", "1001", "12333", "second-pass")
    assert run(config_file, monkeypatch, "disable", "1001") == 0
    assert stored(config_file, "1001")[0].disabled is True
    assert change_log(config_file) == ["user.add", "user.passwd", "user.disable"]
    capsys.readouterr()
    assert run(config_file, monkeypatch, "list") == 0
    listing = capsys.readouterr().out
    assert "1001" in listing and "王芳" in listing and "disabled" in listing


def test_refusals_are_clear(
    config_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(config_file, monkeypatch, "add", "1001", "--password-stdin", stdin="short\n") == 1
    assert "密码至少 8 位" in capsys.readouterr().err
    assert (
        run(config_file, monkeypatch, "add", "bad name", "--password-stdin", stdin="long-enough\n")
        == 1
    )
    assert (
        run(config_file, monkeypatch, "add", "1001", "--password-stdin", stdin="long-enough\n") == 0
    )
    assert (
        run(config_file, monkeypatch, "add", "1001", "--password-stdin", stdin="long-enough\n") == 1
    )
    assert "已存在" in capsys.readouterr().err
    assert (
        run(config_file, monkeypatch, "passwd", "nobody", "--password-stdin", stdin="long-enough\n")
        == 1
    )
