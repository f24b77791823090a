"""Call recording: received frames streamed to a valid 8 kHz WAV, closed cleanly on hang-up."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ivr.media.recorder import CallRecorder

FRAME = 160  # 20 ms at 8 kHz


def tone_frames(seconds: float) -> list[np.ndarray]:
    t = np.arange(int(seconds * 8000)) / 8000
    samples = (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)
    return [samples[i : i + FRAME] for i in range(0, len(samples), FRAME)]


def read_wav(path: Path) -> tuple[Any, np.ndarray]:
    with wave.open(str(path)) as recording:
        return recording.getparams(), np.frombuffer(
            recording.readframes(recording.getnframes()), dtype="<i2"
        )


def test_recording_holds_exactly_the_received_samples(tmp_path: Path) -> None:
    frames = tone_frames(3.0)
    path = tmp_path / "calls" / "call-1.wav"
    with CallRecorder(path) as recorder:
        for frame in frames:
            recorder.write(frame)
        assert recorder.duration == pytest.approx(3.0)
    params, samples = read_wav(path)
    assert (params.framerate, params.nchannels, params.sampwidth) == (8000, 1, 2)
    np.testing.assert_array_equal(samples, np.concatenate(frames))


def test_audio_reaches_the_file_while_the_call_goes_on(tmp_path: Path) -> None:
    """No whole-call buffer: after 2.5 s at least 2 s are on disk in a valid WAV."""
    path = tmp_path / "call.wav"
    recorder = CallRecorder(path, flush_seconds=1.0)
    for frame in tone_frames(2.5):
        recorder.write(frame)
    params, samples = read_wav(path)
    assert params.nframes == len(samples) >= 2 * 8000
    assert recorder.samples_written == len(samples)
    recorder.close()
    assert read_wav(path)[0].nframes == int(2.5 * 8000)


def test_hang_up_closes_once_and_later_frames_are_refused(tmp_path: Path) -> None:
    recorder = CallRecorder(tmp_path / "call.wav")
    recorder.write(np.zeros(FRAME, dtype=np.int16))
    recorder.close()
    recorder.close()
    assert recorder.closed
    with pytest.raises(ValueError, match="closed"):
        recorder.write(np.zeros(FRAME, dtype=np.int16))
    assert read_wav(tmp_path / "call.wav")[0].nframes == FRAME


def test_an_error_during_the_call_still_leaves_a_complete_file(tmp_path: Path) -> None:
    path = tmp_path / "call.wav"
    with pytest.raises(RuntimeError), CallRecorder(path) as recorder:
        recorder.write(np.ones(FRAME, dtype=np.int16))
        raise RuntimeError("media path failed")
    assert read_wav(path)[0].nframes == FRAME


@pytest.mark.parametrize(
    "bad", [np.zeros(FRAME, dtype=np.float32), np.zeros((FRAME, 2), dtype=np.int16)]
)
def test_non_mono_int16_audio_is_refused(tmp_path: Path, bad: np.ndarray) -> None:
    with CallRecorder(tmp_path / "call.wav") as recorder, pytest.raises(ValueError, match="mono"):
        recorder.write(bad)


def test_disk_work_is_handed_to_the_writer_in_order(tmp_path: Path) -> None:
    """In the server `submit` queues to a writer thread; the reactor never touches the disk."""
    jobs: list[Any] = []
    path = tmp_path / "calls" / "call.wav"
    recorder = CallRecorder(path, flush_seconds=1.0, submit=jobs.append)
    frames = tone_frames(2.5)
    for frame in frames:
        recorder.write(frame)
    recorder.close()
    assert not path.parent.exists()
    assert len(jobs) == 5  # open, two full seconds, the last half second, close
    for job in jobs:
        job()
    _, samples = read_wav(path)
    np.testing.assert_array_equal(samples, np.concatenate(frames))
