"""Messages as the real clients of shared/sip-clients send them (tests/sip/messages/)."""

import re
from pathlib import Path

import pytest

from ivr.sip.message import Request, Response, StreamFramer, parse_message
from ivr.sip.sdp import build_answer, negotiate, parse_answer
from ivr.sip.uri import NameAddr, SipUri
from ivr.sip.validation import check_request

MESSAGES = Path(__file__).parent / "messages"
FIXTURES = sorted(path.name for path in MESSAGES.glob("*.sip"))


def load(name: str) -> Request | Response:
    return parse_message((MESSAGES / name).read_bytes())


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_parses_and_passes_validation(name):
    message = load(name)
    if isinstance(message, Request):
        assert check_request(message) is None
    wire = message.serialize()
    # Byte for byte what arrived, but for pjsip's padding of Content-Length.
    assert wire == re.sub(
        rb"Content-Length: +", b"Content-Length: ", (MESSAGES / name).read_bytes()
    )
    assert parse_message(wire).serialize() == wire


@pytest.mark.parametrize("name", FIXTURES)
def test_fixture_frames_whole_over_tcp(name):
    data = (MESSAGES / name).read_bytes()
    framer = StreamFramer()
    assert framer.feed(data[:100]) + framer.feed(data[100:] + b"\r\n\r\n") == [data]


def test_pjsip_padded_content_length_frames_the_info_body():
    info = load("pjsip_info_dtmf.sip")
    assert info.headers.get("Content-Length") == "24"
    assert info.body == b"Signal=5\r\nDuration=160\r\n"
    assert info.to_tag == "ivr-5a6b7c"


def test_pjsip_invite_offers_telephone_event_120():
    choice = negotiate(load("pjsip_invite.sip").body)
    assert (choice.codec, choice.telephone_event_pt, choice.remote_port) == ("PCMU", 120, 4000)
    assert load("pjsip_invite.sip").top_via.params == {
        "rport": None,
        "branch": "z9hG4bKPj3b5c2f1e-8a1d-4c8e-9f0b-2d7e6a5c4b3a",
    }


def test_pjsip_hold_reinvite_is_answered_recvonly_in_the_same_dialog():
    first, hold = load("pjsip_invite.sip"), load("pjsip_reinvite_hold.sip")
    assert (hold.call_id, hold.from_tag) == (first.call_id, first.from_tag)
    assert hold.cseq == (first.cseq[0] + 1, "INVITE")
    answer = build_answer(negotiate(hold.body), "127.0.0.1", 20000, 9, 2)
    assert b"a=recvonly" in answer


def test_linphone_contact_keeps_quoted_feature_params():
    contact = NameAddr.parse(load("linphone_invite.sip").headers.get("Contact"))
    assert contact.uri == SipUri.parse("sip:zhang@192.168.1.20;transport=udp")
    assert contact.params["+sip.instance"] == '"<urn:uuid:3f2a1b4c-5d6e-4f70-8192-a3b4c5d6e7f8>"'
    assert negotiate(load("linphone_invite.sip").body).telephone_event_pt == 100


def test_sipp_invite_answer_uses_pt_96():
    answer = build_answer(negotiate(load("sipp_invite.sip").body), "127.0.0.1", 20000, 1, 1)
    assert b"m=audio 20000 RTP/AVP 0 96\r\n" in answer


def test_agent_phone_200_gives_route_target_and_media():
    ok = load("baresip_200_answer.sip")
    assert (ok.status, ok.to_tag, ok.cseq) == (200, "f3a2b1c0d9e8f7a6", (1, "INVITE"))
    assert ok.top_via.params["received"] == "192.0.2.10"
    assert ok.headers.get_all("Record-Route") == ["<sip:192.0.2.1;lr;ftag=ivr-77>"]
    assert "BYE" in ok.headers.get_all("Allow")
    media = parse_answer(ok.body)
    assert (media.codec, media.payload_type, media.telephone_event_pt) == ("PCMA", 8, 101)
    assert (media.remote_host, media.remote_port) == ("192.0.2.30", 10012)
