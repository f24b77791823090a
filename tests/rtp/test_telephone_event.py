import struct

from ivr.rtp.telephone_event import TelephoneEventDecoder


def event(code: int, end: bool = False, duration: int = 160) -> bytes:
    return struct.pack("!BBH", code, (0x80 if end else 0) | 10, duration)


def press(decoder: TelephoneEventDecoder, ssrc: int, timestamp: int, code: int) -> list[str]:
    """A press as phones send it: updates every 50 ms, then the end packet three times."""
    payloads = [event(code, duration=d) for d in (0, 400, 800)] + [event(code, True, 960)] * 3
    return [d for p in payloads if (d := decoder.feed(ssrc, timestamp, p))]


def test_end_packet_retransmissions_count_once():
    assert press(TelephoneEventDecoder(), 1, 1000, 5) == ["5"]


def test_every_key_maps_to_its_digit():
    decoder = TelephoneEventDecoder()
    found = [decoder.feed(7, 160 * i, event(i, True)) for i in range(16)]
    assert "".join(found) == "0123456789*#ABCD"


def test_same_digit_pressed_twice_counts_twice():
    decoder = TelephoneEventDecoder()
    assert press(decoder, 1, 1000, 1) + press(decoder, 1, 3000, 1) == ["1", "1"]


def test_press_whose_start_and_end_were_lost_still_counts_once():
    decoder = TelephoneEventDecoder()
    assert decoder.feed(1, 500, event(9, duration=800)) == "9"  # start lost
    assert decoder.feed(1, 500, event(9, duration=1200)) is None  # end packets lost
    assert decoder.feed(1, 900, event(9, True)) == "9"  # only the end of the next press seen


def test_new_ssrc_mid_call_is_decoded():
    decoder = TelephoneEventDecoder()
    assert press(decoder, 1, 1000, 2) == ["2"]
    assert press(decoder, 2, 1000, 2) == ["2"]


def test_late_retransmission_after_a_newer_press_is_absorbed():
    decoder = TelephoneEventDecoder()
    assert press(decoder, 1, 1000, 3) + press(decoder, 1, 2000, 4) == ["3", "4"]
    assert decoder.feed(1, 1000, event(3, True)) is None


def test_non_digit_events_and_short_payloads_are_ignored():
    decoder = TelephoneEventDecoder()
    assert decoder.feed(1, 0, event(16)) is None  # flash
    assert decoder.feed(1, 0, b"\x01\x80") is None
