"""Small interfaces shared where a call, an agent leg and the process meet.

A call and an agent leg are given these instead of the reactor and a bound socket, so they run
unchanged under `twisted.internet.task.Clock` and a fake port in unit tests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from twisted.internet.interfaces import IDelayedCall

Address = tuple[str, int]
DatagramHandler = Callable[[bytes, Address, float], None]


class Scheduler(Protocol):
    """The reactor's timer (`IReactorTime.callLater`); `task.Clock` in tests."""

    def callLater(
        self, delay: float, callable: Callable[..., object], /, *args: object, **kw: object
    ) -> IDelayedCall: ...


class MediaPort(Protocol):
    """A bound RTP port (`ivr.rtp.transport.RtpEndpoint`): send through it, close it once."""

    @property
    def port(self) -> int: ...

    def send(self, data: bytes, destination: Address) -> None: ...

    def close(self) -> None: ...
