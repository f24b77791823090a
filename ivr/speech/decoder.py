"""Blocking Vosk decoding: these functions run on a recognition thread, never on the reactor.

A `GrammarDecoder` belongs to one utterance and is fed by one thread at a time (the listener
sends the next chunk only after the previous one came back). Audio goes to Kaldi at 8 kHz as it
arrives from the phone: the model's feature extractor resamples internally
(`--allow-upsample=true` in Vosk models' mfcc.conf). bench/bench_speech.py compares this with
linear upsampling to 16 kHz in numpy first: the same decoding cost (RTF ~0.02 either way) and
the same answers on speech, but the upsampled path turned pink noise into an intent word, and
it would add per-frame Python work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import vosk

SAMPLE_RATE = 8000


@dataclass(frozen=True)
class RecognizedWord:
    word: str
    confidence: float


@dataclass(frozen=True)
class Hypothesis:
    words: tuple[RecognizedWord, ...]


def _words(result_json: str) -> list[RecognizedWord]:
    result = json.loads(result_json)
    return [RecognizedWord(item["word"], float(item["conf"])) for item in result.get("result", ())]


class GrammarDecoder:
    """Streams one utterance through a recognizer restricted to a grammar, with word confidences."""

    def __init__(self, model: vosk.Model, grammar: str) -> None:
        self._model = model
        self._grammar = grammar
        self._recognizer: vosk.KaldiRecognizer | None = None
        self._words: list[RecognizedWord] = []

    def accept(self, pcm: bytes) -> None:
        if self._recognizer is None:  # built here, on the recognition thread (about 0.5 ms)
            self._recognizer = vosk.KaldiRecognizer(self._model, SAMPLE_RATE, self._grammar)
            self._recognizer.SetWords(True)
        if self._recognizer.AcceptWaveform(pcm):
            # Kaldi's own endpointer closed a segment inside our utterance: keep its words,
            # the next AcceptWaveform would otherwise start afresh without them.
            self._words.extend(_words(self._recognizer.Result()))

    def finish(self) -> Hypothesis:
        if self._recognizer is not None:
            self._words.extend(_words(self._recognizer.FinalResult()))
        return Hypothesis(tuple(self._words))


def decode_chunk(decoder: GrammarDecoder, pcm: bytes, final: bool) -> Hypothesis | None:
    """One step of an utterance: feed `pcm`; on the last step, the whole hypothesis."""
    decoder.accept(pcm)
    return decoder.finish() if final else None


def transcribe(model: vosk.Model, pcm: bytes) -> str:
    """Free (grammar-less) decoding of a whole utterance: slow, around or above real time."""
    recognizer = vosk.KaldiRecognizer(model, SAMPLE_RATE)
    step = SAMPLE_RATE  # half a second of 16-bit samples
    segments = [
        recognizer.Result()
        for start in range(0, len(pcm), step)
        if recognizer.AcceptWaveform(pcm[start : start + step])
    ]
    segments.append(recognizer.FinalResult())
    texts = (json.loads(segment).get("text", "") for segment in segments)
    return " ".join(text for text in texts if text)
