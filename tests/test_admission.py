"""Admission of new calls: the call cap and the per-source INVITE token bucket, on a fake clock."""

from __future__ import annotations

import pytest

from ivr import admission
from ivr.admission import Admission, AdmissionSettings
from ivr.config import ConfigError
from ivr.sip.tcp_limits import TcpLimits

PHONE = ("192.0.2.10", 5060)
FLOODER = ("198.51.100.66", 5060)


def policy(active: list[int] | None = None, **settings) -> Admission:
    calls = active if active is not None else [0]
    return Admission(AdmissionSettings(**settings), lambda: calls[0])


def test_calls_beyond_max_calls_get_503_with_retry_after():
    active = [3]
    take = policy(active, max_calls=3, retry_after=9)
    assert take(PHONE, 0.0) == 9
    active[0] = 2
    assert take(PHONE, 0.0) is None
    assert take.refused == 1


def test_one_source_gets_its_burst_then_its_rate():
    take = policy(invites_per_second=2.0, invite_burst=3)
    assert [take(FLOODER, 0.0) for _ in range(4)] == [None, None, None, 1]
    assert take(FLOODER, 0.5) is None  # one token refilled
    assert take(FLOODER, 0.5) == 1
    assert take(PHONE, 0.5) is None  # another source is not charged


def test_a_flood_at_2000_per_second_is_held_to_the_rate():
    take = policy(invites_per_second=10.0, invite_burst=20)
    admitted = sum(take(FLOODER, n / 2000) is None for n in range(2000 * 30))
    assert admitted <= 20 + 10 * 30 + 1


def test_retry_after_says_when_the_next_token_comes():
    take = policy(invites_per_second=0.1, invite_burst=1)
    assert take(FLOODER, 0.0) is None
    assert take(FLOODER, 1.0) == 9


def test_trusted_sources_are_not_rate_limited_but_still_capped():
    active = [0]
    take = policy(active, max_calls=5, invites_per_second=1.0, invite_burst=1,
                  trusted_sources=frozenset({"127.0.0.1"}))  # fmt: skip
    assert all(take(("127.0.0.1", 5070), 0.0) is None for _ in range(100))
    active[0] = 5
    assert take(("127.0.0.1", 5070), 0.0) == 5


def test_the_bucket_table_is_bounded(monkeypatch):
    monkeypatch.setattr(admission, "MAX_SOURCES", 100)
    take = policy()
    for n in range(1000):
        take((f"10.0.{n // 250}.{n % 250}", 5060), n / 1000)
    assert take.sources == 100


def test_settings_from_the_config_section():
    settings = AdmissionSettings.from_section(
        {"max_calls": 50, "invites_per_second": 5, "trusted_sources": ["127.0.0.1"]}
    )
    assert settings.max_calls == 50 and settings.invites_per_second == 5.0
    assert settings.trusted_sources == frozenset({"127.0.0.1"})
    assert AdmissionSettings.from_section({}) == AdmissionSettings()
    section = {"max_calls": 9, "tcp_per_source": 4, "tcp_message_timeout": 2}
    assert AdmissionSettings.from_section(section).max_calls == 9
    tcp = TcpLimits.from_section(section)
    assert (tcp.per_source, tcp.message_timeout, tcp.max_connections) == (4, 2.0, 1000)
    assert isinstance(tcp.per_source, int)


@pytest.mark.parametrize(
    "section",
    [
        {"max_calls": 0},
        {"invites_per_second": -1},
        {"max_calls": "many"},
        {"max_call": 5},
        {"tcp_idle_timeout": 0},
        {"tcp_idle": 5},
        {"tcp_per_source": "a few"},
    ],
    ids=[
        "zero-calls",
        "negative-rate",
        "not-a-number",
        "misspelt",
        "tcp-zero",
        "tcp-misspelt",
        "tcp-not-a-number",
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(section):
    with pytest.raises(ConfigError, match="admission"):
        AdmissionSettings.from_section(section)
        TcpLimits.from_section(section)


def test_a_flooding_source_is_not_even_read_beyond_its_message_rate():
    take = policy(messages_per_second=100.0, message_burst=200)
    read = sum(take.allows_message(FLOODER, n / 2000) for n in range(2000 * 10))
    assert read <= 200 + 100 * 10 + 1
    assert take.ignored == 2000 * 10 - read
    assert take.allows_message(PHONE, 10.0)
    assert all(take.allows_message(("127.0.0.1", 5060), 10.0) for _ in range(1000))  # trusted
