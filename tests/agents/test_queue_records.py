"""The queue log, callback requests and agents' notes in SQL (SQLite, and PostgreSQL when set)."""

from __future__ import annotations

import datetime as dt
import threading

import pytest

from ivr.agents import callbacks
from ivr.agents.call_notes import add_note, notes_of_call
from ivr.agents.queue_log import QueueEvent, events_of_call, record
from tests.backends import Stores

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def test_queue_log_keeps_a_callers_story_in_order(stores: Stores) -> None:
    record(
        stores.db,
        QueueEvent(T0, "社保卡", "call-1", "enter", position=2, node="n1"),
        QueueEvent(T0, "社保卡", "call-1", "offer", agent="1001"),
    )
    record(stores.db, QueueEvent(T0, "社保卡", "call-1", "connect", agent="1001", wait_s=42.5))
    record(stores.db, QueueEvent(T0, "社保卡", "call-1", "complete", agent="1001", talk_s=180.0))
    story = events_of_call(stores.db, "call-1")
    assert [e.event for e in story] == ["enter", "offer", "connect", "complete"]
    assert story[2].wait_s == 42.5 and story[3].talk_s == 180.0 and story[0].at == T0
    with pytest.raises(ValueError, match="unknown queue event"):
        QueueEvent(T0, "社保卡", "call-1", "teleported")


def test_a_callback_is_claimed_by_one_agent_only(stores: Stores) -> None:
    request = callbacks.request_callback(stores.db, "社保卡", "13800138000", "明天上午", "c1", T0)
    assert [cb.number for cb in callbacks.pending(stores.db, ("社保卡",))] == ["13800138000"]
    assert callbacks.pending(stores.db, ("医保",)) == []
    winners: list[str] = []

    def grab(agent: str) -> None:
        if callbacks.claim(stores.db, request, agent) is not None:
            winners.append(agent)

    threads = [threading.Thread(target=grab, args=(f"10{n:02}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(winners) == 1
    callbacks.finish(stores.db, request, done=False, now=T0)  # not reached: back on the list
    (again,) = callbacks.pending(stores.db)
    assert again.state == "pending" and again.agent is None
    assert callbacks.claim(stores.db, request, "1001") is not None
    callbacks.finish(stores.db, request, done=True, now=T0)
    assert callbacks.pending(stores.db) == []


def test_notes_land_with_the_call(stores: Stores) -> None:
    add_note(stores.db, "call-9", "1001", "  来电人询问社保卡挂失进度  ", T0)
    (note,) = notes_of_call(stores.db, "call-9")
    assert (note.agent, note.text) == ("1001", "来电人询问社保卡挂失进度")
    with pytest.raises(ValueError, match="不能为空"):
        add_note(stores.db, "call-9", "1001", "   ", T0)
