"""Resident identity card numbers (居民身份证号码) per GB 11643-1999.

An 18-character number: 6-digit administrative region, 8-digit birth date (YYYYMMDD),
3-digit sequence (odd for men, even for women) and a check character computed with the
ISO 7064 MOD 11-2 weights; a check value of 10 is written `X` (callers key it as `*`).

One check for the whole process: the menu's `id_number` validator (what the caller is asked to
re-key) and the actions (what they accept) both use it, and it imports nothing of either.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARS = "10X98765432"

# First two digits of a region code: the provincial-level divisions of GB/T 2260.
PROVINCE_CODES = frozenset(
    {
        "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36",
        "37", "41", "42", "43", "44", "45", "46", "50", "51", "52", "53", "54", "61", "62",
        "63", "64", "65", "71", "81", "82", "83",
    }
)  # fmt: skip


class IdProblem(Enum):
    """Why a number is not a valid ID; the menu turns each into a spoken retry."""

    LENGTH = "length"
    CHARACTERS = "characters"
    REGION = "region"
    BIRTH_DATE = "birth_date"
    CHECKSUM = "checksum"


@dataclass(frozen=True)
class IdCheck:
    number: str
    problem: IdProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def check_character(first17: str) -> str:
    total = sum(int(c) * w for c, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def normalize_id_number(raw: str) -> str:
    """Upper-case, strip spaces, and read a final keypad `*` as `X`."""
    text = raw.strip().replace(" ", "").upper()
    if text.endswith("*"):
        text = text[:-1] + "X"
    return text


def check_id_number(raw: str, today: dt.date | None = None) -> IdCheck:
    number = normalize_id_number(raw)
    if len(number) != 18:
        return IdCheck(number, IdProblem.LENGTH)
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return IdCheck(number, IdProblem.CHARACTERS)
    if number[:2] not in PROVINCE_CODES:
        return IdCheck(number, IdProblem.REGION)
    try:
        born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return IdCheck(number, IdProblem.BIRTH_DATE)
    if born.year < 1900 or born > (today or dt.date.today()):
        return IdCheck(number, IdProblem.BIRTH_DATE)
    if check_character(number[:17]) != number[17]:
        return IdCheck(number, IdProblem.CHECKSUM)
    return IdCheck(number, None)
