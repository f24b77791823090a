"""Natural Mandarin readout of digits, numbers, dates, times and money, as lists of clip ids.

Each clip id is the Mandarin word its recording says (`"幺"`, `"百"`, `"下午"`), so a readout is
readable in a test and its text is simply `"".join(clips)`. The prompt catalog maps every word to
one short recording; `vocabulary(style)` lists every word a readout can produce, so the build
records them all and playback never meets a missing clip.

These are pure functions: values in, words out. Rules, in the order they bite:

- Digit strings (phone numbers, ID numbers) are read digit by digit. Chinese service lines read
  1 as 幺 (yāo) there because 一 (yī) and 七 (qī) are easily confused on a phone line; 12333 itself
  is announced "幺二三三三". `ReadoutStyle.one_as_yao` turns that off.
- Whole numbers are read by four-digit sections (万, 亿) with one 零 per gap: 103 一百零三,
  10500 一万零五百, 100001000 一亿零一千. A leading 一十 drops its 一: 十五, 十万.
- 两 vs 二: counting amounts say 两 before 千 anywhere and before 百, 万, 亿 at the head of the
  number (两千, 一万两千, 两百, 两万) but 二 before 十 and as a units digit (二十二, 一千二百).
  A bare 2 is 二 as a number, 两 as a count of things or money (两次, 两元, 两点).
- Dates read the year digit by digit without 幺 (二零二六年), month and day as numbers.
- Times use the 12-hour clock with a period word: 下午三点二十分, 上午九点零五分, 中午十二点.
- Money: 元 角 分 with 零 for a missing 角: 十二元五角, 十二元零五分, 两元.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

DIGIT_WORDS = "零一二三四五六七八九"
SMALL_UNITS = ("", "十", "百", "千")
BIG_UNITS = ("", "万", "亿", "万亿")
PAUSE = "，"
"""A short silence between the groups of an ID number (region, birth date, sequence)."""

PERIODS = ((0, "凌晨"), (6, "上午"), (12, "中午"), (13, "下午"), (18, "晚上"))
"""Time-of-day words by the first hour they cover."""

MONEY_UNITS = ("元", "角", "分")
CALENDAR_WORDS = ("年", "月", "日", "点", "分")


class ReadoutError(ValueError):
    """A value cannot be read out as asked (wrong type, stray character, out of range)."""


@dataclass(frozen=True)
class ReadoutStyle:
    """How a service reads digit strings; from the `prompts.readout` config section.

    `x_word` is the word for the final X of an ID number (GB 11643 check character, Roman ten).
    The default is 叉 (chā): it is what callers and counter staff say for that X, it is one
    syllable like the digits around it, so the read-back keeps its rhythm, and an elderly caller
    does not need to know the English letter. Provinces whose line says 艾克斯 set that instead.
    """

    one_as_yao: bool = True
    x_word: str = "叉"


DEFAULT_STYLE = ReadoutStyle()


def vocabulary(style: ReadoutStyle = DEFAULT_STYLE) -> frozenset[str]:
    """Every clip id any readout below can return with this style."""
    words = {*DIGIT_WORDS, "幺", "两", "负", PAUSE, style.x_word}
    words.update(unit for unit in SMALL_UNITS + BIG_UNITS if unit)
    words.update(word for _, word in PERIODS)
    words.update(MONEY_UNITS + CALENDAR_WORDS)
    return frozenset(words)


def digits(value: str, style: ReadoutStyle = DEFAULT_STYLE) -> list[str]:
    """`"12333"` -> 幺 二 三 三 三; a final `X` (ID numbers) reads as `style.x_word`."""
    text = str(value)
    if not re.fullmatch(r"\d*[\dXx]", text):
        raise ReadoutError(f"digit string expected (0-9, final X), not {len(text)} characters")
    one = "幺" if style.one_as_yao else "一"
    return [
        style.x_word if char in "Xx" else one if char == "1" else DIGIT_WORDS[int(char)]
        for char in text
    ]


def id_number(value: str, style: ReadoutStyle = DEFAULT_STYLE) -> list[str]:
    """An ID number digit by digit, with a pause after the region and the birth date groups.

    18 characters group 6-8-4 (region, YYYYMMDD, sequence + check); old 15-digit numbers 6-6-3.
    """
    text = str(value)
    groups = {18: (6, 14), 15: (6, 12)}.get(len(text))
    if groups is None:
        raise ReadoutError(f"an ID number has 15 or 18 characters, not {len(text)}")
    first, second = groups
    return [
        *digits(text[:first], style),
        PAUSE,
        *digits(text[first:second], style),
        PAUSE,
        *digits(text[second:], style),
    ]


def number(value: int | str) -> list[str]:
    """A whole number as a numeral: 103 -> 一百零三, 2000 -> 两千, 2 -> 二."""
    n = _whole(value)
    if n < 0:
        return ["负", *number(-n)]
    if n == 0:
        return ["零"]
    if n >= 10**16:
        raise ReadoutError("numbers of 10^16 and above are not read out")
    words: list[str] = []
    gap = False  # a zero section or leading zeros since the last word
    for index in range(len(BIG_UNITS) - 1, -1, -1):
        section = n // 10_000**index % 10_000
        if section == 0:
            gap = gap or bool(words)
            continue
        if words and (gap or section < 1000):
            words.append("零")
        words.extend(_section(section))
        if BIG_UNITS[index]:
            words.append(BIG_UNITS[index])
        gap = False
    if words[:2] == ["一", "十"]:
        words.pop(0)
    return _say_two_as_liang(words)


def count(value: int | str) -> list[str]:
    """A number of things, before a measure word: 2 -> 两 (两次), 12 -> 十二 (十二次)."""
    return ["两"] if _whole(value) == 2 else number(value)


def date(value: dt.date | str) -> list[str]:
    """`2026-11-23` -> 二零二六年 十一月 二十三日."""
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise ReadoutError(f"date expected as YYYY-MM-DD, not {value!r}") from None
    if not isinstance(value, dt.date):
        raise ReadoutError(f"date expected, not {type(value).__name__}")
    year = digits(f"{value.year:04d}", ReadoutStyle(one_as_yao=False))
    return [*year, "年", *number(value.month), "月", *number(value.day), "日"]


def time(value: dt.time | str, with_period: bool = True) -> list[str]:
    """`15:20` -> 下午 三点 二十分; `14:00` -> 下午 两点; `09:05` -> 上午 九点 零五分."""
    if isinstance(value, str):
        try:
            value = dt.time.fromisoformat(value if len(value) > 4 else value.zfill(5))
        except ValueError:
            raise ReadoutError(f"time expected as HH:MM, not {value!r}") from None
    if not isinstance(value, dt.time):
        raise ReadoutError(f"time expected, not {type(value).__name__}")
    hour, minute = value.hour, value.minute
    words = (
        [next(word for start, word in reversed(PERIODS) if hour >= start)] if with_period else []
    )
    twelve_hour = hour - 12 if with_period and hour > 12 else hour
    words += [*count(twelve_hour), "点"]
    if minute:
        words += (["零", DIGIT_WORDS[minute]] if minute < 10 else number(minute)) + ["分"]
    return words


def money(value: Decimal | int | str | float) -> list[str]:
    """An amount in yuan: 12.50 -> 十二元五角, 12.05 -> 十二元零五分, 2 -> 两元, 0 -> 零元."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ReadoutError(f"amount expected, not {value!r}") from None
    if not amount.is_finite() or amount != amount.quantize(Decimal("0.01")):
        raise ReadoutError(f"amount {value!r} is not a whole number of 分")
    if amount < 0:
        return ["负", *money(-amount)]
    fen_total = int(amount * 100)
    yuan, jiao, fen = fen_total // 100, fen_total // 10 % 10, fen_total % 10
    words = [*count(yuan), "元"] if yuan or not fen_total else []
    if jiao:
        words += [*count(jiao), "角"]
    elif yuan and fen:
        words.append("零")
    if fen:
        words += [*count(fen), "分"]
    return words


def _whole(value: int | str) -> int:
    if isinstance(value, bool):
        raise ReadoutError("a whole number expected, not a truth value")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ReadoutError(f"a whole number expected, not {value!r}") from None


def _section(section: int) -> list[str]:
    """1..9999 with 零 for inner zeros only: 1003 -> 一千零三, 1030 -> 一千零三十, 10 -> 一十."""
    words: list[str] = []
    zero = False
    for position in (3, 2, 1, 0):
        digit = section // 10**position % 10
        if digit == 0:
            zero = zero or bool(words)
            continue
        if zero:
            words.append("零")
            zero = False
        words.append(DIGIT_WORDS[digit])
        if position:
            words.append(SMALL_UNITS[position])
    return words


def _say_two_as_liang(words: list[str]) -> list[str]:
    """二 -> 两 before 千 anywhere, and before 百/万/亿 when it leads the number."""
    return [
        "两"
        if word == "二"
        and index + 1 < len(words)
        and (words[index + 1] == "千" or (index == 0 and words[1] in ("百", "万", "亿")))
        else word
        for index, word in enumerate(words)
    ]
