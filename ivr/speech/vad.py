"""Energy voice-activity detection with hangover, on RTP packets (20 ms) of 8 kHz int16 audio.

It runs on the reactor thread for every packet of every call, so it is a few arithmetic steps
per frame (one numpy dot product, one log): recognition only runs while it says someone speaks.

A frame is loud when its energy exceeds both an absolute gate (`threshold_db`, dBFS) and the
noise floor plus a margin. The floor follows quiet frames down at once and creeps up slowly, so
a steady hum or hiss stops counting as speech after a few seconds. An utterance opens after
`start_ms` of loud frames in a row and closes after `end_silence_ms` of quiet frames in a row
(the hangover that bridges pauses between words) or at `max_utterance_ms`. Durations are
counted in samples, so phones sending 10, 30 or 40 ms packets are timed right too.
"""

from __future__ import annotations

import math
from enum import Enum

import numpy as np

from ivr.speech.settings import VadSettings

FULL_SCALE_POWER = 32768.0 * 32768.0


class VadEvent(Enum):
    QUIET = "quiet"  # no utterance open
    START = "start"  # this frame opens an utterance
    SPEECH = "speech"  # an utterance goes on (pauses within the hangover included)
    END = "end"  # this frame closes the utterance (silence or maximum length)


def frame_energy_db(frame: np.ndarray) -> float:
    """Mean power of an int16 frame in dBFS (about -96 for digital silence)."""
    samples = frame.astype(np.float32)
    return 10.0 * math.log10(
        float(np.dot(samples, samples)) / (len(frame) * FULL_SCALE_POWER) + 1e-10
    )


def frame_energies_db(frames: np.ndarray) -> np.ndarray:
    """`frame_energy_db` of every row of `frames` (n x samples), in one product."""
    samples = frames.astype(np.float32)
    power = np.einsum("ij,ij->i", samples, samples) / (frames.shape[1] * FULL_SCALE_POWER)
    return 10.0 * np.log10(power + 1e-10)


class VoiceActivityDetector:
    __slots__ = (
        "_end_samples",
        "_floor_db",
        "_loud_run",
        "_margin_db",
        "_max_samples",
        "_quiet_run",
        "_rise_db",
        "_speaking",
        "_start_samples",
        "_threshold_db",
        "_utterance_samples",
    )

    def __init__(self, settings: VadSettings) -> None:
        self._threshold_db = settings.threshold_db
        self._margin_db = settings.margin_db
        self._rise_db = settings.floor_rise_db_per_sample
        self._start_samples = settings.start_samples
        self._end_samples = settings.end_silence_samples
        self._max_samples = settings.max_utterance_samples
        self._floor_db = settings.threshold_db - settings.margin_db
        self.reset()

    def reset(self) -> None:
        """Forget any open utterance (the noise floor is kept: the line has not changed)."""
        self._speaking = False
        self._loud_run = 0  # samples, so any packet size (ptime) counts right
        self._quiet_run = 0
        self._utterance_samples = 0

    def process(self, frame: np.ndarray, energy_db: float | None = None) -> VadEvent:
        """The detector's verdict on the next frame; `energy_db` when already measured (a
        tick's frames of every call are measured at once: ivr/media/intake.py)."""
        size = len(frame)
        energy = frame_energy_db(frame) if energy_db is None else energy_db
        loud = energy > self._threshold_db and energy > self._floor_db + self._margin_db
        if energy < self._floor_db:
            self._floor_db = energy
        else:
            self._floor_db = min(energy, self._floor_db + self._rise_db * size)

        if not self._speaking:
            self._loud_run = self._loud_run + size if loud else 0
            if self._loud_run < self._start_samples:
                return VadEvent.QUIET
            self._speaking = True
            self._quiet_run = 0
            self._utterance_samples = self._loud_run
            return VadEvent.START

        self._utterance_samples += size
        self._quiet_run = 0 if loud else self._quiet_run + size
        if self._quiet_run >= self._end_samples or self._utterance_samples >= self._max_samples:
            self.reset()
            return VadEvent.END
        return VadEvent.SPEECH
