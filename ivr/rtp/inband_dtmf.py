"""In-band DTMF detection on decoded audio, batched over every call of the process.

Each 20 ms frame (160 samples) is projected on cosines and sines of the 8 DTMF frequencies and
of the 8 second harmonics: a 160x32 matrix, so a tick's frames of all calls, stacked, cost one
matrix product (the same numbers a Goertzel filter per frequency would give; ~1 us a frame).
A frame holds a digit when, for the strongest row tone and the strongest column tone:
  - each is loud enough (energy gate);
  - twist: the column tone is at most 8 dB weaker (normal twist) and at most 4 dB stronger
    (reverse twist) than the row tone;
  - each beats the other tones of its group by 8 dB (one key, not a chord or a sweep);
  - the two tones hold most of the frame's energy (speech and noise are broadband);
  - neither tone's second harmonic is strong (voiced speech is a harmonic series; a DTMF
    generator is not).
A frame whose two strongest tones pass only a loose energy share is a "continuing" frame: it
keeps a press alive across partial frames and noise but cannot start one.
A press is reported once when the same key holds for two consecutive frames (>= 40 ms, at least
one of them strict); it ends on the first frame without that key, so two quick presses of the
same key with a gap between them count twice, and a long tone counts once.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Final

import numpy as np

from ivr.rtp.g711 import FRAME_SAMPLES, SAMPLE_RATE

ROW_HZ: Final = (697.0, 770.0, 852.0, 941.0)
COLUMN_HZ: Final = (1209.0, 1336.0, 1477.0, 1633.0)
KEYS: Final = "123A456B789C*0#D"  # KEYS[4 * row + column]

MIN_TONE_AMPLITUDE: Final = 250.0  # int16 peak per tone, about -42 dBFS
NORMAL_TWIST_DB: Final = 8.0
REVERSE_TWIST_DB: Final = 4.0
RELATIVE_PEAK_DB: Final = 8.0
STRICT_ENERGY_SHARE: Final = 0.85  # tones at 10 dB SNR reach ~0.9; a vowel tuned on two keys ~0.77
LOOSE_ENERGY_SHARE: Final = 0.35
HARMONIC_REJECT_DB: Final = 6.0  # leakage of a neighbouring column tone stays below this
MIN_FRAMES: Final = 2


def _basis() -> np.ndarray:
    freqs = np.array(ROW_HZ + COLUMN_HZ + tuple(2 * f for f in ROW_HZ + COLUMN_HZ))
    phase = 2 * np.pi * np.outer(np.arange(FRAME_SAMPLES), freqs) / SAMPLE_RATE
    return np.concatenate([np.cos(phase), np.sin(phase)], axis=1).astype(np.float32)


_BASIS: Final = _basis()
_TONES: Final = len(ROW_HZ) + len(COLUMN_HZ)
_MIN_TONE_ENERGY: Final = MIN_TONE_AMPLITUDE**2 * FRAME_SAMPLES / 2


def _db(value: float) -> float:
    return float(10 ** (value / 10))


def classify_frames(frames: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per frame of `frames` (n x 160 samples): (loose key index, strict key index), -1 = none.

    Powers are scaled so a tone's value equals its energy in the frame (sum of squares).
    """
    x = frames.astype(np.float32)
    spectrum = x @ _BASIS  # the IVR runs OpenBLAS on one thread (`ivr.app.single_threaded_blas`)
    power = (spectrum[:, : 2 * _TONES] ** 2 + spectrum[:, 2 * _TONES :] ** 2) * (
        2.0 / FRAME_SAMPLES
    )
    rows, columns = power[:, 0:4], power[:, 4:8]
    row = rows.argmax(axis=1)
    column = columns.argmax(axis=1)
    index = np.arange(len(x))
    row_power = rows[index, row]
    column_power = columns[index, column]
    total = np.einsum("ij,ij->i", x, x) + 1e-9
    share = (row_power + column_power) / total
    gated = (row_power >= _MIN_TONE_ENERGY) & (column_power >= _MIN_TONE_ENERGY)
    loose = gated & (share >= LOOSE_ENERGY_SHARE)

    peak = _db(RELATIVE_PEAK_DB)
    rows_other = np.where(np.arange(4) == row[:, None], 0.0, rows).max(axis=1)
    columns_other = np.where(np.arange(4) == column[:, None], 0.0, columns).max(axis=1)
    harmonic = _db(-HARMONIC_REJECT_DB)
    strict = (
        loose
        & (share >= STRICT_ENERGY_SHARE)
        & (column_power >= row_power * _db(-NORMAL_TWIST_DB))
        & (column_power <= row_power * _db(REVERSE_TWIST_DB))
        & (rows_other * peak <= row_power)
        & (columns_other * peak <= column_power)
        & (power[index, 8 + row] <= row_power * harmonic)
        & (power[index, 12 + column] <= column_power * harmonic)
    )
    key = 4 * row + column
    return np.where(loose, key, -1), np.where(strict, key, -1)


@dataclass(slots=True)
class _PressState:
    """Debounce state of one call: the key now held, for how many frames, reported or not."""

    key: int = -1
    frames: int = 0
    strict_seen: bool = False
    reported: bool = False
    pending: np.ndarray | None = None  # samples short of a whole frame

    def advance(self, loose: int, strict: int) -> str | None:
        if loose != self.key:
            self.key, self.frames, self.strict_seen, self.reported = loose, 0, False, False
        if loose < 0:
            return None
        self.frames += 1
        self.strict_seen = self.strict_seen or strict == loose
        if self.frames >= MIN_FRAMES and self.strict_seen and not self.reported:
            self.reported = True
            return KEYS[loose]
        return None


class InbandDtmfBank:
    """Detectors for many calls, run together once per tick.

    `add(call, pcm)` as audio arrives (any length; cut into 20 ms frames, remainder kept), or
    `add_frames(calls, frames)` for a tick's whole frames of many calls at once (one row each,
    ivr/media/intake.py); `detect()` classifies every queued frame in one matrix product and
    returns the new presses; `forget(call)` when the call ends.
    """

    def __init__(self) -> None:
        self._states: dict[Hashable, _PressState] = {}
        self._owners: list[_PressState] = []
        self._keys: list[Hashable] = []
        self._blocks: list[np.ndarray] = []  # (frames, 160) each, rows in _owners' order

    def _state(self, call: Hashable) -> _PressState:
        state = self._states.get(call)
        if state is None:
            state = self._states[call] = _PressState()
        return state

    def add(self, call: Hashable, pcm: np.ndarray) -> None:
        state = self._state(call)
        if state.pending is not None:
            pcm = np.concatenate([state.pending, pcm])
            state.pending = None
        whole = len(pcm) - len(pcm) % FRAME_SAMPLES
        if whole:
            count = whole // FRAME_SAMPLES
            self._owners += [state] * count
            self._keys += [call] * count
            self._blocks.append(pcm[:whole].reshape(count, FRAME_SAMPLES))
        if whole < len(pcm):
            state.pending = pcm[whole:]

    def add_frames(self, calls: list[Hashable], frames: np.ndarray) -> None:
        """Row i of `frames` (n x 160) is the next whole frame of `calls[i]`."""
        self._owners += [self._state(call) for call in calls]
        self._keys += calls
        self._blocks.append(frames)

    def detect(self) -> list[tuple[Hashable, str]]:
        """New presses since the last call, as (call, key), in arrival order per call."""
        if not self._blocks:
            return []
        frames = self._blocks[0] if len(self._blocks) == 1 else np.concatenate(self._blocks)
        loose, strict = classify_frames(frames)
        found = []
        for call, state, lo, st in zip(
            self._keys, self._owners, loose.tolist(), strict.tolist(), strict=True
        ):
            if lo < 0 and state.key < 0:
                continue  # no tone now, none held: nothing changes (most frames of most calls)
            key = state.advance(lo, st)
            if key is not None and self._states.get(call) is state:  # not forgotten meanwhile
                found.append((call, key))
        self._owners.clear()
        self._keys.clear()
        self._blocks.clear()
        return found

    def forget(self, call: Hashable) -> None:
        self._states.pop(call, None)
