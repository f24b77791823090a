"""Every caller journey of the 12333 tree over a real SIP call, checked by ear and in the database.

A pjsua phone dials the real IVR, presses through config/menus/12333.yaml as the seeds' phone
path has it (信息查询 1 → 社保卡查询 1 → 社保卡挂失 2 → ID number, `*` for X, `#` → 1), and
records what it hears; the tests then find each prompt, readouts included, in that recording,
and read the IVR's own database (seeded with `python -m ivr db seed-demo`, one person per
journey: ivr/actions/demo.py).

The calls of a backend run at the same time, one phone each: a journey lasts as long as its
prompts (silence alone takes three 10 s timeouts), so one after the other they would take
minutes. Each phone dials only once the previous call was answered, which tells which server
call reference (`c3`, in every log line of that call and in the rows its actions wrote) is
which journey's. Key presses are timed in seconds after the call connected: a key pressed while
a prompt plays stops it (barge-in) and counts, so only what a test must hear is let play.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np
import pytest
import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.actions.demo import DEMO_PEOPLE
from ivr.actions.pin_hash import verify_pin
from ivr.actions.settings import ActionSettings, parse_action_settings
from ivr.config import load_config
from ivr.masking import mask_id_number
from ivr.menus.service_hours import ServiceHours
from ivr.store.db import Database
from ivr.store.models import AuditEntry, Card, LossReport, Person, PinAttempt, PinCredential
from ivr.work_calendar import configured_calendar
from tests.e2e.audio import read_wav
from tests.e2e.call_log import answered_after, call_lines, events
from tests.e2e.heard import heard_at, heard_readout, heard_span, played_audio
from tests.e2e.server import ROOT, IvrProcess, call, open_store

CONFIG = load_config(environ={})
NATIONAL = configured_calendar(CONFIG)
SETTINGS: ActionSettings = parse_action_settings(CONFIG.section("actions"), NATIONAL)
MENU_FILE = ROOT / "config" / "menus" / "12333.yaml"
HOURS = ServiceHours.from_mapping(yaml.safe_load(MENU_FILE.read_text(encoding="utf-8"))["service"])

PEOPLE = {person.name: person for person in DEMO_PEOPLE}
WU_XIA = PEOPLE["吴霞"]  # 正常, ID number ending in X: the seeds' loss path
YANG_LEI = PEOPLE["杨磊"]  # temporary loss already active
CHEN_JING = PEOPLE["陈静"]  # the ID number keyed by mistake, then corrected
WANG_FANG = PEOPLE["王芳"]  # 封存, card still in production
ZHANG_WEI = PEOPLE["张伟"]  # 正常, non-initial PIN 802461
LI_NA = PEOPLE["李娜"]  # initial PIN 123456
ZHOU_JIE = PEOPLE["周杰"]  # PIN locked
LIU_YANG = PEOPLE["刘洋"]  # the caller who stays silent
NEW_PIN = "135792"
WRONG_CHECKSUM = WU_XIA.first17 + "5"  # region and birth date right, check character wrong

ID_TIME = 0.3 * 19  # the phone sends one key per 0.3 s: 18 characters and `#`
SILENCE_TIMEOUT = 10.0  # defaults.timeout of the menu


def keyed(id_number: str) -> str:
    """What a caller presses for an ID number: `*` for a final X, then `#`."""
    return id_number.replace("X", "*") + "#"


Steps = list[dict[str, object]]


def key(at: float, digits: str) -> dict[str, object]:
    return {"at": at, "dtmf": digits}


def hang_up(at: float) -> dict[str, object]:
    return {"at": at, "hangup": True}


def seconds(prompt_id: str, **variables: object) -> float:
    return len(played_audio(prompt_id, **variables)) / 8000


CONFIRM_TIME = seconds("confirm_id_number", id_number=WU_XIA.id_number)
# Pressing 1 then 1 then 2 at the main greeting reaches the loss path's ID prompt (1-1-2).
LOSS_PATH = [key(1.5, "1"), key(3, "1"), key(4.5, "2")]
# 2 社保卡业务 → 2 修改密码: the ID prompt; ID at 4.5 s, confirmed with 1 at once (barge-in).
PIN_PATH = [key(1.5, "2"), key(3, "2")]


def pin_change_steps(person_id: str, old_pin: str, hear: float) -> Steps:
    """ID, confirm, old PIN, the new PIN twice; then `hear` seconds of the answer."""
    return [
        *PIN_PATH,
        key(4.5, keyed(person_id)),
        key(11.5, "1"),
        key(12.5, old_pin + "#"),
        key(15.5, NEW_PIN + "#"),
        key(18.5, NEW_PIN + "#"),
        hang_up(21 + hear),
    ]


# The progress answer for 王芳's card, whose length times the rest of the query call.
PROGRESS_TIME = 17.5  # card_progress_result for a card still being made, with its date


JOURNEYS: dict[str, Steps] = {
    # The seeds' path: hear the ID read back in full, confirm, hear the lapse date.
    "loss": [
        *LOSS_PATH,
        key(6, keyed(WU_XIA.id_number)),
        key(6 + ID_TIME + CONFIRM_TIME + 1, "1"),
        hang_up(6 + ID_TIME + CONFIRM_TIME + 1 + 20),
    ],
    # 陈静's number by mistake, 2 at the read-back, 杨磊's: his loss is already active.
    "re-enter": [
        *LOSS_PATH,
        key(6, keyed(CHEN_JING.id_number)),
        key(13.5, "2"),
        key(15, keyed(YANG_LEI.id_number)),
        key(15 + ID_TIME + CONFIRM_TIME + 1, "1"),
        hang_up(15 + ID_TIME + CONFIRM_TIME + 1 + 16),
    ],
    "wrong checksum": [*LOSS_PATH, key(6, keyed(WRONG_CHECKSUM)), hang_up(6 + ID_TIME + 14)],
    # 2-2 to the old-PIN prompt, then nothing: three timeouts, the exit, goodbye, hang-up.
    "silence": [*PIN_PATH, key(4.5, keyed(LIU_YANG.id_number)), key(11.5, "1"), hang_up(150)],
    # 1-1-3 progress of a card being made, then 1 status from the menu it returns to.
    "query": [
        key(1.5, "1"),
        key(3, "1"),
        key(4.5, "3"),
        key(6, keyed(WANG_FANG.id_number)),
        key(13, "1"),
        key(14 + PROGRESS_TIME + 1, "1"),
        key(14 + PROGRESS_TIME + 2.5, keyed(WANG_FANG.id_number)),
        key(14 + PROGRESS_TIME + 2.5 + ID_TIME + 1.5, "1"),
        hang_up(14 + PROGRESS_TIME + 2.5 + ID_TIME + 1.5 + 12),
    ],
    "pin change": pin_change_steps(ZHANG_WEI.id_number, "802461", hear=8),
    "initial pin": pin_change_steps(LI_NA.id_number, "123456", hear=12),
    "locked": pin_change_steps(ZHOU_JIE.id_number, "904718", hear=12),
}


@dataclass
class PlacedCall:
    """One journey's call: its server call reference, the phone's report, what it heard."""

    server: IvrProcess
    ref: str
    recording: Path
    outcome: Future[dict[str, object]]
    placed_at: dt.datetime

    @cached_property
    def report(self) -> dict[str, object]:
        report = self.outcome.result()
        assert report["connected"] and report["ended"], report
        return report

    @cached_property
    def heard(self) -> np.ndarray:
        assert self.report
        return read_wav(self.recording)

    def log_lines(self) -> list[str]:
        assert self.report
        return call_lines(self.server, self.ref)

    def events(self, kind: str) -> list[str]:
        return events(self.log_lines(), kind)

    def time_of(self, line_part: str, nth: int = 0) -> float:
        """Server-log timestamp (epoch seconds) of the nth line of this call containing it."""
        lines = [line for line in self.log_lines() if line_part in line]
        stamp = dt.datetime.strptime(lines[nth][:23], "%Y-%m-%d %H:%M:%S,%f")
        return stamp.timestamp()


def length(steps: Steps) -> float:
    """Seconds from the answer to the journey's last step."""
    return max(float(step["at"]) for step in steps)  # type: ignore[arg-type]


def _place(
    server: IvrProcess, pool: ThreadPoolExecutor, steps: Steps, recording: Path
) -> PlacedCall:
    """Start one phone; return once the IVR answered it, with the server's reference for it."""
    since = len(server.log())
    placed_at = dt.datetime.now(dt.UTC)
    outcome = pool.submit(call, server, steps, record=recording, timeout=length(steps) + 20)
    ref = answered_after(server, since, timeout=30)["ref"]
    return PlacedCall(server, ref, recording, outcome, placed_at)


@pytest.fixture(scope="module")
def calls(
    ivr: IvrProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, PlacedCall]]:
    """Every journey's call, all at once (as callers come), all ended before any test looks at
    one: matching recordings while phones still play would take the CPU from them.

    Eight phones on two cores: their jitter buffers conceal and catch up now and then, which
    tests/e2e/heard.py forgives frame by frame (one at a time the journeys took 290 s).
    """
    folder = tmp_path_factory.mktemp("heard")
    placed: dict[str, PlacedCall] = {}
    with ThreadPoolExecutor(max_workers=len(JOURNEYS)) as pool:
        for name in sorted(JOURNEYS, key=lambda name: -length(JOURNEYS[name])):
            recording = folder / f"{name.replace(' ', '-')}.wav"
            placed[name] = _place(ivr, pool, JOURNEYS[name], recording)
        wait([call.outcome for call in placed.values()])
    yield placed


@pytest.fixture(scope="module")
def store(ivr: IvrProcess) -> Iterator[Database]:
    database = open_store(ivr)
    yield database
    database.dispose()


def card_of(session: Session, id_number: str) -> Card:
    return session.scalars(
        select(Card).join(Person).where(Person.id_number == id_number).order_by(Card.id)
    ).all()[-1]


def rows_of_call(session: Session, ref: str) -> dict[str, list[object]]:
    """Everything an action of call `ref` wrote."""
    return {
        "audit": list(session.scalars(select(AuditEntry).where(AuditEntry.call_ref == ref))),
        "loss": list(session.scalars(select(LossReport).where(LossReport.call_ref == ref))),
        "pin": list(session.scalars(select(PinAttempt).where(PinAttempt.call_ref == ref))),
    }


def local_date(moment: dt.datetime) -> dt.date:
    return moment.astimezone(SETTINGS.timezone).date()


# ------------------------------------------------------------------------------ temporary loss


def test_seeds_loss_path_reads_the_id_back_and_reports_the_loss(
    calls: dict[str, PlacedCall], store: Database
) -> None:
    placed = calls["loss"]
    assert placed.events("key")[:3] == ["1 (rfc4733)", "1 (rfc4733)", "2 (rfc4733)"]
    assert placed.events("play")[:6] == [
        "welcome",
        "main_menu",
        "query_menu",
        "card_query_menu",
        "loss_intro",
        "enter_id_number",
    ]
    # The ID number typed with * for X is read back in full, X included, before the 1.
    read_back = heard_readout(
        placed.heard, "confirm_id_number", "id_number", id_number=WU_XIA.id_number
    )
    # the confirming 1 is the last key; keys outside menu choices are logged as •
    confirmed = placed.time_of("key •", nth=-1) - placed.time_of("play confirm_id_number")
    assert confirmed > CONFIRM_TIME, "1 was pressed before the read-back ended"
    assert placed.events("action") == ["temporary_loss -> reported"]

    with store.reading() as session:
        card = card_of(session, WU_XIA.id_number)
        reports = list(
            session.scalars(
                select(LossReport).where(
                    LossReport.card_id == card.id, LossReport.kind == "temporary"
                )
            )
        )
        rows = rows_of_call(session, placed.ref)
    assert len(reports) == 1, reports
    report = reports[0]
    assert report.call_ref == placed.ref and report.ended_at is None
    assert placed.placed_at < report.reported_at < dt.datetime.now(dt.UTC)
    assert report.expires_at == report.reported_at + dt.timedelta(days=7)
    assert card.temporary_loss_until == report.expires_at
    [entry] = rows["audit"]
    assert (entry.action, entry.outcome) == ("temporary_loss", "reported")
    assert entry.masked_id_number == mask_id_number(WU_XIA.id_number) != WU_XIA.id_number
    assert entry.card_id == card.id

    # ... and the caller heard the loss confirmed with the day it lapses, after the read-back.
    lapses_on = local_date(report.expires_at)
    done_at = heard_readout(placed.heard, "loss_done", "lapses_on", lapses_on=lapses_on)
    assert done_at > read_back + CONFIRM_TIME


def test_two_at_the_read_back_re_enters_and_an_active_loss_is_not_stacked(
    calls: dict[str, PlacedCall], store: Database
) -> None:
    placed = calls["re-enter"]
    plays = placed.events("play")
    assert plays.count("confirm_id_number") == 2 and plays.count("loss_intro") == 2, plays
    assert placed.events("action") == ["temporary_loss -> already_reported"]
    heard_readout(placed.heard, "confirm_id_number", "id_number", id_number=YANG_LEI.id_number)

    with store.reading() as session:
        yang = card_of(session, YANG_LEI.id_number)
        chen = card_of(session, CHEN_JING.id_number)
        yang_reports = list(
            session.scalars(select(LossReport).where(LossReport.card_id == yang.id))
        )
        chen_audit = list(session.scalars(select(AuditEntry).where(AuditEntry.card_id == chen.id)))
        rows = rows_of_call(session, placed.ref)
    # The seeded loss stays the only one, as it was: nothing stacked, nothing for 陈静.
    assert len(yang_reports) == 1 and yang_reports[0].call_ref is None, yang_reports
    assert yang_reports[0].ended_at is None
    assert yang_reports[0].expires_at == yang.temporary_loss_until
    assert chen_audit == [] and chen.temporary_loss_until is None
    assert rows["loss"] == []
    [entry] = rows["audit"]
    assert (entry.outcome, entry.masked_id_number) == (
        "already_reported",
        mask_id_number(YANG_LEI.id_number),
    )
    # The caller is told when the active loss lapses.
    lapses_on = local_date(yang.temporary_loss_until)
    heard_readout(placed.heard, "loss_already_reported", "lapses_on", lapses_on=lapses_on)


def test_wrong_checksum_gets_a_spoken_retry_and_writes_nothing(
    calls: dict[str, PlacedCall], store: Database
) -> None:
    placed = calls["wrong checksum"]
    plays = placed.events("play")
    assert plays[-3:] == ["id_wrong_checksum", "loss_intro", "enter_id_number"], plays
    assert placed.events("action") == []
    retry_at, retry_end = heard_span(placed.heard, played_audio("id_wrong_checksum"))
    assert retry_at > 6 + ID_TIME - 1  # after the number was typed
    # The ID prompt is asked again right after the explanation.
    after_retry = placed.heard[round(retry_at * 8000) :]
    again_at = retry_at + heard_at(after_retry, played_audio("loss_intro")[: 5 * 8000])
    assert abs(again_at - retry_end) < 0.1
    with store.reading() as session:
        assert rows_of_call(session, placed.ref) == {"audit": [], "loss": [], "pin": []}


# ------------------------------------------------------------------------------ silence


def test_silence_is_asked_again_then_ends_politely(calls: dict[str, PlacedCall]) -> None:
    placed = calls["silence"]
    assert placed.report["far_end_hung_up"], placed.report  # the IVR hung up, not the phone
    plays = placed.events("play")
    asked = plays.index("enter_old_pin")
    retries = ["no_input", "enter_old_pin", "no_input", "enter_old_pin"]
    assert plays[asked + 1 : asked + 5] == retries, plays
    # Each retry comes after the prompt ended and `timeout` seconds of silence.
    waited = placed.time_of("play no_input") - placed.time_of("play enter_old_pin")
    assert abs(waited - seconds("enter_old_pin") - SILENCE_TIMEOUT) < 1.0, waited
    heard_at(placed.heard, played_audio("no_input"))
    # The third silence takes the menu's exit: to an agent, and with none free or the line
    # closed (no agent is configured here), say so, goodbye, hang up.
    # Whether the line is open is judged when the server took the exit; within a second of an
    # opening or closing time (11:30, 16:30 ...) either answer is right.
    exit_plays = plays[asked + 5 :]
    decided = dt.datetime.fromtimestamp(placed.time_of(f"play {exit_plays[0]}"), dt.UTC)
    allowed = [
        ["transfer_after_failures", "agents_busy", "goodbye"]
        if HOURS.is_open(moment, NATIONAL)
        else ["agents_closed", "goodbye"]
        for moment in (decided - dt.timedelta(seconds=1), decided)
    ]
    assert exit_plays in allowed, plays
    assert "hanging up: goodbye" in "\n".join(placed.log_lines())
    goodbye_at = heard_at(placed.heard, played_audio("goodbye"))
    assert goodbye_at > 3 * SILENCE_TIMEOUT + 3 * seconds("enter_old_pin")


# ------------------------------------------------------------------------------ card query


def test_card_query_tells_the_production_progress_and_the_status(
    calls: dict[str, PlacedCall], store: Database
) -> None:
    placed = calls["query"]
    assert placed.events("action") == ["card_query -> sealed", "card_query -> sealed"]
    with store.reading() as session:
        card = card_of(session, WANG_FANG.id_number)
        rows = rows_of_call(session, placed.ref)
    assert [(entry.action, entry.outcome) for entry in rows["audit"]] == [
        ("card_query", "sealed"),
        ("card_query", "sealed"),
    ]
    assert card.produced_on is None  # the seed: applied for, still being made
    ready_on = SETTINGS.calendar.add_working_days(
        card.applied_on, SETTINGS.card_production_working_days
    )
    progress = {"progress_stage": "applied", "expected_ready_on": ready_on}
    assert abs(seconds("card_progress_result", **progress) - PROGRESS_TIME) < 1
    progress_at = heard_readout(
        placed.heard, "card_progress_result", "expected_ready_on", **progress
    )
    status_at = heard_at(placed.heard, played_audio("card_status_sealed")[: 10 * 8000])
    assert status_at > progress_at


# ------------------------------------------------------------------------------ PIN change


def test_non_initial_pin_is_changed(calls: dict[str, PlacedCall], store: Database) -> None:
    placed = calls["pin change"]
    assert placed.events("action") == ["pin_change -> changed"]
    heard_at(placed.heard, played_audio("pin_changed"))
    with store.reading() as session:
        card = card_of(session, ZHANG_WEI.id_number)
        credential = session.get(PinCredential, card.id)
        rows = rows_of_call(session, placed.ref)
    assert credential is not None and not credential.is_initial
    assert verify_pin(NEW_PIN, credential.pin_hash)
    assert not verify_pin("802461", credential.pin_hash)
    assert credential.changed_at > placed.placed_at
    assert [(entry.action, entry.outcome) for entry in rows["audit"]] == [("pin_change", "changed")]
    assert [attempt.success for attempt in rows["pin"]] == [True]


def test_initial_pin_is_refused_with_where_to_change_it(
    calls: dict[str, PlacedCall], store: Database
) -> None:
    placed = calls["initial pin"]
    assert placed.events("action") == ["pin_change -> initial_pin"]
    heard_at(placed.heard, played_audio("counter_initial_pin")[: 10 * 8000])
    with store.reading() as session:
        credential = session.get(PinCredential, card_of(session, LI_NA.id_number).id)
        rows = rows_of_call(session, placed.ref)
    assert credential is not None and credential.is_initial
    assert verify_pin("123456", credential.pin_hash)
    assert [attempt.success for attempt in rows["pin"]] == [True]  # right, but initial


def test_locked_card_is_sent_to_a_counter(calls: dict[str, PlacedCall], store: Database) -> None:
    placed = calls["locked"]
    assert placed.events("action") == ["pin_change -> locked"]
    heard_at(placed.heard, played_audio("counter_unlock")[: 10 * 8000])
    with store.reading() as session:
        card = card_of(session, ZHOU_JIE.id_number)
        credential = session.get(PinCredential, card.id)
        rows = rows_of_call(session, placed.ref)
    assert card.pin_locked_at is not None and card.pin_locked_at < placed.placed_at
    assert credential is not None and verify_pin("904718", credential.pin_hash)
    # The lock is told only after the PIN was checked, and the same whatever the PIN: the
    # try is recorded, and the right PIN changed nothing.
    assert [attempt.success for attempt in rows["pin"]] == [True]


# ------------------------------------------------------------------------------ the log


def test_the_log_never_holds_a_full_id_number_or_pin(
    calls: dict[str, PlacedCall], ivr: IvrProcess
) -> None:
    for placed in calls.values():
        placed.log_lines()  # every call has ended
    log = ivr.log()
    typed = [person.id_number for person in PEOPLE.values()] + [WRONG_CHECKSUM]
    for id_number in typed:
        assert id_number not in log and id_number[:17] not in log, mask_id_number(id_number)
    for pin in ("802461", "123456", "904718", NEW_PIN):
        assert pin not in log
    # Menu keys are logged as themselves; every other key (the ID number, its X as *) as a dot.
    keys = calls["loss"].events("key")
    assert keys[:3] == ["1 (rfc4733)", "1 (rfc4733)", "2 (rfc4733)"], keys
    assert keys[3:21] == ["• (rfc4733)"] * 18, keys
