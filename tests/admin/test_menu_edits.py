"""Adding, renaming and deleting menu nodes in the text keeps every reference working."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.admin.menu_edits import EditRefused, add_node, delete_node, rename_node
from ivr.menus.validate import check_menu_text

MENU = (Path(__file__).resolve().parents[2] / "config" / "menus" / "12333.yaml").read_text("utf-8")


def test_rename_rewrites_the_node_and_every_reference_and_nothing_else() -> None:
    renamed = rename_node(MENU, "card_query", "card_menu")
    tree, problems = check_menu_text(renamed, "menu")
    assert problems == [] and tree is not None
    assert "card_menu" in tree.nodes and "card_query" not in tree.nodes
    assert tree.nodes["query"].keys["1"] == "card_menu"  # type: ignore[attr-defined]
    assert "action: card_query" in renamed  # the action of the same name is not a node
    assert renamed.count("#") == MENU.count("#")  # comments kept


def test_rename_refuses_a_taken_or_malformed_name() -> None:
    with pytest.raises(EditRefused, match="已有"):
        rename_node(MENU, "card_query", "main")
    with pytest.raises(EditRefused, match="字母"):
        rename_node(MENU, "card_query", "1-bad")


def test_delete_refuses_while_anything_goes_to_the_node_and_names_the_lines() -> None:
    with pytest.raises(EditRefused, match="仍被引用") as refused:
        delete_node(MENU, "goodbye")
    assert "closed" in str(refused.value) and "no_answer" in str(refused.value)


def test_an_added_node_validates_except_that_nothing_reaches_it_yet_and_deletes_cleanly() -> None:
    added = add_node(MENU, "holiday_notice", "play", "节假日通知")
    _, problems = check_menu_text(added, "menu")
    assert [p.message for p in problems] == [
        "node 'holiday_notice' cannot be reached from start or a global key"
    ]
    assert delete_node(added, "holiday_notice") == MENU


def test_edits_wait_for_a_menu_that_parses() -> None:
    with pytest.raises(EditRefused, match="第 1 行"):
        rename_node("menu: [", "a", "b")
