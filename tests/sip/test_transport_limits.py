"""The SIP transport's limits over real loopback sockets: what a flood of connections, a slow
client or an oversized datagram cannot take from the server."""

from __future__ import annotations

import logging
import select
import socket
import time
from collections.abc import Iterator

import pytest
from twisted.internet.selectreactor import SelectReactor

from ivr.sip.events import Event
from ivr.sip.parser import StreamFramer
from ivr.sip.tcp_limits import TcpLimits
from ivr.sip.transport import SipTransport
from ivr.sip.useragent import UserAgent
from tests.sip.sip_core_helpers import OFFER
from tests.sip.test_transport_sip import HOST, AnsweringApp, Server, read_tcp, sip_request

LIMITS = TcpLimits(max_connections=4, per_source=3, message_timeout=0.5, idle_timeout=1.0)


@pytest.fixture
def server() -> Iterator[Server]:
    reactor = SelectReactor()
    ua = UserAgent(host=HOST, port=0)
    app = AnsweringApp(ua)
    transport = SipTransport(ua, app.on_event, reactor=reactor, tcp_limits=LIMITS)
    transport.listen()
    yield Server(reactor, transport, app)
    transport.stop()
    for _ in range(10):
        reactor.iterate(0)


def closed(server: Server, sock: socket.socket, timeout: float = 5.0) -> bool:
    """Pump until the server closes `sock` (True) or sends something (False)."""
    server.pump_until(lambda: select.select([sock], [], [], 0)[0], timeout)
    try:
        return sock.recv(65535) == b""
    except ConnectionResetError:
        return True


def options(sock: socket.socket, server: Server, branch: str = "z9hG4bK-o") -> bytes:
    return sip_request("OPTIONS", sock.getsockname()[1], server.address[1], branch=branch,
                       transport="TCP")  # fmt: skip


def test_connections_beyond_the_per_source_limit_are_closed_at_once(server: Server) -> None:
    kept = [socket.create_connection(server.address) for _ in range(LIMITS.per_source)]
    try:
        server.pump_until(lambda: len(server.transport.connections) == LIMITS.per_source)
        with socket.create_connection(server.address) as extra:
            assert closed(server, extra)
        # the admitted ones still work
        kept[0].sendall(options(kept[0], server))
        (ok,) = read_tcp(server, kept[0], StreamFramer(), 1)
        assert ok.status == 200
    finally:
        for sock in kept:
            sock.close()


def test_a_closed_connection_frees_its_place(server: Server) -> None:
    for _ in range(LIMITS.per_source + 2):
        with socket.create_connection(server.address) as sock:
            server.pump_until(lambda: server.transport.connections)
        server.pump_until(lambda: not server.transport.connections)
    with socket.create_connection(server.address) as sock:
        sock.sendall(options(sock, server))
        assert not closed(server, sock)


def test_a_slowloris_client_is_cut_off_after_the_message_timeout(server: Server) -> None:
    with socket.create_connection(server.address) as sock:
        request = options(sock, server)
        start = time.monotonic()
        for byte in request[:40]:  # a byte every 0.1 s: never idle, never a whole message
            sock.sendall(bytes([byte]))
            end = time.monotonic() + 0.1
            while time.monotonic() < end:
                server.reactor.iterate(0.01)
            if select.select([sock], [], [], 0)[0]:
                break
        assert closed(server, sock)
        assert time.monotonic() - start < LIMITS.message_timeout + 2.0


def test_an_idle_connection_is_closed_and_one_carrying_a_call_is_kept(server: Server) -> None:
    with (
        socket.create_connection(server.address) as idle,
        socket.create_connection(server.address) as calling,
    ):
        port = calling.getsockname()[1]
        invite = sip_request("INVITE", port, server.address[1], body=OFFER.decode(),
                             transport="TCP")  # fmt: skip
        calling.sendall(invite)
        framer = StreamFramer()
        _trying, ok = read_tcp(server, calling, framer, 2)
        ack = sip_request("ACK", port, 0, branch="z9hG4bK-a", to_tag=ok.to_tag, transport="TCP")
        calling.sendall(ack)
        assert closed(server, idle, timeout=LIMITS.idle_timeout + 3)
        end = time.monotonic() + LIMITS.idle_timeout + 0.5
        while time.monotonic() < end:
            server.reactor.iterate(0.02)
        bye = sip_request("BYE", port, 0, branch="z9hG4bK-b", cseq="2", to_tag=ok.to_tag,
                          transport="TCP")  # fmt: skip
        calling.sendall(bye)
        (bye_ok,) = read_tcp(server, calling, framer, 1)
        assert bye_ok.status == 200


def test_a_large_udp_datagram_is_read_whole_and_refused_513(server: Server) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind((HOST, 0))
        port = phone.getsockname()[1]
        filler = "v=0\r\n" + "a=x-filler:" + "y" * 40000 + "\r\n"
        big = sip_request("INVITE", port, server.address[1], body=filler)
        assert len(big) > 32 * 1024
        phone.sendto(big, server.address)
        response = server.receive(phone)
        assert response.status == 513  # type: ignore[union-attr]


def test_a_failing_event_handler_logs_no_message_content(
    server: Server, caplog: pytest.LogCaptureFixture
) -> None:
    def explode(event: Event) -> None:
        raise RuntimeError("bug")

    server.transport.on_event = explode
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as phone:
        phone.bind((HOST, 0))
        port = phone.getsockname()[1]
        invite = sip_request("INVITE", port, server.address[1], body=OFFER.decode())
        with caplog.at_level(logging.ERROR, logger="ivr.sip.transport"):
            phone.sendto(invite, server.address)
            server.receive(phone)
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "IncomingCall" in text
    assert "caller@" not in text and "transport-test-1" not in text
