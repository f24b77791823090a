"""The energy VAD on synthetic frames: when utterances open and close (no model involved)."""

from __future__ import annotations

import numpy as np

from ivr.speech.settings import VadSettings
from ivr.speech.vad import VadEvent, VoiceActivityDetector, frame_energy_db

from .signals import FRAME, RATE, white_noise

SETTINGS = VadSettings(start_ms=60, end_silence_ms=600, max_utterance_ms=3000)
QUIET = np.zeros(FRAME, dtype=np.int16)


def tone_frame(dbfs: float, index: int = 0) -> np.ndarray:
    t = (np.arange(FRAME) + index * FRAME) / RATE
    amplitude = 32768 * np.sqrt(2) * 10 ** (dbfs / 20)
    return (amplitude * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def run(vad: VoiceActivityDetector, frames: list[np.ndarray]) -> list[VadEvent]:
    return [vad.process(frame) for frame in frames]


def test_frame_energy_is_in_dbfs() -> None:
    assert abs(frame_energy_db(tone_frame(-20.0)) + 20.0) < 0.2
    assert frame_energy_db(QUIET) < -90


def test_silence_never_opens_an_utterance() -> None:
    vad = VoiceActivityDetector(SETTINGS)
    assert set(run(vad, [QUIET] * 500)) == {VadEvent.QUIET}


def test_speech_opens_after_start_frames_and_closes_after_the_hangover() -> None:
    vad = VoiceActivityDetector(SETTINGS)
    events = run(vad, [tone_frame(-20, i) for i in range(50)] + [QUIET] * 40)
    assert events[:3] == [VadEvent.QUIET, VadEvent.QUIET, VadEvent.START]
    assert set(events[3:79]) == {VadEvent.SPEECH}
    assert events[79] is VadEvent.END  # the 30th quiet frame: 600 ms of silence
    assert set(events[80:]) == {VadEvent.QUIET}


def test_a_click_shorter_than_start_does_not_open_an_utterance() -> None:
    vad = VoiceActivityDetector(SETTINGS)
    frames = [QUIET] * 10 + [tone_frame(-6)] * 2 + [QUIET] * 10
    assert set(run(vad, frames)) == {VadEvent.QUIET}


def test_a_pause_between_words_within_the_hangover_keeps_the_utterance() -> None:
    vad = VoiceActivityDetector(SETTINGS)
    word = [tone_frame(-20, i) for i in range(20)]
    events = run(vad, word + [QUIET] * 25 + word + [QUIET] * 30)
    assert events.count(VadEvent.START) == 1
    assert events.count(VadEvent.END) == 1
    assert events[-1] is VadEvent.END


def test_an_utterance_is_cut_at_its_maximum_length() -> None:
    vad = VoiceActivityDetector(SETTINGS)
    events = run(vad, [tone_frame(-20, i) for i in range(200)])
    assert events[149] is VadEvent.END  # 3000 ms = 150 frames
    assert events[152] is VadEvent.START  # still talking: a new utterance opens


def test_quiet_speech_under_the_absolute_gate_is_ignored() -> None:
    vad = VoiceActivityDetector(SETTINGS)
    assert set(run(vad, [tone_frame(-55, i) for i in range(100)])) == {VadEvent.QUIET}


def test_steady_noise_stops_counting_as_speech_once_the_floor_has_risen() -> None:
    vad = VoiceActivityDetector(SETTINGS)
    noise = white_noise(20.0, rms=1000)  # about -30 dBFS, well above the absolute gate
    events = run(vad, [noise[i : i + FRAME] for i in range(0, len(noise), FRAME)])
    assert VadEvent.START in events[:10]
    assert set(events[-250:]) == {VadEvent.QUIET}  # the last 5 s: just the line's hiss


def test_speech_above_steady_noise_is_still_heard() -> None:
    vad = VoiceActivityDetector(SETTINGS)
    noise = white_noise(20.0, rms=300)
    noise_frames = [noise[i : i + FRAME] for i in range(0, len(noise), FRAME)]
    run(vad, noise_frames)
    speech = [noise_frames[i] + tone_frame(-12, i) for i in range(40)]
    assert VadEvent.START in run(vad, speech)


def test_durations_hold_for_30_ms_packets_too() -> None:
    vad = VoiceActivityDetector(SETTINGS)
    long_tone = np.concatenate([tone_frame(-20, i) for i in range(60)])
    packets = [long_tone[i : i + 240] for i in range(0, len(long_tone), 240)]
    quiet = [np.zeros(240, dtype=np.int16)] * 30
    events = run(vad, packets + quiet)
    assert events[:2] == [VadEvent.QUIET, VadEvent.START]  # 60 ms = two 30 ms packets
    assert events.index(VadEvent.END) == len(packets) + 19  # 600 ms = 20 quiet packets
