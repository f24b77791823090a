"""Call length and media silence, decided on a clock passed in."""

from __future__ import annotations

import pytest

from ivr.call_limits import CallLimits
from ivr.config import ConfigError

LIMITS = CallLimits(max_duration=600.0, media_timeout=30.0)


def test_a_call_that_never_sent_rtp_times_out_counted_from_the_answer():
    assert LIMITS.overdue(answered=100.0, last_media=None, held=False, now=129.0) is None
    assert LIMITS.overdue(answered=100.0, last_media=None, held=False, now=130.0) == (
        "no RTP for 30 s"
    )


def test_media_keeps_a_call_alive_until_it_stops():
    assert LIMITS.overdue(100.0, last_media=150.0, held=False, now=179.0) is None
    assert LIMITS.overdue(100.0, last_media=150.0, held=False, now=180.0) is not None


def test_a_held_call_may_be_silent_but_not_longer_than_the_maximum():
    assert LIMITS.overdue(100.0, last_media=None, held=True, now=500.0) is None
    assert LIMITS.overdue(100.0, last_media=699.0, held=False, now=700.0) == (
        "call longer than 600 s"
    )


def test_settings_from_the_call_section():
    assert CallLimits.from_section({}) == CallLimits()
    assert CallLimits.from_section({"max_duration": 60, "media_timeout": 5}) == CallLimits(60, 5)
    with pytest.raises(ConfigError, match="call"):
        CallLimits.from_section({"max_duration": 0})
    with pytest.raises(ConfigError, match="call"):
        CallLimits.from_section({"media_timeout": "soon"})
