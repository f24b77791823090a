"""RFC 3261 §10.3 binding rules as pure functions: REGISTER in, bindings or a refusal out."""

from __future__ import annotations

from ivr.agents.bindings import (
    Binding,
    Limits,
    Refusal,
    RegisterRequest,
    apply_register,
    contact_headers,
    contact_key,
    read_register,
)
from ivr.sip.message import Request, parse_message

LIMITS = Limits(default_expires=3600, min_expires=60, max_expires=7200, max_contacts=2)


def register(*contacts: str, expires: str | None = None, call_id: str = "reg-1", cseq: int = 1):
    lines = [
        "REGISTER sip:127.0.0.1 SIP/2.0",
        "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK-1",
        "From: <sip:1001@127.0.0.1>;tag=a",
        "To: <sip:1001@127.0.0.1>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
        *(f"Contact: {contact}" for contact in contacts),
        *((f"Expires: {expires}",) if expires is not None else ()),
        "Content-Length: 0",
    ]
    message = parse_message(("\r\n".join(lines) + "\r\n\r\n").encode())
    assert isinstance(message, Request)
    return read_register(message, LIMITS)


def apply(current: dict[str, Binding], request: RegisterRequest | Refusal, now: float = 0.0):
    assert isinstance(request, RegisterRequest), request
    return apply_register(
        current,
        request,
        now,
        source="127.0.0.1:5070",
        transport="udp",
        user_agent="t",
        limits=LIMITS,
    )


def test_contact_expiry_comes_from_param_then_header_then_default() -> None:
    asked = register(
        "<sip:1001@127.0.0.1:5070>;expires=120", "<sip:1001@127.0.0.1:5072>", expires="300"
    )
    assert isinstance(asked, RegisterRequest)
    assert [contact.expires for contact in asked.contacts] == [120, 300]
    plain = register("<sip:1001@127.0.0.1:5070>")
    assert isinstance(plain, RegisterRequest) and plain.contacts[0].expires == 3600


def test_too_short_expiry_gets_423_with_min_expires_and_long_one_is_shortened() -> None:
    refusal = register("<sip:1001@127.0.0.1:5070>", expires="10")
    assert refusal == Refusal(423, "Interval Too Brief", (("Min-Expires", "60"),))
    long = register("<sip:1001@127.0.0.1:5070>", expires="999999")
    assert isinstance(long, RegisterRequest) and long.contacts[0].expires == 7200


def test_star_needs_expires_zero_and_nothing_else() -> None:
    assert isinstance(register("*", expires="0"), RegisterRequest)
    assert isinstance(register("*"), Refusal) and register("*").status == 400
    mixed = register("*", "<sip:1001@127.0.0.1:5070>", expires="0")
    assert isinstance(mixed, Refusal) and mixed.status == 400


def test_bad_expires_and_contact_get_400() -> None:
    for bad in (register("<sip:1001@127.0.0.1>", expires="soon"), register("<tel:+8612333>")):
        assert isinstance(bad, Refusal) and bad.status == 400


def test_several_phones_refresh_and_unregister_one() -> None:
    bindings = apply({}, register("<sip:1001@127.0.0.1:5070>", call_id="desk"), now=0)
    bindings = apply(bindings, register("<sip:1001@127.0.0.1:5072>", call_id="soft"), now=10)
    assert isinstance(bindings, dict) and len(bindings) == 2
    refreshed = apply(
        bindings,
        register("<sip:1001@127.0.0.1:5070>", call_id="desk", cseq=2, expires="600"),
        now=100,
    )
    assert isinstance(refreshed, dict)
    assert refreshed[contact_key("sip:1001@127.0.0.1:5070")].expires_at == 700
    gone = apply(
        refreshed, register("<sip:1001@127.0.0.1:5072>;expires=0", call_id="soft", cseq=2), now=200
    )
    assert isinstance(gone, dict) and list(gone) == [contact_key("sip:1001@127.0.0.1:5070")]
    headers = contact_headers(gone, 200)
    assert headers == (("Contact", "<sip:1001@127.0.0.1:5070>;expires=500"),)


def test_expired_bindings_vanish_and_star_removes_all() -> None:
    bindings = apply({}, register("<sip:1001@127.0.0.1:5070>", expires="60"), now=0)
    assert isinstance(bindings, dict)
    later = apply(bindings, register("<sip:1001@127.0.0.1:5072>", call_id="x"), now=61)
    assert isinstance(later, dict) and len(later) == 1
    assert apply(later, register("*", expires="0", call_id="y"), now=62) == {}


def test_replayed_or_old_cseq_from_same_call_id_gets_500() -> None:
    bindings = apply({}, register("<sip:1001@127.0.0.1:5070>", cseq=5), now=0)
    assert isinstance(bindings, dict)
    old = apply(bindings, register("<sip:1001@127.0.0.1:5070>", cseq=5), now=1)
    assert isinstance(old, Refusal) and old.status == 500
    star = apply(bindings, register("*", expires="0", cseq=4), now=1)
    assert isinstance(star, Refusal) and star.status == 500


def test_more_phones_than_allowed_get_403() -> None:
    bindings: dict[str, Binding] | Refusal = {}
    for port in (5070, 5072):
        assert isinstance(bindings, dict)
        bindings = apply(bindings, register(f"<sip:1001@127.0.0.1:{port}>", call_id=str(port)))
    assert isinstance(bindings, dict)
    third = apply(bindings, register("<sip:1001@127.0.0.1:5074>", call_id="third"))
    assert isinstance(third, Refusal) and third.status == 403


def test_contact_equality_ignores_host_case_and_default_port() -> None:
    assert contact_key("sip:a@Example.COM") == contact_key("sip:a@example.com:5060;ob")
    assert contact_key("sip:a@h;transport=tcp") != contact_key("sip:a@h")
