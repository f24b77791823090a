import datetime as dt

import pytest
from sqlalchemy import select

from ivr.actions.card_rules import CardState
from ivr.actions.registry import ActionRegistry
from ivr.store.models import AuditEntry, Card, Person
from tests.actions.support import FakeClock, id_for, request


@pytest.mark.parametrize(
    ("state", "outcome", "status_text"),
    [
        (CardState.NORMAL, "normal", "正常"),
        (CardState.SEALED, "sealed", "封存"),
        (CardState.FORMAL_LOSS, "formal_loss", "正式挂失"),
        (CardState.CANCELLED, "cancelled", "注销"),
    ],
)
def test_query_answers_each_state_in_words(
    registry: ActionRegistry, make_card, state: CardState, outcome: str, status_text: str
) -> None:
    number = make_card(state)
    result = registry.run(request("card_query", id_number=number))
    assert result.outcome == outcome
    assert result.values["status_text"] == status_text
    assert result.values["advice_text"]
    assert result.values["bank"] == "中国工商银行"
    assert result.values["card_tail"] == number[-4:]


def test_card_in_production_gives_its_stage_date_and_promised_day(
    registry: ActionRegistry, make_card, clock: FakeClock
) -> None:
    applied = dt.date(2026, 2, 27)  # a Friday
    number = make_card(
        CardState.SEALED,
        applied_on=applied,
        produced_on=None,
        shipped_on=None,
        collected_on=None,
        activated_on=None,
        electronic_issued=False,
    )
    values = registry.run(request("card_query", id_number=number)).values
    assert values["progress_stage"] == "applied"
    assert values["progress_text"] == "申领已受理，正在制卡"
    assert values["progress_date"] == applied
    assert values["expected_ready_on"] == dt.date(2026, 3, 6)  # five working days
    assert "尚未领取电子社保卡" in values["electronic_text"]


def test_under_temporary_loss_the_electronic_card_works_with_authorisation(
    registry: ActionRegistry, make_card
) -> None:
    number = make_card()
    registry.run(request("temporary_loss", id_number=number))
    result = registry.run(request("card_query", id_number=number))
    assert result.outcome == "temporary_loss"
    assert result.values["status_text"] == "临时挂失"
    assert "经本人授权" in result.values["electronic_text"]
    assert result.values["lapses_on"] == dt.date(2026, 3, 9)


def test_keypad_star_is_read_as_x(registry: ActionRegistry, make_card) -> None:
    x_number = "36010219790921023X"
    make_card(id_number=x_number)
    result = registry.run(request("card_query", id_number=x_number[:-1] + "*"))
    assert result.outcome == "normal"


def test_current_card_is_the_live_one_not_the_cancelled_one(
    registry: ActionRegistry, make_card, ctx
) -> None:
    number = make_card(CardState.CANCELLED)
    with ctx.db.transaction() as session:
        person = session.scalars(select(Person).where(Person.id_number == number)).one()
        session.add(
            Card(
                person=person,
                card_number="NEWCARD01",
                bank="交通银行",
                state=CardState.SEALED.value,
                applied_on=dt.date(2026, 3, 1),
                electronic_issued=False,
            )
        )
    result = registry.run(request("card_query", id_number=number))
    assert (result.outcome, result.values["bank"]) == ("sealed", "交通银行")


def test_unknown_and_invalid_ids(registry: ActionRegistry, ctx) -> None:
    assert registry.run(request("card_query", id_number=id_for(500))).outcome == "not_found"
    bad = registry.run(request("card_query", id_number=id_for(500)[:-1] + "0"))
    assert (bad.outcome, bad.values["problem"]) == ("invalid_id", "checksum")
    with ctx.db.reading() as session:
        audit = session.scalars(select(AuditEntry)).one()  # the lookup is audited, bad input is not
    assert audit.outcome == "not_found"
    assert audit.masked_id_number == "3601**********" + id_for(500)[-4:]
