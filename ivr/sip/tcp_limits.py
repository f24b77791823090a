"""How much of the process SIP over TCP may hold: connections, and time for a message."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TcpLimits:
    max_connections: int = 1000  # accepted connections, all sources
    per_source: int = 20  # accepted connections from one address
    message_timeout: float = 10.0  # seconds a started message may take to arrive whole
    idle_timeout: float = 600.0  # seconds without an octet, on a connection no call uses
