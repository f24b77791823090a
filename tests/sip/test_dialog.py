"""RFC 3261 §12 dialog state: tags, CSeq, route set and remote target, on both sides."""

from __future__ import annotations

from ivr.sip.dialog import Dialog, contact_uri, with_tag
from ivr.sip.message import Request, Response, parse_message
from tests.sip.sip_core_helpers import PEER, request, response_to

RECORD_ROUTE = "Record-Route: <sip:edge.example;lr>, <sip:core.example;lr>"


def parse_request(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def incoming_dialog(*extra: str) -> Dialog:
    invite = parse_request(request("INVITE", cseq=7, extra=extra))
    return Dialog.for_incoming(
        invite, "ivr-tag", PEER, "udp", "192.0.2.1:5060", "<sip:ivr@192.0.2.1:5060>"
    )


def test_uas_dialog_takes_tags_target_and_record_route_in_order() -> None:
    dialog = incoming_dialog(RECORD_ROUTE)
    assert dialog.key == ("call-1@192.0.2.10", "ivr-tag", "peer-tag")
    assert dialog.remote_target == "sip:caller@192.0.2.10:5062"
    assert dialog.route_set == ["<sip:edge.example;lr>", "<sip:core.example;lr>"]
    assert dialog.remote_seq == 7 and dialog.local_seq == 0


def test_requests_in_the_dialog_carry_tags_routes_and_rising_cseq() -> None:
    dialog = incoming_dialog(RECORD_ROUTE)
    first = dialog.new_request("BYE")
    second = dialog.new_request("INFO", b"Signal=1", "application/dtmf-relay")
    assert first.uri == "sip:caller@192.0.2.10:5062"
    assert first.from_tag == "ivr-tag" and first.to_tag == "peer-tag"
    assert first.headers.get_all("Route") == dialog.route_set
    assert (first.cseq, second.cseq) == ((1, "BYE"), (2, "INFO"))
    assert first.top_via.branch != second.top_via.branch
    assert first.top_via.branch.startswith("z9hG4bK")
    assert second.headers.get("Content-Type") == "application/dtmf-relay"
    reparsed = parse_message(second.serialize())
    assert isinstance(reparsed, Request) and reparsed.body == b"Signal=1"


def test_remote_cseq_must_not_go_backwards() -> None:
    dialog = incoming_dialog()
    assert dialog.accepts_cseq(parse_request(request("INFO", cseq=8)))
    assert dialog.accepts_cseq(parse_request(request("INFO", cseq=8)))  # equal is allowed
    assert not dialog.accepts_cseq(parse_request(request("INFO", cseq=6)))
    assert dialog.remote_seq == 8


def test_uac_dialog_reverses_record_route_and_keeps_invite_cseq() -> None:
    invite = parse_request(request("INVITE", cseq=3))
    ok = parse_message(response_to(invite, 200, extra=(RECORD_ROUTE,)))
    assert isinstance(ok, Response)
    dialog = Dialog.for_outgoing(invite, ok, PEER, "udp")
    assert dialog.key == ("call-1@192.0.2.10", "peer-tag", "far-tag")
    assert dialog.route_set == ["<sip:core.example;lr>", "<sip:edge.example;lr>"]
    assert dialog.remote_target == "sip:agent@192.0.2.10:5062"
    ack = dialog.ack(3)
    assert ack.cseq == (3, "ACK") and ack.top_via.branch != invite.top_via.branch
    assert dialog.new_request("BYE").cseq == (4, "BYE")


def test_contact_and_tag_helpers() -> None:
    assert contact_uri('"Bob" <sip:bob@192.0.2.4:5070;transport=tcp>;expires=60') == (
        "sip:bob@192.0.2.4:5070;transport=tcp"
    )
    assert contact_uri("*") is None and contact_uri(None) is None
    assert with_tag("<sip:a@b>", "x1") == "<sip:a@b>;tag=x1"
