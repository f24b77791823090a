"""Energy voice-activity detection with hangover, on 20 ms frames of 8 kHz int16 audio.

It runs on the reactor thread for every packet of every call, so it is a few arithmetic steps
per frame (one numpy dot product, one log): recognition only runs while it says someone speaks.

A frame is loud when its energy exceeds both an absolute gate (`threshold_db`, dBFS) and the
noise floor plus a margin. The floor follows quiet frames down at once and creeps up slowly, so
a steady hum or hiss stops counting as speech after a few seconds. An utterance opens after
`start_frames` loud frames in a row and closes after `end_silence_frames` quiet frames in a row
(the hangover that bridges pauses between words) or at `max_utterance_frames`.
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


class VoiceActivityDetector:
    __slots__ = (
        "_end_frames",
        "_floor_db",
        "_loud_run",
        "_margin_db",
        "_max_frames",
        "_quiet_run",
        "_rise_db",
        "_speaking",
        "_start_frames",
        "_threshold_db",
        "_utterance_frames",
    )

    def __init__(self, settings: VadSettings) -> None:
        self._threshold_db = settings.threshold_db
        self._margin_db = settings.margin_db
        self._rise_db = settings.floor_rise_db_per_frame
        self._start_frames = settings.start_frames
        self._end_frames = settings.end_silence_frames
        self._max_frames = settings.max_utterance_frames
        self._floor_db = settings.threshold_db - settings.margin_db
        self.reset()

    def reset(self) -> None:
        """Forget any open utterance (the noise floor is kept: the line has not changed)."""
        self._speaking = False
        self._loud_run = 0
        self._quiet_run = 0
        self._utterance_frames = 0

    def process(self, frame: np.ndarray) -> VadEvent:
        energy = frame_energy_db(frame)
        loud = energy > self._threshold_db and energy > self._floor_db + self._margin_db
        if energy < self._floor_db:
            self._floor_db = energy
        else:
            self._floor_db = min(energy, self._floor_db + self._rise_db)

        if not self._speaking:
            self._loud_run = self._loud_run + 1 if loud else 0
            if self._loud_run < self._start_frames:
                return VadEvent.QUIET
            self._speaking = True
            self._quiet_run = 0
            self._utterance_frames = self._loud_run
            return VadEvent.START

        self._utterance_frames += 1
        self._quiet_run = 0 if loud else self._quiet_run + 1
        if self._quiet_run >= self._end_frames or self._utterance_frames >= self._max_frames:
            self.reset()
            return VadEvent.END
        return VadEvent.SPEECH
