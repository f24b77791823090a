"""What every action shares: dependencies, finding the card, the audit line, the PIN check.

An action runs as one database transaction: it locks the card row it acts on (`FOR UPDATE` on
PostgreSQL; SQLite's `BEGIN IMMEDIATE` serializes writers), decides, writes its change and its
audit line together, and only returns after the commit. Before that, the day's limits of the
action per calling number and per ID number are counted in Redis (`too_many` beyond them); a
Redis error there, as anywhere, fails the action closed (`unavailable`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
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
from ivr.actions.pin_hash import hash_pin, verify_pin
from ivr.actions.settings import ActionSettings, parse_action_settings
from ivr.config import Config
from ivr.id_number import check_id_number
from ivr.masking import mask_card_number, mask_id_number
from ivr.store.db import Database, open_database
from ivr.store.models import AuditEntry, Card, Person, PinAttempt
from ivr.store.redis_state import count_in_window, open_redis, release_one
from ivr.work_calendar import configured_calendar

PIN_COUNTER_PREFIX = "ivr:pin-wrong"
LIMIT_PREFIX = "ivr:limit"
# Every limited action may answer this: the day's limit for the caller or the ID number is used.
TOO_MANY = "too_many"
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
    pin_param: str | None = None,
) -> ActionResult:
    """The skeleton of every card action: check the ID, count the day's limits, find and lock
    the card, decide, audit.

    Outcomes it answers itself: `invalid_id` (values: `problem`; nothing is looked up, so
    nothing is audited), `too_many` (nothing is looked up) and `not_found`. `pin_param`: the
    PIN this request must give; with `conceal_unknown_id`, an unknown ID number is then
    answered as a wrong PIN (see `check_unknown_pin`) instead of `not_found`. The result is
    returned only after the commit; `audit_values` names result values worth keeping in the
    audit line (never secrets).
    """
    now = ctx.clock()
    check = check_id_number(request.params.get("id_number", ""), today=ctx.local_day(now))
    if check.problem is not None:
        return ActionResult("invalid_id", {"problem": check.problem.value})
    if request.guard is not None:
        request.guard.check()
    if not within_daily_limits(ctx, request, check.number, now):
        return ActionResult(TOO_MANY)
    with ctx.db.transaction(request.guard) as session:
        card = current_card(session, check.number, for_update=for_update)
        if card is None and pin_param is not None and ctx.settings.conceal_unknown_id:
            pin = request.params.get(pin_param, "")
            result = check_unknown_pin(ctx, check.number, pin, now)
        elif card is None:
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
    chosen = live or cards
    return chosen[-1] if chosen else None


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


def id_key(ctx: ActionContext, id_number: str) -> str:
    """An ID number as it may appear in Redis keys: keyed-hashed, never in clear."""
    key = ctx.settings.pin.pepper or b""
    return hashlib.blake2b(id_number.encode(), key=key[:64], digest_size=16).hexdigest()


def _day_ttl(ctx: ActionContext, now: dt.datetime) -> int:
    """Seconds a counter named for today must live: to local midnight plus the grace."""
    local = ctx.local_time(now)
    midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), local.tzinfo)
    return int((midnight - local).total_seconds()) + PIN_COUNTER_GRACE_S


def within_daily_limits(
    ctx: ActionContext, request: ActionRequest, id_number: str, now: dt.datetime
) -> bool:
    """Count this request against its action's limits for today; False when one is used up.

    Every attempt counts, found or not: the limits are what stops a caller from walking the ID
    space. Callers who send no number share one bucket (`anonymous`)."""
    limit = ctx.settings.limits.get(request.name)
    if limit is None:
        return True
    day, ttl = ctx.local_day(now), _day_ttl(ctx, now)
    caller = request.caller[:32]
    caller_key = f"{LIMIT_PREFIX}:{request.name}:caller:{caller or '-'}:{day:%Y%m%d}"
    by_caller = count_in_window(ctx.redis, caller_key, ttl)
    by_id = count_in_window(
        ctx.redis, f"{LIMIT_PREFIX}:{request.name}:id:{id_key(ctx, id_number)}:{day:%Y%m%d}", ttl
    )
    caller_limit = limit.per_caller if caller else limit.anonymous
    return by_caller <= caller_limit and by_id <= limit.per_id


def check_pin(on: OnCard, pin: str) -> tuple[PinVerdict, int]:
    """Check the social-security PIN of the card: (verdict, wrong tries left today).

    Every try is first reserved on the day's counter in Redis (atomic across calls and nodes),
    then verified; a right PIN gives its reservation back. So no more than the day's limit of
    PINs is ever verified, however many calls guess at once, and a Redis error fails the check
    closed for right and wrong PINs alike. The try that reaches the limit locks the card in the
    database, which is the authority: only a counter unlocks it. A locked card answers `LOCKED`
    only after its PIN was checked, whatever the PIN, so the answer tells nothing about it.
    Every verified try is recorded as a `PinAttempt`. A wrong try stays counted even if the
    commit then fails: the wrong PIN was really typed, and guessing must not get cheaper when
    the database is struggling.
    """
    ctx, card, request, now = on.ctx, on.card, on.request, on.now
    limit = ctx.settings.pin.max_wrong_per_day
    day = ctx.local_day(now)
    key = pin_counter_key(card, day)
    tries = count_in_window(ctx.redis, key, _day_ttl(ctx, now))
    if tries > limit:  # the day's tries are used up: nothing is verified any more
        if card.pin_locked_at is None:
            card.pin_locked_at = now
        return PinVerdict.LOCKED, 0
    right = card.pin is not None and verify_pin(pin, card.pin.pin_hash, ctx.settings.pin.pepper)
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
    if card.pin_locked_at is not None:
        return PinVerdict.LOCKED, 0
    if right:
        release_one(ctx.redis, key)
        return PinVerdict.RIGHT, limit
    if tries >= limit:
        card.pin_locked_at = now
        return PinVerdict.LOCKED, 0
    return PinVerdict.WRONG, limit - tries


_DECOY_HASHES: dict[tuple[int, int, int], str] = {}


def check_unknown_pin(
    ctx: ActionContext, id_number: str, pin: str, now: dt.datetime
) -> ActionResult:
    """The answer to a PIN given with an ID number that has no card, when that must not show:
    the same counter, limit, scrypt work and outcomes (`wrong_pin`, then `locked`) as a card."""
    policy = ctx.settings.pin
    limit = policy.max_wrong_per_day
    day = ctx.local_day(now)
    key = f"{PIN_COUNTER_PREFIX}:id:{id_key(ctx, id_number)}:{day:%Y%m%d}"
    tries = count_in_window(ctx.redis, key, _day_ttl(ctx, now))
    if tries <= limit:
        cost = (policy.scrypt_n, policy.scrypt_r, policy.scrypt_p)
        decoy = _DECOY_HASHES.setdefault(cost, hash_pin("000000", policy))
        verify_pin(pin + "#", decoy, policy.pepper)  # never right: only the time it takes
    if tries >= limit:
        return ActionResult("locked")
    return ActionResult("wrong_pin", {"attempts_left": limit - tries})
