"""A scripted SIP peer for the transaction, dialog and user agent tests: it writes requests and
responses as a phone would put them on the wire and reads what the code under test sent."""

from __future__ import annotations

from ivr.sip.message import Request, Response, parse_message
from ivr.sip.transaction import Outgoing

PEER = ("192.0.2.10", 5062)
IVR = ("192.0.2.1", 5060)
OFFER = (
    b"v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\n"
    b"m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    b"a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n"
)


def request(
    method: str,
    *,
    call_id: str = "call-1@192.0.2.10",
    branch: str = "z9hG4bK-peer-1",
    cseq: int = 1,
    cseq_method: str | None = None,
    from_tag: str = "peer-tag",
    to_tag: str | None = None,
    body: bytes = b"",
    content_type: str | None = None,
    via_host: str = PEER[0],
    via_port: int = PEER[1],
    rport: bool = True,
    transport: str = "UDP",
    extra: tuple[str, ...] = (),
    uri: str = "sip:12333@192.0.2.1:5060",
) -> bytes:
    """The bytes of a request from the peer to the IVR."""
    to = "<sip:12333@192.0.2.1>" + (f";tag={to_tag}" if to_tag else "")
    lines = [
        f"{method} {uri} SIP/2.0",
        f"Via: SIP/2.0/{transport} {via_host}:{via_port};branch={branch}" + (";rport" * rport),
        "Max-Forwards: 70",
        f"From: <sip:caller@192.0.2.10>;tag={from_tag}",
        f"To: {to}",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {cseq_method or method}",
        f"Contact: <sip:caller@{via_host}:{via_port}>",
        *extra,
    ]
    if content_type:
        lines.append(f"Content-Type: {content_type}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def response_to(
    sent: Request,
    status: int,
    reason: str = "",
    *,
    to_tag: str | None = "far-tag",
    body: bytes = b"",
    extra: tuple[str, ...] = (),
) -> bytes:
    """The bytes of the peer's response to a request the IVR sent."""
    headers = sent.headers
    to = headers.get("To") or ""
    if to_tag and "tag=" not in to:
        to += f";tag={to_tag}"
    lines = [f"SIP/2.0 {status} {reason or 'Whatever'}"]
    lines += [f"Via: {via}" for via in headers.get_all("Via")]
    lines += [
        f"From: {headers.get('From')}",
        f"To: {to}",
        f"Call-ID: {sent.call_id}",
        f"CSeq: {headers.get('CSeq')}",
        f"Contact: <sip:agent@{PEER[0]}:{PEER[1]}>",
        *extra,
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def parsed(outgoing: list[Outgoing]) -> list[Request | Response]:
    return [parse_message(item.data) for item in outgoing]


def statuses(outgoing: list[Outgoing]) -> list[int]:
    """Status codes of the responses in `outgoing` (requests are skipped)."""
    return [m.status for m in parsed(outgoing) if isinstance(m, Response)]


def methods(outgoing: list[Outgoing]) -> list[str]:
    """Methods of the requests in `outgoing` (responses are skipped)."""
    return [m.method for m in parsed(outgoing) if isinstance(m, Request)]
