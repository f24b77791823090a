"""When human agents (人工服务) answer: weekdays, summer and winter hours, holidays.

The seeds give, for one province, Monday to Friday, summer 8:30-11:30 and 13:30-17:00, winter
8:30-11:30 and 13:00-16:30; provinces differ, so all of it is the `service:` section of the menu
file. Public holidays (法定节假日) close the line on weekdays and make-up working days (调休) open
it on weekends: those come from the national calendar every part of the IVR shares
(`ivr.work_calendar`), passed in with each question. The menu may add its own `closed_days`
(a training day) and `open_days`. The wall clock is always passed in, never read here.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.config import ConfigError
from ivr.work_calendar import WorkCalendar, parse_dates

Span = tuple[dt.time, dt.time]
_SEARCH_DAYS = 60  # the longest closure (Spring Festival plus weekends) is far shorter
_SETTINGS = frozenset(
    [
        "timezone",
        "weekdays",
        "summer_starts",
        "winter_starts",
        "summer",
        "winter",
        "closed_days",
        "open_days",
    ]
)
_KNOWN = ", ".join(sorted(_SETTINGS))


@dataclass(frozen=True)
class ServiceHours:
    timezone: ZoneInfo
    weekdays: frozenset[int]  # ISO: 1 = Monday
    summer_starts: tuple[int, int]  # (month, day)
    winter_starts: tuple[int, int]
    summer: tuple[Span, ...]
    winter: tuple[Span, ...]
    closed_days: frozenset[dt.date]  # this line's own, beside the national holidays
    open_days: frozenset[dt.date]  # this line's own, beside the national make-up working days

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ServiceHours:
        """From the `service:` section; a `ConfigError` names the setting that is wrong."""
        unknown = set(raw) - _SETTINGS
        if unknown:
            names = ", ".join(sorted(map(str, unknown)))
            raise ConfigError(f"service: unknown setting(s) {names} (known: {_KNOWN})")
        try:
            timezone = ZoneInfo(str(raw.get("timezone", "Asia/Shanghai")))
        except (ZoneInfoNotFoundError, ValueError):
            zone = raw.get("timezone")
            raise ConfigError(f"service.timezone: unknown time zone {zone!r}") from None
        weekdays = frozenset(int(day) for day in raw.get("weekdays", (1, 2, 3, 4, 5)))
        if not weekdays <= set(range(1, 8)):
            raise ConfigError("service.weekdays: ISO weekdays run from 1 (Monday) to 7")
        return cls(
            timezone=timezone,
            weekdays=weekdays,
            summer_starts=_month_day(raw.get("summer_starts", "05-01"), "summer_starts"),
            winter_starts=_month_day(raw.get("winter_starts", "10-01"), "winter_starts"),
            summer=_spans(raw.get("summer", ["08:30-11:30", "13:30-17:00"]), "summer"),
            winter=_spans(raw.get("winter", ["08:30-11:30", "13:00-16:30"]), "winter"),
            closed_days=parse_dates(raw.get("closed_days"), "service.closed_days"),
            open_days=parse_dates(raw.get("open_days"), "service.open_days"),
        )

    def spans_on(self, day: dt.date, calendar: WorkCalendar) -> tuple[Span, ...]:
        """The opening hours of one local date; empty when agents do not work that day."""
        if day in self.closed_days or day in calendar.holidays:
            return ()
        worked = day in self.open_days or day in calendar.working_weekends
        if day.isoweekday() not in self.weekdays and not worked:
            return ()
        return self.summer if self._is_summer(day) else self.winter

    def is_open(self, when: dt.datetime, calendar: WorkCalendar) -> bool:
        local = when.astimezone(self.timezone)
        now = local.time()
        return any(start <= now < end for start, end in self.spans_on(local.date(), calendar))

    def next_opening(self, when: dt.datetime, calendar: WorkCalendar) -> dt.datetime | None:
        """The first moment at or after `when` that agents answer (local time zone)."""
        local = when.astimezone(self.timezone)
        for offset in range(_SEARCH_DAYS):
            day = local.date() + dt.timedelta(days=offset)
            for start, end in self.spans_on(day, calendar):
                opening = dt.datetime.combine(day, start, self.timezone)
                if local < dt.datetime.combine(day, end, self.timezone):
                    return max(opening, local)
        return None

    def prompt_variables(self, when: dt.datetime, calendar: WorkCalendar) -> dict[str, Any]:
        """What a "agents are not available now" prompt can say: the hours and the next opening.

        `am_open`/`am_close`/`pm_open`/`pm_close` are the spans of the next working day
        (morning spans start before noon), `next_open_date`/`next_open_time` its opening.
        """
        opening = self.next_opening(when, calendar)
        if opening is None:
            return {}
        values: dict[str, Any] = {
            "next_open_date": opening.date(),
            "next_open_time": opening.time().replace(tzinfo=None),
        }
        for start, end in self.spans_on(opening.date(), calendar):
            half = "am" if start < dt.time(12) else "pm"
            values[f"{half}_open"], values[f"{half}_close"] = start, end
        return values

    def _is_summer(self, day: dt.date) -> bool:
        key = (day.month, day.day)
        if self.summer_starts <= self.winter_starts:
            return self.summer_starts <= key < self.winter_starts
        return not self.winter_starts <= key < self.summer_starts


def _month_day(value: Any, name: str) -> tuple[int, int]:
    try:
        month, day = (int(part) for part in str(value).split("-"))
        dt.date(2024, month, day)  # a leap year, so 02-29 is accepted
    except ValueError:
        raise ConfigError(f"service.{name}: expected MM-DD, not {value!r}") from None
    return month, day


def _spans(value: Any, name: str) -> tuple[Span, ...]:
    spans: list[Span] = []
    for text in value:
        try:
            start_text, end_text = str(text).split("-")
            start, end = (dt.datetime.strptime(t, "%H:%M").time() for t in (start_text, end_text))
        except ValueError:
            raise ConfigError(f"service.{name}: expected HH:MM-HH:MM, not {text!r}") from None
        if start >= end:
            raise ConfigError(f"service.{name}: {text} ends before it starts")
        spans.append((start, end))
    return tuple(sorted(spans))
