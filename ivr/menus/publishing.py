"""Every node on the same menu version: the database's newest publication is the live one.

A supervisor edits a menu file on one node (or runs `python -m ivr menus publish/rollback`); that
node validates the text and publishes it to the database, and every node, that one included,
picks the publication up at its next poll and puts it live for new calls. Calls in progress keep
the tree they started on (`LiveMenu`).

At start-up a node publishes its file only if the database has never seen that version: a node
started with a stale copy of the file must not undo a newer publication. While running, any edit
of the file that validates and differs from the live version is published.

With the database down, a node still starts on its file (`start` answers from the file alone and
`poll` does the database part of the start once the database is back); an edit saved during an
outage is published at the first poll that reaches the database, because a file counts as seen
only once its publication committed.

BLOCKING (file and SQL): `start` and `poll` run on a worker thread, one at a time; they return a
`MenuSync` for the reactor to apply and log. `poll` raises the storage error when the database is
down; the caller logs it and polls again later.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from ivr.config import Config
from ivr.menus.schema import MenuError, MenuProblem, MenuTree
from ivr.menus.validate import check_menu_text
from ivr.store.db import Database
from ivr.store.menu_versions import (
    Publication,
    live_publication,
    live_version,
    publish,
    was_published,
)

DEFAULT_MENU_FILE = "config/menus/12333.yaml"


def configured_menu_file(config: Config) -> Path:
    """The menu file this node publishes from (`menus: file:`)."""
    return config.resolve(config.section("menus").get("file", DEFAULT_MENU_FILE))


@dataclass(frozen=True)
class MenuSync:
    """What one look at the file and the database found."""

    live: MenuTree | None = None  # a version new calls should start on from now
    source: str = ""  # where `live` was published from
    published: MenuTree | None = None  # this node published its edited file
    refused: tuple[MenuProblem, ...] = ()  # an edit or a publication that did not validate


class MenuFollower:
    def __init__(
        self,
        file: Path,
        db: Database,
        now: Callable[[], dt.datetime],
        known_prompts: Set[str] | None = None,
        actions: Mapping[str, Set[str]] | None = None,
    ) -> None:
        self.file = file
        self.db = db
        self.now = now
        self.known_prompts = known_prompts
        self.actions = actions
        self.menu = file.stem  # the menu's `menu:` name once the file has been read
        self.version: str | None = None  # the version this node runs
        self._mtime: int | None = None  # of the file as last published (or refused)
        self._refused: set[str] = set()  # published versions this node cannot run
        self._synced = False  # False until start's look at the database has succeeded

    def check(self, text: str, source: str) -> tuple[MenuTree | None, list[MenuProblem]]:
        return check_menu_text(text, source, self.known_prompts, self.actions)

    def start(self) -> MenuSync:
        """The version to start on; `MenuError` when neither the file nor the database has one.

        With the database down, the file's version (if it is valid) and nothing published."""
        mtime = self._file_mtime()
        text, tree, problems = self._read_file()
        if tree is not None:
            self.menu = tree.name
        try:
            sync = self._start_with_database(tree, text, problems)
        except SQLAlchemyError:
            if tree is None:
                raise
            self.version = tree.version
            return MenuSync(tree, str(self.file), None, tuple(problems))
        self._mtime, self._synced = mtime, True
        return sync

    def _start_with_database(
        self, tree: MenuTree | None, text: str, problems: list[MenuProblem]
    ) -> MenuSync:
        published = None
        if tree is not None and not was_published(self.db, tree.name, tree.version):
            published = self._publish(tree, text)
        sync = self._follow(tree, published, problems)
        if sync.live is None and tree is not None:  # the live version does not run on this node
            self.version = tree.version
            return MenuSync(tree, str(self.file), sync.published, sync.refused)
        if sync.live is None:
            raise MenuError(list(sync.refused))
        return sync

    def poll(self) -> MenuSync:
        """Publish the file if it was edited since the last look; then follow the live version."""
        if not self._synced:  # started with the database down: finish the start now
            mtime, running = self._file_mtime(), self.version
            text, tree, problems = self._read_file()
            sync = self._start_with_database(tree, text, problems)
            self._mtime, self._synced = mtime, True
            if sync.live is not None and sync.live.version == running:
                return MenuSync(published=sync.published, refused=sync.refused)
            return sync
        mtime = self._file_mtime()
        if mtime is None or mtime == self._mtime:
            return self._follow(None, None, [])
        text, tree, problems = self._read_file()
        if tree is not None and tree.name != self.menu:
            problems = [MenuProblem(str(self.file), 1, self._renamed(tree.name))]
            tree = None
        published = None
        if tree is not None and live_version(self.db, self.menu) != tree.version:
            published = self._publish(tree, text)
        self._mtime = mtime  # only now: a publication that failed is tried again next poll
        return self._follow(tree, published, problems)

    def _publish(self, tree: MenuTree, text: str) -> Publication:
        return publish(self.db, tree.name, tree.version, text, str(self.file), self.now())

    def _renamed(self, name: str) -> str:
        return (
            f"the menu is named '{self.menu}' on this node; renaming it to '{name}' needs a restart"
        )

    def _follow(
        self,
        from_file: MenuTree | None,
        published: Publication | None,
        problems: list[MenuProblem],
    ) -> MenuSync:
        """Go live with the newest publication unless this node runs it already or cannot run
        it. `published`: the publication of `from_file` this look just made, the newest one.
        Only the version is read each poll; the text only when the version changed."""
        refused = list(problems)
        made = from_file if published is not None else None
        version = published.version if published else live_version(self.db, self.menu)
        if version is None or version == self.version or version in self._refused:
            return MenuSync(published=made, refused=tuple(refused))
        live = published or live_publication(self.db, self.menu)
        assert live is not None  # publications are never deleted
        if from_file is not None and from_file.version == live.version:
            tree: MenuTree | None = from_file  # parsed already
        else:
            tree, trouble = self.check(live.text, live.source)
            if tree is None:
                self._refused.add(live.version)
                refused.extend(trouble)
        if tree is None:
            return MenuSync(published=made, refused=tuple(refused))
        self.version = tree.version
        return MenuSync(live=tree, source=live.source, published=made, refused=tuple(refused))

    def _file_mtime(self) -> int | None:
        try:
            return self.file.stat().st_mtime_ns
        except OSError:
            return None

    def _read_file(self) -> tuple[str, MenuTree | None, list[MenuProblem]]:
        try:
            text = self.file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return "", None, [MenuProblem(str(self.file), 1, f"cannot read the file: {exc}")]
        tree, problems = self.check(text, str(self.file))
        return text, tree, problems
