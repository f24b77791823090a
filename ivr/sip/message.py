"""SIP messages (RFC 3261 7): the Request/Response model, parsing of one datagram, responses.

What `parse_message` guarantees, so that transaction and dialog code needs no guards: every
message it returns has exactly one well-formed Call-ID, From, To and CSeq (number below
2**32), at least one Via and all its Via values well-formed, From/To/Contact/Route/
Record-Route values that parse as name-addrs, a body framed by Content-Length, and for
requests a syntactically valid Request-URI. Anything else raises `SipParseError`: status 400
with the partial request for requests, status None (drop) for responses and for octets that
are not a SIP message at all. Checks a UAS makes on a well-formed request (505, 416, 420,
415, Max-Forwards, ...) live in `ivr.sip.validation`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ivr.sip.headers import Headers
from ivr.sip.parser import (
    MAX_HEADER_BYTES,
    MAX_MESSAGE_BYTES,
    FramingError,
    RawMessage,
    SipParseError,
    StreamFramer,
    encode,
    frame_body,
    split_datagram,
)
from ivr.sip.uri import TOKEN, TOKEN_CHARS, NameAddr, SipUri, Via, parse_uri

__all__ = [
    "FramingError",
    "Headers",
    "Request",
    "Response",
    "SipParseError",
    "StreamFramer",
    "make_response",
    "parse_cseq",
    "parse_message",
]

MAX_CSEQ = 2**32 - 1
_REQUEST_LINE = re.compile(f"([{TOKEN_CHARS}]+) (\\S+) (SIP/[0-9]+\\.[0-9]+)")
_STATUS_LINE = re.compile(r"(SIP/[0-9]+\.[0-9]+) ([1-6][0-9][0-9])(?: (.*))?", re.DOTALL)
_CSEQ = re.compile(f"([0-9]+)\\s+([{TOKEN_CHARS}]+)")
_NAME_ADDR_HEADERS = ("From", "To", "Contact", "Route", "Record-Route")

REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    491: "Request Pending",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    513: "Message Too Large",
    600: "Busy Everywhere",
    603: "Decline",
}


def parse_cseq(value: str) -> tuple[int, str]:
    """`"0009 INVITE"` -> (9, "INVITE"); ValueError unless a 32-bit number and a method."""
    match = _CSEQ.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"malformed CSeq {value[:40]!r}")
    number = int(match.group(1))
    if number > MAX_CSEQ:
        raise ValueError("CSeq number above 2**32-1")
    return number, match.group(2)


class _Message:
    """What requests and responses share: typed views of the mandatory headers."""

    headers: Headers
    body: bytes
    version: str

    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> tuple[int, str]:
        return parse_cseq(self.headers.get("CSeq") or "")

    @property
    def top_via(self) -> Via:
        return Via.parse(self.headers.get_all("Via")[0])

    @property
    def from_tag(self) -> str | None:
        return NameAddr.parse(self.headers.get("From") or "").tag

    @property
    def to_tag(self) -> str | None:
        return NameAddr.parse(self.headers.get("To") or "").tag

    def _start_line(self) -> str:
        raise NotImplementedError

    def serialize(self) -> bytes:
        """Wire form; Content-Length always states the real body length."""
        headers = self.headers.copy()
        headers.set("Content-Length", str(len(self.body)))
        lines = [self._start_line(), *(f"{name}: {value}" for name, value in headers.items())]
        return encode("\r\n".join(lines) + "\r\n\r\n") + self.body


@dataclass(eq=True)
class Request(_Message):
    method: str
    uri: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = "SIP/2.0"

    def _start_line(self) -> str:
        return f"{self.method} {self.uri} {self.version}"


@dataclass(eq=True)
class Response(_Message):
    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    version: str = "SIP/2.0"

    def _start_line(self) -> str:
        return f"{self.version} {self.status} {self.reason}"


def parse_message(data: bytes) -> Request | Response:
    """Parse one UDP datagram (or one message cut out by StreamFramer)."""
    if len(data) > MAX_MESSAGE_BYTES:
        _refuse_oversized(data)
    raw = split_datagram(data)
    if not raw.start_line:
        raise SipParseError("no start line (keep-alive or empty datagram)", status=None)
    if raw.start_line.startswith("SIP/"):
        return _parse_response(raw)
    return _parse_request(raw)


def _refuse_oversized(data: bytes) -> None:
    """513 (RFC 3261 21.5.14) for a request over MAX_MESSAGE_BYTES, addressed from its first
    MAX_HEADER_BYTES only; anything else that large is dropped."""
    raw = split_datagram(data[:MAX_HEADER_BYTES])
    words = raw.start_line.split()
    partial = None
    if len(words) == 3 and words[2] == "SIP/2.0" and TOKEN.fullmatch(words[0]):
        partial = Request(words[0], words[1], Headers(raw.fields))
    reason = f"message over {MAX_MESSAGE_BYTES} octets"
    raise SipParseError(reason, status=513 if partial else None, partial=partial)


def _parse_response(raw: RawMessage) -> Response:
    line = _STATUS_LINE.fullmatch(raw.start_line)
    if line is None or line.group(1) != "SIP/2.0":
        raise SipParseError(f"malformed Status-Line {raw.start_line[:60]!r}", status=None)
    response = Response(int(line.group(2)), line.group(3) or "", Headers(raw.fields))
    problem = _body_problem(raw, response) or _header_problem(response)
    if problem:
        raise SipParseError(problem, status=None)
    return response


def _parse_request(raw: RawMessage) -> Request:
    line = _REQUEST_LINE.fullmatch(raw.start_line)
    if line is None:
        words = raw.start_line.split()
        if not words or not TOKEN.fullmatch(words[0]):
            raise SipParseError(f"not a SIP message: {raw.start_line[:60]!r}", status=None)
        partial = Request(words[0], words[1] if len(words) > 1 else "", Headers(raw.fields))
        raise SipParseError("malformed Request-Line", partial=partial)
    request = Request(line.group(1), line.group(2), Headers(raw.fields), version=line.group(3))
    problem = (
        _body_problem(raw, request) or _header_problem(request) or _request_uri_problem(request.uri)
    )
    if problem:
        raise SipParseError(problem, partial=request)
    return request


def _body_problem(raw: RawMessage, message: Request | Response) -> str | None:
    """Frame the body into `message`; or say what is wrong with the header lines or framing."""
    if raw.problems:
        return raw.problems[0]
    try:
        message.body = frame_body(raw)
    except ValueError as error:
        return str(error)
    return None


def _header_problem(message: Request | Response) -> str | None:
    headers = message.headers
    for name in ("Call-ID", "From", "To", "CSeq"):
        count = headers.count(name)
        if count != 1:
            return f"{'missing' if count == 0 else 'more than one'} {name}"
    if not message.call_id:
        return "empty Call-ID"
    vias = headers.get_all("Via")
    if not vias:
        return "missing Via"
    try:
        parse_cseq(headers.get("CSeq") or "")
        for via in vias:
            Via.parse(via)
        for name in _NAME_ADDR_HEADERS:
            for value in headers.get_all(name):
                if not (name == "Contact" and value == "*"):
                    NameAddr.parse(value)
    except ValueError as error:
        return str(error)
    return None


def _request_uri_problem(uri: str) -> str | None:
    try:
        parsed = parse_uri(uri)
    except ValueError as error:
        return f"Request-URI: {error}"
    if isinstance(parsed, SipUri) and parsed.headers:
        return "Request-URI must not carry headers"  # RFC 3261 19.1.5; RFC 4475 3.1.2.11
    return None


def make_response(
    request: Request,
    status: int,
    reason: str | None = None,
    to_tag: str | None = None,
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    """A response to `request` (RFC 3261 8.2.6): Via(s), From, To (+tag), Call-ID, CSeq copied;
    Timestamp too for 100 Trying."""
    headers = Headers()
    copied = ("Via", "From", "To", "Call-ID", "CSeq", *(("Timestamp",) if status == 100 else ()))
    for name, value in request.headers.items():
        if name in copied:
            if name == "To" and to_tag and "tag" not in _params_of(value):
                value = f"{value};tag={to_tag}"
            headers.add(name, value)
    if content_type is not None:
        headers.add("Content-Type", content_type)
    return Response(status, reason or REASON_PHRASES.get(status, ""), headers, body)


def _params_of(name_addr: str) -> dict[str, str | None]:
    try:
        return NameAddr.parse(name_addr).params
    except ValueError:
        return {}
