"""The simulator drives the real MenuRun; its actions act on the sandbox, never the live data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ivr.actions.demo import DEMO_PEOPLE
from ivr.actions.registry import action_outcomes
from ivr.actions.settings import ActionSettings
from ivr.admin.sandbox import Sandbox
from ivr.admin.simulation import SimulationBook, match_intent
from ivr.config import PROJECT_ROOT
from ivr.media.prompt_catalog import PromptCatalog, PromptSettings
from ivr.menus.validate import load_menu
from ivr.work_calendar import WorkCalendar

INTENTS = {"agent": ["转 人工", "人工"], "loss": ["挂失"]}
# A weekday morning within the service hours.
MONDAY = dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC)


def test_a_simulated_temporary_loss_is_recorded_in_the_sandbox(tmp_path: Path) -> None:
    catalog = PromptCatalog.from_settings(PromptSettings())
    menu = PROJECT_ROOT / "config/menus/12333.yaml"
    tree = load_menu(menu, set(catalog.ids()), action_outcomes())
    sandbox = Sandbox(tmp_path / "sandbox", ActionSettings(), lambda: MONDAY)
    before = sandbox.loss_reports()
    sim = SimulationBook().open(
        "boss", tree, catalog, sandbox.run, INTENTS, WorkCalendar(), lambda: MONDAY
    )
    sim.start(fast=True)
    assert sim.run.node.id == "main" and sim.state()["waiting"]
    for key in "112" + DEMO_PEOPLE[0].id_number + "#1":
        sim.key(key, fast=True)
    texts = [entry["text"] for entry in sim.log]
    assert not any("已停止自动播放" in text for text in texts)
    action = texts.index("业务 temporary_loss → reported（演练数据）")
    assert texts[action - 1] == "正在为您办理，请稍候。"  # the wait prompt starts first
    assert sim.node_path[:6] == ["main", "query", "card_query", "loss_id", "loss_confirm",
                                 "loss_report"]  # fmt: skip
    assert sandbox.loss_reports() == before + 1
    state = {card.id_number: card.state for card in sandbox.cards()}
    assert state[DEMO_PEOPLE[0].id_number] == "临时挂失"
    # Read back masked in the prompt texts, never in full.
    assert not any(DEMO_PEOPLE[0].id_number in text for text in texts)
    assert "按键 •" in texts and "按键 3" not in texts  # typed digits are never shown
    sandbox.reset()
    assert sandbox.loss_reports() == before


def test_say_box_matches_configured_phrases() -> None:
    assert match_intent("我要转人工", INTENTS) == "agent"
    assert match_intent("挂失 社保卡", INTENTS) == "loss"
    assert match_intent("你好", INTENTS) is None
