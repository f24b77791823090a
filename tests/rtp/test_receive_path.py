"""A phone's RTP stream through the whole receive path: session -> in-band bank -> merger.

The phone sends each press as RFC 4733 events while the tone also plays in its audio, as many
phones do; SIPp-style PT 97 packets are mixed in. Every press must come out exactly once.
"""

import struct

import numpy as np

from ivr.rtp.dtmf_merge import DtmfMerger
from ivr.rtp.g711 import PCMU
from ivr.rtp.inband_dtmf import COLUMN_HZ, KEYS, ROW_HZ, InbandDtmfBank
from ivr.rtp.packet import RtpPacket
from ivr.rtp.session import RtpSession
from ivr.rtp.telephone_event import EVENT_DIGITS

CALLER = ("127.0.0.1", 40002)


def phone_stream(presses: str, tones_in_audio: bool) -> list[tuple[float, bytes]]:
    """(send time, datagram): 120 ms presses with 120 ms gaps, audio every 20 ms."""
    schedule = []  # per 20 ms frame: (key held or "", first frame of that press)
    for number, key in enumerate(presses):
        schedule += [(key, 12 * number)] * 6 + [("", 0)] * 6
    datagrams = []
    seq, ssrc = 100, 0xCAFE
    t = np.arange(160) / 8000
    for n, (key, press_start) in enumerate(schedule):
        at = 0.02 * n
        pcm = np.zeros(160)
        if key and tones_in_audio:
            index = KEYS.index(key)
            for hz in (ROW_HZ[index // 4], COLUMN_HZ[index % 4]):
                pcm += 5000 * np.sin(2 * np.pi * hz * (t + at))
        audio = PCMU.encode(pcm.astype(np.int16))
        datagrams.append((at, RtpPacket(0, seq, n * 160, ssrc, audio).serialize()))
        datagrams.append((at, RtpPacket(97, seq + 1, n * 160, ssrc, b"\0" * 4).serialize()))
        seq += 2
        if key:
            end = n + 1 == len(schedule) or schedule[n + 1][0] != key
            payload = struct.pack("!BBH", EVENT_DIGITS.index(key), 0x80 if end else 0, 160)
            for _copy in range(3 if end else 1):  # the end packet goes out three times
                packet = RtpPacket(101, seq, press_start * 160, ssrc, payload)
                datagrams.append((at, packet.serialize()))
                seq += 1
    return datagrams


def received_digits(presses: str, tones_in_audio: bool) -> str:
    session = RtpSession(PCMU, CALLER, telephone_event_pt=101)
    bank, merger = InbandDtmfBank(), DtmfMerger()
    digits = []
    last_tick = 0.0
    for at, data in phone_stream(presses, tones_in_audio):
        if at > last_tick:  # the pacing clock's tick: batched in-band detection
            digits += [d for _call, d in bank.detect() if merger.accept(d, "inband", at)]
            last_tick = at
        got = session.receive(data, CALLER, at)
        digits += [d for d in got.digits if merger.accept(d, "rfc4733", at)]
        if got.payload is not None:
            bank.add("call", PCMU.decode(got.payload))
    return "".join(digits)


def test_rfc4733_press_with_inband_leak_counts_once_and_repeats_count():
    assert received_digits("1150#", tones_in_audio=True) == "1150#"


def test_rfc4733_with_silent_audio_gives_the_same_digits():
    assert received_digits("1150#", tones_in_audio=False) == "1150#"


def test_the_tones_alone_are_heard_in_band():
    bank = InbandDtmfBank()
    session = RtpSession(PCMU, CALLER)  # no telephone-event negotiated: PT 101 is ignored
    found = []
    for at, data in phone_stream("1150#", tones_in_audio=True):
        got = session.receive(data, CALLER, at)
        if got.payload is not None:
            bank.add("call", PCMU.decode(got.payload))
            found += [d for _call, d in bank.detect()]
    assert "".join(found) == "1150#"
