"""What goes into a MenuRun (events) and what comes out of it (commands).

All are small immutable values. Time is not part of an event: `MenuRun.handle(event, now)` takes
it, the way aioquic's `receive_datagram(data, addr, now)` does.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# --- events (from the call) -------------------------------------------------------------------


@dataclass(frozen=True)
class DigitPressed:
    """One DTMF key, already de-duplicated (RFC 4733 / INFO / in-band): 0-9, *, #, A-D."""

    digit: str


@dataclass(frozen=True)
class PromptFinished:
    """The player finished (or was stopped on) the Play with this id."""

    play_id: int


@dataclass(frozen=True)
class TimerExpired:
    """The call's timer fired; harmless when early (the run checks `next_deadline()`)."""


@dataclass(frozen=True)
class IntentHeard:
    """Speech recognition understood the caller, e.g. intent "agent" for 转人工."""

    intent: str
    text: str = ""


@dataclass(frozen=True)
class ActionCompleted:
    """An action run for `RunAction(request_id, ...)` came back from the worker pool."""

    request_id: str
    outcome: str
    values: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TransferEnded:
    """The agent queue's verdict on a `Transfer`: "left" is the caller's own choice (`*` while
    waiting, or an agent's transfer back into the IVR): back to its menu with no apology."""

    outcome: Literal["answered", "no_answer", "closed", "left"]


Event = DigitPressed | PromptFinished | TimerExpired | IntentHeard | ActionCompleted | TransferEnded

# --- commands (to the call) -------------------------------------------------------------------


@dataclass(frozen=True)
class PromptRef:
    """One prompt of the catalog, with the variables its Jinja2 template may use."""

    prompt_id: str
    variables: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Play:
    """Play these prompts in order as one item; report `PromptFinished(play_id)` at its end.

    `barge_in`: a key press during it should stop it (the run sends `StopPlayback` itself when
    a digit arrives, so the call only has to pass digits on).
    """

    play_id: int
    prompts: tuple[PromptRef, ...]
    barge_in: bool = True


@dataclass(frozen=True)
class StopPlayback:
    play_id: int


@dataclass(frozen=True)
class RunAction:
    """Run the named action of `ivr/actions` off the reactor; answer with `ActionCompleted`."""

    request_id: str
    name: str
    params: Mapping[str, str]


@dataclass(frozen=True)
class Transfer:
    """Queue the call for a human agent; answer with `TransferEnded`.

    `context` is what the agent's screen shows: caller, menu version, the path taken, collected
    values (masked) and why the caller is being transferred.
    """

    queue: str
    context: Mapping[str, Any]


@dataclass(frozen=True)
class Hangup:
    reason: str


Command = Play | StopPlayback | RunAction | Transfer | Hangup
