"""Named checks a `collect` node applies to what the caller typed.

Each returns the value to keep (normalised, e.g. a keypad `*` read as `X`) and, when the input is
not acceptable, a problem name; the collect node maps problem names to spoken retry prompts
(`retry_prompts:`), so every kind of mistake gets its own explanation.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from ivr.id_number import IdProblem, check_id_number
from ivr.masking import mask_digits, mask_id_number, mask_pin

LENGTH = "length"  # fewer or more digits than the node allows (also: nothing typed)
CHARACTERS = "characters"  # a key that cannot be part of this kind of number


@dataclass(frozen=True)
class Checked:
    value: str
    problem: str | None

    @property
    def ok(self) -> bool:
        return self.problem is None


@dataclass(frozen=True)
class Validator:
    check: Callable[[str, dt.date], Checked]
    problems: frozenset[str]
    length: tuple[int, int] | None  # the only lengths it can accept, so validation can compare
    mask: Callable[[str], str]  # how the value appears on an agent's screen or in a log


def _id_number(raw: str, today: dt.date) -> Checked:
    result = check_id_number(raw, today)
    return Checked(result.number, result.problem.value if result.problem else None)


def _pin6(raw: str, today: dt.date) -> Checked:
    if not raw.isdigit():
        return Checked(raw, CHARACTERS)
    return Checked(raw, None if len(raw) == 6 else LENGTH)


def _digits(raw: str, today: dt.date) -> Checked:
    return Checked(raw, None if raw.isdigit() else CHARACTERS)


VALIDATORS: dict[str, Validator] = {
    "id_number": Validator(
        _id_number, frozenset(p.value for p in IdProblem), (18, 18), mask_id_number
    ),
    "pin6": Validator(_pin6, frozenset({LENGTH, CHARACTERS}), (6, 6), mask_pin),
    "digits": Validator(_digits, frozenset({LENGTH, CHARACTERS}), None, mask_digits),
}
