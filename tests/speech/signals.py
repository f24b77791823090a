"""Test audio at the phone's format (8 kHz int16): real Korean speech from espeak-ng, and noise."""

from __future__ import annotations

import functools
import subprocess

import numpy as np

from ivr.speech.listener import CallListener

RATE = 8000
FRAME = 160


@functools.cache
def say(text: str) -> np.ndarray:
    """espeak-ng's Korean `text`, through G.711 mu-law and back, as a phone would deliver it;
    trimmed to the speech itself so tests control the silence around it."""
    wav = subprocess.run(
        ["espeak-ng", "-v", "ko", text, "--stdout"], capture_output=True, check=True
    ).stdout
    pcm = subprocess.run(
        ["sox", "-t", "wav", "-", "-r", "8000", "-c", "1", "-e", "u-law", "-t", "ul", "-"],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout
    linear = subprocess.run(
        [
            "sox",
            "-t",
            "ul",
            "-r",
            "8000",
            "-c",
            "1",
            "-",
            "-e",
            "signed-integer",
            "-b",
            "16",
            "-t",
            "raw",
            "-",
        ],
        input=pcm,
        capture_output=True,
        check=True,
    ).stdout
    samples = np.frombuffer(linear, dtype="<i2")
    voiced = np.flatnonzero(np.abs(samples) > 200)  # espeak pads with silence: cut it off
    return samples[voiced[0] : voiced[-1] + 1].copy()


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * RATE), dtype=np.int16)


def white_noise(seconds: float, rms: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, rms, int(seconds * RATE))
    return np.clip(noise, -32768, 32767).astype(np.int16)


def pink_noise(seconds: float, rms: float, seed: int = 2) -> np.ndarray:
    """1/f noise: white noise shaped in the frequency domain, scaled to `rms`."""
    count = int(seconds * RATE)
    spectrum = np.fft.rfft(np.random.default_rng(seed).normal(0.0, 1.0, count))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, count)
    return np.clip(noise * rms / noise.std(), -32768, 32767).astype(np.int16)


def dtmf_tones(keys: str, tone_s: float = 0.12, gap_s: float = 0.08) -> np.ndarray:
    """Keypad tones as a phone plays them in-band (both sines at -10 dBFS each)."""
    rows = {
        "1": 697,
        "2": 697,
        "3": 697,
        "4": 770,
        "5": 770,
        "6": 770,
        "7": 852,
        "8": 852,
        "9": 852,
        "*": 941,
        "0": 941,
        "#": 941,
    }
    cols = {
        "1": 1209,
        "2": 1336,
        "3": 1477,
        "4": 1209,
        "5": 1336,
        "6": 1477,
        "7": 1209,
        "8": 1336,
        "9": 1477,
        "*": 1209,
        "0": 1336,
        "#": 1477,
    }
    t = np.arange(int(tone_s * RATE)) / RATE
    parts = []
    for key in keys:
        tone = np.sin(2 * np.pi * rows[key] * t) + np.sin(2 * np.pi * cols[key] * t)
        parts += [(tone * 0.316 * 32767 / 2).astype(np.int16), silence(gap_s)]
    return np.concatenate(parts)


def call_audio(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts)


def feed(listener: CallListener, audio: np.ndarray) -> None:
    """Hand `audio` to the listener one 20 ms RTP frame at a time, as the RTP layer does."""
    for start in range(0, len(audio) - FRAME + 1, FRAME):
        listener.feed(audio[start : start + FRAME])
