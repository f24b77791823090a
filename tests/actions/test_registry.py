import logging

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from ivr.actions.registry import ActionRegistry, UnknownAction, action_outcomes
from ivr.actions.service import ActionContext
from ivr.store.db import Database, make_engine
from ivr.store.models import AuditEntry, Card, LossReport, PinAttempt
from tests.actions.support import request, with_settings


def test_actions_are_listed_with_their_outcomes(registry: ActionRegistry) -> None:
    outcomes = action_outcomes()
    assert set(outcomes) == {"card_query", "temporary_loss", "pin_change"}
    assert {"reported", "already_reported", "unavailable"} <= outcomes["temporary_loss"]
    assert {"changed", "initial_pin", "locked", "weak_pin"} <= outcomes["pin_change"]
    with pytest.raises(UnknownAction):
        registry.run(request("transfer_money"))


def test_every_outcome_an_action_answers_is_declared(registry: ActionRegistry, make_card) -> None:
    number = make_card()
    for name, params in [
        ("card_query", {"id_number": number}),
        ("temporary_loss", {"id_number": number}),
        ("pin_change", {"id_number": number, "old_pin": "1"}),
        ("card_query", {"id_number": "123"}),
    ]:
        result = registry.run(request(name, **params))
        assert result.outcome in action_outcomes()[name]


def test_database_down_answers_unavailable(ctx: ActionContext, make_card) -> None:
    number = make_card()
    dead = Database(make_engine("postgresql://postgres@127.0.0.1:1/test"))
    registry = ActionRegistry(ActionContext(db=dead, redis=ctx.redis, clock=ctx.clock))
    for name in ("card_query", "temporary_loss", "pin_change"):
        assert registry.run(request(name, id_number=number)).outcome == "unavailable"


def test_failed_commit_leaves_nothing_half_recorded(
    registry: ActionRegistry, ctx: ActionContext, make_card
) -> None:
    number = make_card()

    def database_goes_away(connection) -> None:
        raise OperationalError("COMMIT", {}, ConnectionError("server closed the connection"))

    event.listen(ctx.db.engine, "commit", database_goes_away)
    try:
        assert registry.run(request("temporary_loss", id_number=number)).outcome == "unavailable"
    finally:
        event.remove(ctx.db.engine, "commit", database_goes_away)
    with ctx.db.reading() as session:
        assert session.scalars(select(LossReport)).first() is None
        assert session.scalars(select(AuditEntry)).first() is None
        assert session.scalars(select(Card)).one().temporary_loss_until is None
    assert registry.run(request("card_query", id_number=number)).outcome == "normal"


def test_redis_down_answers_unavailable_without_recording_the_attempt(
    ctx: ActionContext, make_card
) -> None:
    number = make_card()
    dead = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    registry = ActionRegistry(ActionContext(db=ctx.db, redis=dead, clock=ctx.clock))
    params = {"id_number": number, "old_pin": "000000", "new_pin": "730915"}
    assert registry.run(request("pin_change", **params)).outcome == "unavailable"
    with ctx.db.reading() as session:
        assert session.scalars(select(PinAttempt)).first() is None


def test_logs_never_hold_the_id_number_or_pins(
    ctx: ActionContext, make_card, caplog: pytest.LogCaptureFixture
) -> None:
    number = make_card()
    caplog.set_level(logging.DEBUG)
    registry = ActionRegistry(with_settings(ctx))
    params = {"id_number": number, "old_pin": "802461", "new_pin": "730915"}
    registry.run(request("pin_change", new_pin_again="730915", **params))
    dead = Database(make_engine("postgresql://postgres@127.0.0.1:1/test"))
    ActionRegistry(ActionContext(db=dead, redis=ctx.redis, clock=ctx.clock)).run(
        request("pin_change", **params)
    )
    assert "pin_change -> changed" in caplog.text
    for secret in (number, "802461", "730915"):
        assert secret not in caplog.text
