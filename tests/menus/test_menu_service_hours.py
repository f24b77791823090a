"""Agents' hours: seasons, lunch break, weekends, the national calendar's holidays and make-up
working days, and the line's own closed and open days."""

from __future__ import annotations

import datetime as dt

import pytest
from menu_harness import SHANGHAI

from ivr.config import ConfigError, load_config
from ivr.menus.service_hours import ServiceHours
from ivr.work_calendar import WorkCalendar, configured_calendar

HOURS = ServiceHours.from_mapping({})  # the seeds' hours
NATIONAL = WorkCalendar(
    holidays=frozenset({dt.date(2026, 10, 1), dt.date(2026, 10, 2)}),
    working_weekends=frozenset({dt.date(2026, 10, 10)}),
)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=SHANGHAI)


@pytest.mark.parametrize(
    ("when", "is_open"),
    [
        (at(2026, 7, 1, 8, 29), False),  # summer morning, before opening
        (at(2026, 7, 1, 8, 30), True),
        (at(2026, 7, 1, 11, 30), False),  # lunch
        (at(2026, 7, 1, 13, 15), False),  # summer afternoon opens at 13:30
        (at(2026, 7, 1, 16, 45), True),  # summer closes at 17:00
        (at(2026, 11, 23, 13, 15), True),  # winter afternoon opens at 13:00
        (at(2026, 11, 23, 16, 45), False),  # winter closes at 16:30
        (at(2026, 11, 28, 10, 0), False),  # Saturday
        (at(2026, 10, 1, 10, 0), False),  # National Day, a Thursday
        (at(2026, 10, 10, 10, 0), True),  # a Saturday made a working day (调休)
        (at(2026, 4, 30, 13, 15), True),  # last winter day
        (at(2026, 5, 1, 13, 15), False),  # first summer day (a Friday)
    ],
)
def test_open_or_closed(when: dt.datetime, is_open: bool) -> None:
    assert HOURS.is_open(when, NATIONAL) is is_open


def test_hours_may_be_written_without_a_leading_zero() -> None:
    hours = ServiceHours.from_mapping({"winter": ["8:30-11:30"]})
    assert hours.is_open(at(2026, 11, 23, 8, 30), NATIONAL)


def test_a_utc_wall_clock_is_read_in_beijing_time() -> None:
    assert HOURS.is_open(dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC), NATIONAL)  # 10:00 Beijing


def test_next_opening_skips_the_weekend_and_holidays() -> None:
    assert HOURS.next_opening(at(2026, 9, 30, 17, 30), NATIONAL) == at(2026, 10, 5, 8, 30)
    assert HOURS.next_opening(at(2026, 11, 23, 12, 0), NATIONAL) == at(2026, 11, 23, 13, 0)
    assert HOURS.next_opening(at(2026, 11, 23, 10, 0), NATIONAL) == at(2026, 11, 23, 10, 0)


def test_prompt_variables_describe_the_next_working_day() -> None:
    values = HOURS.prompt_variables(at(2026, 11, 27, 18, 0), NATIONAL)  # Friday evening
    assert values == {
        "next_open_date": dt.date(2026, 11, 30),
        "next_open_time": dt.time(8, 30),
        "am_open": dt.time(8, 30),
        "am_close": dt.time(11, 30),
        "pm_open": dt.time(13, 0),
        "pm_close": dt.time(16, 30),
    }


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "service.timezone"),
        ({"weekdays": [0, 1]}, "service.weekdays"),
        ({"summer_starts": "13-01"}, "service.summer_starts"),
        ({"winter": ["8.30-11.30"]}, "service.winter"),
        ({"winter": ["9:00-8:30"]}, "service.winter: 9:00-8:30 ends before it starts"),
        ({"closed_days": ["National Day"]}, "service.closed_days"),
        ({"open_days": "2026-10-10"}, "service.open_days: expected a list"),
        ({"holidays": ["2026-10-01"]}, "service: unknown setting.s. holidays .known: closed_days"),
    ],
)
def test_bad_settings_name_the_setting(raw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ServiceHours.from_mapping(raw)


def test_the_lines_own_closed_and_open_days_add_to_the_national_calendar() -> None:
    hours = ServiceHours.from_mapping(
        {"closed_days": ["2026-11-24"], "open_days": [dt.date(2026, 11, 28)]}
    )
    assert not hours.is_open(at(2026, 11, 24, 10, 0), NATIONAL)  # a Tuesday, the line's own
    assert hours.is_open(at(2026, 11, 28, 10, 0), NATIONAL)  # a Saturday the line works
    assert not hours.is_open(at(2026, 10, 1, 10, 0), NATIONAL)  # still a national holiday
    assert hours.is_open(at(2026, 10, 10, 10, 0), NATIONAL)  # still a make-up working day


def test_the_shipped_calendar_closes_national_day_and_opens_its_make_up_saturday() -> None:
    national = configured_calendar(load_config(environ={}))
    assert not HOURS.is_open(at(2026, 10, 1, 10, 0), national)
    assert HOURS.is_open(at(2026, 10, 10, 10, 0), national)
    assert HOURS.next_opening(at(2026, 9, 30, 17, 30), national) == at(2026, 10, 8, 8, 30)
