"""The national working calendar: weekdays, less public holidays, plus the weekend days worked in
their place (调休).

One calendar serves the whole process: a temporary loss counted in working days, the promised
card production date, and the agents' service hours (`ivr.menus.service_hours`) all read it. Its
exceptions come from the State Council's notice each December, kept in one file
(`calendar: file:` in config/ivr.yaml, config/holidays.yaml by default).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from ivr.config import Config, ConfigError

DEFAULT_FILE = "config/holidays.yaml"


@dataclass(frozen=True)
class WorkCalendar:
    holidays: frozenset[dt.date] = frozenset()
    working_weekends: frozenset[dt.date] = frozenset()

    def is_working_day(self, day: dt.date) -> bool:
        if day in self.working_weekends:
            return True
        return day.weekday() < 5 and day not in self.holidays

    def add_working_days(self, start: dt.date, count: int) -> dt.date:
        """The date `count` working days after `start` (`start` itself never counts)."""
        day = start
        remaining = count
        while remaining > 0:
            day += dt.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day


def parse_dates(values: Any, name: str) -> frozenset[dt.date]:
    """A list of YYYY-MM-DD dates (YAML may already have made them dates); `name` for errors."""
    if values is None:
        return frozenset()
    if isinstance(values, str | dt.date) or not hasattr(values, "__iter__"):
        raise ConfigError(f"{name}: expected a list of YYYY-MM-DD dates, not {values!r}")
    days: set[dt.date] = set()
    for value in values:
        try:
            days.add(value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)))
        except ValueError:
            raise ConfigError(f"{name}: expected YYYY-MM-DD, not {value!r}") from None
    return frozenset(days)


def load_calendar(path: Path) -> WorkCalendar:
    """The calendar file: `holidays:` and `working_weekends:` lists; `ConfigError` names what is
    wrong."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the calendar: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected holidays: and working_weekends: lists")
    unknown = set(raw) - {"holidays", "working_weekends"}
    if unknown:
        raise ConfigError(f"{path}: unknown setting(s) {', '.join(sorted(map(str, unknown)))}")
    return WorkCalendar(
        holidays=parse_dates(raw.get("holidays"), f"{path}: holidays"),
        working_weekends=parse_dates(raw.get("working_weekends"), f"{path}: working_weekends"),
    )


def configured_calendar(config: Config) -> WorkCalendar:
    """The calendar file `calendar: file:` names (config/holidays.yaml by default)."""
    return load_calendar(config.resolve(config.section("calendar").get("file", DEFAULT_FILE)))
