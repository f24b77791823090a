"""What a caller heard: find a known recording inside the audio a real phone recorded.

A prompt travels G.711-encoded through RTP and the phone's jitter buffer, so its samples come
back changed a little and shifted in time; normalized cross-correlation still finds it with a
score near 1, while any other clip scores far lower.
"""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np


def read_wav(path: Path) -> np.ndarray:
    """8 kHz mono 16-bit WAV -> float64 samples."""
    with wave.open(str(path)) as handle:
        if handle.getframerate() != 8000 or handle.getsampwidth() != 2:
            raise ValueError(f"{path}: expected 8 kHz 16-bit, got {handle.getparams()}")
        data = np.frombuffer(handle.readframes(handle.getnframes()), dtype="<i2")
        if handle.getnchannels() > 1:
            data = data.reshape(-1, handle.getnchannels())[:, 0]
    return data.astype(np.float64)


def match_score(recording: np.ndarray, clip: np.ndarray) -> tuple[float, float]:
    """(best normalized correlation in [0, 1], offset in seconds) of `clip` inside `recording`."""
    if len(clip) == 0 or len(recording) < len(clip):
        return 0.0, 0.0
    size = 1 << int(np.ceil(np.log2(len(recording) + len(clip))))
    correlation = np.fft.irfft(
        np.fft.rfft(recording, size) * np.conj(np.fft.rfft(clip, size)), size
    )[: len(recording) - len(clip) + 1]
    energy = np.concatenate(([0.0], np.cumsum(recording * recording)))
    window = energy[len(clip) :] - energy[: len(recording) - len(clip) + 1]
    norm = np.sqrt(np.maximum(window, 1e-9) * float(np.dot(clip, clip)))
    scores = np.abs(correlation) / norm
    scores[window < 1e-3 * float(np.dot(clip, clip))] = 0.0  # silence cannot match speech
    best = int(np.argmax(scores))
    return float(scores[best]), best / 8000.0


def rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples * samples))) if len(samples) else 0.0
