"""The prompt catalog: prompt id -> Mandarin template -> the recordings that say it.

Prompt files are YAML mappings of id -> text. A text is a Jinja2 template. Every `{{ }}` in it
must be one variable through one readout filter (`{{ id_number | id_number }}`, `{{ day | date }}`,
see READOUTS); `{% if %}` and the other statements work as in Jinja2, e.g. to pick the sentence
for a card status. At load, Jinja2's own parser splits the template:

- each text node (TemplateData) is a `Clip` with its own recording, named by a hash of its text,
  so two prompts sharing a sentence share a file and an edited sentence gets a new one (the build
  sees it missing and synthesizes it). Every text node is known at load, whatever branch a call
  takes, so the build records them all;
- each readout becomes the words of `ivr.media.readout`, one recorded clip per word.

To play a prompt, Jinja2 renders it with each text node replaced by a marker for its clip and each
readout filter emitting a marker for its value; the markers, in rendered order, are the recipe.

A studio recording `<root>/studio/<name>.wav` wins over synthesis. Names: the prompt id for a
prompt that is one plain text, `<id>.<n>` for its n-th text node otherwise (1-based, in source
order), and `readout.<word>` for a readout word (`readout.pause` for the pause in ID numbers).
Recording paths are resolved once at load, so `segments()` touches no file; `PromptAudio`
(prompt_audio.py) holds every clip encoded, so playing reads nothing either.
"""

from __future__ import annotations

import glob
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import jinja2.nodes
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

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

# Private-use characters cannot occur in a prompt text, so they delimit the rendered recipe.
_CLIP_MARK, _READOUT_MARK, _END_MARK = "\ue000", "\ue001", "\ue002"
_RECIPE = re.compile(f"([{_CLIP_MARK}{_READOUT_MARK}])(\\d+){_END_MARK}")
_READOUTS_VARIABLE = "__readouts__"


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
    """`{{ variable | kind }}` in a template, with the value one rendering gave it."""

    variable: str
    kind: str
    value: Any


@dataclass(frozen=True)
class Prompt:
    id: str
    source: str  # "file:line", for messages
    clips: tuple[Clip, ...]  # every text node, in source order
    variables: frozenset[str]  # every variable the template mentions
    template: jinja2.Template  # renders to clip and readout markers

    def recipe(self, variables: Mapping[str, Any]) -> list[Clip | Readout]:
        """What this prompt says with these variables, in order."""
        readouts: list[Readout] = []
        try:
            rendered = self.template.render({**variables, _READOUTS_VARIABLE: readouts})
        except (jinja2.TemplateError, TypeError, ValueError) as error:
            raise PromptError(f"prompt '{self.id}' cannot be rendered: {error}") from None
        return [
            self.clips[int(index)] if mark == _CLIP_MARK else readouts[int(index)]
            for mark, index in _RECIPE.findall(rendered)
        ]


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
        texts: Mapping[str, str] | None = None,
    ) -> PromptCatalog:
        """Parse every prompt file; a duplicate id or a bad template raises PromptError.

        `texts` (the console's edits, `ivr.store.prompt_changes`) replace the templates of the
        prompts the files define, keeping their file:line; an edit of a prompt no file defines
        any more is ignored."""
        prompts: dict[str, Prompt] = {}
        for path in files:
            for prompt in read_prompt_file(Path(path)):
                if prompt.id in prompts:
                    raise PromptError(
                        f"{prompt.source}: prompt '{prompt.id}' is already defined at "
                        f"{prompts[prompt.id].source}"
                    )
                prompts[prompt.id] = prompt
        for prompt_id, text in (texts or {}).items():
            if prompt_id in prompts:
                prompts[prompt_id] = parse_prompt(prompt_id, text, prompts[prompt_id].source)
        return cls(prompts, root, style)

    @classmethod
    def from_settings(
        cls, settings: PromptSettings, texts: Mapping[str, str] | None = None
    ) -> PromptCatalog:
        return cls.load(settings.paths(), settings.root, settings.style, texts)

    def ids(self) -> list[str]:
        return sorted(self._prompts)

    def prompt(self, prompt_id: str) -> Prompt:
        try:
            return self._prompts[prompt_id]
        except KeyError:
            raise PromptError(f"unknown prompt '{prompt_id}'") from None

    def text(self, prompt_id: str, variables: Mapping[str, Any] | None = None) -> str:
        """The Mandarin the caller hears, for logs and agent screens; ID numbers masked."""
        parts = []
        for piece, words in self._expand(prompt_id, variables or {}):
            if isinstance(piece, Clip):
                parts.append(piece.text)
            elif _is_id_number(piece):
                parts.append(mask_id_number(str(piece.value)))
            else:
                parts.append("".join(words))
        return "".join(parts)

    def segments(self, prompt_id: str, variables: Mapping[str, Any] | None = None) -> list[Path]:
        """The recordings to play, in order."""
        return [self._paths[clip] for clip in self.clips_for(prompt_id, variables)]

    def clips_for(self, prompt_id: str, variables: Mapping[str, Any] | None = None) -> list[Clip]:
        """The clips to play, in order."""
        clips: list[Clip] = []
        for piece, words in self._expand(prompt_id, variables or {}):
            if isinstance(piece, Clip):
                clips.append(piece)
            else:
                clips.extend(self._words[word] for word in words)
        return clips

    def clips(self) -> list[Clip]:
        """Every recording the catalog can play: all text nodes, then all readout words."""
        literal = {clip: None for prompt in self._prompts.values() for clip in prompt.clips}
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
        """Each piece the prompt says with these variables, with its readout words."""
        expanded: list[tuple[Clip | Readout, list[str]]] = []
        for piece in self.prompt(prompt_id).recipe(variables):
            if isinstance(piece, Clip):
                expanded.append((piece, []))
                continue
            if piece.value is None or isinstance(piece.value, jinja2.Undefined):
                raise PromptError(f"prompt '{prompt_id}' needs variable '{piece.variable}'")
            try:
                words = READOUTS[piece.kind](piece.value, self.style)
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
    """Split a template into clips and readouts with Jinja2's parser; compile the recipe."""
    where = f"{source}: prompt '{prompt_id}'"
    try:
        tree = _ENVIRONMENT.parse(template)
    except jinja2.TemplateSyntaxError as error:
        raise PromptError(f"{where}: {error.message}") from None
    texts: list[str] = []
    for output in tree.find_all(jinja2.nodes.Output):
        output.nodes = [
            marked for node in output.nodes if (marked := _mark(node, texts, where)) is not None
        ]
    forbidden = next(iter(tree.find_all(_FORBIDDEN_NODES)), None)
    if forbidden is not None:
        raise PromptError(
            f"{where}, line {forbidden.lineno}: prompts may not access attributes or items, "
            f"call anything, import or define macros ({type(forbidden).__name__})"
        )
    readouts = list(tree.find_all(jinja2.nodes.Filter))
    unknown = {node.name for node in readouts if node.name not in _ENVIRONMENT.filters}
    unknown |= {
        node.name
        for node in tree.find_all(jinja2.nodes.Test)
        if node.name not in _ENVIRONMENT.tests
    }
    if unknown:  # Jinja2 would only notice when a call takes that branch
        raise PromptError(f"{where}: unknown filter or test {', '.join(sorted(unknown))}")
    if not texts and not readouts:
        raise PromptError(f"{where} has nothing to say")
    plain = len(texts) == 1 and not readouts and len(tree.body) == 1
    clips = tuple(
        Clip(prompt_id if plain else f"{prompt_id}.{number}", text)
        for number, text in enumerate(texts, start=1)
    )
    variables = frozenset(jinja2.meta.find_undeclared_variables(tree))
    compiled = _ENVIRONMENT.template_class.from_code(
        _ENVIRONMENT, _ENVIRONMENT.compile(tree), _ENVIRONMENT.make_globals(None)
    )
    return Prompt(prompt_id, source, clips, variables, compiled)


def _mark(node: jinja2.nodes.Expr, texts: list[str], where: str) -> jinja2.nodes.Expr | None:
    """A text node becomes its clip's marker; a readout gets its variable name as argument."""
    if isinstance(node, jinja2.nodes.TemplateData):
        text = fold_whitespace(node.data)
        if not text:
            return None
        texts.append(text)
        return jinja2.nodes.TemplateData(f"{_CLIP_MARK}{len(texts) - 1}{_END_MARK}")
    if (
        isinstance(node, jinja2.nodes.Filter)
        and isinstance(node.node, jinja2.nodes.Name)
        and node.name in READOUTS
        and not (node.args or node.kwargs or node.dyn_args or node.dyn_kwargs)
    ):
        node.args = [jinja2.nodes.Const(node.node.name)]
        return node
    raise PromptError(
        f"{where}: every {{{{ }}}} must be one variable through one readout filter "
        f"({', '.join(READOUTS)}), e.g. {{{{ id_number | id_number }}}}"
    )


def fold_whitespace(text: str) -> str:
    """YAML line folding leaves spaces inside Chinese text; keep them only between Latin words."""
    text = " ".join(text.split())
    return re.sub(r" ?([^\x00-\x7f]) ?", r"\1", text)


def _readout_marker(kind: str) -> Callable[..., str]:
    @jinja2.pass_context
    def mark(context: jinja2.runtime.Context, value: Any, variable: str) -> str:
        readouts: list[Readout] = context[_READOUTS_VARIABLE]
        readouts.append(Readout(variable, kind, value))
        return f"{_READOUT_MARK}{len(readouts) - 1}{_END_MARK}"

    return mark


# Supervisors edit prompt files: a template is data, never code. Validation refuses these nodes
# at load; the sandbox is the second wall should one slip through.
_FORBIDDEN_NODES = (
    jinja2.nodes.Getattr,
    jinja2.nodes.Getitem,
    jinja2.nodes.Call,
    jinja2.nodes.Import,
    jinja2.nodes.FromImport,
    jinja2.nodes.Include,
    jinja2.nodes.Extends,
    jinja2.nodes.Macro,
    jinja2.nodes.CallBlock,
)
_ENVIRONMENT = ImmutableSandboxedEnvironment(autoescape=False, keep_trailing_newline=False)
_ENVIRONMENT.filters.update({kind: _readout_marker(kind) for kind in READOUTS})


def _is_id_number(piece: Readout) -> bool:
    """ID numbers are masked in text, whichever filter reads them out."""
    return piece.kind == "id_number" or (
        piece.kind == "digits" and len(str(piece.value)) in ID_NUMBER_LENGTHS
    )
