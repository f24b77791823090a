"""check_request: what an IVR endpoint answers to well-formed but unacceptable requests."""

import pytest

from ivr.sip.message import parse_message
from ivr.sip.validation import check_request

SDP = b"v=0\r\no=- 1 1 IN IP4 192.0.2.20\r\ns=-\r\nc=IN IP4 192.0.2.20\r\nt=0 0\r\n"


def invite(
    *extra: str,
    uri: str = "sip:12333@192.0.2.10",
    version: str = "SIP/2.0",
    cseq: str = "1 INVITE",
    body: bytes = SDP,
    content_type: str = "application/sdp",
):
    lines = [
        f"INVITE {uri} {version}",
        "Via: SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK-v1",
        "Max-Forwards: 70",
        "From: <sip:caller@192.0.2.20>;tag=c1",
        "To: <sip:12333@192.0.2.10>",
        "Call-ID: val-1",
        f"CSeq: {cseq}",
        f"Content-Type: {content_type}",
        *extra,
        f"Content-Length: {len(body)}",
    ]
    return parse_message(("\r\n".join(lines) + "\r\n\r\n").encode() + body)


def status_of(request, **kwargs):
    response = check_request(request, **kwargs)
    return response and response.status


def test_ordinary_invite_passes():
    assert check_request(invite()) is None


def test_sips_and_case_insensitive_scheme_pass():
    assert check_request(invite(uri="SIPS:12333@example.com")) is None


@pytest.mark.parametrize("uri", ["tel:+8612333", "mailto:a@b", "nobodyKnowsThisScheme:x"])
def test_non_sip_request_uri_is_416(uri):
    assert status_of(invite(uri=uri)) == 416


@pytest.mark.parametrize("version", ["SIP/3.0", "SIP/1.0"])
def test_other_sip_versions_are_505(version):
    assert status_of(invite(version=version)) == 505


@pytest.mark.parametrize(
    "extra",
    [("Max-Forwards: 5",), ("Content-Type: application/sdp",), ("Expires: 1", "Expires: 2")],
)
def test_repeated_single_valued_header_is_400(extra):
    response = check_request(invite(*extra))
    assert response.status == 400
    assert "more than one" in response.reason


def test_cseq_method_mismatch_is_400():
    response = check_request(invite(cseq="1 OPTIONS"))
    assert (response.status, "CSeq" in response.reason) == (400, True)


@pytest.mark.parametrize(
    ("value", "status"), [("0", None), ("255", None), ("256", 400), ("x", 400)]
)
def test_max_forwards_range(value, status):
    request = invite()
    request.headers.set("Max-Forwards", value)
    assert status_of(request) == status


def test_unsupported_require_is_420_listing_only_unknown_tags():
    request = invite("Require: timer, 100rel")
    response = check_request(request, supported=("timer",))
    assert response.status == 420
    assert response.headers.get_all("Unsupported") == ["100rel"]
    assert check_request(request, supported=("TIMER", "100rel")) is None


def test_require_is_never_checked_on_ack():
    lines = invite("Require: 100rel").serialize().replace(b"INVITE", b"ACK")
    assert check_request(parse_message(lines)) is None


def test_non_sdp_invite_body_is_415_with_accept():
    response = check_request(invite(content_type="application/unknownformat"))
    assert response.status == 415
    assert response.headers.get("Accept") == "application/sdp"


def test_sdp_content_type_parameters_and_case_are_fine():
    assert check_request(invite(content_type="Application/SDP; charset=utf-8")) is None


def test_compressed_sdp_is_415():
    assert status_of(invite("Content-Encoding: gzip")) == 415


def test_invite_without_body_needs_no_content_type_check():
    assert check_request(invite(body=b"", content_type="text/plain")) is None


@pytest.mark.parametrize(
    ("accept", "status"),
    [
        ("text/nobodyKnowsThis", 406),
        ("application/sdp, text/plain", None),
        ("*/*", None),
        ("application/*;q=0.5", None),
    ],
)
def test_accept_must_allow_sdp(accept, status):
    assert status_of(invite(f"Accept: {accept}")) == status


def test_bare_magic_cookie_branch_is_400():
    request = invite()
    request.headers.set("Via", "SIP/2.0/UDP 192.0.2.20;branch=z9hG4bK")
    assert status_of(request) == 400


def test_error_responses_carry_the_given_to_tag_and_dialog_headers():
    response = check_request(invite(uri="tel:1"), to_tag="ivr-9")
    assert response.to_tag == "ivr-9"
    assert response.call_id == "val-1"
    assert response.cseq == (1, "INVITE")
    assert response.top_via.branch == "z9hG4bK-v1"


def test_version_is_checked_before_everything_else():
    assert status_of(invite("Require: x", uri="tel:1", version="SIP/3.0")) == 505
