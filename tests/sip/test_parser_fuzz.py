"""No bytes may crash the SIP layer: random and mutated input only ever yields a message or
SipParseError (FramingError for TCP, NoCommonCodec for SDP), and whatever parses keeps the
parser's promises (typed accessors work, re-serialising is stable, validation answers)."""

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr.sip.message import Request, SipParseError, StreamFramer, parse_message
from ivr.sip.parser import FramingError
from ivr.sip.sdp import MediaChoice, NoCommonCodec, negotiate
from ivr.sip.validation import check_request

TORTURE = Path(__file__).parent / "torture"
SEEDS = [path.read_bytes() for path in sorted(TORTURE.glob("*.dat"))]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Octets that matter to the grammar, so mutations hit the interesting paths often.
SPECIAL = st.sampled_from(
    [b"\r\n", b"\r\n ", b":", b";", b",", b"<", b">", b'"', b"\\", b"@", b"%", b"%0", b"=",
     b" ", b"\x00", b"\xff", b"-1", b"99999999999", b"SIP/2.0", b"\r\n\r\n", b"l: 5\r\n"]
)  # fmt: skip


@st.composite
def mutated(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        where = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        if action == "truncate":
            del data[where:]
        elif action == "delete":
            del data[where : where + draw(st.integers(1, 20))]
        else:
            chunk = draw(st.one_of(SPECIAL, st.binary(min_size=1, max_size=8)))
            data[where : where + (len(chunk) if action == "replace" else 0)] = chunk
    return bytes(data)


def assert_parses_or_rejects(data: bytes) -> None:
    try:
        message = parse_message(data)
    except SipParseError as error:
        assert error.status in (None, 400)
        assert (error.partial is None) == (error.status is None)
        return
    # The guarantees parse_message documents hold for everything it returns.
    assert message.call_id
    assert message.cseq[0] <= 2**32 - 1
    assert message.top_via.host
    _ = (message.from_tag, message.to_tag)
    wire = message.serialize()
    assert parse_message(wire).serialize() == wire
    if isinstance(message, Request):
        response = check_request(message)
        assert response is None or 400 <= response.status < 600


@FUZZ
@given(st.one_of(st.binary(max_size=2000), st.text(max_size=500).map(str.encode)))
def test_random_bytes_never_crash_the_parser(data):
    assert_parses_or_rejects(data)


@FUZZ
@given(mutated())
def test_mutated_torture_messages_never_crash_the_parser(data):
    assert_parses_or_rejects(data)


@FUZZ
@given(st.sampled_from(SEEDS), st.lists(st.integers(1, 300), max_size=20))
def test_stream_framer_on_any_chunking_yields_messages_or_framing_error(data, cuts):
    framer = StreamFramer()
    position = 0
    try:
        for size in [*cuts, len(data)]:
            for frame in framer.feed(data[position : position + size]):
                assert_parses_or_rejects(frame)
            position += size
    except FramingError as error:
        assert error.reason


@FUZZ
@given(mutated())
def test_stream_framer_on_mutated_input(data):
    try:
        for frame in StreamFramer().feed(data):
            assert_parses_or_rejects(frame)
    except FramingError:
        pass


SDP_LINES = st.sampled_from(
    [b"v=0", b"c=IN IP4 10.0.0.1", b"c=IN", b"m=audio 4000 RTP/AVP 0 8 101", b"m=audio x y",
     b"m=video 0 RTP/AVP 31", b"a=rtpmap:101 telephone-event/8000", b"a=rtpmap:0 PCMU/x",
     b"a=rtpmap:", b"a=sendonly", b"a=inactive", b"m=", b"=", b"c=IN IP4 0.0.0.0"]
)  # fmt: skip


@FUZZ
@given(
    st.lists(
        st.one_of(SDP_LINES, st.binary(max_size=30), st.text(max_size=30).map(str.encode)),
        max_size=15,
    )
)
def test_any_sdp_yields_a_choice_or_no_common_codec(lines):
    try:
        choice = negotiate(b"\r\n".join(lines))
    except NoCommonCodec:
        return
    assert isinstance(choice, MediaChoice)
    assert choice.codec in ("PCMU", "PCMA")
