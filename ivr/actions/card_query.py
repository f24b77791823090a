"""`card_query`: the state and production progress of the caller's card, in words they understand.

Params: `id_number` (18 characters; a final `*` keyed on the phone is read as `X`).

Outcomes (the card's effective state, then the failures):
- `normal`          正常
- `sealed`          封存: issued, social-security function not yet enabled (may be in production)
- `temporary_loss`  临时挂失 (values add `lapses_on`, `lapses_at`)
- `formal_loss`     正式挂失
- `cancelled`       注销
- `not_found`       no card for this ID number (a query gives no PIN, so nothing can hide this;
                    the day's limits per caller and per ID number bound how far anyone walks)
- `too_many`        the day's limit of queries for this caller or ID number is used up
- `invalid_id`      the ID number fails GB 11643 (values: `problem`); nothing is looked up
- `unavailable`     storage down; nothing recorded

Values of a found card: `status_text` (the state's name), `advice_text` (what to do),
`electronic_text` (what the electronic card can still do), `progress_stage`, `progress_text`,
`progress_date` (`datetime.date`), `expected_ready_on` (while still in production), `bank`,
`card_tail` (last four characters of the card number).
"""

from __future__ import annotations

from typing import Any

from ivr.actions.base import UNAVAILABLE, ActionRequest, ActionResult
from ivr.actions.card_rules import (
    ADVICE_TEXT,
    ELECTRONIC_NOT_ISSUED_TEXT,
    ELECTRONIC_TEXT,
    STAGES,
    CardState,
    current_stage,
)
from ivr.actions.service import TOO_MANY, ActionContext, OnCard, act_on_card, card_state

NAME = "card_query"
STATE_OUTCOMES = {
    CardState.NORMAL: "normal",
    CardState.SEALED: "sealed",
    CardState.TEMPORARY_LOSS: "temporary_loss",
    CardState.FORMAL_LOSS: "formal_loss",
    CardState.CANCELLED: "cancelled",
}
OUTCOMES = frozenset({*STATE_OUTCOMES.values(), "not_found", "invalid_id", TOO_MANY, UNAVAILABLE})


def card_query(ctx: ActionContext, request: ActionRequest) -> ActionResult:
    return act_on_card(ctx, request, _describe, for_update=False)


def _describe(on: OnCard) -> ActionResult:
    card, settings = on.card, on.ctx.settings
    state = card_state(card, on.now)
    stage, progress_text, progress_date = current_stage(
        {column: getattr(card, column) for _, column, _ in STAGES}
    )
    values: dict[str, Any] = {
        "status_text": state.value,
        "advice_text": ADVICE_TEXT[state],
        "electronic_text": (
            ELECTRONIC_TEXT[state] if card.electronic_issued else ELECTRONIC_NOT_ISSUED_TEXT
        ),
        "progress_stage": stage,
        "progress_text": progress_text,
        "progress_date": progress_date,
        "bank": card.bank,
        "card_tail": card.card_number[-4:],
    }
    if stage == "applied":
        values["expected_ready_on"] = settings.calendar.add_working_days(
            card.applied_on, settings.card_production_working_days
        )
    if state is CardState.TEMPORARY_LOSS and card.temporary_loss_until is not None:
        lapses_at = on.ctx.local_time(card.temporary_loss_until)
        values.update(lapses_on=lapses_at.date(), lapses_at=lapses_at)
    return ActionResult(STATE_OUTCOMES[state], values)
