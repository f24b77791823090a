"""How much of the process SIP over TCP may hold: connections, and time for a message.

Read from the `admission:` section of the settings as `tcp_max_connections`,
`tcp_per_source`, `tcp_message_timeout` and `tcp_idle_timeout` (the section's other keys are
`ivr.admission`'s).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from ivr.config import ConfigError

PREFIX = "tcp_"


@dataclass(frozen=True)
class TcpLimits:
    max_connections: int = 1000  # accepted connections, all sources
    per_source: int = 20  # accepted connections from one address
    message_timeout: float = 10.0  # seconds a started message may take to arrive whole
    idle_timeout: float = 600.0  # seconds without an octet, on a connection no call uses

    @classmethod
    def from_section(cls, section: Mapping[str, Any]) -> TcpLimits:
        """The `tcp_` keys of `section`; absent ones keep the defaults."""
        known = {f"{PREFIX}{f.name}" for f in fields(cls)}
        unknown = {key for key in section if key.startswith(PREFIX)} - known
        if unknown:
            raise ConfigError(f"admission: unknown setting(s) {', '.join(sorted(unknown))}")
        try:
            limits = cls(
                max_connections=int(section.get("tcp_max_connections", cls.max_connections)),
                per_source=int(section.get("tcp_per_source", cls.per_source)),
                message_timeout=float(section.get("tcp_message_timeout", cls.message_timeout)),
                idle_timeout=float(section.get("tcp_idle_timeout", cls.idle_timeout)),
            )
        except (TypeError, ValueError):
            raise ConfigError("admission: the tcp_ limits must be numbers") from None
        if (
            min(limits.max_connections, limits.per_source) < 1
            or min(limits.message_timeout, limits.idle_timeout) <= 0
        ):
            raise ConfigError("admission: the tcp_ limits must be above 0")
        return limits
