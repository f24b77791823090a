"""The agent console over HTTP against a real IVR: an agent (made with `python -m ivr agents
add`) logs in, changes state, sees its queue and the callback list; notes land in SQL; its event
stream pushes what another node changes in the shared queue."""

from __future__ import annotations

import datetime as dt
import socket
import time
from collections.abc import Iterator

import pytest

from ivr.agents.acd import CHANGED_CHANNEL, Acd, AgentState
from ivr.agents.call_notes import notes_of_call
from ivr.agents.callbacks import request_callback
from ivr.store.nudges import send_nudge
from tests.e2e.agent_phones import add_agent, server_redis
from tests.e2e.server import IvrProcess, open_store, start_ivr
from tests.web.console_client import PASSWORD, ConsoleClient, add_user, web_url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IvrProcess]:
    ivr = start_ivr(tmp_path_factory.mktemp("agent-console"))
    try:
        add_agent(ivr, "1001", PASSWORD, "王芳")
        add_user(ivr, "boss", "supervisor", "王班长")
        yield ivr
    finally:
        ivr.stop()


@pytest.fixture
def agent(server: IvrProcess) -> ConsoleClient:
    client = ConsoleClient(web_url(server))
    assert client.login("1001").status == 200
    assert client.get("/agent").status == 200  # also reads the CSRF token
    return client


def test_agent_sets_available_and_paused_with_a_reason(agent: ConsoleClient) -> None:
    assert agent.post("/agent/state", json_body={"state": "available"}).status == 200
    state = agent.get("/agent/state.json").json()
    assert state["agent"]["state"] == "available" and state["agent"]["state_name"] == "空闲"
    # the shipped menu's queues: every agent serves each (no `members:` lists)
    assert [q["label"] for q in state["queues"]] == ["医疗保险", "就业创业", "社保卡业务"]
    for queue in state["queues"]:
        assert queue["agents"] == [{"name": "1001", "state": "空闲"}]
    paused = agent.post("/agent/state", json_body={"state": "paused", "reason": "就餐"})
    assert paused.status == 200
    state = agent.get("/agent/state.json").json()["agent"]
    assert (state["state"], state["reason"]) == ("paused", "就餐")
    refused = agent.post("/agent/state", json_body={"state": "paused", "reason": "打游戏"})
    assert refused.status == 400 and "示忙原因" in refused.json()["error"]
    assert agent.post("/agent/state", json_body={"state": "logged_out"}).status == 200


def test_state_changes_need_the_csrf_token(agent: ConsoleClient) -> None:
    reply = agent.request("POST", "/agent/state", json_body={"state": "available"})
    assert reply.status == 403


def test_waiting_callers_and_callbacks_show_up(server: IvrProcess, agent: ConsoleClient) -> None:
    agent.post("/agent/state", json_body={"state": "available"})
    redis = server_redis(server)
    redis.zadd("ivr:acd:q:社保卡", {"waiting-call": 1_000})
    redis.hset("ivr:acd:call:waiting-call", mapping={"queue": "社保卡", "number": "139"})
    db = open_store(server)
    try:
        request_callback(db, "社保卡", "13900001111", "明天上午", "c-9", dt.datetime.now(dt.UTC))
    finally:
        db.dispose()
    state = agent.get("/agent/state.json").json()
    card = next(q for q in state["queues"] if q["name"] == "社保卡")
    assert card["waiting"] == 1 and card["longest_wait"] > 0
    (callback,) = state["callbacks"]
    assert (callback["number"], callback["window"]) == ("13900001111", "明天上午")
    done = agent.post(f"/agent/callbacks/{callback['id']}/done", json_body={"reached": True})
    assert done.status == 200
    assert agent.get("/agent/state.json").json()["callbacks"] == []
    redis.delete("ivr:acd:q:社保卡", "ivr:acd:call:waiting-call")


def test_a_note_is_kept_with_the_call(server: IvrProcess, agent: ConsoleClient) -> None:
    saved = agent.post("/agent/note", json_body={"call_id": "call-x@1", "text": "咨询挂失进度"})
    assert saved.status == 200
    empty = agent.post("/agent/note", json_body={"call_id": "call-x@1", "text": "  "})
    assert empty.status == 400
    db = open_store(server)
    try:
        (note,) = notes_of_call(db, "call-x@1")
    finally:
        db.dispose()
    assert (note.agent, note.text) == ("1001", "咨询挂失进度")


def test_the_page_speaks_chinese_and_supervisors_may_look(server: IvrProcess) -> None:
    boss = ConsoleClient(web_url(server))
    boss.login("boss")
    page = boss.get("/agent")
    assert page.status == 200 and "坐席工作台" in page.text and "示闲" in page.text


def test_the_event_stream_pushes_a_change_another_node_made(
    server: IvrProcess, agent: ConsoleClient
) -> None:
    """Another IVR node (here: this test, running the same ACD script on the shared Redis)
    changes the agent's state; the stream sends it at once, long before its 10 s refresh."""
    assert agent.post("/agent/state", json_body={"state": "paused", "reason": "会议"}).status == 200
    stream = agent.events("/agent/events")
    try:
        assert stream.status == 200
        assert stream.response.getheader("Content-Type", "").startswith("text/event-stream")
        first = stream.next_state(timeout=10)
        assert (first["agent"]["state"], first["agent"]["reason"]) == ("paused", "会议")
        other_node = Acd(server_redis(server), "10.0.0.12:5062")
        started = time.monotonic()
        other_node.set_state("1001", AgentState.AVAILABLE, time.time(), queues=("社保卡",))
        pushed = stream.next_state(timeout=8)
        assert pushed["agent"]["state"] == "available", pushed
        assert time.monotonic() - started < 5.0  # the nudge, not the 10 s safety net
        redis = server_redis(server)
        redis.zadd("ivr:acd:q:社保卡", {"stream-call": time.time() - 30})
        redis.hset("ivr:acd:call:stream-call", mapping={"queue": "社保卡", "number": "139"})
        send_nudge(redis, CHANGED_CHANNEL, "社保卡|")  # as ENTER would: the live view follows
        view = next(q for q in stream.next_state(timeout=8)["queues"] if q["name"] == "社保卡")
        assert view["waiting"] == 1 and view["longest_wait"] >= 29
        redis.delete("ivr:acd:q:社保卡", "ivr:acd:call:stream-call")
    finally:
        stream.close()
        agent.post("/agent/state", json_body={"state": "logged_out"})


def test_a_session_holds_four_streams_and_a_closed_one_frees_its_place(
    server: IvrProcess, agent: ConsoleClient
) -> None:
    streams = [agent.events("/agent/events") for _ in range(4)]
    try:
        for stream in streams:
            assert stream.status == 200 and stream.next_state(timeout=10)["agent"]
        refused = agent.events("/agent/events")
        assert refused.status == 429
        refused.close()
        streams.pop().connection.sock.shutdown(socket.SHUT_RDWR)  # the browser tab closed
        deadline = time.monotonic() + 10
        while True:
            again = agent.events("/agent/events")
            if again.status == 200 or time.monotonic() > deadline:
                break
            again.close()
            time.sleep(0.1)
        streams.append(again)
        assert again.status == 200
        other = ConsoleClient(agent.base)  # another session has its own four
        other.login("1001")
        extra = other.events("/agent/events")
        assert extra.status == 200
        extra.close()
    finally:
        for stream in streams:
            stream.close()
