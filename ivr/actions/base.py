"""The contract between the menu engine and the domain services.

The menu engine builds an `ActionRequest` from what the caller keyed, runs it through
`ActionRegistry.run` on a worker thread and branches on `ActionResult.outcome`; `values` feed the
prompt templates (Mandarin strings, `datetime.date` for dates, ints for counts).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ivr.store.commit_guard import CommitGuard

# Every action can answer this: storage was down, nothing was recorded, apologise.
UNAVAILABLE = "unavailable"

# Wall-clock time as an aware datetime; injected so tests control days and deadlines.
Clock = Callable[[], dt.datetime]


def system_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ActionRequest:
    name: str
    params: Mapping[str, str]
    caller: str
    call_ref: str
    channel: str = "ivr"
    # Withdrawn by the call when it stops waiting (action timeout, hang-up): nothing commits
    # after that. None: no deadline (counter operations, commands).
    guard: CommitGuard | None = field(default=None, compare=False)


@dataclass(frozen=True)
class ActionResult:
    outcome: str
    values: Mapping[str, Any] = field(default_factory=dict)
