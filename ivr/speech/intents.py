"""Intents: phrase lists per intent from config, the grammar they make, and matching a result.

Phrases are written as the model's vocabulary writes them: words separated by spaces. Chinese
Vosk models (vosk-model-small-cn-0.22, vosk-model-cn-0.22) use a word-segmented lexicon, so
转人工 is configured as "转 人工"; a word missing from the vocabulary is silently dropped from a
Vosk grammar (Kaldi only logs it), which would turn "转 人工" into a bare "人工". So every phrase
is checked against the model here and a phrase with an unknown word is refused, by name.

Vosk lets grammar words follow each other freely, so a phrase counts as heard only when all its
words appear in order, adjacent, each at least as confident as the threshold. Garbage words
(`[unk]` in the Chinese and English models; the Korean test model has none, so its test config
lists a few short syllables instead) absorb speech that is no phrase, so other sentences are
not forced onto intent words. Intents are tried in config order: the first one heard wins.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ivr.speech.decoder import Hypothesis, RecognizedWord


@dataclass(frozen=True)
class IntentMatch:
    intent: str
    phrase: str
    confidence: float


@dataclass(frozen=True)
class IntentSet:
    phrases: tuple[tuple[str, tuple[str, ...]], ...]  # (intent, words), intents in config order
    garbage_words: tuple[str, ...]

    def grammar(self) -> str:
        """The JSON phrase list for KaldiRecognizer; non-ASCII kept as is, as Vosk expects."""
        unique = dict.fromkeys(" ".join(words) for _, words in self.phrases)
        return json.dumps([*unique, *self.garbage_words], ensure_ascii=False)

    def match(self, hypothesis: Hypothesis, threshold: float) -> IntentMatch | None:
        best: dict[str, IntentMatch] = {}
        for intent, words in self.phrases:
            confidence = phrase_confidence(hypothesis.words, words)
            current = best.get(intent)
            if confidence >= threshold and (current is None or confidence > current.confidence):
                best[intent] = IntentMatch(intent, " ".join(words), confidence)
        return next(iter(best.values()), None)  # dicts keep insertion order: config order

    def text_of(self, hypothesis: Hypothesis) -> str:
        """The heard words without garbage words."""
        garbage = set(self.garbage_words)
        return " ".join(word.word for word in hypothesis.words if word.word not in garbage)


def phrase_confidence(heard: Sequence[RecognizedWord], phrase: Sequence[str]) -> float:
    """Best over the places `phrase` occurs in `heard` of its least confident word; -1 if absent."""
    best = -1.0
    size = len(phrase)
    for start in range(len(heard) - size + 1):
        window = heard[start : start + size]
        if all(word.word == expected for word, expected in zip(window, phrase, strict=True)):
            best = max(best, min(word.confidence for word in window))
    return best


def build_intent_set(
    intents: Mapping[str, Sequence[str]],
    garbage_words: Sequence[str],
    known: Callable[[str], bool],
) -> tuple[IntentSet, list[str]]:
    """The usable intent set and one readable problem per refused phrase or garbage word."""
    problems: list[str] = []
    phrases: list[tuple[str, tuple[str, ...]]] = []
    for intent, texts in intents.items():
        for text in texts:
            words = tuple(text.split())
            unknown = [word for word in words if not known(word)]
            if unknown:
                problems.append(
                    f"intent '{intent}': phrase '{text}' is not used, the model does not know "
                    f"{', '.join(repr(word) for word in unknown)} (write it as the model's "
                    "vocabulary segments it, words separated by spaces)"
                )
            else:
                phrases.append((intent, words))
    garbage = tuple(word for word in garbage_words if known(word))
    problems.extend(
        f"garbage word '{word}' is not in the model's vocabulary and is not used"
        for word in garbage_words
        if word not in garbage
    )
    return IntentSet(tuple(phrases), garbage), problems
