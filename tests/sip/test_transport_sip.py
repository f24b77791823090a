"""The Twisted SIP transport over real loopback sockets, with real clients (plain sockets, sipp).

Each test gets its own (non-installed) Twisted reactor that the test pumps itself, so no
thread and no global reactor is involved and every test starts clean.
"""

from __future__ import annotations

import itertools
import json
import select
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from twisted.internet.error import CannotListenError
from twisted.internet.selectreactor import SelectReactor

from ivr.sip import sdp
from ivr.sip.events import (
    CallConfirmed,
    CallEnded,
    DtmfInfo,
    Event,
    IncomingCall,
    OutgoingAnswered,
)
from ivr.sip.message import Request, Response, StreamFramer, parse_message
from ivr.sip.transport import SipTransport
from ivr.sip.useragent import UserAgent
from tests.sip.sip_core_helpers import OFFER

HOST = "127.0.0.1"
SIPP_SCENARIOS = Path("/work/shared/sip-clients/sipp")


@dataclass
class AnsweringApp:
    """The smallest IVR: answers every call with an SDP answer, remembers what happened."""

    ua: UserAgent
    events: list[Event] = field(default_factory=list)
    sessions: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, IncomingCall):
            now = time.monotonic()
            try:
                choice = sdp.negotiate(event.sdp)
            except sdp.NoCommonCodec:
                self.ua.reject(event.call, 488, now)
                return
            answer = sdp.build_answer(choice, HOST, 30000, next(self.sessions), 1)
            self.ua.answer(event.call, answer, now)


@dataclass
class Server:
    reactor: SelectReactor
    transport: SipTransport
    app: AnsweringApp

    @property
    def address(self) -> tuple[str, int]:
        return (HOST, self.transport.ua.port)

    def pump_until(self, condition: Callable[[], object], timeout: float = 5.0) -> None:
        end = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < end, "timed out waiting"
            self.reactor.iterate(0.005)

    def receive(self, sock: socket.socket, timeout: float = 5.0) -> Request | Response:
        """The next SIP message on a UDP socket, pumping the server meanwhile."""
        self.pump_until(lambda: select.select([sock], [], [], 0)[0], timeout)
        return parse_message(sock.recv(65535))

    def quiet(self, sock: socket.socket, seconds: float) -> bool:
        """True if nothing arrives on `sock` for `seconds`."""
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            self.reactor.iterate(0.005)
            if select.select([sock], [], [], 0)[0]:
                return False
        return True


@pytest.fixture
def server() -> Iterator[Server]:
    reactor = SelectReactor()
    ua = UserAgent(host=HOST, port=0)
    app = AnsweringApp(ua)
    transport = SipTransport(ua, app.on_event, reactor=reactor)
    transport.listen()
    yield Server(reactor, transport, app)
    transport.stop()
    for _ in range(10):
        reactor.iterate(0)


@pytest.fixture
def phone() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((HOST, 0))
        yield sock


def sip_request(method: str, sock_port: int, server_port: int, **fields: str) -> bytes:
    """A request from a phone at 127.0.0.1:`sock_port`."""
    branch = fields.get("branch", "z9hG4bK-t1")
    cseq = fields.get("cseq", "1")
    to_tag = fields.get("to_tag")
    body = fields.get("body", "").encode()
    transport = fields.get("transport", "UDP")
    lines = [
        f"{method} sip:12333@{HOST}:{server_port} SIP/2.0",
        f"Via: SIP/2.0/{transport} {HOST}:{sock_port};branch={branch};rport",
        "Max-Forwards: 70",
        "From: <sip:caller@127.0.0.1>;tag=caller-1",
        "To: <sip:12333@127.0.0.1>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {fields.get('call_id', 'transport-test-1')}",
        f"CSeq: {cseq} {method}",
        f"Contact: <sip:caller@{HOST}:{sock_port}>",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def test_udp_call_invite_100_200_ack_bye(server: Server, phone: socket.socket) -> None:
    port = phone.getsockname()[1]
    phone.sendto(
        sip_request("INVITE", port, server.address[1], body=OFFER.decode()), server.address
    )
    trying, ok = server.receive(phone), server.receive(phone)
    assert isinstance(trying, Response) and trying.status == 100
    assert isinstance(ok, Response) and ok.status == 200
    assert sdp.negotiate(ok.body).codec == "PCMU"
    assert ok.top_via.params["rport"] == str(port)
    tag = ok.to_tag or ""
    phone.sendto(
        sip_request("ACK", port, server.address[1], branch="z9hG4bK-a", to_tag=tag), server.address
    )
    server.pump_until(lambda: any(isinstance(e, CallConfirmed) for e in server.app.events))
    phone.sendto(
        sip_request("BYE", port, server.address[1], branch="z9hG4bK-b", cseq="2", to_tag=tag),
        server.address,
    )
    bye_ok = server.receive(phone)
    assert isinstance(bye_ok, Response) and bye_ok.status == 200 and bye_ok.cseq == (2, "BYE")
    server.pump_until(lambda: isinstance(server.app.events[-1], CallEnded))
    assert server.app.events[-1].reason == "bye"


def test_unacknowledged_200_is_retransmitted_by_the_reactor_timer(
    server: Server, phone: socket.socket
) -> None:
    port = phone.getsockname()[1]
    phone.sendto(
        sip_request("INVITE", port, server.address[1], body=OFFER.decode()), server.address
    )
    statuses = [server.receive(phone).status for _ in range(3)]  # type: ignore[union-attr]
    assert statuses == [100, 200, 200]  # the copy comes T1 = 0.5 s later


def test_options_is_answered(server: Server, phone: socket.socket) -> None:
    port = phone.getsockname()[1]
    phone.sendto(sip_request("OPTIONS", port, server.address[1]), server.address)
    ok = server.receive(phone)
    assert (
        isinstance(ok, Response)
        and ok.status == 200
        and "INVITE" in (ok.headers.get("Allow") or "")
    )


def test_garbage_gets_400_or_nothing_and_the_server_still_answers(
    server: Server, phone: socket.socket
) -> None:
    port = phone.getsockname()[1]
    phone.sendto(b"\x16\x03\x01 not sip at all\r\n\r\n", server.address)
    assert server.quiet(phone, 0.1)
    broken = sip_request("OPTIONS", port, server.address[1]).replace(b"CSeq: 1", b"CSeq: x")
    phone.sendto(broken, server.address)
    server.pump_until(lambda: select.select([phone], [], [], 0)[0])
    assert phone.recv(65535).startswith(b"SIP/2.0 400 Bad Request (malformed CSeq")
    phone.sendto(
        sip_request("OPTIONS", port, server.address[1], branch="z9hG4bK-t2"), server.address
    )
    assert server.receive(phone).status == 200  # type: ignore[union-attr]


def test_call_layer_hangup_through_command_sends_bye(server: Server, phone: socket.socket) -> None:
    port = phone.getsockname()[1]
    phone.sendto(
        sip_request("INVITE", port, server.address[1], body=OFFER.decode()), server.address
    )
    server.receive(phone)
    ok = server.receive(phone)
    phone.sendto(
        sip_request("ACK", port, server.address[1], branch="z9hG4bK-a", to_tag=ok.to_tag or ""),
        server.address,
    )
    server.pump_until(lambda: any(isinstance(e, CallConfirmed) for e in server.app.events))
    call = server.app.events[0].call  # type: ignore[union-attr]
    server.transport.command(lambda ua, now: ua.hangup(call, now))
    bye = server.receive(phone)
    assert isinstance(bye, Request) and bye.method == "BYE"


def read_tcp(server: Server, sock: socket.socket, framer: StreamFramer, count: int) -> list:
    messages: list[bytes] = []
    while len(messages) < count:
        server.pump_until(lambda: select.select([sock], [], [], 0)[0])
        data = sock.recv(65535)
        assert data, "connection closed"
        messages += framer.feed(data)
    return [parse_message(m) for m in messages]


def test_tcp_call_answered_on_the_same_connection(server: Server) -> None:
    with socket.create_connection(server.address) as sock:
        port = sock.getsockname()[1]
        invite = sip_request(
            "INVITE", port, server.address[1], body=OFFER.decode(), transport="TCP"
        )
        sock.sendall(invite[:30])  # a message split over segments
        server.pump_until(lambda: server.transport.connections)
        sock.sendall(invite[30:])
        framer = StreamFramer()
        trying, ok = read_tcp(server, sock, framer, 2)
        assert (trying.status, ok.status) == (100, 200)
        assert ok.headers.get("Contact").endswith(";transport=tcp>")
        tag = ok.to_tag or ""
        ack = sip_request("ACK", port, 0, branch="z9hG4bK-a", to_tag=tag, transport="TCP")
        bye = sip_request("BYE", port, 0, branch="z9hG4bK-b", cseq="2", to_tag=tag, transport="TCP")
        sock.sendall(ack + bye)  # two messages in one segment
        (bye_ok,) = read_tcp(server, sock, framer, 1)
        assert bye_ok.status == 200 and bye_ok.cseq == (2, "BYE")


def test_tcp_connection_with_broken_framing_is_closed(server: Server) -> None:
    with socket.create_connection(server.address) as sock:
        sock.sendall(b"OPTIONS sip:x@127.0.0.1 SIP/2.0\r\nContent-Length: -5\r\n\r\n")
        server.pump_until(lambda: select.select([sock], [], [], 0)[0])
        assert sock.recv(100) == b""


needs_sipp = pytest.mark.skipif(shutil.which("sipp") is None, reason="sipp not installed")


def run_sipp(server: Server, cwd: Path, scenario: str, *options: str) -> None:
    """Run a shared sipp scenario against the server, pumping it until sipp exits; sipp's
    exit status 0 means every call succeeded."""
    command = [
        "sipp",
        f"{HOST}:{server.address[1]}",
        "-sf",
        str(SIPP_SCENARIOS / scenario),
        "-s",
        "ivr",
        "-i",
        HOST,
        "-mi",
        HOST,
        "-p",
        "0",
        "-timeout",
        "30s",
        "-nostdin",
        *options,
    ]
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        server.pump_until(lambda: process.poll() is not None, timeout=40)
    finally:
        if process.poll() is None:
            process.kill()
    errors = process.stderr.read().decode(errors="replace") if process.stderr else ""
    assert process.returncode == 0, errors


def ended_by_bye(server: Server) -> int:
    confirmed = [e for e in server.app.events if isinstance(e, CallConfirmed)]
    ended = [e.reason for e in server.app.events if isinstance(e, CallEnded)]
    assert ended == ["bye"] * len(confirmed)
    return len(ended)


@needs_sipp
def test_sipp_load_scenario_completes_every_call(server: Server, tmp_path: Path) -> None:
    run_sipp(server, tmp_path, "uac_load.xml", "-m", "5", "-d", "500")
    assert ended_by_bye(server) == 5


@needs_sipp
def test_sipp_over_tcp_completes_every_call(server: Server, tmp_path: Path) -> None:
    run_sipp(server, tmp_path, "uac_load.xml", "-t", "t1", "-m", "3", "-d", "200")
    assert ended_by_bye(server) == 3


@needs_sipp
def test_sipp_info_dtmf_reports_each_key_once(server: Server, tmp_path: Path) -> None:
    run_sipp(
        server,
        tmp_path,
        "uac_dtmf_info.xml",
        *("-key", "digits", "12*#", "-set", "pre_ms", "100", "-set", "post_ms", "100", "-m", "1"),
    )
    digits = [(e.digit, e.duration_ms) for e in server.app.events if isinstance(e, DtmfInfo)]
    assert [digit for digit, _ in digits] == ["1", "2", "*", "#"]
    assert all(duration for _, duration in digits)
    assert ended_by_bye(server) == 1


def test_outgoing_tcp_call_opens_a_connection_and_gets_answered(server: Server) -> None:
    with socket.socket() as listener:
        listener.bind((HOST, 0))
        listener.listen(1)
        agent = f"sip:agent@{HOST}:{listener.getsockname()[1]};transport=tcp"
        call = server.transport.ua.invite(agent, OFFER, time.monotonic())
        server.transport.flush()
        server.pump_until(lambda: select.select([listener], [], [], 0)[0])
        conn, _ = listener.accept()
        with conn:
            framer = StreamFramer()
            (invite,) = read_tcp(server, conn, framer, 1)
            assert invite.method == "INVITE" and invite.call_id == call.call_id
            ok = (
                f"SIP/2.0 200 OK\r\nVia: {invite.headers.get('Via')}\r\n"
                f"From: {invite.headers.get('From')}\r\nTo: {invite.headers.get('To')};tag=ag\r\n"
                f"Call-ID: {invite.call_id}\r\nCSeq: 1 INVITE\r\n"
                f"Contact: <sip:agent@{HOST}:{listener.getsockname()[1]};transport=tcp>\r\n"
                f"Content-Type: application/sdp\r\nContent-Length: {len(OFFER)}\r\n\r\n"
            ).encode() + OFFER
            conn.sendall(ok)
            (ack,) = read_tcp(server, conn, framer, 1)
            assert ack.method == "ACK" and ack.to_tag == "ag"
    assert OutgoingAnswered(call, OFFER) in server.app.events


def test_a_failing_event_handler_costs_one_event_not_the_server(
    server: Server, phone: socket.socket
) -> None:
    def explode(event: Event) -> None:
        raise RuntimeError("bug in the call layer")

    server.transport.on_event = explode
    port = phone.getsockname()[1]
    phone.sendto(
        sip_request("INVITE", port, server.address[1], body=OFFER.decode()), server.address
    )
    assert server.receive(phone).status == 100  # type: ignore[union-attr]
    phone.sendto(
        sip_request("OPTIONS", port, server.address[1], branch="z9hG4bK-o"), server.address
    )
    assert server.receive(phone).status == 200  # type: ignore[union-attr]


class FirstTcpPortTaken(SelectReactor):
    """A reactor on which the first TCP port asked for is already in use."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: list[int] = []

    def listenTCP(self, port, factory, backlog=50, interface=""):
        if not self.refused:
            self.refused.append(port)
            raise CannotListenError(interface, port, OSError("in use"))
        return super().listenTCP(port, factory, backlog, interface)


def test_port_zero_retries_until_udp_and_tcp_share_a_port() -> None:
    reactor = FirstTcpPortTaken()
    transport = SipTransport(UserAgent(host=HOST, port=0), lambda event: None, reactor=reactor)
    transport.listen()
    try:
        assert transport.ua.port not in (0, reactor.refused[0])
        with socket.create_connection((HOST, transport.ua.port)):
            pass  # TCP listens on the port the agent advertises
    finally:
        transport.stop()
        reactor.iterate(0)


PYVOIP_DEMO = Path("/work/shared/sip-clients/pyvoip_demo.py")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@pytest.mark.skipif(not PYVOIP_DEMO.exists(), reason="shared pyVoIP caller script missing")
def test_outgoing_call_to_a_pyvoip_phone_is_answered_and_its_bye_ends_it(
    server: Server, tmp_path: Path
) -> None:
    listen_port = free_udp_port()
    answerer = subprocess.Popen(
        [
            sys.executable,
            str(PYVOIP_DEMO),
            "answer",
            *("--listen-port", str(listen_port), "--peer-port", str(server.address[1])),
            *("--timeout", "1", "--rtp-low", str(free_udp_port() & ~1)),
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    try:
        offer = sdp.build_offer(HOST, 30002, 7, 1)
        agent = f"sip:tester@{HOST}:{listen_port}"
        call = server.transport.command(lambda ua, now: ua.invite(agent, offer, now))
        server.pump_until(lambda: CallEnded(call, "bye") in server.app.events, timeout=20)
        answered = [e for e in server.app.events if isinstance(e, OutgoingAnswered)]
        assert [e.call for e in answered] == [call]
        assert sdp.parse_answer(answered[0].sdp).codec in ("PCMU", "PCMA")
        server.pump_until(lambda: answerer.poll() is not None, timeout=15)
    finally:
        if answerer.poll() is None:
            answerer.kill()
    assert json.loads(answerer.stdout.read())["calls"] == 1  # type: ignore[union-attr]
