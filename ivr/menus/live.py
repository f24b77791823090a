"""The menu version that new calls start on, swapped only for a version that validates.

A call keeps the `MenuTree` it started with (its `MenuRun` holds it), so replacing `current`
never changes a call in progress; the old tree lives as long as a call still uses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from pathlib import Path

from ivr.menus.schema import MenuProblem, MenuTree
from ivr.menus.validate import check_menu_text


class LiveMenu:
    def __init__(
        self,
        current: MenuTree,
        known_prompts: Set[str] | None = None,
        actions: Mapping[str, Set[str]] | None = None,
    ) -> None:
        self.current = current
        self.known_prompts = known_prompts
        self.actions = actions

    def reload_text(self, text: str, file: str) -> list[MenuProblem]:
        """Go live with `text` if it has no problem; otherwise keep the last good version."""
        tree, problems = check_menu_text(text, file, self.known_prompts, self.actions)
        if tree is not None:
            self.current = tree
        return problems

    def reload(self, path: str | Path) -> list[MenuProblem]:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return [MenuProblem(str(path), 1, f"cannot read the file: {exc}")]
        return self.reload_text(text, str(path))
