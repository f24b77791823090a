"""The RTP socket of one call (Twisted, the edge): datagrams in with their reception time, out.

Everything else about RTP is sans-I/O (`ivr.rtp.session`); this module only binds a port from the
pool, stamps each datagram with `monotonic()` and writes packets. The RTCP port (RTP + 1) stays
reserved in the pool but unbound: we neither send nor need RTCP reports.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IListeningPort, IReactorUDP
from twisted.internet.protocol import DatagramProtocol

from ivr.rtp.ports import RtpPortPool

log = logging.getLogger(__name__)

Address = tuple[str, int]
DatagramHandler = Callable[[bytes, Address, float], None]
BIND_ATTEMPTS = 20


class RtpProtocol(DatagramProtocol):
    def __init__(
        self, on_datagram: DatagramHandler, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._on_datagram = on_datagram
        self._monotonic = monotonic
        self._checked: Address | None = None  # the destination Twisted last accepted

    def datagramReceived(self, datagram: bytes, addr: Address) -> None:
        self._on_datagram(datagram, addr, self._monotonic())

    def send(self, data: bytes, destination: Address) -> None:
        """Twisted's write() checks each new destination (an IP literal, never a name to resolve);
        later packets to it go straight to the socket: that check was ~10% of the IVR's CPU at
        500 calls (bench/bench_sipp.py --profile), repeated 50 times a second per call."""
        if self.transport is None:
            return
        try:
            if destination == self._checked:
                self.transport.socket.sendto(data, destination)  # type: ignore[attr-defined]
            else:
                self.transport.write(data, destination)
                self._checked = destination
        except OSError as exc:  # ICMP unreachable surfacing on the socket, no route, ...
            log.debug("RTP send to %s:%s failed: %s", destination[0], destination[1], exc)


@dataclass
class RtpEndpoint:
    """A bound RTP port: send through `protocol`, `close()` when the call ends."""

    port: int
    protocol: RtpProtocol
    listening: IListeningPort
    pool: RtpPortPool
    closed: bool = False
    send: Callable[[bytes, Address], None] = field(init=False)

    def __post_init__(self) -> None:
        self.send = self.protocol.send  # bound once: it runs for every packet

    def close(self) -> None:
        """Unbind and return the port to the pool; closing twice is harmless."""
        if not self.closed:
            self.closed = True
            self.listening.stopListening()
            self.pool.release(self.port)


def listen_rtp(
    reactor: IReactorUDP,
    pool: RtpPortPool,
    on_datagram: DatagramHandler,
    interface: str = "",
    monotonic: Callable[[], float] = time.monotonic,
) -> RtpEndpoint:
    """Bind the next free even port of the pool, skipping ports another process holds."""
    for _ in range(min(BIND_ATTEMPTS, pool.available)):
        port = pool.allocate()
        protocol = RtpProtocol(on_datagram, monotonic)
        try:
            listening = reactor.listenUDP(port, protocol, interface=interface, maxPacketSize=8192)
        except CannotListenError as exc:
            log.warning("RTP port %d unavailable (%s); trying the next", port, exc.socketError)
            pool.release(port)
            continue
        return RtpEndpoint(port, protocol, listening, pool)
    raise CannotListenError(  # type: ignore[no-untyped-call]
        interface, 0, OSError("no bindable RTP port in the pool")
    )
