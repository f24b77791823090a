from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from twisted.internet import defer
from twisted.internet.defer import Deferred

from ivr.speech.service import SpeechService

T = TypeVar("T")
KOREAN_CONFIG = Path(__file__).with_name("speech_ko.yaml")


class InlinePool:
    """Runs blocking work at once on the calling thread: the decoding path without threads."""

    def __init__(self) -> None:
        self.jobs: list[str] = []

    def run(self, fn: Callable[..., T], *args: Any) -> Deferred[T]:
        self.jobs.append(fn.__name__)
        try:
            return defer.succeed(fn(*args))
        except Exception:
            return defer.fail()


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
