"""The agent console in a real browser (Playwright + Debian's chromium) against a real IVR, a
real registered agent phone and a real caller: the agent logs in and presses 示闲; a caller keys
an ID number and presses 0; while the agent's phone rings the screen pop shows the caller's
number, the menu path and the ID number masked; the agent answers and writes a note, and the
note is in the database with the call's record. The page is loaded once and never asks the
server for its state: everything arrives on its one event stream."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from ivr.masking import mask_id_number
from ivr.store.models import CallNote, CallRecord
from tests.e2e.agent_phones import (
    add_agent,
    caller_report,
    queue_config,
    registered_phone,
    start_caller,
)
from tests.e2e.server import IvrProcess, free_port, open_store, start_ivr
from tests.web.browser import chromium, log_in, screenshot
from tests.web.console_client import PASSWORD, web_url

ID_NUMBER = "360102198003120013"  # 张伟 in the demo data
CALLER_NUMBER = "13800138000"
NOTE = "来电人询问社保卡临时挂失，已告知七天内到窗口办理正式挂失。"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IvrProcess]:
    directory = tmp_path_factory.mktemp("agent-browser")
    config = queue_config(directory, ring_timeout=30)
    ivr = start_ivr(directory / "data", extra_env={"IVR_CONFIG": str(config)})
    try:
        add_agent(ivr, "1001", PASSWORD, "王芳")
        yield ivr
    finally:
        ivr.stop()


def test_screen_pop_before_answering_and_a_note_in_the_call_record(
    server: IvrProcess, tmp_path: Path
) -> None:
    base = web_url(server)
    # 2 社保卡业务, 1 临时挂失, the ID number and #, then 0 (人工服务) during the read-back
    steps = [
        {"at": 1.0, "dtmf": "2"},
        {"at": 2.5, "dtmf": "1"},
        {"at": 4.0, "dtmf": ID_NUMBER + "#"},
        {"at": 12.0, "dtmf": "0"},
        {"at": 75.0, "hangup": True},
    ]
    with (
        registered_phone(
            server, free_port(), "1001", PASSWORD, "--answer-after", "15", "--hangup-after", "20",
            timeout=90,
        ) as phone,
        chromium() as browser,
    ):  # fmt: skip
        assert phone["registered"]
        page = log_in(browser, base, "1001")
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url.removeprefix(base)))
        page.goto(base + "/agent")
        page.click("#go-available")
        expect(page.locator("#state")).to_have_text("空闲")
        screenshot(page, tmp_path, "agent-console-available")
        caller = start_caller(server, steps, from_user=CALLER_NUMBER, timeout=90)

        pop = page.locator("#pop")
        expect(pop).to_be_visible(timeout=60_000)  # the phone rings: answered 15 s later
        expect(page.locator("#state")).to_have_text("振铃")
        expect(page.locator("#pop-number")).to_have_text(CALLER_NUMBER)
        expect(page.locator("#pop-collected")).to_contain_text(mask_id_number(ID_NUMBER))
        expect(page.locator("#pop-path")).to_contain_text("社保卡业务 › 临时挂失·输入身份证号")
        assert ID_NUMBER not in page.content()
        screenshot(page, tmp_path, "agent-console-ringing")

        expect(page.locator("#state")).to_have_text("通话中", timeout=40_000)
        page.fill("#note", NOTE)
        page.click("#save-note")
        expect(page.locator("#pop-notes")).to_contain_text(NOTE)
        screenshot(page, tmp_path, "agent-console-on-call")
        # one page load, one event stream, no polling: the pop and states were pushed
        assert asked.count("/agent") == 1 and asked.count("/agent/events") == 1, asked
        assert not [url for url in asked if "state.json" in url], asked
        report = caller_report(caller, timeout=120)
    assert report.get("connected"), report
    assert phone["answered"] and phone["calls"][0]["answered"]

    db = open_store(server)
    try:
        deadline = time.monotonic() + 20
        row = None
        while row is None and time.monotonic() < deadline:
            with db.reading() as session:
                row = session.execute(
                    select(CallNote, CallRecord).join(
                        CallRecord, CallRecord.call_id == CallNote.call_id
                    )
                ).first()
            time.sleep(0.2)
    finally:
        db.dispose()
    assert row is not None, "the note is not with a call record"
    note, record = row
    assert (note.agent, note.text) == ("1001", NOTE)
    assert record.caller == CALLER_NUMBER and record.outcome == "transfer:answered"
