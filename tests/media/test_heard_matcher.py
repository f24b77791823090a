"""The e2e tests' "did the caller hear it" matcher (tests/e2e/heard.py) on made-up recordings:
it must forgive what a phone's jitter buffer does and still catch audio that was not heard."""

from __future__ import annotations

import numpy as np
import pytest

from ivr.rtp.g711 import FRAME_SAMPLES as FRAME
from ivr.rtp.g711 import SAMPLE_RATE
from tests.e2e.heard import _padded, _pieces, heard_at, heard_readout, played_audio

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


def test_frames_a_jitter_buffer_repeated_inside_quarter_seconds_still_count_as_heard() -> None:
    parts, last = [], 0
    for second in (1, 2, 4, 5, 6, 7):  # a frame played twice, 0.1 s into a quarter second
        at = round((second + 0.1) * SAMPLE_RATE)
        parts += [WELCOME[last:at], WELCOME[at - FRAME : at]]
        last = at
    heard_at(recording(*parts, WELCOME[last:]), WELCOME)


def test_a_second_of_the_prompt_missing_is_not_heard() -> None:
    cut = 3 * SAMPLE_RATE
    heard = recording(WELCOME[:cut], silence(1.0), WELCOME[cut + SAMPLE_RATE :])
    with pytest.raises(AssertionError, match="not heard"):
        heard_at(heard, WELCOME)


def test_another_prompt_is_not_the_one_expected() -> None:
    with pytest.raises(AssertionError, match="not heard"):
        heard_at(recording(played_audio("main_menu")), WELCOME)


ID = "36010219790921023X"
PIECES = [(name, _padded(path)) for name, path in _pieces("confirm_id_number", {"id_number": ID})]
WORDS = [index for index, (name, _) in enumerate(PIECES) if name == "id_number"]


def read_back(pieces: list[tuple[str | None, np.ndarray]]) -> np.ndarray:
    return recording(*(samples for _, samples in pieces))


def test_a_read_back_heard_as_sent_is_heard_word_by_word() -> None:
    assert heard_readout(read_back(PIECES), "confirm_id_number", "id_number", id_number=ID) == (
        pytest.approx(0.5, abs=0.01)
    )


def test_a_readout_word_150_ms_late_still_counts_as_heard() -> None:
    late = list(PIECES)
    late.insert(WORDS[-1], (None, silence(0.15)))
    heard_readout(read_back(late), "confirm_id_number", "id_number", id_number=ID)


@pytest.mark.parametrize("change", ["left out", "said twice", "another digit"])
def test_a_readout_with_a_word_wrong_is_not_heard(change: str) -> None:
    wrong = list(PIECES)
    if change == "left out":
        del wrong[WORDS[10]]
    elif change == "said twice":
        wrong.insert(WORDS[10], wrong[WORDS[10]])
    else:
        wrong[WORDS[10]] = PIECES[WORDS[0]]  # the 3 of 36... where a 0 was read
    with pytest.raises(AssertionError, match=r"word 1[0-2] of id_number not heard"):
        heard_readout(read_back(wrong), "confirm_id_number", "id_number", id_number=ID)
