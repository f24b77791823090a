"""`pin_change`: change a non-initial social-security PIN by phone.

Params: `id_number`, `old_pin`, `new_pin`, `new_pin_again` (the menu collects the new PIN twice).

The old PIN is checked before anything about the card is revealed: telling a caller who has
only an ID number that the PIN is still the initial one would tell them the PIN is 123456, and
its state or lock would tell them about the holder. With `actions.conceal_unknown_id` an ID
number with no card is answered like a wrong PIN. Six wrong PINs in one local calendar day
(`actions.timezone`) lock the card until a counter unlocks it.

Outcomes:
- `changed`      the new PIN is committed
- `initial_pin`  the PIN is still the initial 123456: change it at a counter or in the app
- `wrong_pin`    the old PIN is wrong (values: `attempts_left` today)
- `locked`       the PIN is locked (by this try or before): go to a counter with the card and ID
- `mismatch`     the two entries of the new PIN differ
- `weak_pin`     the new PIN is refused (values: `reason` — format, repeated, sequence,
                 birth_date, id_tail, same_as_old — and `reason_text`, a Mandarin sentence)
- `not_allowed`  the card is not 正常 (封存, a loss, 注销) (values: `status_text`)
- `too_many`     the day's limit of PIN changes for this caller or ID number is used up
- `not_found` (only without `conceal_unknown_id`), `invalid_id` (values: `problem`),
  `unavailable`
"""

from __future__ import annotations

from ivr.actions.base import UNAVAILABLE, ActionRequest, ActionResult
from ivr.actions.card_rules import PIN_CHANGE_IN
from ivr.actions.pin_hash import hash_pin
from ivr.actions.pin_rules import REASON_TEXT, weak_pin_reason
from ivr.actions.service import (
    TOO_MANY,
    ActionContext,
    OnCard,
    PinVerdict,
    act_on_card,
    card_state,
    check_pin,
)

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
        TOO_MANY,
        UNAVAILABLE,
    }
)


def pin_change(ctx: ActionContext, request: ActionRequest) -> ActionResult:
    return act_on_card(
        ctx,
        request,
        _change,
        audit_values=frozenset({"reason", "attempts_left"}),
        pin_param="old_pin",
    )


def _change(on: OnCard) -> ActionResult:
    card, params = on.card, on.request.params
    old_pin = params.get("old_pin", "")
    verdict, left = check_pin(on, old_pin)
    if verdict is PinVerdict.LOCKED:
        return ActionResult("locked")
    if verdict is PinVerdict.WRONG:
        return ActionResult("wrong_pin", {"attempts_left": left})
    state = card_state(card, on.now)
    if state not in PIN_CHANGE_IN:
        return ActionResult("not_allowed", {"status_text": state.value})
    credential = card.pin
    assert credential is not None  # a right PIN implies a credential
    if credential.is_initial:
        return ActionResult("initial_pin")
    new_pin = params.get("new_pin", "")
    if new_pin != params.get("new_pin_again", ""):
        return ActionResult("mismatch")
    reason = weak_pin_reason(new_pin, old_pin, on.id_number)
    if reason is not None:
        return ActionResult(
            "weak_pin", {"reason": reason.value, "reason_text": REASON_TEXT[reason]}
        )
    credential.pin_hash = hash_pin(new_pin, on.ctx.settings.pin)
    credential.is_initial = False
    credential.changed_at = on.now
    return ActionResult("changed")
