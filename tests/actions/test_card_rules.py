import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from ivr.actions.card_rules import (
    RELEASE_FROM,
    TEMPORARY_LOSS_FROM,
    CardState,
    current_stage,
    effective_state,
    released_state,
    temporary_loss_expiry,
)
from ivr.actions.settings import LossPolicy
from ivr.work_calendar import WorkCalendar
from tests.actions.support import START

ZONE = ZoneInfo("Asia/Shanghai")
SEVEN_DAYS = LossPolicy(duration=7, unit="days")


def test_temporary_loss_is_active_until_exactly_seven_days_later() -> None:
    until = temporary_loss_expiry(START, SEVEN_DAYS, WorkCalendar(), ZONE)
    assert until - START == dt.timedelta(days=7)
    almost = START + dt.timedelta(days=6, hours=23, minutes=59)
    assert effective_state(CardState.NORMAL, until, almost) is CardState.TEMPORARY_LOSS
    lapsed = START + dt.timedelta(days=7)
    assert effective_state(CardState.NORMAL, until, lapsed) is CardState.NORMAL


def test_lapsed_temporary_loss_returns_a_sealed_card_to_sealed() -> None:
    until = START + dt.timedelta(days=7)
    assert effective_state(CardState.SEALED, until, START) is CardState.TEMPORARY_LOSS
    assert effective_state(CardState.SEALED, until, until) is CardState.SEALED


@pytest.mark.parametrize("stored", [CardState.FORMAL_LOSS, CardState.CANCELLED])
def test_a_leftover_deadline_never_overrides_a_counter_state(stored: CardState) -> None:
    assert effective_state(stored, START + dt.timedelta(days=7), START) is stored


def test_working_day_loss_skips_weekends_holidays_and_counts_make_up_days() -> None:
    friday = dt.datetime(2026, 9, 25, 15, 30, tzinfo=ZONE)
    policy = LossPolicy(duration=3, unit="working_days")
    plain = temporary_loss_expiry(friday, policy, WorkCalendar(), ZONE)
    assert plain.astimezone(ZONE) == dt.datetime(2026, 9, 30, 15, 30, tzinfo=ZONE)  # Mon-Wed
    calendar = WorkCalendar(
        holidays=frozenset({dt.date(2026, 9, 29)}),
        working_weekends=frozenset({dt.date(2026, 9, 27)}),  # a Sunday worked
    )
    adjusted = temporary_loss_expiry(friday, policy, calendar, ZONE)
    # Sunday 27 (worked), Monday 28, Tuesday 29 off, Wednesday 30.
    assert adjusted.astimezone(ZONE) == dt.datetime(2026, 9, 30, 15, 30, tzinfo=ZONE)
    assert calendar.add_working_days(dt.date(2026, 9, 25), 2) == dt.date(2026, 9, 28)


def test_phone_loss_and_release_rules_follow_the_seeds() -> None:
    assert {CardState.NORMAL, CardState.SEALED} == TEMPORARY_LOSS_FROM
    assert CardState.CANCELLED not in RELEASE_FROM
    assert released_state(dt.date(2020, 1, 1)) is CardState.NORMAL
    assert released_state(None) is CardState.SEALED


def test_progress_is_the_latest_stage_reached() -> None:
    day = dt.date(2026, 3, 1)
    dates = dict.fromkeys(
        ("applied_on", "produced_on", "shipped_on", "collected_on", "activated_on")
    )
    assert current_stage(dates | {"applied_on": day})[0] == "applied"
    stage, text, when = current_stage(dates | {"applied_on": day, "produced_on": day})
    assert (stage, when) == ("produced", day)
    assert "制卡已完成" in text
