"""A node follows the console's prompt edits on a task.Clock: a nudge loads them at once, the
periodic look when the nudge was lost; only the clips whose bytes changed are encoded again, and
the audio a call already holds is never changed under it."""

from __future__ import annotations

import datetime as dt
import io
import wave
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from twisted.internet import defer, task

from ivr.media.prompt_audio import PromptAudio
from ivr.media.prompt_catalog import PromptSettings, text_hash
from ivr.media.prompt_follower import DB_CHECK_S, PromptFollower, first_audio
from ivr.rtp.g711 import PCMU
from ivr.store.prompt_changes import record_prompt_change, studio_name, tts_name
from tests.backends import Stores, backend, stores  # noqa: F401  (fixtures)
from tests.media.test_prompt_audio import record, tone

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def wav_bytes(seconds: float) -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(8000)
        wav.writeframes(tone(seconds).tobytes())
    return out.getvalue()


def at_once(function: Callable[..., Any], *args: Any) -> defer.Deferred[Any]:
    """The worker pool's `run`, done in place so the clock alone drives the test."""
    return defer.maybeDeferred(function, *args)


@pytest.fixture
def settings(tmp_path: Path) -> PromptSettings:
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text("bye: 再见。\nhello: 您好。\n", encoding="utf-8")
    root = tmp_path / "recordings"
    record(root / "studio" / "bye.wav", tone(0.2))
    record(root / "tts" / f"{text_hash('您好。')}.wav", tone(0.6))
    return PromptSettings(files=(str(prompts),), root=root)


def test_edits_are_followed_on_a_nudge_and_by_the_periodic_look(
    settings: PromptSettings,
    stores: Stores,  # noqa: F811
) -> None:
    clock = task.Clock()
    swapped: list[PromptAudio] = []
    start = first_audio(settings, stores.db)
    assert len(start.frames("hello", {}, PCMU)) == 30 and start.reencoded == 2
    follower = PromptFollower(settings, stores.db, start, at_once, clock, swapped.append)
    follower.start()

    # A text saved on another node, with its synthesized recording; its nudge was lost.
    record_prompt_change(
        stores.db, at=T0, author="wang", action="prompt.text", target="prompt hello",
        prompt_id="hello", text="你们好。",
        recordings={tts_name(text_hash("你们好。")): wav_bytes(0.4)},
    )  # fmt: skip
    clock.advance(DB_CHECK_S - 1)
    assert swapped == []
    clock.advance(1)
    edited = swapped[-1]
    assert edited.catalog.text("hello") == "你们好。"
    assert len(edited.frames("hello", {}, PCMU)) == 20
    assert edited.reencoded == 1  # bye's studio file is the same bytes: its frames are reused
    bye = start.catalog.clips()[0]
    assert bye.name == "bye" and edited.encoded[bye, "PCMU"] is start.encoded[bye, "PCMU"]
    assert len(start.frames("hello", {}, PCMU)) == 30  # what a call holds stays as it was

    # A studio recording uploaded on another node, announced: loaded at once, over the text's.
    version = record_prompt_change(
        stores.db, at=T0, author="li", action="prompt.upload", target="clip hello",
        recordings={studio_name("hello"): wav_bytes(0.1)},
    )  # fmt: skip
    follower.nudged(str(version))
    assert len(swapped) == 2 and swapped[-1].overrides.version == version
    assert len(swapped[-1].frames("hello", {}, PCMU)) == 5 and swapped[-1].reencoded == 1

    clock.advance(DB_CHECK_S)  # nothing changed since: nothing loaded, nothing swapped
    assert len(swapped) == 2
    follower.stop()
