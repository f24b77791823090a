"""The editor names the prompts a draft changes: those of every node added, removed or edited."""

from __future__ import annotations

from ivr.admin.menu_work import touched_prompts
from ivr.config import PROJECT_ROOT
from ivr.menus.loader import parse_menu_text

TEXT = (PROJECT_ROOT / "config" / "menus" / "12333.yaml").read_text(encoding="utf-8")


def tree(text: str):  # type: ignore[no-untyped-def]
    parsed, problems = parse_menu_text(text, "menu")
    assert parsed is not None, problems
    return parsed


def test_an_edited_node_touches_its_prompts_and_moved_text_touches_none() -> None:
    live = tree(TEXT)
    edited = tree(TEXT.replace("greet_long: query_menu", "greet_long: [please_wait, query_menu]"))
    assert touched_prompts(edited, live) == ["please_wait", "query_menu"]
    assert touched_prompts(tree("# a comment moves every line\n" + TEXT), live) == []
    assert touched_prompts(live, None) == sorted(
        {
            link.target
            for node in live.nodes.values()
            for link in node.links
            if link.what == "prompt"
        }
    )
