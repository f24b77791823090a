"""Every clip of the prompt catalog in memory, encoded for each codec, so playing reads no file.

`PromptAudio.load` reads and encodes every recording (blocking: at start-up, before the reactor
runs, and on a pool thread when the prompts change); `frames()` then only renders the prompt's
template and joins tuples. A clip without a recording is listed in `missing` and plays as
nothing (the process still answers calls; `python -m ivr prompts build` makes the recording).

The console's edits (`ivr.store.prompt_changes`, shared by every node through the database) are
laid over the repository's files: an edited text replaces its prompt's template, and a clip
plays, first found first, the studio recording uploaded in the console, the studio file, the
recording synthesized for an edited text, the synthesized file. A reload given the audio it
replaces re-encodes only the clips whose recording is not the same bytes as before.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ivr.media.frames import Frames, encode_frames, read_pcm_8k
from ivr.media.prompt_catalog import Clip, PromptCatalog, PromptSettings
from ivr.rtp.g711 import Codec, codec_named
from ivr.store.prompt_changes import (
    NO_OVERRIDES,
    PromptOverrides,
    StoredRecording,
    studio_name,
    tts_name,
)

CODECS = ("PCMU", "PCMA")

Fingerprint = tuple[tuple[str, int], ...]
Source = tuple[str, int]  # where a clip's bytes came from: (file, mtime) or (stored name, change)


@dataclass(frozen=True)
class PromptAudio:
    catalog: PromptCatalog
    encoded: Mapping[tuple[Clip, str], Frames]  # (clip, codec name) -> 20 ms payloads
    missing: tuple[Clip, ...]
    fingerprint: Fingerprint  # the files it was loaded from, to notice a change
    overrides: PromptOverrides = NO_OVERRIDES  # the console's edits laid over the files
    sources: Mapping[Clip, Source] = field(default_factory=dict)  # each clip's bytes, to reuse
    reencoded: int = 0  # clips this load read and encoded (the others were reused)

    @classmethod
    def load(
        cls,
        settings: PromptSettings,
        overrides: PromptOverrides = NO_OVERRIDES,
        previous: PromptAudio | None = None,
        codecs: tuple[str, ...] = CODECS,
    ) -> PromptAudio:
        """BLOCKING: parse the prompt files with the edits over them, read and encode every
        recording whose bytes `previous` did not already encode."""
        catalog = PromptCatalog.from_settings(settings, overrides.texts)
        reused_from = previous.sources if previous is not None else {}
        reusable = {source: clip for clip, source in reused_from.items()}
        encoded: dict[tuple[Clip, str], Frames] = {}
        sources: dict[Clip, Source] = {}
        missing: list[Clip] = []
        reencoded = 0
        for clip in catalog.clips():
            found = recording_of(catalog, overrides, clip)
            if isinstance(found, StoredRecording):
                source: Source = (f"stored:{found.name}", found.change_id)
            else:
                source = (str(found), _mtime(found))
                if source[1] == -1:
                    missing.append(clip)
                    continue
            sources[clip] = source
            before = reusable.get(source)
            if previous is not None and before is not None:
                for name in codecs:
                    encoded[clip, name] = previous.encoded[before, name]
                continue
            pcm = read_pcm_8k(found.wav if isinstance(found, StoredRecording) else found)
            for name in codecs:
                encoded[clip, name] = encode_frames(pcm, codec_named(name))
            reencoded += 1
        return cls(
            catalog, encoded, tuple(missing), fingerprint(settings, catalog), overrides, sources,
            reencoded,
        )  # fmt: skip

    def frames(self, prompt_id: str, variables: Mapping[str, Any], codec: Codec) -> Frames:
        """What `prompt_id` says with `variables`, as payloads of `codec`; reads no file."""
        clips = self.catalog.clips_for(prompt_id, variables)
        encoded = self.encoded
        return tuple(
            itertools.chain.from_iterable(encoded.get((clip, codec.name), ()) for clip in clips)
        )


def recording_of(
    catalog: PromptCatalog, overrides: PromptOverrides, clip: Clip
) -> StoredRecording | Path:
    """Where `clip` is played from, the console's edits over the files (the file may be
    missing)."""
    studio = overrides.recordings.get(studio_name(clip.name))
    if studio is not None:
        return studio
    path = catalog.recording(clip)
    if path.parent.name == "studio":
        return path
    return overrides.recordings.get(tts_name(clip.text_hash), path)


def clip_wav(catalog: PromptCatalog, overrides: PromptOverrides, clip: Clip) -> bytes | None:
    """BLOCKING: the WAV `clip` plays, or None when it has no recording."""
    found = recording_of(catalog, overrides, clip)
    if isinstance(found, StoredRecording):
        return found.wav
    try:
        return found.read_bytes()
    except FileNotFoundError:
        return None


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
