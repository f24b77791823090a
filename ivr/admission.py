"""Which new calls the IVR takes: a cap on concurrent calls and a per-source INVITE rate.

Pure and clock-driven: `Admission(source, now)` is the user agent's admission hook
(`ivr.sip.useragent.Admission`) and says None (take the call) or the Retry-After seconds of the
503 that refuses it, before any transaction, call or RTP port exists. So a flood of INVITEs
costs a dictionary lookup each, never a port, a prompt or a thread.

TCP connections have their own limits in the same config section, the `tcp_` keys, which
`ivr.sip.tcp_limits.TcpLimits` reads.

Rules, in order:
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

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> AdmissionSettings:
        """The `admission:` section of the config file; absent keys keep the defaults."""
        known = {
            "max_calls",
            "invites_per_second",
            "invite_burst",
            "trusted_sources",
            "retry_after",
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
            )
        except (TypeError, ValueError) as error:
            raise ConfigError(f"admission: {error}") from None
        if settings.max_calls < 1 or settings.invite_burst < 1 or settings.retry_after < 1:
            raise ConfigError("admission: max_calls, invite_burst and retry_after must be >= 1")
        if settings.invites_per_second <= 0:
            raise ConfigError("admission: invites_per_second must be above 0")
        return settings


class Admission:
    def __init__(self, settings: AdmissionSettings, active_calls: Callable[[], int]) -> None:
        self.settings = settings
        self._active_calls = active_calls
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when
        self.refused = 0  # INVITEs refused since start, for the dashboard and benchmarks

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
        tokens, then = self._buckets.pop(host, (float(settings.invite_burst), now))
        tokens = min(settings.invite_burst, tokens + (now - then) * settings.invites_per_second)
        admitted = tokens >= 1.0
        if admitted:
            tokens -= 1.0
        self._buckets[host] = (tokens, now)  # most recently seen last
        if len(self._buckets) > MAX_SOURCES:
            self._buckets.popitem(last=False)
        if admitted:
            return None
        return max(1, math.ceil((1.0 - tokens) / settings.invites_per_second))

    @property
    def sources(self) -> int:
        """How many sources' buckets are kept (bounded by MAX_SOURCES)."""
        return len(self._buckets)
