"""Parsing and serialising single SIP messages (datagrams) and building responses."""

import pytest

from ivr.sip.message import (
    Headers,
    Request,
    Response,
    SipParseError,
    make_response,
    parse_message,
)

INVITE = (
    b"INVITE sip:12333@192.0.2.10:5060 SIP/2.0\r\n"
    b"Via: SIP/2.0/UDP 192.0.2.20:5062;rport;branch=z9hG4bK-1\r\n"
    b"v: SIP/2.0/UDP proxy.example.com;branch=z9hG4bK-0, SIP/2.0/TCP edge.example.com"
    b";branch=z9hG4bK-00\r\n"
    b"Max-Forwards: 70\r\n"
    b'f: "Zhang San" <sip:1390000@192.0.2.20>;tag=abc\r\n'
    b"t: <sip:12333@192.0.2.10>\r\n"
    b"i: call-1@192.0.2.20\r\n"
    b"CSeq: 1 INVITE\r\n"
    b"m: <sip:1390000@192.0.2.20:5062;transport=udp>\r\n"
    b"Timestamp: 54\r\n"
    b"c: application/sdp\r\n"
    b"l: 4\r\n"
    b"\r\n"
    b"v=0\n"
)


def test_compact_and_long_names_read_alike():
    request = parse_message(INVITE)
    assert isinstance(request, Request)
    assert request.method == "INVITE"
    assert request.uri == "sip:12333@192.0.2.10:5060"
    assert request.call_id == "call-1@192.0.2.20"
    assert request.headers.get("call-id") == request.headers.get("I") == "call-1@192.0.2.20"
    assert request.headers.get("Content-Type") == "application/sdp"
    assert request.cseq == (1, "INVITE")
    assert request.from_tag == "abc"
    assert request.to_tag is None
    assert request.body == b"v=0\n"


def test_items_use_canonical_names_in_arrival_order():
    names = [name for name, _ in parse_message(INVITE).headers.items()]
    assert names[:6] == ["Via", "Via", "Max-Forwards", "From", "To", "Call-ID"]


def test_via_values_split_across_lines_and_commas():
    request = parse_message(INVITE)
    vias = request.headers.get_all("Via")
    assert len(vias) == 3
    assert request.top_via.host == "192.0.2.20"
    assert request.top_via.port == 5062
    assert request.top_via.params["rport"] is None
    assert request.top_via.branch == "z9hG4bK-1"


def test_folded_header_lines_are_joined_with_one_space():
    data = INVITE.replace(b"Max-Forwards: 70\r\n", b"Subject: first\r\n  second\r\n\tthird\r\n")
    assert parse_message(data).headers.get("Subject") == "first second third"


def test_leading_crlfs_before_the_start_line_are_ignored():
    assert isinstance(parse_message(b"\r\n\r\n" + INVITE), Request)


def test_bare_lf_line_endings_are_accepted():
    request = parse_message(INVITE.replace(b"\r\n", b"\n"))
    assert request.call_id == "call-1@192.0.2.20"
    assert request.body == b"v=0\n"


@pytest.mark.parametrize("data", [b"", b"\r\n\r\n", b"\r\n"])
def test_keep_alives_are_dropped_silently(data):
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    assert caught.value.status is None


def test_trailing_octets_after_content_length_are_ignored():
    assert parse_message(INVITE + b"garbage after the body").body == b"v=0\n"


def test_body_shorter_than_content_length_is_400_with_the_partial_request():
    with pytest.raises(SipParseError) as caught:
        parse_message(INVITE[:-2])
    assert caught.value.status == 400
    assert caught.value.partial is not None
    assert caught.value.partial.call_id == "call-1@192.0.2.20"


def test_without_content_length_the_body_is_the_rest_of_the_datagram():
    data = INVITE.replace(b"l: 4\r\n", b"") + b"more"
    assert parse_message(data).body == b"v=0\nmore"


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        (b"l: -1\r\n", "Content-Length"),
        (b"l: 4\r\nContent-Length: 4\r\n", "Content-Length"),
        (b"l: 4\r\nCSeq: 2 INVITE\r\n", "CSeq"),
        (b"l: 4\r\nno colon here\r\n", "malformed header line"),
    ],
)
def test_framing_and_header_errors_are_400(header, reason):
    with pytest.raises(SipParseError) as caught:
        parse_message(INVITE.replace(b"l: 4\r\n", header))
    assert caught.value.status == 400
    assert reason in caught.value.reason


@pytest.mark.parametrize("name", [b"i", b"f", b"t", b"CSeq"])
def test_missing_mandatory_header_is_400(name):
    lines = [line for line in INVITE.split(b"\r\n") if not line.startswith(name + b":")]
    with pytest.raises(SipParseError) as caught:
        parse_message(b"\r\n".join(lines))
    assert caught.value.status == 400
    assert "missing" in caught.value.reason


def test_request_without_via_is_400():
    lines = [line for line in INVITE.split(b"\r\n") if not line.lower().startswith((b"via", b"v:"))]
    with pytest.raises(SipParseError, match="missing Via"):
        parse_message(b"\r\n".join(lines))


@pytest.mark.parametrize(
    "data",
    [
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\nCSeq: 1 INVITE\r\n\r\n",
        b"SIP/2.0 20 OK\r\n\r\n",
        b"SIP/3.0 200 OK\r\n\r\n",
    ],
)
def test_broken_responses_are_dropped_silently(data):
    with pytest.raises(SipParseError) as caught:
        parse_message(data)
    assert caught.value.status is None
    assert caught.value.partial is None


def test_garbage_start_line_is_dropped_silently():
    with pytest.raises(SipParseError) as caught:
        parse_message(b"\x00\x01\x02 hello\r\n\r\n")
    assert caught.value.status is None


def test_response_status_reason_and_tags():
    response = parse_message(
        b"SIP/2.0 180 Ringing\r\n"
        b"Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bK-9\r\n"
        b"From: <sip:ivr@192.0.2.10>;tag=ivr1\r\n"
        b"To: <sip:agent@192.0.2.30>;tag=ph1\r\n"
        b"Call-ID: out-1\r\n"
        b"CSeq: 1 INVITE\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    assert isinstance(response, Response)
    assert (response.status, response.reason) == (180, "Ringing")
    assert (response.from_tag, response.to_tag) == ("ivr1", "ph1")


def test_serialize_round_trips_and_states_the_real_content_length():
    request = parse_message(INVITE)
    request.body = b"v=0\r\nlonger\r\n"
    wire = request.serialize()
    again = parse_message(wire)
    assert again.body == request.body
    assert again.headers.get("Content-Length") == str(len(request.body))
    assert again.serialize() == wire


def test_serialize_preserves_non_utf8_octets():
    data = INVITE.replace(b"Max-Forwards: 70", b"X-Raw: \xff\xfe\x80")
    assert b"\r\nX-Raw: \xff\xfe\x80\r\n" in parse_message(data).serialize()


def test_make_response_copies_dialog_headers_and_adds_the_to_tag():
    request = parse_message(INVITE)
    response = make_response(request, 486, to_tag="ivr-7")
    assert (response.status, response.reason) == (486, "Busy Here")
    assert response.headers.get_all("Via") == request.headers.get_all("Via")
    assert response.headers.get("From") == request.headers.get("From")
    assert response.to_tag == "ivr-7"
    assert response.call_id == request.call_id
    assert response.cseq == (1, "INVITE")
    assert "Contact" not in response.headers
    assert "Timestamp" not in response.headers
    wire = response.serialize()
    assert parse_message(wire).serialize() == wire


def test_make_response_keeps_an_existing_to_tag():
    request = parse_message(INVITE.replace(b"t: <sip:12333@192.0.2.10>", b"t: <sip:x@y>;tag=old"))
    assert make_response(request, 200, to_tag="new").to_tag == "old"


def test_100_trying_echoes_timestamp():
    trying = make_response(parse_message(INVITE), 100)
    assert trying.reason == "Trying"
    assert trying.headers.get("Timestamp") == "54"


def test_make_response_with_body_sets_type_and_length():
    response = make_response(
        parse_message(INVITE), 200, body=b"v=0\r\n", content_type="application/sdp"
    )
    wire = response.serialize()
    assert b"Content-Type: application/sdp\r\n" in wire
    assert b"Content-Length: 5\r\n" in wire
    assert wire.endswith(b"\r\n\r\nv=0\r\n")


def test_headers_multimap_operations():
    headers = Headers(
        [("v", "SIP/2.0/UDP a"), ("Allow", "INVITE, ACK,,BYE"), ("Via", "SIP/2.0/UDP b")]
    )
    assert "VIA" in headers
    assert headers.get_all("allow") == ["INVITE", "ACK", "BYE"]
    headers.set("Via", "SIP/2.0/UDP c")
    assert headers.items() == [("Via", "SIP/2.0/UDP c"), ("Allow", "INVITE, ACK,,BYE")]
    headers.add("X-Custom", "1")
    headers.remove("allow")
    assert headers.items() == [("Via", "SIP/2.0/UDP c"), ("X-Custom", "1")]
    assert headers.get("Missing") is None
    assert headers.get_all("Missing") == []


def test_list_split_respects_quotes_and_angle_brackets():
    headers = Headers([("Contact", '"Wang, Wu" <sip:a@b;x=1,2>, <sip:c@d>')])
    assert headers.get_all("Contact") == ['"Wang, Wu" <sip:a@b;x=1,2>', "<sip:c@d>"]
