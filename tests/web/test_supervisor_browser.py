"""The supervisor console in a real browser (Playwright + Debian's chromium) against a real IVR:
break a menu and see the error at its line, fix it, walk the draft in the simulator to a
temporary loss in the sandbox, publish, compare, roll back; an agent is refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.server import ROOT, IvrProcess
from tests.web.browser import chromium, log_in, screenshot
from tests.web.console_client import query

DEMO_ID = "360102198003120013"  # 张伟 in the demo data: a normal card


def editor_line(page: Page, text: str) -> int:
    """The 0-based line of the editor holding `text`."""
    return int(page.evaluate(
        "(text) => window.menuEditor.getValue().split('\\n').findIndex((l) => l.includes(text))",
        text,
    ))  # fmt: skip


def type_at_end_of(page: Page, text: str, typed: str) -> int:
    line = editor_line(page, text)
    page.evaluate(
        "([line]) => { const cm = window.menuEditor; cm.focus();"
        " cm.setCursor({line, ch: cm.getLine(line).length}); }",
        [line],
    )
    page.keyboard.type(typed)
    return line


def live_db(server: IvrProcess, statement: str) -> list[tuple[object, ...]]:
    return query(server, statement)


def cli_validate(text: str, tmp_path: Path) -> str:
    """What `python -m ivr menus validate` says about the same text, as config/menus/12333.yaml."""
    menu = ROOT / "config" / "menus" / "12333.yaml"
    copy = tmp_path / "menus" / "12333.yaml"
    copy.parent.mkdir(exist_ok=True)
    copy.write_text(text, encoding="utf-8")
    (copy.parent / "12333.prompts.yaml").write_bytes(
        menu.with_name("12333.prompts.yaml").read_bytes()
    )
    done = subprocess.run(
        [sys.executable, "-m", "ivr", "menus", "validate", str(copy)],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    return done.stdout.replace(str(copy), "config/menus/12333.yaml")


def test_edit_simulate_publish_and_roll_back_in_the_browser(
    console_server: IvrProcess, base_url: str, tmp_path: Path
) -> None:
    with chromium() as browser:
        page = log_in(browser, base_url, "boss")
        page.goto(base_url + "/admin/menus")
        expect(page.locator("#check-state")).to_have_text("检查通过")
        expect(page.locator(".tree-node[data-node=main]").first).to_be_visible()

        # Break it: a start node that does not exist. The error shows at its line, as the CLI says.
        line = type_at_end_of(page, "start: main", "x")
        problem = page.locator(f"#problems li[data-line='{line + 1}']")
        expect(problem).to_contain_text("'start' goes to unknown node 'mainx'")
        expect(page.locator("#check-state")).to_have_text("1 处问题")
        assert page.locator(".CodeMirror .problem-line").count() == 1
        assert page.locator(".CodeMirror .problem-line pre").inner_text().strip() == "start: mainx"
        broken = page.evaluate("window.menuEditor.getValue()")
        assert problem.inner_text() in cli_validate(broken, tmp_path).splitlines()
        expect(page.locator("#publish")).to_be_disabled()
        screenshot(page, tmp_path, "console-editor-error")

        # Fix it, and make a real change: the main menu's label.
        page.keyboard.press("Backspace")
        expect(page.locator("#check-state")).to_have_text("检查通过")
        type_at_end_of(page, "label: 主菜单", "（新版）")
        expect(page.locator("#draft-state")).to_have_attribute("data-dirty", "0")
        expect(page.locator("#draft-state")).to_contain_text("草稿已保存")
        expect(page.locator("#touched-prompts li[data-prompt=main_menu]")).to_be_visible()
        expect(page.locator(".tree-node[data-node=main] .label").first).to_have_text(
            "主菜单（新版）"
        )
        screenshot(page, tmp_path, "console-editor")

        # Walk the draft to a temporary loss: the sandbox changes, the live database does not.
        page.goto(base_url + "/admin/simulator")
        page.uncheck("#sim-audio")  # prompts end at once
        page.click("#sim-start")
        expect(page.locator("#sim-status")).to_have_attribute("data-node", "main")
        expect(page.locator("#sim-log")).to_contain_text("草稿")
        for key in "112" + DEMO_ID + "#":
            page.click(f"#keypad button[data-key='{key}']")
        expect(page.locator("#sim-status")).to_have_attribute("data-node", "loss_confirm")
        page.click("#keypad button[data-key='1']")
        expect(page.locator("#sim-log")).to_contain_text(
            "业务 temporary_loss → reported（演练数据）"
        )
        expect(page.locator(f"#sandbox-cards tr[data-id='{DEMO_ID}']")).to_contain_text("临时挂失")
        expect(page.locator("#sim-path li[data-node=loss_report]")).to_be_visible()
        log = page.locator("#sim-log").inner_text()
        assert DEMO_ID not in log and "按键 •" in log  # keyed and read back masked
        assert live_db(console_server, "SELECT count(*) FROM loss_report") == [(0,)]
        assert live_db(console_server, "SELECT count(*) FROM person") == [(0,)]
        screenshot(page, tmp_path, "console-simulator")

        # Publish with a message: the publication names its author; the nodes take it at once.
        page.goto(base_url + "/admin/menus")
        expect(page.locator("#draft-state")).to_contain_text("草稿")
        page.fill("#publish-message", "主菜单标签加上（新版）")
        page.click("#publish")
        expect(page.locator("#publish-result")).to_contain_text("已发布版本")
        newest = live_db(
            console_server,
            "SELECT id, version, author, message FROM menu_publication ORDER BY id DESC LIMIT 1",
        )[0]
        assert newest[2:] == ("boss", "主菜单标签加上（新版）")
        console_server.wait_for_log(rf"menu 12333 version {newest[1][:8]} is live", timeout=8)

        # History, diff, one-click rollback.
        page.goto(base_url + "/admin/menus/versions")
        expect(page.locator("tbody tr")).to_have_count(2)
        page.click("button:has-text('比较所选版本')")
        expect(page.locator("#diff .add")).to_contain_text("label: 主菜单（新版）")
        screenshot(page, tmp_path, "console-diff")
        page.go_back()
        page.click("tbody tr:nth-child(2) button:has-text('回滚到此版本')")
        expect(page.locator("tbody tr")).to_have_count(3)
        first = live_db(console_server, "SELECT version FROM menu_publication ORDER BY id")[0][0]
        rolled = live_db(
            console_server,
            "SELECT version, author, message FROM menu_publication ORDER BY id DESC LIMIT 1",
        )[0]
        assert rolled[0] == first and rolled[1] == "boss" and rolled[2].startswith("回滚到 #1")
        console_server.wait_for_log(
            rf"version {newest[1][:8]} is live[\s\S]*version {first[:8]} is live", timeout=8
        )
        screenshot(page, tmp_path, "console-versions")
        changes = {row[0] for row in live_db(console_server, "SELECT action FROM change_log")}
        assert {"menu.publish", "menu.rollback"} <= changes


def test_an_agent_cannot_reach_the_supervisor_pages(base_url: str) -> None:
    with chromium() as browser:
        page = log_in(browser, base_url, "agent1")
        for path in ("/admin/menus", "/admin/simulator", "/admin/menus/versions"):
            response = page.goto(base_url + path)
            assert response is not None and response.status == 403
            expect(page.locator("main")).to_contain_text("仅限班长")
        assert page.locator("nav a:has-text('菜单编辑')").count() == 0
