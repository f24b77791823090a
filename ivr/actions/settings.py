"""Typed settings of the `actions:` section of config/ivr.yaml (the rules that differ by city)."""

from __future__ import annotations

import os
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
    # Secret mixed into every PIN hash (see `pin_hash`); from IVR_PIN_PEPPER or `pin.pepper`.
    pepper: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True)
class DailyLimit:
    """How many times one action may run per local calendar day, beyond which it answers
    `too_many` before anything is looked up. `per_caller`: per calling number; callers who
    send no number share one bucket of `anonymous`. `per_id`: per ID number keyed."""

    per_caller: int
    per_id: int
    anonymous: int


DEFAULT_LIMITS = {
    "card_query": DailyLimit(per_caller=30, per_id=10, anonymous=300),
    "temporary_loss": DailyLimit(per_caller=10, per_id=5, anonymous=100),
    "pin_change": DailyLimit(per_caller=20, per_id=10, anonymous=200),
}


@dataclass(frozen=True)
class ActionSettings:
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    temporary_loss: LossPolicy = field(default_factory=LossPolicy)
    pin: PinPolicy = field(default_factory=PinPolicy)
    calendar: WorkCalendar = field(default_factory=WorkCalendar)
    card_production_working_days: int = 5
    limits: Mapping[str, DailyLimit] = field(default_factory=lambda: dict(DEFAULT_LIMITS))
    # Where an action checks a PIN, answer an ID number with no card exactly like a card whose
    # PIN was wrong (its own day counter, `wrong_pin` then `locked`): the phone line then never
    # tells a stranger whether someone holds a card.
    conceal_unknown_id: bool = True


def _positive(raw: Any, name: str) -> int:
    if not isinstance(raw, int) or isinstance(raw, bool) or raw < 1:
        raise ConfigError(f"setting '{name}' must be a whole number of at least 1, not {raw!r}")
    return raw


def _limits(raw: Any) -> dict[str, DailyLimit]:
    if not isinstance(raw, Mapping):
        raise ConfigError(f"actions.limits must be a mapping, not {raw!r}")
    limits = dict(DEFAULT_LIMITS)
    for action, values in raw.items():
        if action not in DEFAULT_LIMITS or not isinstance(values, Mapping):
            raise ConfigError(
                f"actions.limits.{action}: expected one of {sorted(DEFAULT_LIMITS)} "
                "with per_caller/per_id/anonymous"
            )
        base = DEFAULT_LIMITS[action]
        limits[action] = DailyLimit(
            *(
                _positive(values.get(key, getattr(base, key)), f"actions.limits.{action}.{key}")
                for key in ("per_caller", "per_id", "anonymous")
            )
        )
    return limits


def parse_action_settings(
    section: Mapping[str, Any],
    calendar: WorkCalendar | None = None,
    environ: Mapping[str, str] | None = None,
) -> ActionSettings:
    """Build settings from `Config.section("actions")`; every key is optional. `calendar`: the
    national working calendar (`ivr.work_calendar.configured_calendar`); none: weekdays only.
    `environ` (default: the process's) may hold IVR_PIN_PEPPER, which wins over the file."""
    env = os.environ if environ is None else environ
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
        pepper=_pepper(env.get("IVR_PIN_PEPPER") or pin_raw.get("pepper")),
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
        limits=_limits(section.get("limits") or {}),
        conceal_unknown_id=bool(section.get("conceal_unknown_id", True)),
    )


def _pepper(raw: Any) -> bytes | None:
    if raw is None or raw == "":
        return None
    text = str(raw)
    if len(text) < 16:
        raise ConfigError("the PIN pepper (IVR_PIN_PEPPER) must be at least 16 characters")
    return text.encode()
