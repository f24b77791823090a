"""The prompt catalog as the supervisor console sees it, and saving a prompt's new text.

A text is saved in the prompt file that defines it (the value replaced in place, the rest of the
file untouched and checked to be so), its recordings are built at once with the project's TTS
(`ivr.media.tts.build`, only what is missing), and the console's catalog is read again, so the
simulator speaks the new text. IVR nodes read prompt files at start: a saved text reaches calls
from each node's next start, and with several nodes the files travel as the repository does.

BLOCKING (files, espeak-ng): run on the worker pool. One save at a time (a lock).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path

import yaml

from ivr.media.prompt_catalog import PromptCatalog, PromptError, PromptSettings, parse_prompt
from ivr.media.tts import TtsSettings, build

log = logging.getLogger("ivr.admin")


class TextRefused(ValueError):
    """The new text cannot be saved; the message says why, in Chinese."""


def replace_value(source: str, prompt_id: str, text: str) -> str:
    """`source` (a prompt file) with the value of `prompt_id` replaced by `text`, as a YAML
    double-quoted scalar; every other entry, comment and layout kept."""
    root = yaml.compose(source)
    if not isinstance(root, yaml.MappingNode):
        raise TextRefused("提示音文件不是“编号: 文字”的格式")
    for key, value in root.value:
        if key.value == prompt_id and isinstance(value, yaml.ScalarNode):
            start, end = value.start_mark.index, value.end_mark.index
            if value.style in (">", "|"):  # a block scalar ends where the next entry begins
                end = source.rindex("\n", start, end) if "\n" in source[start:end] else end
            quoted = json.dumps(text, ensure_ascii=False)  # a valid YAML double-quoted scalar
            edited = source[:start] + quoted + source[end:]
            _check(source, edited, prompt_id, text)
            return edited
    raise TextRefused(f"文件中没有提示音 {prompt_id}")


def _check(before: str, after: str, prompt_id: str, text: str) -> None:
    old, new = yaml.safe_load(before), yaml.safe_load(after)
    expected = {**old, prompt_id: text}
    if new != expected:
        raise TextRefused(f"无法自动修改 {prompt_id}，请手工编辑提示音文件")


class PromptTexts:
    def __init__(self, settings: PromptSettings, tts: TtsSettings) -> None:
        self.settings = settings
        self.tts = tts
        self.catalog = PromptCatalog.from_settings(settings)
        self._lock = threading.Lock()

    def raw(self, prompt_id: str) -> str:
        """The prompt's template as its file writes it (for the edit box)."""
        path = Path(self.catalog.prompt(prompt_id).source.rsplit(":", 1)[0])
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        return str(loaded.get(prompt_id, ""))

    def save(self, prompt_id: str, text: str) -> Path:
        """Save, build the new recordings, read the catalog again; the file written."""
        text = text.strip()
        try:
            parse_prompt(prompt_id, text)
            prompt = self.catalog.prompt(prompt_id)
        except PromptError as error:
            raise TextRefused(str(error).replace("<string>: ", "")) from None
        path = Path(prompt.source.rsplit(":", 1)[0])
        with self._lock:
            source = path.read_text(encoding="utf-8")
            edited = replace_value(source, prompt_id, text)
            partial = path.with_suffix(".partial")
            partial.write_text(edited, encoding="utf-8")
            partial.replace(path)
            try:
                catalog = PromptCatalog.from_settings(self.settings)
            except PromptError as error:  # another prompt file broke meanwhile: undo ours
                path.write_text(source, encoding="utf-8")
                raise TextRefused(str(error)) from None
            build(catalog, self.tts, prune=False, progress=log.info)
            self.catalog = catalog
        return path
