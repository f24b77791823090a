"""The dashboard's and /metrics' figures equal what the database holds after scripted sipp calls
with known keys and known hang-up points."""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections import Counter
from pathlib import Path

from playwright.sync_api import expect
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from ivr.store.models import CallRecord
from tests.e2e.server import SIP_CLIENTS, IvrProcess, free_port, open_store
from tests.web.browser import chromium, log_in, screenshot
from tests.web.console_client import METRICS_TOKEN, ConsoleClient

# digits each caller keys, how many callers, where each hangs up (the menu node it reached)
BATCHES = [("1", 20, "信息查询"), ("2", 15, "社保卡业务"), ("12", 15, "窗口办理业务")]
CALLS = sum(count for _, count, _ in BATCHES)


def sipp_batch(server: IvrProcess, digits: str, calls: int) -> None:
    """`calls` callers at 10 a second, each keys `digits` by SIP INFO and hangs up 1.5 s later."""
    command = [
        "sipp", f"127.0.0.1:{server.sip_port}",
        "-sf", str(SIP_CLIENTS / "sipp" / "uac_dtmf_info.xml"),
        "-s", "12333", "-key", "digits", digits, "-set", "pre_ms", "800", "-set", "post_ms", "1500",
        "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_port()), "-m", str(calls),
        "-r", "10", "-nostdin", "-timeout", "90s",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


def database_counts(server: IvrProcess) -> tuple[int, int, Counter[str], Counter[str]]:
    """Calls, caller hang-ups, reach per node and drop-off per node, counted from call_record."""
    db = open_store(server)
    try:
        with db.reading() as session:
            rows = session.execute(select(CallRecord.path, CallRecord.end_reason)).all()
    finally:
        db.dispose()
    reach: Counter[str] = Counter()
    drop: Counter[str] = Counter()
    hung_up = 0
    for path_text, end_reason in rows:
        path = json.loads(path_text)
        reach.update(set(path))
        if end_reason == "bye":
            hung_up += 1
            drop[path[-1]] += 1
    return len(rows), hung_up, reach, drop


def wait_for(check, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_dashboard_and_metrics_equal_the_database_after_50_scripted_calls(
    console_server: IvrProcess, base_url: str, tmp_path: Path
) -> None:
    for digits, calls, _ in BATCHES:
        sipp_batch(console_server, digits, calls)
    assert wait_for(lambda: database_counts(console_server)[0] == CALLS)
    calls, hung_up, reach, drop = database_counts(console_server)
    # What the script did, as the database recorded it.
    assert hung_up == CALLS
    assert {node: drop[node] for _, _, node in BATCHES} == {n: c for _, c, n in BATCHES}
    assert reach["主菜单"] == CALLS and reach["信息查询"] == 35

    client = ConsoleClient(base_url)
    client.login("boss")
    keys = {"按键 1": 35, "按键 2": 30}

    def figures() -> dict:  # type: ignore[type-arg]
        shown = client.get("/admin/dashboard/figures").json()
        heard = {what: shown["heard_today"].get(what) for what in keys}
        return shown if heard == keys and shown["calls_now"] == 0 else {}

    shown = wait_for(figures, timeout=15)
    assert shown, client.get("/admin/dashboard/figures").json()
    assert shown["calls_today"] == calls == CALLS
    assert shown["hung_up_today"] == hung_up
    assert shown["reach"] == dict(reach)
    assert shown["drop_off"] == dict(drop)
    assert sum(shown["calls_by_hour"]) == calls
    assert shown["outcomes_today"] == {"—": calls}  # nobody reached an action

    # The same figures for Prometheus: refused without the token, parsed with its own parser.
    refused = ConsoleClient(base_url).get("/metrics")
    assert refused.status == 401
    scraped = ConsoleClient(base_url).get(
        "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
    )
    assert scraped.status == 200
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }
    assert samples[("ivr_calls_today", ())] == CALLS
    assert samples[("ivr_calls_ended_total", (("end_reason", "bye"),))] == hung_up
    for node, count in drop.items():
        assert samples[("ivr_menu_node_drop_off_today", (("node", node),))] == count
    for what, count in keys.items():
        assert samples[("ivr_heard_today", (("what", what),))] == count
    this_node = f"127.0.0.1:{console_server.sip_port}"
    assert samples[("ivr_calls_active", (("ivr_node", this_node),))] == 0

    # The page shows the same figures; the CDR search finds the callers who hung up at 信息查询.
    with chromium() as browser:
        page = log_in(browser, base_url, "boss")
        page.set_viewport_size({"width": 1440, "height": 1400})
        page.goto(base_url + "/admin/dashboard")
        expect(page.locator("#kpi-calls-today")).to_have_text(str(calls))
        expect(page.locator("#kpi-hung-up")).to_have_text(str(hung_up))
        expect(page.locator("#queues-table tbody tr").first).to_be_visible()
        page.wait_for_timeout(500)  # the charts draw without animation
        screenshot(page, tmp_path, "console-dashboard")
        page.goto(base_url + "/admin/cdr")
        expect(page.locator("#cdr-table tbody tr")).to_have_count(calls)
        screenshot(page, tmp_path, "console-cdr")
        page.goto(base_url + "/admin/prompts?node=query")
        screenshot(page, tmp_path, "console-prompts")


def test_the_node_reports_its_media_pacing_to_metrics_and_the_dashboard(
    console_server: IvrProcess, base_url: str, tmp_path: Path
) -> None:
    this_node = f"127.0.0.1:{console_server.sip_port}"
    frames = ("ivr_media_frames_total", (("ivr_node", this_node),))

    def samples() -> dict:  # type: ignore[type-arg]
        scraped = ConsoleClient(base_url).get(
            "/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}
        )
        found = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(scraped.text)
            for sample in family.samples
        }
        return found if found.get(frames, 0) > 0 else {}

    first = wait_for(samples, timeout=15)
    assert first, "the node's pacing clock never showed in /metrics"
    # the clock runs from the node's start, calls or none; the next report counts on
    later = wait_for(lambda: (s := samples()) and s[frames] > first[frames] and s, timeout=15)
    assert later, "the node's frame count did not grow"
    label = (("ivr_node", this_node),)
    assert later[("ivr_media_streams_active", label)] == 0
    assert 0 <= later[("ivr_media_ticks_late_total", label)] <= later[frames]
    assert ("ivr_media_frames_skipped_total", label) in later

    with chromium() as browser:
        page = log_in(browser, base_url, "boss")
        page.goto(base_url + "/admin/dashboard")
        expect(page.locator("#ivr-nodes")).to_have_text(
            re.compile(rf"各 IVR 节点：{re.escape(this_node)} 0（近 2 秒媒体节拍迟到 \d+ 次）")
        )
        screenshot(page, tmp_path, "console-dashboard-media")
