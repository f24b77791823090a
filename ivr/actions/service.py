"""What every action shares: dependencies, finding the card, the audit line, the PIN check.

An action runs as one database transaction: it locks the card row it acts on (`FOR UPDATE` on
PostgreSQL; SQLite's `BEGIN IMMEDIATE` serializes writers), decides, writes its change and its
audit line together, and only returns after the commit.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from ivr.actions.base import ActionRequest, ActionResult, Clock, system_clock
from ivr.actions.card_rules import CardState, effective_state
from ivr.actions.id_number import check_id_number
from ivr.actions.pin_hash import verify_pin
from ivr.actions.settings import ActionSettings, parse_action_settings
from ivr.config import Config
from ivr.masking import mask_card_number, mask_id_number
from ivr.store.db import Database, open_database
from ivr.store.models import AuditEntry, Card, Person, PinAttempt
from ivr.store.redis_state import count_in_window, open_redis
from ivr.work_calendar import configured_calendar

PIN_COUNTER_PREFIX = "ivr:pin-wrong"
# Keep a day's counter an hour past local midnight: node clocks may differ a little. The key is
# named for its day, so a new day starts a new count whatever the expiry.
PIN_COUNTER_GRACE_S = 3600


@dataclass(frozen=True)
class ActionContext:
    db: Database
    redis: redis.Redis
    settings: ActionSettings = field(default_factory=ActionSettings)
    clock: Clock = system_clock

    @classmethod
    def from_config(cls, config: Config, clock: Clock = system_clock) -> ActionContext:
        """The database, Redis, `actions:` settings and calendar the configuration names."""
        return cls(
            db=open_database(config.store),
            redis=open_redis(config.store),
            settings=parse_action_settings(config.section("actions"), configured_calendar(config)),
            clock=clock,
        )

    def local_day(self, now: dt.datetime) -> dt.date:
        return now.astimezone(self.settings.timezone).date()

    def local_time(self, now: dt.datetime) -> dt.datetime:
        return now.astimezone(self.settings.timezone)


@dataclass(frozen=True)
class OnCard:
    """One action's view of the card it acts on, inside the action's transaction."""

    ctx: ActionContext
    request: ActionRequest
    session: Session
    card: Card
    id_number: str
    now: dt.datetime


def act_on_card(
    ctx: ActionContext,
    request: ActionRequest,
    decide: Callable[[OnCard], ActionResult],
    *,
    for_update: bool = True,
    audit_values: frozenset[str] = frozenset(),
) -> ActionResult:
    """The skeleton of every card action: check the ID, find and lock the card, decide, audit.

    Outcomes it answers itself: `invalid_id` (values: `problem`; nothing is looked up, so
    nothing is audited) and `not_found`. The result is returned only after the commit;
    `audit_values` names result values worth keeping in the audit line (never secrets).
    """
    now = ctx.clock()
    check = check_id_number(request.params.get("id_number", ""), today=ctx.local_day(now))
    if check.problem is not None:
        return ActionResult("invalid_id", {"problem": check.problem.value})
    with ctx.db.transaction() as session:
        card = current_card(session, check.number, for_update=for_update)
        if card is None:
            result = ActionResult("not_found")
        else:
            result = decide(OnCard(ctx, request, session, card, check.number, now))
        detail = {k: v for k, v in result.values.items() if k in audit_values}
        audit(
            session,
            action=request.name,
            outcome=result.outcome,
            now=now,
            request=request,
            id_number=check.number,
            card=card,
            detail=detail or None,
        )
    return result


def current_card(session: Session, id_number: str, *, for_update: bool = True) -> Card | None:
    """The holder's current card (latest not cancelled, else latest), row-locked when updating."""
    query = select(Card).join(Person).where(Person.id_number == id_number).order_by(Card.id)
    if for_update:
        query = query.with_for_update(of=Card)
    cards = session.scalars(query).all()
    live = [card for card in cards if card.state != CardState.CANCELLED.value]
    return (live or cards or [None])[-1]


def card_state(card: Card, now: dt.datetime) -> CardState:
    return effective_state(CardState(card.state), card.temporary_loss_until, now)


def audit(
    session: Session,
    *,
    action: str,
    outcome: str,
    now: dt.datetime,
    request: ActionRequest | None = None,
    channel: str | None = None,
    id_number: str | None = None,
    card: Card | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Add the audit line of one action to the session (committed with the action's change)."""
    session.add(
        AuditEntry(
            at=now,
            action=action,
            outcome=outcome,
            channel=channel or (request.channel if request else "system"),
            caller=request.caller if request else None,
            call_ref=request.call_ref if request else None,
            card_id=card.id if card else None,
            masked_id_number=mask_id_number(id_number) if id_number else None,
            masked_card_number=mask_card_number(card.card_number) if card else None,
            detail=json.dumps(detail, ensure_ascii=False, default=str) if detail else None,
        )
    )


class PinVerdict(Enum):
    RIGHT = "right"
    WRONG = "wrong"
    LOCKED = "locked"


def pin_counter_key(card: Card, day: dt.date) -> str:
    return f"{PIN_COUNTER_PREFIX}:{card.id}:{day:%Y%m%d}"


def check_pin(on: OnCard, pin: str) -> tuple[PinVerdict, int]:
    """Check the social-security PIN of the card: (verdict, wrong tries left today).

    Wrong tries are counted per local calendar day in Redis (atomic across calls and nodes); the
    try that reaches the limit locks the card in the database, which is the authority: only a
    counter unlocks it. Every check is recorded as a `PinAttempt`. A wrong try stays counted
    even if the commit then fails: the wrong PIN was really typed, and guessing must not get
    cheaper when the database is struggling.
    """
    ctx, card, request, now = on.ctx, on.card, on.request, on.now
    limit = ctx.settings.pin.max_wrong_per_day
    if card.pin_locked_at is not None:
        return PinVerdict.LOCKED, 0
    right = card.pin is not None and verify_pin(pin, card.pin.pin_hash)
    day = ctx.local_day(now)
    on.session.add(
        PinAttempt(
            card_id=card.id,
            at=now,
            local_day=day,
            success=right,
            purpose=request.name,
            channel=request.channel,
            caller=request.caller,
            call_ref=request.call_ref,
        )
    )
    if right:
        return PinVerdict.RIGHT, limit
    local = ctx.local_time(now)
    midnight = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), local.tzinfo)
    ttl = int((midnight - local).total_seconds()) + PIN_COUNTER_GRACE_S
    wrong = count_in_window(ctx.redis, pin_counter_key(card, day), ttl)
    if wrong >= limit:
        card.pin_locked_at = now
        return PinVerdict.LOCKED, 0
    return PinVerdict.WRONG, limit - wrong
