"""Menu files: YAML text -> `MenuTree`, keeping the line of everything for error messages.

The text is read with `yaml.compose`, so every YAML node keeps its position; duplicate keys (which
`yaml.safe_load` silently resolves to the last one) are reported. This module checks each node on
its own: field names and types, timeouts in range, a collect that can be satisfied at all.
How nodes connect (references, reachability, action branches) is `validate.py`'s job.
Problems are collected rather than raised one by one, so a supervisor sees all of them at once.
Keys are always read as text: YAML would otherwise turn `1:` into an int and `no:` into False.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar, cast

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

from ivr.config import ConfigError
from ivr.menus.schema import (
    ACTION,
    GLOBAL_WORDS,
    NODE,
    PROMPT,
    QUEUE,
    QUEUE_STRATEGIES,
    VALIDATOR,
    VARIABLE,
    ActionNode,
    ActionSpec,
    CollectNode,
    ConfirmNode,
    HangupNode,
    Input,
    Kind,
    Link,
    MenuNode,
    MenuProblem,
    MenuTree,
    Node,
    PlayNode,
    QueueSpec,
    TransferNode,
)
from ivr.menus.service_hours import ServiceHours
from ivr.menus.validators import VALIDATORS

DTMF_KEYS = frozenset("0123456789*#ABCD")
T = TypeVar("T")
_REQUIRED: Any = object()
_TOP = "the menu file"
_constructor = yaml.constructor.SafeConstructor()

TOP_FIELDS = {
    "menu", "start", "globals", "intents", "defaults", "actions", "service", "queues", "nodes",
}  # fmt: skip
QUEUE_FIELDS = {
    "label", "strategy", "ring_timeout", "max_no_answer", "wrap_up", "max_wait",
    "announce_every", "members",
}  # fmt: skip
INPUT_FIELDS = {
    "timeout", "max_failures", "max_timeouts", "invalid_prompt", "timeout_prompt",
    "on_failure", "barge_in",
}  # fmt: skip
COMMON_FIELDS = {"kind", "label"}
KIND_FIELDS: dict[Kind, set[str]] = {
    Kind.MENU: {"greet_long", "greet_short", "keys"} | INPUT_FIELDS,
    Kind.COLLECT: {
        "prompt",
        "into",
        "min_digits",
        "max_digits",
        "terminator",
        "star_as_x",
        "inter_digit_timeout",
        "validator",
        "retry_prompts",
        "secret",
        "next",
    }
    | INPUT_FIELDS,
    Kind.CONFIRM: {"prompt", "yes_key", "no_key", "yes", "no"} | INPUT_FIELDS,
    Kind.ACTION: {"action", "params", "outcomes", "wait_prompt", "timeout"},
    Kind.PLAY: {"prompt", "next", "barge_in"},
    Kind.TRANSFER: {
        "queue",
        "reason",
        "prompt",
        "closed_prompt",
        "busy_prompt",
        "closed",
        "no_answer",
    },
    Kind.HANGUP: {"prompt", "reason"},
}


@dataclass(frozen=True)
class Defaults:
    """The `defaults:` section; patient values for elderly callers when the file says nothing."""

    timeout: float = 10.0
    inter_digit_timeout: float = 5.0
    max_failures: int = 3
    max_timeouts: int = 3
    action_timeout: float = 20.0
    barge_in: bool = True
    invalid_prompt: tuple[str, ...] = ()
    timeout_prompt: tuple[str, ...] = ()
    on_failure: str = ""


class _Fields:
    """The keys of one YAML mapping, with typed getters that report problems at the right line."""

    def __init__(
        self,
        reader: _Reader,
        node: Any,
        where: str,
        allowed: set[str] | None,
        line: int | None = None,
    ) -> None:
        self.reader = reader
        self.where = where
        self.line = line or node.start_mark.line + 1
        self.values: dict[str, Any] = {}
        self.key_lines: dict[str, int] = {}
        if not isinstance(node, MappingNode):
            reader.problem(self.line, f"{where} must be a mapping of name: value")
            return
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode):
                reader.problem(line, f"{where}: a key must be a plain name")
                continue
            key = key_node.value
            if key in self.values:
                reader.problem(
                    line, f"{where}: duplicate key '{key}' (first at line {self.key_lines[key]})"
                )
            elif allowed is not None and key not in allowed:
                reader.problem(line, f"{where}: unknown field '{key}'")
            else:
                self.values[key] = value_node
                self.key_lines[key] = line

    def __contains__(self, key: str) -> bool:
        return key in self.values

    def line_of(self, key: str) -> int:
        return self.key_lines.get(key, self.line)

    def _get(self, key: str, default: Any, convert: Callable[[Any], T], what: str) -> T:
        if key not in self.values:
            if default is _REQUIRED:
                self.reader.problem(self.line, f"{self.where}: missing '{key}'")
                return convert(None)
            return cast(T, default)
        node = self.values[key]
        value = _constructor.construct_object(node, deep=True)
        try:
            return convert(value)
        except (TypeError, ValueError):
            self.reader.problem(self.line_of(key), f"{self.where}: '{key}' must be {what}")
            return convert(None)

    def text(self, key: str, default: Any = _REQUIRED) -> str:
        def convert(value: Any) -> str:
            if value is None:
                return ""
            if isinstance(value, (dict, list)):
                raise TypeError
            return str(value)

        return self._get(key, default, convert, "a single value")

    def number(self, key: str, default: Any, low: float, high: float) -> float:
        def convert(value: Any) -> float:
            if value is None:
                return low
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError
            return float(value)

        value = self._get(key, default, convert, "a number")
        if not low <= value <= high:
            self.reader.problem(
                self.line_of(key), f"{self.where}: '{key}' must be from {low:g} to {high:g}"
            )
        return value

    def integer(self, key: str, default: Any, low: int, high: int) -> int:
        return int(self.number(key, default, low, high))

    def flag(self, key: str, default: bool) -> bool:
        def convert(value: Any) -> bool:
            if value is None:
                return default
            if not isinstance(value, bool):
                raise TypeError
            return value

        return self._get(key, default, convert, "true or false")

    def prompts(self, key: str, default: Any = _REQUIRED) -> tuple[str, ...]:
        """One prompt id or a list of them, played in order."""
        if key not in self.values and default is not _REQUIRED:
            return tuple(default)
        node = self.values.get(key)
        items = node.value if isinstance(node, SequenceNode) else [node]
        ids: list[str] = []
        for item in items:
            if item is None:
                self.reader.problem(self.line, f"{self.where}: missing '{key}'")
            elif isinstance(item, ScalarNode) and item.value:
                ids.append(item.value)
                self.reader.link(PROMPT, key, item.value, item.start_mark.line + 1)
            else:
                self.reader.problem(
                    item.start_mark.line + 1, f"{self.where}: '{key}' must be prompt ids"
                )
        return tuple(ids)

    def target(self, key: str, default: Any = _REQUIRED, field: str | None = None) -> str:
        """A node id; remembered as a link so validation can check that it exists."""
        value = self.text(key, default)
        if key in self.values:
            self.reader.link(NODE, field or key, value, self.line_of(key))
        return value

    def queue(self, key: str, default: str) -> str:
        """An agent queue's name; remembered as a link so validation can check it is declared."""
        value = self.text(key, default)
        self.reader.link(QUEUE, key, value, self.line_of(key))
        return value

    def texts(self, key: str) -> tuple[str, ...]:
        """A list of plain values (e.g. agents' names)."""

        def convert(value: Any) -> tuple[str, ...]:
            if value is None:
                return ()
            if not isinstance(value, list) or any(isinstance(v, (dict, list)) for v in value):
                raise TypeError
            return tuple(str(v) for v in value)

        return self._get(key, (), convert, "a list of names")

    def mapping(self, key: str) -> _Fields | None:
        if key not in self.values:
            return None
        where = f"{self.where}.{key}" if self.where != _TOP else key
        return _Fields(self.reader, self.values[key], where, None, self.line_of(key))


class _Reader:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[MenuProblem] = []
        self.links: list[Link] = []

    def problem(self, line: int, message: str) -> None:
        self.problems.append(MenuProblem(self.file, line, message))

    def link(self, what: str, field: str, target: str, line: int) -> None:
        self.links.append(Link(what, field, target, line))

    def take_links(self) -> tuple[Link, ...]:
        links, self.links = tuple(self.links), []
        return links

    # --- sections ---------------------------------------------------------------------------

    def tree(self, root: Any, text: str) -> MenuTree:
        top = _Fields(self, root, _TOP, TOP_FIELDS)
        name = top.text("menu")
        start = top.target("start")
        defaults = self.defaults(top.mapping("defaults"))
        global_keys = self.keyed_targets(top.mapping("globals"), "globals", DTMF_KEYS)
        intents = self.keyed_targets(top.mapping("intents"), "intents", None)
        actions = self.actions(top.mapping("actions"))
        service_hours = self.service_hours(top)
        queues = self.queues(top.mapping("queues"))
        tree_links = self.take_links()
        nodes: dict[str, Node] = {}
        section = top.mapping("nodes")
        if section is None:
            self.problem(top.line, f"{_TOP}: missing 'nodes'")
        else:
            for node_id, value in section.values.items():
                fields = _Fields(self, value, f"node '{node_id}'", None, section.line_of(node_id))
                node = self.node(node_id, fields, defaults)
                if node is not None:
                    nodes[node_id] = node
        return MenuTree(
            name=name,
            file=self.file,
            version=hashlib.sha256(text.encode("utf-8")).hexdigest()[:12],
            start=start,
            globals=MappingProxyType(global_keys),
            intents=MappingProxyType(intents),
            actions=MappingProxyType(actions),
            nodes=MappingProxyType(nodes),
            links=tree_links,
            service_hours=service_hours,
            queues=MappingProxyType(queues),
        )

    def service_hours(self, top: _Fields) -> ServiceHours:
        """Agents' hours; without a `service:` section, the seeds' Monday-to-Friday hours."""
        raw: Any = {}
        if "service" in top:
            raw = _constructor.construct_object(top.values["service"], deep=True)
        try:
            if not isinstance(raw, dict):
                raise ConfigError("service: must be a mapping of settings")
            return ServiceHours.from_mapping(raw)
        except (ConfigError, TypeError, ValueError) as exc:
            self.problem(top.line_of("service"), str(exc))
            return ServiceHours.from_mapping({})

    def queues(self, fields: _Fields | None) -> dict[str, QueueSpec]:
        """Agent queues (skills) and how each offers its callers to agents."""
        if fields is None:
            return {}
        queues: dict[str, QueueSpec] = {}
        for name in fields.values:
            line = fields.line_of(name)
            f = _Fields(self, fields.values[name], f"queue '{name}'", QUEUE_FIELDS, line)
            base = QueueSpec(name)
            strategy = f.text("strategy", base.strategy)
            if strategy not in QUEUE_STRATEGIES:
                self.problem(
                    f.line_of("strategy"),
                    f"queue '{name}': strategy must be one of {', '.join(QUEUE_STRATEGIES)}",
                )
            members = f.texts("members") if "members" in f else ()
            queues[name] = QueueSpec(
                name=name,
                line=line,
                label=f.text("label", name),
                strategy=strategy,
                ring_timeout=f.number("ring_timeout", base.ring_timeout, 5, 120),
                max_no_answer=f.integer("max_no_answer", base.max_no_answer, 1, 10),
                wrap_up=f.number("wrap_up", base.wrap_up, 0, 600),
                max_wait=f.number("max_wait", base.max_wait, 30, 3600),
                announce_every=f.number("announce_every", base.announce_every, 15, 300),
                members=members,
            )
        return queues

    def defaults(self, fields: _Fields | None) -> Defaults:
        if fields is None:
            return Defaults()
        base = Defaults()
        return Defaults(
            timeout=fields.number("timeout", base.timeout, 1, 60),
            inter_digit_timeout=fields.number(
                "inter_digit_timeout", base.inter_digit_timeout, 1, 30
            ),
            max_failures=fields.integer("max_failures", base.max_failures, 1, 10),
            max_timeouts=fields.integer("max_timeouts", base.max_timeouts, 1, 10),
            action_timeout=fields.number("action_timeout", base.action_timeout, 1, 120),
            barge_in=fields.flag("barge_in", base.barge_in),
            invalid_prompt=fields.prompts("invalid_prompt", ()),
            timeout_prompt=fields.prompts("timeout_prompt", ()),
            on_failure=fields.target("on_failure", "", field="defaults.on_failure"),
        )

    def keyed_targets(
        self, fields: _Fields | None, where: str, keys: frozenset[str] | None
    ) -> dict[str, str]:
        if fields is None:
            return {}
        result: dict[str, str] = {}
        for key in fields.values:
            if keys is not None and key not in keys:
                self.problem(fields.line_of(key), f"{where}: '{key}' is not a telephone key")
            value = fields.text(key)
            if value not in GLOBAL_WORDS:
                self.link(NODE, f"{where}.{key}", value, fields.line_of(key))
            result[key] = value
        return result

    def actions(self, fields: _Fields | None) -> dict[str, ActionSpec]:
        specs: dict[str, ActionSpec] = {}
        for name in fields.values if fields else ():
            assert fields is not None
            spec = _Fields(self, fields.values[name], f"action '{name}'", {"params", "outcomes"})
            specs[name] = ActionSpec(
                name=name,
                line=fields.line_of(name),
                params=self.names(spec, "params"),
                outcomes=frozenset(self.names(spec, "outcomes")),
            )
        return specs

    def names(self, fields: _Fields, key: str) -> tuple[str, ...]:
        node = fields.values.get(key)
        if not isinstance(node, SequenceNode) or not all(
            isinstance(item, ScalarNode) for item in node.value
        ):
            self.problem(fields.line_of(key), f"{fields.where}: '{key}' must be a list of names")
            return ()
        return tuple(item.value for item in node.value)

    # --- nodes ------------------------------------------------------------------------------

    def node(self, node_id: str, f: _Fields, defaults: Defaults) -> Node | None:
        if "kind" not in f:
            self.problem(f.line, f"{f.where}: missing 'kind'")
            return None
        kind_text = f.text("kind")
        try:
            kind = Kind(kind_text)
        except ValueError:
            known = ", ".join(k.value for k in Kind)
            self.problem(f.line_of("kind"), f"{f.where}: unknown kind '{kind_text}' ({known})")
            return None
        for key in f.values:
            if key not in COMMON_FIELDS | KIND_FIELDS[kind]:
                self.problem(f.line_of(key), f"{f.where}: unknown field '{key}' for a {kind.value}")
        common = {"id": node_id, "kind": kind, "line": f.line, "label": f.text("label", node_id)}
        node = _NODE_BUILDERS[kind](self, f, defaults, common)
        return replace(node, links=self.take_links())

    def input(self, f: _Fields, d: Defaults) -> Input:
        """Retry settings; a node waiting for keys must never fall silent or loop forever."""
        result = Input(
            timeout=f.number("timeout", d.timeout, 1, 60),
            max_failures=f.integer("max_failures", d.max_failures, 1, 10),
            max_timeouts=f.integer("max_timeouts", d.max_timeouts, 1, 10),
            invalid_prompt=f.prompts("invalid_prompt", d.invalid_prompt),
            timeout_prompt=f.prompts("timeout_prompt", d.timeout_prompt),
            on_failure=f.target("on_failure", d.on_failure),
            barge_in=f.flag("barge_in", d.barge_in),
        )
        for key in ("invalid_prompt", "timeout_prompt", "on_failure"):
            if not getattr(result, key):
                self.problem(f.line, f"{f.where}: missing '{key}' (and no defaults.{key})")
        return result

    def menu(self, f: _Fields, d: Defaults, common: dict[str, Any]) -> MenuNode:
        greet_long = f.prompts("greet_long")
        greet_short = f.prompts("greet_short", greet_long)
        keys = self.keyed_targets(f.mapping("keys"), f"{f.where}.keys", DTMF_KEYS)
        if not keys:
            self.problem(f.line_of("keys"), f"{f.where}: a menu needs at least one key")
        return MenuNode(
            **common,
            greet_long=greet_long,
            greet_short=greet_short,
            keys=MappingProxyType(keys),
            input=self.input(f, d),
        )

    def collect(self, f: _Fields, d: Defaults, common: dict[str, Any]) -> CollectNode:
        prompt = f.prompts("prompt")
        into = f.text("into")
        min_digits = f.integer("min_digits", 1, 1, 32)
        max_digits = f.integer("max_digits", min_digits, 1, 32)
        terminator = f.text("terminator", "#")
        star_as_x = f.flag("star_as_x", False)
        validator = f.text("validator", "digits")
        self.link(VALIDATOR, "validator", validator, f.line_of("validator"))
        retry_prompts: dict[str, tuple[str, ...]] = {}
        retry = f.mapping("retry_prompts")
        for problem in retry.values if retry else ():
            assert retry is not None
            retry_prompts[problem] = retry.prompts(problem)
        if min_digits > max_digits:
            self.problem(
                f.line_of("max_digits"),
                f"{f.where}: max_digits {max_digits} is below min_digits {min_digits}; "
                "no input can ever be accepted",
            )
        if terminator not in ("#", "*", ""):
            self.problem(f.line_of("terminator"), f"{f.where}: terminator must be '#', '*' or ''")
        if star_as_x and terminator == "*":
            self.problem(
                f.line_of("star_as_x"), f"{f.where}: '*' cannot be both the terminator and X"
            )
        checker = VALIDATORS.get(validator)
        if (
            checker
            and checker.length
            and not (min_digits <= checker.length[0] and checker.length[1] <= max_digits)
        ):
            low, high = checker.length
            self.problem(
                f.line_of("validator"),
                f"{f.where}: validator '{validator}' needs {low}-{high} digits but the node "
                f"takes {min_digits}-{max_digits}; no input can ever be accepted",
            )
        if into:
            self.link(VARIABLE, "into", into, f.line_of("into"))
        return CollectNode(
            **common,
            prompt=prompt,
            into=into,
            min_digits=min_digits,
            max_digits=max_digits,
            terminator=terminator,
            star_as_x=star_as_x,
            inter_digit_timeout=f.number("inter_digit_timeout", d.inter_digit_timeout, 1, 30),
            validator=validator,
            retry_prompts=MappingProxyType(retry_prompts),
            secret=f.flag("secret", validator == "pin6"),
            next=f.target("next"),
            input=self.input(f, d),
        )

    def confirm(self, f: _Fields, d: Defaults, common: dict[str, Any]) -> ConfirmNode:
        yes_key, no_key = f.text("yes_key", "1"), f.text("no_key", "2")
        for key in ("yes_key", "no_key"):
            if key in f and f.text(key) not in DTMF_KEYS:
                self.problem(f.line_of(key), f"{f.where}: '{key}' is not a telephone key")
        if yes_key == no_key:
            self.problem(f.line_of("no_key"), f"{f.where}: yes_key and no_key are the same key")
        return ConfirmNode(
            **common,
            prompt=f.prompts("prompt"),
            yes_key=yes_key,
            no_key=no_key,
            yes=f.target("yes"),
            no=f.target("no"),
            input=self.input(f, d),
        )

    def action(self, f: _Fields, d: Defaults, common: dict[str, Any]) -> ActionNode:
        action = f.text("action")
        self.link(ACTION, "action", action, f.line_of("action"))
        params: dict[str, str] = {}
        raw_params = f.values.get("params")
        if isinstance(raw_params, SequenceNode):  # `params: [id_number]`: same names both sides
            for item in raw_params.value:
                params[item.value] = item.value
                self.link(VARIABLE, "params", item.value, item.start_mark.line + 1)
        else:
            given = f.mapping("params")
            for param in given.values if given else ():
                assert given is not None
                params[param] = given.text(param)
                self.link(VARIABLE, f"params.{param}", params[param], given.line_of(param))
        outcomes: dict[str, str] = {}
        given_outcomes = f.mapping("outcomes")
        if given_outcomes is None:
            self.problem(f.line, f"{f.where}: missing 'outcomes'")
        else:
            for outcome in given_outcomes.values:
                outcomes[outcome] = given_outcomes.target(outcome, field=f"outcomes.{outcome}")
        return ActionNode(
            **common,
            action=action,
            params=MappingProxyType(params),
            outcomes=MappingProxyType(outcomes),
            wait_prompt=f.prompts("wait_prompt", ()),
            timeout=f.number("timeout", d.action_timeout, 1, 120),
        )

    def play(self, f: _Fields, d: Defaults, common: dict[str, Any]) -> PlayNode:
        return PlayNode(
            **common,
            prompt=f.prompts("prompt"),
            next=f.target("next"),
            barge_in=f.flag("barge_in", d.barge_in),
        )

    def transfer(self, f: _Fields, d: Defaults, common: dict[str, Any]) -> TransferNode:
        return TransferNode(
            **common,
            queue=f.queue("queue", "agents"),
            reason=f.text("reason", "caller_request"),
            prompt=f.prompts("prompt"),
            closed_prompt=f.prompts("closed_prompt"),
            busy_prompt=f.prompts("busy_prompt"),
            closed=f.target("closed", None),
            no_answer=f.target("no_answer", None),
        )

    def hangup(self, f: _Fields, d: Defaults, common: dict[str, Any]) -> HangupNode:
        return HangupNode(**common, prompt=f.prompts("prompt"), reason=f.text("reason", "goodbye"))


_NODE_BUILDERS: dict[Kind, Callable[[_Reader, _Fields, Defaults, dict[str, Any]], Node]] = {
    Kind.MENU: _Reader.menu,
    Kind.COLLECT: _Reader.collect,
    Kind.CONFIRM: _Reader.confirm,
    Kind.ACTION: _Reader.action,
    Kind.PLAY: _Reader.play,
    Kind.TRANSFER: _Reader.transfer,
    Kind.HANGUP: _Reader.hangup,
}


def parse_menu_text(text: str, file: str) -> tuple[MenuTree | None, list[MenuProblem]]:
    """The tree, or None and the problems that stop it from being built as written."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [MenuProblem(file, line, f"not valid YAML: {exc.problem or exc}")]
    if root is None:
        return None, [MenuProblem(file, 1, "the menu file is empty")]
    reader = _Reader(file)
    tree = reader.tree(root, text)
    return (None if reader.problems else tree), reader.problems


def parse_menu_file(path: str | Path) -> tuple[MenuTree | None, list[MenuProblem]]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, [MenuProblem(str(path), 1, f"cannot read the file: {exc}")]
    return parse_menu_text(text, str(path))
