"""SIP over UDP and TCP with Twisted: the only SIP code that touches sockets or the reactor.

`SipTransport` binds UDP and TCP on the user agent's host and port, hands every datagram or
framed TCP message to `UserAgent.receive`, sends what the agent wants sent, keeps ONE reactor
timer armed at `UserAgent.get_timer()`, and passes each event to `on_event`.

Commands the call layer gives the agent (`ua.answer(...)`, `ua.hangup(...)`) produce output
only when the transport next flushes: call `flush()` after them. Commands given from inside
`on_event` need no flush; the transport flushes until the agent has nothing more to say.

TCP connections are named by their peer address: the agent addresses a response to the
request's source, which for TCP is the connection it came on. A request to a TCP peer with no
connection opens one. A connection whose framing is lost (bad Content-Length) is closed.

Limits (`ivr.sip.tcp_limits.TcpLimits`), so that connections cannot be hoarded: at most
`max_connections` accepted connections and `per_source` from one address (more are closed as
they are accepted); a connection that holds part of a message for `message_timeout` seconds
(a slowloris client) or carries nothing for `idle_timeout` seconds while no call uses it is
closed. UDP reads whole datagrams (65535 octets); the user agent refuses the oversized (513).
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet import defer, error, protocol
from twisted.internet.interfaces import IDelayedCall

from ivr.sip.events import Event
from ivr.sip.message import FramingError, StreamFramer
from ivr.sip.tcp_limits import TcpLimits
from ivr.sip.transaction import Outgoing
from ivr.sip.useragent import UserAgent

log = logging.getLogger("ivr.sip.transport")

Address = tuple[str, int]
T = TypeVar("T")
MAX_DATAGRAM = 65535  # Twisted's default (8192) cuts larger datagrams silently
PORT_ATTEMPTS = 20  # port 0: how many OS-chosen UDP ports to try for a free TCP twin


class _Datagrams(protocol.DatagramProtocol):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def datagramReceived(self, datagram: bytes, addr: Any) -> None:
        self.owner.receive(datagram, (addr[0], addr[1]), "udp")


class _Stream(protocol.Protocol):
    """One TCP connection, accepted or opened by us; writes wait until it is connected."""

    def __init__(self, owner: SipTransport, accepted: bool = False) -> None:
        self.owner = owner
        self.accepted = accepted
        self.framer = StreamFramer()
        self.peer: Address | None = None
        self.pending: list[bytes] = []
        self.last_data = owner.clock()
        self.partial_since: float | None = None  # when the framer began holding a part
        self._timer: IDelayedCall | None = None

    def connectionMade(self) -> None:
        address = self.transport.getPeer()  # type: ignore[union-attr]
        self.peer = (address.host, address.port)  # type: ignore[union-attr]
        if self.accepted and not self.owner.admit_connection(self.peer[0]):
            log.warning("TCP connection from %s refused: connection limit", self.peer[0])
            self.accepted = False  # never counted
            self.transport.abortConnection()  # type: ignore[union-attr]
            return
        self.owner.connections[self.peer] = self
        for data in self.pending:
            self.transport.write(data)  # type: ignore[union-attr]
        self.pending.clear()
        self._arm()

    def send(self, data: bytes) -> None:
        if self.peer is None:
            self.pending.append(data)
        else:
            self.transport.write(data)  # type: ignore[union-attr]

    def dataReceived(self, data: bytes) -> None:
        try:
            messages = self.framer.feed(data)
        except FramingError as error:
            log.warning("closing TCP connection from %s: %s", self.peer, error.reason)
            self.transport.loseConnection()  # type: ignore[union-attr]
            return
        assert self.peer is not None
        now = self.last_data = self.owner.clock()  # CRLF keep-alives count too
        if not self.framer.holds_partial:
            self.partial_since = None
        elif self.partial_since is None or messages:
            self.partial_since = now
            self._arm()
        for message in messages:
            self.owner.receive(message, self.peer, "tcp")

    def _arm(self) -> None:
        limits = self.owner.tcp_limits
        deadline = self.last_data + limits.idle_timeout
        if self.partial_since is not None:
            deadline = min(deadline, self.partial_since + limits.message_timeout)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        delay = max(0.0, deadline - self.owner.clock())
        self._timer = self.owner.reactor.callLater(delay, self._check)

    def _check(self) -> None:
        self._timer = None
        limits, now = self.owner.tcp_limits, self.owner.clock()
        if self.partial_since is not None and now - self.partial_since >= limits.message_timeout:
            why = f"no whole message in {limits.message_timeout:.0f} s"
        elif now - self.last_data >= limits.idle_timeout:
            if self.peer is not None and self.owner.ua.has_call_on(self.peer, "tcp"):
                self.last_data = now  # a call still needs this connection
                self._arm()
                return
            why = f"idle for {limits.idle_timeout:.0f} s"
        else:
            self._arm()
            return
        log.info("closing TCP connection from %s:%d: %s", *(self.peer or ("?", 0)), why)
        self.transport.loseConnection()  # type: ignore[union-attr]

    def connectionLost(self, reason: Any = None) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        if self.accepted and self.peer is not None:
            self.owner.release_connection(self.peer[0])
        if self.peer is not None and self.owner.connections.get(self.peer) is self:
            del self.owner.connections[self.peer]


class _StreamFactory(protocol.Factory):
    def __init__(self, owner: SipTransport) -> None:
        self.owner = owner

    def buildProtocol(self, addr: Any) -> _Stream:
        return _Stream(self.owner, accepted=True)


class _Connector(protocol.ClientFactory):
    """Opens a TCP connection for a request to a peer we have no connection with."""

    def __init__(self, stream: _Stream, destination: Address) -> None:
        self.stream = stream
        self.destination = destination

    def buildProtocol(self, addr: Any) -> _Stream:
        return self.stream

    def clientConnectionFailed(self, connector: Any, reason: Any) -> None:
        log.warning("TCP connection to %s:%d failed: %s", *self.destination, reason.value)
        owner = self.stream.owner
        if owner.connections.get(self.destination) is self.stream:
            del owner.connections[self.destination]


class SipTransport:
    def __init__(
        self,
        ua: UserAgent,
        on_event: Callable[[Event], None],
        reactor: Any = None,
        clock: Callable[[], float] = time.monotonic,
        tcp_limits: TcpLimits | None = None,
    ) -> None:
        if reactor is None:
            from twisted.internet import reactor as default_reactor

            reactor = default_reactor
        self.ua = ua
        self.on_event = on_event
        self.reactor = reactor
        self.clock = clock
        self.connections: dict[Address, _Stream] = {}
        self.tcp_limits = tcp_limits or TcpLimits()
        self._accepted: Counter[str] = Counter()  # accepted connections per source address
        self._udp: Any = None
        self._tcp: Any = None
        self._timer: IDelayedCall | None = None
        self._timer_deadline: float | None = None
        self._flushing = False

    def listen(self, interface: str | None = None) -> None:
        """Bind UDP, then TCP on the same port. Port 0 picks a port free for both and tells the
        agent, so Via and Contact carry the real one. `interface` defaults to the agent's host;
        give "0.0.0.0" to answer on every address while the agent advertises a public one."""
        bind = self.ua.host if interface is None else interface
        for _ in range(PORT_ATTEMPTS if self.ua.port == 0 else 1):
            udp = self.reactor.listenUDP(
                self.ua.port, _Datagrams(self), interface=bind, maxPacketSize=MAX_DATAGRAM
            )
            port = udp.getHost().port
            try:
                self._tcp = self.reactor.listenTCP(port, _StreamFactory(self), interface=bind)
            except error.CannotListenError:
                udp.stopListening()
                if self.ua.port != 0:
                    raise
                continue  # the OS gave a UDP port whose TCP twin is taken: another one
            self._udp, self.ua.port = udp, port
            log.info("SIP listening on %s:%d (UDP and TCP)", bind, port)
            return
        raise error.CannotListenError(  # type: ignore[no-untyped-call]
            bind, 0, OSError("no port free for both UDP and TCP")
        )

    def stop(self) -> defer.Deferred[Any]:
        """Stop listening, close TCP connections and the timer; fires when the ports are closed.
        Ending calls first (hangup + flush) is the caller's job."""
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        for stream in list(self.connections.values()):
            if stream.transport is not None:
                stream.transport.loseConnection()
        listeners = [port for port in (self._udp, self._tcp) if port is not None]
        return defer.DeferredList([defer.maybeDeferred(port.stopListening) for port in listeners])

    def admit_connection(self, host: str) -> bool:
        """Count an accepted connection from `host`, unless a limit is reached."""
        limits = self.tcp_limits
        if self._accepted.total() >= limits.max_connections:
            return False
        if self._accepted[host] >= limits.per_source:
            return False
        self._accepted[host] += 1
        return True

    def release_connection(self, host: str) -> None:
        self._accepted[host] -= 1
        if self._accepted[host] <= 0:
            del self._accepted[host]

    def receive(self, data: bytes, source: Address, transport: str) -> None:
        try:
            self.ua.receive(data, source, transport, self.clock())
        except Exception:
            # A bug must cost one message, never the server.
            log.exception("SIP message from %s:%d could not be handled", *source)
        self.flush()

    def command(self, action: Callable[[UserAgent, float], T]) -> T:
        """Give the agent a command, e.g. `lambda ua, now: ua.answer(call, sdp, now)`, and
        flush what it produced."""
        result = action(self.ua, self.clock())
        self.flush()
        return result

    def flush(self) -> None:
        """Send what the agent has queued, hand out its events, re-arm the timer; repeated
        until quiet, since event handlers may give the agent new commands."""
        if self._flushing:
            return
        self._flushing = True
        try:
            while True:
                for outgoing in self.ua.datagrams_to_send():
                    self._send(outgoing)
                event = self.ua.next_event()
                if event is None:
                    break
                try:
                    self.on_event(event)
                except Exception:
                    # the event's name only: its fields may hold a caller's From or a key
                    log.exception("event handler failed on %s", type(event).__name__)
        finally:
            self._flushing = False
        self._rearm()

    def _send(self, outgoing: Outgoing) -> None:
        if outgoing.transport == "tcp":
            self._stream_to(outgoing.destination).send(outgoing.data)
            return
        try:
            self._udp.write(outgoing.data, outgoing.destination)
        except (OSError, error.InvalidAddressError, error.MessageLengthError) as problem:
            log.warning("UDP send to %s:%d failed: %s", *outgoing.destination, problem)

    def _stream_to(self, destination: Address) -> _Stream:
        stream = self.connections.get(destination)
        if stream is None:
            stream = _Stream(self)
            self.connections[destination] = stream
            self.reactor.connectTCP(destination[0], destination[1], _Connector(stream, destination))
        return stream

    def _rearm(self) -> None:
        deadline = self.ua.get_timer()
        if deadline == self._timer_deadline and self._timer is not None and self._timer.active():
            return
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        self._timer_deadline = deadline
        if deadline is not None:
            delay = max(0.0, deadline - self.clock())
            self._timer = self.reactor.callLater(delay, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._timer_deadline = None
        try:
            self.ua.handle_timer(self.clock())
        except Exception:
            log.exception("SIP timer handling failed")
        self.flush()
