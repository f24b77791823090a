"""A publication from the console reaches new calls at once, while a call in progress keeps the
version it started on: a sipp caller connected before the publication and a pjsua2 caller after
it press the same key and go to different menus."""

from __future__ import annotations

import json
import subprocess
import time

from sqlalchemy import select

from ivr.config import PROJECT_ROOT
from ivr.store.models import CallRecord
from tests.e2e.server import SIP_CLIENTS, IvrProcess, call, free_port, open_store
from tests.web.console_client import ConsoleClient

SWAP_FROM = '    keys:\n      "1": query\n      "2": card_services\n'
SWAP_TO = '    keys:\n      "1": card_services\n      "2": query\n'


def test_a_call_in_progress_keeps_its_version_while_a_new_call_gets_the_published_one(
    console_server: IvrProcess, base_url: str
) -> None:
    old = (PROJECT_ROOT / "config" / "menus" / "12333.yaml").read_text(encoding="utf-8")
    assert SWAP_FROM in old
    client = ConsoleClient(base_url)
    client.login("boss")
    client.get("/admin/menus")

    # The early caller connects, then keys "1" 8 s later: after the publication.
    early = subprocess.Popen(
        ["sipp", f"127.0.0.1:{console_server.sip_port}",
         "-sf", str(SIP_CLIENTS / "sipp" / "uac_dtmf_info.xml"), "-s", "12333",
         "-key", "digits", "1", "-set", "pre_ms", "8000", "-set", "post_ms", "2500",
         "-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_port()), "-m", "1",
         "-nostdin", "-timeout", "60s"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        console_server.wait_for_log(r"ivr.call: \[[^]]*\] answered", timeout=20)
        reply = client.post(
            "/admin/menus/publish",
            json_body={"text": old.replace(SWAP_FROM, SWAP_TO), "message": "1 与 2 对调"},
        )
        assert reply.status == 200, reply.text
        new_version = reply.json()["version"]
        console_server.wait_for_log(rf"version {new_version[:8]} is live", timeout=10)
        late = call(console_server, [{"at": 2.5, "dtmf": "1"}, {"at": 5.5, "hangup": True}])
        assert late["connected"], late
    finally:
        out, err = early.communicate(timeout=60)
    assert early.returncode == 0, out[-2000:] + err[-2000:]

    db = open_store(console_server)
    deadline = time.monotonic() + 20
    while True:
        with db.reading() as session:
            rows = session.execute(
                select(CallRecord.menu_version, CallRecord.path).order_by(CallRecord.started_at)
            ).all()
        if len(rows) >= 2 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    db.dispose()
    assert len(rows) == 2
    (early_version, early_path), (late_version, late_path) = rows
    assert early_version != new_version and late_version == new_version
    assert json.loads(early_path)[:2] == ["主菜单", "信息查询"]  # the old meaning of "1"
    assert json.loads(late_path)[:2] == ["主菜单", "社保卡业务"]  # the published one
