import struct

import pytest

from ivr.rtp.packet import RtpPacket, RtpParseError, pack_header


def test_serialize_then_parse_round_trips():
    packet = RtpPacket(0, 65535, 0xFFFFFFFF, 0x12345678, b"\xff" * 160, marker=True)
    data = packet.serialize()
    assert data[:2] == b"\x80\x80"
    assert RtpPacket.parse(data) == packet


def test_pack_header_is_the_fixed_twelve_bytes():
    assert pack_header(8, 1, 2, 3) == struct.pack("!BBHII", 0x80, 8, 1, 2, 3)


def test_csrc_extension_and_padding_are_skipped():
    header = struct.pack("!BBHII", 0x80 | 0x20 | 0x10 | 2, 101, 7, 160, 99)
    csrcs = struct.pack("!II", 1, 2)
    extension = struct.pack("!HH", 0xBEDE, 1) + b"\0\0\0\0"
    payload = b"\x01\x8a\x00\xa0"
    padding = b"\0\0\x03"
    packet = RtpPacket.parse(header + csrcs + extension + payload + padding)
    assert (packet.payload_type, packet.sequence, packet.timestamp, packet.ssrc) == (
        101,
        7,
        160,
        99,
    )
    assert packet.payload == payload


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x80\x00\x00",
        struct.pack("!BBHII", 0x40, 0, 0, 0, 0),  # version 1
        struct.pack("!BBHII", 0x8F, 0, 0, 0, 0),  # 15 CSRCs announced, none present
        struct.pack("!BBHII", 0x90, 0, 0, 0, 0) + b"\0\0",  # truncated extension
        struct.pack("!BBHII", 0xA0, 0, 0, 0, 0) + b"\x00\x09",  # padding longer than packet
    ],
)
def test_malformed_packets_raise(data):
    with pytest.raises(RtpParseError):
        RtpPacket.parse(data)
