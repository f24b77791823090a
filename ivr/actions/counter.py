"""Counter operations (formal loss, release, PIN unlock) and the lapse sweeper.

These are not on the phone menus: a service window does them after checking the holder's papers.
They run from `python -m ivr db ...` (ivr/actions/cli.py) or an admin console, audited on the
`counter` channel, and answer with the same `ActionResult` as the phone actions.

Outcomes:
- `formal_loss`: `reported` (supersedes an active temporary loss), `already_formal`,
  `not_allowed` (注销; values: `status_text`), `not_found`, `invalid_id`
- `release` (解挂): `released` (values: `status_text` after), `not_lost`, `not_found`, `invalid_id`
- `unlock`: `unlocked`, `not_locked`, `not_found`, `invalid_id`
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from ivr.actions.base import ActionRequest, ActionResult
from ivr.actions.card_rules import (
    FORMAL_LOSS_FROM,
    RELEASE_FROM,
    CardState,
    released_state,
)
from ivr.actions.service import ActionContext, OnCard, act_on_card, card_state, pin_counter_key
from ivr.actions.temporary_loss import (
    end_temporary_report,
    file_loss_report,
    open_temporary_report,
)
from ivr.store.models import Card, LossReport

CHANNEL = "counter"


def _formal_loss(on: OnCard) -> ActionResult:
    card = on.card
    state = card_state(card, on.now)
    if state is CardState.FORMAL_LOSS:
        return ActionResult("already_formal")
    if state not in FORMAL_LOSS_FROM:
        return ActionResult("not_allowed", {"status_text": state.value})
    report = open_temporary_report(on.session, card)
    if report is not None:
        reason = "superseded" if state is CardState.TEMPORARY_LOSS else "lapsed"
        end_temporary_report(on.session, card, report, reason, on.now)
    card.state = CardState.FORMAL_LOSS.value
    file_loss_report(on, "formal")
    return ActionResult("reported")


def _release(on: OnCard) -> ActionResult:
    card = on.card
    if card_state(card, on.now) not in RELEASE_FROM:
        return ActionResult("not_lost")
    for report in on.session.scalars(
        select(LossReport).where(LossReport.card_id == card.id, LossReport.ended_at.is_(None))
    ):
        report.ended_at = on.now
        report.end_reason = "released"
    card.temporary_loss_until = None
    card.state = released_state(card.activated_on).value
    return ActionResult("released", {"status_text": card.state})


def _unlock(on: OnCard) -> ActionResult:
    if on.card.pin_locked_at is None:
        return ActionResult("not_locked")
    on.card.pin_locked_at = None
    on.ctx.redis.delete(pin_counter_key(on.card, on.ctx.local_day(on.now)))
    return ActionResult("unlocked")


OPERATIONS: dict[str, Callable[[OnCard], ActionResult]] = {
    "formal_loss": _formal_loss,
    "release": _release,
    "unlock": _unlock,
}


def counter_operation(
    ctx: ActionContext, name: str, id_number: str, operator: str = "counter"
) -> ActionResult:
    """Run one counter operation on the holder's current card, in one audited transaction."""
    request = ActionRequest(
        name=name,
        params={"id_number": id_number},
        caller=operator,
        call_ref=f"{CHANNEL}:{operator}",
        channel=CHANNEL,
    )
    return act_on_card(ctx, request, OPERATIONS[name], audit_values=frozenset({"status_text"}))


def sweep_lapsed(ctx: ActionContext, batch: int = 500) -> int:
    """Record in the audit log every temporary loss whose deadline has passed; returns how many.

    Idempotent (a recorded lapse closes its report) and safe on several nodes at once: each card
    row is locked and its report re-read before closing. The card's state never waits for this.
    """
    now = ctx.clock()
    with ctx.db.transaction() as session:
        due = session.scalars(
            select(Card)
            .join(LossReport, LossReport.card_id == Card.id)
            .where(
                LossReport.kind == "temporary",
                LossReport.ended_at.is_(None),
                LossReport.expires_at <= now,
            )
            .order_by(Card.id)
            .limit(batch)
            .with_for_update(of=Card, skip_locked=True)
        ).all()
        swept = 0
        for card in due:
            report = open_temporary_report(session, card)
            if report is not None and report.expires_at is not None and report.expires_at <= now:
                end_temporary_report(session, card, report, "lapsed", now)
                swept += 1
    return swept
