"""Hold music for callers waiting for an agent: a soft pentatonic tune made here, so it carries
no licence and needs no file. A studio recording at `prompts/studio/hold_music.wav` wins.

Telephone-friendly: notes between 400 Hz and 1 kHz (inside the 300-3400 Hz band), gentle
attack and decay, quiet (-20 dBFS peaks), and no pure 450 Hz tone that could be mistaken for
China's ringback or busy tone; 16 s per loop. Encoded once per codec and shared by every call.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np

from ivr.media.frames import Frames, encode_frames, read_pcm_8k
from ivr.rtp.g711 import SAMPLE_RATE, codec_named

STUDIO = Path(__file__).resolve().parents[2] / "prompts" / "studio" / "hold_music.wav"
# G major pentatonic, one note per half second; a rest (0) every bar.
TUNE = (
    (587, 659, 784, 880, 784, 659, 587, 0),
    (494, 587, 659, 587, 494, 392, 494, 0),
    (587, 659, 784, 988, 880, 784, 659, 0),
    (784, 659, 587, 494, 587, 659, 587, 0),
)
NOTE_SECONDS = 0.5
PEAK = 0.1 * 32767  # -20 dBFS


def _note(frequency: float) -> np.ndarray:
    t = np.arange(int(SAMPLE_RATE * NOTE_SECONDS)) / SAMPLE_RATE
    if frequency == 0:
        return np.zeros_like(t)
    envelope = np.minimum(t / 0.02, 1.0) * np.exp(-3.0 * t)  # a soft pluck
    tone = np.sin(2 * np.pi * frequency * t) + 0.3 * np.sin(4 * np.pi * frequency * t)
    return PEAK * envelope * tone / 1.3


@cache
def hold_music(codec_name: str) -> Frames:
    codec = codec_named(codec_name)
    if STUDIO.exists():
        return encode_frames(read_pcm_8k(STUDIO), codec)
    pcm = np.concatenate([_note(frequency) for bar in TUNE for frequency in bar])
    return encode_frames(pcm.astype(np.int16), codec)
