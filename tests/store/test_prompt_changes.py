"""Prompt edits in the database: the newest text of each prompt and the newest recording of each
name are what every node lays over its files; each change is one version, logged with who and
when, and announced on its own nudge channel."""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import select

from ivr.store.change_log import recent_changes
from ivr.store.models import ChangeLogEntry
from ivr.store.nudges import PROMPTS_CHANNEL, NudgeListener
from ivr.store.prompt_changes import (
    NO_OVERRIDES,
    load_overrides,
    nudge_prompts,
    prompts_version,
    record_prompt_change,
    studio_name,
    tts_name,
)
from tests.backends import Stores

T0 = dt.datetime(2026, 11, 30, 9, 0, tzinfo=dt.UTC)


def test_the_newest_text_and_recording_of_each_name_win_and_each_change_is_logged(
    stores: Stores,
) -> None:
    assert prompts_version(stores.db) == 0
    assert load_overrides(stores.db) == NO_OVERRIDES
    first = record_prompt_change(
        stores.db, at=T0, author="wang", action="prompt.text", target="prompt welcome",
        prompt_id="welcome", text="您好。", recordings={tts_name("aaaa"): b"RIFF-one"},
    )  # fmt: skip
    upload = record_prompt_change(
        stores.db, at=T0 + dt.timedelta(minutes=1), author="li", action="prompt.upload",
        target="clip welcome", recordings={studio_name("welcome"): b"RIFF-studio"},
        detail={"seconds": 2.5},
    )  # fmt: skip
    second = record_prompt_change(
        stores.db, at=T0 + dt.timedelta(minutes=2), author="wang", action="prompt.text",
        target="prompt welcome", prompt_id="welcome", text="欢迎。",
        recordings={tts_name("bbbb"): b"RIFF-two"},
    )  # fmt: skip
    assert first < upload < second == prompts_version(stores.db)

    overrides = load_overrides(stores.db)
    assert overrides.version == second
    assert dict(overrides.texts) == {"welcome": "欢迎。"}
    assert {name: (r.change_id, r.wav) for name, r in overrides.recordings.items()} == {
        "tts/aaaa": (first, b"RIFF-one"),  # still there: an earlier text may come back
        "studio/welcome": (upload, b"RIFF-studio"),
        "tts/bbbb": (second, b"RIFF-two"),
    }
    with stores.db.reading() as session:
        logged = [
            (row.username, row.action, row.target)
            for row in session.scalars(select(ChangeLogEntry).order_by(ChangeLogEntry.id))
        ]
    assert logged == [
        ("wang", "prompt.text", "prompt welcome"),
        ("li", "prompt.upload", "clip welcome"),
        ("wang", "prompt.text", "prompt welcome"),
    ]
    assert recent_changes(stores.db, 1)[0].detail == {"version": second}


def test_a_change_is_announced_on_the_prompts_channel(stores: Stores) -> None:
    heard: list[str] = []
    got = threading.Event()
    listener = NudgeListener(stores.redis)
    listener.on(PROMPTS_CHANNEL, lambda data: (heard.append(data), got.set()))
    listener.start()
    try:
        for _ in range(50):
            if stores.redis.pubsub_numsub(PROMPTS_CHANNEL)[0][1] == 1:
                break
            got.wait(0.1)
        nudge_prompts(stores.redis, 7)
        assert got.wait(2.0), heard
        assert heard == ["7"]
    finally:
        listener.stop()
