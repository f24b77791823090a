"""The prompt catalog: prompt id -> Mandarin template -> the recordings that say it.

Prompt files are YAML mappings of id -> text. A text is a Jinja2 template whose expressions must
each be one variable through one readout filter, e.g.
`您输入的身份证号码是{{ id_number | id_number }}，确认请按1。` Jinja2's own parser splits it
into literal chunks and readouts at load time:

- each literal chunk is a `Clip` with its own recording, named by a hash of its text, so two
  prompts sharing a sentence share a file and an edited sentence gets a new one (the build sees
  it missing and synthesizes it);
- each readout becomes the words of `ivr.media.readout`, one recorded clip per word.

A studio recording `<root>/studio/<name>.wav` wins over synthesis. Names: the prompt id for a
prompt without readouts, `<id>.<n>` for its n-th literal chunk otherwise (1-based), and
`readout.<word>` for a readout word (`readout.pause` for the pause between ID groups).

Recording paths are resolved once at load, so `segments()` is a lookup per clip, no file I/O.
"""

from __future__ import annotations

import glob
import hashlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.nodes
import yaml

from ivr.config import PROJECT_ROOT, Config
from ivr.masking import mask_id_number
from ivr.media import readout
from ivr.media.readout import PAUSE, ReadoutError, ReadoutStyle

PROMPTS_DIR = PROJECT_ROOT / "prompts"
DEFAULT_FILES = ("prompts/catalog.yaml", "config/menus/*.prompts.yaml")

ReadoutFunction = Callable[[Any, ReadoutStyle], list[str]]

READOUTS: dict[str, ReadoutFunction] = {
    "digits": readout.digits,
    "id_number": readout.id_number,
    "number": lambda value, _style: readout.number(value),
    "count": lambda value, _style: readout.count(value),
    "date": lambda value, _style: readout.date(value),
    "time": lambda value, _style: readout.time(value),
    "money": lambda value, _style: readout.money(value),
}
"""Template filters that read a variable out, by name."""

ID_NUMBER_LENGTHS = (15, 18)


class PromptError(ValueError):
    """A prompt file, id or variable is wrong; the message names the file and line or the id."""


@dataclass(frozen=True)
class Clip:
    """One recording: `name` is its studio file name, `text` what it says."""

    name: str
    text: str

    @property
    def text_hash(self) -> str:
        return text_hash(self.text)


@dataclass(frozen=True)
class Readout:
    """`{{ variable | kind }}` in a template."""

    variable: str
    kind: str


@dataclass(frozen=True)
class Prompt:
    id: str
    template: str
    source: str  # "file:line", for messages
    pieces: tuple[Clip | Readout, ...]

    @property
    def variables(self) -> frozenset[str]:
        return frozenset(piece.variable for piece in self.pieces if isinstance(piece, Readout))


@dataclass(frozen=True)
class PromptSettings:
    """The `prompts` section of config/ivr.yaml."""

    files: tuple[str, ...] = DEFAULT_FILES
    root: Path = PROMPTS_DIR
    style: ReadoutStyle = readout.DEFAULT_STYLE

    @classmethod
    def from_config(cls, config: Config) -> PromptSettings:
        section = config.section("prompts")
        style = section.get("readout") or {}
        return cls(
            files=tuple(section.get("files", DEFAULT_FILES)),
            root=config.resolve(section.get("dir", "prompts")),
            style=ReadoutStyle(
                one_as_yao=bool(style.get("one_as_yao", True)),
                x_word=str(style.get("x_word", readout.DEFAULT_STYLE.x_word)),
            ),
        )

    def paths(self) -> list[Path]:
        """The prompt files: entries relative to the project root, globs expanded (sorted)."""
        found: list[Path] = []
        for entry in self.files:
            pattern = entry if Path(entry).is_absolute() else str(PROJECT_ROOT / entry)
            found.extend(Path(match) for match in sorted(glob.glob(pattern)))
        return found


def text_hash(text: str) -> str:
    """The file stem of a synthesized recording of `text`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def word_clip(word: str) -> Clip:
    return Clip("readout.pause" if word == PAUSE else f"readout.{word}", word)


class PromptCatalog:
    def __init__(
        self,
        prompts: Mapping[str, Prompt],
        root: Path = PROMPTS_DIR,
        style: ReadoutStyle = readout.DEFAULT_STYLE,
    ) -> None:
        self._prompts = dict(prompts)
        self.root = root
        self.style = style
        self._words = {word: word_clip(word) for word in readout.vocabulary(style)}
        self._paths = {clip: self._resolve(clip) for clip in self.clips()}

    @classmethod
    def load(
        cls,
        files: Iterable[Path],
        root: Path = PROMPTS_DIR,
        style: ReadoutStyle = readout.DEFAULT_STYLE,
    ) -> PromptCatalog:
        """Parse every prompt file; a duplicate id or a bad template raises PromptError."""
        prompts: dict[str, Prompt] = {}
        for path in files:
            for prompt in read_prompt_file(Path(path)):
                if prompt.id in prompts:
                    raise PromptError(
                        f"{prompt.source}: prompt '{prompt.id}' is already defined at "
                        f"{prompts[prompt.id].source}"
                    )
                prompts[prompt.id] = prompt
        return cls(prompts, root, style)

    @classmethod
    def from_settings(cls, settings: PromptSettings) -> PromptCatalog:
        return cls.load(settings.paths(), settings.root, settings.style)

    def ids(self) -> list[str]:
        return sorted(self._prompts)

    def prompt(self, prompt_id: str) -> Prompt:
        try:
            return self._prompts[prompt_id]
        except KeyError:
            raise PromptError(f"unknown prompt '{prompt_id}'") from None

    def text(self, prompt_id: str, variables: Mapping[str, Any] | None = None) -> str:
        """The Mandarin the caller hears, for logs and agent screens; ID numbers masked."""
        values = variables or {}
        parts = []
        for piece, words in self._expand(prompt_id, values):
            if isinstance(piece, Clip):
                parts.append(piece.text)
            elif _is_id_number(piece, values[piece.variable]):
                parts.append(mask_id_number(str(values[piece.variable])))
            else:
                parts.append("".join(words))
        return "".join(parts)

    def segments(self, prompt_id: str, variables: Mapping[str, Any] | None = None) -> list[Path]:
        """The recordings to play, in order."""
        paths: list[Path] = []
        for piece, words in self._expand(prompt_id, variables or {}):
            if isinstance(piece, Clip):
                paths.append(self._paths[piece])
            else:
                paths.extend(self._paths[self._words[word]] for word in words)
        return paths

    def clips(self) -> list[Clip]:
        """Every recording the catalog can play: all literal chunks, then all readout words."""
        literal = {
            piece: None
            for prompt in self._prompts.values()
            for piece in prompt.pieces
            if isinstance(piece, Clip)
        }
        return [*literal, *sorted(self._words.values(), key=lambda clip: clip.name)]

    def recording(self, clip: Clip) -> Path:
        """Where `clip` is played from: the studio file when one exists, else the built one."""
        return self._paths.get(clip) or self._resolve(clip)

    def missing_recordings(self) -> list[Clip]:
        return [clip for clip, path in self._paths.items() if not path.exists()]

    def _resolve(self, clip: Clip) -> Path:
        studio = self.root / "studio" / f"{clip.name}.wav"
        return studio if studio.exists() else self.root / "tts" / f"{clip.text_hash}.wav"

    def _expand(
        self, prompt_id: str, variables: Mapping[str, Any]
    ) -> list[tuple[Clip | Readout, list[str]]]:
        """Each piece of the prompt with the readout words it says (none for a literal)."""
        prompt = self.prompt(prompt_id)
        missing = prompt.variables - variables.keys()
        if missing:
            needed = ", ".join(sorted(missing))
            raise PromptError(f"prompt '{prompt_id}' needs variable(s) {needed}")
        expanded: list[tuple[Clip | Readout, list[str]]] = []
        for piece in prompt.pieces:
            if isinstance(piece, Clip):
                expanded.append((piece, []))
                continue
            try:
                words = READOUTS[piece.kind](variables[piece.variable], self.style)
            except ReadoutError as error:
                raise PromptError(
                    f"prompt '{prompt_id}': variable '{piece.variable}' | {piece.kind}: {error}"
                ) from None
            expanded.append((piece, words))
        return expanded


def read_prompt_file(path: Path) -> list[Prompt]:
    """The prompts of one YAML file (a mapping of id -> template text), in file order."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PromptError(f"{path}: cannot read prompt file: {error}") from None
    if root is None:
        return []
    if not isinstance(root, yaml.MappingNode):
        raise PromptError(f"{path}:{root.start_mark.line + 1}: expected a mapping of id -> text")
    prompts = []
    for key, value in root.value:
        source = f"{path}:{key.start_mark.line + 1}"
        if not isinstance(value, yaml.ScalarNode) or not isinstance(key, yaml.ScalarNode):
            raise PromptError(f"{source}: prompt '{key.value}' must map one id to one text")
        prompts.append(parse_prompt(str(key.value), str(value.value), source))
    return prompts


def parse_prompt(prompt_id: str, template: str, source: str = "<string>") -> Prompt:
    """Split a template into literal clips and readouts with Jinja2's parser."""
    try:
        tree = jinja2.Environment().parse(template)
    except jinja2.TemplateSyntaxError as error:
        raise PromptError(f"{source}: prompt '{prompt_id}': {error.message}") from None
    fragments: list[str | Readout] = []
    for node in tree.body:
        if not isinstance(node, jinja2.nodes.Output):
            raise PromptError(
                f"{source}: prompt '{prompt_id}': only text and {{{{ variable | readout }}}} "
                f"are allowed, not a {type(node).__name__} block"
            )
        fragments.extend(_fragment(prompt_id, source, child) for child in node.nodes)
    has_readouts = any(isinstance(fragment, Readout) for fragment in fragments)
    pieces: list[Clip | Readout] = []
    for fragment in _merge_literals(fragments):
        if isinstance(fragment, Readout):
            pieces.append(fragment)
        elif text := " ".join(fragment.split()):
            literal_count = sum(isinstance(piece, Clip) for piece in pieces) + 1
            name = f"{prompt_id}.{literal_count}" if has_readouts else prompt_id
            pieces.append(Clip(name, text))
    if not pieces:
        raise PromptError(f"{source}: prompt '{prompt_id}' is empty")
    return Prompt(prompt_id, template, source, tuple(pieces))


def _fragment(prompt_id: str, source: str, node: jinja2.nodes.Node) -> str | Readout:
    if isinstance(node, jinja2.nodes.TemplateData):
        return node.data
    if (
        isinstance(node, jinja2.nodes.Filter)
        and isinstance(node.node, jinja2.nodes.Name)
        and node.name in READOUTS
        and not (node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)
    ):
        return Readout(node.node.name, node.name)
    raise PromptError(
        f"{source}: prompt '{prompt_id}': every {{{{ }}}} must be one variable through one "
        f"readout filter ({', '.join(READOUTS)}), e.g. {{{{ id_number | id_number }}}}"
    )


def _merge_literals(fragments: list[str | Readout]) -> list[str | Readout]:
    """Adjacent text nodes (Jinja2 may split them) become one literal."""
    merged: list[str | Readout] = []
    for fragment in fragments:
        if isinstance(fragment, str) and merged and isinstance(merged[-1], str):
            merged[-1] += fragment
        else:
            merged.append(fragment)
    return merged


def _is_id_number(piece: Readout, value: Any) -> bool:
    """ID numbers are masked in text, whichever filter reads them out."""
    return piece.kind == "id_number" or (
        piece.kind == "digits" and len(str(value)) in ID_NUMBER_LENGTHS
    )
