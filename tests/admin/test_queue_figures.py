"""Queue figures for the dashboard: waiting callers and agents from the shared ACD, service level
from the queue log."""

from __future__ import annotations

import datetime as dt

from ivr.admin.queue_figures import queue_figures
from ivr.agents.acd import Acd, AgentState
from ivr.agents.queue_log import QueueEvent, record
from tests.backends import Stores

NOW = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
MIDNIGHT = dt.datetime(2026, 11, 29, 16, 0, tzinfo=dt.UTC)  # Asia/Shanghai's


def test_waiting_callers_agents_by_state_and_service_level(stores: Stores) -> None:
    acd = Acd(stores.redis, "node-a")
    epoch = NOW.timestamp()
    acd.heartbeat(epoch)
    acd.enter("card", "call-1", "13800000001", epoch - 40)
    acd.enter("card", "call-2", "13800000002", epoch - 10)
    acd.set_state("a1", AgentState.AVAILABLE, epoch, queues=("card",))
    acd.set_state("a2", AgentState.PAUSED, epoch, reason="午休", queues=("card",))
    at = NOW - dt.timedelta(minutes=5)
    record(
        stores.db,
        QueueEvent(at, "card", "c1", "connect", agent="a1", wait_s=12.0),
        QueueEvent(at, "card", "c2", "connect", agent="a1", wait_s=45.0),
        QueueEvent(at, "card", "c3", "abandon", position=2, wait_s=30.0),
        QueueEvent(at, "card", "c4", "connect", agent="a1", wait_s=3.0),
        QueueEvent(MIDNIGHT - dt.timedelta(minutes=1), "card", "c0", "abandon", wait_s=9.0),
    )
    (card,) = queue_figures(stores.redis, stores.db, "node-a", {"card": "社保卡"}, MIDNIGHT, NOW)
    assert (card.label, card.waiting, card.longest_wait_s) == ("社保卡", 2, 40.0)
    assert card.agents == {"available": 1, "paused": 1}
    assert (card.answered_today, card.answered_in_time_today, card.abandoned_today) == (3, 2, 1)
    assert card.service_level == 50.0  # 2 of the 4 answered or abandoned today
