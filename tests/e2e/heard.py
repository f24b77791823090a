"""Did the caller hear it? A prompt exactly as the IVR sends it, found in a phone's recording.

The IVR's player encodes each recording of a prompt into whole 20 ms frames, padding the last
frame with silence (ivr/media/frames.py), so a prompt made of many clips (a readout is one clip
per word) reaches the phone a little longer than its clips laid end to end. `played_audio`
rebuilds that padding, so a long readout lines up sample for sample with what was heard.

A phone's jitter buffer stretches or shrinks what it plays by a frame or a few when packets come
late (a busy machine): a long clip then matches badly as a whole though it was heard, and the
quarter second around the stretch matches nothing. So a prompt's text counts as heard when its
quarter seconds are found one after another, each within a few frames of where the previous one
ended (or, after a jitter buffer grew or shrank by more at once, within half a second; or frame
by frame, when it stretched inside the piece), all but a few; and a readout (the caller's ID
number, a date) when every word of it is found so, without exception: one wrong digit fails.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ivr.config import load_config
from ivr.media.frames import read_pcm_8k
from ivr.media.prompt_catalog import (
    READOUTS,
    Clip,
    PromptCatalog,
    PromptSettings,
    word_clip,
)
from ivr.rtp.g711 import FRAME_SAMPLES, SAMPLE_RATE
from tests.e2e.audio import match_score, rms

CATALOG = PromptCatalog.from_settings(PromptSettings.from_config(load_config(environ={})))
HEARD = 0.9  # least match score of a clip the caller heard (another clip scores far lower)
SILENT = 50.0  # RMS below which audio is a pause: nothing to find
PIECE = SAMPLE_RATE // 4  # samples of a prompt's text checked at a time
SLACK = 4 * FRAME_SAMPLES  # how far a piece may sit from where the previous one ended
RESYNC = SAMPLE_RATE // 2  # how far a text piece is looked for when it is not within SLACK
# How much later than expected a readout word may come (a jitter buffer that grew at once):
# less than the shortest word, so a word said twice, or one left out, is still caught.
LATE_WORD = SAMPLE_RATE // 5
STRETCHED = 0.1  # share of a text's pieces that may go unmatched (around stretches)
FRAME_HEARD = 0.98  # a frame of a readout word, over a bit-exact G.711 line
STRETCH_FRAMES = 2  # frames of a word a jitter buffer may have replaced or blended


def _padded(path: Path) -> np.ndarray:
    samples = read_pcm_8k(path).astype(np.float64)
    return np.concatenate((samples, np.zeros(-len(samples) % FRAME_SAMPLES)))


def _pieces(prompt_id: str, variables: dict[str, object]) -> Iterator[tuple[str | None, Path]]:
    """(variable read out, or None for the prompt's own text; recording) in playing order."""
    for piece in CATALOG.prompt(prompt_id).recipe(variables):
        if isinstance(piece, Clip):
            yield None, CATALOG.recording(piece)
            continue
        for word in READOUTS[piece.kind](piece.value, CATALOG.style):
            yield piece.variable, CATALOG.recording(word_clip(word))


def played_audio(prompt_id: str, **variables: object) -> np.ndarray:
    """The prompt's audio as the IVR sends it (readouts included), float samples at 8 kHz."""
    return np.concatenate([_padded(path) for _, path in _pieces(prompt_id, variables)])


def _found(
    recording: np.ndarray,
    piece: np.ndarray,
    expected: int,
    least: float = HEARD,
    slack: int = SLACK,
) -> int | None:
    """Where `piece` was heard within `slack` of `expected` (a sample index), or None."""
    if rms(piece) < SILENT:
        return expected  # a pause: nothing to find
    low = max(0, expected - slack)
    score, offset = match_score(recording[low : expected + len(piece) + slack], piece)
    return low + round(offset * SAMPLE_RATE) if score > least else None


def _word_found(recording: np.ndarray, word: np.ndarray, expected: int) -> int | None:
    """Where a readout word was heard near `expected`, or None.

    Whole (also up to LATE_WORD later), or else frame by frame: the line is bit-exact but for
    the frames a jitter buffer inserts or drops, so each 20 ms frame of the word must be found,
    in order, almost exactly (FRAME_HEARD), all but STRETCH_FRAMES of them. A different word
    has next to no such frame.
    """
    whole = _found(recording, word, expected)
    if whole is None:  # later only: within [expected, expected + LATE_WORD]
        whole = _found(recording, word, expected + LATE_WORD // 2, slack=LATE_WORD // 2)
    return whole if whole is not None else _frames_found(recording, word, expected)


def _frames_found(recording: np.ndarray, clip: np.ndarray, expected: int) -> int | None:
    """Where `clip` was heard near `expected` frame by frame (each 20 ms frame almost exactly,
    in order, within SLACK of where the previous one ended; all but STRETCH_FRAMES), or None."""
    at, missed = expected, 0
    for start in range(0, len(clip), FRAME_SAMPLES):
        frame = clip[start : start + FRAME_SAMPLES]
        found = _found(recording, frame, at, FRAME_HEARD)
        missed += found is None
        at = (at if found is None else found) + len(frame)
    return at - len(clip) if missed <= STRETCH_FRAMES else None


def _walk_text(recording: np.ndarray, clip: np.ndarray, at: int) -> tuple[int, list[int]]:
    """Find `clip` piece by piece from sample `at` on: (where it ended, pieces not found)."""
    missed = []
    for start in range(0, len(clip), PIECE):
        piece = clip[start : start + PIECE]
        found = _found(recording, piece, at)
        if found is None:  # a jitter buffer that grew or shrank by more than SLACK at once
            found = _found(recording, piece, at, slack=RESYNC)
        if found is None:  # ... or stretched it inside the piece by a frame
            found = _frames_found(recording, piece, at)
        if found is None:
            missed.append(at)
        at = (at if found is None else found) + len(piece)
    return at, missed


def _assert_mostly(missed: list[int], length: int) -> None:
    pieces = -(-length // PIECE)
    where = [f"{at / SAMPLE_RATE:.2f}" for at in missed]
    assert len(missed) <= STRETCHED * pieces, f"not heard: {len(missed)}/{pieces} pieces at {where}"


def _start(recording: np.ndarray, clip: np.ndarray) -> int:
    """Where the clip fits best as a whole: a stretched frame lowers its score, but nowhere else
    fits better (and if it was not heard at all, its pieces will not be found there)."""
    return round(match_score(recording, clip)[1] * SAMPLE_RATE)


def heard_at(recording: np.ndarray, clip: np.ndarray) -> float:
    """Where in the recording (seconds) the caller heard `clip`; fails if they did not."""
    begin = _start(recording, clip)
    _assert_mostly(_walk_text(recording, clip, begin)[1], len(clip))
    return begin / SAMPLE_RATE


def heard_readout(
    recording: np.ndarray, prompt_id: str, variable: str, **variables: object
) -> float:
    """Assert the caller heard the prompt through the readout of `variable` and every word of
    the readout; returns where the prompt began (seconds)."""
    pieces = [(name, _padded(path)) for name, path in _pieces(prompt_id, variables)]
    words = [index for index, (name, _) in enumerate(pieces) if name == variable]
    if not words:
        raise ValueError(f"prompt {prompt_id!r} reads out no {variable!r} with {variables}")
    audio = [samples for _, samples in pieces[: words[-1] + 1]]
    begin = _start(recording, np.concatenate(audio))
    at, missed, text = begin, [], 0
    for index, samples in enumerate(audio):
        if index not in words:
            at, missed_here = _walk_text(recording, samples, at)
            missed += missed_here
            text += len(samples)
            continue
        found = _word_found(recording, samples, at)
        assert found is not None, f"word {words.index(index) + 1} of {variable} not heard"
        at = found + len(samples)
    _assert_mostly(missed, text)
    return begin / SAMPLE_RATE
