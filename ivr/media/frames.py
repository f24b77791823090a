"""Audio files to 20 ms G.711 payloads (tuples of 160-byte payloads, shared by every call).

8 kHz mono 16-bit PCM WAVs are read with the standard `wave` module; anything else goes through
pydub (resampled to 8 kHz mono 16-bit; WAVs of any rate need nothing more, other formats need
ffmpeg installed). `ivr.media.prompt_audio` encodes every prompt clip this way once, at load.
"""

from __future__ import annotations

import io
import wave
from pathlib import Path

import numpy as np

from ivr.rtp.g711 import FRAME_SAMPLES, SAMPLE_RATE, Codec

Frames = tuple[bytes, ...]


def encode_frames(pcm: np.ndarray, codec: Codec) -> Frames:
    """int16 8 kHz samples -> 160-byte payloads; the last frame is padded with silence."""
    pcm = np.asarray(pcm, dtype=np.int16)
    padded = np.zeros(-(-len(pcm) // FRAME_SAMPLES) * FRAME_SAMPLES, dtype=np.int16)
    padded[: len(pcm)] = pcm
    data = codec.encode(padded)
    return tuple(data[i : i + FRAME_SAMPLES] for i in range(0, len(data), FRAME_SAMPLES))


def read_pcm_8k(source: Path | bytes) -> np.ndarray:
    """The file's audio (or a WAV's bytes) as 8 kHz mono int16 samples."""
    opened = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    try:
        with wave.open(opened, "rb") as wav:
            if (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (SAMPLE_RATE, 1, 2):
                return np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").copy()
    except (wave.Error, EOFError):
        pass  # not a plain PCM WAV (float, A-law, MP3, ...): let pydub decode it
    from pydub import AudioSegment  # imported late: it probes for ffmpeg at import

    if isinstance(opened, io.BytesIO):
        opened.seek(0)
    segment = AudioSegment.from_file(opened)
    segment = segment.set_channels(1).set_frame_rate(SAMPLE_RATE).set_sample_width(2)
    return np.frombuffer(segment.raw_data, dtype="<i2").copy()
