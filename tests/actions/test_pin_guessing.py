"""PIN guessing stays bounded when Redis fails, when calls race and when IDs are walked."""

from __future__ import annotations

import datetime as dt

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import select

from ivr.actions.card_rules import CardState
from ivr.actions.pin_hash import PepperMissing, hash_pin, pepper_stored, verify_pin
from ivr.actions.registry import ActionRegistry
from ivr.actions.service import ActionContext, pin_counter_key
from ivr.actions.settings import DailyLimit, LossPolicy, PinPolicy
from ivr.store.models import Card, PinCredential
from tests.actions.support import FAST_PIN, id_for, request, with_settings

OLD, NEW = "802461", "730915"
PEPPER = b"a pepper of at least sixteen bytes"


def change(registry: ActionRegistry, number: str, old: str = OLD, caller: str = "13912345678"):
    req = request("pin_change", id_number=number, old_pin=old, new_pin=NEW, new_pin_again=NEW)
    return registry.run(req.__class__(req.name, req.params, caller, req.call_ref))


def _credential(ctx: ActionContext) -> PinCredential:
    with ctx.db.reading() as session:
        return session.scalars(select(PinCredential)).one()


def _card(ctx: ActionContext) -> Card:
    with ctx.db.reading() as session:
        return session.scalars(select(Card)).one()


def dead_redis() -> redis.Redis:
    return redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))


def test_redis_down_fails_closed_for_the_right_pin_too(ctx: ActionContext, make_card) -> None:
    """Before: the right PIN was verified before Redis was touched, so it changed the PIN
    while every wrong one went uncounted: unlimited guesses with Redis down."""
    number = make_card(pin=OLD)
    registry = ActionRegistry(ActionContext(db=ctx.db, redis=dead_redis(), clock=ctx.clock))
    assert change(registry, number, old=OLD).outcome == "unavailable"
    assert change(registry, number, old="000000").outcome == "unavailable"
    assert verify_pin(OLD, _credential(ctx).pin_hash)


def test_no_pin_is_verified_once_the_days_tries_are_reserved(
    ctx: ActionContext, make_card, registry: ActionRegistry
) -> None:
    """Tries are reserved before verifying: with the day's six already taken by calls still
    in flight, even the right PIN is not checked (and the card locks)."""
    number = make_card(pin=OLD)
    card = _card(ctx)
    ctx.redis.set(pin_counter_key(card, ctx.local_day(ctx.clock())), 6)
    assert change(registry, number, old=OLD).outcome == "locked"
    assert verify_pin(OLD, _credential(ctx).pin_hash)
    assert _card(ctx).pin_locked_at is not None


def test_a_right_pin_gives_its_reservation_back(
    ctx: ActionContext, make_card, registry: ActionRegistry
) -> None:
    number = make_card(pin=OLD)
    assert change(registry, number, old="000000").values["attempts_left"] == 5
    assert change(registry, number, old=OLD).outcome == "changed"
    key = pin_counter_key(_card(ctx), ctx.local_day(ctx.clock()))
    assert int(ctx.redis.get(key)) == 1  # only the wrong try stays counted


@pytest.mark.parametrize("state", [CardState.SEALED, CardState.FORMAL_LOSS, CardState.CANCELLED])
def test_the_cards_state_is_told_only_after_the_right_pin(
    make_card, registry: ActionRegistry, state: CardState
) -> None:
    number = make_card(state=state, pin=OLD)
    assert change(registry, number, old="000000").outcome == "wrong_pin"
    assert change(registry, number, old=OLD).outcome == "not_allowed"


def test_a_locked_card_answers_locked_whatever_the_pin_after_checking_it(
    ctx: ActionContext, make_card, registry: ActionRegistry
) -> None:
    number = make_card(pin=OLD, pin_locked_at=dt.datetime(2026, 3, 1, tzinfo=dt.UTC))
    assert change(registry, number, old="000000").outcome == "locked"
    assert change(registry, number, old=OLD).outcome == "locked"
    assert verify_pin(OLD, _credential(ctx).pin_hash)


def test_an_unknown_id_sounds_like_a_card_with_a_wrong_pin(
    make_card, registry: ActionRegistry
) -> None:
    known, unknown = make_card(pin=OLD), id_for(500)
    heard_known = [change(registry, known, old="000000") for _ in range(6)]
    heard_unknown = [change(registry, unknown, old="000000") for _ in range(6)]
    assert [(r.outcome, dict(r.values)) for r in heard_known] == [
        (r.outcome, dict(r.values)) for r in heard_unknown
    ]
    assert heard_unknown[-1].outcome == "locked"


def test_without_concealment_an_unknown_id_is_not_found(ctx: ActionContext) -> None:
    registry = ActionRegistry(with_settings(ctx, conceal_unknown_id=False))
    assert change(registry, id_for(501)).outcome == "not_found"


def test_a_city_requiring_the_pin_for_a_loss_conceals_unknown_ids_too(
    ctx: ActionContext,
) -> None:
    registry = ActionRegistry(with_settings(ctx, temporary_loss=LossPolicy(require_pin=True)))
    result = registry.run(request("temporary_loss", id_number=id_for(502), pin="000000"))
    assert (result.outcome, result.values["attempts_left"]) == ("wrong_pin", 5)


def test_queries_are_limited_per_id_number_and_per_caller(ctx: ActionContext, make_card) -> None:
    limits = {"card_query": DailyLimit(per_caller=5, per_id=3, anonymous=4)}
    registry = ActionRegistry(with_settings(ctx, limits=limits))

    def query(number: str, caller: str) -> str:
        req = request("card_query", id_number=number)
        return registry.run(req.__class__(req.name, req.params, caller, req.call_ref)).outcome

    number = make_card()
    assert [query(number, f"1390000000{i}") for i in range(4)] == ["normal"] * 3 + ["too_many"]
    # One caller walking unknown IDs: the same answer for each, until the caller's limit.
    walked = [query(id_for(600 + i), "13800000000") for i in range(6)]
    assert walked == ["not_found"] * 5 + ["too_many"]
    assert [query(id_for(700 + i), "") for i in range(5)] == ["not_found"] * 4 + ["too_many"]
    ctx.clock.advance(days=1)  # type: ignore[attr-defined]
    assert query(number, "13900000000") == "normal"


def test_limits_fail_closed_when_redis_is_down(ctx: ActionContext, make_card) -> None:
    number = make_card()
    registry = ActionRegistry(ActionContext(db=ctx.db, redis=dead_redis(), clock=ctx.clock))
    assert registry.run(request("card_query", id_number=number)).outcome == "unavailable"


def test_a_peppered_hash_needs_the_pepper() -> None:
    peppered = PinPolicy(scrypt_n=2**4, scrypt_r=1, scrypt_p=1, pepper=PEPPER)
    stored = hash_pin(NEW, peppered)
    assert stored.startswith("scrypt-hmac$")
    assert verify_pin(NEW, stored, PEPPER)
    assert not verify_pin(NEW, stored, PEPPER + b"x")
    with pytest.raises(PepperMissing):
        verify_pin(NEW, stored)


def test_hashes_from_before_the_pepper_are_wrapped_without_the_pin() -> None:
    plain = hash_pin(NEW, FAST_PIN)
    wrapped = pepper_stored(plain, PEPPER)
    assert wrapped is not None and wrapped.startswith("scrypt-hmac$")
    assert verify_pin(NEW, wrapped, PEPPER)
    assert not verify_pin(OLD, wrapped, PEPPER)
    assert pepper_stored(wrapped, PEPPER) is None


def test_an_action_with_a_pepper_checks_and_writes_peppered_hashes(
    ctx: ActionContext, make_card
) -> None:
    peppered = with_settings(
        ctx, pin=PinPolicy(scrypt_n=2**4, scrypt_r=1, scrypt_p=1, pepper=PEPPER)
    )
    number = make_card(pin=OLD)  # hashed before the pepper existed
    assert change(ActionRegistry(peppered), number, old=OLD).outcome == "changed"
    stored = _credential(ctx).pin_hash
    assert stored.startswith("scrypt-hmac$") and verify_pin(NEW, stored, PEPPER)
