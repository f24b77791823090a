"""The RTP sockets of the process (the edge): datagrams in with their reception time, packets out.

Everything else about RTP is sans-I/O (`ivr.rtp.session`); this module binds a port from the
pool, reads datagrams and writes packets. The RTCP port (RTP + 1) stays reserved in the pool but
unbound: we neither send nor need RTCP reports.

Receiving is batched. Every RTP socket of the process sits in one epoll set of its own
(`RtpReceiver`) and the reactor watches only that set's descriptor: when it is readable, one
pass reads one datagram from each socket that has one and stamps them all with one
`monotonic()` reading. A socket per call under Twisted's own UDP ports cost, per datagram, a
reactor dispatch (logging context included), a clock reading and a second `recvfrom` ending in
an EAGAIN exception; here a datagram costs one `recvfrom` and the handler. The set is
level-triggered, so a socket with more datagrams queued is simply read again on the next pass.
"""

from __future__ import annotations

import logging
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twisted.internet import abstract
from twisted.internet.error import CannotListenError, InvalidAddressError
from twisted.internet.interfaces import IReactorFDSet
from twisted.python.failure import Failure

from ivr.rtp.ports import RtpPortPool

log = logging.getLogger(__name__)

Address = tuple[str, int]
DatagramHandler = Callable[[bytes, Address, float], None]
BIND_ATTEMPTS = 20
MAX_DATAGRAM = 2048  # G.711 at 20 ms is 172 bytes; anything beyond this is not our RTP


class RtpReceiver:
    """Every RTP socket of one reactor behind one epoll set (an `IReadDescriptor`)."""

    def __init__(self, reactor: IReactorFDSet, monotonic: Callable[[], float]) -> None:
        self._reactor = reactor
        self._monotonic = monotonic
        self._epoll = select.epoll()
        self._sockets: dict[int, tuple[socket.socket, DatagramHandler]] = {}
        reactor.addReader(self)  # type: ignore[arg-type]

    def add(self, sock: socket.socket, handler: DatagramHandler) -> None:
        self._epoll.register(sock.fileno(), select.EPOLLIN)
        self._sockets[sock.fileno()] = (sock, handler)

    def remove(self, sock: socket.socket) -> None:
        self._epoll.unregister(sock.fileno())
        del self._sockets[sock.fileno()]

    @property
    def empty(self) -> bool:
        return not self._sockets

    def close(self) -> None:
        self._reactor.removeReader(self)  # type: ignore[arg-type]
        self._epoll.close()

    def fileno(self) -> int:
        return self._epoll.fileno()

    def doRead(self) -> None:
        """One pass: a datagram from every socket that has one, all stamped with one time."""
        now = self._monotonic()
        sockets = self._sockets
        for fd, _ in self._epoll.poll(0, len(sockets) or 1):
            entry = sockets.get(fd)
            if entry is None:
                continue
            sock, handler = entry
            try:
                data, source = sock.recvfrom(MAX_DATAGRAM)
            except OSError:  # ECONNREFUSED (an ICMP error from an earlier send), EAGAIN
                continue
            try:
                handler(data, source, now)
            except Exception:
                log.exception("RTP datagram handler failed")

    def logPrefix(self) -> str:
        return "RtpReceiver"

    def connectionLost(self, reason: Failure) -> None:
        """The reactor is shutting down; the calls close their sockets themselves."""


_receivers: dict[tuple[Any, Callable[[], float]], RtpReceiver] = {}


def _receiver(reactor: IReactorFDSet, monotonic: Callable[[], float]) -> RtpReceiver:
    receiver = _receivers.get((reactor, monotonic))
    if receiver is None:
        receiver = _receivers[reactor, monotonic] = RtpReceiver(reactor, monotonic)
    return receiver


class RtpSocket:
    """Sends a call's packets. Each new destination is checked once (an IP literal of the
    socket's family, never a name to resolve, as Twisted's UDP write() checks); later packets to
    it go straight to `sendto`: 50 a second per call."""

    def __init__(self, sock: socket.socket) -> None:
        self.socket = sock
        self._checked: Address | None = None

    def send(self, data: bytes, destination: Address) -> None:
        try:
            if destination != self._checked:
                self._check(destination)
            self.socket.sendto(data, destination)
        except OSError as exc:  # ICMP unreachable surfacing on the socket, no route, closed
            log.debug("RTP send to %s:%s failed: %s", destination[0], destination[1], exc)

    def _check(self, destination: Address) -> None:
        host = destination[0]
        valid = (
            abstract.isIPv6Address(host)
            if self.socket.family == socket.AF_INET6
            else abstract.isIPAddress(host)
        )
        if not valid:
            raise InvalidAddressError(  # type: ignore[no-untyped-call]
                host, "RTP goes to IP addresses only, never to names"
            )
        self._checked = destination


@dataclass
class RtpEndpoint:
    """A bound RTP port: send through `protocol`, `close()` when the call ends."""

    port: int
    protocol: RtpSocket
    receiver: RtpReceiver
    pool: RtpPortPool
    closed: bool = False
    send: Callable[[bytes, Address], None] = field(init=False)

    def __post_init__(self) -> None:
        self.send = self.protocol.send  # bound once: it runs for every packet

    def close(self) -> None:
        """Unbind and return the port to the pool; closing twice is harmless."""
        if not self.closed:
            self.closed = True
            self.receiver.remove(self.protocol.socket)
            self.protocol.socket.close()
            self.pool.release(self.port)
            if self.receiver.empty:
                for key, receiver in list(_receivers.items()):
                    if receiver is self.receiver:
                        del _receivers[key]
                self.receiver.close()


def listen_rtp(
    reactor: IReactorFDSet,
    pool: RtpPortPool,
    on_datagram: DatagramHandler,
    interface: str = "",
    monotonic: Callable[[], float] = time.monotonic,
) -> RtpEndpoint:
    """Bind the next free even port of the pool, skipping ports another process holds."""
    family = socket.AF_INET6 if ":" in interface else socket.AF_INET
    for _ in range(min(BIND_ATTEMPTS, pool.available)):
        port = pool.allocate()
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            sock.bind((interface, port))
        except OSError as exc:
            sock.close()
            log.warning("RTP port %d unavailable (%s); trying the next", port, exc)
            pool.release(port)
            continue
        sock.setblocking(False)
        receiver = _receiver(reactor, monotonic)
        receiver.add(sock, on_datagram)
        return RtpEndpoint(port, RtpSocket(sock), receiver, pool)
    raise CannotListenError(  # type: ignore[no-untyped-call]
        interface, 0, OSError("no bindable RTP port in the pool")
    )
