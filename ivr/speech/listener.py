"""One call's listener: VAD on the reactor thread, Vosk decoding on the recognition threads.

`feed()` costs a VAD step per 20 ms frame. While an utterance is open its audio is handed to the
pool in chunks of `chunk_ms`, so when the hangover closes it only the last chunk is left to
decode and the intent follows the end of speech closely. One utterance has one recognizer and
at most one chunk in flight; a new utterance gets a new recognizer, so dropping one (pause,
close) never waits for a thread. Results come back on the reactor thread as events.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np
import vosk
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from ivr.speech.decoder import SAMPLE_RATE, GrammarDecoder, Hypothesis, decode_chunk, transcribe
from ivr.speech.events import IntentHeard, SpeechEvent, Transcript
from ivr.speech.intents import IntentSet
from ivr.speech.settings import SpeechSettings
from ivr.speech.vad import VadEvent, VoiceActivityDetector

log = logging.getLogger(__name__)

T = TypeVar("T")
BYTES_PER_SECOND = SAMPLE_RATE * 2


class Executor(Protocol):
    """What ivr/workers.BlockingPool offers: run blocking work, get a reactor-thread Deferred."""

    def run(self, fn: Callable[..., T], *args: Any) -> Deferred[T]: ...


class TranscriptSlots:
    """Process-wide count of free decodes in flight (reactor thread only), so they stay bounded."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_use = 0

    def take(self) -> bool:
        if self.in_use >= self.limit:
            return False
        self.in_use += 1
        return True

    def give_back(self) -> None:
        self.in_use -= 1


class _Utterance:
    __slots__ = ("audio", "busy", "decoder", "dropped", "ended", "pending")

    def __init__(self, decoder: GrammarDecoder, preroll: list[bytes]) -> None:
        self.decoder = decoder
        self.pending = preroll  # frames not yet sent to the decoder
        self.audio: list[bytes] = list(preroll)  # the whole utterance, for a free transcript
        self.busy = False
        self.ended = False
        self.dropped = False


class CallListener:
    def __init__(
        self,
        call_ref: str,
        settings: SpeechSettings,
        model: vosk.Model,
        intents: IntentSet,
        pool: Executor,
        on_event: Callable[[SpeechEvent], None],
        transcripts: TranscriptSlots | None,
    ) -> None:
        self.call_ref = call_ref
        self._settings = settings
        self._model = model
        self._intents = intents
        self._grammar = intents.grammar()
        self._pool = pool
        self._on_event = on_event
        self._transcripts = transcripts
        self._vad = VoiceActivityDetector(settings.vad)
        self._preroll: deque[bytes] = deque(
            maxlen=max(settings.vad.preroll_frames, settings.vad.start_frames)
        )
        self._utterance: _Utterance | None = None
        self._active = True
        self._closed = False

    def feed(self, frame: np.ndarray) -> None:
        """One 20 ms frame of the caller's audio (8 kHz int16), on the reactor thread."""
        if not self._active or self._closed:
            return
        event = self._vad.process(frame)
        if event is VadEvent.QUIET:
            self._preroll.append(frame.tobytes())
            return
        if event is VadEvent.START:
            self._preroll.append(frame.tobytes())
            self._utterance = _Utterance(
                GrammarDecoder(self._model, self._grammar), [*self._preroll]
            )
            self._preroll.clear()
            return
        utterance = self._utterance
        assert utterance is not None  # SPEECH and END only follow START
        if event is VadEvent.END:
            utterance.ended = True
            self._utterance = None
            self._pump(utterance)
            return
        pcm = frame.tobytes()
        utterance.pending.append(pcm)
        if self._transcripts is not None:
            utterance.audio.append(pcm)
        if len(utterance.pending) >= self._settings.chunk_frames:
            self._pump(utterance)

    def set_active(self, active: bool) -> None:
        """Pause (e.g. while bridged to an agent) or resume; pausing drops an open utterance."""
        if not active:
            self._drop_utterance()
        self._active = active

    def close(self) -> None:
        """The call is over: nothing more is decoded or reported."""
        self._drop_utterance()
        self._closed = True

    def _drop_utterance(self) -> None:
        if self._utterance is not None:
            self._utterance.dropped = True
            self._utterance = None
        self._vad.reset()
        self._preroll.clear()

    def _pump(self, utterance: _Utterance) -> None:
        """Send the pending audio of `utterance` to a thread unless a chunk is already there."""
        if utterance.busy or utterance.dropped or not (utterance.pending or utterance.ended):
            return
        pcm = b"".join(utterance.pending)
        utterance.pending.clear()
        utterance.busy = True
        final = utterance.ended
        work = self._pool.run(decode_chunk, utterance.decoder, pcm, final)
        work.addCallbacks(
            self._decoded, self._failed, callbackArgs=(utterance,), errbackArgs=(utterance,)
        )

    def _decoded(self, hypothesis: Hypothesis | None, utterance: _Utterance) -> None:
        utterance.busy = False
        if utterance.dropped or self._closed:
            return
        if hypothesis is None:
            self._pump(utterance)
            return
        match = self._intents.match(hypothesis, self._settings.confidence)
        if match is not None:
            log.info(
                "call %s: heard intent %s (%r, confidence %.2f)",
                self.call_ref,
                match.intent,
                match.phrase,
                match.confidence,
            )
            self._on_event(
                IntentHeard(match.intent, self._intents.text_of(hypothesis), match.confidence)
            )
        self._start_transcript(utterance)

    def _start_transcript(self, utterance: _Utterance) -> None:
        slots = self._transcripts
        if slots is None:
            return
        if not slots.take():
            log.debug("call %s: transcript skipped, free decoding is at its limit", self.call_ref)
            return
        limit = int(self._settings.transcript.max_seconds * BYTES_PER_SECOND)
        work = self._pool.run(transcribe, self._model, b"".join(utterance.audio)[:limit])
        work.addBoth(self._transcribed, slots)

    def _transcribed(self, result: str | Failure, slots: TranscriptSlots) -> None:
        slots.give_back()
        if isinstance(result, Failure):
            log.error("call %s: transcript failed: %s", self.call_ref, result.getErrorMessage())
        elif result and not self._closed:
            self._on_event(Transcript(result))

    def _failed(self, failure: Failure, utterance: _Utterance) -> None:
        utterance.busy = False
        utterance.dropped = True
        log.error("call %s: speech decoding failed: %s", self.call_ref, failure.getErrorMessage())
