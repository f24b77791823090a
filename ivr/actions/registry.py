"""The phone actions by name, with the outcomes each can answer, behind one blocking `run`.

The menu engine calls `run` on a bounded worker pool (`ivr.workers.BlockingPool`) and branches
on the outcome; `action_outcomes()` lets menu validation check that every branch names a real
outcome. Each action module's docstring says what its outcomes and values mean.

Any storage failure (database or Redis down, a commit that fails) becomes the outcome
`unavailable`: the transaction was rolled back, so nothing the caller was not told is recorded.
So does a job whose `CommitGuard` was withdrawn (the caller stopped waiting): it rolls back
instead of committing, and nobody hears its answer.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from ivr.actions import card_query, pin_change, temporary_loss
from ivr.actions.base import UNAVAILABLE, ActionRequest, ActionResult
from ivr.actions.service import ActionContext
from ivr.store.commit_guard import CommitWithdrawn

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ActionSpec:
    run: Callable[[ActionContext, ActionRequest], ActionResult]
    outcomes: frozenset[str]


PHONE_ACTIONS = {
    card_query.NAME: ActionSpec(card_query.card_query, card_query.OUTCOMES),
    temporary_loss.NAME: ActionSpec(temporary_loss.temporary_loss, temporary_loss.OUTCOMES),
    pin_change.NAME: ActionSpec(pin_change.pin_change, pin_change.OUTCOMES),
}


def action_outcomes() -> dict[str, set[str]]:
    """Each phone action's outcomes, by name: what menu validation checks branches against."""
    return {name: set(spec.outcomes) for name, spec in PHONE_ACTIONS.items()}


class UnknownAction(KeyError):
    """A menu named an action that does not exist (menu validation should have caught it)."""


class ActionRegistry:
    def __init__(self, context: ActionContext) -> None:
        self._context = context

    def run(self, request: ActionRequest) -> ActionResult:
        """Run one action to its committed end. BLOCKING: call it from a worker thread."""
        spec = self._spec(request.name)
        try:
            result = spec.run(self._context, request)
        except (SQLAlchemyError, RedisError) as exc:
            # The class name only: driver messages can quote SQL parameters (ID numbers).
            log.warning(
                "call %s: action %s unavailable: %s",
                request.call_ref,
                request.name,
                type(exc).__name__,
            )
            return ActionResult(UNAVAILABLE)
        except CommitWithdrawn:
            log.warning(
                "call %s: action %s rolled back: the caller stopped waiting",
                request.call_ref,
                request.name,
            )
            return ActionResult(UNAVAILABLE)
        log.info("call %s: action %s -> %s", request.call_ref, request.name, result.outcome)
        return result

    @staticmethod
    def _spec(name: str) -> ActionSpec:
        try:
            return PHONE_ACTIONS[name]
        except KeyError:
            raise UnknownAction(name) from None
