"""Mandarin readout: the numbers, dates and ID endings that trip naive converters."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ivr.media import readout
from ivr.media.readout import PAUSE, ReadoutError, ReadoutStyle


def said(words: list[str]) -> str:
    return "".join(words)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0, "零"),
        (2, "二"),
        (10, "十"),
        (15, "十五"),
        (20, "二十"),
        (22, "二十二"),
        (103, "一百零三"),
        (110, "一百一十"),
        (200, "两百"),
        (1003, "一千零三"),
        (1030, "一千零三十"),
        (1200, "一千二百"),
        (2000, "两千"),
        (2200, "两千二百"),
        (10500, "一万零五百"),
        (12000, "一万两千"),
        (20000, "两万"),
        (100000, "十万"),
        (100010, "十万零一十"),
        (110000, "十一万"),
        (1000001, "一百万零一"),
        (20000000, "两千万"),
        (100001000, "一亿零一千"),
        (100000001, "一亿零一"),
        (200000000, "两亿"),
        (-35, "负三十五"),
        ("365", "三百六十五"),
    ],
)
def test_whole_numbers_read_naturally(value: int | str, expected: str) -> None:
    assert said(readout.number(value)) == expected


def test_a_count_of_two_things_is_liang_but_twelve_is_not() -> None:
    assert said(readout.count(2)) == "两"
    assert said(readout.count(12)) == "十二"
    assert said(readout.count(6)) == "六"


def test_digit_strings_read_one_as_yao_by_default_and_can_say_yi() -> None:
    assert readout.digits("12333") == ["幺", "二", "三", "三", "三"]
    assert said(readout.digits("0101", ReadoutStyle(one_as_yao=False))) == "零一零一"


def test_final_x_of_an_id_number_uses_the_configured_word() -> None:
    assert readout.digits("002X")[-1] == "叉"
    assert readout.digits("002x", ReadoutStyle(x_word="艾克斯"))[-1] == "艾克斯"


def test_id_number_is_grouped_region_birth_date_sequence() -> None:
    words = readout.id_number("11010519491231002X")
    assert said(words) == f"幺幺零幺零五{PAUSE}幺九四九幺二三幺{PAUSE}零零二叉"
    old = readout.id_number("110105491231002")
    assert old.count(PAUSE) == 2 and said(old).endswith(f"{PAUSE}零零二")


@pytest.mark.parametrize("bad", ["", "12a3", "X123", "12 33", "1-2"])
def test_digit_strings_with_stray_characters_are_refused(bad: str) -> None:
    with pytest.raises(ReadoutError):
        readout.digits(bad)


def test_id_number_of_wrong_length_is_refused() -> None:
    with pytest.raises(ReadoutError, match="15 or 18"):
        readout.id_number("1101051949")


def test_dates_read_the_year_digit_by_digit_without_yao() -> None:
    assert said(readout.date("2026-11-23")) == "二零二六年十一月二十三日"
    assert said(readout.date(dt.date(2011, 2, 10))) == "二零一一年二月十日"
    with pytest.raises(ReadoutError):
        readout.date("23/11/2026")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("15:20", "下午三点二十分"),
        ("14:00", "下午两点"),
        ("9:05", "上午九点零五分"),
        ("08:30", "上午八点三十分"),
        ("12:00", "中午十二点"),
        ("00:10", "凌晨零点十分"),
        ("19:45", "晚上七点四十五分"),
        (dt.time(2, 2), "凌晨两点零二分"),
    ],
)
def test_times_use_the_twelve_hour_clock_with_a_period(value: str | dt.time, expected: str) -> None:
    assert said(readout.time(value)) == expected


def test_time_without_period_keeps_the_hour() -> None:
    assert said(readout.time("13:30", with_period=False)) == "十三点三十分"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12.50", "十二元五角"),
        ("12.05", "十二元零五分"),
        (Decimal("12.55"), "十二元五角五分"),
        (2, "两元"),
        ("0.20", "两角"),
        ("0.05", "五分"),
        (0, "零元"),
        (32, "三十二元"),
        (10500, "一万零五百元"),
        (12.5, "十二元五角"),
    ],
)
def test_money_reads_yuan_jiao_fen(value: Decimal | int | str | float, expected: str) -> None:
    assert said(readout.money(value)) == expected


def test_money_finer_than_a_fen_is_refused() -> None:
    with pytest.raises(ReadoutError, match="分"):
        readout.money("1.005")


def test_every_readout_stays_inside_the_recorded_vocabulary() -> None:
    style = ReadoutStyle(x_word="艾克斯")
    produced = [
        *readout.id_number("11010519491231002X", style),
        *readout.number(1234567890123),
        *readout.count(2),
        *readout.date("2026-11-23"),
        *readout.time("00:00"),
        *readout.time("12:07"),
        *readout.time("23:59"),
        *readout.money("-2.02"),
    ]
    assert set(produced) <= readout.vocabulary(style)
