"""The national working calendar: one file, read by agents' hours and the actions alike."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from ivr.config import ConfigError, load_config
from ivr.work_calendar import WorkCalendar, configured_calendar, load_calendar


def test_the_shipped_calendar_has_the_years_holidays_and_make_up_days() -> None:
    calendar = configured_calendar(load_config(environ={}))
    assert {dt.date(2026, 10, day) for day in range(1, 8)} <= calendar.holidays
    assert dt.date(2026, 10, 10) in calendar.working_weekends
    assert not calendar.is_working_day(dt.date(2026, 10, 1))  # a Thursday, National Day
    assert calendar.is_working_day(dt.date(2026, 10, 10))  # a Saturday, worked (调休)
    # Five working days after the Wednesday before National Day: 8, 9, 10 (Sat), 12, 13 Oct.
    assert calendar.add_working_days(dt.date(2026, 9, 30), 5) == dt.date(2026, 10, 13)


def test_a_calendar_file_can_be_named_in_the_settings(tmp_path: Path) -> None:
    days = tmp_path / "days.yaml"
    days.write_text("holidays: [2027-01-01]\nworking_weekends: []\n", encoding="utf-8")
    settings = tmp_path / "ivr.yaml"
    settings.write_text(f"calendar:\n  file: {days}\n", encoding="utf-8")
    assert configured_calendar(load_config(settings, environ={})) == WorkCalendar(
        holidays=frozenset({dt.date(2027, 1, 1)})
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("holidays: [1 May]\n", "days.yaml: holidays: expected YYYY-MM-DD, not '1 May'"),
        ("holidays: 2026-10-01\n", "days.yaml: holidays: expected a list"),
        ("holiday: [2026-10-01]\n", "days.yaml: unknown setting.s. holiday"),
        ("- 2026-10-01\n", "days.yaml: expected holidays: and working_weekends: lists"),
        ("holidays: [\n", "days.yaml: cannot read the calendar"),
    ],
)
def test_a_bad_calendar_file_names_the_file_and_the_problem(
    tmp_path: Path, text: str, message: str
) -> None:
    days = tmp_path / "days.yaml"
    days.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_calendar(days)


def test_a_missing_calendar_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"nope\.yaml: cannot read the calendar"):
        load_calendar(tmp_path / "nope.yaml")
