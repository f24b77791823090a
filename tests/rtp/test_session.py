import random
import struct

import numpy as np
import pytest

from ivr.rtp.g711 import PCMA, PCMU
from ivr.rtp.packet import RtpPacket
from ivr.rtp.session import RtpSession

SDP_ADDRESS = ("127.0.0.1", 40000)
CALLER = ("127.0.0.1", 40002)


def incoming(pt: int, payload: bytes, seq: int = 1, ts: int = 0, ssrc: int = 5) -> bytes:
    return RtpPacket(pt, seq, ts, ssrc, payload).serialize()


def dtmf(code: int, end: bool, ts: int, ssrc: int = 5) -> bytes:
    return incoming(101, struct.pack("!BBH", code, 0x80 if end else 0, 400), ts=ts, ssrc=ssrc)


def make_session(**kwargs) -> RtpSession:
    return RtpSession(PCMU, SDP_ADDRESS, telephone_event_pt=101, rng=random.Random(1), **kwargs)


def test_outgoing_packets_advance_sequence_by_one_and_timestamp_by_160():
    session = make_session()
    packets = [RtpPacket.parse(session.packet(b"\xff" * 160)) for _ in range(3)]
    assert {p.ssrc for p in packets} == {session.ssrc}
    assert [(p.sequence - packets[0].sequence) % 65536 for p in packets] == [0, 1, 2]
    assert [p.timestamp - packets[0].timestamp for p in packets] == [0, 160, 320]
    assert all(p.payload_type == 0 for p in packets)


def test_start_values_are_random_per_session():
    a, b = RtpSession(PCMU, SDP_ADDRESS), RtpSession(PCMU, SDP_ADDRESS)
    assert (a.ssrc, a.sequence, a.timestamp) != (b.ssrc, b.sequence, b.timestamp)


def test_sequence_and_timestamp_wrap():
    session = make_session()
    session.sequence, session.timestamp = 65535, 0xFFFFFF60
    session.packet(b"")
    assert (session.sequence, session.timestamp) == (0, 0)


def test_skipped_frames_move_the_timestamp_but_not_the_sequence():
    session = make_session()
    first = RtpPacket.parse(session.packet(b"x"))
    session.skip(5)
    after = RtpPacket.parse(session.packet(b"x", marker=True))
    assert after.sequence == (first.sequence + 1) % 65536
    assert after.timestamp == first.timestamp + 6 * 160
    assert after.marker


def test_received_audio_is_its_payload_which_decodes_to_int16():
    session = make_session()
    got = session.receive(incoming(0, bytes([0x80]) * 160), CALLER, now=1.0)
    assert got.digits == ()
    assert got.payload == bytes([0x80]) * 160
    assert PCMU.decode(got.payload).dtype == np.int16
    assert PCMU.decode(got.payload).tolist() == [32124] * 160
    assert session.last_received == 1.0


def test_alaw_session_with_dynamic_telephone_event_pt():
    session = RtpSession(PCMA, SDP_ADDRESS, telephone_event_pt=120)
    payload = session.receive(incoming(8, b"\xd5" * 160), CALLER, 0.0).payload
    assert PCMA.decode(payload).tolist() == [8] * 160
    event = incoming(120, struct.pack("!BBH", 11, 0x80, 800))
    assert session.receive(event, CALLER, 0.0).digits == ("#",)


def test_rfc4733_press_with_three_end_packets_yields_one_digit():
    session = make_session()
    datagrams = [dtmf(7, False, 3200)] * 2 + [dtmf(7, True, 3200)] * 3
    digits = [d for data in datagrams for d in session.receive(data, CALLER, 0.0).digits]
    assert digits == ["7"]


def test_unknown_payload_types_and_garbage_are_ignored():
    session = make_session()
    for data in (incoming(97, b"\0" * 4), incoming(13, b"\0"), b"\x00" * 20, b"junk"):
        got = session.receive(data, ("10.0.0.9", 9), 0.0)
        assert got.digits == () and got.payload is None
    assert session.remote == SDP_ADDRESS
    assert session.last_received is None


def test_remote_address_latches_to_where_caller_media_comes_from():
    session = make_session()
    assert session.remote == SDP_ADDRESS
    session.receive(incoming(0, b"\xff" * 160), CALLER, 0.0)
    assert session.remote == CALLER


def test_a_third_party_neither_takes_the_latch_nor_presses_keys():
    session = make_session()
    session.receive(incoming(0, b"\xff" * 160), CALLER, 0.0)
    stranger = ("192.0.2.7", 5004)
    got = [session.receive(dtmf(1, end, 0, ssrc=9), stranger, 0.1) for end in (False, True)]
    assert [g.digits for g in got] == [(), ()]
    assert session.receive(incoming(0, b"\x00" * 160), stranger, 0.2).payload is None
    assert session.remote == CALLER
    assert session.last_received == 0.0


def test_the_sdp_address_takes_a_guessed_latch_once_and_keeps_it():
    session = make_session()
    spoofer = ("192.0.2.7", 5004)
    session.receive(incoming(0, b"\xff" * 160), spoofer, 0.0)  # won the race
    assert session.receive(incoming(0, b"\x7f" * 160), SDP_ADDRESS, 0.1).payload is not None
    assert session.remote == SDP_ADDRESS
    assert session.receive(incoming(0, b"\xff" * 160), spoofer, 0.2).payload is None
    assert session.receive(incoming(0, b"\xff" * 160), CALLER, 0.3).payload is None
    assert session.remote == SDP_ADDRESS


def test_a_renegotiated_address_opens_a_new_latch():
    session = make_session()
    session.receive(incoming(0, b"\xff" * 160), CALLER, 0.0)
    moved = ("127.0.0.1", 41000)
    session.retarget(moved)
    assert session.remote == moved
    assert session.receive(incoming(0, b"\xff" * 160), moved, 1.0).payload is not None
    assert session.remote == moved
    assert session.receive(incoming(0, b"\xff" * 160), CALLER, 1.1).payload is None


def test_a_payload_type_beyond_seven_bits_is_refused_at_once_not_at_every_packet():
    with pytest.raises(ValueError):
        RtpSession(PCMU, SDP_ADDRESS, payload_type=300)


def test_the_audio_fast_path_gives_what_receive_gives_or_defers_to_it():
    """`audio()` either returns what `receive()` would (and does what it would) or None; fed
    the same datagrams, a session trying it first ends where a session using `receive` does."""
    rng = random.Random(7)
    stranger = ("10.0.0.9", 9)
    header = struct.Struct("!BBHII")
    fast, plain = make_session(), make_session()
    taken = 0
    for n in range(3000):
        first = rng.choice([0x80, 0x80, 0x80, 0x81, 0x90, 0xA0, 0x40])
        pt = rng.choice([0, 0, 8, 101, 97])
        body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 4, 160])))
        data = header.pack(first, pt | rng.choice([0, 0x80]), n, 160 * n, 5) + body
        if first & 0x20 and body:  # padding: the last byte counts it
            data = data[:-1] + bytes([rng.randrange(len(body) + 1)])
        if rng.random() < 0.05:
            data = data[: rng.randrange(14)]
        source = rng.choice([SDP_ADDRESS, SDP_ADDRESS, SDP_ADDRESS, CALLER, stranger])
        quick = fast.audio(data, source, float(n))
        if quick is None:
            quick = fast.receive(data, source, float(n)).payload
        else:
            assert data[0] == 0x80 and source == fast.latched
            taken += 1
        assert quick == plain.receive(data, source, float(n)).payload
        assert (fast.latched, fast.remote, fast.last_received) == (
            plain.latched, plain.remote, plain.last_received,
        )  # fmt: skip
    assert taken > 150  # the fast path was taken (about 1 datagram in 10 qualifies here)
