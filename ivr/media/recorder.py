"""Write a call's received audio to a WAV file as it arrives.

A call may last an hour, so nothing is held for the whole call: frames collect in a buffer of
about one second (16 kB at 8 kHz 16-bit) that is appended to the file and the WAV header patched
each time it fills. A crash therefore loses at most that second, and the file on disk is always
a valid WAV. `close()` (on hang-up) writes the remainder; it is idempotent so every way a call can
end may call it.

The disk work (open, append, close) goes through `submit`: in the server, one writer thread for
every recording, so a disk that stalls never stalls the reactor's RTP pacing, and each file's
jobs run in the order they were given. By default (tools, tests) the jobs run at once.
"""

from __future__ import annotations

import wave
from collections.abc import Callable
from functools import partial
from pathlib import Path
from types import TracebackType

import numpy as np

SAMPLE_RATE = 8000
SAMPLE_WIDTH = 2  # int16

Job = Callable[[], None]


def run_now(job: Job) -> None:
    job()


class CallRecorder:
    def __init__(
        self,
        path: Path,
        sample_rate: int = SAMPLE_RATE,
        flush_seconds: float = 1.0,
        submit: Callable[[Job], object] = run_now,
    ) -> None:
        self.path = path
        self.sample_rate = sample_rate
        self.samples_written = 0  # handed to the writer
        self._flush_bytes = max(int(sample_rate * flush_seconds), 1) * SAMPLE_WIDTH
        self._pending = bytearray()
        self._submit = submit
        self._closed = False
        # Touched only by the writer's jobs; open for the whole call (a with-block cannot span it).
        self._wav: wave.Wave_write | None = None
        submit(self._open)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def duration(self) -> float:
        """Seconds of audio received so far (written or pending)."""
        return (self.samples_written + len(self._pending) // SAMPLE_WIDTH) / self.sample_rate

    def write(self, pcm: np.ndarray) -> None:
        """Append one frame of received audio (mono int16 samples)."""
        if self._closed:
            raise ValueError(f"recording {self.path} is closed")
        if pcm.dtype != np.int16 or pcm.ndim != 1:
            raise ValueError(f"mono int16 samples expected, not {pcm.dtype} of shape {pcm.shape}")
        self._pending += pcm.astype("<i2", copy=False).tobytes()
        if len(self._pending) >= self._flush_bytes:
            self._flush()

    def close(self) -> None:
        if self._closed:
            return
        self._flush()
        self._closed = True
        self._submit(self._close_file)

    def _flush(self) -> None:
        if self._pending:
            self.samples_written += len(self._pending) // SAMPLE_WIDTH
            self._submit(partial(self._append, bytes(self._pending)))
            self._pending.clear()

    # --- the writer's jobs ------------------------------------------------------------------

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        wav = wave.open(str(self.path), "wb")  # noqa: SIM115  (closed by _close_file)
        wav.setnchannels(1)
        wav.setsampwidth(SAMPLE_WIDTH)
        wav.setframerate(self.sample_rate)
        self._wav = wav

    def _append(self, chunk: bytes) -> None:
        if self._wav is not None:
            self._wav.writeframes(chunk)  # also patches the header's lengths

    def _close_file(self) -> None:
        if self._wav is not None:
            self._wav.close()
            self._wav = None

    def __enter__(self) -> CallRecorder:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
