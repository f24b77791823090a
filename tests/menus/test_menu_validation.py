"""A broken menu is refused with a message naming its file, line and problem."""

from __future__ import annotations

import pytest
from menu_harness import MINI_MENU

from ivr.menus.schema import MenuError
from ivr.menus.validate import check_menu_text, load_menu


def line_of(text: str, needle: str) -> int:
    """The first line containing `needle` (which may end with a newline)."""
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line + "\n")


def problems_of(text: str, **kwargs: object) -> list[str]:
    tree, problems = check_menu_text(text, "m.yaml", **kwargs)  # type: ignore[arg-type]
    assert tree is None
    return [str(p) for p in problems]


def broken(old: str, new: str) -> str:
    assert old in MINI_MENU
    return MINI_MENU.replace(old, new, 1)


# (what is broken, the broken text, the line to name (a substring of it), the message)
CASES = [
    (
        "duplicate key",
        broken('{"1": sub, "2": id,', '{"1": sub, "1": id,'),
        "keys:",
        "node 'main'.keys: duplicate key '1' (first at line {line})",
    ),
    (
        "unknown node",
        broken("no: id}", "no: id_number}"),
        "kind: confirm",
        "node 'confirm': 'no' goes to unknown node 'id_number'",
    ),
    (
        "unreachable node",
        MINI_MENU + "  orphan: {kind: play, prompt: notice, next: main}\n",
        "orphan:",
        "node 'orphan' cannot be reached from start or a global key",
    ),
    (
        "collect that can never succeed",
        broken("max_digits: 18", "max_digits: 17"),
        "validator: id_number",
        "node 'id': validator 'id_number' needs 18-18 digits but the node takes 18-17; "
        "no input can ever be accepted",
    ),
    (
        "missing outcome branch",
        broken("not_found: missing, ", ""),
        "  lookup:\n",
        "node 'lookup': no branch for outcome 'not_found' of 'lookup'",
    ),
    (
        "branch for an outcome the action never returns",
        broken("ok: found,", "ok: found, gone: missing,"),
        "outcomes: {ok",
        "node 'lookup': action 'lookup' never returns 'gone'",
    ),
    (
        "undeclared action",
        broken("action: lookup", "action: look_up"),
        "action: look_up",
        "node 'lookup': action 'look_up' is not declared under 'actions:'",
    ),
    (
        "timeout out of range",
        broken("timeout: 15", "timeout: 0"),
        "timeout: 0",
        "node 'lookup': 'timeout' must be from 1 to 120",
    ),
    (
        "timeout that is not a number",
        broken("  timeout: 10", "  timeout: soon"),
        "timeout: soon",
        "defaults: 'timeout' must be a number",
    ),
    (
        "unknown validator",
        broken("validator: id_number", "validator: passport"),
        "validator: passport",
        "node 'id': unknown validator 'passport' (known: digits, id_number, pin6)",
    ),
    (
        "unknown kind",
        broken("kind: hangup", "kind: hang_up"),
        "kind: hang_up",
        "node 'bye': unknown kind 'hang_up' (menu, collect, confirm, action, play, transfer, "
        "hangup)",
    ),
    (
        "misspelt field",
        broken("wait_prompt: wait", "wait_promt: wait"),
        "wait_promt",
        "node 'lookup': unknown field 'wait_promt' for a action",
    ),
    (
        "retry prompt for a problem the validator never reports",
        broken("{checksum: bad_checksum", "{checksun: bad_checksum"),
        "checksun",
        "node 'id': validator 'id_number' has no problem 'checksun' (it reports: birth_date, "
        "characters, checksum, length, region)",
    ),
    (
        "an announcement that loops on itself",
        broken(
            "notice: {kind: play, prompt: notice, next: main}",
            "notice: {kind: play, prompt: notice, next: notice}",
        ),
        "notice: {kind",
        "node 'notice': 'next' goes back to itself, a loop",
    ),
    (
        "an exit that leads back to the same menu",
        broken(
            "sub: {kind: menu, greet_long: sub_keys,",
            "sub: {kind: menu, on_failure: sub, greet_long: sub_keys,",
        ),
        "sub: {kind",
        "node 'sub': 'on_failure' goes back to itself, a loop",
    ),
    (
        "global key that is not on a phone",
        broken('"9": main', '"X": main'),
        "globals:",
        "globals: 'X' is not a telephone key",
    ),
    (
        "a variable no collect node fills",
        broken("params: [id_number], outcomes", "params: [card_no], outcomes").replace(
            "params: [id_number]\n", "params: [card_no]\n"
        ),
        "params: [card_no]\n",
        "node 'lookup': 'params' uses 'card_no', which no collect node fills",
    ),
    (
        "bad service hours",
        MINI_MENU.replace("nodes:\n", 'service: {summer: ["17:00-08:30"]}\nnodes:\n'),
        "service:",
        "service.summer: 17:00-08:30 ends before it starts",
    ),
    (
        "unquoted * (a YAML alias)",
        broken('"*": back', "*: back"),
        "*: back",
        "not valid YAML: expected alphabetic or numeric character, but found ':'",
    ),
]


@pytest.mark.parametrize(
    ("text", "needle", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_broken_menu_is_refused_naming_the_line(text: str, needle: str, message: str) -> None:
    line = line_of(text, needle)
    first_key_line = line_of(text, '"1": sub')
    expected = f"m.yaml:{line}: " + message.format(line=first_key_line)
    assert expected in problems_of(text)


def test_no_exit_for_a_node_that_waits_for_keys() -> None:
    text = broken("  on_failure: bye\n", "")
    line = line_of(text, "  main:")
    message = "node 'main': missing 'on_failure' (and no defaults.on_failure)"
    assert f"m.yaml:{line}: {message}" in problems_of(text)


def test_unknown_prompt_when_the_catalog_is_given() -> None:
    known = {"welcome", "main_keys", "sub_keys", "enter_id", "bad_checksum", "bad_id"}
    known |= {"wait", "found", "missing", "busy", "notice", "hold", "closed", "agents_busy"}
    known |= {"goodbye", "invalid", "silence"}
    problems = problems_of(MINI_MENU, known_prompts=known)
    line = line_of(MINI_MENU, "prompt: readback")
    assert problems == [f"m.yaml:{line}: node 'confirm': unknown prompt 'readback' in 'prompt'"]


def test_action_declarations_are_checked_against_the_server() -> None:
    line = line_of(MINI_MENU, "  lookup: {params")
    problems = problems_of(
        MINI_MENU, actions={"lookup": {"ok", "not_found", "unavailable", "busy"}}
    )
    assert problems == [f"m.yaml:{line}: action 'lookup' can return 'busy': declare it"]
    problems = problems_of(MINI_MENU, actions={"card_query": {"ok"}})
    assert problems == [f"m.yaml:{line}: unknown action 'lookup' (the server has: card_query)"]


def test_an_action_node_must_handle_no_answer() -> None:
    text = broken("outcomes: [ok, not_found, unavailable]", "outcomes: [ok, not_found]")
    text = text.replace(", unavailable: busy}", "}")
    line = line_of(text, "  lookup:\n")
    message = "node 'lookup': no branch for outcome 'unavailable' of 'lookup'"
    assert f"m.yaml:{line}: {message}" in problems_of(text)


def test_every_problem_of_a_node_by_node_reading_is_reported_at_once() -> None:
    text = broken("wait_prompt: wait", "wait_promt: wait").replace("kind: hangup", "kind: hang_up")
    assert len(problems_of(text)) == 2


def test_load_menu_raises_with_every_problem(tmp_path) -> None:
    path = tmp_path / "menu.yaml"
    path.write_text(broken("no: id}", "no: nowhere}"), encoding="utf-8")
    with pytest.raises(MenuError) as raised:
        load_menu(path)
    assert str(raised.value).startswith(f"{path}:")
    assert "unknown node 'nowhere'" in str(raised.value)


def test_an_empty_file_is_refused() -> None:
    assert problems_of("") == ["m.yaml:1: the menu file is empty"]


QUEUES = (
    "queues:\n  agents: {label: 人工服务, strategy: ring_all, ring_timeout: 15, members: [1001]}\n"
)


def test_declared_queues_carry_their_settings_into_the_tree() -> None:
    tree, problems = check_menu_text(QUEUES + MINI_MENU, "m.yaml")
    assert problems == [] and tree is not None
    spec = tree.queue("agents")
    assert (spec.label, spec.strategy, spec.ring_timeout, spec.members) == (
        "人工服务", "ring_all", 15.0, ("1001",),
    )  # fmt: skip
    assert tree.queue("elsewhere").strategy == "longest_idle"  # undeclared: the defaults


@pytest.mark.parametrize(
    ("queues", "message"),
    [
        ("queues:\n  yibao: {label: 医保}\n", "queue 'agents' is not declared under 'queues:'"),
        ("queues:\n  agents: {strategy: random}\n", "strategy must be one of longest_idle"),
        ("queues:\n  agents: {ring_timeout: 1}\n", "'ring_timeout' must be from 5 to 120"),
        ("queues:\n  agents: {members: 1001}\n", "'members' must be a list of names"),
        ("queues:\n  agents: {colour: red}\n", "colour"),
    ],
)
def test_queue_mistakes_are_refused_at_their_line(queues: str, message: str) -> None:
    found = problems_of(queues + MINI_MENU)
    assert any(message in problem for problem in found), found
