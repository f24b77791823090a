"""The `speech:` section of config/ivr.yaml, turned into typed, checked settings.

Every number a supervisor may tune for recognition lives here with its unit in its name, so the
VAD, the listener and the service never parse raw mappings themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.config import ConfigError

MODEL_ENV = "IVR_VOSK_MODEL"
SAMPLES_PER_MS = 8  # the phone's 8 kHz audio
FRAME_MS = 20  # the usual RTP packet (ptime); the VAD counts samples, so others work too


@dataclass(frozen=True)
class VadSettings:
    """Energy gate in dBFS: speech is louder than `threshold_db` and than noise floor + margin."""

    threshold_db: float = -45.0
    margin_db: float = 12.0
    floor_rise_db_per_s: float = 3.0
    start_ms: int = 60  # this much consecutive speech opens an utterance (clicks do not)
    end_silence_ms: int = 600  # this much silence closes it (the hangover)
    preroll_ms: int = 200  # audio before the detected onset that is still decoded
    max_utterance_ms: int = 8000

    @property
    def start_samples(self) -> int:
        return self.start_ms * SAMPLES_PER_MS

    @property
    def end_silence_samples(self) -> int:
        return self.end_silence_ms * SAMPLES_PER_MS

    @property
    def max_utterance_samples(self) -> int:
        return self.max_utterance_ms * SAMPLES_PER_MS

    @property
    def preroll_frames(self) -> int:
        """Packets kept before the onset (counted at the usual 20 ms per packet)."""
        return max(self.preroll_ms, self.start_ms) // FRAME_MS + 1

    @property
    def floor_rise_db_per_sample(self) -> float:
        return self.floor_rise_db_per_s / (1000 * SAMPLES_PER_MS)


@dataclass(frozen=True)
class TranscriptSettings:
    """Free (grammar-less) decoding for the agent's screen: slow, so optional and bounded."""

    enabled: bool = False
    max_concurrent: int = 1  # free decodes in flight at once, process-wide (< speech threads)
    max_seconds: float = 6.0  # longer utterances are cut to this before free decoding


@dataclass(frozen=True)
class SpeechSettings:
    enabled: bool = True
    model: str | None = None
    threads: int = 2
    chunk_ms: int = 200  # audio handed to a recognition thread at a time while someone speaks
    confidence: float = 0.6
    max_utterances: int = 50  # decoded at once, process-wide; more speakers are not listened to
    garbage_words: tuple[str, ...] = ("[unk]",)
    intents: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    vad: VadSettings = field(default_factory=VadSettings)
    transcript: TranscriptSettings = field(default_factory=TranscriptSettings)

    @property
    def chunk_bytes(self) -> int:
        return self.chunk_ms * SAMPLES_PER_MS * 2


def _number(raw: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"setting '{where}.{key}' must be a number, not {value!r}")
    return float(value)


def _mapping(raw: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, Mapping):
        raise ConfigError(f"setting '{where}.{key}' must be a mapping")
    return value


def _words(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ConfigError(f"setting '{where}' must be a list of phrases")
    phrases = tuple(" ".join(str(item).split()) for item in value)
    if not all(phrases):
        raise ConfigError(f"setting '{where}' holds an empty phrase")
    return phrases


def parse_speech_settings(
    raw: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> SpeechSettings:
    """Check the `speech:` section; `IVR_VOSK_MODEL` in the environment overrides `model:`."""
    env = os.environ if environ is None else environ
    vad_raw = _mapping(raw, "vad", "speech")
    transcript_raw = _mapping(raw, "transcript", "speech")
    intents_raw = _mapping(raw, "intents", "speech")
    vad = VadSettings(
        threshold_db=_number(vad_raw, "threshold_db", VadSettings.threshold_db, "speech.vad"),
        margin_db=_number(vad_raw, "margin_db", VadSettings.margin_db, "speech.vad"),
        floor_rise_db_per_s=_number(
            vad_raw, "floor_rise_db_per_s", VadSettings.floor_rise_db_per_s, "speech.vad"
        ),
        start_ms=int(_number(vad_raw, "start_ms", VadSettings.start_ms, "speech.vad")),
        end_silence_ms=int(
            _number(vad_raw, "end_silence_ms", VadSettings.end_silence_ms, "speech.vad")
        ),
        preroll_ms=int(_number(vad_raw, "preroll_ms", VadSettings.preroll_ms, "speech.vad")),
        max_utterance_ms=int(
            _number(vad_raw, "max_utterance_ms", VadSettings.max_utterance_ms, "speech.vad")
        ),
    )
    transcript = TranscriptSettings(
        enabled=bool(transcript_raw.get("enabled", TranscriptSettings.enabled)),
        max_concurrent=int(
            _number(
                transcript_raw,
                "max_concurrent",
                TranscriptSettings.max_concurrent,
                "speech.transcript",
            )
        ),
        max_seconds=_number(
            transcript_raw, "max_seconds", TranscriptSettings.max_seconds, "speech.transcript"
        ),
    )
    settings = SpeechSettings(
        enabled=bool(raw.get("enabled", True)),
        model=env.get(MODEL_ENV) or raw.get("model") or None,
        threads=int(_number(raw, "threads", SpeechSettings.threads, "speech")),
        chunk_ms=int(_number(raw, "chunk_ms", SpeechSettings.chunk_ms, "speech")),
        confidence=_number(raw, "confidence", SpeechSettings.confidence, "speech"),
        max_utterances=int(_number(raw, "max_utterances", SpeechSettings.max_utterances, "speech")),
        garbage_words=_words(
            raw.get("garbage_words", list(SpeechSettings.garbage_words)), "speech.garbage_words"
        ),
        intents={
            str(name): _words(phrases, f"speech.intents.{name}")
            for name, phrases in intents_raw.items()
        },
        vad=vad,
        transcript=transcript,
    )
    _check(settings)
    return settings


def _check(settings: SpeechSettings) -> None:
    if not 0.0 <= settings.confidence <= 1.0:
        raise ConfigError("setting 'speech.confidence' must lie between 0 and 1")
    if settings.threads < 1 or settings.max_utterances < 1:
        raise ConfigError("settings 'speech.threads' and 'speech.max_utterances' must be >= 1")
    if (
        settings.transcript.enabled
        and not 0 < settings.transcript.max_concurrent < settings.threads
    ):
        raise ConfigError(
            "setting 'speech.transcript.max_concurrent' must be at least 1 and below "
            "'speech.threads', so free transcripts never take every thread from intents"
        )
    vad = settings.vad
    if vad.end_silence_ms < FRAME_MS or vad.max_utterance_ms <= vad.end_silence_ms:
        raise ConfigError(
            "settings 'speech.vad.end_silence_ms' (>= 20) and 'speech.vad.max_utterance_ms' "
            "(longer than the end silence) do not fit"
        )
