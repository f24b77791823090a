"""The agent queue end to end: real pjsua2 phones register as agents with digest auth, real
pjsua2 callers press 0 and wait in the queue; the queue log in SQL and the recordings say what
happened. Agents' hours are open all day in the test's copy of the menu.

Timeline of the main test (seconds after the first caller's INVITE, on a loaded machine):
agents 1001, 1002, 1003 become available in that order (1001 has been idle longest); five
callers call a second apart and press 0 two seconds in (in the queue ~3 s later). Callers 1-3
are offered at once: 1 to 1001, 2 to 1002, 3 to 1003. 1001's phone never answers: after the
6 s ring timeout 1001 is paused (未接听) and caller 1 is back at the head of the queue, taken
by whichever of 1002 and 1003 hangs up first (they talk 25 s). Caller 4 waits, hears its
position and the keys, then asks for a callback to its own number, tomorrow morning (keys at
17, 22, 26 s, once both announcements are over);
caller 5 gives up and hangs up while waiting (10 s).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ivr.agents.callbacks import pending, request_callback
from ivr.agents.queue_log import events_of_call
from ivr.store.models import QueueLogEntry
from tests.e2e.agent_phones import (
    add_agent,
    caller_report,
    phone_process,
    queue_config,
    registered_phone,
    server_redis,
    start_caller,
)
from tests.e2e.audio import read_wav
from tests.e2e.conftest import stop_cleanly
from tests.e2e.heard import heard_at, played_audio
from tests.e2e.server import IvrProcess, free_port, open_store, start_ivr
from tests.e2e.speech_audio import korean_speech
from tests.web.console_client import PASSWORD, ConsoleClient, web_url

RING_TIMEOUT = 6
AGENTS = ("1001", "1002", "1003")


@pytest.fixture(scope="module")
def gateway_port() -> int:
    """Where the callback gateway sends "立即回电" calls: a phone playing the caller's."""
    return free_port()


@pytest.fixture(scope="module")
def queue_ivr(
    storage: tuple[str | None, str | None],
    tmp_path_factory: pytest.TempPathFactory,
    gateway_port: int,
) -> Iterator[IvrProcess]:
    directory = tmp_path_factory.mktemp("queue-ivr")
    config = queue_config(
        directory,
        callback_gateway=f"sip:{{number}}@127.0.0.1:{gateway_port}",
        ring_timeout=RING_TIMEOUT,
        wrap_up=1,
        announce_every=15,
        max_no_answer=1,
    )
    database_url, redis_url = storage
    server = start_ivr(
        directory / "data",
        database_url=database_url,
        redis_url=redis_url,
        extra_env={"IVR_CONFIG": str(config)},
    )
    for n, agent in enumerate(AGENTS):
        add_agent(server, agent, PASSWORD, f"坐席{n + 1}")
    yield server
    stop_cleanly(server)


def available(server: IvrProcess, agent: str) -> ConsoleClient:
    """The agent logs in to the console and presses 示闲."""
    client = ConsoleClient(web_url(server))
    assert client.login(agent).status == 200
    client.get("/agent")
    assert client.post("/agent/state", json_body={"state": "available"}).status == 200
    return client


def queue_story(server: IvrProcess, call_id: str) -> list[tuple[str, str | None]]:
    db = open_store(server)
    try:
        return [(e.event, e.agent) for e in events_of_call(db, call_id)]
    finally:
        db.dispose()


def call_ids_in_order(server: IvrProcess, count: int) -> list[str]:
    """The Call-IDs of the calls that entered the queue, in the order they entered."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = server.log().count("] queued in ")
        if found >= count:
            break
        time.sleep(0.2)
    db = open_store(server)
    try:
        with db.reading() as session:
            rows = session.scalars(
                select(QueueLogEntry.call_id)
                .where(QueueLogEntry.event == "enter")
                .order_by(QueueLogEntry.at)
            )
            return list(rows)
    finally:
        db.dispose()


def test_three_agents_five_callers(queue_ivr: IvrProcess, tmp_path: Path) -> None:
    server = queue_ivr
    ports = {agent: free_port() for agent in AGENTS}
    with ExitStack() as stack:
        phones: dict[str, dict[str, Any]] = {
            "1001": stack.enter_context(
                registered_phone(server, ports["1001"], "1001", PASSWORD, "--never-answer",
                                 timeout=70, done_at_exit=True)
            ),
            **{
                agent: stack.enter_context(
                    registered_phone(
                        server, ports[agent], agent, PASSWORD, "--answer-after", "1",
                        "--hangup-after", "25", "--calls", "2", timeout=95,
                        done_at_exit=True,
                    )
                )
                for agent in ("1002", "1003")
            },
        }  # fmt: skip
        assert all(phone["registered"] for phone in phones.values())
        for agent in AGENTS:  # one after the other: 1001 has been idle longest
            available(server, agent)
            time.sleep(1.1)
        recording = tmp_path / "caller4.wav"
        waiting = [{"at": 2.0, "dtmf": "0"}, {"at": 80.0, "hangup": True}]
        callers = []
        for n in range(5):
            if n == 3:  # caller 4: 1 callback, 1 to this number, 2 tomorrow morning
                steps = [
                    {"at": 2.0, "dtmf": "0"},
                    {"at": 17.0, "dtmf": "1"},
                    {"at": 22.0, "dtmf": "1"},
                    {"at": 26.0, "dtmf": "2"},
                    {"at": 45.0, "hangup": True},
                ]
            elif n == 4:  # caller 5 gives up while waiting
                steps = [{"at": 2.0, "dtmf": "0"}, {"at": 10.0, "hangup": True}]
            else:
                steps = waiting
            callers.append(
                start_caller(
                    server, steps, from_user=f"1380013800{n}",
                    record=recording if n == 3 else None, timeout=90,
                )
            )  # fmt: skip
            time.sleep(1.0)
        reports = [caller_report(process) for process in callers]
    assert all(report.get("connected") for report in reports), reports
    order = call_ids_in_order(server, 5)
    assert len(order) == 5
    stories = [queue_story(server, call_id) for call_id in order]
    print("\nqueue log, by arrival:")
    for n, story in enumerate(stories, 1):
        print(f"  caller {n}: " + ", ".join(f"{e}{'@' + a if a else ''}" for e, a in story))

    first = stories[0]
    assert first[:3] == [("enter", None), ("offer", "1001"), ("no_answer", "1001")], first
    assert first[3][0] == "offer" and first[3][1] in ("1002", "1003"), first
    assert ("connect", first[3][1]) in first and first[-1][0] == "complete", first
    assert server_redis(server).hget("ivr:acd:agent:1001", "state") == b"paused"
    assert server_redis(server).hget("ivr:acd:agent:1001", "reason").decode() == "未接听"
    assert phones["1001"]["invites"] and not phones["1001"]["answered"]

    for story in stories[1:3]:
        assert ("connect", "1002") in story or ("connect", "1003") in story, story
    assert ("callback_requested", None) in stories[3], stories[3]
    assert stories[4][-1][0] == "abandon", stories[4]
    db = open_store(server)
    try:
        (callback,) = pending(db)
        abandon = events_of_call(db, order[4])[-1]
    finally:
        db.dispose()
    assert (callback.number, callback.window) == ("13800138003", "明天上午")
    assert abandon.position is not None and abandon.position >= 1
    assert abandon.wait_s is not None and abandon.wait_s > 3

    heard = read_wav(recording)  # caller 4 waited: its position was announced
    positions = []
    for ahead in range(4):
        try:
            positions.append(heard_at(heard, played_audio("queue_position", ahead=ahead)))
        except AssertionError:
            continue
    assert positions, "no position announcement heard"


def test_call_back_now_rings_the_agent_then_bridges_the_caller(
    queue_ivr: IvrProcess, gateway_port: int, tmp_path: Path
) -> None:
    server = queue_ivr
    db = open_store(server)
    try:
        request_callback(
            db, "社保卡", "13900001234", "今天", "earlier-call", dt.datetime.now(dt.UTC)
        )
    finally:
        db.dispose()
    # the caller's phone answers and speaks; the agent's phone (answered first) records
    hello = korean_speech(
        tmp_path / "hello.wav", "여보세요 사회보장카드 분실 건으로 연락 부탁했습니다"
    )
    heard = tmp_path / "agent_heard.wav"
    with (
        phone_process(
            "--port", str(gateway_port), "--answer-after", "1", "--play", str(hello),
            timeout=45,
        ) as caller,
        registered_phone(
            server, free_port(), "1003", PASSWORD, "--answer-after", "1", "--record",
            str(heard), "--hangup-after", "12", timeout=45,
        ) as agent,
    ):  # fmt: skip
        assert caller["registered"] and agent["registered"]  # both listen
        client = ConsoleClient(web_url(server))
        assert client.login("1003").status == 200
        client.get("/agent")
        state = client.get("/agent/state.json").json()
        assert state["can_dial"]
        (callback,) = [cb for cb in state["callbacks"] if cb["number"] == "13900001234"]
        dialing = client.post(f"/agent/callbacks/{callback['id']}/call", json_body={})
        assert dialing.status == 200, dialing.text
        assert client.get("/agent/state.json").json()["agent"]["reason"] == "回电"
    assert agent["answered"] and caller["answered"], (agent, caller)
    assert caller["far_end_hung_up"]  # the agent hung up: the bridge ended the caller's leg
    heard_at(read_wav(heard), read_wav(hello))  # the caller's words reached the agent
    db = open_store(server)
    try:
        deadline = time.monotonic() + 10
        while (rows := [cb for cb in pending(db) if cb.number == "13900001234"]) and (
            time.monotonic() < deadline
        ):
            time.sleep(0.2)
        done = events_of_call(db, f"callback-{callback['id']}")
    finally:
        db.dispose()
    assert rows == []  # done: off the list
    assert [(e.event, e.agent, e.detail) for e in done] == [("callback_done", "1003", "answered")]


def test_agent_transfers_the_caller_back_into_the_menu(queue_ivr: IvrProcess) -> None:
    """The agent's softphone transfers the call (REFER) to the IVR itself: the caller is back in
    the menu it came from, hearing its prompts, and can go on keying."""
    server = queue_ivr
    add_agent(server, "1004", PASSWORD)
    since = len(server.log())
    back_to_ivr = f"sip:ivr@127.0.0.1:{server.sip_port}"
    with registered_phone(
        server, free_port(), "1004", PASSWORD, "--answer-after", "1", "--refer-to", back_to_ivr,
        "--refer-after", "3", timeout=40,
    ) as agent:  # fmt: skip
        for other in ("1001", "1002", "1003"):  # only 1004 takes this call
            client = ConsoleClient(web_url(server))
            client.login(other)
            client.get("/agent")
            client.post("/agent/state", json_body={"state": "logged_out"})
        available(server, "1004")
        caller = start_caller(
            server, [{"at": 2.0, "dtmf": "0"}, {"at": 16.0, "hangup": True}],
            from_user="13800138009", timeout=40,
        )  # fmt: skip
        report = caller_report(caller)
    assert report.get("connected") and not report.get("far_end_hung_up"), report
    assert agent["answered"], agent
    log = server.log()[since:]
    assert "agent 1004 transferred the caller back to the menu" in log, log[-3000:]
    after = log[log.index("transferred the caller back to the menu") :]
    assert "play main_keys" in after or "play main_menu" in after, after[:2000]
    db = open_store(server)
    try:
        with db.reading() as session:
            (transfer,) = session.scalars(
                select(QueueLogEntry).where(
                    QueueLogEntry.event == "transfer", QueueLogEntry.agent == "1004"
                )
            )
    finally:
        db.dispose()
    assert transfer.detail == back_to_ivr
