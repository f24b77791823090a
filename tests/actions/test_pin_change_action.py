import threading

import pytest
from sqlalchemy import select

from ivr.actions.card_rules import CardState
from ivr.actions.counter import counter_operation
from ivr.actions.pin_hash import verify_pin
from ivr.actions.registry import ActionRegistry
from ivr.actions.service import ActionContext
from ivr.store.models import Card, PinAttempt, PinCredential
from tests.actions.support import FakeClock, request

OLD = "802461"
NEW = "730915"


def change(registry: ActionRegistry, number: str, old: str = OLD, new: str = NEW, again=None):
    return registry.run(
        request(
            "pin_change", id_number=number, old_pin=old, new_pin=new, new_pin_again=again or new
        )
    )


def _credential(ctx: ActionContext) -> PinCredential:
    with ctx.db.reading() as session:
        return session.scalars(select(PinCredential)).one()


def test_non_initial_pin_is_changed_and_committed(
    registry: ActionRegistry, make_card, ctx: ActionContext
) -> None:
    number = make_card(pin=OLD)
    assert change(registry, number).outcome == "changed"
    credential = _credential(ctx)
    assert verify_pin(NEW, credential.pin_hash)
    assert not credential.is_initial
    assert change(registry, number).outcome == "wrong_pin"  # the old PIN no longer works


def test_initial_pin_must_be_changed_at_a_counter_or_in_the_app(
    registry: ActionRegistry, make_card, ctx: ActionContext
) -> None:
    number = make_card(pin="123456", is_initial=True)
    assert change(registry, number, old="123456").outcome == "initial_pin"
    assert _credential(ctx).is_initial
    # Without the right PIN nobody learns that the PIN is still the initial one.
    assert change(registry, number, old="000000").outcome == "wrong_pin"


def test_new_pin_entered_twice_must_match(registry: ActionRegistry, make_card) -> None:
    assert change(registry, make_card(), again="730916").outcome == "mismatch"


@pytest.mark.parametrize(
    ("new", "reason"), [("222222", "repeated"), ("456789", "sequence"), ("800312", "birth_date")]
)
def test_trivial_new_pin_is_refused_with_a_reason(
    registry: ActionRegistry, make_card, new: str, reason: str
) -> None:
    result = change(registry, make_card(), new=new)
    assert (result.outcome, result.values["reason"]) == ("weak_pin", reason)
    assert result.values["reason_text"].startswith("新密码")


@pytest.mark.parametrize("state", [CardState.SEALED, CardState.FORMAL_LOSS, CardState.CANCELLED])
def test_only_a_normal_card_changes_its_pin_by_phone(
    registry: ActionRegistry, make_card, state: CardState
) -> None:
    result = change(registry, make_card(state))
    assert (result.outcome, result.values["status_text"]) == ("not_allowed", state.value)


def test_sixth_wrong_pin_in_a_day_locks_until_a_counter_unlocks(
    registry: ActionRegistry, make_card, ctx: ActionContext, clock: FakeClock
) -> None:
    number = make_card()
    lefts = [change(registry, number, old="000000").values["attempts_left"] for _ in range(5)]
    assert lefts == [5, 4, 3, 2, 1]
    assert change(registry, number, old="000000").outcome == "locked"
    assert change(registry, number).outcome == "locked"  # even the right PIN now
    with ctx.db.reading() as session:
        card = session.scalars(select(Card)).one()
        attempts = list(session.scalars(select(PinAttempt)))
    assert card.pin_locked_at == clock()  # the lock is in the database, not only in Redis
    assert [a.success for a in attempts] == [False] * 6
    clock.advance(days=1)
    assert change(registry, number).outcome == "locked"  # a new day does not unlock
    assert counter_operation(ctx, "unlock", number).outcome == "unlocked"
    assert change(registry, number).outcome == "changed"


def test_wrong_pins_count_per_calendar_day_in_shanghai(
    registry: ActionRegistry, make_card, clock: FakeClock
) -> None:
    number = make_card()
    clock.advance(hours=13, minutes=30)  # 23:30 Shanghai
    for _ in range(5):
        change(registry, number, old="000000")
    clock.advance(minutes=31)  # 00:01 the next day: a new count
    result = change(registry, number, old="000000")
    assert (result.outcome, result.values["attempts_left"]) == ("wrong_pin", 5)


def test_wrong_pins_from_concurrent_calls_are_all_counted(
    registry: ActionRegistry, make_card, ctx: ActionContext
) -> None:
    number = make_card()
    callers = 8
    barrier = threading.Barrier(callers)
    outcomes: list[str] = []

    def call() -> None:
        barrier.wait()
        outcomes.append(change(registry, number, old="000000").outcome)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["locked"] * 3 + ["wrong_pin"] * 5
    with ctx.db.reading() as session:
        assert len(list(session.scalars(select(PinAttempt)))) == 6  # the locked ones never checked
