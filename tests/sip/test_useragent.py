"""The user agent core as a phone sees it: bytes in, bytes and events out, a fake clock."""

from __future__ import annotations

import pytest

from ivr.sip.events import (
    CallCancelled,
    CallConfirmed,
    CallEnded,
    DtmfInfo,
    IncomingCall,
    RegisterReceived,
    Reinvite,
)
from ivr.sip.message import Request, Response, parse_message
from ivr.sip.transaction import T1, Outgoing
from ivr.sip.uri import Via
from ivr.sip.useragent import CallStateError, UserAgent, parse_dtmf_info
from tests.sip.sip_core_helpers import IVR, OFFER, PEER, methods, parsed, request, statuses

SDP = "application/sdp"

ANSWER = (
    b"v=0\r\no=- 2 2 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n"
    b"m=audio 20000 RTP/AVP 0\r\n"
)


class Phone:
    """Drives a UserAgent from one peer address, collecting what it sends and reports."""

    def __init__(self, ua: UserAgent, source=PEER, transport: str = "udp") -> None:
        self.ua, self.source, self.transport = ua, source, transport

    def send(self, data: bytes, now: float = 0.0) -> list[Outgoing]:
        self.ua.receive(data, self.source, self.transport, now)
        return self.ua.datagrams_to_send()

    def events(self) -> list:
        found = []
        while (event := self.ua.next_event()) is not None:
            found.append(event)
        return found

    def call(self, now: float = 0.0, **fields) -> IncomingCall:
        """Send an INVITE; the IncomingCall it produced."""
        self.send(request("INVITE", body=OFFER, content_type="application/sdp", **fields), now)
        (event,) = self.events()
        assert isinstance(event, IncomingCall)
        return event

    def answered_call(self, now: float = 0.0) -> tuple[IncomingCall, str]:
        """An answered and acknowledged call; (IncomingCall, our to-tag)."""
        incoming = self.call(now)
        self.ua.answer(incoming.call, ANSWER, now)
        (ok,) = parsed(self.ua.datagrams_to_send())
        tag = ok.to_tag
        self.send(request("ACK", branch="z9hG4bK-ack-1", to_tag=tag), now)
        assert self.events() == [CallConfirmed(incoming.call)]
        return incoming, tag


@pytest.fixture
def ua() -> UserAgent:
    return UserAgent(host=IVR[0], port=IVR[1])


@pytest.fixture
def phone(ua: UserAgent) -> Phone:
    return Phone(ua)


def only(outgoing: list[Outgoing]) -> Request | Response:
    (message,) = parsed(outgoing)
    return message


# ---------------------------------------------------------------- incoming calls


def test_invite_gets_100_trying_at_once_and_becomes_an_incoming_call(phone: Phone) -> None:
    sent = phone.send(request("INVITE", body=OFFER, content_type="application/sdp"))
    assert statuses(sent) == [100]
    assert sent[0].destination == PEER and sent[0].transport == "udp"
    (event,) = phone.events()
    assert isinstance(event, IncomingCall)
    assert event.sdp == OFFER and event.request.method == "INVITE"
    assert event.call.call_id == "call-1@192.0.2.10"


def test_answer_sends_200_with_sdp_contact_and_tag_retransmitted_until_ack(
    ua: UserAgent, phone: Phone
) -> None:
    incoming = phone.call()
    ua.answer(incoming.call, ANSWER, now=0.0)
    ok = only(ua.datagrams_to_send())
    assert isinstance(ok, Response) and ok.status == 200
    assert ok.body == ANSWER and ok.headers.get("Content-Type") == "application/sdp"
    assert ok.to_tag and ok.headers.get("Contact") == "<sip:ivr@192.0.2.1:5060>"
    assert "INFO" in (ok.headers.get("Allow") or "")
    assert ua.get_timer() == T1
    ua.handle_timer(0.5)
    ua.handle_timer(1.5)
    assert statuses(ua.datagrams_to_send()) == [200, 200]
    phone.send(request("ACK", branch="z9hG4bK-ack", to_tag=ok.to_tag), now=2.0)
    assert phone.events() == [CallConfirmed(incoming.call)]
    ua.handle_timer(3.5)
    assert ua.datagrams_to_send() == []


def test_an_invite_without_sdp_is_answered_with_our_offer_and_the_ack_carries_the_answer(
    ua: UserAgent, phone: Phone
) -> None:
    phone.send(request("INVITE"))
    (incoming,) = phone.events()
    assert isinstance(incoming, IncomingCall) and incoming.sdp == b""
    ua.answer(incoming.call, OFFER, now=0.0)  # our offer rides in the 200
    ok = only(ua.datagrams_to_send())
    assert isinstance(ok, Response) and ok.body == OFFER
    ack = request("ACK", branch="z9hG4bK-ack", to_tag=ok.to_tag, body=ANSWER, content_type=SDP)
    phone.send(ack, now=0.1)
    assert phone.events() == [CallConfirmed(incoming.call, ANSWER)]


def test_invite_retransmitted_after_200_resends_it_and_makes_no_second_call(
    ua: UserAgent, phone: Phone
) -> None:
    incoming = phone.call()
    ua.answer(incoming.call, ANSWER, now=0.0)
    ua.datagrams_to_send()
    again = phone.send(request("INVITE", body=OFFER, content_type="application/sdp"), now=0.3)
    assert statuses(again) == [200]
    assert phone.events() == []


def test_missing_ack_ends_the_call_with_bye_after_64_t1(ua: UserAgent, phone: Phone) -> None:
    incoming = phone.call()
    ua.answer(incoming.call, ANSWER, now=0.0)
    ua.datagrams_to_send()
    while (deadline := ua.get_timer()) is not None and deadline <= 64 * T1:
        ua.handle_timer(deadline)
    sent = ua.datagrams_to_send()
    assert methods(sent) == ["BYE"]
    assert statuses(sent) == [200] * 10  # the 2xx retransmissions at 0.5 ... 31.5 s
    assert phone.events() == [CallEnded(incoming.call, "ack-timeout")]


def test_cancel_gets_200_and_the_invite_487(ua: UserAgent, phone: Phone) -> None:
    incoming = phone.call()
    sent = phone.send(request("CANCEL"), now=1.0)
    replies = {m.cseq[1]: m.status for m in parsed(sent)}
    assert replies == {"CANCEL": 200, "INVITE": 487}
    assert phone.events() == [CallCancelled(incoming.call)]
    ua.answer(incoming.call, ANSWER, now=1.1)  # too late: ignored, nothing sent
    assert ua.datagrams_to_send() == []
    tag = parsed(sent)[0].to_tag
    assert phone.send(request("ACK", to_tag=tag), now=1.2) == []  # ACK for the 487 absorbed


def test_cancel_for_an_unknown_invite_gets_481(phone: Phone) -> None:
    assert statuses(phone.send(request("CANCEL"))) == [481]


def test_bye_from_the_caller_gets_200_and_ends_the_call(phone: Phone) -> None:
    incoming, tag = phone.answered_call()
    sent = phone.send(request("BYE", branch="z9hG4bK-bye", cseq=2, to_tag=tag), now=5.0)
    assert statuses(sent) == [200]
    assert phone.events() == [CallEnded(incoming.call, "bye")]
    again = phone.send(request("BYE", branch="z9hG4bK-bye", cseq=2, to_tag=tag), now=5.5)
    assert statuses(again) == [200]  # retransmission answered by the transaction
    assert phone.events() == []


def test_hangup_sends_bye_in_the_dialog(ua: UserAgent, phone: Phone) -> None:
    incoming, tag = phone.answered_call()
    ua.hangup(incoming.call, now=3.0)
    (out,) = ua.datagrams_to_send()
    bye = parse_message(out.data)
    assert isinstance(bye, Request) and bye.method == "BYE"
    assert out.destination == PEER
    assert bye.uri == "sip:caller@192.0.2.10:5062"  # the caller's Contact
    assert bye.from_tag == tag and bye.to_tag == "peer-tag"
    assert bye.call_id == incoming.call.call_id and bye.cseq == (1, "BYE")
    assert phone.events() == [CallEnded(incoming.call, "bye-sent")]
    ua.handle_timer(3.5)
    assert methods(ua.datagrams_to_send()) == ["BYE"]  # Timer E
    ok = f"SIP/2.0 200 OK\r\nVia: {bye.headers.get('Via')}\r\nFrom: {bye.headers.get('From')}\r\n"
    ok += f"To: {bye.headers.get('To')}\r\nCall-ID: {bye.call_id}\r\nCSeq: 1 BYE\r\n"
    ok += "Content-Length: 0\r\n\r\n"
    assert phone.send(ok.encode(), now=3.6) == []
    ua.handle_timer(20.0)
    assert ua.datagrams_to_send() == [] and phone.events() == []


def test_hangup_before_the_ack_waits_for_it_then_sends_bye(ua: UserAgent, phone: Phone) -> None:
    incoming = phone.call()
    ua.answer(incoming.call, ANSWER, now=0.0)
    tag = only(ua.datagrams_to_send()).to_tag
    ua.hangup(incoming.call, now=0.1)
    assert ua.datagrams_to_send() == []
    assert phone.events() == [CallEnded(incoming.call, "bye-sent")]
    sent = phone.send(request("ACK", branch="z9hG4bK-ack", to_tag=tag), now=0.2)
    assert methods(sent) == ["BYE"]
    assert phone.events() == []


def test_ringing_sends_180_with_tag_and_contact(ua: UserAgent, phone: Phone) -> None:
    incoming = phone.call()
    ua.ringing(incoming.call, now=0.0)
    ringing = only(ua.datagrams_to_send())
    assert ringing.status == 180 and ringing.to_tag == incoming.call.local_tag
    assert ringing.headers.get("Contact")


def test_reject_sends_final_and_ends_the_call(ua: UserAgent, phone: Phone) -> None:
    incoming = phone.call()
    ua.reject(incoming.call, 486, now=0.0)
    assert statuses(ua.datagrams_to_send()) == [486]
    assert phone.events() == [CallEnded(incoming.call, "rejected")]
    ua.handle_timer(0.5)
    assert statuses(ua.datagrams_to_send()) == [486]  # Timer G until the ACK
    with pytest.raises(ValueError):
        ua.reject(incoming.call, 200, now=0.6)


def test_hangup_of_an_unanswered_incoming_call_refuses_it_with_480(
    ua: UserAgent, phone: Phone
) -> None:
    incoming = phone.call()
    ua.hangup(incoming.call, now=0.0)
    assert statuses(ua.datagrams_to_send()) == [480]
    assert phone.events() == [CallEnded(incoming.call, "rejected")]


def test_answering_twice_is_a_call_layer_bug(ua: UserAgent, phone: Phone) -> None:
    incoming = phone.call()
    ua.answer(incoming.call, ANSWER, now=0.0)
    with pytest.raises(CallStateError):
        ua.answer(incoming.call, ANSWER, now=0.1)


# ---------------------------------------------------------------- other requests


def test_options_answered_200_with_allow_and_accept(phone: Phone) -> None:
    ok = only(phone.send(request("OPTIONS")))
    assert ok.status == 200 and ok.to_tag
    assert ok.headers.get("Allow") == "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO"
    assert "application/sdp" in (ok.headers.get("Accept") or "")


def test_a_draining_agent_answers_options_503_so_a_dispatcher_stops_sending_calls(
    ua: UserAgent, phone: Phone
) -> None:
    _, tag = phone.answered_call()
    ua.draining = True
    assert only(phone.send(request("OPTIONS", branch="z9hG4bK-probe", call_id="p"))).status == 503
    keepalive = request("OPTIONS", branch="z9hG4bK-keepalive", cseq=2, to_tag=tag)
    assert only(phone.send(keepalive)).status == 200  # the call in progress carries on


def test_record_route_of_the_invite_comes_back_in_the_200_and_routes_our_bye(
    ua: UserAgent, phone: Phone
) -> None:
    routes = ("Record-Route: <sip:192.0.2.50;lr;ftag=x>", "Record-Route: <sip:192.0.2.51;lr>")
    incoming = phone.call(extra=routes)
    ua.answer(incoming.call, ANSWER, now=0.0)
    ok = only(ua.datagrams_to_send())
    assert ok.headers.get_all("Record-Route") == [
        "<sip:192.0.2.50;lr;ftag=x>",
        "<sip:192.0.2.51;lr>",
    ]
    phone.send(request("ACK", branch="z9hG4bK-ack", to_tag=ok.to_tag), now=0.1)
    ua.hangup(incoming.call, now=1.0)
    (out,) = ua.datagrams_to_send()
    bye = parse_message(out.data)
    assert bye.headers.get_all("Route") == ["<sip:192.0.2.50;lr;ftag=x>", "<sip:192.0.2.51;lr>"]
    assert out.destination == PEER  # back the way the INVITE came: the proxy


@pytest.mark.parametrize("method", ["REGISTER", "SUBSCRIBE", "NOTIFY", "REFER", "MESSAGE"])
def test_known_unsupported_methods_get_405_with_allow(phone: Phone, method: str) -> None:
    refusal = only(phone.send(request(method)))
    assert refusal.status == 405 and "INVITE" in (refusal.headers.get("Allow") or "")


def test_unknown_method_gets_501(phone: Phone) -> None:
    assert statuses(phone.send(request("FROBNICATE"))) == [501]


@pytest.mark.parametrize(
    ("method", "to_tag"), [("BYE", "nope"), ("INFO", "nope"), ("INVITE", "nope"), ("BYE", None)]
)
def test_requests_for_unknown_dialogs_get_481(phone: Phone, method: str, to_tag) -> None:
    assert statuses(phone.send(request(method, to_tag=to_tag))) == [481]


def test_wrong_call_id_in_a_known_dialog_gets_481(phone: Phone) -> None:
    _, tag = phone.answered_call()
    bye = request("BYE", call_id="other@192.0.2.10", cseq=2, to_tag=tag)
    assert statuses(phone.send(bye)) == [481]


def test_max_forwards_zero_is_processed_by_an_endpoint(phone: Phone) -> None:
    invite = request("INVITE", body=OFFER, content_type="application/sdp")
    sent = phone.send(invite.replace(b"Max-Forwards: 70", b"Max-Forwards: 0"))
    assert statuses(sent) == [100]
    assert [type(event) for event in phone.events()] == [IncomingCall]


def test_unsupported_require_gets_420(phone: Phone) -> None:
    refusal = only(phone.send(request("INVITE", extra=("Require: 100rel",))))
    assert refusal.status == 420 and refusal.headers.get("Unsupported") == "100rel"
    assert phone.events() == []


def test_lower_cseq_in_a_dialog_gets_500(phone: Phone) -> None:
    _, tag = phone.answered_call()
    phone.send(request("INFO", branch="z9hG4bK-i5", cseq=5, to_tag=tag))
    assert statuses(phone.send(request("INFO", branch="z9hG4bK-i3", cseq=3, to_tag=tag))) == [500]


# ---------------------------------------------------------------- NAT and transports


def test_responses_go_to_the_source_and_via_gets_received_and_rport(ua: UserAgent) -> None:
    behind_nat = Phone(ua, source=("198.51.100.7", 40123))
    out = behind_nat.send(request("OPTIONS", via_host="10.0.0.5", via_port=5060))
    assert out[0].destination == ("198.51.100.7", 40123)
    via = parse_message(out[0].data).top_via
    assert via.params["received"] == "198.51.100.7" and via.params["rport"] == "40123"


def test_via_gets_received_without_rport_when_sent_by_differs(ua: UserAgent) -> None:
    behind_nat = Phone(ua, source=("198.51.100.7", 5060))
    out = behind_nat.send(request("OPTIONS", via_host="10.0.0.5", via_port=5060, rport=False))
    via = parse_message(out[0].data).top_via
    assert via.params == {"branch": "z9hG4bK-peer-1", "received": "198.51.100.7"}


def test_via_is_left_alone_when_sent_by_matches_and_no_rport(phone: Phone) -> None:
    out = phone.send(request("OPTIONS", rport=False))
    assert Via.parse(parse_message(out[0].data).headers.get_all("Via")[0]).params == {
        "branch": "z9hG4bK-peer-1"
    }


def test_tcp_responses_and_bye_go_back_on_the_same_connection(ua: UserAgent) -> None:
    tcp = Phone(ua, source=("192.0.2.10", 51000), transport="tcp")
    out = tcp.send(request("INVITE", body=OFFER, content_type="application/sdp", transport="TCP"))
    assert [(o.destination, o.transport) for o in out] == [(("192.0.2.10", 51000), "tcp")]
    (incoming,) = tcp.events()
    ua.answer(incoming.call, ANSWER, now=0.0)
    ok = only(ua.datagrams_to_send())
    assert ok.headers.get("Contact") == "<sip:ivr@192.0.2.1:5060;transport=tcp>"
    tcp.send(request("ACK", branch="z9hG4bK-a", to_tag=ok.to_tag, transport="TCP"))
    ua.hangup(incoming.call, now=1.0)
    (bye,) = ua.datagrams_to_send()
    assert (bye.destination, bye.transport) == (("192.0.2.10", 51000), "tcp")
    assert parse_message(bye.data).top_via.transport == "TCP"


# ---------------------------------------------------------------- malformed input


def test_garbage_is_dropped_and_the_agent_carries_on(phone: Phone) -> None:
    assert phone.send(b"\x00\x01 hello \xff\r\n\r\n") == []
    assert phone.send(b"\r\n\r\n") == []  # keep-alive
    assert statuses(phone.send(request("OPTIONS"))) == [200]


def test_malformed_request_gets_400_with_the_reason_at_the_source(phone: Phone) -> None:
    broken = request("OPTIONS").replace(b"CSeq: 1 OPTIONS", b"CSeq: one OPTIONS")
    (out,) = phone.send(broken)
    status_line = out.data.split(b"\r\n")[0]
    assert status_line == b"SIP/2.0 400 Bad Request (malformed CSeq 'one OPTIONS')"
    assert b"\r\nCall-ID: call-1@192.0.2.10\r\n" in out.data and out.destination == PEER


def test_malformed_ack_is_never_answered(phone: Phone) -> None:
    broken = request("ACK", to_tag="t").replace(b"CSeq: 1 ACK", b"CSeq: x ACK")
    assert phone.send(broken) == []


# ---------------------------------------------------------------- re-INVITE and INFO


def test_reinvite_is_reported_and_answered_in_the_dialog(ua: UserAgent, phone: Phone) -> None:
    incoming, tag = phone.answered_call()
    hold = OFFER.replace(b"a=fmtp:101 0-16\r\n", b"a=fmtp:101 0-16\r\na=sendonly\r\n")
    reinvite = request(
        "INVITE", branch="z9hG4bK-re", cseq=2, to_tag=tag, body=hold, content_type="application/sdp"
    )
    assert statuses(phone.send(reinvite, now=4.0)) == [100]
    assert phone.events() == [Reinvite(incoming.call, hold)]
    ua.answer_reinvite(incoming.call, ANSWER, now=4.1)
    ok = only(ua.datagrams_to_send())
    assert ok.status == 200 and ok.body == ANSWER and ok.cseq == (2, "INVITE")
    assert ok.to_tag == tag
    phone.send(request("ACK", branch="z9hG4bK-re-ack", cseq=2, to_tag=tag), now=4.2)
    assert phone.events() == [CallConfirmed(incoming.call)]  # the ACK of the re-INVITE's 200
    phone.send(request("ACK", branch="z9hG4bK-re-ack", cseq=2, to_tag=tag), now=4.3)
    ua.handle_timer(40.0)
    assert methods(ua.datagrams_to_send()) == []  # ACKed: no retransmission, no BYE
    assert phone.events() == []  # a retransmitted ACK is not reported again


def test_reinvite_while_one_is_pending_gets_500_with_retry_after(phone: Phone) -> None:
    _, tag = phone.answered_call()
    phone.send(
        request("INVITE", branch="z9hG4bK-r1", cseq=2, to_tag=tag, body=OFFER, content_type=SDP)
    )
    phone.events()
    refusal = only(phone.send(request("INVITE", branch="z9hG4bK-r2", cseq=3, to_tag=tag)))
    assert refusal.status == 500 and refusal.headers.get("Retry-After")


def test_reinvite_before_our_2xx_is_acked_gets_491(ua: UserAgent, phone: Phone) -> None:
    incoming = phone.call()
    ua.answer(incoming.call, ANSWER, now=0.0)
    tag = only(ua.datagrams_to_send()).to_tag
    refusal = phone.send(
        request("INVITE", branch="z9hG4bK-r", cseq=2, to_tag=tag, body=OFFER, content_type=SDP)
    )
    assert statuses(refusal) == [491]


def test_rejected_reinvite_keeps_the_call(ua: UserAgent, phone: Phone) -> None:
    incoming, tag = phone.answered_call()
    phone.send(
        request("INVITE", branch="z9hG4bK-r", cseq=2, to_tag=tag, body=OFFER, content_type=SDP)
    )
    phone.events()
    ua.reject_reinvite(incoming.call, 488, now=1.0)
    assert statuses(ua.datagrams_to_send()) == [488]
    bye = phone.send(request("BYE", branch="z9hG4bK-b", cseq=3, to_tag=tag))
    assert statuses(bye) == [200]
    assert phone.events() == [CallEnded(incoming.call, "bye")]


def test_cancel_of_a_reinvite_gets_487_and_later_answer_is_ignored(
    ua: UserAgent, phone: Phone
) -> None:
    incoming, tag = phone.answered_call()
    phone.send(
        request("INVITE", branch="z9hG4bK-r", cseq=2, to_tag=tag, body=OFFER, content_type=SDP)
    )
    phone.events()
    sent = phone.send(request("CANCEL", branch="z9hG4bK-r", cseq=2, to_tag=tag))
    assert sorted(statuses(sent)) == [200, 487]
    ua.answer_reinvite(incoming.call, ANSWER, now=1.0)
    assert ua.datagrams_to_send() == []


@pytest.mark.parametrize(
    ("content_type", "body", "digit", "duration"),
    [
        ("application/dtmf-relay", b"Signal=1\r\nDuration=160\r\n", "1", 160),
        ("application/dtmf-relay", b"Signal=*\r\nDuration=100", "*", 100),
        ("application/dtmf-relay", b"signal = #\r\n", "#", None),
        ("application/dtmf-relay", b"Signal=10\r\nDuration=250\r\n", "*", 250),
        ("application/dtmf", b"5", "5", None),
        ("Application/DTMF; charset=us-ascii", b"11\r\n", "#", None),
    ],
)
def test_info_dtmf_becomes_an_event_and_gets_200(
    phone: Phone, content_type: str, body: bytes, digit: str, duration
) -> None:
    incoming, tag = phone.answered_call()
    info = request(
        "INFO", branch="z9hG4bK-info", cseq=2, to_tag=tag, body=body, content_type=content_type
    )
    assert statuses(phone.send(info)) == [200]
    assert phone.events() == [DtmfInfo(incoming.call, digit, duration)]


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        (None, b"", 200),
        ("application/dtmf-relay", b"Signal=Z\r\n", 400),
        ("application/dtmf-relay", b"Duration=160\r\n", 400),
        ("application/media_control+xml", b"<media_control/>", 415),
    ],
)
def test_other_info_gets_its_status_and_no_event(
    phone: Phone, content_type, body: bytes, status: int
) -> None:
    _, tag = phone.answered_call()
    info = request(
        "INFO", branch="z9hG4bK-info", cseq=2, to_tag=tag, body=body, content_type=content_type
    )
    reply = only(phone.send(info))
    assert reply.status == status
    if status == 415:
        assert "application/dtmf-relay" in (reply.headers.get("Accept") or "")
    assert phone.events() == []


def test_dtmf_info_parser_refuses_what_is_not_a_key() -> None:
    assert parse_dtmf_info("application/dtmf", b"16") is None
    assert parse_dtmf_info("application/dtmf", b"12") == ("A", None)
    assert parse_dtmf_info("application/dtmf", b"") is None


def test_same_invite_by_another_branch_is_a_merged_request_482(phone: Phone) -> None:
    phone.call()
    copy = request("INVITE", branch="z9hG4bK-other-path", body=OFFER, content_type=SDP)
    assert statuses(phone.send(copy, now=0.1)) == [482]
    assert phone.events() == []


def test_finished_calls_leave_no_transaction_or_timer_behind(ua: UserAgent, phone: Phone) -> None:
    incoming, tag = phone.answered_call()
    phone.send(request("OPTIONS", branch="z9hG4bK-o", cseq=2, to_tag=tag), now=1.0)
    ua.hangup(incoming.call, now=2.0)
    (bye,) = parsed(ua.datagrams_to_send())
    ok = (
        f"SIP/2.0 200 OK\r\nVia: {bye.headers.get('Via')}\r\nFrom: {bye.headers.get('From')}\r\n"
        f"To: {bye.headers.get('To')}\r\nCall-ID: {bye.call_id}\r\nCSeq: 1 BYE\r\n\r\n"
    )
    phone.send(ok.encode(), now=2.1)
    while (deadline := ua.get_timer()) is not None:
        ua.handle_timer(deadline)
    assert ua.get_timer() is None and ua.datagrams_to_send() == []
    assert phone.events() == [CallEnded(incoming.call, "bye-sent")]


def test_retransmitted_info_reports_its_key_once(phone: Phone) -> None:
    incoming, tag = phone.answered_call()
    info = request(
        "INFO",
        branch="z9hG4bK-info",
        cseq=2,
        to_tag=tag,
        body=b"Signal=7\r\nDuration=160\r\n",
        content_type="application/dtmf-relay",
    )
    assert statuses(phone.send(info, now=1.0)) == [200]
    assert statuses(phone.send(info, now=1.5)) == [200]  # the same 200 again
    assert phone.events() == [DtmfInfo(incoming.call, "7", 160)]


def test_unacknowledged_reinvite_answer_ends_the_call_with_bye(ua: UserAgent, phone: Phone) -> None:
    incoming, tag = phone.answered_call()
    phone.send(
        request("INVITE", branch="z9hG4bK-r", cseq=2, to_tag=tag, body=OFFER, content_type=SDP)
    )
    phone.events()
    ua.answer_reinvite(incoming.call, ANSWER, now=0.0)
    while (deadline := ua.get_timer()) is not None and deadline <= 64 * T1:
        ua.handle_timer(deadline)
    assert methods(ua.datagrams_to_send()) == ["BYE"]
    assert phone.events() == [CallEnded(incoming.call, "ack-timeout")]


def test_bye_before_the_ack_stops_the_200_retransmissions(ua: UserAgent, phone: Phone) -> None:
    incoming = phone.call()
    ua.answer(incoming.call, ANSWER, now=0.0)
    tag = only(ua.datagrams_to_send()).to_tag
    phone.send(request("BYE", branch="z9hG4bK-b", cseq=2, to_tag=tag), now=0.1)
    assert phone.events() == [CallEnded(incoming.call, "bye")]
    while (deadline := ua.get_timer()) is not None:
        ua.handle_timer(deadline)
    assert ua.datagrams_to_send() == [] and phone.events() == []


def test_registrar_ua_passes_register_up_and_sends_the_answer_once() -> None:
    ua = UserAgent(host=IVR[0], port=IVR[1], registrar=True)
    phone = Phone(ua)
    assert phone.send(request("REGISTER")) == []
    (event,) = phone.events()
    assert isinstance(event, RegisterReceived) and event.source == PEER
    ua.respond(event.handle, 401, 0.0, headers=(("WWW-Authenticate", 'Digest realm="r"'),))
    challenge = only(ua.datagrams_to_send())
    assert challenge.status == 401
    assert challenge.headers.get("WWW-Authenticate") == 'Digest realm="r"'
    retransmitted = only(phone.send(request("REGISTER"), now=T1))
    assert retransmitted.status == 401 and phone.events() == []
    ua.respond(event.handle, 200, 0.0)  # answered already: nothing more goes out
    assert ua.datagrams_to_send() == []
