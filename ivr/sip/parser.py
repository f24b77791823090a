"""SIP wire format below the message model: header-section lexing and message framing.

`split_datagram` cuts one UDP datagram into start line, header fields and body (RFC 3261
7.3.1 folding, 7.5 leading CRLFs, 18.3 Content-Length). `StreamFramer` finds message
boundaries in a TCP byte stream. Neither interprets header values beyond Content-Length;
`ivr.sip.message.parse_message` builds typed messages on top of them.

Bounds, so that no message costs the reactor more than a small, fixed amount of work: a
message over MAX_MESSAGE_BYTES is answered 513 from its first MAX_HEADER_BYTES alone; only
the first MAX_HEADER_LINES header lines are ever split (more is a 400); the stream framer
looks at each received octet a bounded number of times and reads a message's header section
once, however the octets are cut into reads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ivr.sip.headers import canonical_name
from ivr.sip.uri import TOKEN

if TYPE_CHECKING:
    from ivr.sip.message import Request

MAX_HEADER_BYTES = 16 * 1024
MAX_BODY_BYTES = 16 * 1024  # an SDP offer is a few hundred octets (ivr.sip.sdp.MAX_SDP_BYTES)
MAX_MESSAGE_BYTES = MAX_HEADER_BYTES + MAX_BODY_BYTES
MAX_HEADER_LINES = 128  # header field lines (folded continuations count); phones send ~15
_HEADER_END = re.compile(rb"\r?\n\r?\n")
_LINE_END = re.compile(r"\r?\n")
_DIGITS = re.compile(r"[0-9]+")


class SipParseError(Exception):
    """A message the parser will not accept.

    `status` is the response to send (400, ...) or None when no response is possible or
    allowed (responses, garbage); `partial` is then the request as far as it could be read,
    enough for `make_response` to copy Via, From, To, Call-ID and CSeq.
    """

    def __init__(self, reason: str, status: int | None = 400, partial: Request | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.partial = partial


class FramingError(Exception):
    """A TCP stream whose message boundaries can no longer be found: close the connection.

    `messages` holds the whole messages the same `feed` call framed before the loss; they
    are sound and should still be handled.
    """

    def __init__(self, reason: str, messages: list[bytes] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.messages = messages or []


@dataclass
class RawMessage:
    """A datagram cut into its parts; `problems` lists what was wrong with the header lines."""

    start_line: str
    fields: list[tuple[str, str]]
    rest: bytes  # everything after the blank line; Content-Length decides how much is body
    problems: list[str] = field(default_factory=list)


def decode(data: bytes) -> str:
    """UTF-8 text that re-encodes to the very same octets, whatever they were."""
    return data.decode("utf-8", errors="surrogateescape")


def encode(text: str) -> bytes:
    return text.encode("utf-8", errors="surrogateescape")


def split_datagram(data: bytes) -> RawMessage:
    """Start line, unfolded header fields and the octets after the header section.

    A datagram without the closing blank line is taken to end its header section at its
    end (RFC 4475 3.1.2.15's archived `baddn` is such a datagram).
    """
    data = data.lstrip(b"\r\n")
    end = _HEADER_END.search(data)
    head, rest = (data[: end.start()], data[end.end() :]) if end else (data.rstrip(b"\r\n"), b"")
    lines = _LINE_END.split(decode(head), maxsplit=MAX_HEADER_LINES + 1)
    message = RawMessage(lines[0], [], rest)
    if len(lines) > MAX_HEADER_LINES + 1:
        message.problems.append(f"more than {MAX_HEADER_LINES} header lines")
        del lines[MAX_HEADER_LINES + 1 :]
    for line in _unfold(lines[1:]):
        name, colon, value = line.partition(":")
        name = name.rstrip(" \t")
        if not colon or not TOKEN.fullmatch(name):
            message.problems.append(f"malformed header line {line[:40]!r}")
        else:
            message.fields.append((canonical_name(name), value.strip(" \t")))
    return message


def _unfold(lines: list[str]) -> list[str]:
    """Join continuation lines (starting with SP/HT) to the line they continue."""
    unfolded: list[str] = []
    for line in lines:
        if line[:1] in (" ", "\t") and unfolded:
            unfolded[-1] += " " + line.strip(" \t")
        else:
            unfolded.append(line)
    return unfolded


def content_length(fields: list[tuple[str, str]]) -> int | None:
    """The declared body length, None when absent; ValueError when unusable."""
    values = [value for name, value in fields if name == "Content-Length"]
    if not values:
        return None
    if len(values) > 1:
        raise ValueError("more than one Content-Length")
    if not _DIGITS.fullmatch(values[0]):
        raise ValueError(f"invalid Content-Length {values[0][:20]!r}")
    return int(values[0])


def frame_body(message: RawMessage) -> bytes:
    """The body of a datagram: Content-Length octets, trailing octets ignored (RFC 3261 18.3);
    without Content-Length the rest of the datagram (RFC 2543 senders)."""
    length = content_length(message.fields)
    if length is None:
        return message.rest
    if length > len(message.rest):
        raise ValueError(f"Content-Length {length} exceeds the {len(message.rest)} octets sent")
    return message.rest[:length]


class StreamFramer:
    """Cuts a TCP byte stream into whole SIP messages, in time linear in the octets received.

    CRLFs between messages (RFC 5626 keep-alives) are skipped. A message without
    Content-Length is taken to have no body (stream senders must send it, RFC 3261 18.3).
    A negative, repeated or unreadable Content-Length, a header section over
    MAX_HEADER_BYTES or a body over MAX_BODY_BYTES raises FramingError.

    The search for the blank line resumes where the last read left it, and once a header
    section is complete its Content-Length is read once: later reads only wait for the body.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scanned = 0  # octets of the buffer known to hold no end of the header section
        self._total: int | None = None  # the current message's whole length, once known

    @property
    def holds_partial(self) -> bool:
        """Whether octets of an unfinished message are waiting (CRLF keep-alives aside)."""
        return self._total is not None or self._scanned > 0

    def feed(self, data: bytes) -> list[bytes]:
        self._buffer += data
        messages: list[bytes] = []
        while True:
            if self._total is None and not self._read_header(messages):
                return messages
            assert self._total is not None
            if len(self._buffer) < self._total:
                return messages
            messages.append(bytes(self._buffer[: self._total]))
            del self._buffer[: self._total]
            self._total = None
            self._scanned = 0

    def _read_header(self, messages: list[bytes]) -> bool:
        """Find the current message's header section; False while it is incomplete."""
        if self._scanned == 0:
            skipped = len(self._buffer) - len(self._buffer.lstrip(b"\r\n"))
            del self._buffer[:skipped]
        # the blank line may straddle reads: look again at the last 3 octets scanned
        start = max(0, self._scanned - 3)
        end = _HEADER_END.search(self._buffer, start, MAX_HEADER_BYTES + 4)
        if end is None:
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise FramingError("header section too long", messages)
            self._scanned = len(self._buffer)
            return False
        raw = split_datagram(bytes(self._buffer[: end.start()]))
        try:
            length = content_length(raw.fields) or 0
        except ValueError as error:
            raise FramingError(str(error), messages) from None
        if length > MAX_BODY_BYTES:
            raise FramingError(f"Content-Length {length} too large", messages)
        self._total = end.end() + length
        return True
