"""Which new PINs are refused as too easy to guess, and why (the reason is spoken to the caller).

Refused: not six digits; one digit repeated (111111); a run up or down, wrapping past 9
(234567, 987654, 890123, and 123456, the initial PIN); the holder's birth date from the ID number
as YYMMDD or MMDDYY; the last six characters of the ID number; the current PIN.
"""

from __future__ import annotations

import itertools
from enum import Enum

PIN_LENGTH = 6


class WeakPin(Enum):
    FORMAT = "format"
    REPEATED = "repeated"
    SEQUENCE = "sequence"
    BIRTH_DATE = "birth_date"
    ID_TAIL = "id_tail"
    SAME_AS_OLD = "same_as_old"


REASON_TEXT = {
    WeakPin.FORMAT: "新密码必须是6位数字",
    WeakPin.REPEATED: "新密码不能是同一个数字重复",
    WeakPin.SEQUENCE: "新密码不能是连续递增或递减的数字",
    WeakPin.BIRTH_DATE: "新密码不能是您的出生日期",
    WeakPin.ID_TAIL: "新密码不能是身份证号码的后六位",
    WeakPin.SAME_AS_OLD: "新密码不能与原密码相同",
}


def _is_run(pin: str) -> bool:
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(pin)}
    return steps in ({1}, {9})


def weak_pin_reason(new_pin: str, old_pin: str, id_number: str) -> WeakPin | None:
    """Why `new_pin` is refused, or None if it is acceptable (`id_number` is 18 characters)."""
    if len(new_pin) != PIN_LENGTH or not new_pin.isdigit():
        return WeakPin.FORMAT
    if len(set(new_pin)) == 1:
        return WeakPin.REPEATED
    if _is_run(new_pin):
        return WeakPin.SEQUENCE
    birth = id_number[6:14]  # YYYYMMDD
    if new_pin in (birth[2:], birth[4:] + birth[2:4]):
        return WeakPin.BIRTH_DATE
    if new_pin == id_number[-6:]:
        return WeakPin.ID_TAIL
    if new_pin == old_pin:
        return WeakPin.SAME_AS_OLD
    return None
