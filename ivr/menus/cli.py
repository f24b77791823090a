"""`python -m ivr menus COMMAND`: check a menu, put a version live on every node, roll back.

    validate FILE [--prompts P]   check a file: `FILE: OK ...` or one `FILE:LINE: problem` a line;
                                  prompt ids against P (default: the NAME.prompts.yaml beside it)
    publish FILE                  check it as the server does (its prompt catalog and actions),
                                  then make it the live version: every node is nudged through
                                  Redis and takes it at once (its 5 s poll is the safety net)
    history [--menu NAME]         the published versions, newest first
    rollback VERSION [--menu NAME]  publish an earlier version's text again

Each exits 1 when there is a problem. `publish`, `history` and `rollback` use the configured
database (`--config`, IVR_CONFIG, IVR_DATABASE_URL).
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

import yaml

from ivr.actions.registry import action_outcomes
from ivr.config import Config, load_config
from ivr.media.prompt_catalog import PromptCatalog, PromptSettings
from ivr.menus.loader import parse_menu_text
from ivr.menus.publishing import configured_menu_file
from ivr.menus.validate import check_menu_text
from ivr.store.db import Database, open_database
from ivr.store.menu_versions import live_publication, publications, publish
from ivr.store.migrate import upgrade
from ivr.store.nudges import nudge_nodes
from ivr.store.redis_state import open_redis


def prompt_ids(path: Path) -> set[str]:
    """The ids of a `NAME.prompts.yaml` file (prompt id -> Mandarin template)."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping of prompt id -> text")
    return {str(key) for key in loaded}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr menus")
    parser.add_argument("--config", help="settings file (default: config/ivr.yaml or IVR_CONFIG)")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a menu file; exit 1 on any problem")
    validate.add_argument("file", type=Path)
    validate.add_argument("--prompts", type=Path, help="prompt texts (default: NAME.prompts.yaml)")
    publish_file = commands.add_parser("publish", help="check a menu file and make it live")
    publish_file.add_argument("file", type=Path)
    history = commands.add_parser("history", help="the published versions, newest first")
    history.add_argument("--menu", help="menu name (default: the configured menu file's)")
    rollback = commands.add_parser("rollback", help="publish an earlier version again")
    rollback.add_argument("version", help="the version (its first characters are enough)")
    rollback.add_argument("--menu", help="menu name (default: the configured menu file's)")
    args = parser.parse_args(argv)

    if args.command == "validate":
        return _validate(args.file, args.prompts)
    config = load_config(args.config)
    db = open_database(config.store)
    try:
        upgrade(db.engine)
        if args.command == "publish":
            text = _read(args.file)
            return 1 if text is None else _publish(config, db, text, str(args.file))
        menu = args.menu or _configured_menu(config)
        if args.command == "history":
            return _history(db, menu)
        return _rollback(config, db, menu, args.version)
    finally:
        db.dispose()


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}:1: cannot read the file: {exc}")
        return None


def _validate(path: Path, prompts: Path | None) -> int:
    text = _read(path)
    if text is None:
        return 1
    prompts_path = prompts or path.with_name(f"{path.stem}.prompts.yaml")
    known = None
    if prompts or prompts_path.exists():
        try:
            known = prompt_ids(prompts_path)
        except (OSError, ValueError, yaml.YAMLError) as exc:
            print(f"{prompts_path}:1: cannot read the prompts: {exc}")
            return 1
    tree, problems = check_menu_text(text, str(path), known_prompts=known)
    for problem in problems:
        print(problem)
    if tree is None:
        return 1
    checked = f", prompts checked against {prompts_path}" if known is not None else ""
    print(f"{path}: OK ({len(tree.nodes)} nodes, version {tree.version}{checked})")
    return 0


def _configured_menu(config: Config) -> str:
    """The name new calls' menu goes by: the configured file's `menu:` (its stem if unreadable)."""
    path = configured_menu_file(config)
    tree, _ = parse_menu_text(_read(path) or "", str(path))
    return tree.name if tree is not None else path.stem


def _publish(config: Config, db: Database, text: str, source: str) -> int:
    """Check `text` against what the server runs with; publish it unless it is live already."""
    catalog = PromptCatalog.from_settings(PromptSettings.from_config(config))
    tree, problems = check_menu_text(text, source, set(catalog.ids()), action_outcomes())
    for problem in problems:
        print(problem)
    if tree is None:
        return 1
    live = live_publication(db, tree.name)
    if live is not None and live.version == tree.version:
        print(f"menu {tree.name} version {tree.version} is already live")
        return 0
    publish(db, tree.name, tree.version, text, source, dt.datetime.now(dt.UTC))
    nudge_nodes(open_redis(config.store), tree.name)
    print(f"menu {tree.name} version {tree.version} published: every node takes it at once")
    return 0


def _history(db: Database, menu: str) -> int:
    published = publications(db, menu)
    if not published:
        print(f"menu {menu} has never been published")
        return 1
    for number, publication in enumerate(published):
        at = publication.published_at.astimezone().strftime("%Y-%m-%d %H:%M:%S")
        live = "  live" if number == 0 else ""
        print(f"{publication.version}  {at}  {publication.source}{live}")
    return 0


def _rollback(config: Config, db: Database, menu: str, version: str) -> int:
    earlier = [p for p in publications(db, menu) if p.version.startswith(version)]
    if len({p.version for p in earlier}) != 1:
        found = "no" if not earlier else "more than one"
        print(f"menu {menu}: {found} published version starts with {version!r}")
        return 1
    return _publish(config, db, earlier[0].text, f"rollback to {earlier[0].version}")
