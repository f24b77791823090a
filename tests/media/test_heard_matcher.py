"""The e2e tests' "did the caller hear it" matcher (tests/e2e/heard.py) on made-up recordings:
it must forgive what a phone's jitter buffer does and still catch audio that was not heard."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from ivr.rtp.g711 import FRAME_SAMPLES as FRAME
from ivr.rtp.g711 import SAMPLE_RATE, alaw_decode, alaw_encode, ulaw_decode, ulaw_encode
from tests.e2e.heard import _padded, _pieces, heard_at, heard_readout, heard_span, played_audio

WELCOME = played_audio("welcome")
ULAW = (ulaw_encode, ulaw_decode)


def over_g711(audio: np.ndarray, law: tuple[Callable, Callable] = ULAW) -> np.ndarray:
    """What a phone plays back of audio sent over G.711."""
    encode, decode = law
    return decode(encode(np.round(audio).astype(np.int16))).astype(np.float64)


def recording(*parts: np.ndarray) -> np.ndarray:
    """Half a second of silence, the parts as a phone played them, half a second of silence."""
    return np.concatenate(
        [np.zeros(SAMPLE_RATE // 2), *map(over_g711, parts), np.zeros(SAMPLE_RATE // 2)]
    )


def silence(seconds: float) -> np.ndarray:
    return np.zeros(round(seconds * SAMPLE_RATE))


def frame(audio: np.ndarray, second: float) -> slice:
    """The 20 ms frame the IVR sent `second` into the audio."""
    start = round(second * SAMPLE_RATE) // FRAME * FRAME
    return slice(start, start + FRAME)


def concealed(audio: np.ndarray, seconds: list[float]) -> np.ndarray:
    """The audio with the frames at `seconds` replaced by a jitter buffer's guess (the frame
    before, fading) and the two frames after each blended into it."""
    audio = audio.copy()
    for second in seconds:
        lost = frame(audio, second)
        audio[lost] = audio[lost.start - FRAME : lost.start] * 0.7
        audio[lost.stop : lost.stop + 2 * FRAME] *= 0.9
    return audio


def dropped(audio: np.ndarray, seconds: list[float]) -> np.ndarray:
    """The audio without the frames at `seconds` (a jitter buffer that caught up)."""
    keep = np.ones(len(audio), dtype=bool)
    for second in seconds:
        keep[frame(audio, second)] = False
    return audio[keep]


@pytest.mark.parametrize("law", ["ulaw", "alaw"])
def test_a_prompt_heard_as_sent_is_found_where_it_starts(law: str) -> None:
    codec = ULAW if law == "ulaw" else (alaw_encode, alaw_decode)
    heard = np.concatenate((silence(0.5), over_g711(WELCOME, codec), silence(0.5)))
    assert heard_at(heard, WELCOME) == pytest.approx(0.5, abs=0.001)


def test_a_jitter_buffer_growing_by_300_ms_at_once_still_counts_as_heard() -> None:
    cut = 3 * SAMPLE_RATE
    heard = recording(WELCOME[:cut], silence(0.3), WELCOME[cut:])
    assert heard_at(heard, WELCOME) == pytest.approx(0.5, abs=0.001)


def test_frames_a_jitter_buffer_repeated_concealed_or_dropped_still_count_as_heard() -> None:
    parts, last = [], 0
    for second in (1, 2, 4, 5):  # a frame played twice
        at = round((second + 0.1) * SAMPLE_RATE)
        parts += [WELCOME[last:at], WELCOME[at - FRAME : at]]
        last = at
    played = np.concatenate([*parts, WELCOME[last:]])
    heard_at(recording(dropped(concealed(played, [1.5, 3.3, 6.1]), [2.5, 4.7, 5.9])), WELCOME)


def test_a_second_of_the_prompt_missing_is_not_heard() -> None:
    cut = 3 * SAMPLE_RATE
    heard = recording(WELCOME[:cut], silence(1.0), WELCOME[cut + SAMPLE_RATE :])
    with pytest.raises(AssertionError, match="not heard"):
        heard_at(heard, WELCOME)


def test_another_prompt_is_not_the_one_expected() -> None:
    with pytest.raises(AssertionError, match="not heard"):
        heard_at(recording(played_audio("main_menu")), WELCOME)


def test_audio_that_did_not_come_over_the_line_is_not_heard() -> None:
    """Only the IVR's own frames count: the prompt a little quieter (say, played by something
    else) matches as a sound, not as what was sent."""
    with pytest.raises(AssertionError, match="not heard"):
        heard_at(recording(WELCOME * 0.95), WELCOME)


ID = "36010219790921023X"
PIECES = [(name, _padded(path)) for name, path in _pieces("confirm_id_number", {"id_number": ID})]
WORDS = [index for index, (name, _) in enumerate(PIECES) if name == "id_number"]


def read_back(pieces: list[tuple[str | None, np.ndarray]]) -> np.ndarray:
    return recording(*(samples for _, samples in pieces))


def test_a_read_back_heard_as_sent_is_heard_word_by_word() -> None:
    assert heard_readout(read_back(PIECES), "confirm_id_number", "id_number", id_number=ID) == (
        pytest.approx(0.5, abs=0.001)
    )


def test_a_readout_word_late_concealed_or_short_of_a_frame_still_counts_as_heard() -> None:
    late = list(PIECES)
    late.insert(WORDS[-1], (None, silence(0.4)))
    for index in (WORDS[3], WORDS[8]):
        late[index] = (None, dropped(concealed(late[index][1], [0.1]), [0.2]))
    heard_readout(read_back(late), "confirm_id_number", "id_number", id_number=ID)


@pytest.mark.parametrize("change", ["left out", "said twice", "another digit", "half gone"])
def test_a_readout_with_a_word_wrong_is_not_heard(change: str) -> None:
    wrong = list(PIECES)
    if change == "left out":
        del wrong[WORDS[10]]
    elif change == "said twice":
        wrong.insert(WORDS[10], wrong[WORDS[10]])
    elif change == "another digit":
        wrong[WORDS[10]] = PIECES[WORDS[0]]  # the 3 of 36... where a 0 was read
    else:
        word = wrong[WORDS[10]][1]
        wrong[WORDS[10]] = (None, np.concatenate((word[: len(word) // 2], silence(0.1))))
    with pytest.raises(AssertionError, match=r"word 1[0-2] of id_number not heard"):
        heard_readout(read_back(wrong), "confirm_id_number", "id_number", id_number=ID)


def test_where_a_prompt_ended_counts_what_the_jitter_buffer_stretched_inside_it() -> None:
    cut = 3 * SAMPLE_RATE
    heard = recording(WELCOME[:cut], silence(0.3), WELCOME[cut:])
    assert heard_span(heard, WELCOME) == pytest.approx(
        (0.5, 0.5 + 0.3 + len(WELCOME) / SAMPLE_RATE), abs=0.001
    )


def test_a_frame_concealed_in_the_first_of_two_equal_words_is_not_looked_for_in_the_second() -> (
    None
):
    """Both 零 of ...0025 are the same clip: the frames the jitter buffer concealed in the first
    are further on in the second, which must still be heard as the second."""
    number = "110105194912310025"
    pieces = [
        (name, _padded(path)) for name, path in _pieces("confirm_id_number", {"id_number": number})
    ]
    words = [index for index, (name, _) in enumerate(pieces) if name == "id_number"]
    first = next(
        a for a, b in itertools.pairwise(words) if np.array_equal(pieces[a][1], pieces[b][1])
    )
    pieces[first] = (None, concealed(pieces[first][1], [0.2]))
    heard_readout(read_back(pieces), "confirm_id_number", "id_number", id_number=number)
