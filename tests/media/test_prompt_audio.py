"""Prompt audio in memory: every clip encoded at load, played with no file, reloaded on change."""

from __future__ import annotations

import os
import wave
from pathlib import Path

import numpy as np
import pytest

from ivr.media.frames import encode_frames
from ivr.media.prompt_audio import PromptAudio, changed
from ivr.media.prompt_catalog import PromptSettings
from ivr.rtp.g711 import PCMA, PCMU


def tone(seconds: float) -> np.ndarray:
    t = np.arange(int(8000 * seconds)) / 8000
    return (8000 * np.sin(2 * np.pi * 440 * t)).astype(np.int16)


def record(path: Path, pcm: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(pcm.tobytes())
    return path


def bump_mtime(path: Path) -> None:
    stat = os.stat(path)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


@pytest.fixture
def settings(tmp_path: Path) -> PromptSettings:
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text("bye: 再见。\nhello: 您好。\n", encoding="utf-8")
    root = tmp_path / "recordings"
    record(root / "studio" / "bye.wav", tone(0.2))
    (root / "tts").mkdir()
    return PromptSettings(files=(str(prompts),), root=root)


def test_every_recorded_clip_is_encoded_for_both_codecs_at_load(
    settings: PromptSettings,
) -> None:
    audio = PromptAudio.load(settings)
    assert audio.frames("bye", {}, PCMU) == encode_frames(tone(0.2), PCMU)
    assert audio.frames("bye", {}, PCMA) == encode_frames(tone(0.2), PCMA)
    assert len(audio.frames("bye", {}, PCMU)) == 10


def test_playing_reads_no_file(settings: PromptSettings) -> None:
    audio = PromptAudio.load(settings)
    before = audio.frames("bye", {}, PCMU)
    (settings.root / "studio" / "bye.wav").unlink()
    assert audio.frames("bye", {}, PCMU) == before


def test_a_clip_without_recording_is_listed_and_plays_as_nothing(
    settings: PromptSettings,
) -> None:
    audio = PromptAudio.load(settings)
    assert "hello" in {clip.name for clip in audio.missing}
    assert audio.frames("hello", {}, PCMU) == ()


@pytest.mark.parametrize("edit", ["re-recorded", "studio file added", "prompt text edited"])
def test_a_change_to_the_files_is_noticed(settings: PromptSettings, edit: str) -> None:
    audio = PromptAudio.load(settings)
    assert not changed(audio, settings)
    if edit == "re-recorded":
        bye = record(settings.root / "studio" / "bye.wav", tone(0.4))
        bump_mtime(bye)
    elif edit == "studio file added":
        record(settings.root / "studio" / "hello.wav", tone(0.1))
        bump_mtime(settings.root / "studio")
    else:
        prompts = Path(settings.files[0])
        prompts.write_text("bye: 再见。\nhello: 你好。\n", encoding="utf-8")
        bump_mtime(prompts)
    assert changed(audio, settings)
    reloaded = PromptAudio.load(settings)
    assert not changed(reloaded, settings)
    if edit == "re-recorded":
        assert len(reloaded.frames("bye", {}, PCMU)) == 20
    if edit == "studio file added":
        assert len(reloaded.frames("hello", {}, PCMU)) == 5
