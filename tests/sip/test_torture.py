"""RFC 4475 torture messages: every MANIFEST row, fed whole as one UDP datagram.

Outcome per message, with the policy chosen where the RFC allows a liberal reading:

* ``Accept``: parses, re-serialises to a fixed point, and `check_request` lets it through.
* ``Parse(status)``: `parse_message` raises SipParseError with that status (None = drop).
  Strict policy for every syntax error: LWS in or around the Request-URI (lwsruri,
  lwsstart, trws), <> around it (ltgtruri), escaped headers in it (escruri), unquoted
  non-token display names (baddn), a missing closing quote (quotbal), spaces inside <>
  (badaspec) and a URI with '?' outside <> (regbadct) are all 400: guessing the sender's
  intent is how a server ends up routing on a wrong reading.
* ``Check(status)``: parses, and `check_request` (what an endpoint does above the parser)
  returns that status. mismatch02 gets 400, which RFC 4475 accepts; the user agent's
  method check runs first and answers 501 for an unknown method anyway.
* baddate is accepted: the IVR never interprets Date, so an odd zone is harmless.
* baddn: the archived file has no blank line after the headers; the end of the datagram
  ends the header section, so the display names alone decide its outcome.
"""

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

import pytest

from ivr.sip.message import Request, SipParseError, parse_message
from ivr.sip.uri import NameAddr, SipUri, Via
from ivr.sip.validation import check_request

# A copy of the RFC's archive (provenance in torture/README.md), without its stray test.dat.
TORTURE = Path(__file__).parent / "torture"


@dataclass(frozen=True)
class Accept:
    pass


@dataclass(frozen=True)
class Parse:
    status: int | None


@dataclass(frozen=True)
class Check:
    status: int


OUTCOMES = {
    # 3.1.1 valid
    "wsinv.dat": Accept(),
    "intmeth.dat": Accept(),
    "esc01.dat": Accept(),
    "escnull.dat": Accept(),
    "esc02.dat": Accept(),
    "lwsdisp.dat": Accept(),
    "longreq.dat": Accept(),
    "dblreq.dat": Accept(),
    "semiuri.dat": Accept(),
    "transports.dat": Accept(),
    "mpart01.dat": Accept(),
    "unreason.dat": Accept(),
    "noreason.dat": Accept(),
    # 3.1.2 invalid
    "badinv01.dat": Parse(400),
    "clerr.dat": Parse(400),
    "ncl.dat": Parse(400),
    "scalar02.dat": Parse(400),
    "scalarlg.dat": Parse(None),
    "quotbal.dat": Parse(400),
    "ltgtruri.dat": Parse(400),
    "lwsruri.dat": Parse(400),
    "lwsstart.dat": Parse(400),
    "trws.dat": Parse(400),
    "escruri.dat": Parse(400),
    "baddate.dat": Accept(),
    "regbadct.dat": Parse(400),
    "badaspec.dat": Parse(400),
    "baddn.dat": Parse(400),
    "badvers.dat": Check(505),
    "mismatch01.dat": Check(400),
    "mismatch02.dat": Check(400),
    "bigcode.dat": Parse(None),
    # 3.2-3.4 semantic
    "badbranch.dat": Check(400),
    "insuf.dat": Parse(400),
    "unkscm.dat": Check(416),
    "novelsc.dat": Check(416),
    "unksm2.dat": Accept(),
    "bext01.dat": Check(420),
    "invut.dat": Check(415),
    "regaut01.dat": Accept(),
    "multi01.dat": Parse(400),
    "mcl01.dat": Parse(400),
    "bcast.dat": Accept(),
    "zeromf.dat": Accept(),
    "cparam01.dat": Accept(),
    "cparam02.dat": Accept(),
    "regescrt.dat": Accept(),
    "sdp01.dat": Check(406),
    "inv2543.dat": Accept(),
}


def manifest() -> list[dict[str, str]]:
    with (TORTURE / "MANIFEST.tsv").open(newline="", encoding="utf-8") as file:
        return list(csv.DictReader(file, delimiter="\t"))


def load(name: str) -> bytes:
    return (TORTURE / name).read_bytes()


def test_every_manifest_row_has_an_outcome():
    assert sorted(row["file"] for row in manifest()) == sorted(OUTCOMES)
    assert len(OUTCOMES) == 49


def test_torture_files_are_byte_exact():
    for line in (TORTURE / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        assert hashlib.sha256(load(name)).hexdigest() == digest, name


def _without_length(items):
    return [item for item in items if item[0] != "Content-Length"]


@pytest.mark.parametrize("row", manifest(), ids=lambda row: row["file"])
def test_torture_message_outcome(row):
    outcome = OUTCOMES[row["file"]]
    data = load(row["file"])
    if isinstance(outcome, Parse):
        with pytest.raises(SipParseError) as caught:
            parse_message(data)
        assert caught.value.status == outcome.status, caught.value.reason
        # A 400 must be answerable: the partial request carries what the response copies.
        assert (caught.value.partial is not None) == (outcome.status is not None)
        return
    message = parse_message(data)
    wire = message.serialize()
    again = parse_message(wire)
    assert again.serialize() == wire
    assert again.body == message.body
    assert _without_length(again.headers.items()) == _without_length(message.headers.items())
    if isinstance(message, Request):
        rejection = check_request(message)
        expected = outcome.status if isinstance(outcome, Check) else None
        assert (rejection and rejection.status) == expected
    else:
        assert isinstance(outcome, Accept)


def test_wsinv_reads_folded_and_spaced_values():
    request = parse_message(load("wsinv.dat"))
    assert request.cseq == (9, "INVITE")
    assert request.headers.get("Max-Forwards") == "0068"
    assert request.headers.get("Subject") == ""
    assert request.to_tag == "1918181833n"
    assert request.from_tag == "98asjd8"
    assert NameAddr.parse(request.headers.get("From")).display == 'J Rosenberg \\"'
    vias = [Via.parse(value) for value in request.headers.get_all("Via")]
    assert [(via.transport, via.host, via.branch) for via in vias] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    contact = NameAddr.parse(request.headers.get("Contact"))
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert len(request.body) == 150


def test_intmeth_keeps_unusual_method_and_control_characters():
    request = parse_message(load("intmeth.dat"))
    assert request.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert NameAddr.parse(request.headers.get("To")).display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    uri = SipUri.parse(request.uri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert request.from_tag == "_token~1'+`*%!-."


def test_esc01_unescapes_each_escape_exactly_once():
    request = parse_message(load("esc01.dat"))
    assert SipUri.parse(request.uri).user == "sips:user@example.com"
    assert NameAddr.parse(request.headers.get("To")).uri == SipUri.parse("sip:user@example.com")
    contact = NameAddr.parse(request.headers.get("Contact")).uri
    assert contact.user == "caller"
    assert contact.params == {"lr": None, "name": "value%41"}
    assert SipUri.parse(str(contact)) == contact


def test_escnull_keeps_two_distinct_contacts_past_the_nul():
    request = parse_message(load("escnull.dat"))
    users = [NameAddr.parse(value).uri.user for value in request.headers.get_all("Contact")]
    assert len(users) == 2
    assert len(set(users)) == 2
    assert all("\x00" in user for user in users)


def test_esc02_is_an_unknown_method_with_two_contacts():
    request = parse_message(load("esc02.dat"))
    assert request.method == "RE%47IST%45R"
    assert len(request.headers.get_all("Contact")) == 2
    assert request.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_dblreq_ignores_the_trailing_invite():
    request = parse_message(load("dblreq.dat"))
    assert request.method == "REGISTER"
    assert request.body == b""


def test_semiuri_user_part_holds_the_semicolon():
    assert SipUri.parse(parse_message(load("semiuri.dat")).uri).user == "user;par=u@example.net"


def test_transports_reads_each_via_transport():
    vias = parse_message(load("transports.dat")).headers.get_all("Via")
    assert [Via.parse(via).transport for via in vias] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_mpart01_frames_a_binary_body_by_content_length():
    body = parse_message(load("mpart01.dat")).body
    assert len(body) == 553
    assert b"\x00" in body


def test_reason_phrases_may_be_utf8_or_empty():
    data = load("unreason.dat")
    status_line = data.split(b"\r\n")[0]
    assert parse_message(data).reason.encode() == status_line.removeprefix(b"SIP/2.0 200 ")
    noreason = parse_message(load("noreason.dat"))
    assert (noreason.status, noreason.reason) == (100, "")


def test_longreq_keeps_every_via():
    request = parse_message(load("longreq.dat"))
    assert len(request.headers.get_all("Via")) > 20
    assert len(request.from_tag) > 100


def test_contact_parameters_stay_where_the_brackets_put_them():
    cparam01 = NameAddr.parse(parse_message(load("cparam01.dat")).headers.get("Contact"))
    assert "unknownparam" in cparam01.params
    assert cparam01.uri.params == {}
    cparam02 = NameAddr.parse(parse_message(load("cparam02.dat")).headers.get("Contact"))
    assert "unknownparam" in cparam02.uri.params
    assert "unknownparam" not in cparam02.params


def test_regescrt_contact_keeps_its_escaped_route_header():
    contact = NameAddr.parse(parse_message(load("regescrt.dat")).headers.get("Contact"))
    assert contact.uri.headers == {"Route": "<sip:sip.example.com>"}
    assert str(contact.uri) == "sip:user@example.com?Route=%3Csip:sip.example.com%3E"


def test_inv2543_body_is_the_rest_of_the_datagram():
    request = parse_message(load("inv2543.dat"))
    assert len(request.body) == 105
    assert request.top_via.branch is None
    assert request.from_tag is None


def test_unksm2_keeps_non_sip_uris_opaque():
    request = parse_message(load("unksm2.dat"))
    assert isinstance(NameAddr.parse(request.headers.get("To")).uri, str)


def test_bext01_names_each_unsupported_require_tag():
    response = check_request(parse_message(load("bext01.dat")))
    assert response.headers.get_all("Unsupported") == [
        "nothingSupportsThis",
        "nothingSupportsThisEither",
    ]


def test_invut_415_says_what_is_accepted():
    assert check_request(parse_message(load("invut.dat"))).headers.get("Accept") == (
        "application/sdp"
    )


def test_sdp01_406_carries_a_399_warning():
    response = check_request(parse_message(load("sdp01.dat")))
    assert response.headers.get("Warning").startswith("399 ")
