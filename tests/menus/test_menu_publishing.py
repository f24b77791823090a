"""Every node on the version published in the database (MenuFollower), on each storage backend.

Each follower plays one IVR node with its own copy of the menu file; the nodes share a database.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Set
from pathlib import Path

import pytest
from sqlalchemy.exc import SQLAlchemyError

from ivr.menus.publishing import MenuFollower
from ivr.menus.schema import PROMPT, MenuError
from ivr.store.db import Database, make_engine
from ivr.store.menu_versions import publications
from tests.backends import Stores
from tests.menus.menu_harness import MINI_MENU, tree_from

NOW = dt.datetime(2026, 11, 29, 2, 0, tzinfo=dt.UTC)
EDITED = MINI_MENU.replace("greet_long: sub_keys", "greet_long: sub_keys_v2")
BROKEN = MINI_MENU.replace("next: confirm", "next: confrim")  # line 32


def edit(path: Path, text: str) -> None:
    """Save `text` as a supervisor would: a new modification time, whatever the clock's grain."""
    before = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(before + 1_000_000_000, before + 1_000_000_000))


def node(
    stores: Stores, directory: Path, text: str = MINI_MENU, prompts: Set[str] | None = None
) -> MenuFollower:
    directory.mkdir(exist_ok=True)
    edit(directory / "test.yaml", text)
    return MenuFollower(directory / "test.yaml", stores.db, lambda: NOW, known_prompts=prompts)


def published(stores: Stores) -> list[tuple[str, str]]:
    """(version, source) of every publication of the test menu, oldest first."""
    return [(p.version, p.source) for p in reversed(publications(stores.db, "test"))]


def test_the_first_node_publishes_its_file_and_starts_on_it(stores: Stores, tmp_path: Path) -> None:
    first = node(stores, tmp_path / "a")
    sync = first.start()
    version = tree_from(MINI_MENU).version
    assert sync.live is not None and sync.live.version == version
    assert sync.published is sync.live and sync.refused == ()
    assert published(stores) == [(version, str(first.file))]
    assert first.poll().live is None  # nothing new


def test_a_node_started_with_a_stale_file_follows_the_newer_publication(
    stores: Stores, tmp_path: Path
) -> None:
    a = node(stores, tmp_path / "a")
    a.start()
    edit(a.file, EDITED)
    assert a.poll().published is not None
    b = node(stores, tmp_path / "b")  # still the first version, which the database has seen
    sync = b.start()
    assert sync.published is None
    assert sync.live is not None and sync.live.version == tree_from(EDITED).version
    assert sync.source == str(a.file)
    assert len(published(stores)) == 2


def test_an_edit_on_one_node_goes_live_on_every_node(stores: Stores, tmp_path: Path) -> None:
    a, b = node(stores, tmp_path / "a"), node(stores, tmp_path / "b")
    a.start(), b.start()
    edit(b.file, EDITED)
    on_b = b.poll()
    assert on_b.published is not None and on_b.live is on_b.published
    on_a = a.poll()
    assert on_a.published is None  # a's file did not change
    assert on_a.live is not None and on_a.live.version == tree_from(EDITED).version
    assert on_a.source == str(b.file)
    assert a.poll().live is None and b.poll().live is None


def test_saving_an_earlier_text_again_puts_it_back_live(stores: Stores, tmp_path: Path) -> None:
    a = node(stores, tmp_path / "a")
    a.start()
    edit(a.file, EDITED)
    a.poll()
    edit(a.file, MINI_MENU)
    sync = a.poll()
    assert sync.live is not None and sync.live.version == tree_from(MINI_MENU).version
    assert [version for version, _ in published(stores)] == [
        tree_from(text).version for text in (MINI_MENU, EDITED, MINI_MENU)
    ]


def test_an_edit_with_a_problem_is_refused_once_naming_the_line(
    stores: Stores, tmp_path: Path
) -> None:
    a = node(stores, tmp_path / "a")
    a.start()
    edit(a.file, BROKEN)
    sync = a.poll()
    assert [str(problem) for problem in sync.refused] == [
        f"{a.file}:32: node 'id': 'next' goes to unknown node 'confrim'"
    ]
    assert sync.live is None and sync.published is None
    assert len(published(stores)) == 1
    assert a.poll().refused == ()  # said once, not every five seconds


def test_renaming_the_menu_while_running_is_refused(stores: Stores, tmp_path: Path) -> None:
    a = node(stores, tmp_path / "a")
    a.start()
    edit(a.file, MINI_MENU.replace("menu: test", "menu: other"))
    (problem,) = a.poll().refused
    assert str(problem) == (
        f"{a.file}:1: the menu is named 'test' on this node; renaming it to 'other' needs a restart"
    )
    assert publications(stores.db, "other") == []


def test_a_publication_this_node_cannot_run_is_refused_and_its_version_kept(
    stores: Stores, tmp_path: Path
) -> None:
    tree = tree_from(MINI_MENU)
    links = [*tree.links, *(link for each in tree.nodes.values() for link in each.links)]
    prompts = {link.target for link in links if link.what == PROMPT}
    old = node(stores, tmp_path / "old", prompts=prompts)
    new = node(stores, tmp_path / "new")  # a node whose catalog has more prompts
    old.start(), new.start()
    edit(new.file, EDITED)  # sub_keys_v2: a prompt the old node's catalog lacks
    new.poll()
    sync = old.poll()
    assert sync.live is None
    assert [problem.message for problem in sync.refused] == [
        "node 'sub': unknown prompt 'sub_keys_v2' in 'greet_long'"
    ]
    assert old.version == tree_from(MINI_MENU).version
    assert old.poll().refused == ()


def test_no_menu_anywhere_refuses_to_start_naming_the_line(stores: Stores, tmp_path: Path) -> None:
    with pytest.raises(MenuError) as refused:
        node(stores, tmp_path / "a", BROKEN).start()
    assert [problem.line for problem in refused.value.problems] == [32]


def test_a_node_with_a_broken_file_starts_on_the_published_version(
    stores: Stores, tmp_path: Path
) -> None:
    node(stores, tmp_path / "a").start()
    sync = node(stores, tmp_path / "b", BROKEN).start()
    assert sync.live is not None and sync.live.version == tree_from(MINI_MENU).version
    assert [problem.line for problem in sync.refused] == [32]


def _down(tmp_path: Path) -> Database:
    """A database that cannot be reached (its directory does not exist)."""
    return Database(make_engine(f"sqlite:///{tmp_path / 'missing' / 'ivr.sqlite3'}"))


def test_an_edit_saved_while_the_database_is_down_is_published_when_it_returns(
    stores: Stores, tmp_path: Path
) -> None:
    """Before: the poll recorded the file's time before publishing, so the failed publication
    was never tried again."""
    a = node(stores, tmp_path / "a")
    a.start()
    edit(a.file, EDITED)
    a.db = _down(tmp_path)
    with pytest.raises(SQLAlchemyError):
        a.poll()
    a.db = stores.db
    sync = a.poll()
    assert sync.published is not None and sync.live is not None
    assert sync.live.version == tree_from(EDITED).version
    assert published(stores)[-1] == (tree_from(EDITED).version, str(a.file))


def test_a_node_starts_on_its_file_with_the_database_down_and_publishes_it_later(
    stores: Stores, tmp_path: Path
) -> None:
    a = node(stores, tmp_path / "a")
    a.db = _down(tmp_path)
    sync = a.start()
    assert sync.live is not None and sync.live.version == tree_from(MINI_MENU).version
    assert sync.published is None
    with pytest.raises(SQLAlchemyError):
        a.poll()  # still down
    a.db = stores.db
    back = a.poll()
    assert back.published is not None and back.live is None  # already running that version
    assert published(stores) == [(tree_from(MINI_MENU).version, str(a.file))]
    assert a.poll().live is None and a.poll().published is None


def test_a_node_started_during_an_outage_follows_a_newer_publication_when_it_returns(
    stores: Stores, tmp_path: Path
) -> None:
    a = node(stores, tmp_path / "a")
    a.start()
    edit(a.file, EDITED)
    a.poll()
    b = node(stores, tmp_path / "b")  # a stale copy of the file
    b.db = _down(tmp_path)
    assert b.start().live.version == tree_from(MINI_MENU).version  # type: ignore[union-attr]
    b.db = stores.db
    back = b.poll()
    assert back.published is None  # the stale file does not undo the newer publication
    assert back.live is not None and back.live.version == tree_from(EDITED).version
