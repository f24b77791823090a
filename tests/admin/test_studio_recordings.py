"""Studio recordings: any common format becomes 8 kHz mono; not audio or too long is refused."""

from __future__ import annotations

import io
import wave

import pytest
from pydub.generators import Sine

from ivr.admin.prompt_pages import MAX_RECORDING_S, UploadRefused, studio_wav


def encoded(seconds: float, format: str, rate: int = 44100) -> bytes:
    tone = Sine(440).to_audio_segment(duration=int(seconds * 1000)).set_frame_rate(rate)
    out = io.BytesIO()
    tone.set_channels(2).export(out, format=format)
    return out.getvalue()


@pytest.mark.parametrize("format", ["wav", "mp3", "ogg"])
def test_a_studio_recording_is_converted_to_8_khz_mono(format: str) -> None:
    converted = studio_wav(encoded(2.0, format))
    with wave.open(io.BytesIO(converted)) as wav:
        assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (8000, 1, 2)
        assert 1.9 <= wav.getnframes() / 8000 <= 2.2


def test_what_is_not_audio_is_refused_clearly() -> None:
    with pytest.raises(UploadRefused, match="不是可识别的音频文件"):
        studio_wav("这是一个文本文件，不是录音。".encode() * 50)


def test_a_recording_too_long_is_refused_with_its_length() -> None:
    with pytest.raises(UploadRefused, match=f"录音过长：61 秒，最长 {MAX_RECORDING_S} 秒"):
        studio_wav(encoded(61, "wav", rate=8000))
