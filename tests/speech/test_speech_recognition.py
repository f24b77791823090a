"""The real Vosk engine on the Korean model: speech through VAD, listener and grammar decoding.

Audio is espeak-ng's Korean, mu-law encoded and decoded as over a phone line, fed frame by frame.
Decoding runs through InlinePool here (same code path as the thread pool, minus the threads);
test_speech_threads.py runs it on a real BlockingPool.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ivr.speech.events import IntentHeard, SpeechEvent, Transcript
from ivr.speech.service import SpeechService

from .pools import HeldPool, InlinePool
from .signals import FRAME, call_audio, dtmf_tones, feed, pink_noise, say, silence, white_noise


def listen(service: SpeechService, audio: np.ndarray) -> list[SpeechEvent]:
    events: list[SpeechEvent] = []
    listener = service.listener_for_call("call-ko", events.append)
    assert listener is not None
    feed(listener, audio)
    return events


def intents(events: list[SpeechEvent]) -> list[str]:
    return [event.intent for event in events if isinstance(event, IntentHeard)]


def test_caller_asking_for_an_agent_is_heard_as_the_agent_intent(
    korean_service: SpeechService, inline_pool: InlinePool
) -> None:
    events = listen(korean_service, call_audio(silence(0.5), say("상담원 연결"), silence(1.0)))
    assert events == [IntentHeard("agent", "상담원 연결", 1.0)]
    # streamed in chunks while spoken, then finished once: never the whole call at the end
    assert inline_pool.jobs.count("decode_chunk") > 2


def test_the_short_phrase_alone_is_the_agent_intent_too(korean_service: SpeechService) -> None:
    assert intents(listen(korean_service, call_audio(say("상담원"), silence(1.0)))) == ["agent"]


def test_agent_request_inside_a_longer_sentence_is_heard(korean_service: SpeechService) -> None:
    audio = call_audio(silence(0.3), say("상담원 좀 연결해 주세요"), silence(1.0))
    assert intents(listen(korean_service, audio)) == ["agent"]


def test_agent_request_over_line_noise_is_heard(korean_service: SpeechService) -> None:
    speech = call_audio(silence(0.5), say("상담원 연결"), silence(1.0))
    audio = speech + pink_noise(len(speech) / 8000, rms=150)
    assert intents(listen(korean_service, audio)) == ["agent"]


def test_nothing_is_heard_before_the_silence_that_ends_the_utterance(
    korean_service: SpeechService,
) -> None:
    assert listen(korean_service, call_audio(silence(0.5), say("상담원 연결"), silence(0.4))) == []


@pytest.mark.parametrize(
    "sentence",
    ["오늘 날씨가 정말 좋네요", "감사합니다 안녕히 계세요", "주소를 바꾸고 싶습니다"],
)
def test_other_korean_sentences_produce_no_intent(
    korean_service: SpeechService, inline_pool: InlinePool, sentence: str
) -> None:
    assert listen(korean_service, call_audio(silence(0.3), say(sentence), silence(1.0))) == []
    assert "decode_chunk" in inline_pool.jobs  # it was decoded, and rejected


@pytest.mark.parametrize(
    ("name", "audio", "decoded"),
    [
        ("silence", silence(10.0), False),
        ("quiet hiss", white_noise(10.0, rms=30), False),
        ("loud white noise", white_noise(10.0, rms=3000), True),
        ("pink noise", pink_noise(10.0, rms=3000), True),
        ("dtmf keys", np.tile(dtmf_tones("0123456789*#"), 3), True),
        ("noise bursts", np.tile(call_audio(white_noise(0.4, 4000), silence(0.8)), 8), True),
    ],
)
def test_silence_and_noise_never_produce_an_intent(
    korean_service: SpeechService,
    inline_pool: InlinePool,
    name: str,
    audio: np.ndarray,
    decoded: bool,
) -> None:
    assert listen(korean_service, call_audio(audio, silence(1.0))) == [], name
    # loud noise passes the VAD and is rejected by the recognizer; quiet never reaches it
    assert ("decode_chunk" in inline_pool.jobs) is decoded


def test_each_utterance_is_decoded_on_its_own(korean_service: SpeechService) -> None:
    audio = call_audio(
        say("감사합니다 안녕히 계세요"), silence(1.0), say("상담원 연결"), silence(1.0)
    )
    assert intents(listen(korean_service, audio)) == ["agent"]


def test_a_paused_listener_decodes_nothing_until_resumed(
    korean_service: SpeechService, inline_pool: InlinePool
) -> None:
    events: list[SpeechEvent] = []
    listener = korean_service.listener_for_call("call-ko", events.append)
    assert listener is not None
    speech = call_audio(say("상담원 연결"), silence(1.0))
    listener.set_active(False)
    feed(listener, speech)
    assert events == [] and inline_pool.jobs == []
    listener.set_active(True)
    feed(listener, speech)
    assert intents(events) == ["agent"]


def test_pausing_mid_utterance_drops_it(korean_service: SpeechService) -> None:
    events: list[SpeechEvent] = []
    listener = korean_service.listener_for_call("call-ko", events.append)
    assert listener is not None
    speech = say("상담원 연결")
    half = len(speech) // 2
    feed(listener, speech[:half])
    listener.set_active(False)
    listener.set_active(True)
    feed(listener, call_audio(speech[half:], silence(1.0)))
    assert intents(events) == []


def test_a_closed_listener_reports_nothing(korean_service: SpeechService) -> None:
    events: list[SpeechEvent] = []
    listener = korean_service.listener_for_call("call-ko", events.append)
    assert listener is not None
    listener.close()
    feed(listener, call_audio(say("상담원 연결"), silence(1.0)))
    assert events == []


def test_free_transcript_follows_the_intent_when_enabled(
    korean_section: dict[str, Any], inline_pool: InlinePool
) -> None:
    section = {**korean_section, "transcript": {"enabled": True, "max_concurrent": 1}}
    service = SpeechService(section, inline_pool, environ={})
    events = listen(service, call_audio(silence(0.3), say("상담원 연결"), silence(1.0)))
    assert [type(event) for event in events] == [IntentHeard, Transcript]
    assert isinstance(events[1], Transcript) and events[1].text
    assert inline_pool.jobs[-1] == "transcribe"


def interleave(listeners: list[Any], audios: list[np.ndarray]) -> None:
    """Calls talking at the same time: each 20 ms tick feeds every call its frame."""
    length = min(len(audio) for audio in audios) // FRAME * FRAME
    for start in range(0, length, FRAME):
        for listener, audio in zip(listeners, audios, strict=True):
            listener.feed(audio[start : start + FRAME])


def test_speakers_beyond_max_utterances_are_not_listened_to_until_a_slot_frees(
    korean_section: dict[str, Any], inline_pool: InlinePool
) -> None:
    service = SpeechService({**korean_section, "max_utterances": 1}, inline_pool, environ={})
    heard: dict[str, list[SpeechEvent]] = {"a": [], "b": []}
    a = service.listener_for_call("a", heard["a"].append)
    b = service.listener_for_call("b", heard["b"].append)
    speech = call_audio(silence(0.2), say("상담원 연결"), silence(1.0))
    interleave([a, b], [speech, speech])
    assert (intents(heard["a"]), intents(heard["b"])) == (["agent"], [])
    feed(b, speech)  # a's utterance is done: its slot is free again
    assert intents(heard["b"]) == ["agent"]


def test_a_dropped_utterance_gives_its_slot_back(
    korean_section: dict[str, Any], inline_pool: InlinePool
) -> None:
    service = SpeechService({**korean_section, "max_utterances": 1}, inline_pool, environ={})
    heard: list[SpeechEvent] = []
    a = service.listener_for_call("a", heard.append)
    b = service.listener_for_call("b", heard.append)
    assert a is not None and b is not None
    feed(a, say("상담원 연결")[:4000])
    a.close()
    feed(b, call_audio(say("상담원 연결"), silence(1.0)))
    assert intents(heard) == ["agent"]


def test_free_transcripts_in_flight_stay_within_their_limit(
    korean_section: dict[str, Any],
) -> None:
    pool = HeldPool()
    section = {**korean_section, "transcript": {"enabled": True, "max_concurrent": 1}}
    service = SpeechService(section, pool, environ={})
    heard: list[SpeechEvent] = []
    speech = call_audio(silence(0.2), say("상담원 연결"), silence(1.0))
    for call in ("a", "b", "c"):
        listener = service.listener_for_call(call, heard.append)
        assert listener is not None
        feed(listener, speech)
    assert pool.run_queued("decode_chunk") > 3
    assert intents(heard) == ["agent", "agent", "agent"]  # intents never wait for transcripts
    assert pool.names() == ["transcribe"]  # the other two calls' transcripts were skipped
    assert pool.run_queued("transcribe") == 1
    assert isinstance(heard[-1], Transcript)
