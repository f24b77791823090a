"""Actions carry a deadline: a job whose caller stopped waiting never commits afterwards."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from ivr.actions.base import ActionRequest
from ivr.actions.registry import ActionRegistry
from ivr.actions.service import ActionContext
from ivr.store.commit_guard import CommitGuard, CommitWithdrawn
from ivr.store.db import Database
from ivr.store.models import AuditEntry, Card, LossReport, Person
from tests.actions.support import request
from tests.backends import Stores


@contextmanager
def card_held(db: Database, number: str) -> Iterator[None]:
    """Another session holds the card (its row on PostgreSQL, the write lock on SQLite)."""
    with db.transaction() as session:
        _lock_card(session, number)
        yield


def _lock_card(session: Session, number: str) -> None:
    query = select(Card).join(Person).where(Person.id_number == number).with_for_update(of=Card)
    session.scalars(query).all()
    session.execute(text("SELECT 1"))


def guarded(number: str, guard: CommitGuard) -> ActionRequest:
    return ActionRequest(
        "temporary_loss", {"id_number": number}, "13912345678", "call-1", guard=guard
    )


def _reports(db: Database) -> list[LossReport]:
    with db.reading() as session:
        return list(session.scalars(select(LossReport)))


def test_a_guard_claimed_first_cannot_be_withdrawn_and_the_reverse() -> None:
    claimed = CommitGuard()
    claimed.claim()
    assert not claimed.withdraw()
    withdrawn = CommitGuard()
    assert withdrawn.withdraw()
    try:
        withdrawn.claim()
    except CommitWithdrawn:
        pass
    else:
        raise AssertionError("a withdrawn guard was claimed")
    now = [10.0]
    late = CommitGuard(deadline=11.0, clock=lambda: now[0])
    now[0] = 11.0
    assert late.withdrawn


def test_a_report_whose_caller_stopped_waiting_is_rolled_back_not_committed(
    ctx: ActionContext, make_card
) -> None:
    """The job waits on the card; meanwhile the caller is told "unavailable" (the guard is
    withdrawn). When the card is free again the job must not commit the loss."""
    number = make_card()
    registry = ActionRegistry(ctx)
    guard = CommitGuard()
    outcomes: list[str] = []
    job = threading.Thread(
        target=lambda: outcomes.append(registry.run(guarded(number, guard)).outcome)
    )
    with card_held(ctx.db, number):
        job.start()
        time.sleep(0.3)  # the job is waiting for the card
        assert guard.withdraw()  # the action timeout fired: "暂时无法为您办理"
    job.join(10)
    assert outcomes == ["unavailable"]
    assert _reports(ctx.db) == []
    with ctx.db.reading() as session:
        assert session.scalars(select(AuditEntry)).first() is None
        assert session.scalars(select(Card)).one().temporary_loss_until is None


def test_a_guard_past_its_deadline_forbids_the_commit(ctx: ActionContext, make_card) -> None:
    number = make_card()
    registry = ActionRegistry(ctx)
    expired = CommitGuard(deadline=time.monotonic() - 1)
    result = registry.run(guarded(number, expired))
    assert result.outcome == "unavailable"
    assert _reports(ctx.db) == []


def test_a_claimed_guard_commits_and_the_caller_hears_reported(
    ctx: ActionContext, make_card
) -> None:
    number = make_card()
    guard = CommitGuard.within(30)
    result = ActionRegistry(ctx).run(guarded(number, guard))
    assert result.outcome == "reported"
    assert not guard.withdraw()  # too late: it committed, the caller must hear "reported"
    assert len(_reports(ctx.db)) == 1


def test_a_card_held_longer_than_the_storage_timeout_answers_unavailable_in_time(
    stores: Stores, ctx: ActionContext, make_card
) -> None:
    """SQLite's busy wait and PostgreSQL's lock_timeout follow `store.timeout`, so a stuck
    card costs the caller about that long, not 30 s or forever."""
    number = make_card()
    quick = stores.database(timeout=0.5)
    registry = ActionRegistry(ActionContext(db=quick, redis=ctx.redis, clock=ctx.clock))
    try:
        with card_held(ctx.db, number):
            started = time.monotonic()
            result = registry.run(request("temporary_loss", id_number=number))
            waited = time.monotonic() - started
    finally:
        quick.dispose()
    assert result.outcome == "unavailable"
    assert waited < 5, waited
    assert _reports(ctx.db) == []
