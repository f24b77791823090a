"""The menu pages' JSON calls through a running IVR: checks as the command line does, node edits
that keep references, publishing refused with its reasons, and the simulator's prompt audio."""

from __future__ import annotations

import io
import wave

from ivr.config import PROJECT_ROOT
from tests.e2e.server import IvrProcess
from tests.web.console_client import ConsoleClient, query

MENU = (PROJECT_ROOT / "config" / "menus" / "12333.yaml").read_text(encoding="utf-8")


def supervisor(base_url: str) -> ConsoleClient:
    client = ConsoleClient(base_url)
    client.login("boss")
    client.get("/admin/menus")
    return client


def test_node_edits_keep_references_and_refusals_say_why(base_url: str) -> None:
    client = supervisor(base_url)
    renamed = client.post(
        "/admin/menus/nodes",
        json_body={"text": MENU, "op": "rename", "node": "card_query", "new": "card_menu"},
    ).json()
    assert renamed["ok"] and renamed["problems"] == []
    assert '"1": card_menu' in renamed["text"] and "\n  card_menu:\n" in renamed["text"]
    refused = client.post(
        "/admin/menus/nodes", json_body={"text": MENU, "op": "delete", "node": "goodbye"}
    )
    assert refused.status == 400 and "仍被引用" in refused.json()["error"]
    added = client.post(
        "/admin/menus/nodes",
        json_body={"text": MENU, "op": "add", "new": "notice", "kind": "play", "label": "通知"},
    ).json()
    assert [p["message"] for p in added["problems"]] == [
        "node 'notice' cannot be reached from start or a global key"
    ]
    assert added["touched_prompts"] == ["system_busy"]


def test_publishing_needs_a_message_and_a_menu_without_problems(
    console_server: IvrProcess, base_url: str
) -> None:
    client = supervisor(base_url)
    before = query(console_server, "SELECT count(*) FROM menu_publication")
    no_message = client.post("/admin/menus/publish", json_body={"text": MENU, "message": " "})
    assert no_message.status == 400 and "发布说明" in no_message.json()["error"]
    broken = MENU.replace("next: status_confirm", "next: status_confirmm")
    refused = client.post("/admin/menus/publish", json_body={"text": broken, "message": "试试"})
    assert refused.status == 400
    assert any(
        "config/menus/12333.yaml:" in p and "unknown node 'status_confirmm'" in p
        for p in refused.json()["problems"]
    )
    same = client.post("/admin/menus/publish", json_body={"text": MENU, "message": "再发一次"})
    assert same.status == 400 and "已经是线上版本" in same.json()["error"]
    assert query(console_server, "SELECT count(*) FROM menu_publication") == before


def test_the_simulator_plays_the_prompts_it_says(base_url: str) -> None:
    client = supervisor(base_url)
    started = client.post("/admin/simulator/start", json_body={"fast": False}).json()
    assert started["node"]["id"] == "main" and started["playing"]["text"].startswith("您好")
    audio = client.get(started["playing"]["audio"])
    assert audio.status == 200
    with wave.open(io.BytesIO(audio.body)) as wav:
        assert wav.getframerate() == 8000 and wav.getnframes() > 8000 * 3  # several seconds
    finished = client.post(
        f"/admin/simulator/{started['id']}/event",
        json_body={"type": "finished", "value": str(started["playing"]["play_id"])},
    ).json()
    assert finished["playing"] is None and finished["waiting"]
    said = client.post(
        f"/admin/simulator/{started['id']}/event",
        json_body={
            "type": "say",
            "value": "我要转人工",
            "fast": True,
            "since": finished["log_size"],
        },
    ).json()
    assert [entry["text"] for entry in said["log"][:2]] == [
        "说：「我要转人工」",
        "识别为意图 agent",
    ]
    assert any(step["id"] == "agent" for step in said["path"])  # 人工服务, open or closed
    other = ConsoleClient(base_url)
    other.login("boss")
    other.get("/admin/simulator")
    # An unknown or expired simulation gets a clear answer, not a stack trace.
    lost = other.post("/admin/simulator/0000/event", json_body={"type": "key", "value": "1"})
    assert lost.status == 404 and "模拟已结束" in lost.json()["error"]
