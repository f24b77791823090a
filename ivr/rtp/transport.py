"""The RTP sockets of the process (the edge): datagrams in with their reception time, packets out.

Everything else about RTP is sans-I/O (`ivr.rtp.session`); this module binds a port from the
pool, reads datagrams and writes packets. The RTCP port (RTP + 1) stays reserved in the pool but
unbound: we neither send nor need RTCP reports.

Receiving is batched by the pacing clock. Every RTP socket of the process sits in one epoll set
(`RtpReceiver`) that the reactor does not watch: the clock's tick, after sending the tick's
frames, drains it (`drain()`), reading a datagram from each socket that has one per pass, every
datagram of a pass stamped with one `monotonic()` reading. A socket per call under Twisted's own
UDP ports cost, per datagram, a reactor wake-up and dispatch (the callers' phones send at their
own moments, so arrivals are spread over the 20 ms), a clock reading and a second `recvfrom`
ending in an EAGAIN exception; here a datagram costs one `recvfrom` and its handler, and the
reactor wakes for the tick and for SIP. A datagram waits at most one tick (20 ms) to be read,
which the phone never hears: what the IVR sends stays on the tick.
"""

from __future__ import annotations

import logging
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from twisted.internet import abstract
from twisted.internet.error import CannotListenError, InvalidAddressError

from ivr.rtp.ports import RtpPortPool

log = logging.getLogger(__name__)

Address = tuple[str, int]
DatagramHandler = Callable[[bytes, Address, float], None]
BIND_ATTEMPTS = 20
MAX_DATAGRAM = 2048  # G.711 at 20 ms is 172 bytes; anything beyond this is not our RTP
MAX_PASSES = 16  # datagrams read from one socket per drain: a stalled tick catches up, bounded


class RtpReceiver:
    """Every RTP socket of the process in one epoll set, read when the pacing tick drains it."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._epoll = select.epoll()
        self._sockets: dict[int, tuple[socket.socket, DatagramHandler]] = {}

    def add(self, sock: socket.socket, handler: DatagramHandler) -> None:
        self._epoll.register(sock.fileno(), select.EPOLLIN)
        self._sockets[sock.fileno()] = (sock, handler)

    def remove(self, sock: socket.socket) -> None:
        self._epoll.unregister(sock.fileno())
        del self._sockets[sock.fileno()]

    def close(self) -> None:
        self._epoll.close()

    def drain(self) -> int:
        """Read what every socket holds (at most MAX_PASSES datagrams each); the count read.
        Level-triggered: a socket still holding datagrams is reported again on the next pass."""
        sockets = self._sockets
        read = 0
        for _ in range(MAX_PASSES):
            ready = self._epoll.poll(0, len(sockets) or 1)
            if not ready:
                break
            now = self._monotonic()
            for fd, _ in ready:
                entry = sockets.get(fd)  # closed by a handler earlier in this pass
                if entry is None:
                    continue
                sock, handler = entry
                try:
                    data, source = sock.recvfrom(MAX_DATAGRAM)
                except OSError:  # ECONNREFUSED (an ICMP error from an earlier send), EAGAIN
                    continue
                read += 1
                try:
                    handler(data, source, now)
                except Exception:
                    log.exception("RTP datagram handler failed")
        return read


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


def listen_rtp(
    receiver: RtpReceiver, pool: RtpPortPool, on_datagram: DatagramHandler, interface: str = ""
) -> RtpEndpoint:
    """Bind the next free even port of the pool, skipping ports another process holds; its
    datagrams go to `on_datagram` when `receiver` is drained."""
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
        receiver.add(sock, on_datagram)
        return RtpEndpoint(port, RtpSocket(sock), receiver, pool)
    raise CannotListenError(  # type: ignore[no-untyped-call]
        interface, 0, OSError("no bindable RTP port in the pool")
    )
