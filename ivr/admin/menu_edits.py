"""Edits of a menu file's text that keep every reference intact: add, rename, delete a node.

They work on the text, not on a re-dumped YAML tree, so comments, anchors and the author's
layout survive. Every place that names a node is known with its line (`Link`s from the loader),
so a rename rewrites exactly those values; a delete is refused while anything still goes to the
node. Pure functions; each returns the new text or raises `EditRefused` with a Chinese message.
"""

from __future__ import annotations

import re

from ivr.menus.loader import parse_menu_text
from ivr.menus.schema import NODE, Kind, Link, MenuTree

NODE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")

# What a new node of each kind starts with: enough to read, a prompt the catalog has, and its
# exits pointing at the start until the supervisor wires them.
TEMPLATES: dict[Kind, list[str]] = {
    Kind.MENU: ["greet_long: main_menu", "keys:", '  "1": {start}'],
    Kind.PLAY: ["prompt: system_busy", "next: {start}"],
    Kind.COLLECT: [
        "prompt: enter_id_number", "into: id_number", "min_digits: 18", "max_digits: 18",
        "star_as_x: true", "validator: id_number", "next: {start}",
    ],
    Kind.CONFIRM: ["prompt: confirm_id_number", "yes: {start}", "no: {start}"],
    Kind.TRANSFER: [
        "queue: agents", "prompt: transfer_to_agent", "closed_prompt: agents_closed",
        "busy_prompt: agents_busy",
    ],
    Kind.HANGUP: ["prompt: goodbye", "reason: goodbye"],
}  # fmt: skip


class EditRefused(ValueError):
    """The edit would break the menu; the message says why."""


def _tree(text: str) -> MenuTree:
    tree, problems = parse_menu_text(text, "menu")
    if tree is None:
        first = problems[0] if problems else None
        where = f"（第 {first.line} 行：{first.message}）" if first else ""
        raise EditRefused(f"请先改正菜单中的错误再增删或改名节点{where}")
    return tree


def node_links(tree: MenuTree) -> list[Link]:
    """Every reference to a node: the start, globals, intents, defaults and every node's exits."""
    links = [link for link in tree.links if link.what == NODE]
    links += [link for node in tree.nodes.values() for link in node.links if link.what == NODE]
    return sorted(links, key=lambda link: link.line)


def references_to(tree: MenuTree, node_id: str) -> list[Link]:
    return [link for link in node_links(tree) if link.target == node_id]


def _check_new_id(tree: MenuTree, node_id: str) -> None:
    if not NODE_ID.fullmatch(node_id):
        raise EditRefused("节点名须以字母或下划线开头，只含字母、数字和下划线（最多 64 个）")
    if node_id in tree.nodes:
        raise EditRefused(f"已有名为 {node_id} 的节点")


def rename_node(text: str, old: str, new: str) -> str:
    tree = _tree(text)
    if old not in tree.nodes:
        raise EditRefused(f"没有名为 {old} 的节点")
    _check_new_id(tree, new)
    lines = text.split("\n")
    key_line = tree.nodes[old].line - 1
    lines[key_line], count = re.subn(
        rf"^(\s*)(['\"]?){re.escape(old)}\2(\s*:)", rf"\g<1>\g<2>{new}\g<2>\g<3>", lines[key_line]
    )
    if count != 1:
        raise EditRefused(f"第 {key_line + 1} 行的节点名无法自动修改，请手工编辑")
    value = re.compile(rf"(:\s*(['\"]?)){re.escape(old)}(\2\s*(#.*)?)$")
    for link in references_to(tree, old):
        index = link.line - 1
        lines[index], count = value.subn(rf"\g<1>{new}\g<3>", lines[index])
        if count != 1:
            raise EditRefused(f"第 {link.line} 行对 {old} 的引用无法自动修改，请手工编辑")
    return "\n".join(lines)


def _block(tree: MenuTree, lines: list[str], node_id: str) -> tuple[int, int]:
    """The 0-based [start, end) lines of a node, without the comments that open the next one."""
    start = tree.nodes[node_id].line - 1
    later = [node.line - 1 for node in tree.nodes.values() if node.line - 1 > start]
    end = min(later) if later else len(lines)
    for index in range(start + 1, end):  # a top-level key after `nodes:` ends it too
        if lines[index] and not lines[index][0].isspace() and not lines[index].startswith("#"):
            end = index
            break
    while end - 1 > start and (not lines[end - 1].strip() or lines[end - 1].lstrip()[:1] == "#"):
        end -= 1
    return start, end


def delete_node(text: str, node_id: str) -> str:
    tree = _tree(text)
    if node_id not in tree.nodes:
        raise EditRefused(f"没有名为 {node_id} 的节点")
    using = [link for link in references_to(tree, node_id)]
    if using:
        places = "、".join(f"第 {link.line} 行（{link.field}）" for link in using[:6])
        raise EditRefused(f"节点 {node_id} 仍被引用：{places}。请先改掉这些引用再删除")
    lines = text.split("\n")
    start, end = _block(tree, lines, node_id)
    return "\n".join(lines[:start] + lines[end:])


def add_node(text: str, node_id: str, kind: str, label: str) -> str:
    tree = _tree(text)
    _check_new_id(tree, node_id)
    try:
        node_kind = Kind(kind)
    except ValueError:
        raise EditRefused(f"未知的节点类型 {kind}") from None
    lines = text.split("\n")
    if not tree.nodes:
        raise EditRefused("菜单中还没有任何节点")
    last = max(tree.nodes.values(), key=lambda node: node.line)
    _, end = _block(tree, lines, last.id)
    indent = re.match(r"\s*", lines[last.line - 1]).group(0)  # type: ignore[union-attr]
    body = [f"kind: {node_kind.value}", f"label: {label or node_id}"]
    body += [line.format(start=tree.start) for line in TEMPLATES[node_kind]]
    block = [f"{indent}{node_id}:"] + [f"{indent}  {line}" for line in body]
    return "\n".join(lines[:end] + block + lines[end:])
