"""The audio a caller should hear for a prompt, built from the same catalog the IVR plays."""

from __future__ import annotations

import numpy as np

from ivr.config import load_config
from ivr.media.frames import read_pcm_8k
from ivr.media.prompt_catalog import PromptCatalog, PromptSettings

CATALOG = PromptCatalog.from_settings(PromptSettings.from_config(load_config(environ={})))


def prompt_audio(prompt_id: str, **variables: object) -> np.ndarray:
    """The prompt's recordings (readouts included), end to end, as float samples at 8 kHz."""
    paths = CATALOG.segments(prompt_id, variables)
    return np.concatenate([read_pcm_8k(path) for path in paths]).astype(np.float64)
