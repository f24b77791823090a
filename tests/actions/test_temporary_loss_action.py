import datetime as dt
import threading

import pytest
from sqlalchemy import select

from ivr.actions.base import ActionRequest
from ivr.actions.card_rules import CardState
from ivr.actions.counter import counter_operation, sweep_lapsed
from ivr.actions.registry import ActionRegistry
from ivr.actions.service import ActionContext
from ivr.actions.settings import LossPolicy
from ivr.store.models import AuditEntry, Card, LossReport
from tests.actions.support import FakeClock, request, with_settings


def _query(registry: ActionRegistry, number: str) -> str:
    return registry.run(request("card_query", id_number=number)).outcome


def _reports(ctx: ActionContext) -> list[LossReport]:
    with ctx.db.reading() as session:
        return list(session.scalars(select(LossReport).order_by(LossReport.id)))


def test_report_takes_effect_at_once_and_says_when_it_lapses(
    registry: ActionRegistry, make_card, ctx: ActionContext
) -> None:
    number = make_card()
    result = registry.run(request("temporary_loss", id_number=number))
    assert result.outcome == "reported"
    assert result.values["lapses_on"] == dt.date(2026, 3, 9)
    assert result.values["lapses_at"].hour == 10
    assert (result.values["duration"], result.values["unit_text"]) == (7, "天")
    assert _query(registry, number) == "temporary_loss"
    [report] = _reports(ctx)
    assert (report.kind, report.channel, report.caller) == ("temporary", "ivr", "13912345678")
    with ctx.db.reading() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.action == "temporary_loss"))
        [line] = list(audit)
    assert line.outcome == "reported"
    assert number not in (line.masked_id_number or "")


def test_seven_day_boundary_with_a_controlled_clock(
    registry: ActionRegistry, make_card, clock: FakeClock, ctx: ActionContext
) -> None:
    number = make_card()
    registry.run(request("temporary_loss", id_number=number))
    clock.advance(days=6, hours=23, minutes=59)
    assert _query(registry, number) == "temporary_loss"
    again = registry.run(request("temporary_loss", id_number=number))
    assert again.outcome == "already_reported"
    assert again.values["lapses_on"] == dt.date(2026, 3, 9)
    assert len(_reports(ctx)) == 1  # nothing stacked
    clock.advance(minutes=1)
    assert _query(registry, number) == "normal"  # lapsed with no job having run


def test_reporting_after_a_lapse_closes_the_old_report_first(
    registry: ActionRegistry, make_card, clock: FakeClock, ctx: ActionContext
) -> None:
    number = make_card()
    registry.run(request("temporary_loss", id_number=number))
    clock.advance(days=8)
    assert registry.run(request("temporary_loss", id_number=number)).outcome == "reported"
    old, new = _reports(ctx)
    assert (old.end_reason, old.ended_at) == ("lapsed", old.expires_at)
    assert new.ended_at is None
    assert sweep_lapsed(ctx) == 0


def test_sealed_card_may_be_reported_and_returns_to_sealed(
    registry: ActionRegistry, make_card, clock: FakeClock
) -> None:
    number = make_card(CardState.SEALED, activated_on=None)
    assert registry.run(request("temporary_loss", id_number=number)).outcome == "reported"
    assert _query(registry, number) == "temporary_loss"
    clock.advance(days=7)
    assert _query(registry, number) == "sealed"


@pytest.mark.parametrize("state", [CardState.FORMAL_LOSS, CardState.CANCELLED])
def test_formally_lost_or_cancelled_cards_cannot_be_reported_by_phone(
    registry: ActionRegistry, make_card, state: CardState
) -> None:
    result = registry.run(request("temporary_loss", id_number=make_card(state)))
    assert (result.outcome, result.values["status_text"]) == ("not_allowed", state.value)


def test_working_days_mode_from_configuration(
    make_card, ctx: ActionContext, clock: FakeClock
) -> None:
    three_working_days = with_settings(
        ctx, temporary_loss=LossPolicy(duration=3, unit="working_days")
    )
    registry = ActionRegistry(three_working_days)
    clock.now = clock.now + dt.timedelta(days=4)  # Friday 2026-03-06 10:00
    result = registry.run(request("temporary_loss", id_number=make_card()))
    assert result.values["lapses_on"] == dt.date(2026, 3, 11)  # Mon, Tue, Wed
    assert result.values["unit_text"] == "个工作日"


def test_city_that_requires_the_pin_checks_it(make_card, ctx: ActionContext) -> None:
    registry = ActionRegistry(with_settings(ctx, temporary_loss=LossPolicy(require_pin=True)))
    number = make_card(pin="730915")
    wrong = registry.run(request("temporary_loss", id_number=number, pin="111222"))
    assert (wrong.outcome, wrong.values["attempts_left"]) == ("wrong_pin", 5)
    assert _query(registry, number) == "normal"
    right = registry.run(request("temporary_loss", id_number=number, pin="730915"))
    assert right.outcome == "reported"


def test_concurrent_reports_on_one_card_record_one_loss(
    registry: ActionRegistry, make_card, ctx: ActionContext
) -> None:
    number = make_card()
    callers = 6
    registry = ActionRegistry(with_settings(ctx, limits={}))  # six reports of one ID in a day
    barrier = threading.Barrier(callers)
    outcomes: list[str] = []

    def call() -> None:
        barrier.wait()
        outcomes.append(registry.run(request("temporary_loss", id_number=number)).outcome)

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already_reported"] * (callers - 1) + ["reported"]
    assert len(_reports(ctx)) == 1


def test_formal_loss_supersedes_the_temporary_one_and_release_restores(
    registry: ActionRegistry, make_card, ctx: ActionContext, clock: FakeClock
) -> None:
    number = make_card()
    registry.run(request("temporary_loss", id_number=number))
    assert counter_operation(ctx, "formal_loss", number).outcome == "reported"
    assert counter_operation(ctx, "formal_loss", number).outcome == "already_formal"
    temporary, formal = _reports(ctx)
    assert (temporary.end_reason, formal.kind, formal.channel) == (
        "superseded",
        "formal",
        "counter",
    )
    clock.advance(days=30)
    assert _query(registry, number) == "formal_loss"  # formal losses never lapse
    released = counter_operation(ctx, "release", number)
    assert (released.outcome, released.values["status_text"]) == ("released", "正常")
    assert _query(registry, number) == "normal"
    assert all(report.ended_at is not None for report in _reports(ctx))
    assert counter_operation(ctx, "release", number).outcome == "not_lost"


def test_release_of_a_temporary_loss_at_the_counter(
    registry: ActionRegistry, make_card, ctx: ActionContext
) -> None:
    number = make_card()
    registry.run(request("temporary_loss", id_number=number))
    assert counter_operation(ctx, "release", number).outcome == "released"
    assert _query(registry, number) == "normal"
    [report] = _reports(ctx)
    assert report.end_reason == "released"


def test_sweeper_records_each_lapse_once(
    registry: ActionRegistry, make_card, ctx: ActionContext, clock: FakeClock
) -> None:
    first, second = make_card(), make_card()
    registry.run(request("temporary_loss", id_number=first))
    clock.advance(days=3)
    registry.run(request("temporary_loss", id_number=second))
    clock.advance(days=4)  # the first lapses now, the second in three days
    assert sweep_lapsed(ctx) == 1
    assert sweep_lapsed(ctx) == 0
    with ctx.db.reading() as session:
        lapses = list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "temporary_loss_lapsed"))
        )
        cards = {card.id: card for card in session.scalars(select(Card))}
    assert len(lapses) == 1
    assert cards[lapses[0].card_id].temporary_loss_until is None
    assert _query(registry, second) == "temporary_loss"


def test_a_long_sip_caller_identity_is_recorded_whole(make_card, registry, ctx) -> None:
    caller = "sip:" + "8" * 200 + "@gateway.example.com;user=phone"
    result = registry.run(
        ActionRequest(
            name="temporary_loss", params={"id_number": make_card()}, caller=caller, call_ref="c"
        )
    )
    assert result.outcome == "reported"
    assert _reports(ctx)[0].caller == caller


def test_sweepers_on_several_nodes_record_each_lapse_once(
    registry: ActionRegistry, make_card, ctx: ActionContext, clock: FakeClock
) -> None:
    for _ in range(5):
        registry.run(request("temporary_loss", id_number=make_card()))
    clock.advance(days=7)
    nodes = 4
    barrier = threading.Barrier(nodes)
    swept: list[int] = []

    def node() -> None:
        barrier.wait()
        swept.append(sweep_lapsed(ctx))

    threads = [threading.Thread(target=node) for _ in range(nodes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(swept) == 5
    with ctx.db.reading() as session:
        lapses = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "temporary_loss_lapsed")
        ).all()
    assert len(lapses) == 5
