"""Did the caller hear it? A prompt exactly as the IVR sends it, found in a phone's recording.

The IVR sends each clip of a prompt as whole 20 ms G.711 frames, padding the last frame with
silence (ivr/media/frames.py). G.711 is a fixed table, so a phone plays every frame it got as
exactly the samples the IVR's encoder made of it; a loud 20 ms frame of speech never equals
another by chance. What a phone's jitter buffer does when the machine is busy is done in whole
frames *between* exact ones: it plays silence or a concealment frame while it waits for late
packets (up to half a second at once), drops a frame to catch up, and blends the frame after a
concealment into it. So a frame counts as heard when its exact samples are in the recording
where the stream puts it: after the frames heard before it, as far on as the clip says, give or
take SLACK (up to GAP where the jitter buffer inserted audio: see `_walk`).

A prompt's text counts as heard when its loud frames are heard in order, all but TEXT_MISSED of
them and never more than MISSED_RUN in a row; a readout (the caller's ID number, a date) when,
besides, each word is heard so (all but WORD_MISSED) and no audio of the readout comes again
between two words. One wrong, missing or repeated digit fails, however busy the machine was.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
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
from ivr.rtp.g711 import (
    FRAME_SAMPLES,
    SAMPLE_RATE,
    alaw_decode,
    alaw_encode,
    ulaw_decode,
    ulaw_encode,
)
from tests.e2e.audio import match_score, rms

CATALOG = PromptCatalog.from_settings(PromptSettings.from_config(load_config(environ={})))
SILENT = 50.0  # RMS below which a frame is a pause: nothing to look for
GAP = SAMPLE_RATE * 3 // 5  # the most a jitter buffer inserts at once while it waits
SLACK = 4 * FRAME_SAMPLES  # how far from its place in the stream a frame may be found
AHEAD = 3  # frames after one not in place that tell whether the stream moved on
# A jitter buffer that ran dry plays a concealment and blends the next frames into it: up to 3
# frames not as sent, each time (seen on a machine with twice the work it has cores).
MISSED_RUN = 4  # frames in a row that may go unheard
TEXT_MISSED = 0.2  # share of a text's loud frames that may go unheard
WORD_MISSED = 0.4  # ... and of a readout word's (11 to 23 loud frames: one word never sounds
#                    like another, frame for frame)
REPEATED = 3  # frames of a readout heard again between two words: a word said twice
_LAWS = ((ulaw_encode, ulaw_decode), (alaw_encode, alaw_decode))


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


@dataclass(frozen=True)
class Frame:
    """One loud 20 ms frame of a clip: where in the clip, and its samples as a phone plays them
    back over each G.711 law (the test does not need to know which one the call used)."""

    offset: int
    decoded: tuple[np.ndarray, ...]


def frames_of(clip: np.ndarray) -> list[Frame]:
    """The clip's loud frames, cut where the IVR cuts them (from its start, every 20 ms)."""
    pcm = np.clip(np.round(clip), -32768, 32767).astype(np.int16)
    laws = [decode(encode(pcm)) for encode, decode in _LAWS]
    return [
        Frame(start, tuple(law[start : start + FRAME_SAMPLES] for law in laws))
        for start in range(0, len(pcm) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
        if rms(clip[start : start + FRAME_SAMPLES]) >= SILENT
    ]


def _find(recording: np.ndarray, frame: Frame, low: int, high: int) -> int | None:
    """The first start in [low, high) where the recording holds the frame sample for sample."""
    low, high = max(low, 0), min(high, len(recording) - FRAME_SAMPLES + 1)
    for decoded in frame.decoded:
        loudest = int(np.argmax(np.abs(decoded)))  # few places hold the same loud value
        hits = np.flatnonzero(recording[low + loudest : high + loudest] == decoded[loudest])
        for start in low + hits:
            if np.array_equal(recording[start : start + FRAME_SAMPLES], decoded):
                return int(start)
    return None


def _walk(recording: np.ndarray, frames: list[Frame], begin: int) -> list[int | None]:
    """Each frame's place in the recording (None: not heard), the clip heard from `begin` on.

    A frame is looked for where the stream puts it (after the last frame heard, as far on as
    the clip says, give or take SLACK); further on, up to GAP, only when the next frames are not
    in place either: then the jitter buffer has inserted audio and the stream has moved on.
    When they are, this frame was dropped or blended, and a copy further on belongs to a later
    word (a second 零 right after the first).
    """
    places: list[int | None] = []
    anchor, anchor_offset = begin, 0  # the last frame heard: its place and offset in the clip
    at = begin  # where the next frame may start: just after the last frame heard

    def expected(frame: Frame) -> int:
        return anchor + frame.offset - anchor_offset

    for index, frame in enumerate(frames):
        found = _find(recording, frame, at, expected(frame) + SLACK)
        if found is None and not any(
            _find(recording, later, at, expected(later) + SLACK) is not None
            for later in frames[index + 1 : index + 1 + AHEAD]
        ):
            found = _find(recording, frame, at, expected(frame) + GAP)
        if found is not None:
            anchor, anchor_offset, at = found, frame.offset, found + FRAME_SAMPLES
        places.append(found)
    return places


def _recording(samples: np.ndarray) -> np.ndarray:
    return np.round(samples).astype(np.int32)


def _begin(recording: np.ndarray, clip: np.ndarray, frames: list[Frame]) -> int:
    """Where the clip starts: its first frames' exact copies nearest the place where the clip
    fits best as a whole (a stretch lowers that fit, but nowhere else fits better)."""
    rough = round(match_score(recording.astype(np.float64), clip)[1] * SAMPLE_RATE)
    for frame in frames[:25]:
        expected = rough + frame.offset
        found = _find(recording, frame, expected - GAP, expected + GAP)
        if found is not None:
            return found - frame.offset
    raise AssertionError("not heard: none of its first frames is in the recording")


def _assert_mostly(places: list[int | None], share: float, what: str) -> None:
    """All but `share` of the frames heard, and none missing for longer than a jitter buffer's
    concealment and the frames it blends after it (MISSED_RUN)."""
    missed = [index for index, place in enumerate(places) if place is None]
    longest = run = 0
    for place in places:
        run = run + 1 if place is None else 0
        longest = max(longest, run)
    assert len(missed) <= share * len(places) and longest <= MISSED_RUN, (
        f"{what} not heard: {len(missed)} of {len(places)} frames missing, {longest} in a row"
        f" (frames {missed[:12]}{'...' if len(missed) > 12 else ''})"
    )


def heard_span(recording: np.ndarray, clip: np.ndarray) -> tuple[float, float]:
    """Where in the recording (seconds) the caller heard `clip` begin and end, a jitter
    buffer's stretches inside it included; fails if they did not hear it."""
    frames, heard = frames_of(clip), _recording(recording)
    begin = _begin(heard, clip, frames)
    places = _walk(heard, frames, begin)
    _assert_mostly(places, TEXT_MISSED, "the clip")
    last, place = next(
        (f, p) for f, p in zip(frames[::-1], places[::-1], strict=True) if p is not None
    )
    return begin / SAMPLE_RATE, (place + len(clip) - last.offset) / SAMPLE_RATE


def heard_at(recording: np.ndarray, clip: np.ndarray) -> float:
    """Where in the recording (seconds) the caller heard `clip` begin; fails if they did not."""
    return heard_span(recording, clip)[0]


def heard_readout(
    recording: np.ndarray, prompt_id: str, variable: str, **variables: object
) -> float:
    """Assert the caller heard the prompt through the readout of `variable` and every word of
    the readout; returns where the prompt began (seconds)."""
    pieces = [(name, _padded(path)) for name, path in _pieces(prompt_id, variables)]
    words = [index for index, (name, _) in enumerate(pieces) if name == variable]
    if not words:
        raise ValueError(f"prompt {prompt_id!r} reads out no {variable!r} with {variables}")
    pieces = pieces[: words[-1] + 1]
    samples = np.concatenate([audio for _, audio in pieces])
    heard = _recording(recording)
    frames = frames_of(samples)
    begin = _begin(heard, samples, frames)
    places = _walk(heard, frames, begin)
    starts = np.cumsum([0] + [len(audio) for _, audio in pieces])
    piece_of = np.searchsorted(starts, [frame.offset for frame in frames], side="right") - 1
    readout = list(
        {
            frame.decoded[0].tobytes(): frame
            for frame, piece in zip(frames, piece_of, strict=True)
            if piece in words
        }.values()
    )
    text = [place for place, piece in zip(places, piece_of, strict=True) if piece not in words]
    for number, index in enumerate(words, 1):
        word = f"word {number} of {variable}"
        mine = [i for i, piece in enumerate(piece_of) if piece == index]
        if not mine:
            continue  # a pause
        _assert_mostly([places[i] for i in mine], WORD_MISSED, word)
        before = next(
            (p + FRAME_SAMPLES for p in reversed(places[: mine[0]]) if p is not None), begin
        )
        first = next(p for p in (places[i] for i in mine) if p is not None)
        again = sum(_find(heard, frame, before, first) is not None for frame in readout)
        assert again < REPEATED, f"{word} not heard: {again} frames of the readout came again"
    _assert_mostly(text, TEXT_MISSED, f"the text of {prompt_id}")
    return begin / SAMPLE_RATE
