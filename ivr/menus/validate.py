"""Checks of how a menu's nodes connect, run before a menu file may go live.

`loader.py` has already checked each node on its own; here every reference (`Link`) is resolved:
node targets, prompt ids (against the prompt catalog when given), variables, actions and their
outcome branches (against the action registry when given), and every node must be reachable.
Each problem names the file and line, so `python -m ivr menus validate FILE` reads like a compiler.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from pathlib import Path

from ivr.menus.loader import parse_menu_file, parse_menu_text
from ivr.menus.schema import (
    ACTION,
    DEFAULT_OUTCOME,
    NODE,
    PROMPT,
    QUEUE,
    TIMEOUT_OUTCOME,
    VALIDATOR,
    VARIABLE,
    ActionNode,
    CollectNode,
    ConfirmNode,
    Link,
    MenuError,
    MenuNode,
    MenuProblem,
    MenuTree,
    Node,
    PlayNode,
)
from ivr.menus.validators import VALIDATORS

_Report = Callable[[int, str], None]  # problem(line, message)


def validate_menu(
    tree: MenuTree,
    known_prompts: Set[str] | None = None,
    actions: Mapping[str, Set[str]] | None = None,
) -> list[MenuProblem]:
    """Every problem of `tree`, in file order.

    `known_prompts`: the prompt catalog's ids; `actions`: action name -> the outcomes it can
    return (`ivr.actions.registry.action_outcomes()`). When either is None that part is checked
    only against the menu file itself.
    """
    problems: list[MenuProblem] = []

    def problem(line: int, message: str) -> None:
        problems.append(MenuProblem(tree.file, line, message))

    filled = {
        link.target
        for node in tree.nodes.values()
        for link in node.links
        if link.what == VARIABLE and link.field == "into"
    }
    located: list[tuple[str, Link]] = [("the menu file", link) for link in tree.links]
    located += [(f"node '{n.id}'", link) for n in tree.nodes.values() for link in n.links]
    for where, link in located:
        message = _bad_link(tree, link, filled, known_prompts)
        if message:
            problem(link.line, f"{where}: {message}")

    for node in tree.nodes.values():
        if isinstance(node, CollectNode):
            _check_retry_prompts(node, problem)
        elif isinstance(node, ActionNode) and node.action in tree.actions:
            _check_action_node(tree, node, problem)
        if isinstance(node, (CollectNode, PlayNode)) and node.next == node.id:
            problem(node.line, f"node '{node.id}': 'next' goes back to itself, a loop")
        waits = node.input if isinstance(node, MenuNode | CollectNode | ConfirmNode) else None
        if waits is not None and waits.on_failure == node.id:
            problem(node.line, f"node '{node.id}': 'on_failure' goes back to itself, a loop")

    if actions is not None:
        for spec in tree.actions.values():
            if spec.name not in actions:
                known = ", ".join(sorted(actions)) or "none"
                problem(spec.line, f"unknown action '{spec.name}' (the server has: {known})")
                continue
            for outcome in sorted(set(actions[spec.name]) - spec.outcomes):
                problem(spec.line, f"action '{spec.name}' can return '{outcome}': declare it")
            for outcome in sorted(spec.outcomes - set(actions[spec.name])):
                problem(spec.line, f"action '{spec.name}' never returns '{outcome}'")

    # A mistyped target leaves whatever lies behind it unreachable: report the cause only.
    if not any(link.what == NODE and link.target not in tree.nodes for _, link in located):
        reached = _reachable(tree)
        for node in tree.nodes.values():
            if node.id not in reached:
                problem(node.line, f"node '{node.id}' cannot be reached from start or a global key")
    return sorted(problems, key=lambda p: p.line)


def _bad_link(
    tree: MenuTree, link: Link, filled: set[str], known_prompts: Set[str] | None
) -> str | None:
    if link.what == NODE and link.target not in tree.nodes:
        return f"'{link.field}' goes to unknown node '{link.target}'"
    if link.what == PROMPT and known_prompts is not None and link.target not in known_prompts:
        return f"unknown prompt '{link.target}' in '{link.field}'"
    if link.what == VARIABLE and link.field != "into" and link.target not in filled:
        return f"'{link.field}' uses '{link.target}', which no collect node fills"
    if link.what == ACTION and link.target not in tree.actions:
        return f"action '{link.target}' is not declared under 'actions:'"
    if link.what == QUEUE and tree.queues and link.target not in tree.queues:
        return f"queue '{link.target}' is not declared under 'queues:'"
    if link.what == VALIDATOR and link.target not in VALIDATORS:
        return f"unknown validator '{link.target}' (known: {', '.join(sorted(VALIDATORS))})"
    return None


def _check_retry_prompts(node: CollectNode, problem: _Report) -> None:
    validator = VALIDATORS.get(node.validator)
    if validator is None:
        return
    allowed = validator.problems | {DEFAULT_OUTCOME}
    for link in node.links:
        if link.what == PROMPT and link.field in node.retry_prompts and link.field not in allowed:
            problem(
                link.line,
                f"node '{node.id}': validator '{node.validator}' has no problem "
                f"'{link.field}' (it reports: {', '.join(sorted(validator.problems))})",
            )


def _check_action_node(tree: MenuTree, node: ActionNode, problem: _Report) -> None:
    spec = tree.actions[node.action]
    where = f"node '{node.id}'"
    branches = set(node.outcomes)
    if DEFAULT_OUTCOME not in branches:
        for outcome in sorted((spec.outcomes | {TIMEOUT_OUTCOME}) - branches):
            problem(node.line, f"{where}: no branch for outcome '{outcome}' of '{node.action}'")
    for link in node.links:
        outcome = link.field.removeprefix("outcomes.")
        if link.field.startswith("outcomes.") and outcome not in spec.outcomes | {DEFAULT_OUTCOME}:
            problem(link.line, f"{where}: action '{node.action}' never returns '{outcome}'")
    if set(node.params) != set(spec.params):
        problem(
            node.line,
            f"{where}: '{node.action}' takes params {', '.join(spec.params) or 'none'}, "
            f"the node gives {', '.join(node.params) or 'none'}",
        )


def _reachable(tree: MenuTree) -> set[str]:
    """Nodes reachable from the start, the global keys, speech intents and the default exit."""
    todo = [link.target for link in tree.links if link.what == NODE]
    seen: set[str] = set()
    while todo:
        node_id = todo.pop()
        if node_id in seen or node_id not in tree.nodes:
            continue
        seen.add(node_id)
        node: Node = tree.nodes[node_id]
        todo.extend(link.target for link in node.links if link.what == NODE)
    return seen


def check_menu_text(
    text: str,
    file: str,
    known_prompts: Set[str] | None = None,
    actions: Mapping[str, Set[str]] | None = None,
) -> tuple[MenuTree | None, list[MenuProblem]]:
    """Parse and validate; the tree is returned only when there is no problem at all."""
    tree, problems = parse_menu_text(text, file)
    return _finish(tree, problems, known_prompts, actions)


def load_menu(
    path: str | Path,
    known_prompts: Set[str] | None = None,
    actions: Mapping[str, Set[str]] | None = None,
) -> MenuTree:
    """A menu file ready to run, or `MenuError` listing every problem."""
    tree, problems = _finish(*parse_menu_file(path), known_prompts, actions)
    if tree is None:
        raise MenuError(problems)
    return tree


def _finish(
    tree: MenuTree | None,
    problems: list[MenuProblem],
    known_prompts: Set[str] | None,
    actions: Mapping[str, Set[str]] | None,
) -> tuple[MenuTree | None, list[MenuProblem]]:
    if tree is None:
        return None, problems
    problems = validate_menu(tree, known_prompts, actions)
    return (None if problems else tree), problems
