"""One call's listener: VAD on the reactor thread, Vosk decoding on the recognition threads.

`feed()` costs a VAD step per 20 ms frame. While an utterance is open its audio is handed to the
pool in chunks of `chunk_ms`, so when the hangover closes it only the last chunk is left to
decode and the intent follows the end of speech closely. One utterance has one recognizer and
at most one chunk in flight; a new utterance gets a new recognizer, so dropping one (pause,
close) never waits for a thread. Results come back on the reactor thread as events.

Load is bounded process-wide by `Slots` shared by every listener: at most `max_utterances` are
decoded at once (a caller who starts speaking when all are taken is not listened to for that
utterance; the keypad still works), and at most `transcript.max_concurrent` free decodes run, so
recognition falls behind by whole utterances instead of answering every caller late.
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


class Slots:
    """A process-wide count of work in flight, kept on the reactor thread only (no lock)."""

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
    __slots__ = ("audio", "busy", "decoder", "dropped", "ended", "holds_slot", "pending")

    def __init__(self, decoder: GrammarDecoder, preroll: list[bytes]) -> None:
        self.decoder = decoder
        self.pending = preroll  # frames not yet sent to the decoder
        self.audio: list[bytes] = list(preroll)  # the whole utterance, for a free transcript
        self.busy = False
        self.ended = False
        self.dropped = False
        self.holds_slot = True


class CallListener:
    def __init__(
        self,
        call_ref: str,
        settings: SpeechSettings,
        model: vosk.Model,
        intents: IntentSet,
        pool: Executor,
        on_event: Callable[[SpeechEvent], None],
        utterance_slots: Slots,
        transcript_slots: Slots | None,
    ) -> None:
        self.call_ref = call_ref
        self._settings = settings
        self._model = model
        self._intents = intents
        self._grammar = intents.grammar()
        self._pool = pool
        self._on_event = on_event
        self._utterance_slots = utterance_slots
        self._transcript_slots = transcript_slots
        self._vad = VoiceActivityDetector(settings.vad)
        self._preroll: deque[bytes] = deque(maxlen=settings.vad.preroll_frames)
        self._utterance: _Utterance | None = None  # None between utterances and when shed
        self._active = True
        self._closed = False

    def feed(self, frame: np.ndarray, energy_db: float | None = None) -> None:
        """One 20 ms frame of the caller's audio (8 kHz int16), on the reactor thread; its
        energy in dBFS when already measured."""
        if not self._active or self._closed:
            return
        event = self._vad.process(frame, energy_db)
        if event is VadEvent.QUIET:
            self._preroll.append(frame.tobytes())
            return
        if event is VadEvent.START:
            self._preroll.append(frame.tobytes())
            self._open_utterance()
            return
        utterance = self._utterance
        if utterance is None:  # shed for load: let it pass
            return
        pcm = frame.tobytes()
        utterance.pending.append(pcm)
        if self._transcript_slots is not None:
            utterance.audio.append(pcm)
        if event is VadEvent.END:
            utterance.ended = True
            self._utterance = None
            self._pump(utterance)
        elif len(utterance.pending) * len(pcm) >= self._settings.chunk_bytes:  # same-size packets
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

    def _open_utterance(self) -> None:
        if self._utterance_slots.take():
            decoder = GrammarDecoder(self._model, self._grammar)
            self._utterance = _Utterance(decoder, [*self._preroll])
        else:
            log.warning(
                "call %s: not listening to this utterance, %d already being decoded",
                self.call_ref,
                self._utterance_slots.limit,
            )
        self._preroll.clear()

    def _drop_utterance(self) -> None:
        utterance = self._utterance
        if utterance is not None:
            utterance.dropped = True
            if not utterance.busy:
                self._release(utterance)
            self._utterance = None
        self._vad.reset()
        self._preroll.clear()

    def _release(self, utterance: _Utterance) -> None:
        if utterance.holds_slot:
            utterance.holds_slot = False
            self._utterance_slots.give_back()

    def _pump(self, utterance: _Utterance) -> None:
        """Send the pending audio of `utterance` to a thread unless a chunk is already there."""
        if utterance.busy or utterance.dropped or not (utterance.pending or utterance.ended):
            return
        pcm = b"".join(utterance.pending)
        utterance.pending.clear()
        utterance.busy = True
        work = self._pool.run(decode_chunk, utterance.decoder, pcm, utterance.ended)
        work.addCallbacks(
            self._decoded, self._failed, callbackArgs=(utterance,), errbackArgs=(utterance,)
        )

    def _decoded(self, hypothesis: Hypothesis | None, utterance: _Utterance) -> None:
        utterance.busy = False
        if utterance.dropped or self._closed:
            self._release(utterance)
            return
        if hypothesis is None:
            self._pump(utterance)
            return
        self._release(utterance)
        match = self._intents.match(hypothesis, self._settings.confidence)
        if match is not None:
            log.info(
                "call %s: heard intent %s (%r, confidence %.2f)",
                self.call_ref,
                match.intent,
                match.phrase,
                match.confidence,
            )
            text = self._intents.text_of(hypothesis)
            self._on_event(IntentHeard(match.intent, text, match.confidence))
        self._start_transcript(utterance)

    def _failed(self, failure: Failure, utterance: _Utterance) -> None:
        utterance.busy = False
        utterance.dropped = True
        self._release(utterance)
        log.error("call %s: speech decoding failed: %s", self.call_ref, failure.getErrorMessage())

    def _start_transcript(self, utterance: _Utterance) -> None:
        slots = self._transcript_slots
        if slots is None:
            return
        if not slots.take():
            log.debug("call %s: transcript skipped, free decoding is at its limit", self.call_ref)
            return
        limit = int(self._settings.transcript.max_seconds * BYTES_PER_SECOND)
        work = self._pool.run(transcribe, self._model, b"".join(utterance.audio)[:limit])
        work.addBoth(self._transcribed, slots)

    def _transcribed(self, result: str | Failure, slots: Slots) -> None:
        slots.give_back()
        if isinstance(result, Failure):
            log.error("call %s: transcript failed: %s", self.call_ref, result.getErrorMessage())
        elif result and not self._closed:
            self._on_event(Transcript(result))
