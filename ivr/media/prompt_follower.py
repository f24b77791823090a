"""A node's prompt audio kept current: the repository's files with the console's edits over them.

At start the node loads the edits from the database before the reactor runs. Afterwards every
look runs on a worker thread (`run`), and the new `PromptAudio` is handed to `swap` on the
reactor in one assignment: a call playing a clip keeps the frames it holds, and its next play
takes the new audio. The files are looked at every few seconds (the node's housekeeping), the
database when another node nudges (`ivr:prompts-changed`) and every `DB_CHECK_S` as the safety
net for a lost nudge.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from twisted.internet import task
from twisted.internet.defer import Deferred

from ivr.media.prompt_audio import PromptAudio, changed
from ivr.media.prompt_catalog import PromptSettings
from ivr.store.db import Database
from ivr.store.prompt_changes import NO_OVERRIDES, load_overrides, prompts_version

log = logging.getLogger("ivr.media")

DB_CHECK_S = 30.0

Runner = Callable[..., Deferred[Any]]  # runs a blocking function on a worker thread


def first_audio(settings: PromptSettings, db: Database) -> PromptAudio:
    """BLOCKING (before the reactor runs): the prompts with the edits stored so far; with the
    database unreachable, the files alone (the periodic look loads the edits later)."""
    try:
        overrides = load_overrides(db)
    except SQLAlchemyError as error:
        log.warning("prompt edits not loaded yet (%s): playing the files", type(error).__name__)
        overrides = NO_OVERRIDES
    return PromptAudio.load(settings, overrides)


class PromptFollower:
    def __init__(
        self,
        settings: PromptSettings,
        db: Database,
        audio: PromptAudio,
        run: Runner,
        clock: Any,
        swap: Callable[[PromptAudio], None],
    ) -> None:
        self.settings = settings
        self.db = db
        self.audio = audio
        self._run = run
        self._swap = swap
        self._looking = False
        self._again: bool | None = None  # a look asked for while one ran (True: with the DB)
        self._check = task.LoopingCall(self.look, True)
        self._check.clock = clock

    def start(self) -> None:
        self._check.start(DB_CHECK_S, now=False)

    def stop(self) -> None:
        if self._check.running:
            self._check.stop()

    def nudged(self, _version: str) -> None:
        """A nudge, on the reactor (the listener hands it over)."""
        self.look(True)

    def look(self, with_database: bool = False) -> None:
        """Reload off the reactor if the files changed or (`with_database`) the edits did."""
        if self._looking:
            self._again = bool(self._again) or with_database
            return
        self._looking = True
        self._run(self._reload, self.audio, with_database).addCallbacks(
            self._reloaded,
            lambda failure: log.error("prompts not reloaded: %s", failure.getErrorMessage()),
        ).addBoth(self._done)

    def _reload(self, current: PromptAudio, with_database: bool) -> PromptAudio | None:
        """BLOCKING: the new audio, or None when nothing changed."""
        overrides = current.overrides
        if with_database and prompts_version(self.db) != overrides.version:
            overrides = load_overrides(self.db)
        if overrides is current.overrides and not changed(current, self.settings):
            return None
        return PromptAudio.load(self.settings, overrides, previous=current)

    def _reloaded(self, audio: PromptAudio | None) -> None:
        if audio is None:
            return
        self.audio = audio
        log.info(
            "prompts reloaded (edits version %d): %d clips, %d encoded again",
            audio.overrides.version, len(audio.catalog.clips()), audio.reencoded,
        )  # fmt: skip
        self._swap(audio)

    def _done(self, _result: object) -> None:
        self._looking = False
        again, self._again = self._again, None
        if again is not None:
            self.look(again)
