"""SIP URIs, name-addr values and Via values."""

import pytest

from ivr.sip.uri import NameAddr, SipUri, Via, parse_uri


def test_full_sip_uri_parts():
    uri = SipUri.parse("sips:alice:secret@[2001:db8::1]:5061;transport=tcp;lr?subject=hi&x=")
    assert (uri.scheme, uri.user, uri.password) == ("sips", "alice", "secret")
    assert (uri.host, uri.port) == ("[2001:db8::1]", 5061)
    assert uri.params == {"transport": "tcp", "lr": None}
    assert uri.headers == {"subject": "hi", "x": ""}


def test_uri_without_user_and_with_upper_case_scheme_and_params():
    uri = SipUri.parse("SIP:192.0.2.10;Transport=UDP")
    assert (uri.scheme, uri.user, uri.host, uri.port) == ("sip", None, "192.0.2.10", None)
    assert uri.params == {"transport": "UDP"}
    assert str(uri) == "sip:192.0.2.10;transport=UDP"


def test_escapes_decode_once_and_reencode_where_needed():
    uri = SipUri.parse("sip:%61lice%25%34%31@example.com;n%61me=v%20x")
    assert uri.user == "alice%41"
    assert uri.params == {"name": "v x"}
    assert str(uri) == "sip:alice%2541@example.com;name=v%20x"
    assert SipUri.parse(str(uri)) == uri


def test_str_round_trips_a_telephone_user():
    text = "sip:+8613900000000;phone-context=example.com@gw.example.com:5060;user=phone"
    assert str(SipUri.parse(text)) == text


@pytest.mark.parametrize(
    "text",
    [
        "sip:",
        "sip:user@",
        "sip:user@host:port",
        "sip:user@host:70000",
        "sip:us er@host",
        "sip:user@ho st",
        "sip:user@host;%zz",
        "sip:user@host;=v",
        "http://example.com",
        "sip:user@[::1",
    ],
)
def test_malformed_sip_uris_raise_value_error(text):
    with pytest.raises(ValueError):
        SipUri.parse(text)


def test_other_schemes_stay_opaque_strings():
    assert parse_uri("tel:+8612333") == "tel:+8612333"
    assert parse_uri("urn:service:sos") == "urn:service:sos"
    for bad in ("<sip:a@b>", "no-scheme", "1tel:1", "tel:a b"):
        with pytest.raises(ValueError):
            parse_uri(bad)


@pytest.mark.parametrize(
    ("text", "display", "uri", "params"),
    [
        ('"Li Si" <sip:lisi@example.com>;tag=9', "Li Si", "sip:lisi@example.com", {"tag": "9"}),
        ("Li Si <sip:lisi@example.com>", "Li Si", "sip:lisi@example.com", {}),
        ("lisi<sip:lisi@example.com>", "lisi", "sip:lisi@example.com", {}),
        (
            "<sip:lisi@example.com;lr>;expires=60",
            None,
            "sip:lisi@example.com;lr",
            {"expires": "60"},
        ),
        ("sip:lisi@example.com;tag=1", None, "sip:lisi@example.com", {"tag": "1"}),
        ('"\\"q\\" \\\\" <tel:123>', '"q" \\', "tel:123", {}),
        ('"" <sip:a@b>', None, "sip:a@b", {}),
        ("<sip:a@b> ; q = 0.5 ; flag", None, "sip:a@b", {"q": "0.5", "flag": None}),
        (
            '<sip:a@b>;+sip.instance="<urn:uuid:1>"',
            None,
            "sip:a@b",
            {"+sip.instance": '"<urn:uuid:1>"'},
        ),
    ],
)
def test_name_addr_forms(text, display, uri, params):
    address = NameAddr.parse(text)
    assert address.display == display
    assert str(address.uri) == uri
    assert address.params == params


@pytest.mark.parametrize(
    "text",
    [
        '"unterminated <sip:a@b>',
        '"quoted" sip:a@b',
        "Wang, Wu <sip:a@b>",
        "<sip:a@b",
        "< sip:a@b >",
        "<>",
        "sip:a@b?subject=x",
        "sip:a@b;;x",
        "<sip:a@b>;",
        "",
    ],
)
def test_malformed_name_addrs_raise_value_error(text):
    with pytest.raises(ValueError):
        NameAddr.parse(text)


def test_name_addr_str_quotes_the_display_name():
    address = NameAddr('Zhang "San"', SipUri.parse("sip:zs@example.com"), {"tag": "x"})
    assert str(address) == '"Zhang \\"San\\"" <sip:zs@example.com>;tag=x'
    assert NameAddr.parse(str(address)) == address


def test_via_with_spaces_rport_and_received():
    via = Via.parse(
        "SIP / 2.0 / udp  192.0.2.20 : 5062 ; branch = z9hG4bK-1;rport;received=10.0.0.1"
    )
    assert (via.protocol, via.transport, via.host, via.port) == (
        "SIP/2.0",
        "UDP",
        "192.0.2.20",
        5062,
    )
    assert via.params == {"branch": "z9hG4bK-1", "rport": None, "received": "10.0.0.1"}
    assert via.branch == "z9hG4bK-1"
    via.params["rport"] = "5062"
    assert str(via) == "SIP/2.0/UDP 192.0.2.20:5062;branch=z9hG4bK-1;rport=5062;received=10.0.0.1"


def test_via_ipv6_sent_by():
    via = Via.parse("SIP/2.0/TCP [2001:db8::9]:5070;branch=z9hG4bKx")
    assert (via.host, via.port, via.transport) == ("[2001:db8::9]", 5070, "TCP")


@pytest.mark.parametrize(
    "text",
    ["SIP/2.0/UDP", "SIP/2.0 192.0.2.1", "SIP/2.0/UDP 192.0.2.1;;", "SIP/2.0/UDP a b", ""],
)
def test_malformed_vias_raise_value_error(text):
    with pytest.raises(ValueError):
        Via.parse(text)
