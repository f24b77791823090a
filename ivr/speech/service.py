"""The speech room's front door: settings and model checked once, a listener per call.

    service = SpeechService(config.section("speech"), pool)
    listener = service.listener_for_call(call_ref, on_event)   # None: DTMF-only
    listener.feed(pcm_frame) ... listener.set_active(False) ... listener.close()

Without a model (none configured, or one that does not load) the service logs one warning and
every `listener_for_call` returns None: the IVR runs on DTMF alone. It never downloads a model.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import vosk

from ivr.speech.events import SpeechEvent
from ivr.speech.intents import IntentSet, build_intent_set
from ivr.speech.listener import CallListener, Executor, Slots
from ivr.speech.model import ModelUnavailable, has_word, load_model, resolve_model_dir
from ivr.speech.settings import MODEL_ENV, SpeechSettings, parse_speech_settings

log = logging.getLogger(__name__)

DTMF_ONLY = "speech recognition is off, the IVR runs DTMF-only"


class SpeechService:
    def __init__(
        self,
        config_section: Mapping[str, Any],
        pool: Executor,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings: SpeechSettings = parse_speech_settings(config_section, environ)
        self._pool = pool
        self._model: vosk.Model | None = None
        self._intents = IntentSet((), ())
        self._utterance_slots = Slots(self.settings.max_utterances)
        self._transcript_slots = (
            Slots(self.settings.transcript.max_concurrent)
            if self.settings.transcript.enabled
            else None
        )
        if not self.settings.enabled:
            log.info("%s: speech.enabled is false", DTMF_ONLY)
        elif not self.settings.model:
            log.warning(
                "%s: no Vosk model configured (set speech.model in config/ivr.yaml or %s "
                "to an unpacked model such as vosk-model-small-cn-0.22)",
                DTMF_ONLY,
                MODEL_ENV,
            )
        else:
            self._start(self.settings.model)

    def _start(self, setting: str) -> None:
        try:
            model = load_model(resolve_model_dir(setting))
        except ModelUnavailable as exc:
            log.warning("%s: %s", DTMF_ONLY, exc)
            return
        intents, problems = build_intent_set(
            self.settings.intents, self.settings.garbage_words, lambda word: has_word(model, word)
        )
        for problem in problems:
            log.warning("speech: %s", problem)
        if not intents.phrases:
            log.warning("%s: no intent phrase is in the model's vocabulary", DTMF_ONLY)
            return
        self._model = model
        self._intents = intents

    @property
    def enabled(self) -> bool:
        return self._model is not None

    @property
    def intents(self) -> IntentSet:
        """The phrases in use (those the model's vocabulary holds)."""
        return self._intents

    def listener_for_call(
        self, call_ref: str, on_event: Callable[[SpeechEvent], None]
    ) -> CallListener | None:
        """A listener for one call, or None when speech is off; events arrive on the reactor."""
        if self._model is None:
            return None
        return CallListener(
            call_ref,
            self.settings,
            self._model,
            self._intents,
            self._pool,
            on_event,
            self._utterance_slots,
            self._transcript_slots,
        )
