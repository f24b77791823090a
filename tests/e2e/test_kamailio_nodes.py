"""Two IVR nodes behind a real Kamailio (issue 12): the front door of deploy/kamailio/.

Kamailio runs as its own process on a free loopback port, with the shipped kamailio.cfg copied
into a temporary directory and its node list written there (OPTIONS probes every second). Two
IVR processes share one database (SQLite file, or the test PostgreSQL) and one Redis (an
embedded redis-server, or the test Redis). Calls are placed at Kamailio only:
  - they spread over both nodes (Call-ID hash);
  - a menu published on one node is what new calls on the other node run;
  - `kill -9` of the node holding a caller right after his temporary loss was reported: the
    report is in the database, new calls all reach the other node at once, and the node, started
    again on its port, takes calls again after a probe;
  - SIGTERM drains a node: its calls in progress finish, new calls go to the other node, it exits.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from sqlalchemy import select

from ivr.nodes import answers_options, dispatcher_list, kamailio_command, start_embedded_redis
from ivr.store.models import Card, LossReport, Person
from tests.e2e.call_log import ANSWERED
from tests.e2e.conftest import seed_demo, stop_cleanly
from tests.e2e.server import ROOT, SIP_CLIENTS, IvrProcess, call, free_port, open_store, start_ivr
from tests.e2e.test_journeys import JOURNEYS, WU_XIA

PROBE_SECONDS = 1
MENU = (ROOT / "config" / "menus" / "12333.yaml").read_text(encoding="utf-8")


@dataclass
class FrontDoor:
    process: subprocess.Popen[bytes]
    sip_port: int
    log_path: Path

    @property
    def target(self) -> str:
        return f"sip:12333@127.0.0.1:{self.sip_port}"


@dataclass
class Cluster:
    front: FrontDoor
    nodes: list[IvrProcess]
    work: Path

    def marks(self) -> list[int]:
        """Where each node's log ends now: answered lines after it belong to calls to come."""
        return [len(node.log()) for node in self.nodes]

    def answered(self, marks: list[int]) -> list[list[re.Match[str]]]:
        """Per node, the calls it answered since `marks`."""
        return [
            list(ANSWERED.finditer(n.log(), mark))
            for n, mark in zip(self.nodes, marks, strict=True)
        ]

    def sipp(self, calls: int, hold_ms: int, *, wait: bool = True) -> subprocess.Popen[str]:
        """`calls` short calls (answer, hold, BYE) at Kamailio, 20 a second."""
        command = ["sipp", f"127.0.0.1:{self.front.sip_port}", "-sf"]
        command += [str(SIP_CLIENTS / "sipp" / "uac_load.xml"), "-s", "12333"]
        command += ["-i", "127.0.0.1", "-mi", "127.0.0.1", "-p", str(free_port())]
        command += ["-m", str(calls), "-r", "20", "-d", str(hold_ms), "-nostdin"]
        command += ["-timeout", "90s", "-trace_err"]
        process = subprocess.Popen(
            command, cwd=self.work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        if wait:
            output, _ = process.communicate(timeout=120)
            assert process.returncode == 0, output[-3000:]
        return process


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.fixture(scope="module")
def cluster(
    storage: tuple[str | None, str | None], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Cluster]:
    work = tmp_path_factory.mktemp("front-door")
    database_url = storage[0] or f"sqlite:///{work / 'shared.sqlite3'}"
    redis_url = storage[1]
    helpers: list[subprocess.Popen[bytes]] = []
    if redis_url is None:
        redis_server, redis_url = start_embedded_redis(work / "redis")
        helpers.append(redis_server)
    nodes: list[IvrProcess] = []
    try:
        for name in ("a", "b"):  # one after the other: the first brings the schema to head
            nodes.append(
                start_ivr(
                    tmp_path_factory.mktemp(f"node-{name}"),
                    database_url=database_url,
                    redis_url=redis_url,
                )
            )
        seed_demo(nodes[0].env)
        config = work / "kamailio.cfg"
        shutil.copy(ROOT / "deploy" / "kamailio" / "kamailio.cfg", config)
        node_list = work / "nodes.list"
        node_list.write_text(dispatcher_list("127.0.0.1", [n.sip_port for n in nodes]))
        port = free_port()
        log_path = work / "kamailio.log"
        command = kamailio_command(
            config, f"udp:127.0.0.1:{port}", node_list, work, probe_seconds=PROBE_SECONDS
        )
        with log_path.open("wb") as log:
            kamailio = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        helpers.insert(0, kamailio)
        wait_until(lambda: answers_options("127.0.0.1", port), 20, "Kamailio")
        yield Cluster(FrontDoor(kamailio, port, log_path), nodes, work)
    finally:
        for node in nodes:
            if node.process.poll() is None:
                stop_cleanly(node)
        for helper in helpers:
            helper.terminate()
            helper.wait(20)


def test_calls_spread_over_both_nodes(cluster: Cluster) -> None:
    marks = cluster.marks()
    cluster.sipp(calls=12, hold_ms=1000)
    answered = cluster.answered(marks)
    assert sum(map(len, answered)) == 12
    assert all(answered), [len(calls) for calls in answered]  # each node took some


def test_a_menu_published_on_one_node_is_what_new_calls_on_the_other_run(
    cluster: Cluster, tmp_path: Path
) -> None:
    edited = tmp_path / "12333.yaml"
    edited.write_text(MENU + "\n# edited by a supervisor on node a\n", encoding="utf-8")
    published = subprocess.run(
        [sys.executable, "-m", "ivr", "menus", "publish", str(edited)],
        cwd=ROOT,
        env=cluster.nodes[0].env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert published.returncode == 0, published.stdout + published.stderr
    version = re.search(r"\b([0-9a-f]{8})[0-9a-f]*\b", published.stdout)
    assert version, published.stdout
    for node in cluster.nodes:  # each follows the database within its 5 s poll
        node.wait_for_log(rf"menu 12333 version {version.group(1)}\w* is live", timeout=15)
    marks = cluster.marks()
    cluster.sipp(calls=12, hold_ms=500)
    answered = cluster.answered(marks)
    assert all(answered), [len(calls) for calls in answered]
    versions = {found["version"][:8] for calls in answered for found in calls}
    assert versions == {version.group(1)}


def test_kill_9_keeps_the_committed_loss_and_new_calls_reach_the_other_node(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory
) -> None:
    marks = cluster.marks()
    steps = JOURNEYS["loss"]
    report: dict[str, object] = {}
    phone = threading.Thread(
        target=lambda: report.update(call(cluster.front, steps, timeout=90)), daemon=True
    )
    phone.start()
    wait_until(lambda: any(cluster.answered(marks)), 30, "the loss call to be answered")
    victim = next(i for i, calls in enumerate(cluster.answered(marks)) if calls)
    ref = cluster.answered(marks)[victim][0]["ref"]
    node = cluster.nodes[victim]
    node.wait_for_log(rf"\[{ref} [^\]]*\] action temporary_loss -> reported", timeout=90)
    node.process.kill()  # kill -9, the caller still on the line
    node.process.wait()

    survivor = cluster.nodes[1 - victim]
    marks = cluster.marks()
    cluster.sipp(calls=6, hold_ms=500)  # at once: within the probing interval
    answered = cluster.answered(marks)
    assert len(answered[1 - victim]) == 6, survivor.log()[-3000:]

    database = open_store(survivor)
    try:
        with database.reading() as session:
            card = session.scalars(
                select(Card).join(Person).where(Person.id_number == WU_XIA.id_number)
            ).all()[-1]
            reports = session.scalars(select(LossReport).where(LossReport.card_id == card.id)).all()
        assert [(r.call_ref, r.kind) for r in reports] == [(ref, "temporary")]
        assert card.temporary_loss_until == reports[0].expires_at
    finally:
        database.dispose()
    phone.join(120)

    # The node started again on its port (as systemd's Restart= would) takes calls again.
    restarted = start_ivr(
        tmp_path_factory.mktemp("node-again"),
        database_url=node.env.get("IVR_DATABASE_URL"),
        redis_url=node.env.get("IVR_REDIS_URL"),
        extra_env={"IVR_SIP_PORT": str(node.sip_port)},
    )
    cluster.nodes[victim] = replace(restarted, sip_port=node.sip_port)
    time.sleep(2 * PROBE_SECONDS + 0.5)  # a probe answered: active again
    marks = cluster.marks()
    cluster.sipp(calls=12, hold_ms=500)
    assert all(cluster.answered(marks))


def test_sigterm_drains_a_node_its_calls_finish_and_new_calls_go_to_the_other(
    cluster: Cluster,
) -> None:
    marks = cluster.marks()
    long_calls = cluster.sipp(calls=12, hold_ms=8000, wait=False)
    wait_until(lambda: sum(map(len, cluster.answered(marks))) == 12, 30, "12 calls up")
    draining = next(i for i, calls in enumerate(cluster.answered(marks)) if calls)
    node, other = cluster.nodes[draining], cluster.nodes[1 - draining]
    in_progress = [found["ref"] for found in cluster.answered(marks)[draining]]
    node.process.send_signal(signal.SIGTERM)
    node.wait_for_log(rf"draining: {len(in_progress)} call\(s\) in progress")

    later = cluster.marks()
    cluster.sipp(calls=6, hold_ms=500)
    answered = cluster.answered(later)
    assert len(answered[1 - draining]) == 6 and answered[draining] == [], other.log()[-2000:]

    output, _ = long_calls.communicate(timeout=60)
    assert long_calls.returncode == 0, output[-3000:]  # every call ended by its caller, no 5xx
    assert node.process.wait(30) == 0
    log = node.log()
    assert "drained: every call has ended" in log and "hanging up" not in log[marks[draining] :]
    # each call in progress ended by its caller's BYE (a call of an earlier test may end here too)
    assert [len(re.findall(rf"\[{ref} [^\]]*\] ended: bye", log)) for ref in in_progress] == [
        1
    ] * len(in_progress)
    assert "Traceback" not in log
