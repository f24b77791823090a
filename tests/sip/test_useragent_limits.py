"""What a hostile or careless peer cannot make the user agent keep: state, time, memory."""

from __future__ import annotations

import pytest

from ivr.sip import useragent
from ivr.sip.events import IncomingCall
from ivr.sip.message import Response, parse_message
from ivr.sip.parser import MAX_HEADER_LINES, MAX_MESSAGE_BYTES
from ivr.sip.useragent import UserAgent
from tests.sip.sip_core_helpers import IVR, OFFER, PEER, request


def sent(ua: UserAgent, data: bytes, source=PEER, now: float = 0.0) -> list[Response]:
    ua.receive(data, source, "udp", now)
    return [parse_message(out.data) for out in ua.datagrams_to_send()]  # type: ignore[misc]


def holds_nothing(ua: UserAgent) -> bool:
    return ua.get_timer() is None and ua.next_event() is None


def invite(**fields) -> bytes:
    return request("INVITE", body=OFFER, content_type="application/sdp", **fields)


def test_options_probes_are_answered_without_a_transaction():
    ua = UserAgent(host=IVR[0], port=IVR[1])
    for n in range(50):
        (ok,) = sent(ua, request("OPTIONS", branch=f"z9hG4bK-probe-{n}", call_id=f"p{n}"))
        assert ok.status == 200
        assert "INVITE" in (ok.headers.get("Allow") or "")
    assert holds_nothing(ua)


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (request("REGISTER"), 405),
        (request("FROBNICATE"), 501),
        (request("BYE", to_tag="nobody"), 481),
        (request("MESSAGE"), 405),
        (request("INVITE", extra=("Require: 100rel-please",)), 420),
        (request("OPTIONS", extra=("Max-Forwards: 999",)), 400),
    ],
    ids=["register", "unknown-method", "bye-no-dialog", "message", "require", "max-forwards"],
)
def test_refusals_leave_no_state_behind(data, status):
    ua = UserAgent(host=IVR[0], port=IVR[1])
    (response,) = sent(ua, data)
    assert response.status == status
    assert holds_nothing(ua)


def test_an_invite_refused_by_admission_gets_503_with_retry_after_and_costs_nothing():
    asked = []

    def admission(source, now):
        asked.append((source, now))
        return 7

    ua = UserAgent(host=IVR[0], port=IVR[1], admission=admission)
    (busy,) = sent(ua, invite(), now=3.0)
    assert busy.status == 503
    assert busy.headers.get("Retry-After") == "7"
    assert busy.to_tag
    assert asked == [(PEER, 3.0)]
    assert holds_nothing(ua)


def test_an_admitted_invite_becomes_a_call():
    ua = UserAgent(host=IVR[0], port=IVR[1], admission=lambda source, now: None)
    (trying,) = sent(ua, invite())
    assert trying.status == 100
    assert isinstance(ua.next_event(), IncomingCall)


def test_in_dialog_requests_are_not_asked_about_admission():
    ua = UserAgent(host=IVR[0], port=IVR[1], admission=lambda source, now: 5)
    (response,) = sent(ua, request("BYE", to_tag="gone"))
    assert response.status == 481


def test_full_tables_refuse_new_work_with_503(monkeypatch):
    monkeypatch.setattr(useragent, "MAX_CALLS", 2)
    ua = UserAgent(host=IVR[0], port=IVR[1])
    for n in range(2):
        assert sent(ua, invite(call_id=f"c{n}", branch=f"z9hG4bK-{n}"))[0].status == 100
    (busy,) = sent(ua, invite(call_id="c9", branch="z9hG4bK-9"))
    assert (busy.status, busy.headers.get("Retry-After")) == (503, "5")
    monkeypatch.setattr(useragent, "MAX_TRANSACTIONS", 2)
    (busy,) = sent(ua, request("CANCEL", call_id="c8", branch="z9hG4bK-8"))
    assert busy.status == 503


def test_a_datagram_of_thousands_of_tiny_headers_is_refused_unread():
    flood = tuple(f"X-{n}: y" for n in range(1570))
    (response,) = sent(UserAgent(host=IVR[0], port=IVR[1]), request("OPTIONS", extra=flood))
    assert response.status == 400
    assert f"more than {MAX_HEADER_LINES} header lines" in response.reason


def test_a_message_over_the_size_limit_gets_513():
    body = b"v=0\r\n" + b"a=x\r\n" * (MAX_MESSAGE_BYTES // 5)
    data = request("INVITE", body=body, content_type="application/sdp")
    assert len(data) > MAX_MESSAGE_BYTES
    ua = UserAgent(host=IVR[0], port=IVR[1])
    (response,) = sent(ua, data)
    assert response.status == 513
    assert response.reason.startswith("Message Too Large")
    assert response.call_id == "call-1@192.0.2.10"
    assert holds_nothing(ua)


def test_a_request_with_an_empty_via_is_dropped_not_raised():
    data = request("OPTIONS").replace(
        b"Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-peer-1;rport", b"Via: "
    )
    ua = UserAgent(host=IVR[0], port=IVR[1])
    assert sent(ua, data) == []
    assert holds_nothing(ua)


def test_a_source_that_never_acks_holds_a_bounded_number_of_calls(monkeypatch):
    monkeypatch.setattr(useragent, "MAX_UNCONFIRMED_PER_SOURCE", 3)
    ua = UserAgent(host=IVR[0], port=IVR[1])
    for n in range(3):
        assert sent(ua, invite(call_id=f"s{n}", branch=f"z9hG4bK-s{n}"))[0].status == 100
        call = ua.next_event()
        ua.answer(call.call, b"", 0.0)
        ua.datagrams_to_send()
    (busy,) = sent(ua, invite(call_id="s9", branch="z9hG4bK-s9"))
    assert busy.status == 503
    other = ("192.0.2.99", 5060)
    assert sent(ua, invite(call_id="o1", branch="z9hG4bK-o1"), source=other)[0].status == 100
    ua.next_event()
    # the ACK timeout (64*T1) ends the unconfirmed calls and frees their places
    ua.handle_timer(40.0)
    ua.datagrams_to_send()
    assert sent(ua, invite(call_id="s10", branch="z9hG4bK-s10"), now=40.0)[0].status == 100


def test_acked_calls_do_not_count_against_their_source(monkeypatch):
    monkeypatch.setattr(useragent, "MAX_UNCONFIRMED_PER_SOURCE", 2)
    ua = UserAgent(host=IVR[0], port=IVR[1])
    for n in range(5):
        sent(ua, invite(call_id=f"a{n}", branch=f"z9hG4bK-a{n}"))
        call = ua.next_event()
        ua.answer(call.call, b"", 0.0)
        (ok,) = [parse_message(o.data) for o in ua.datagrams_to_send()]
        ack = request("ACK", call_id=f"a{n}", branch=f"z9hG4bK-ack{n}", to_tag=ok.to_tag)
        assert sent(ua, ack) == []
        ua.next_event()
    assert sent(ua, invite(call_id="a9", branch="z9hG4bK-a9"))[0].status == 100


def test_a_stray_angle_bracket_in_one_via_does_not_swallow_the_others():
    data = request(
        "OPTIONS", branch="<z9hG4bK-odd", extra=("Via: SIP/2.0/UDP 192.0.2.77;branch=z9hG4bK-2",)
    )
    (ok,) = sent(UserAgent(host=IVR[0], port=IVR[1]), data)
    assert ok.status == 200
    assert len(ok.headers.get_all("Via")) == 2


def test_a_message_the_gate_refuses_is_not_parsed_or_answered(monkeypatch):
    parsed = []
    monkeypatch.setattr(useragent, "parse_message", lambda data: parsed.append(data))
    ua = UserAgent(host=IVR[0], port=IVR[1], message_gate=lambda source, now: False)
    assert sent(ua, request("OPTIONS")) == []
    assert parsed == []
