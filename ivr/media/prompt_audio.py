"""Every clip of the prompt catalog in memory, encoded for each codec, so playing reads no file.

`PromptAudio.load` reads and encodes every recording (blocking: at start-up, before the reactor
runs, and on a pool thread when the catalog changes); `frames()` then only renders the prompt's
template and joins tuples. A clip without a recording is listed in `missing` and plays as
nothing (the process still answers calls; `python -m ivr prompts build` makes the recording).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ivr.media.frames import Frames, encode_frames, read_pcm_8k
from ivr.media.prompt_catalog import Clip, PromptCatalog, PromptSettings
from ivr.rtp.g711 import Codec, codec_named

CODECS = ("PCMU", "PCMA")

Fingerprint = tuple[tuple[str, int], ...]


@dataclass(frozen=True)
class PromptAudio:
    catalog: PromptCatalog
    encoded: Mapping[tuple[Clip, str], Frames]  # (clip, codec name) -> 20 ms payloads
    missing: tuple[Clip, ...]
    fingerprint: Fingerprint  # the files it was loaded from, to notice a change

    @classmethod
    def load(cls, settings: PromptSettings, codecs: tuple[str, ...] = CODECS) -> PromptAudio:
        """BLOCKING: parse the prompt files, read and encode every recording."""
        catalog = PromptCatalog.from_settings(settings)
        encoded: dict[tuple[Clip, str], Frames] = {}
        missing: list[Clip] = []
        for clip in catalog.clips():
            try:
                pcm = read_pcm_8k(catalog.recording(clip))
            except FileNotFoundError:
                missing.append(clip)
                continue
            for name in codecs:
                encoded[clip, name] = encode_frames(pcm, codec_named(name))
        return cls(catalog, encoded, tuple(missing), fingerprint(settings, catalog))

    def frames(self, prompt_id: str, variables: Mapping[str, Any], codec: Codec) -> Frames:
        """What `prompt_id` says with `variables`, as payloads of `codec`; reads no file."""
        clips = self.catalog.clips_for(prompt_id, variables)
        encoded = self.encoded
        return tuple(
            itertools.chain.from_iterable(encoded.get((clip, codec.name), ()) for clip in clips)
        )


def fingerprint(settings: PromptSettings, catalog: PromptCatalog) -> Fingerprint:
    """BLOCKING: modification times of the prompt files, the recording directories (a studio
    file added or removed) and every recording in use (one re-recorded in place)."""
    paths = [
        *settings.paths(),
        settings.root / "studio",
        settings.root / "tts",
        *(catalog.recording(clip) for clip in catalog.clips()),
    ]
    return tuple((str(path), _mtime(path)) for path in paths)


def changed(audio: PromptAudio, settings: PromptSettings) -> bool:
    """BLOCKING: whether the files `audio` was loaded from changed since (or a prompt file was
    added or removed)."""
    return fingerprint(settings, audio.catalog) != audio.fingerprint


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return -1
