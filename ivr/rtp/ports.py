"""RTP port allocation: even ports for RTP, the odd port above each reserved for RTCP.

Ports are handed out in random order (a third party cannot guess the next call's port and
spray it, RFC 3550 8.2's advice for SSRCs applied to ports, as Asterisk and FreeSWITCH do).
A released port first waits in a cooling queue of up to half the range (at most
`MAX_COOLING`), so it is not reused while late packets of its previous call may still arrive.
A port that fails to bind (another process holds it) is simply released by the transport and
tried again much later.
"""

from __future__ import annotations

import random
from collections import deque

MAX_COOLING = 256  # released ports that wait before they can be handed out again


class PortsExhausted(RuntimeError):
    """Every RTP port of the range is in use."""


class RtpPortPool:
    def __init__(self, low: int, high: int, rng: random.Random | None = None) -> None:
        first = low + (low % 2)
        if first + 1 > high:
            raise ValueError(f"RTP port range {low}-{high} holds no even/odd pair")
        self._rng = rng or random.SystemRandom()
        self._free = list(range(first, high, 2))
        self._cooling: deque[int] = deque()
        self._cooling_limit = min(MAX_COOLING, len(self._free) // 2)
        self._in_use: set[int] = set()

    def allocate(self) -> int:
        if not self._free and self._cooling:
            self._free.append(self._cooling.popleft())
        if not self._free:
            raise PortsExhausted(f"all {len(self._in_use)} RTP ports in use")
        index = self._rng.randrange(len(self._free))
        # swap-remove: O(1), the order of the free list carries no meaning
        self._free[index], self._free[-1] = self._free[-1], self._free[index]
        port = self._free.pop()
        self._in_use.add(port)
        return port

    def release(self, port: int) -> None:
        if port not in self._in_use:
            raise ValueError(f"RTP port {port} was not allocated")
        self._in_use.remove(port)
        self._cooling.append(port)
        while len(self._cooling) > self._cooling_limit:
            self._free.append(self._cooling.popleft())

    @property
    def available(self) -> int:
        return len(self._free) + len(self._cooling)
