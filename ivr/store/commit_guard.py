"""A job's permission to commit, which the call may withdraw until the commit starts.

The rule (README, "Security and failure"): a caller is told an outcome only after its commit
returned, and nothing commits once the caller was told it failed or hung up. The call gives each
action a `CommitGuard` with a deadline; when the menu's action timeout fires or the caller hangs
up, the call withdraws it. The worker claims it inside the transaction right before COMMIT:

- withdrawn (or past its deadline) first: the claim raises `CommitWithdrawn`, the transaction
  rolls back and the job's result is dropped;
- claimed first: `withdraw()` answers False, and the call waits for the result instead of
  saying "unavailable" (the commit is the last step, bounded by the storage timeouts).

The two sides run on different threads (reactor and worker); one lock orders them, so exactly
one of "told it failed" and "committed" can happen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import Enum


class CommitWithdrawn(Exception):
    """The job's caller was told it failed, hung up, or its deadline passed: do not commit."""


class _State(Enum):
    OPEN = "open"
    WITHDRAWN = "withdrawn"
    CLAIMED = "claimed"


class CommitGuard:
    def __init__(
        self, deadline: float | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        """`deadline`: a `clock()` reading after which the job may no longer commit."""
        self.deadline = deadline
        self._clock = clock
        self._lock = threading.Lock()
        self._state = _State.OPEN

    @classmethod
    def within(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> CommitGuard:
        return cls(clock() + seconds, clock)

    def withdraw(self) -> bool:
        """Forbid the commit. True: it will not happen; False: it was already claimed."""
        with self._lock:
            if self._state is _State.CLAIMED:
                return False
            self._state = _State.WITHDRAWN
            return True

    @property
    def withdrawn(self) -> bool:
        with self._lock:
            if self._state is _State.OPEN and self._expired():
                self._state = _State.WITHDRAWN
            return self._state is _State.WITHDRAWN

    def check(self) -> None:
        """Raise `CommitWithdrawn` if the job is no longer wanted (cheap; before slow work)."""
        if self.withdrawn:
            raise CommitWithdrawn()

    def claim(self) -> None:
        """Take the right to commit, right before COMMIT; raises `CommitWithdrawn` if gone."""
        with self._lock:
            if self._state is _State.OPEN and self._expired():
                self._state = _State.WITHDRAWN
            if self._state is _State.WITHDRAWN:
                raise CommitWithdrawn()
            self._state = _State.CLAIMED

    def _expired(self) -> bool:
        return self.deadline is not None and self._clock() >= self.deadline
