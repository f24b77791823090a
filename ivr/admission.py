"""Which new calls the IVR takes: a cap on concurrent calls and a per-source INVITE rate.

Pure and clock-driven: `Admission(source, now)` is the user agent's admission hook
(`ivr.sip.useragent.Admission`) and says None (take the call) or the Retry-After seconds of the
503 that refuses it, before any transaction, call or RTP port exists. So a flood of INVITEs
costs a dictionary lookup each, never a port, a prompt or a thread.

TCP connections have their own limits in the same config section, the `tcp_` keys, which
`ivr.sip.tcp_limits.TcpLimits` reads.

Before any of that, `allows_message(source, now)` is asked for every datagram or framed TCP
message, before it is even parsed: an untrusted source beyond `messages_per_second`
(`message_burst` deep) is not listened to at all, so a flood costs a lookup instead of a parse
and a 503 (a phone sends a few messages a second; a flood is answered "nothing").

Rules for a new INVITE, in order:
1. `max_calls` calls are up (counted by the app): 503, Retry-After `retry_after`.
2. A source address in `trusted_sources` (the Kamailio in front, a test rig) is not rate-limited.
3. Every other source address has a token bucket: `invites_per_second` refill, `invite_burst`
   deep. An INVITE without a token gets 503 with Retry-After until the next token. At most
   `MAX_SOURCES` buckets are kept; the least recently seen is forgotten first (a forgotten
   source starts again with a full bucket, which only a source unseen for long can be).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ivr.config import ConfigError

MAX_SOURCES = 10_000


@dataclass(frozen=True)
class AdmissionSettings:
    max_calls: int = 600
    invites_per_second: float = 10.0
    invite_burst: int = 20
    # Loopback cannot be spoofed from outside (the kernel drops it on other interfaces); a
    # Kamailio on the same machine sends every call from it.
    trusted_sources: frozenset[str] = frozenset({"127.0.0.1", "::1"})
    retry_after: int = 5
    messages_per_second: float = 100.0  # any SIP message from one untrusted source
    message_burst: int = 200

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> AdmissionSettings:
        """The `admission:` section of the config file; absent keys keep the defaults."""
        known = {
            "max_calls",
            "invites_per_second",
            "invite_burst",
            "trusted_sources",
            "retry_after",
            "messages_per_second",
            "message_burst",
        }
        unknown = {key for key in section if not key.startswith("tcp_")} - known
        if unknown:
            raise ConfigError(f"admission: unknown setting(s) {', '.join(sorted(unknown))}")
        try:
            settings = cls(
                max_calls=int(section.get("max_calls", cls.max_calls)),
                invites_per_second=float(section.get("invites_per_second", cls.invites_per_second)),
                invite_burst=int(section.get("invite_burst", cls.invite_burst)),
                trusted_sources=frozenset(
                    str(s) for s in section.get("trusted_sources", cls.trusted_sources) or ()
                ),
                retry_after=int(section.get("retry_after", cls.retry_after)),
                messages_per_second=float(
                    section.get("messages_per_second", cls.messages_per_second)
                ),
                message_burst=int(section.get("message_burst", cls.message_burst)),
            )
        except (TypeError, ValueError) as error:
            raise ConfigError(f"admission: {error}") from None
        if settings.max_calls < 1 or settings.invite_burst < 1 or settings.retry_after < 1:
            raise ConfigError("admission: max_calls, invite_burst and retry_after must be >= 1")
        if settings.message_burst < 1 or settings.messages_per_second <= 0:
            raise ConfigError("admission: messages_per_second and message_burst must be above 0")
        if settings.invites_per_second <= 0:
            raise ConfigError("admission: invites_per_second must be above 0")
        return settings


class Admission:
    def __init__(self, settings: AdmissionSettings, active_calls: Callable[[], int]) -> None:
        self.settings = settings
        self._active_calls = active_calls
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when
        self._messages: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.refused = 0  # INVITEs refused since start, for the dashboard and benchmarks
        self.ignored = 0  # messages not even parsed

    def allows_message(self, source: tuple[str, int], now: float) -> bool:
        """Whether to read a message from `source` at all (its message token bucket)."""
        host = source[0]
        settings = self.settings
        if host in settings.trusted_sources:
            return True
        if take(self._messages, host, now, settings.messages_per_second, settings.message_burst):
            return True
        self.ignored += 1
        return False

    def __call__(self, source: tuple[str, int], now: float) -> int | None:
        retry_after = self._refusal(source[0], now)
        if retry_after is not None:
            self.refused += 1
        return retry_after

    def _refusal(self, host: str, now: float) -> int | None:
        settings = self.settings
        if self._active_calls() >= settings.max_calls:
            return settings.retry_after
        if host in settings.trusted_sources:
            return None
        if take(self._buckets, host, now, settings.invites_per_second, settings.invite_burst):
            return None
        tokens = self._buckets[host][0]
        return max(1, math.ceil((1.0 - tokens) / settings.invites_per_second))

    @property
    def sources(self) -> int:
        """How many sources' buckets are kept (bounded by MAX_SOURCES)."""
        return len(self._buckets)


def take(
    buckets: OrderedDict[str, tuple[float, float]], host: str, now: float, rate: float, burst: int
) -> bool:
    """Take a token from `host`'s bucket (refilled at `rate`, `burst` deep); False if none.
    At most MAX_SOURCES buckets are kept, the least recently seen forgotten first."""
    tokens, then = buckets.pop(host, (float(burst), now))
    tokens = min(burst, tokens + (now - then) * rate)
    taken = tokens >= 1.0
    if taken:
        tokens -= 1.0
    buckets[host] = (tokens, now)  # most recently seen last
    if len(buckets) > MAX_SOURCES:
        buckets.popitem(last=False)
    return taken
