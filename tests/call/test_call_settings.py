"""The `call:` section, typed: defaults, every key, and a clear error for a wrong one."""

import pytest

from ivr.call import CallSettings
from ivr.call_limits import CallLimits
from ivr.config import ConfigError, load_config


def test_shipped_settings_file_reads_as_the_defaults() -> None:
    shipped = CallSettings.from_section(load_config(environ={}).section("call"))
    assert shipped == CallSettings()
    assert shipped.limits == CallLimits(max_duration=3600.0, media_timeout=60.0)


def test_every_key_is_read() -> None:
    section = {
        "record": True,
        "inband_dtmf": "auto",
        "db_threads": 3,
        "drain_timeout": 30,
        "media_timeout": 20,
        "max_duration": 900,
    }
    assert CallSettings.from_section(section) == CallSettings(
        record=True,
        inband_dtmf="auto",
        db_threads=3,
        drain_timeout=30.0,
        limits=CallLimits(max_duration=900.0, media_timeout=20.0),
    )


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"recrod": True}, "unknown setting.*recrod"),
        ({"record": "yes"}, "record must be true or false"),
        ({"inband_dtmf": "sometimes"}, "inband_dtmf must be always or auto"),
        ({"db_threads": 0}, "db_threads must be a whole number above 0"),
        ({"db_threads": "8"}, "db_threads"),
        ({"media_timeout": -1}, "media_timeout"),
        ({"drain_timeout": "later"}, "drain_timeout"),
    ],
)
def test_a_wrong_setting_is_named(section: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        CallSettings.from_section(section)
