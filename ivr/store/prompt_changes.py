"""Prompt edits made in the supervisor console, kept in the database so every node plays them.

A change is a prompt's new text, or an uploaded studio recording of one clip, with the 8 kHz
WAV of every recording it needs (`studio/<clip name>` uploaded, `tts/<text hash>` synthesized on
the node that saved the text, so no other node needs espeak-ng), who made it and when, recorded
in the change log in the same transaction. The newest text of each prompt and the newest
recording of each name are laid over the repository's prompt files (`ivr.media.prompt_audio`);
the highest change id is the version a node compares to know whether to load them again.

BLOCKING (SQL, Redis): call from a worker thread, or from a command.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import redis
from sqlalchemy import func, select

from ivr.store.change_log import record_change
from ivr.store.db import Database
from ivr.store.models import PromptChange, PromptRecording
from ivr.store.nudges import PROMPTS_CHANNEL, send_nudge


@dataclass(frozen=True)
class StoredRecording:
    name: str  # `studio/<clip name>` or `tts/<text hash>`
    change_id: int  # the change that stored it: the same bytes while it stays the newest
    wav: bytes


@dataclass(frozen=True)
class PromptOverrides:
    """What the console changed, as of `version` (0: nothing yet)."""

    version: int = 0
    texts: Mapping[str, str] = field(default_factory=dict)  # prompt id -> template
    recordings: Mapping[str, StoredRecording] = field(default_factory=dict)  # name -> WAV


NO_OVERRIDES = PromptOverrides()


def studio_name(clip_name: str) -> str:
    return f"studio/{clip_name}"


def tts_name(text_hash: str) -> str:
    return f"tts/{text_hash}"


def record_prompt_change(
    db: Database,
    *,
    at: dt.datetime,
    author: str,
    action: str,
    target: str,
    recordings: Mapping[str, bytes],
    prompt_id: str | None = None,
    text: str | None = None,
    detail: dict[str, Any] | None = None,
) -> int:
    """Store one change with its recordings and its change-log line; its id (the new version)."""
    with db.transaction() as session:
        change = PromptChange(at=at, author=author, prompt_id=prompt_id, text=text)
        session.add(change)
        session.flush()
        session.add_all(
            PromptRecording(change_id=change.id, name=name, wav=wav)
            for name, wav in sorted(recordings.items())
        )
        record_change(
            session, at=at, username=author, action=action, target=target,
            detail={**(detail or {}), "version": change.id},
        )  # fmt: skip
        return change.id


def prompts_version(db: Database) -> int:
    """The id of the newest change; 0 when the console never changed a prompt."""
    with db.reading() as session:
        return int(session.scalar(select(func.max(PromptChange.id))) or 0)


def load_overrides(db: Database) -> PromptOverrides:
    """The newest text of every edited prompt and the newest WAV of every recording name."""
    with db.reading() as session:
        version = int(session.scalar(select(func.max(PromptChange.id))) or 0)
        newest_text = (
            select(func.max(PromptChange.id))
            .where(PromptChange.prompt_id.is_not(None), PromptChange.id <= version)
            .group_by(PromptChange.prompt_id)
        )
        texts = {
            str(prompt_id): str(text)
            for prompt_id, text in session.execute(
                select(PromptChange.prompt_id, PromptChange.text).where(
                    PromptChange.id.in_(newest_text)
                )
            )
        }
        newest_recording = (
            select(func.max(PromptRecording.id))
            .where(PromptRecording.change_id <= version)
            .group_by(PromptRecording.name)
        )
        recordings = {
            name: StoredRecording(name, change_id, bytes(wav))
            for name, change_id, wav in session.execute(
                select(PromptRecording.name, PromptRecording.change_id, PromptRecording.wav).where(
                    PromptRecording.id.in_(newest_recording)
                )
            )
        }
    return PromptOverrides(version, texts, recordings)


def nudge_prompts(client: redis.Redis, version: int) -> None:
    """Tell every node that the prompts changed (it loads them off the reactor). BLOCKING."""
    send_nudge(client, PROMPTS_CHANNEL, str(version))
