"""The e2e tests' "did the caller hear it" matcher (tests/e2e/heard.py) on made-up recordings:
it must forgive what a phone's jitter buffer does and still catch audio that was not heard."""

from __future__ import annotations

import numpy as np
import pytest

from ivr.rtp.g711 import SAMPLE_RATE
from tests.e2e.heard import heard_at, played_audio

WELCOME = played_audio("welcome")


def recording(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate([np.zeros(SAMPLE_RATE // 2), *parts, np.zeros(SAMPLE_RATE // 2)])


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE))


def test_a_prompt_heard_as_sent_is_found_where_it_starts() -> None:
    assert heard_at(recording(WELCOME), WELCOME) == pytest.approx(0.5, abs=0.01)


def test_a_jitter_buffer_growing_by_300_ms_at_once_still_counts_as_heard() -> None:
    cut = 3 * SAMPLE_RATE
    heard = recording(WELCOME[:cut], silence(0.3), WELCOME[cut:])
    # where it starts is ambiguous: the longer part, after the stretch, fits best as a whole
    assert round(heard_at(heard, WELCOME), 2) in (0.5, 0.8)


def test_a_second_of_the_prompt_missing_is_not_heard() -> None:
    cut = 3 * SAMPLE_RATE
    heard = recording(WELCOME[:cut], silence(1.0), WELCOME[cut + SAMPLE_RATE :])
    with pytest.raises(AssertionError, match="not heard"):
        heard_at(heard, WELCOME)


def test_another_prompt_is_not_the_one_expected() -> None:
    with pytest.raises(AssertionError, match="not heard"):
        heard_at(recording(played_audio("main_menu")), WELCOME)
