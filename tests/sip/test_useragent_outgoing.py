"""Calls the IVR places (agents' phones): INVITE, ACK for 2xx, CANCEL, BYE, with a fake clock."""

from __future__ import annotations

import pytest

from ivr.sip.events import (
    CallEnded,
    OutgoingAnswered,
    OutgoingFailed,
    OutgoingRinging,
    Referred,
)
from ivr.sip.message import Request, parse_message
from ivr.sip.transaction import T1, Outgoing
from ivr.sip.useragent import UserAgent
from tests.sip.sip_core_helpers import IVR, OFFER, PEER, methods, request, response_to, statuses

AGENT = "sip:agent@192.0.2.10:5062"
ANSWER = b"v=0\r\no=- 9 9 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"


@pytest.fixture
def ua() -> UserAgent:
    return UserAgent(host=IVR[0], port=IVR[1])


def sent_requests(ua: UserAgent) -> list[tuple[Request, Outgoing]]:
    found = []
    for item in ua.datagrams_to_send():
        message = parse_message(item.data)
        assert isinstance(message, Request)
        found.append((message, item))
    return found


def events(ua: UserAgent) -> list:
    found = []
    while (event := ua.next_event()) is not None:
        found.append(event)
    return found


def place_call(ua: UserAgent, headers: dict[str, str] | None = None):
    call = ua.invite(AGENT, OFFER, now=0.0, from_user="12333", headers=headers)
    ((invite, out),) = sent_requests(ua)
    return call, invite, out


def test_invite_goes_to_the_target_with_sdp_and_our_identity(ua: UserAgent) -> None:
    call, invite, out = place_call(ua, headers={"X-IVR-Case": "42"})
    assert out.destination == PEER and out.transport == "udp"
    assert invite.uri == AGENT and invite.body == OFFER
    assert invite.headers.get("Content-Type") == "application/sdp"
    assert invite.headers.get("X-IVR-Case") == "42"
    assert invite.from_tag == call.local_tag and invite.call_id == call.call_id
    assert invite.headers.get("From").startswith("<sip:12333@192.0.2.1:5060>")
    assert invite.cseq == (1, "INVITE") and "rport" in invite.top_via.params


def test_tcp_target_is_called_over_tcp(ua: UserAgent) -> None:
    ua.invite("sip:agent@192.0.2.10;transport=tcp", OFFER, now=0.0)
    ((invite, out),) = sent_requests(ua)
    assert out.transport == "tcp" and out.destination == ("192.0.2.10", 5060)
    assert invite.top_via.transport == "TCP"


def test_ringing_then_answer_acks_and_reports(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.receive(response_to(invite, 100), PEER, "udp", 0.1)
    assert events(ua) == []  # 100 is hop-by-hop, not ringing
    ua.receive(response_to(invite, 180), PEER, "udp", 0.2)
    ua.receive(response_to(invite, 183), PEER, "udp", 0.3)
    assert events(ua) == [OutgoingRinging(call)]
    ok = response_to(invite, 200, body=ANSWER, extra=("Record-Route: <sip:p1;lr>, <sip:p2;lr>",))
    ua.receive(ok, PEER, "udp", 1.0)
    ((ack, out),) = sent_requests(ua)
    assert ack.method == "ACK" and ack.cseq == (1, "ACK")
    assert ack.top_via.branch != invite.top_via.branch  # the 2xx ACK is its own transaction
    assert ack.uri == "sip:agent@192.0.2.10:5062" and ack.to_tag == "far-tag"
    assert ack.headers.get_all("Route") == ["<sip:p2;lr>", "<sip:p1;lr>"]
    assert out.destination == PEER
    assert events(ua) == [OutgoingAnswered(call, ANSWER)]
    ua.receive(ok, PEER, "udp", 1.5)  # our ACK was lost: the 2xx comes again
    assert methods(ua.datagrams_to_send()) == ["ACK"]
    assert events(ua) == []


def test_unanswered_invite_fails_with_408_after_timer_b(ua: UserAgent) -> None:
    call, _, _ = place_call(ua)
    while (deadline := ua.get_timer()) is not None:
        ua.handle_timer(deadline)
    assert methods(ua.datagrams_to_send()) == ["INVITE"] * 6  # Timer A at 0.5 ... 15.5 s
    assert events(ua) == [OutgoingFailed(call, 408, "Request Timeout")]


def test_busy_fails_the_call_and_is_acked(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.receive(response_to(invite, 486, "Busy Here"), PEER, "udp", 0.5)
    assert methods(ua.datagrams_to_send()) == ["ACK"]
    assert events(ua) == [OutgoingFailed(call, 486, "Busy Here")]


def test_hangup_while_ringing_cancels_then_acks_the_487(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.receive(response_to(invite, 180), PEER, "udp", 0.1)
    events(ua)
    ua.hangup(call, now=2.0)
    ((cancel, _),) = sent_requests(ua)
    assert cancel.method == "CANCEL" and cancel.cseq == (1, "CANCEL")
    assert cancel.top_via.branch == invite.top_via.branch and cancel.uri == invite.uri
    assert events(ua) == [CallEnded(call, "cancelled")]
    ua.receive(response_to(cancel, 200), PEER, "udp", 2.1)
    ua.receive(response_to(invite, 487), PEER, "udp", 2.2)
    assert methods(ua.datagrams_to_send()) == ["ACK"]
    assert events(ua) == []


def test_cancel_waits_for_a_provisional_response(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.hangup(call, now=0.1)
    assert ua.datagrams_to_send() == []
    ua.receive(response_to(invite, 100), PEER, "udp", 0.2)
    assert methods(ua.datagrams_to_send()) == ["CANCEL"]


def test_2xx_crossing_our_cancel_is_acked_and_ended_with_bye(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.receive(response_to(invite, 180), PEER, "udp", 0.1)
    ua.hangup(call, now=1.0)
    ua.datagrams_to_send()
    ua.receive(response_to(invite, 200, body=ANSWER), PEER, "udp", 1.1)
    assert methods(ua.datagrams_to_send()) == ["ACK", "BYE"]
    assert events(ua) == [OutgoingRinging(call), CallEnded(call, "cancelled")]


def test_hangup_of_an_answered_call_sends_bye_with_the_next_cseq(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.receive(response_to(invite, 200, body=ANSWER), PEER, "udp", 1.0)
    ua.datagrams_to_send()
    events(ua)
    ua.hangup(call, now=5.0)
    ((bye, out),) = sent_requests(ua)
    assert bye.cseq == (2, "BYE") and bye.to_tag == "far-tag" and bye.from_tag == call.local_tag
    assert out.destination == PEER
    assert events(ua) == [CallEnded(call, "bye-sent")]


def test_bye_from_the_agent_ends_the_call(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.receive(response_to(invite, 200, body=ANSWER), PEER, "udp", 1.0)
    ua.datagrams_to_send()
    events(ua)
    bye = request(
        "BYE",
        call_id=call.call_id,
        from_tag="far-tag",
        to_tag=call.local_tag,
        branch="z9hG4bK-agent-bye",
    )
    ua.receive(bye, PEER, "udp", 9.0)
    assert statuses(ua.datagrams_to_send()) == [200]
    assert events(ua) == [CallEnded(call, "bye")]


def test_invite_retransmissions_stop_at_the_first_response(ua: UserAgent) -> None:
    _, invite, _ = place_call(ua)
    ua.handle_timer(T1)
    ua.receive(response_to(invite, 100), PEER, "udp", 0.6)
    assert ua.get_timer() is None
    assert methods(ua.datagrams_to_send()) == ["INVITE"]


def test_cancelled_call_without_final_response_is_dropped_after_64_t1(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.receive(response_to(invite, 180), PEER, "udp", 0.1)
    ua.hangup(call, now=1.0)
    ((cancel, _),) = sent_requests(ua)
    ua.receive(response_to(cancel, 200), PEER, "udp", 1.1)
    while (deadline := ua.get_timer()) is not None:
        ua.handle_timer(deadline)
    assert deadline is None and ua.datagrams_to_send() == []
    assert events(ua) == [OutgoingRinging(call), CallEnded(call, "cancelled")]
    ua.receive(response_to(invite, 487), PEER, "udp", 40.0)  # far too late: a stray
    assert ua.datagrams_to_send() == [] and events(ua) == []


def test_a_from_user_with_line_breaks_stays_inside_the_from_uri(ua: UserAgent) -> None:
    ua.invite(AGENT, OFFER, now=0.0, from_user="1\r\nCall-Info: <sip:x>;answer-after=0")
    ((invite, _),) = sent_requests(ua)
    assert "Call-Info" not in invite.headers
    assert invite.headers.get("From").startswith("<sip:1%0D%0ACall-Info")


def test_extra_header_values_cannot_break_lines(ua: UserAgent) -> None:
    with pytest.raises(ValueError):
        ua.invite(AGENT, OFFER, now=0.0, headers={"X-IVR-Case": "42\r\nCall-Info: x"})


def test_refer_from_the_agent_is_accepted_reported_and_notified_done(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.receive(response_to(invite, 200, body=ANSWER), PEER, "udp", 1.0)
    ua.datagrams_to_send()
    events(ua)
    refer = request(
        "REFER", call_id=call.call_id, from_tag="far-tag", to_tag=call.local_tag, cseq=2,
        branch="z9hG4bK-agent-refer", extra=("Refer-To: <sip:ivr@192.0.2.1:5060>",),
    )  # fmt: skip
    ua.receive(refer, PEER, "udp", 9.0)
    sent = ua.datagrams_to_send()
    assert statuses(sent) == [202]
    (notify,) = [parse_message(item.data) for item in sent if item.data.startswith(b"NOTIFY")]
    assert isinstance(notify, Request)
    assert notify.headers.get("Event") == "refer" and notify.body == b"SIP/2.0 200 OK\r\n"
    assert (notify.headers.get("Subscription-State") or "").startswith("terminated")
    assert notify.cseq == (2, "NOTIFY") and notify.to_tag == "far-tag"
    assert events(ua) == [Referred(call, "sip:ivr@192.0.2.1:5060")]


def test_refer_without_refer_to_or_outside_a_call_is_refused(ua: UserAgent) -> None:
    call, invite, _ = place_call(ua)
    ua.receive(response_to(invite, 200, body=ANSWER), PEER, "udp", 1.0)
    ua.datagrams_to_send()
    events(ua)
    bare = request("REFER", call_id=call.call_id, from_tag="far-tag", to_tag=call.local_tag,
                   cseq=2, branch="z9hG4bK-bare")  # fmt: skip
    ua.receive(bare, PEER, "udp", 2.0)
    assert statuses(ua.datagrams_to_send()) == [400]
    outside = request("REFER", branch="z9hG4bK-out", extra=("Refer-To: <sip:x@h>",))
    ua.receive(outside, PEER, "udp", 3.0)
    assert statuses(ua.datagrams_to_send()) == [405]
    assert events(ua) == []
