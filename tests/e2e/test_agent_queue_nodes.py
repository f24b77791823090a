"""Two IVR processes sharing one database and one Redis serve one queue: 20 callers come in over
both nodes, 4 agents register (two with each node); nobody is offered twice, no agent is rung
for two callers at once, and callers are offered to agents in the order they arrived, whichever
node they came in on. The order is printed."""

from __future__ import annotations

import itertools
import json
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.store.models import QueueLogEntry
from ivr.store.redis_state import REDISLITE_FILE
from tests.e2e.agent_phones import (
    add_agent,
    caller_report,
    queue_config,
    registered_phone,
    start_caller,
)
from tests.e2e.conftest import stop_cleanly
from tests.e2e.server import IvrProcess, free_port, open_store, start_ivr
from tests.web.console_client import PASSWORD, ConsoleClient, web_url

CALLERS = 20
AGENTS = {"1001": 0, "1002": 0, "1003": 1, "1004": 1}  # agent -> the node it registers with


@pytest.fixture(scope="module")
def nodes(
    storage: tuple[str | None, str | None], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[IvrProcess, IvrProcess]]:
    directory = tmp_path_factory.mktemp("two-nodes")
    config = queue_config(directory, ring_timeout=15, wrap_up=1, announce_every=60)
    database_url, redis_url = storage
    env = {"IVR_CONFIG": str(config)}
    first = start_ivr(
        directory / "node1", database_url=database_url, redis_url=redis_url, extra_env=env
    )
    if database_url is None:  # the embedded defaults: the second node uses the first one's
        database_url = f"sqlite:///{first.data_dir / 'ivr.sqlite3'}"
    if redis_url is None:
        registry = json.loads((first.data_dir / f"{REDISLITE_FILE}.settings").read_text())
        redis_url = f"unix://{registry['unixsocket']}"
    second = start_ivr(
        directory / "node2", database_url=database_url, redis_url=redis_url, extra_env=env
    )
    for agent in AGENTS:
        add_agent(first, agent, PASSWORD)
    yield first, second
    stop_cleanly(second)
    stop_cleanly(first)


def log_rows(server: IvrProcess) -> list[QueueLogEntry]:
    db = open_store(server)
    try:
        with db.reading() as session:
            return list(
                session.scalars(select(QueueLogEntry).order_by(QueueLogEntry.at, QueueLogEntry.id))
            )
    finally:
        db.dispose()


def test_two_nodes_serve_one_queue_in_order_of_arrival(
    nodes: tuple[IvrProcess, IvrProcess], tmp_path: Path
) -> None:
    with ExitStack() as stack:
        phones = {
            agent: stack.enter_context(
                registered_phone(
                    nodes[node], free_port(), agent, PASSWORD, "--answer-after", "0.5",
                    "--hangup-after", "2", "--calls", "10", timeout=120, done_at_exit=True,
                )
            )
            for agent, node in AGENTS.items()
        }  # fmt: skip
        assert all(phone["registered"] for phone in phones.values())
        for agent, node in AGENTS.items():  # each agent uses its own node's console
            client = ConsoleClient(web_url(nodes[node]))
            assert client.login(agent).status == 200
            client.get("/agent")
            assert client.post("/agent/state", json_body={"state": "available"}).status == 200
        callers = []
        for n in range(CALLERS):
            steps = [{"at": 1.5, "dtmf": "0"}, {"at": 100.0, "hangup": True}]
            callers.append(
                start_caller(nodes[n % 2], steps, from_user=f"1390000{n:04}", timeout=110)
            )
            time.sleep(0.6)
        reports = [caller_report(process, timeout=180) for process in callers]
    assert all(report.get("connected") for report in reports), reports

    deadline = time.monotonic() + 30
    rows = log_rows(nodes[0])
    while sum(row.event == "complete" for row in rows) < CALLERS and time.monotonic() < deadline:
        time.sleep(0.5)
        rows = log_rows(nodes[0])
    entered = [row.call_id for row in rows if row.event == "enter"]
    offered = [row.call_id for row in rows if row.event == "offer"]
    connected = [row for row in rows if row.event == "connect"]
    node_of = {row.call_id: row.node for row in rows if row.event == "enter"}
    caller_of = {call_id: n for n, call_id in enumerate(entered, 1)}
    print(
        "\narrival order (node):", " ".join(f"{n}({node_of[c][-5:]})" for c, n in caller_of.items())
    )
    print("offer order:          ", " ".join(str(caller_of[c]) for c in offered))
    print(
        "connect order (agent):", " ".join(f"{caller_of[r.call_id]}({r.agent})" for r in connected)
    )

    assert len(entered) == CALLERS and len(set(entered)) == CALLERS
    assert len(offered) == CALLERS, "a caller was offered twice (or one was never offered)"
    assert offered == entered, "callers were not offered in the order they arrived"
    assert len(connected) == CALLERS
    assert len({node_of[c] for c in entered}) == 2  # both nodes took callers
    # no agent was rung for a second caller before its call before had ended
    busy: dict[str, list[tuple[float, str]]] = defaultdict(list)
    for row in rows:
        if row.agent and row.event in ("offer", "complete", "no_answer"):
            busy[row.agent].append((row.at.timestamp(), row.event))
    for agent, events in busy.items():
        kinds = [kind for _, kind in sorted(events)]
        for before, after in itertools.pairwise(kinds):
            assert not (before == "offer" and after == "offer"), (agent, kinds)
    # every agent took calls, from both nodes' callers
    taken = {row.agent for row in connected}
    assert taken == set(AGENTS)
