"""A fake call around one MenuRun: a fake monotonic clock, a settable wall clock, a player."""

from __future__ import annotations

import datetime as dt
from typing import TypeVar
from zoneinfo import ZoneInfo

from ivr.config import load_config
from ivr.menus.events import (
    ActionCompleted,
    Command,
    DigitPressed,
    Event,
    Play,
    PromptFinished,
    RunAction,
    StopPlayback,
    TimerExpired,
)
from ivr.menus.interpreter import MenuRun
from ivr.menus.schema import MenuTree
from ivr.menus.validate import check_menu_text
from ivr.work_calendar import configured_calendar

T = TypeVar("T")
NATIONAL_CALENDAR = configured_calendar(load_config(environ={}))  # config/holidays.yaml
SHANGHAI = ZoneInfo("Asia/Shanghai")
OPEN_HOURS = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SHANGHAI)  # a Monday morning, winter hours
LUNCH_BREAK = dt.datetime(2026, 11, 23, 12, 0, tzinfo=SHANGHAI)
VALID_ID = "11010519491231002X"  # GB 11643 example; its check character is X
VALID_ID_KEYS = "11010519491231002*#"
WRONG_CHECKSUM_ID = "110105194912310021"

MINI_MENU = """\
menu: test
start: main
globals: {"0": agent, "9": main, "*": back, "#": repeat}
intents: {agent: agent}
defaults:
  timeout: 10
  inter_digit_timeout: 5
  max_failures: 3
  max_timeouts: 2
  invalid_prompt: invalid
  timeout_prompt: silence
  on_failure: bye
actions:
  lookup: {params: [id_number], outcomes: [ok, not_found, unavailable]}
nodes:
  main:
    kind: menu
    greet_long: [welcome, main_keys]
    greet_short: main_keys
    keys: {"1": sub, "2": id, "3": notice, "4": quiet}
  sub: {kind: menu, greet_long: sub_keys, keys: {"1": id}}
  id:
    kind: collect
    label: 输入身份证号
    prompt: enter_id
    into: id_number
    min_digits: 18
    max_digits: 18
    star_as_x: true
    validator: id_number
    retry_prompts: {checksum: bad_checksum, default: bad_id}
    next: confirm
  confirm: {kind: confirm, prompt: readback, yes: lookup, no: id}
  lookup:
    kind: action
    action: lookup
    params: [id_number]
    wait_prompt: wait
    timeout: 15
    outcomes: {ok: found, not_found: missing, unavailable: busy}
  found: {kind: play, prompt: found, next: main}
  missing: {kind: play, prompt: missing, next: main}
  busy: {kind: play, prompt: busy, next: bye}
  notice: {kind: play, prompt: notice, next: main}
  quiet: {kind: play, prompt: notice, barge_in: false, next: main}
  agent: {kind: transfer, prompt: hold, closed_prompt: closed, busy_prompt: agents_busy}
  bye: {kind: hangup, prompt: goodbye}
"""


def tree_from(text: str, file: str = "test.yaml") -> MenuTree:
    tree, problems = check_menu_text(text, file)
    assert tree is not None, [str(p) for p in problems]
    return tree


class FakeCall:
    """Plays the call's part: passes events in, tracks what is playing, runs the clocks."""

    def __init__(self, tree: MenuTree, wallclock: dt.datetime = OPEN_HOURS) -> None:
        self.now = 1000.0
        self.wall = wallclock
        self.run = MenuRun(
            tree,
            wallclock=lambda: self.wall,
            calendar=NATIONAL_CALENDAR,
            caller="13800138000",
            call_ref="c1",
        )
        self.playing: Play | None = None
        self.commands: list[Command] = []

    def start(self) -> list[Command]:
        return self._record(self.run.start(self.now))

    def send(self, event: Event) -> list[Command]:
        return self._record(self.run.handle(event, self.now))

    def press(self, keys: str) -> list[Command]:
        out: list[Command] = []
        for key in keys:
            out += self.send(DigitPressed(key))
        return out

    def finish_prompt(self) -> list[Command]:
        """The player reaches the end of what is playing."""
        finished = self.playing
        assert finished is not None, "nothing is playing"
        out = self.send(PromptFinished(finished.play_id))
        if self.playing is finished:
            self.playing = None
        return out

    def wait(self, seconds: float) -> list[Command]:
        """Silence for `seconds`; the call's timer fires if the run asked for it."""
        self.now += seconds
        deadline = self.run.next_deadline()
        if deadline is not None and deadline <= self.now:
            return self.send(TimerExpired())
        return []

    def complete(self, outcome: str, **values: object) -> list[Command]:
        request = self.last(RunAction)
        return self.send(ActionCompleted(request.request_id, outcome, values))

    def heard(self) -> tuple[str, ...]:
        """The prompt ids of what is playing now."""
        assert self.playing is not None, "nothing is playing"
        return tuple(ref.prompt_id for ref in self.playing.prompts)

    def last(self, kind: type[T]) -> T:
        for command in reversed(self.commands):
            if isinstance(command, kind):
                return command
        raise AssertionError(f"no {kind.__name__} was sent")

    def _record(self, commands: list[Command]) -> list[Command]:
        for command in commands:
            if isinstance(command, Play):
                self.playing = command
            elif isinstance(command, StopPlayback):
                assert self.playing is not None and command.play_id == self.playing.play_id
                self.playing = None
        self.commands += commands
        return commands
