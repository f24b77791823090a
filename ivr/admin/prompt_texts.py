"""The prompt catalog as the supervisor console sees it, and saving a prompt's edits.

An edit is stored in the database (`ivr.store.prompt_changes`), never in the repository's
files, which stay the base: a new text with the recordings it needs synthesized at once with
the project's TTS (only clips no file and no earlier edit records), or an uploaded studio
recording of one clip; who and when go to the change log with it. Every node is nudged and
lays the edits over its files off the reactor (`ivr.media.prompt_follower`), so the next call
on any node plays the change; the console's catalog follows too, so the simulator speaks it.

BLOCKING (SQL, Redis, files, espeak-ng): run on the worker pool. One save at a time (a lock).
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import threading
from pathlib import Path

import redis
import yaml
from sqlalchemy.exc import SQLAlchemyError

from ivr.media.prompt_audio import clip_wav, recording_of
from ivr.media.prompt_catalog import Clip, PromptCatalog, PromptError, PromptSettings, parse_prompt
from ivr.media.tts import TtsSettings, synthesize
from ivr.store.db import Database
from ivr.store.prompt_changes import (
    NO_OVERRIDES,
    PromptOverrides,
    StoredRecording,
    load_overrides,
    nudge_prompts,
    prompts_version,
    record_prompt_change,
    studio_name,
    tts_name,
)

log = logging.getLogger("ivr.admin")


class TextRefused(ValueError):
    """The new text cannot be saved; the message says why, in Chinese."""


class PromptTexts:
    def __init__(
        self, settings: PromptSettings, tts: TtsSettings, db: Database, redis_client: redis.Redis
    ) -> None:
        """BLOCKING (before the reactor runs): the files with the edits stored so far."""
        self.settings = settings
        self.tts = tts
        self.db = db
        self.redis = redis_client
        self._lock = threading.Lock()
        self.overrides = NO_OVERRIDES
        self.catalog = PromptCatalog.from_settings(settings)
        try:
            self.refresh()
        except SQLAlchemyError as error:  # the pages read the edits again when they load
            log.warning("prompt edits not loaded yet: %s", type(error).__name__)

    def refresh(self) -> PromptCatalog:
        """BLOCKING: follow edits saved on any node (when the version moved); the catalog."""
        if prompts_version(self.db) != self.overrides.version:
            with self._lock:
                self._follow(load_overrides(self.db))
        return self.catalog

    def _follow(self, overrides: PromptOverrides) -> None:
        self.catalog = PromptCatalog.from_settings(self.settings, overrides.texts)
        self.overrides = overrides

    def raw(self, prompt_id: str) -> str:
        """The prompt's template as the callers hear it now (for the edit box)."""
        if prompt_id in self.overrides.texts:
            return self.overrides.texts[prompt_id]
        path = Path(self.catalog.prompt(prompt_id).source.rsplit(":", 1)[0])
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return str(loaded.get(prompt_id, ""))

    def recorded(self, clip: Clip) -> tuple[bool, bool]:
        """BLOCKING: whether `clip` plays a studio recording, and whether it has any."""
        found = recording_of(self.catalog, self.overrides, clip)
        if isinstance(found, StoredRecording):
            return found.name.startswith("studio/"), True
        return found.parent.name == "studio", found.exists()

    def clip_wav(self, clip: Clip) -> bytes | None:
        """BLOCKING: the WAV `clip` plays, or None when it has no recording."""
        return clip_wav(self.catalog, self.overrides, clip)

    def save(self, prompt_id: str, text: str, author: str, now: dt.datetime) -> int:
        """Store the new text with the recordings it needs, nudge every node; the version."""
        text = text.strip()
        try:
            parse_prompt(prompt_id, text)
        except PromptError as error:
            raise TextRefused(str(error).replace("<string>: ", "")) from None
        with self._lock:
            self._follow(load_overrides(self.db))
            try:
                self.catalog.prompt(prompt_id)
                catalog = PromptCatalog.from_settings(
                    self.settings, {**self.overrides.texts, prompt_id: text}
                )
            except PromptError as error:
                raise TextRefused(str(error).replace("<string>: ", "")) from None
            recordings: dict[str, bytes] = {}
            for clip in catalog.prompt(prompt_id).clips:
                if clip_wav(catalog, self.overrides, clip) is None:
                    log.info("synthesizing %s for prompt %s", clip.name, prompt_id)
                    recordings[tts_name(clip.text_hash)] = _wav_bytes(clip.text, self.tts)
            version = record_prompt_change(
                self.db, at=now, author=author, action="prompt.text", target=f"prompt {prompt_id}",
                recordings=recordings, prompt_id=prompt_id, text=text,
                detail={"synthesized": len(recordings)},
            )  # fmt: skip
            self._follow(load_overrides(self.db))
        nudge_prompts(self.redis, version)
        return version

    def upload(self, clip: Clip, wav: bytes, author: str, now: dt.datetime, seconds: float) -> int:
        """Store a studio recording (8 kHz mono 16-bit WAV) of `clip`, nudge every node."""
        with self._lock:
            version = record_prompt_change(
                self.db, at=now, author=author, action="prompt.upload", target=f"clip {clip.name}",
                recordings={studio_name(clip.name): wav}, detail={"seconds": seconds},
            )  # fmt: skip
            self._follow(load_overrides(self.db))
        nudge_prompts(self.redis, version)
        return version


def _wav_bytes(text: str, tts: TtsSettings) -> bytes:
    out = io.BytesIO()
    synthesize(text, tts).export(out, format="wav")
    return out.getvalue()
