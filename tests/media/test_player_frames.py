"""Prompt files to G.711 frames (ivr.media.frames)."""

import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest

from ivr.media.frames import encode_frames, read_pcm_8k
from ivr.rtp.g711 import PCMU, Codec


def write_wav(path: Path, pcm: np.ndarray, rate: int = 8000, channels: int = 1) -> Path:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(channels)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.asarray(pcm, dtype="<i2").tobytes())
    return path


def load_frames(path: Path, codec: Codec) -> tuple[bytes, ...]:
    return encode_frames(read_pcm_8k(path), codec)


def sine(hz: float, seconds: float, rate: int) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def test_8k_wav_becomes_160_byte_frames_padded_with_silence(tmp_path):
    path = write_wav(tmp_path / "p.wav", sine(440, 0.41, 8000))  # 3280 samples
    frames = load_frames(path, PCMU)
    assert len(frames) == 21
    assert all(len(f) == 160 for f in frames)
    assert frames[-1][80:] == b"\xff" * 80
    decoded = PCMU.decode(b"".join(frames))[:3280]
    assert np.max(np.abs(decoded - sine(440, 0.41, 8000))) < 400


@pytest.mark.parametrize(("rate", "channels"), [(16000, 1), (44100, 2)])
def test_other_rates_and_stereo_are_resampled_to_8k_mono(tmp_path, rate, channels):
    mono = sine(1000, 1.0, rate)
    pcm = np.repeat(mono, channels) if channels == 2 else mono
    path = write_wav(tmp_path / "hi.wav", pcm, rate, channels)
    frames = load_frames(path, PCMU)
    assert abs(len(frames) - 50) <= 1
    decoded = PCMU.decode(b"".join(frames[5:45])).astype(float)
    spectrum = np.abs(np.fft.rfft(decoded))
    assert np.argmax(spectrum) * 8000 / len(decoded) == pytest.approx(1000, abs=10)


def test_espeak_prompt_through_sox_is_loaded(tmp_path):
    path = tmp_path / "prompt.wav"
    speech = subprocess.run(
        ["espeak-ng", "-v", "cmn-latn-pinyin", "qing3 an4 yi1", "--stdout"],
        capture_output=True,
        check=True,
    ).stdout
    (tmp_path / "raw.wav").write_bytes(speech)  # 22.05 kHz from espeak: the pydub path
    frames = load_frames(tmp_path / "raw.wav", PCMU)
    subprocess.run(["sox", str(tmp_path / "raw.wav"), "-r", "8000", str(path)], check=True)
    assert abs(len(load_frames(path, PCMU)) - len(frames)) <= 1
    assert np.abs(PCMU.decode(b"".join(frames)).astype(int)).max() > 1000


def test_encode_frames_of_empty_audio_is_empty():
    assert encode_frames(np.zeros(0, dtype=np.int16), PCMU) == ()
