"""A caller waiting in an agent queue, sans-I/O: events in, commands out, time passed in.

Rule: what the caller hears and may do while waiting is decided by `TRANSITIONS` and the
handlers it names; the call carries out the commands (prompts, hold music, leaving the queue,
storing a callback) and feeds back what happened.

The caller hears its position (and an estimated wait, when recent calls give one) on entry and
every `announce_every` seconds, hold music in between. Keys while waiting: `1` leave a callback
request (the calling number, or another one keyed, then a time window), `*` back to the menu.
After `max_wait` the callback is offered once more in words. While an agent's phone rings the
caller hears ringback (the agent leg plays it) and keys are ignored; when that agent does not
answer, the caller is told it is still being connected and waits on at the head of the queue.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.agents.callbacks import WINDOWS

NUMBER = re.compile(r"\d{5,20}")  # a number that can be called back (fixed line or mobile)
KEY_TIMEOUT = 10.0  # seconds for each answer in the callback questions
MAX_NUMBER = 20


# --- events -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entered:
    position: int
    estimate_s: float | None


@dataclass(frozen=True)
class PromptDone:
    token: int


@dataclass(frozen=True)
class Timer:
    pass


@dataclass(frozen=True)
class Key:
    digit: str


@dataclass(frozen=True)
class Position:
    """The answer to `RefreshPosition`: `position` 0 when the caller is no longer waiting."""

    position: int
    estimate_s: float | None


@dataclass(frozen=True)
class Offered:
    pass


@dataclass(frozen=True)
class BackInQueue:
    pass


@dataclass(frozen=True)
class Connected:
    pass


Event = Entered | PromptDone | Timer | Key | Position | Offered | BackInQueue | Connected

# --- commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Say:
    prompts: tuple[str, ...]
    token: int
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HoldMusic:
    pass


@dataclass(frozen=True)
class RefreshPosition:
    pass


@dataclass(frozen=True)
class LeaveQueue:
    """Take the caller out of the queue: `to` is "menu" (it pressed *) or "callback"."""

    to: str


@dataclass(frozen=True)
class StoreCallback:
    number: str
    window: str


@dataclass(frozen=True)
class BackToMenu:
    pass


@dataclass(frozen=True)
class HangUp:
    reason: str


Command = Say | HoldMusic | RefreshPosition | LeaveQueue | StoreCallback | BackToMenu | HangUp


class State(enum.Enum):
    ANNOUNCING = "announcing"  # a position or notice prompt plays; hold music follows
    HOLDING = "holding"  # hold music until the next announcement
    REFRESHING = "refreshing"  # asked the queue for the position; hold music goes on
    CONFIRM_NUMBER = "confirm number"  # callback: 1 this number, 2 another
    KEY_NUMBER = "key number"  # callback: digits then #
    WINDOW = "window"  # callback: 1 today, 2 tomorrow morning, 3 tomorrow afternoon
    CLOSING = "closing"  # the callback is stored; the thanks play, then hang up
    RINGING = "ringing"  # an agent's phone rings
    DONE = "done"


@dataclass(frozen=True)
class QueueSettings:
    announce_every: float = 45.0
    max_wait: float = 300.0


WAITING = (State.ANNOUNCING, State.HOLDING, State.REFRESHING)
CALLBACK = (State.CONFIRM_NUMBER, State.KEY_NUMBER, State.WINDOW)


class QueueWait:
    def __init__(self, settings: QueueSettings, caller_number: str, now: float) -> None:
        self.settings = settings
        self.caller_number = caller_number if NUMBER.fullmatch(caller_number) else ""
        self.entered_at = now
        self.state = State.HOLDING
        self.deadline: float | None = None
        self.number = ""
        self._token = 0
        self._max_wait_said = False
        self._out: list[Command] = []

    def handle(self, event: Event, now: float) -> list[Command]:
        handler = TRANSITIONS.get((self.state, type(event)))
        if handler is not None:
            handler(self, event, now)
        out, self._out = self._out, []
        return out

    def next_deadline(self) -> float | None:
        return self.deadline

    # --- waiting ----------------------------------------------------------------------------

    def _entered(self, event: Entered, now: float) -> None:
        self._announce(event.position, event.estimate_s, ("queue_keys",))

    def _announce(self, position: int, estimate_s: float | None, after: tuple[str, ...]) -> None:
        variables: dict[str, Any] = {"ahead": max(0, position - 1)}
        if estimate_s is not None:
            variables["minutes"] = max(1, math.ceil(estimate_s / 60))
        self._say(("queue_position", *after), variables)

    def _say(self, prompts: tuple[str, ...], variables: Mapping[str, Any] | None = None) -> None:
        self._token += 1
        self._out.append(Say(prompts, self._token, dict(variables or {})))
        self.state = State.ANNOUNCING
        self.deadline = None

    def _prompt_done(self, event: PromptDone, now: float) -> None:
        if event.token != self._token:
            return
        self._out.append(HoldMusic())
        self.state = State.HOLDING
        self.deadline = now + self.settings.announce_every

    def _hold_timer(self, event: Timer, now: float) -> None:
        if not self._max_wait_said and now - self.entered_at >= self.settings.max_wait:
            self._max_wait_said = True
            self._say(("queue_max_wait",))
            return
        self.state = State.REFRESHING
        self.deadline = None
        self._out.append(RefreshPosition())

    def _position(self, event: Position, now: float) -> None:
        if event.position > 0:
            self._announce(event.position, event.estimate_s, ())
        else:
            self.state = State.HOLDING
            self.deadline = now + self.settings.announce_every

    def _waiting_key(self, event: Key, now: float) -> None:
        if event.digit == "*":
            self.state = State.DONE
            self.deadline = None
            self._out += [LeaveQueue("menu"), BackToMenu()]
        elif event.digit == "1":
            self._ask_number(now)

    # --- callback questions -----------------------------------------------------------------

    def _ask_number(self, now: float) -> None:
        if self.caller_number:
            self._question(State.CONFIRM_NUMBER, ("callback_number",), now)
        else:
            self._question(State.KEY_NUMBER, ("callback_key_number",), now)

    def _question(self, state: State, prompts: tuple[str, ...], now: float) -> None:
        self._token += 1
        self._out.append(Say(prompts, self._token, {"number": self.caller_number}))
        self.state = state
        self.number = ""
        self.deadline = now + KEY_TIMEOUT + 10  # the question's length, then time to answer

    def _confirm_key(self, event: Key, now: float) -> None:
        if event.digit == "1":
            self.number = self.caller_number
            self._ask_window(now)
        elif event.digit == "2":
            self._question(State.KEY_NUMBER, ("callback_key_number",), now)
        elif event.digit == "*":
            self._resume()

    def _number_key(self, event: Key, now: float) -> None:
        if event.digit == "#" and NUMBER.fullmatch(self.number):
            self._ask_window(now)
        elif event.digit == "*":
            self._resume()
        elif event.digit.isdigit() and len(self.number) < MAX_NUMBER:
            self.number += event.digit
            self.deadline = now + KEY_TIMEOUT
        else:
            self._question(State.KEY_NUMBER, ("callback_bad_number", "callback_key_number"), now)

    def _ask_window(self, now: float) -> None:
        number = self.number
        self._question(State.WINDOW, ("callback_window",), now)
        self.number = number

    def _window_key(self, event: Key, now: float) -> None:
        if event.digit in WINDOWS:
            self._token += 1
            self._out += [
                LeaveQueue("callback"),
                StoreCallback(self.number, WINDOWS[event.digit]),
                Say(("callback_done",), self._token, {"number": self.number}),
            ]
            self.state = State.CLOSING
            self.deadline = None
        elif event.digit == "*":
            self._resume()

    def _callback_silence(self, event: Timer, now: float) -> None:
        self._resume()

    def _resume(self) -> None:
        """Back to waiting, in the same place in the queue."""
        self._say(("queue_still_waiting",))

    def _closing_done(self, event: PromptDone, now: float) -> None:
        if event.token == self._token:
            self.state = State.DONE
            self._out.append(HangUp("callback requested"))

    # --- the agent's side -------------------------------------------------------------------

    def _offered(self, event: Offered, now: float) -> None:
        self.state = State.RINGING
        self.deadline = None

    def _back_in_queue(self, event: BackInQueue, now: float) -> None:
        self._say(("queue_still_waiting",))

    def _connected(self, event: Connected, now: float) -> None:
        self.state = State.DONE
        self.deadline = None


Handler = Callable[[QueueWait, Any, float], None]
S = State
TRANSITIONS: dict[tuple[State, type], Handler] = {
    (S.HOLDING, Entered): QueueWait._entered,
    **{(state, PromptDone): QueueWait._prompt_done for state in (S.ANNOUNCING,)},
    (S.HOLDING, Timer): QueueWait._hold_timer,
    (S.REFRESHING, Position): QueueWait._position,
    **{(state, Key): QueueWait._waiting_key for state in WAITING},
    (S.CONFIRM_NUMBER, Key): QueueWait._confirm_key,
    (S.KEY_NUMBER, Key): QueueWait._number_key,
    (S.WINDOW, Key): QueueWait._window_key,
    **{(state, Timer): QueueWait._callback_silence for state in CALLBACK},
    (S.CLOSING, PromptDone): QueueWait._closing_done,
    **{(state, Offered): QueueWait._offered for state in (*WAITING, *CALLBACK)},
    (S.RINGING, BackInQueue): QueueWait._back_in_queue,
    (S.RINGING, Connected): QueueWait._connected,
}
