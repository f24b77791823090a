"""Write a call's received audio to a WAV file as it arrives.

A call may last an hour, so nothing is held for the whole call: frames collect in a buffer of
about one second (16 kB at 8 kHz 16-bit) that is appended to the file and the WAV header patched
each time it fills. A crash therefore loses at most that second, and the file on disk is always
a valid WAV. `close()` (on hang-up) writes the remainder; it is idempotent so every way a call can
end may call it. Writing 16 kB to the page cache once a second per call is cheap enough for the
reactor thread.
"""

from __future__ import annotations

import wave
from pathlib import Path
from types import TracebackType

import numpy as np

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2  # int16


class CallRecorder:
    def __init__(
        self, path: Path, sample_rate: int = SAMPLE_RATE, flush_seconds: float = 1.0
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.sample_rate = sample_rate
        self.samples_written = 0
        self._flush_bytes = max(int(sample_rate * flush_seconds), 1) * SAMPLE_WIDTH
        self._pending = bytearray()
        # Open for the whole call, closed by close(); a with-block cannot span a call.
        self._wav: wave.Wave_write | None = wave.open(str(path), "wb")  # noqa: SIM115
        self._wav.setnchannels(1)
        self._wav.setsampwidth(SAMPLE_WIDTH)
        self._wav.setframerate(sample_rate)

    @property
    def closed(self) -> bool:
        return self._wav is None

    @property
    def duration(self) -> float:
        """Seconds of audio received so far (written or pending)."""
        return (self.samples_written + len(self._pending) // SAMPLE_WIDTH) / self.sample_rate

    def write(self, pcm: np.ndarray) -> None:
        """Append one frame of received audio (mono int16 samples)."""
        if self._wav is None:
            raise ValueError(f"recording {self.path} is closed")
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"mono int16 samples expected, not {pcm.dtype} of shape {pcm.shape}")
        self._pending += pcm.astype("<i2", copy=False).tobytes()
        if len(self._pending) >= self._flush_bytes:
            self._flush(self._wav)

    def close(self) -> None:
        if self._wav is None:
            return
        self._flush(self._wav)
        self._wav.close()
        self._wav = None

    def _flush(self, wav: wave.Wave_write) -> None:
        if self._pending:
            wav.writeframes(bytes(self._pending))  # also patches the header's lengths
            self.samples_written += len(self._pending) // SAMPLE_WIDTH
            self._pending.clear()

    def __enter__(self) -> CallRecorder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
