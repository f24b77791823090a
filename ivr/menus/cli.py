"""`python -m ivr menus validate FILE [--prompts PROMPTS.yaml]`: check a menu before it goes live.

Prints `FILE: OK ...` or one `FILE:LINE: problem` per line, and exits 1 when there is a problem.
Prompt ids are checked against `--prompts` (by default the `NAME.prompts.yaml` beside the menu).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from ivr.menus.validate import check_menu_text


def prompt_ids(path: Path) -> set[str]:
    """The ids of a `NAME.prompts.yaml` file (prompt id -> Mandarin template)."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(loaded, dict):
        raise ValueError(f"{path}: expected a mapping of prompt id -> text")
    return {str(key) for key in loaded}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m ivr menus")
    commands = parser.add_subparsers(dest="command", required=True)
    validate = commands.add_parser("validate", help="check a menu file; exit 1 on any problem")
    validate.add_argument("file", type=Path)
    validate.add_argument("--prompts", type=Path, help="prompt texts (default: NAME.prompts.yaml)")
    args = parser.parse_args(argv)

    path: Path = args.file
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"{path}:1: cannot read the file: {exc}")
        return 1
    prompts_path = args.prompts or path.with_name(f"{path.stem}.prompts.yaml")
    known = None
    if args.prompts or prompts_path.exists():
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
