"""What the menu pages do, away from HTTP: check a text as the server would, describe its tree
for the editor, publish or roll back with author and message, keep drafts.

Checking is the same as `python -m ivr menus publish` (the server's prompt catalog and action
registry), with the same `FILE:LINE: message` texts, FILE being the configured menu file.
BLOCKING (SQL, Redis, YAML parsing): every method runs on the worker pool.
"""

from __future__ import annotations

import datetime as dt
import difflib
from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import redis

from ivr.config import PROJECT_ROOT
from ivr.menus.loader import parse_menu_text
from ivr.menus.schema import NODE, PROMPT, MenuProblem, MenuTree, Node
from ivr.menus.validate import check_menu_text, validate_menu
from ivr.store.change_log import record_change
from ivr.store.db import Database
from ivr.store.menu_drafts import Draft, drop_draft, load_draft, save_draft
from ivr.store.menu_versions import Publication, live_publication, publication, publications
from ivr.store.menu_versions import publish as publish_version
from ivr.store.nudges import nudge_nodes


class PublishRefused(ValueError):
    def __init__(self, message: str, problems: list[MenuProblem] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


@dataclass(frozen=True)
class Checked:
    problems: list[MenuProblem]
    tree: MenuTree | None  # parsed even when references are wrong, for the tree view
    version: str | None
    touched_prompts: list[str] = field(default_factory=list)  # compared with the live version

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": not self.problems,
            "version": self.version,
            "problems": [
                {"line": p.line, "message": p.message, "text": str(p)} for p in self.problems
            ],
            "tree": tree_json(self.tree) if self.tree is not None else None,
            "touched_prompts": self.touched_prompts,
        }


def _prompts_by_node(tree: MenuTree) -> dict[str, tuple[Node, set[str]]]:
    """Each node without its position (moving text is no change), with the prompts it plays."""
    return {
        node.id: (
            replace(node, line=0, links=()),
            {link.target for link in node.links if link.what == PROMPT},
        )
        for node in tree.nodes.values()
    }


def touched_prompts(draft: MenuTree, live: MenuTree | None) -> list[str]:
    """The prompts of every node the draft adds, removes or changes: what a caller would hear
    differently, and what to listen to before publishing."""
    before = _prompts_by_node(live) if live is not None else {}
    after = _prompts_by_node(draft)
    touched: set[str] = set()
    for node_id in before.keys() | after.keys():
        old, new = before.get(node_id), after.get(node_id)
        if old is None or new is None or old[0] != new[0]:
            touched |= (old[1] if old else set()) | (new[1] if new else set())
    return sorted(touched)


def tree_json(tree: MenuTree) -> dict[str, Any]:
    """The editor's tree view: nodes in file order with their exits and prompts."""
    return {
        "name": tree.name,
        "start": tree.start,
        "globals": dict(tree.globals),
        "intents": dict(tree.intents),
        "nodes": [
            {
                "id": node.id,
                "kind": node.kind.value,
                "label": node.label,
                "line": node.line,
                "exits": [
                    {"via": exit_name(link.field), "target": link.target, "line": link.line}
                    for link in node.links
                    if link.what == NODE
                ],
                "prompts": sorted({link.target for link in node.links if link.what == PROMPT}),
            }
            for node in sorted(tree.nodes.values(), key=lambda node: node.line)
        ],
    }


def exit_name(field: str) -> str:
    """How the tree view names an exit: `node 'main'.keys.1` -> `按1`, `outcomes.ok` -> `ok`."""
    if ".keys." in field or field.startswith("keys."):
        return f"按{field.rsplit('.', 1)[-1]}"
    return field.removeprefix("outcomes.")


class MenuWork:
    def __init__(
        self,
        db: Database,
        redis_client: redis.Redis,
        menu_file: Path,
        known_prompts: Set[str],
        actions: Mapping[str, Set[str]],
    ) -> None:
        self.db = db
        self.redis = redis_client
        self.file = menu_file
        self.label = _relative(menu_file)  # as `python -m ivr menus validate` is usually run
        self.known_prompts = known_prompts
        self.actions = actions
        tree, _ = parse_menu_text(_read(menu_file), self.label)
        self.menu = tree.name if tree is not None else menu_file.stem
        self._live_cache: MenuTree | None = None  # the live version's tree, parsed once

    def check(self, text: str) -> Checked:
        tree, problems = parse_menu_text(text, self.label)
        if tree is None:
            return Checked(problems, None, None)
        problems = validate_menu(tree, self.known_prompts, self.actions)
        return Checked(problems, tree, tree.version, touched_prompts(tree, self.live_tree()))

    def live_tree(self) -> MenuTree | None:
        live = self.live()
        if live is None:
            return None
        if self._live_cache is None or self._live_cache.version != live.version:
            self._live_cache, _ = parse_menu_text(live.text, self.label)
        return self._live_cache

    def live(self) -> Publication | None:
        return live_publication(self.db, self.menu)

    def start_text(self, author: str) -> tuple[str, Draft | None]:
        """What the editor opens with: the author's draft, else the live text, else the file."""
        draft = load_draft(self.db, self.menu, author)
        if draft is not None:
            return draft.text, draft
        live = self.live()
        return (live.text if live else _read(self.file)), None

    def save_draft(self, author: str, text: str, now: dt.datetime) -> Draft:
        return save_draft(self.db, self.menu, author, text, now)

    def discard_draft(self, author: str) -> None:
        drop_draft(self.db, self.menu, author)

    def publish(self, text: str, author: str, message: str, now: dt.datetime) -> Publication:
        """Check as the server does, publish, nudge every node, drop the author's draft."""
        if not message.strip():
            raise PublishRefused("请填写发布说明（改了什么、为什么）")
        tree, problems = check_menu_text(text, self.label, self.known_prompts, self.actions)
        if tree is None:
            raise PublishRefused("菜单有错误，不能发布", problems)
        if tree.name != self.menu:
            raise PublishRefused(f"菜单名须为 {self.menu}（改名需要重启各节点）")
        live = self.live()
        if live is not None and live.version == tree.version:
            raise PublishRefused("这个版本已经是线上版本")
        made = self._publish(tree, text, author, message.strip(), now, "menu.publish")
        drop_draft(self.db, self.menu, author)
        return made

    def rollback(self, publication_id: int, author: str, now: dt.datetime) -> Publication:
        earlier = publication(self.db, publication_id)
        if earlier is None:
            raise PublishRefused("没有这个版本")
        tree, problems = check_menu_text(earlier.text, self.label, self.known_prompts, self.actions)
        if tree is None or tree.name != self.menu:
            raise PublishRefused("该版本与当前的提示音或业务不再相符，不能回滚", problems)
        live = self.live()
        if live is not None and live.version == earlier.version:
            raise PublishRefused("这个版本已经是线上版本")
        message = f"回滚到 #{earlier.id}（{earlier.version}）"
        return self._publish(tree, earlier.text, author, message, now, "menu.rollback")

    def _publish(
        self, tree: MenuTree, text: str, author: str, message: str, now: dt.datetime, action: str
    ) -> Publication:
        made = publish_version(
            self.db, tree.name, tree.version, text, f"console:{author}", now,
            author=author, message=message,
        )  # fmt: skip
        with self.db.transaction() as session:
            record_change(
                session, at=now, username=author, action=action, target=f"menu {tree.name}",
                detail={"version": tree.version, "publication": made.id, "message": message},
            )  # fmt: skip
        nudge_nodes(self.redis, tree.name)
        return made

    def history(self) -> list[Publication]:
        return publications(self.db, self.menu)

    def diff(self, older_id: int, newer_id: int) -> tuple[Publication, Publication, list[str]]:
        older, newer = publication(self.db, older_id), publication(self.db, newer_id)
        if older is None or newer is None:
            raise PublishRefused("没有这个版本")
        lines = difflib.unified_diff(
            older.text.splitlines(),
            newer.text.splitlines(),
            f"#{older.id} {older.version}",
            f"#{newer.id} {newer.version}",
            n=3,
            lineterm="",
        )
        return older, newer, list(lines)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
