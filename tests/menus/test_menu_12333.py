"""The real config/menus/12333.yaml, walked key by key as a caller would."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from menu_harness import OPEN_HOURS, SHANGHAI, VALID_ID, VALID_ID_KEYS, FakeCall

from ivr.config import PROJECT_ROOT
from ivr.menus.cli import prompt_ids
from ivr.menus.events import Hangup, Play, RunAction, Transfer
from ivr.menus.schema import MenuTree
from ivr.menus.validate import load_menu, validate_menu

if TYPE_CHECKING:
    from ivr.media.prompt_catalog import PromptCatalog

MENU = PROJECT_ROOT / "config" / "menus" / "12333.yaml"
PROMPTS = PROJECT_ROOT / "config" / "menus" / "12333.prompts.yaml"
SATURDAY = dt.datetime(2026, 11, 28, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture(scope="module")
def tree() -> MenuTree:
    return load_menu(MENU, known_prompts=prompt_ids(PROMPTS))


@pytest.fixture(scope="module")
def catalog() -> PromptCatalog:
    from ivr.media.prompt_catalog import PromptCatalog

    return PromptCatalog.load([Path(PROMPTS)])


def said(call: FakeCall, catalog: PromptCatalog) -> str:
    """The Mandarin of what is playing, rendered by the real prompt catalog."""
    assert call.playing is not None
    return "".join(catalog.text(ref.prompt_id, ref.variables) for ref in call.playing.prompts)


def test_branches_match_the_server_actions(tree: MenuTree) -> None:
    from ivr.actions.registry import PHONE_ACTIONS  # imported here: a broken room fails only this

    outcomes = {name: spec.outcomes for name, spec in PHONE_ACTIONS.items()}
    assert validate_menu(tree, actions=outcomes) == []


def test_every_prompt_renders_in_the_prompt_catalog(catalog: PromptCatalog) -> None:
    assert set(catalog.ids()) == prompt_ids(PROMPTS)


def test_seed_path_reports_a_temporary_loss(tree: MenuTree, catalog: PromptCatalog) -> None:
    """信息查询 1 → 社保卡查询 1 → 社保卡挂失 2 → ID then # → 1 confirm / 2 re-enter."""
    call = FakeCall(tree)
    call.start()
    assert said(call, catalog).startswith("您好，欢迎致电12333人力资源和社会保障咨询服务热线。")
    call.press("1")
    assert "社保卡状态、挂失和制卡进度，请按1" in said(call, catalog)
    call.press("1")
    assert "社保卡挂失，请按2" in said(call, catalog)
    call.press("2")
    assert call.heard() == ("loss_intro", "enter_id_number")
    call.press("11010519491231002*#")
    assert call.heard() == ("confirm_id_number",)
    assert "确认请按1，重新输入请按2" in said(call, catalog)
    call.press("2")  # 重输
    assert call.heard() == ("loss_intro", "enter_id_number")
    call.press(VALID_ID_KEYS)
    call.press("1")  # 确认
    request = call.last(RunAction)
    assert (request.name, dict(request.params)) == ("temporary_loss", {"id_number": VALID_ID})
    call.complete("reported", lapses_on=dt.date(2026, 11, 30))
    assert call.heard() == ("loss_done",)
    assert "临时挂失成功" in said(call, catalog)
    call.finish_prompt()
    assert call.heard() == ("main_menu",)


def test_pin_change_never_lets_a_pin_reach_a_prompt_or_an_agent(tree: MenuTree) -> None:
    call = FakeCall(tree)
    call.start()
    call.press("22")
    call.press(VALID_ID_KEYS)
    call.press("1")
    call.press("135790#")
    call.press("802461#")
    call.press("802461#")
    request = call.last(RunAction)
    assert request.name == "pin_change"
    assert dict(request.params) == {
        "id_number": VALID_ID,
        "old_pin": "135790",
        "new_pin": "802461",
        "new_pin_again": "802461",
    }
    call.complete("wrong_pin", attempts_left=4)
    assert call.heard() == ("pin_wrong",)
    call.finish_prompt()
    assert call.heard() == ("enter_old_pin",)
    call.press("0")  # while typing a PIN, 0 is a digit...
    call.wait(5)
    assert call.heard() == ("pin_wrong_length", "enter_old_pin")
    call.press("*0")  # ...so back out to the menu, then ask for a person
    call.finish_prompt()
    transfer = call.last(Transfer)
    assert transfer.context["collected"]["old_pin"] == "******"
    plays = [c for c in call.commands if isinstance(c, Play)]
    for play in plays:
        for ref in play.prompts:
            assert "135790" not in repr(ref.variables) and "802461" not in repr(ref.variables)


def test_zero_on_a_saturday_says_when_agents_answer_and_returns(
    tree: MenuTree, catalog: PromptCatalog
) -> None:
    call = FakeCall(tree, SATURDAY)
    call.start()
    call.press("2")
    call.press("0")
    assert call.heard() == ("agents_closed",)
    text = said(call, catalog)
    assert "现在是非人工服务时间" in text
    variables = call.playing.prompts[0].variables if call.playing else {}
    assert variables["next_open_date"] == dt.date(2026, 11, 30)
    call.finish_prompt()
    assert call.heard() == ("card_services_menu",)


def test_silence_in_hours_ends_with_an_agent(tree: MenuTree) -> None:
    call = FakeCall(tree, OPEN_HOURS)
    call.start()
    for _ in range(3):
        call.finish_prompt()
        call.wait(10)
    assert call.heard() == ("transfer_after_failures",)
    call.finish_prompt()
    assert call.last(Transfer).context["reason"] == "too_many_failures"


def test_silence_out_of_hours_ends_with_a_goodbye(tree: MenuTree) -> None:
    call = FakeCall(tree, SATURDAY)
    call.start()
    for _ in range(3):
        call.finish_prompt()
        call.wait(10)
    assert call.heard() == ("agents_closed",)
    call.finish_prompt()
    assert call.heard() == ("goodbye",)
    call.finish_prompt()
    assert call.last(Hangup).reason == "goodbye"
    assert call.run.ended


def test_card_status_query_reads_the_state(tree: MenuTree) -> None:
    call = FakeCall(tree)
    call.start()
    call.press("111")
    call.press(VALID_ID_KEYS)
    call.press("1")
    assert call.last(RunAction).name == "card_query"
    call.complete("sealed")
    assert call.heard() == ("card_status_sealed",)
    call.finish_prompt()
    assert call.heard() == ("card_query_menu",)


def test_counter_only_services_are_announced(tree: MenuTree, catalog: PromptCatalog) -> None:
    call = FakeCall(tree)
    call.start()
    call.press("23")
    call.press("2")
    assert "解锁请本人持社保卡和有效身份证件，到社会保障卡服务窗口办理" in said(call, catalog)
    call.finish_prompt()
    assert call.heard() == ("counter_services_menu",)


@pytest.mark.parametrize(
    ("keys", "queue"), [("3", "医保"), ("4", "就业"), ("0", "社保卡"), ("20", "社保卡")]
)
def test_each_agent_exit_queues_for_its_own_skill(tree: MenuTree, keys: str, queue: str) -> None:
    assert set(tree.queues) == {"社保卡", "医保", "就业"}
    call = FakeCall(tree, OPEN_HOURS)
    call.start()
    call.press(keys)
    assert call.heard() == ("transfer_to_agent",)
    call.finish_prompt()
    assert call.last(Transfer).queue == queue


def test_an_exit_naming_an_unknown_queue_is_refused_at_its_line() -> None:
    from ivr.menus.validate import check_menu_text

    text = MENU.read_text(encoding="utf-8").replace("queue: 就业", "queue: 就业指导", 1)
    line = text.splitlines().index("    queue: 就业指导") + 1
    tree, problems = check_menu_text(text, "12333.yaml", known_prompts=prompt_ids(PROMPTS))
    assert tree is None
    assert [str(p) for p in problems] == [
        f"12333.yaml:{line}: node 'agent_employment': queue '就业指导' is not declared under "
        "'queues:'"
    ]
