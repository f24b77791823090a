from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest

from ivr.actions.card_rules import CardState
from ivr.actions.pin_hash import hash_pin
from ivr.actions.registry import ActionRegistry
from ivr.actions.service import ActionContext
from ivr.actions.settings import ActionSettings
from ivr.store.models import Card, Person, PinCredential
from tests.actions.support import FAST_PIN, FakeClock, id_for
from tests.backends import Stores, backend, stores  # noqa: F401  (fixtures)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ctx(stores: Stores, clock: FakeClock) -> ActionContext:  # noqa: F811
    return ActionContext(
        db=stores.db, redis=stores.redis, settings=ActionSettings(pin=FAST_PIN), clock=clock
    )


@pytest.fixture
def registry(ctx: ActionContext) -> ActionRegistry:
    return ActionRegistry(ctx)


MakeCard = Callable[..., str]


@pytest.fixture
def make_card(ctx: ActionContext, clock: FakeClock) -> MakeCard:
    """Add a person with one card; returns the person's ID number."""
    serial = iter(range(1, 999))

    def make(
        state: CardState = CardState.NORMAL,
        pin: str = "802461",
        is_initial: bool = False,
        *,
        id_number: str | None = None,
        **card_fields: object,
    ) -> str:
        number = id_number or id_for(next(serial))
        today = clock().date()
        fields: dict[str, object] = {
            "applied_on": today - dt.timedelta(days=60),
            "produced_on": today - dt.timedelta(days=55),
            "shipped_on": today - dt.timedelta(days=50),
            "collected_on": today - dt.timedelta(days=40),
            "activated_on": today - dt.timedelta(days=40),
            "electronic_issued": True,
        } | card_fields
        with ctx.db.transaction() as session:
            person = Person(id_number=number, name="测试", phone="13800000000")
            card = Card(
                person=person,
                card_number=f"T{number[-8:]}",
                bank="中国工商银行",
                state=state.value,
                **fields,
            )
            session.add_all([person, card])
            session.flush()
            session.add(
                PinCredential(
                    card_id=card.id,
                    pin_hash=hash_pin(pin, ctx.settings.pin),
                    is_initial=is_initial,
                    changed_at=clock(),
                )
            )
        return number

    return make
