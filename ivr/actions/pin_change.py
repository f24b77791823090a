"""`pin_change`: change a non-initial social-security PIN by phone.

Params: `id_number`, `old_pin`, `new_pin`, `new_pin_again` (the menu collects the new PIN twice).

The old PIN is checked before anything about the PIN is revealed: telling a caller who has only
an ID number that the PIN is still the initial one would tell them the PIN is 123456. Six wrong
PINs in one local calendar day (`actions.timezone`) lock the card until a counter unlocks it.

Outcomes:
- `changed`      the new PIN is committed
- `initial_pin`  the PIN is still the initial 123456: change it at a counter or in the app
- `wrong_pin`    the old PIN is wrong (values: `attempts_left` today)
- `locked`       the PIN is locked (by this try or before): go to a counter with the card and ID
- `mismatch`     the two entries of the new PIN differ
- `weak_pin`     the new PIN is refused (values: `reason` — format, repeated, sequence,
                 birth_date, id_tail, same_as_old — and `reason_text`, a Mandarin sentence)
- `not_allowed`  the card is not 正常 (封存, a loss, 注销) (values: `status_text`)
- `not_found`, `invalid_id` (values: `problem`), `unavailable`
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from ivr.actions.base import UNAVAILABLE, ActionRequest, ActionResult
from ivr.actions.card_rules import PIN_CHANGE_IN
from ivr.actions.pin_hash import hash_pin
from ivr.actions.pin_rules import REASON_TEXT, weak_pin_reason
from ivr.actions.service import (
    ActionContext,
    PinVerdict,
    audit,
    card_state,
    check_pin,
    current_card,
    parse_id,
)
from ivr.store.models import Card

NAME = "pin_change"
OUTCOMES = frozenset(
    {
        "changed",
        "initial_pin",
        "wrong_pin",
        "locked",
        "mismatch",
        "weak_pin",
        "not_allowed",
        "not_found",
        "invalid_id",
        UNAVAILABLE,
    }
)


def pin_change(ctx: ActionContext, request: ActionRequest) -> ActionResult:
    now = ctx.clock()
    id_number = parse_id(request.params.get("id_number", ""), ctx, now)
    if isinstance(id_number, ActionResult):
        return id_number
    with ctx.db.transaction() as session:
        card = current_card(session, id_number)
        result = _decide(ctx, session, card, id_number, request, now)
        detail = {k: v for k, v in result.values.items() if k in ("reason", "attempts_left")}
        audit(
            session,
            action=NAME,
            outcome=result.outcome,
            now=now,
            request=request,
            id_number=id_number,
            card=card,
            detail=detail or None,
        )
    return result


def _decide(
    ctx: ActionContext,
    session: Session,
    card: Card | None,
    id_number: str,
    request: ActionRequest,
    now: dt.datetime,
) -> ActionResult:
    if card is None:
        return ActionResult("not_found")
    if card.pin_locked_at is not None:
        return ActionResult("locked")
    state = card_state(card, now)
    if state not in PIN_CHANGE_IN:
        return ActionResult("not_allowed", {"status_text": state.value})
    old_pin = request.params.get("old_pin", "")
    verdict, left = check_pin(ctx, session, card, old_pin, purpose=NAME, request=request, now=now)
    if verdict is PinVerdict.LOCKED:
        return ActionResult("locked")
    if verdict is PinVerdict.WRONG:
        return ActionResult("wrong_pin", {"attempts_left": left})
    credential = card.pin
    assert credential is not None  # a right PIN implies a credential
    if credential.is_initial:
        return ActionResult("initial_pin")
    new_pin = request.params.get("new_pin", "")
    if new_pin != request.params.get("new_pin_again", ""):
        return ActionResult("mismatch")
    reason = weak_pin_reason(new_pin, old_pin, id_number)
    if reason is not None:
        return ActionResult(
            "weak_pin", {"reason": reason.value, "reason_text": REASON_TEXT[reason]}
        )
    credential.pin_hash = hash_pin(new_pin, ctx.settings.pin)
    credential.is_initial = False
    credential.changed_at = now
    return ActionResult("changed")
