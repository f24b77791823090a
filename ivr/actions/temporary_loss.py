"""`temporary_loss`: a temporary loss report (临时挂失) by phone.

It takes effect at once and lapses by itself `actions.temporary_loss.duration` days (or working
days) later unless a counter makes it formal; see `card_rules` for why no job is needed. Allowed
from 正常 and from 封存 (a lost card not yet enabled can still be enabled by whoever finds it).

Params: `id_number`; `pin` too when `actions.temporary_loss.require_pin` is set (a missing PIN
then counts as a wrong one, so a menu for such a city must collect it).

Outcomes:
- `reported`          the loss is recorded and committed (values: `lapses_on` date, `lapses_at`
                      local datetime, `duration`, `unit_text` 天 or 个工作日)
- `already_reported`  a temporary loss is already active; nothing new is stacked (values as above)
- `not_allowed`       the card is 正式挂失 or 注销 (values: `status_text`)
- `wrong_pin`         require_pin only: wrong PIN (values: `attempts_left`)
- `locked`            require_pin only: the PIN is locked (now or before); go to a counter
- `too_many`          the day's limit of reports for this caller or ID number is used up
- `not_found` (with require_pin and `conceal_unknown_id`: answered as `wrong_pin`/`locked`),
  `invalid_id` (values: `problem`), `unavailable`
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.actions.base import UNAVAILABLE, ActionRequest, ActionResult
from ivr.actions.card_rules import TEMPORARY_LOSS_FROM, CardState, temporary_loss_expiry
from ivr.actions.service import (
    TOO_MANY,
    ActionContext,
    OnCard,
    PinVerdict,
    act_on_card,
    audit,
    card_state,
    check_pin,
)
from ivr.store.models import Card, LossReport

NAME = "temporary_loss"
LAPSE_ACTION = "temporary_loss_lapsed"
OUTCOMES = frozenset(
    {
        "reported",
        "already_reported",
        "not_allowed",
        "wrong_pin",
        "locked",
        "not_found",
        "invalid_id",
        TOO_MANY,
        UNAVAILABLE,
    }
)
UNIT_TEXT = {"days": "天", "working_days": "个工作日"}


def open_temporary_report(session: Session, card: Card) -> LossReport | None:
    return session.scalars(
        select(LossReport).where(
            LossReport.card_id == card.id,
            LossReport.kind == "temporary",
            LossReport.ended_at.is_(None),
        )
    ).first()


def end_temporary_report(
    session: Session, card: Card, report: LossReport, reason: str, now: dt.datetime
) -> None:
    """Close a temporary report: at its deadline if it lapsed, else now (superseded, released)."""
    lapsed = reason == "lapsed"
    report.ended_at = report.expires_at if lapsed else now
    report.end_reason = reason
    card.temporary_loss_until = None
    if lapsed:
        audit(session, action=LAPSE_ACTION, outcome="lapsed", now=now, channel="system", card=card)


def file_loss_report(on: OnCard, kind: str, expires_at: dt.datetime | None = None) -> None:
    """Record a loss report ("temporary" or "formal") made through this request's channel."""
    on.session.add(
        LossReport(
            card_id=on.card.id,
            kind=kind,
            channel=on.request.channel,
            caller=on.request.caller,
            call_ref=on.request.call_ref,
            reported_at=on.now,
            expires_at=expires_at,
        )
    )


def temporary_loss(ctx: ActionContext, request: ActionRequest) -> ActionResult:
    pin_param = "pin" if ctx.settings.temporary_loss.require_pin else None
    return act_on_card(
        ctx, request, _report, audit_values=frozenset({"lapses_at"}), pin_param=pin_param
    )


def _report(on: OnCard) -> ActionResult:
    card, settings = on.card, on.ctx.settings
    if settings.temporary_loss.require_pin:
        pin = on.request.params.get("pin", "")
        verdict, left = check_pin(on, pin)
        if verdict is PinVerdict.LOCKED:
            return ActionResult("locked")
        if verdict is PinVerdict.WRONG:
            return ActionResult("wrong_pin", {"attempts_left": left})
    state = card_state(card, on.now)
    if state is CardState.TEMPORARY_LOSS and card.temporary_loss_until is not None:
        return ActionResult("already_reported", _lapse_values(on.ctx, card.temporary_loss_until))
    if state not in TEMPORARY_LOSS_FROM:
        return ActionResult("not_allowed", {"status_text": state.value})
    stale = open_temporary_report(on.session, card)
    if stale is not None:  # an earlier loss lapsed and the sweeper has not recorded it yet
        end_temporary_report(on.session, card, stale, "lapsed", on.now)
    expires_at = temporary_loss_expiry(
        on.now, settings.temporary_loss, settings.calendar, settings.timezone
    )
    card.temporary_loss_until = expires_at
    file_loss_report(on, "temporary", expires_at)
    return ActionResult("reported", _lapse_values(on.ctx, expires_at))


def _lapse_values(ctx: ActionContext, expires_at: dt.datetime) -> dict[str, Any]:
    policy = ctx.settings.temporary_loss
    lapses_at = ctx.local_time(expires_at)
    return {
        "lapses_on": lapses_at.date(),
        "lapses_at": lapses_at,
        "duration": policy.duration,
        "unit_text": UNIT_TEXT[policy.unit],
    }
