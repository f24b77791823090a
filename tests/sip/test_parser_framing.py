"""TCP framing: StreamFramer cuts a byte stream into whole SIP messages."""

import pytest

from ivr.sip.message import FramingError, StreamFramer, parse_message
from ivr.sip.parser import MAX_HEADER_BYTES


def message(call_id: str, body: bytes = b"") -> bytes:
    return (
        f"OPTIONS sip:12333@192.0.2.10 SIP/2.0\r\n"
        f"Via: SIP/2.0/TCP 192.0.2.20;branch=z9hG4bK-{call_id}\r\n"
        f"From: <sip:a@192.0.2.20>;tag=1\r\n"
        f"To: <sip:12333@192.0.2.10>\r\n"
        f"Call-ID: {call_id}\r\n"
        f"CSeq: 1 OPTIONS\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


ONE = message("one", b"hello")
TWO = message("two")
THREE = message("three", b"v=0\r\n\r\n")  # a body holding a blank line


def test_several_messages_in_one_read():
    assert StreamFramer().feed(ONE + TWO + THREE) == [ONE, TWO, THREE]


def test_a_message_split_across_every_possible_read_boundary():
    stream = ONE + THREE
    for cut in range(1, len(stream)):
        framer = StreamFramer()
        assert framer.feed(stream[:cut]) + framer.feed(stream[cut:]) == [ONE, THREE], cut


def test_byte_by_byte_delivery():
    framer = StreamFramer()
    got = [frame for byte in ONE + TWO for frame in framer.feed(bytes([byte]))]
    assert got == [ONE, TWO]


def test_crlf_keep_alives_between_messages_are_skipped():
    framer = StreamFramer()
    assert framer.feed(b"\r\n\r\n") == []
    assert framer.feed(ONE + b"\r\n\r\n\r\n" + TWO + b"\r\n") == [ONE, TWO]
    assert framer.feed(b"\r\n") == []


def test_framed_messages_parse_with_their_bodies():
    bodies = [parse_message(frame).body for frame in StreamFramer().feed(ONE + THREE)]
    assert bodies == [b"hello", b"v=0\r\n\r\n"]


def test_missing_content_length_means_no_body():
    bare = TWO.replace(b"Content-Length: 0\r\n", b"")
    assert StreamFramer().feed(bare + ONE) == [bare, ONE]


def test_waits_for_a_body_longer_than_what_arrived():
    framer = StreamFramer()
    assert framer.feed(ONE[:-2]) == []
    assert framer.feed(ONE[-2:]) == [ONE]


@pytest.mark.parametrize(
    "bad",
    [
        ONE.replace(b"Content-Length: 5", b"Content-Length: -5"),
        ONE.replace(b"Content-Length: 5", b"Content-Length: 5\r\nl: 5"),
        ONE.replace(b"Content-Length: 5", b"Content-Length: five"),
        ONE.replace(b"Content-Length: 5", b"Content-Length: 99999999999"),
    ],
    ids=["negative", "duplicate", "not-a-number", "huge"],
)
def test_unusable_content_length_loses_the_framing(bad):
    with pytest.raises(FramingError):
        StreamFramer().feed(bad)


def test_endless_header_section_is_a_framing_error():
    framer = StreamFramer()
    framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\n")
    with pytest.raises(FramingError):
        for _ in range(MAX_HEADER_BYTES // 1000 + 2):
            framer.feed(b"X-Filler: " + b"x" * 990 + b"\r\n")


def test_oversized_header_section_is_refused_even_when_complete():
    huge = ONE.replace(b"CSeq:", b"X-Filler: " + b"x" * MAX_HEADER_BYTES + b"\r\nCSeq:")
    with pytest.raises(FramingError):
        StreamFramer().feed(huge)


def test_messages_framed_before_the_loss_are_handed_over():
    bad = TWO.replace(b"Content-Length: 0", b"Content-Length: -1")
    with pytest.raises(FramingError) as caught:
        StreamFramer().feed(ONE + THREE + bad)
    assert caught.value.messages == [ONE, THREE]


class _CountingSearch:
    """Wraps the framer's blank-line pattern and counts the octets it is asked to look at."""

    def __init__(self, pattern) -> None:
        self.pattern = pattern
        self.octets = 0

    def search(self, buffer, pos=0, endpos=None):
        end = len(buffer) if endpos is None else min(endpos, len(buffer))
        self.octets += max(0, end - pos)
        return self.pattern.search(buffer, pos, end)


def test_a_header_trickled_byte_by_byte_is_scanned_in_linear_time(monkeypatch):
    from ivr.sip import parser

    counting = _CountingSearch(parser._HEADER_END)
    monkeypatch.setattr(parser, "_HEADER_END", counting)
    slow = ONE.replace(b"CSeq:", b"X-Filler: " + b"x" * 8000 + b"\r\nCSeq:")
    framer = StreamFramer()
    got = [frame for byte in slow for frame in framer.feed(bytes([byte]))]
    assert got == [slow]
    assert counting.octets < 5 * len(slow)  # rescanning from the start: ~len**2 / 2


def test_the_header_is_read_once_however_the_body_is_cut(monkeypatch):
    from ivr.sip import parser

    calls = []
    real = parser.split_datagram
    monkeypatch.setattr(parser, "split_datagram", lambda data: calls.append(1) or real(data))
    body = b"v=0\r\n" * 2000
    whole = message("segments", body)
    framer = StreamFramer()
    head = len(whole) - len(body)
    got = framer.feed(whole[:head])
    for start in range(head, len(whole), 10):
        got += framer.feed(whole[start : start + 10])
    assert got == [whole]
    assert len(calls) == 1
