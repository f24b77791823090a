import datetime as dt

import pytest

from ivr.actions.settings import ActionSettings, parse_action_settings
from ivr.config import ConfigError, load_config
from ivr.work_calendar import WorkCalendar


def test_shipped_config_gives_the_seed_rules() -> None:
    settings = parse_action_settings(load_config(environ={}).section("actions"))
    assert settings == ActionSettings()
    assert settings.temporary_loss.duration == 7
    assert settings.temporary_loss.unit == "days"
    assert not settings.temporary_loss.require_pin
    assert settings.pin.max_wrong_per_day == 6
    assert str(settings.timezone) == "Asia/Shanghai"


def test_city_rules_are_configuration() -> None:
    national = WorkCalendar(holidays=frozenset({dt.date(2026, 10, 1)}))
    settings = parse_action_settings(
        {"temporary_loss": {"duration": 15, "unit": "working_days", "require_pin": True}},
        national,
    )
    assert settings.temporary_loss.unit == "working_days"
    assert settings.temporary_loss.require_pin
    assert settings.calendar is national


@pytest.mark.parametrize(
    ("section", "named"),
    [
        ({"temporary_loss": {"unit": "weeks"}}, "actions.temporary_loss.unit"),
        ({"temporary_loss": {"duration": 0}}, "actions.temporary_loss.duration"),
        ({"timezone": "Mars/Olympus"}, "actions.timezone"),
        ({"pin": {"max_wrong_per_day": "six"}}, "actions.pin.max_wrong_per_day"),
        ({"pin": {"scrypt_n": 1000}}, "actions.pin.scrypt_n"),
    ],
)
def test_bad_settings_name_the_setting(section: dict, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_action_settings(section)
