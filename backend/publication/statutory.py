"""The statutory public holidays of a year, from 《全国年节及纪念日放假办法》, years before its notice is out.

The law fixes the holidays themselves (元旦, 春节, 清明节, 劳动节, 端午节, 中秋节, 国庆节) years ahead; the State
Council's notice for the year adds only the arrangement around them (调休: the weekdays joined to a holiday, the
weekend days worked in exchange, and the weekday given when a holiday falls on a weekend). So before the notice a
statutory holiday is a known rest day, and the days around it wait for the notice (docs/deadlines.md).

Pure: no database, no Flask. The lunar dates (除夕, 正月初一, 五月初五, 八月十五) come from the Chinese lunisolar
calendar and 清明 from the sun (its apparent longitude at 15°), both read from ``data/lunisolar.csv``
(1900–2100), which ``data/make_lunisolar.py`` computed from the sun and the moon by the rules of GB/T 33661-2017;
``tests/unit/test_lunisolar.py`` holds the table to chinesecalendar year by year.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from functools import lru_cache
from pathlib import Path
from typing import Callable

DATA = Path(__file__).resolve().parent / "data" / "lunisolar.csv"
FIRST_YEAR, LAST_YEAR = 2000, 2100     # the years this layer answers for (the law of 1999 on)
# How far from a holiday's statutory days its notice has moved a day (a make-up Saturday or Sunday, a weekday
# joined to the holiday, a weekday given for a holiday on a weekend): in 2004–2026 at most 10 days (the make-up
# Saturday 11 May 2024, ten days after 劳动节), and 元旦 reached back into December (Sat 31 Dec 2011 worked for
# the 2012 notice). The days this close to a statutory day wait for the notice; tests/unit/test_lunisolar.py
# checks that every day chinesecalendar's notices moved lies within this reach of its holiday.
REACH_DAYS = 10


# --- the lunisolar calendar -----------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LunarYear:
    year: int
    new_year: dt.date               # 正月初一
    leap_month: int                 # 0: none; 4: a 闰四月 follows the fourth month
    lengths: tuple[int, ...]        # days of each month in order, the leap month right after its month
    qingming: dt.date               # 清明 of the Gregorian year ``year``


@lru_cache(maxsize=1)
def _table() -> dict[int, LunarYear]:
    years = {}
    with DATA.open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            year = int(row["year"])
            years[year] = LunarYear(
                year, dt.date.fromisoformat(f"{year}-{row['new_year']}"), int(row["leap_month"]),
                tuple(30 if bit == "1" else 29 for bit in row["month_lengths"]),
                dt.date.fromisoformat(f"{year}-{row['qingming']}"))
    return years


def lunar_years() -> range:
    years = _table()
    return range(min(years), max(years) + 1)


def lunar_year(year: int) -> LunarYear:
    found = _table().get(year)
    if found is None:
        raise ValueError(f"the lunar table covers {lunar_years().start}–{lunar_years().stop - 1}, not {year}")
    return found


def lunar_to_solar(year: int, month: int, day: int, leap: bool = False) -> dt.date:
    """The Gregorian date of a day of the Chinese calendar: lunar ``year`` (the one whose 正月初一 falls in the
    Gregorian year of that number), ``month`` 1–12 (``leap``: the leap month that follows it), ``day`` 1–30."""
    info = lunar_year(year)
    if not 1 <= month <= 12 or (leap and info.leap_month != month):
        raise ValueError(f"lunar {year} has no {'leap ' if leap else ''}month {month}")
    index = month - 1 + (1 if info.leap_month and (month > info.leap_month or leap) else 0)
    if not 1 <= day <= info.lengths[index]:
        raise ValueError(f"lunar {year} month {month} has {info.lengths[index]} days, not {day}")
    return info.new_year + dt.timedelta(days=sum(info.lengths[:index]) + day - 1)


def chuxi(year: int) -> dt.date:
    """除夕: the last day of the lunar year before the one that starts in Gregorian ``year`` (always in ``year``)."""
    return lunar_year(year).new_year - dt.timedelta(days=1)


def qingming(year: int) -> dt.date:
    return lunar_year(year).qingming


# --- the law -------------------------------------------------------------------------------------------

Rule = Callable[[int], list[dt.date]]


def _solar(month: int, first: int, count: int) -> Rule:
    return lambda year: [dt.date(year, month, first + i) for i in range(count)]


def _spring(from_chuxi: bool, count: int) -> Rule:
    def days(year: int) -> list[dt.date]:
        first = chuxi(year) if from_chuxi else lunar_year(year).new_year
        return [first + dt.timedelta(days=i) for i in range(count)]
    return days


@dataclasses.dataclass(frozen=True)
class Holiday:
    name: str               # as the notices name it
    rule: str               # what the law says, in its words
    days: Rule


@dataclasses.dataclass(frozen=True)
class Law:
    title: str
    in_force: dt.date
    holidays: tuple[Holiday, ...]


_NEW_YEAR = Holiday("元旦", "放假 1 天（1 月 1 日）", _solar(1, 1, 1))
_QINGMING = Holiday("清明节", "放假 1 天（农历清明当日）", lambda y: [qingming(y)])
_DUANWU = Holiday("端午节", "放假 1 天（农历端午当日）", lambda y: [lunar_to_solar(y, 5, 5)])
_ZHONGQIU = Holiday("中秋节", "放假 1 天（农历中秋当日）", lambda y: [lunar_to_solar(y, 8, 15)])
_NATIONAL = Holiday("国庆节", "放假 3 天（10 月 1 日、2 日、3 日）", _solar(10, 1, 3))

# Each version of the law, oldest first; a year follows the version in force on its 1 January.
LAWS = (
    Law("《全国年节及纪念日放假办法》（1999 年修订，国务院令第 270 号）", dt.date(1999, 9, 18), (
        _NEW_YEAR,
        Holiday("春节", "放假 3 天（农历正月初一、初二、初三）", _spring(False, 3)),
        Holiday("劳动节", "放假 3 天（5 月 1 日、2 日、3 日）", _solar(5, 1, 3)),
        _NATIONAL)),
    Law("《全国年节及纪念日放假办法》（2007 年修订，国务院令第 513 号）", dt.date(2008, 1, 1), (
        _NEW_YEAR,
        Holiday("春节", "放假 3 天（农历除夕、正月初一、初二）", _spring(True, 3)),
        _QINGMING,
        Holiday("劳动节", "放假 1 天（5 月 1 日）", _solar(5, 1, 1)),
        _DUANWU, _ZHONGQIU, _NATIONAL)),
    Law("《全国年节及纪念日放假办法》（2013 年修订，国务院令第 644 号）", dt.date(2014, 1, 1), (
        _NEW_YEAR,
        Holiday("春节", "放假 3 天（农历正月初一、初二、初三）", _spring(False, 3)),
        _QINGMING,
        Holiday("劳动节", "放假 1 天（5 月 1 日）", _solar(5, 1, 1)),
        _DUANWU, _ZHONGQIU, _NATIONAL)),
    Law("《全国年节及纪念日放假办法》（2024 年修订，国务院令第 795 号）", dt.date(2025, 1, 1), (
        _NEW_YEAR,
        Holiday("春节", "放假 4 天（农历除夕、正月初一至初三）", _spring(True, 4)),
        _QINGMING,
        Holiday("劳动节", "放假 2 天（5 月 1 日、2 日）", _solar(5, 1, 2)),
        _DUANWU, _ZHONGQIU, _NATIONAL)),
)


def law_for(year: int) -> Law:
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValueError(f"the statutory holidays are computed for {FIRST_YEAR}–{LAST_YEAR}, not {year}")
    return [law for law in LAWS if law.in_force <= dt.date(year, 1, 1)][-1]


@dataclasses.dataclass(frozen=True)
class HolidayDays:
    name: str
    days: tuple[dt.date, ...]       # the statutory rest days, in order
    pending: tuple[dt.date, ...]    # the other days within REACH_DAYS of them, in the year: they wait for the notice


@lru_cache(maxsize=256)
def holidays(year: int) -> tuple[HolidayDays, ...]:
    """The statutory holidays of ``year`` in date order, each with its days and the days around it that wait for
    the notice (another holiday's statutory days excepted; two holidays may share a day, as 中秋节 and 国庆节
    did on 1 October 2020, and share days that wait)."""
    law = law_for(year)
    found = [(h.name, tuple(sorted(h.days(year)))) for h in law.holidays]
    statutory = {d for _, days in found for d in days}
    out = []
    for name, days in sorted(found, key=lambda item: item[1][0]):
        near = []
        day = days[0] - dt.timedelta(days=REACH_DAYS)
        while day <= days[-1] + dt.timedelta(days=REACH_DAYS):
            if day.year == year and day not in statutory:
                near.append(day)
            day += dt.timedelta(days=1)
        out.append(HolidayDays(name, days, tuple(near)))
    return tuple(out)


@lru_cache(maxsize=256)
def year_days(year: int) -> dict[dt.date, tuple[str, bool]]:
    """{day: (holiday name, statutory)} for every day of ``year`` that is a statutory holiday (True) or waits
    for the year's notice (False); names joined with 、 where two holidays meet (中秋节、国庆节)."""
    out: dict[dt.date, tuple[str, bool]] = {}
    for holiday in holidays(year):
        for day, statutory in [(d, True) for d in holiday.days] + [(d, False) for d in holiday.pending]:
            name = out[day][0] if day in out else None
            out[day] = (holiday.name if name is None else f"{name}、{holiday.name}", statutory)
    return out


def awaits_next_new_year(day: dt.date) -> bool:
    """A day of late December that the next year's notice may still arrange around its 元旦 (as the 2012 notice
    made Sat 31 Dec 2011 a working day)."""
    return (day.month == 12 and FIRST_YEAR <= day.year + 1 <= LAST_YEAR
            and (dt.date(day.year + 1, 1, 1) - day).days <= REACH_DAYS)
