"""Typed settings of the `actions:` section of config/ivr.yaml (the rules that differ by city)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ivr.config import ConfigError
from ivr.work_calendar import WorkCalendar

LOSS_UNITS = ("days", "working_days")


@dataclass(frozen=True)
class LossPolicy:
    """How long a temporary loss by phone lasts, and what the caller must give for one."""

    duration: int = 7
    unit: str = "days"  # "days": exactly N×24 h; "working_days": same time N working days later
    require_pin: bool = False


@dataclass(frozen=True)
class PinPolicy:
    max_wrong_per_day: int = 6
    # scrypt cost; stored with each hash, so raising it later keeps old hashes valid.
    scrypt_n: int = 2**14
    scrypt_r: int = 8
    scrypt_p: int = 1


@dataclass(frozen=True)
class ActionSettings:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    temporary_loss: LossPolicy = field(default_factory=LossPolicy)
    pin: PinPolicy = field(default_factory=PinPolicy)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    card_production_working_days: int = 5


def _positive(raw: Any, name: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise ConfigError(f"setting '{name}' must be a whole number of at least 1, not {raw!r}")
    return raw


def parse_action_settings(
    section: Mapping[str, Any], calendar: WorkCalendar | None = None
) -> ActionSettings:
    """Build settings from `Config.section("actions")`; every key is optional. `calendar`: the
    national working calendar (`ivr.work_calendar.configured_calendar`); none: weekdays only."""
    defaults = ActionSettings()
    try:
        zone = ZoneInfo(str(section.get("timezone", "Asia/Shanghai")))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"actions.timezone: unknown zone {section.get('timezone')!r}") from None

    loss_raw = section.get("temporary_loss") or {}
    unit = str(loss_raw.get("unit", "days"))
    if unit not in LOSS_UNITS:
        raise ConfigError(f"actions.temporary_loss.unit must be one of {LOSS_UNITS}, not {unit!r}")
    loss = LossPolicy(
        duration=_positive(loss_raw.get("duration", 7), "actions.temporary_loss.duration"),
        unit=unit,
        require_pin=bool(loss_raw.get("require_pin", False)),
    )
    pin_raw = section.get("pin") or {}
    scrypt_n = _positive(pin_raw.get("scrypt_n", PinPolicy.scrypt_n), "actions.pin.scrypt_n")
    if scrypt_n < 2 or scrypt_n & (scrypt_n - 1):
        raise ConfigError(f"actions.pin.scrypt_n must be a power of two, not {scrypt_n}")
    pin = PinPolicy(
        max_wrong_per_day=_positive(
            pin_raw.get("max_wrong_per_day", 6), "actions.pin.max_wrong_per_day"
        ),
        scrypt_n=scrypt_n,
        scrypt_r=_positive(pin_raw.get("scrypt_r", PinPolicy.scrypt_r), "actions.pin.scrypt_r"),
        scrypt_p=_positive(pin_raw.get("scrypt_p", PinPolicy.scrypt_p), "actions.pin.scrypt_p"),
    )
    return ActionSettings(
        timezone=zone,
        temporary_loss=loss,
        pin=pin,
        calendar=calendar or WorkCalendar(),
        card_production_working_days=_positive(
            section.get("card_production_working_days", defaults.card_production_working_days),
            "actions.card_production_working_days",
        ),
    )
