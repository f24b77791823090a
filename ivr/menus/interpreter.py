"""The per-call menu interpreter: events in, commands out, no I/O.

Rule 1: what a caller hears next is decided here and only here, by the table `_TRANSITIONS`
keyed by (node kind, run state, event type). Reading the table is reading the call flow; the
handlers below it are a few lines each. An event with no row in the table is ignored (a key during
an action, a stale prompt-finished, an early timer), which is what makes odd input harmless.

Theory of operation. A run is always at one node of one immutable `MenuTree` (the version the
call started on; a newer version going live never touches it) and in one `State`:

    NEW           not started yet
    PROMPTING     a prompt plays and keys are welcome (barge-in stops it; the key still counts)
    WAITING       the prompt ended; a deadline runs for the first (or next) key
    ANNOUNCING    a prompt plays and the node moves on when it ends (play, hangup, transfer)
    ACTING        an action runs on the worker pool; a deadline guards against no answer
    TRANSFERRING  the agent queue has the call
    NOTICE        "agents are closed / busy" plays, then the caller returns to a menu
    BRIDGED       an agent talks with the caller; the agent may transfer the call back here
    ENDED         hung up

Time comes in as `now` (monotonic seconds) for deadlines and `wallclock()` (aware datetime) for
service hours and ID birth dates; the call arms one timer at `next_deadline()`.
"""

from __future__ import annotations

import datetime as dt
from collections import deque
from collections.abc import Callable, Mapping
from enum import Enum, auto
from types import MappingProxyType
from typing import Any

from ivr.menus.events import (
    ActionCompleted,
    Command,
    DigitPressed,
    Event,
    Hangup,
    IntentHeard,
    Play,
    PromptFinished,
    PromptRef,
    RunAction,
    StopPlayback,
    TimerExpired,
    Transfer,
    TransferEnded,
)
from ivr.menus.schema import (
    BACK,
    DEFAULT_OUTCOME,
    REPEAT,
    TIMEOUT_OUTCOME,
    ActionNode,
    CollectNode,
    ConfirmNode,
    HangupNode,
    Kind,
    MenuNode,
    MenuTree,
    Node,
    PlayNode,
    TransferNode,
)
from ivr.menus.validators import LENGTH, VALIDATORS, Checked
from ivr.work_calendar import WorkCalendar

_PATH_LENGTH = 40  # steps of the path kept for the agent's screen


class State(Enum):
    NEW = auto()
    PROMPTING = auto()
    WAITING = auto()
    ANNOUNCING = auto()
    ACTING = auto()
    TRANSFERRING = auto()
    NOTICE = auto()
    BRIDGED = auto()
    ENDED = auto()


class MenuRun:
    """One caller's walk through one menu version."""

    def __init__(
        self,
        tree: MenuTree,
        *,
        wallclock: Callable[[], dt.datetime],
        calendar: WorkCalendar,
        caller: str = "",
        call_ref: str = "",
    ) -> None:
        self.tree = tree
        self.hours = tree.service_hours
        self.calendar = calendar  # the national holidays and make-up days the hours follow
        self.wallclock = wallclock
        self.caller = caller
        self.call_ref = call_ref
        self.state = State.NEW
        self.node: Node = tree.nodes[tree.start]
        self._out: list[Command] = []
        self._play_id: int | None = None  # the Play still sounding, if any
        self._plays = 0
        self._requests = 0
        self._request_id: str | None = None
        self._deadline: float | None = None
        self._failures = 0
        self._timeouts = 0
        self._buffer = ""
        self._after_notice = tree.start
        self._visited: set[str] = set()
        self._menus: list[str] = []  # menus entered, for `back` and "return to the menu"
        self._path: deque[str] = deque(maxlen=_PATH_LENGTH)
        self._variables: dict[str, Any] = {}
        self._secret: set[str] = set()
        self._masked: dict[str, str] = {}
        self._outcomes: list[str] = []

    # --- the public surface ---------------------------------------------------------------

    def start(self, now: float) -> list[Command]:
        self._enter(self.tree.start, now)
        return self._flush()

    def handle(self, event: Event, now: float) -> list[Command]:
        if not self._accepts(event, now):
            return []
        handler = _TRANSITIONS.get((self.node.kind, self.state, type(event)))
        if handler is None:
            return []
        barging = isinstance(event, DigitPressed) and self._play_id is not None
        if barging and not self._barge_in_allowed():
            return []  # this prompt must be heard to the end; the key is not for it
        handler(self, event, now)
        return self._flush()

    def next_deadline(self) -> float | None:
        return self._deadline

    @property
    def ended(self) -> bool:
        """Nothing more for the menu to do: hung up, or with an agent (until the agent
        transfers the call back into the IVR)."""
        return self.state in (State.ENDED, State.BRIDGED)

    @property
    def variables(self) -> Mapping[str, Any]:
        return MappingProxyType(self._variables)

    @property
    def path(self) -> tuple[str, ...]:
        """The labels of the nodes visited, latest last (the CDR and the agent's screen)."""
        return tuple(self._path)

    # --- filtering of stale events ----------------------------------------------------------

    def _accepts(self, event: Event, now: float) -> bool:
        if isinstance(event, PromptFinished):
            if event.play_id != self._play_id:
                return False  # an earlier prompt, already stopped or replaced
            self._play_id = None
        elif isinstance(event, TimerExpired):
            if self._deadline is None or now < self._deadline:
                return False
            self._deadline = None
        elif isinstance(event, ActionCompleted):
            if event.request_id != self._request_id:
                return False  # answered after its deadline: the caller has moved on
            self._request_id = None
        return True

    def _barge_in_allowed(self) -> bool:
        node = self.node
        if isinstance(node, PlayNode):
            return node.barge_in
        if isinstance(node, (MenuNode, CollectNode, ConfirmNode)):
            return node.input.barge_in
        return False

    # --- entering nodes ---------------------------------------------------------------------

    def _enter(self, node_id: str, now: float) -> None:
        self._stop()
        node = self.tree.nodes[node_id]
        self.node = node
        self._failures = self._timeouts = 0
        self._buffer = ""
        self._deadline = None
        self._path.append(node.label)
        _ENTER[node.kind](self, node, now)

    def _enter_menu(self, node: MenuNode, now: float) -> None:
        if node.id in self._menus:
            del self._menus[self._menus.index(node.id) + 1 :]
        else:
            self._menus.append(node.id)
        first_time = node.id not in self._visited
        self._visited.add(node.id)
        self._prompt(node.greet_long if first_time else node.greet_short, node.input.barge_in)

    def _enter_collect(self, node: CollectNode, now: float) -> None:
        self._prompt(node.prompt, node.input.barge_in)

    def _enter_confirm(self, node: ConfirmNode, now: float) -> None:
        self._prompt(node.prompt, node.input.barge_in)

    def _enter_play(self, node: PlayNode, now: float) -> None:
        self._announce(node.prompt, node.barge_in)

    def _enter_hangup(self, node: HangupNode, now: float) -> None:
        self._announce(node.prompt, barge_in=False)

    def _enter_action(self, node: ActionNode, now: float) -> None:
        self._requests += 1
        self._request_id = f"{self.call_ref}:{self._requests}"
        params = {name: str(self._variables.get(var, "")) for name, var in node.params.items()}
        self._out.append(RunAction(self._request_id, node.action, params))
        if node.wait_prompt:
            self._play(node.wait_prompt, barge_in=False)
        self.state = State.ACTING
        self._deadline = now + node.timeout

    def _enter_transfer(self, node: TransferNode, now: float) -> None:
        if self.hours.is_open(self.wallclock(), self.calendar):
            self._announce(node.prompt, barge_in=False)
        else:
            self._notice(node.closed_prompt, node.closed, self._hours_variables())

    # --- keys, silence and speech -----------------------------------------------------------

    def _menu_key(self, event: DigitPressed, now: float) -> None:
        node = self.node
        assert isinstance(node, MenuNode)
        if event.digit in node.keys:
            self._enter(node.keys[event.digit], now)
        else:
            self._global_or_invalid(event.digit, now)

    def _confirm_key(self, event: DigitPressed, now: float) -> None:
        node = self.node
        assert isinstance(node, ConfirmNode)
        if event.digit == node.yes_key:
            self._enter(node.yes, now)
        elif event.digit == node.no_key:
            self._enter(node.no, now)
        else:
            self._global_or_invalid(event.digit, now)

    def _collect_key(self, event: DigitPressed, now: float) -> None:
        """Digits are data (so `0` and `9` type digits here); `#` ends; `*` may be an X."""
        node = self.node
        assert isinstance(node, CollectNode)
        key = event.digit
        if key.isdigit() or (key == "*" and node.star_as_x and self._buffer):
            self._stop()
            self._buffer += "X" if key == "*" else key
            if not node.terminator and len(self._buffer) >= node.max_digits:
                self._submit(now)
            else:
                self._wait(now, node.inter_digit_timeout)
        elif key == node.terminator:
            self._stop()
            self._submit(now)
        else:
            self._global_or_invalid(key, now)

    def _announcement_key(self, event: DigitPressed, now: float) -> None:
        """During a play node only the global keys act; other keys let it finish."""
        if event.digit in self.tree.globals:
            self._global(event.digit, now)

    def _global_or_invalid(self, key: str, now: float) -> None:
        if key in self.tree.globals:
            self._global(key, now)
        else:
            self._fail(now, self._input_node().input.invalid_prompt)

    def _global(self, key: str, now: float) -> None:
        target = self.tree.globals[key]
        if target == REPEAT:
            self._reprompt(())
        elif target == BACK:
            self._enter(self._back_target(), now)
        else:
            self._enter(target, now)

    def _intent(self, event: IntentHeard, now: float) -> None:
        target = self.tree.intents.get(event.intent)
        if target is not None:
            self._enter(target, now)

    def _no_input(self, event: TimerExpired, now: float) -> None:
        node = self._input_node()
        self._timeouts += 1
        if self._timeouts >= node.input.max_timeouts:
            self._enter(node.input.on_failure, now)
        else:
            self._reprompt(node.input.timeout_prompt)

    def _collect_timeout(self, event: TimerExpired, now: float) -> None:
        """Silence after some digits submits them: elderly callers often forget the `#`."""
        if self._buffer:
            self._submit(now)
        else:
            self._no_input(event, now)

    def _submit(self, now: float) -> None:
        node = self.node
        assert isinstance(node, CollectNode)
        raw, self._buffer = self._buffer, ""
        self._deadline = None
        validator = VALIDATORS[node.validator]
        if node.min_digits <= len(raw) <= node.max_digits:
            today = self.wallclock().astimezone(self.hours.timezone).date()
            checked = validator.check(raw, today)
        else:
            checked = Checked(raw, LENGTH)
        if checked.problem is None:
            self._variables[node.into] = checked.value
            self._masked[node.into] = validator.mask(checked.value)
            if node.secret:
                self._secret.add(node.into)
            self._enter(node.next, now)
            return
        retry = node.retry_prompts
        explanation = retry.get(checked.problem) or retry.get(DEFAULT_OUTCOME)
        self._fail(now, explanation or node.input.invalid_prompt)

    def _fail(self, now: float, explanation: tuple[str, ...]) -> None:
        node = self._input_node()
        self._failures += 1
        if self._failures >= node.input.max_failures:
            self._enter(node.input.on_failure, now)
        else:
            self._reprompt(explanation)

    # --- prompts ending ---------------------------------------------------------------------

    def _await_input(self, event: PromptFinished, now: float) -> None:
        self._wait(now, self._input_node().input.timeout)

    def _play_done(self, event: PromptFinished, now: float) -> None:
        node = self.node
        assert isinstance(node, PlayNode)
        self._enter(node.next, now)

    def _hang_up(self, event: PromptFinished, now: float) -> None:
        node = self.node
        assert isinstance(node, HangupNode)
        self.state = State.ENDED
        self._out.append(Hangup(node.reason))

    def _start_transfer(self, event: PromptFinished, now: float) -> None:
        node = self.node
        assert isinstance(node, TransferNode)
        self.state = State.TRANSFERRING
        self._out.append(Transfer(node.queue, self._agent_context(node)))

    def _leave_notice(self, event: PromptFinished, now: float) -> None:
        self._enter(self._after_notice, now)

    # --- actions and transfers answering ----------------------------------------------------

    def _action_done(self, event: ActionCompleted, now: float) -> None:
        self._variables.update(event.values)
        self._branch(event.outcome, now)

    def _action_timed_out(self, event: TimerExpired, now: float) -> None:
        self._request_id = None
        self._branch(TIMEOUT_OUTCOME, now)

    def _branch(self, outcome: str, now: float) -> None:
        node = self.node
        assert isinstance(node, ActionNode)
        self._outcomes.append(f"{node.action}:{outcome}")
        outcomes = node.outcomes
        # Validation guarantees a branch for "unavailable" or a default one.
        target = outcomes.get(outcome) or outcomes.get(DEFAULT_OUTCOME) or outcomes[TIMEOUT_OUTCOME]
        self._enter(target, now)

    def _transfer_ended(self, event: TransferEnded, now: float) -> None:
        node = self.node
        assert isinstance(node, TransferNode)
        if event.outcome == "answered":
            self.state = State.BRIDGED
        elif event.outcome == "no_answer":
            self._notice(node.busy_prompt, node.no_answer, {})
        elif event.outcome == "left":
            self._enter(self._menus[-1] if self._menus else self.tree.start, now)
        else:
            self._notice(node.closed_prompt, node.closed, self._hours_variables())

    # --- small helpers ----------------------------------------------------------------------

    def _input_node(self) -> MenuNode | CollectNode | ConfirmNode:
        node = self.node
        assert isinstance(node, (MenuNode, CollectNode, ConfirmNode))
        return node

    def _prompt(self, prompts: tuple[str, ...], barge_in: bool) -> None:
        self._play(prompts, barge_in)
        self.state = State.PROMPTING

    def _announce(self, prompts: tuple[str, ...], barge_in: bool) -> None:
        self._play(prompts, barge_in)
        self.state = State.ANNOUNCING

    def _notice(self, prompts: tuple[str, ...], target: str | None, extra: dict[str, Any]) -> None:
        """Say why there is no agent, then go to `target` or back to the caller's menu."""
        self._after_notice = target or (self._menus[-1] if self._menus else self.tree.start)
        self._play(prompts, barge_in=False, extra=extra)
        self.state = State.NOTICE

    def _reprompt(self, explanation: tuple[str, ...]) -> None:
        """Say what went wrong (if anything), then the current node's prompt again."""
        node = self.node
        if isinstance(node, MenuNode):
            self._prompt(explanation + node.greet_short, node.input.barge_in)
        elif isinstance(node, PlayNode):
            self._announce(node.prompt, node.barge_in)
        else:
            assert isinstance(node, (CollectNode, ConfirmNode))
            self._buffer = ""
            self._prompt(explanation + node.prompt, node.input.barge_in)
        self._deadline = None

    def _wait(self, now: float, seconds: float) -> None:
        self.state = State.WAITING
        self._deadline = now + seconds

    def _play(
        self, prompts: tuple[str, ...], barge_in: bool, extra: Mapping[str, Any] | None = None
    ) -> None:
        self._stop()
        self._plays += 1
        self._play_id = self._plays
        spoken = {k: v for k, v in self._variables.items() if k not in self._secret}
        variables = MappingProxyType(spoken | dict(extra or {}))
        refs = tuple(PromptRef(prompt_id, variables) for prompt_id in prompts)
        self._out.append(Play(self._play_id, refs, barge_in))

    def _stop(self) -> None:
        if self._play_id is not None:
            self._out.append(StopPlayback(self._play_id))
            self._play_id = None

    def _back_target(self) -> str:
        menus = self._menus
        if isinstance(self.node, MenuNode) and len(menus) >= 2:
            return menus[-2]
        return menus[-1] if menus else self.tree.start

    def _hours_variables(self) -> dict[str, Any]:
        return self.hours.prompt_variables(self.wallclock(), self.calendar)

    def _agent_context(self, node: TransferNode) -> dict[str, Any]:
        """What the agent's screen shows; collected numbers only ever masked."""
        return {
            "caller": self.caller,
            "call_ref": self.call_ref,
            "reason": node.reason,
            "menu": self.tree.name,
            "menu_version": self.tree.version,
            "path": list(self._path),
            "collected": dict(self._masked),
            "outcomes": list(self._outcomes),
        }

    def _flush(self) -> list[Command]:
        out, self._out = self._out, []
        return out


_ENTER: dict[Kind, Callable[[MenuRun, Any, float], None]] = {
    Kind.MENU: MenuRun._enter_menu,
    Kind.COLLECT: MenuRun._enter_collect,
    Kind.CONFIRM: MenuRun._enter_confirm,
    Kind.ACTION: MenuRun._enter_action,
    Kind.PLAY: MenuRun._enter_play,
    Kind.TRANSFER: MenuRun._enter_transfer,
    Kind.HANGUP: MenuRun._enter_hangup,
}

_M, _C, _K = Kind.MENU, Kind.COLLECT, Kind.CONFIRM
_PROMPTING, _WAITING = State.PROMPTING, State.WAITING
_ASKING = (_PROMPTING, _WAITING)

_TRANSITIONS: dict[tuple[Kind, State, type], Callable[[MenuRun, Any, float], None]] = {
    # menu: a key chooses, a global key acts, anything else or silence is retried
    (_M, _PROMPTING, DigitPressed): MenuRun._menu_key,
    (_M, _PROMPTING, PromptFinished): MenuRun._await_input,
    (_M, _WAITING, DigitPressed): MenuRun._menu_key,
    (_M, _WAITING, TimerExpired): MenuRun._no_input,
    # confirm: yes / no keys, then as a menu
    (_K, _PROMPTING, DigitPressed): MenuRun._confirm_key,
    (_K, _PROMPTING, PromptFinished): MenuRun._await_input,
    (_K, _WAITING, DigitPressed): MenuRun._confirm_key,
    (_K, _WAITING, TimerExpired): MenuRun._no_input,
    # collect: digits accumulate, the terminator or inter-digit silence submits
    (_C, _PROMPTING, DigitPressed): MenuRun._collect_key,
    (_C, _PROMPTING, PromptFinished): MenuRun._await_input,
    (_C, _WAITING, DigitPressed): MenuRun._collect_key,
    (_C, _WAITING, TimerExpired): MenuRun._collect_timeout,
    # speech: "转人工" and friends, wherever the caller is being asked something
    **{(kind, state, IntentHeard): MenuRun._intent for kind in (_M, _C, _K) for state in _ASKING},
    (Kind.PLAY, State.ANNOUNCING, IntentHeard): MenuRun._intent,
    # announcements move on when they end
    (Kind.PLAY, State.ANNOUNCING, DigitPressed): MenuRun._announcement_key,
    (Kind.PLAY, State.ANNOUNCING, PromptFinished): MenuRun._play_done,
    (Kind.HANGUP, State.ANNOUNCING, PromptFinished): MenuRun._hang_up,
    # action: its outcome picks the branch; no answer in time counts as "unavailable"
    (Kind.ACTION, State.ACTING, ActionCompleted): MenuRun._action_done,
    (Kind.ACTION, State.ACTING, TimerExpired): MenuRun._action_timed_out,
    # transfer: "please hold", queue, and if nobody can take the call, say so and go back
    (Kind.TRANSFER, State.ANNOUNCING, PromptFinished): MenuRun._start_transfer,
    (Kind.TRANSFER, State.TRANSFERRING, TransferEnded): MenuRun._transfer_ended,
    (Kind.TRANSFER, State.BRIDGED, TransferEnded): MenuRun._transfer_ended,
    (Kind.TRANSFER, State.NOTICE, PromptFinished): MenuRun._leave_notice,
}
