"""AudioIntake: callers' payloads queued per packet, decoded and analysed once per tick."""

from __future__ import annotations

import numpy as np
import pytest

from ivr.media.intake import AudioIntake
from ivr.rtp.g711 import PCMA, PCMU
from ivr.rtp.inband_dtmf import InbandDtmfBank
from ivr.speech.vad import frame_energies_db, frame_energy_db
from tests.speech.signals import dtmf_tones, pink_noise


class Heard:
    def __init__(self) -> None:
        self.frames: list[tuple[bytes, float | None]] = []

    def feed(self, frame: np.ndarray, energy_db: float | None = None) -> None:
        self.frames.append((frame.tobytes(), energy_db))


def payloads(pcm: np.ndarray, codec=PCMU) -> list[bytes]:
    data = codec.encode(pcm)
    return [data[i : i + 160] for i in range(0, len(data) - 159, 160)]


def test_a_ticks_frames_reach_each_listener_decoded_in_order_with_their_energy() -> None:
    intake = AudioIntake(InbandDtmfBank())
    alice, bob = Heard(), Heard()
    a = payloads(pink_noise(0.06, 2000, seed=3))
    b = payloads(pink_noise(0.06, 300, seed=4), PCMA)
    for n in range(3):
        intake.add("alice", a[n], PCMU, alice)
        intake.add("bob", b[n], PCMA, bob)
        intake.add("carol", a[n], PCMU, None)  # no speech listener: in-band detection only
    assert alice.frames == [] and bob.frames == []  # nothing is decoded before the tick
    intake.tick()
    for heard, sent, codec in ((alice, a, PCMU), (bob, b, PCMA)):
        expected = [codec.decode(payload) for payload in sent]
        assert [frame for frame, _ in heard.frames] == [pcm.tobytes() for pcm in expected]
        energies = [energy for _, energy in heard.frames]
        assert energies == pytest.approx([frame_energy_db(pcm) for pcm in expected], abs=1e-3)
    intake.tick()  # the queue was emptied
    assert len(alice.frames) == 3


def test_in_band_keys_in_queued_payloads_are_detected_once_the_tick_has_run() -> None:
    bank = InbandDtmfBank()
    intake = AudioIntake(bank)
    found = []
    for payload in payloads(dtmf_tones("5")):
        intake.add("caller", payload, PCMU, None)
        intake.tick()
        found += bank.detect()
    assert found == [("caller", "5")]


@pytest.mark.parametrize("size", [160, 80])  # a tick's 20 ms frames; 10 ms packets as they come
def test_a_call_not_heard_in_band_gives_its_audio_to_its_listener_only(size: int) -> None:
    bank = InbandDtmfBank()
    intake = AudioIntake(bank)
    heard = Heard()
    found = []
    tones = PCMU.encode(dtmf_tones("5"))
    tones = tones[: len(tones) - len(tones) % size]
    for start in range(0, len(tones), size):
        payload = tones[start : start + size]
        intake.add("keys-as-events", payload, PCMU, heard, inband=False)
        intake.add("keys-as-tones", payload, PCMU, None)
        intake.tick()
        found += bank.detect()
    assert found == [("keys-as-tones", "5")]
    assert b"".join(frame for frame, _ in heard.frames) == PCMU.decode(tones).tobytes()


def test_other_packet_sizes_are_decoded_as_they_come() -> None:
    bank = InbandDtmfBank()
    intake = AudioIntake(bank)
    heard = Heard()
    tones = PCMU.encode(dtmf_tones("7"))
    for start in range(0, len(tones) - 239, 240):  # 30 ms packets
        intake.add("caller", tones[start : start + 240], PCMU, heard)
    assert len(heard.frames) == len(tones) // 240 and heard.frames[0][1] is None
    assert bank.detect() == [("caller", "7")]


def test_a_forgotten_call_loses_its_queued_audio_and_its_detector() -> None:
    bank = InbandDtmfBank()
    intake = AudioIntake(bank)
    heard, other = Heard(), Heard()
    tone = payloads(dtmf_tones("9"))
    for payload in tone:
        intake.add("gone", payload, PCMU, heard)
        intake.add("stays", payload, PCMU, other)
    intake.forget("gone")
    intake.tick()
    assert heard.frames == [] and len(other.frames) == len(tone)
    assert bank.detect() == [("stays", "9")]


def test_energies_of_many_frames_at_once_equal_one_at_a_time() -> None:
    frames = pink_noise(0.2, 1000, seed=5).reshape(-1, 160)
    frames[0] = 0  # digital silence too
    assert frame_energies_db(frames).tolist() == pytest.approx(
        [frame_energy_db(frame) for frame in frames], abs=1e-3
    )
