from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from ivr.speech.service import SpeechService

from .pools import InlinePool

KOREAN_CONFIG = Path(__file__).with_name("speech_ko.yaml")


@pytest.fixture
def korean_section() -> dict[str, Any]:
    return yaml.safe_load(KOREAN_CONFIG.read_text(encoding="utf-8"))["speech"]


@pytest.fixture
def inline_pool() -> InlinePool:
    return InlinePool()


@pytest.fixture
def korean_service(korean_section: dict[str, Any], inline_pool: InlinePool) -> SpeechService:
    service = SpeechService(korean_section, inline_pool, environ={})
    assert service.enabled
    return service
