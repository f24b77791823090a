"""RTP port allocation: even ports for RTP, the odd port above each reserved for RTCP.

Ports are handed out round-robin (a released port goes to the back of the queue), so a port is
not reused while late packets of its previous call may still arrive. A port that fails to bind
(another process holds it) is simply released by the transport and tried again much later.
"""

from __future__ import annotations

from collections import deque


class PortsExhausted(RuntimeError):
    """Every RTP port of the range is in use."""


class RtpPortPool:
    def __init__(self, low: int, high: int) -> None:
        first = low + (low % 2)
        if first + 1 > high:
            raise ValueError(f"RTP port range {low}-{high} holds no even/odd pair")
        self._free = deque(range(first, high, 2))
        self._in_use: set[int] = set()

    def allocate(self) -> int:
        if not self._free:
            raise PortsExhausted(f"all {len(self._in_use)} RTP ports in use")
        port = self._free.popleft()
        self._in_use.add(port)
        return port

    def release(self, port: int) -> None:
        if port not in self._in_use:
            raise ValueError(f"RTP port {port} was not allocated")
        self._in_use.remove(port)
        self._free.append(port)

    @property
    def available(self) -> int:
        return len(self._free)
