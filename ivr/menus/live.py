"""The menu version that new calls start on.

A call keeps the `MenuTree` it started with (its `MenuRun` holds it), so replacing `current`
never changes a call in progress; the old tree lives as long as a call still uses it. Which
version goes live is decided by `publishing.MenuFollower`, from the database every node shares.
"""

from __future__ import annotations

from ivr.menus.schema import MenuTree


class LiveMenu:
    def __init__(self, current: MenuTree) -> None:
        self.current = current

    def go_live(self, tree: MenuTree) -> None:
        self.current = tree
