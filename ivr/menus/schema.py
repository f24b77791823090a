"""The validated, immutable form of a menu file.

A `MenuTree` is built once per file version by `loader.py` and never changes afterwards, so a call
can hold on to the tree it started with while a newer version goes live. Every node remembers the
line it came from, and every reference it makes (`Link`) the line of that reference, so that
`validate.py` can name the exact line of a problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from types import MappingProxyType

from ivr.menus.service_hours import ServiceHours


class Kind(Enum):
    MENU = "menu"
    COLLECT = "collect"
    CONFIRM = "confirm"
    ACTION = "action"
    PLAY = "play"
    TRANSFER = "transfer"
    HANGUP = "hangup"


# Values of `globals:` that are not node ids.
BACK = "back"  # the menu before this one
REPEAT = "repeat"  # hear the current node's prompt again
GLOBAL_WORDS = frozenset({BACK, REPEAT})

# A branch of an action node taken for any outcome without a branch of its own.
DEFAULT_OUTCOME = "default"
# The outcome an action node assumes when the action does not answer in time.
TIMEOUT_OUTCOME = "unavailable"


@dataclass(frozen=True)
class MenuProblem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


class MenuError(ValueError):
    """A menu file that must not go live; `problems` says where and why."""

    def __init__(self, problems: list[MenuProblem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass(frozen=True)
class Link:
    """A reference from a node to a node, prompt, variable, action or validator, and its line."""

    what: str  # NODE, PROMPT, VARIABLE, ACTION or VALIDATOR
    field: str  # as written in the file, e.g. "keys.1" or "outcomes.ok"
    target: str
    line: int


NODE, PROMPT, VARIABLE, ACTION, VALIDATOR = "node", "prompt", "variable", "action", "validator"
QUEUE = "queue"


@dataclass(frozen=True)
class Input:
    """How a node that waits for keys behaves (FreeSWITCH's timeout/max-failures family)."""

    timeout: float  # seconds of silence after the prompt before a no-input retry
    max_failures: int  # invalid answers before `on_failure`
    max_timeouts: int  # silences before `on_failure`
    invalid_prompt: tuple[str, ...]
    timeout_prompt: tuple[str, ...]
    on_failure: str
    barge_in: bool


@dataclass(frozen=True, kw_only=True)
class Node:
    id: str
    kind: Kind
    line: int
    label: str  # what the agent's screen shows for this step of the path
    links: tuple[Link, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MenuNode(Node):
    greet_long: tuple[str, ...]  # the first time the caller reaches this menu
    greet_short: tuple[str, ...]  # on repeat and after a retry prompt
    keys: Mapping[str, str]
    input: Input


@dataclass(frozen=True, kw_only=True)
class CollectNode(Node):
    prompt: tuple[str, ...]
    into: str  # the variable that receives the value
    min_digits: int
    max_digits: int
    terminator: str
    star_as_x: bool  # a `*` after at least one digit is the letter X (ID numbers)
    inter_digit_timeout: float
    validator: str
    retry_prompts: Mapping[str, tuple[str, ...]]  # validator problem (or "default") -> prompt
    secret: bool  # never spoken back, never shown (PINs)
    next: str
    input: Input


@dataclass(frozen=True, kw_only=True)
class ConfirmNode(Node):
    prompt: tuple[str, ...]  # reads the value back: "您输入的…确认请按1，重新输入请按2"
    yes_key: str
    no_key: str
    yes: str
    no: str
    input: Input


@dataclass(frozen=True, kw_only=True)
class ActionNode(Node):
    action: str
    params: Mapping[str, str]  # action parameter -> variable
    outcomes: Mapping[str, str]  # outcome (or "default") -> node
    wait_prompt: tuple[str, ...]  # played while the action runs (no barge-in)
    timeout: float


@dataclass(frozen=True, kw_only=True)
class PlayNode(Node):
    prompt: tuple[str, ...]
    next: str
    barge_in: bool  # global keys (repeat, back, agent, ...) work during it


@dataclass(frozen=True, kw_only=True)
class TransferNode(Node):
    queue: str
    reason: str  # shown on the agent's screen
    prompt: tuple[str, ...]  # "正在为您转接人工服务，请稍候"
    closed_prompt: tuple[str, ...]  # outside service hours: when agents are available
    busy_prompt: tuple[str, ...]  # nobody answered
    closed: str | None  # where to go when closed; None: back to the menu the caller was in
    no_answer: str | None  # where to go when nobody answered; None: back to the menu


@dataclass(frozen=True, kw_only=True)
class HangupNode(Node):
    prompt: tuple[str, ...]
    reason: str


@dataclass(frozen=True)
class ActionSpec:
    """The contract of one action as the menu file declares it (kept in one place, `actions:`)."""

    name: str
    line: int
    params: tuple[str, ...]
    outcomes: frozenset[str]


QUEUE_STRATEGIES = ("longest_idle", "round_robin", "ring_all", "fewest_calls")


@dataclass(frozen=True)
class QueueSpec:
    """One agent queue (a skill: 社保卡, 医保, 就业) as the `queues:` section declares it."""

    name: str
    line: int = 0
    label: str = ""  # what agents and supervisors see, e.g. 社保卡业务
    strategy: str = "longest_idle"  # one of QUEUE_STRATEGIES
    ring_timeout: float = 20.0  # seconds an agent's phone rings before the next agent
    max_no_answer: int = 1  # missed offers in a row before the agent is paused
    wrap_up: float = 10.0  # seconds after a call before the agent is offered the next
    max_wait: float = 300.0  # seconds in the queue before the caller is offered a callback
    announce_every: float = 45.0  # seconds between position announcements
    members: tuple[str, ...] = ()  # agents with this skill; empty: every agent


@dataclass(frozen=True)
class MenuTree:
    """One version of one menu file; immutable, shared by every call that started on it."""

    name: str
    file: str
    version: str  # content hash of the file text
    start: str
    globals: Mapping[str, str]  # key -> node id, BACK or REPEAT
    intents: Mapping[str, str]  # speech intent -> node id
    actions: Mapping[str, ActionSpec]
    nodes: Mapping[str, Node]
    links: tuple[Link, ...]  # references made outside the nodes: start, globals, intents, defaults
    service_hours: ServiceHours  # when the agent queue is open (the `service:` section)
    # The `queues:` section; without one, every transfer's queue has the default settings.
    queues: Mapping[str, QueueSpec] = field(default_factory=lambda: MappingProxyType({}))

    def node(self, node_id: str) -> Node:
        return self.nodes[node_id]

    def queue(self, name: str) -> QueueSpec:
        return self.queues.get(name) or QueueSpec(name)
