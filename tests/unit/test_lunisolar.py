"""The statutory holidays computed from the law (backend/publication/statutory.py), and the lunisolar table they
rest on (backend/publication/data/lunisolar.csv), held to chinesecalendar year by year and to known dates."""
from __future__ import annotations

import datetime as dt
from collections import defaultdict

import chinese_calendar
import pytest

from backend.publication import statutory
from backend.publication.statutory import (REACH_DAYS, chuxi, holidays, law_for, lunar_to_solar, lunar_year, lunar_years,
                                           qingming)

D = dt.date
LIBRARY_YEARS = range(2004, 2027)
# chinesecalendar's English names → the notices' names
NAMES = {"New Year's Day": "元旦", "Spring Festival": "春节", "Tomb-sweeping Day": "清明节", "Labour Day": "劳动节",
         "Dragon Boat Festival": "端午节", "Mid-autumn Festival": "中秋节", "National Day": "国庆节"}
ONE_OFF = "Anti-Fascist 70th Day"   # 3–5 September 2015, by a notice of its own: no law foresees it


def library_blocks(year: int) -> dict[str, list[dt.date]]:
    """chinesecalendar's rest days of ``year`` by holiday."""
    blocks = defaultdict(list)
    for day, name in chinese_calendar.holidays.items():
        if day.year == year and name in NAMES:
            blocks[NAMES[name]].append(day)
    return blocks


# --- the table ------------------------------------------------------------------------------------------

def test_the_table_covers_1900_to_2100_and_is_consistent():
    assert lunar_years() == range(1900, 2101)
    for year in lunar_years():
        info = lunar_year(year)
        assert D(year, 1, 21) <= info.new_year <= D(year, 2, 20), year
        assert all(n in (29, 30) for n in info.lengths), year
        assert len(info.lengths) == (13 if info.leap_month else 12), year
        assert sum(info.lengths) in ((383, 384, 385) if info.leap_month else (353, 354, 355)), year
        if year < 2100:
            assert info.new_year + dt.timedelta(days=sum(info.lengths)) == lunar_year(year + 1).new_year, year
        assert D(year, 4, 4) <= info.qingming <= D(year, 4, 6), year
    with pytest.raises(ValueError):
        lunar_year(2101)


# 正月初一, as printed in every Chinese calendar
SPRING_FESTIVALS = ["2000-02-05", "2001-01-24", "2002-02-12", "2003-02-01", "2004-01-22", "2005-02-09", "2006-01-29",
                    "2007-02-18", "2008-02-07", "2009-01-26", "2010-02-14", "2011-02-03", "2012-01-23", "2013-02-10",
                    "2014-01-31", "2015-02-19", "2016-02-08", "2017-01-28", "2018-02-16", "2019-02-05", "2020-01-25",
                    "2021-02-12", "2022-02-01", "2023-01-22", "2024-02-10", "2025-01-29", "2026-02-17", "2027-02-06",
                    "2028-01-26", "2029-02-13", "2030-02-03"]


def test_known_dates():
    for text in SPRING_FESTIVALS:
        day = D.fromisoformat(text)
        assert lunar_to_solar(day.year, 1, 1) == day
    assert chuxi(2025) == D(2025, 1, 28)      # the twelfth month of 2024 had 29 days: 除夕 was 腊月廿九
    assert chuxi(2026) == D(2026, 2, 16) and chuxi(2027) == D(2027, 2, 5)
    assert lunar_to_solar(2027, 5, 5) == D(2027, 6, 9) and lunar_to_solar(2027, 8, 15) == D(2027, 9, 15)
    assert lunar_to_solar(2028, 5, 5) == D(2028, 5, 28) and lunar_to_solar(2028, 8, 15) == D(2028, 10, 3)
    assert lunar_to_solar(2020, 8, 15) == D(2020, 10, 1)       # 中秋 on National Day
    assert lunar_to_solar(2023, 2, 1, leap=True) == D(2023, 3, 22)     # 闰二月
    assert lunar_to_solar(2025, 6, 1, leap=True) == D(2025, 7, 25)     # 闰六月
    assert lunar_year(2033).leap_month == 11     # 闰十一月 (GB/T 33661-2017), not the 闰七月 of old tables
    assert qingming(2027) == D(2027, 4, 5) and qingming(2028) == D(2028, 4, 4)


def test_bad_lunar_dates_are_refused():
    for args in [(2027, 13, 1), (2027, 0, 1), (2027, 5, 1, True), (2027, 1, 31), (2027, 1, 0)]:
        with pytest.raises(ValueError):
            lunar_to_solar(*args)
    short = next(i for i, n in enumerate(lunar_year(2027).lengths) if n == 29) + 1
    with pytest.raises(ValueError):
        lunar_to_solar(2027, short, 30)


def test_qingming_agrees_with_chinesecalendars_solar_terms_from_1900_to_2099():
    """chinesecalendar computes the solar terms by another method (a formula with corrections); ours come from the
    sun's longitude. They agree on every year but 2100, which their 21st-century formula does not fit: the sun
    reaches 15° at 00:43 on 5 April 2100, Beijing time (2100 is no leap year; 2099's was at 18:51 on 4 April)."""
    for year in lunar_years():
        theirs = [d for d, name in chinese_calendar.get_solar_terms(D(year, 4, 1), D(year, 4, 30)) if name == "清明"]
        if year == 2100:
            assert theirs == [D(2100, 4, 4)] and qingming(2100) == D(2100, 4, 5)
        else:
            assert theirs == [qingming(year)], year


# --- the law, held to chinesecalendar ---------------------------------------------------------------------

def test_the_law_in_force_each_year():
    assert "第 270 号" in law_for(2000).title and "第 270 号" in law_for(2007).title
    assert "第 513 号" in law_for(2008).title and "第 513 号" in law_for(2013).title
    assert "第 644 号" in law_for(2014).title and "第 644 号" in law_for(2024).title
    assert "第 795 号" in law_for(2025).title and "第 795 号" in law_for(2100).title
    for year in (1999, 2101):
        with pytest.raises(ValueError):
            law_for(year)


def test_the_current_law():
    days = {h.name: h.days for h in holidays(2027)}
    assert days == {"元旦": (D(2027, 1, 1),),
                    "春节": (D(2027, 2, 5), D(2027, 2, 6), D(2027, 2, 7), D(2027, 2, 8)),   # 除夕, 初一 to 初三
                    "清明节": (D(2027, 4, 5),), "劳动节": (D(2027, 5, 1), D(2027, 5, 2)), "端午节": (D(2027, 6, 9),),
                    "中秋节": (D(2027, 9, 15),), "国庆节": (D(2027, 10, 1), D(2027, 10, 2), D(2027, 10, 3))}
    assert sum(len(h.days) for h in holidays(2027)) == 13


@pytest.mark.parametrize("year", list(LIBRARY_YEARS))
def test_every_statutory_day_rests_in_chinesecalendar_under_its_name(year):
    """Year by year, the lunar dates (除夕/正月初一, 端午, 中秋) and 清明 fall on the holiday chinesecalendar has
    for them, under the law in force that year."""
    blocks = library_blocks(year)
    for holiday in holidays(year):
        for day in holiday.days:
            assert not chinese_calendar.is_workday(day), (year, holiday.name, day)
            named = chinese_calendar.holidays.get(day)
            # 2012-06-23 (a Saturday inside 端午) is missing from chinesecalendar; 中秋 fell inside 国庆 in 2020 and 2025
            together = {"中秋节", "国庆节"} if holiday.name in ("中秋节", "国庆节") else {holiday.name}
            assert named is None or NAMES[named] in together, (year, holiday.name, day, named)
            block = sorted(d for name in together for d in blocks[name])
            assert block[0] <= day <= block[-1], (year, holiday.name, day)


def test_2025_and_2026_agree_with_chinesecalendar_day_for_day_on_the_statutory_days():
    for year in (2025, 2026):
        for holiday in holidays(year):
            for day in holiday.days:
                assert NAMES[chinese_calendar.holidays[day]] in (holiday.name, "国庆节", "中秋节")
    assert [h.days for h in holidays(2025) if h.name == "春节"] == [tuple(D(2025, 1, 28) + dt.timedelta(i)
                                                                         for i in range(4))]
    assert [h.days for h in holidays(2026) if h.name == "春节"] == [tuple(D(2026, 2, 16) + dt.timedelta(i)
                                                                         for i in range(4))]


@pytest.mark.parametrize("year", list(LIBRARY_YEARS))
def test_every_day_a_notice_arranged_lies_within_reach_of_its_holiday(year):
    """The days that wait for a notice (within REACH_DAYS of a statutory day, or late December before the next
    元旦) hold every day that chinesecalendar's notices made rest or work other than the law's own days: so a
    day outside them has never been moved by a notice (but for the one-off anniversary of 2015)."""
    statutory_days = {d for h in holidays(year) for d in h.days}
    waiting = {d for h in holidays(year) for d in h.pending}
    moved = [(d, n) for d, n in list(chinese_calendar.holidays.items()) + list(chinese_calendar.workdays.items())
             if d.year == year and d not in statutory_days and n != ONE_OFF]
    assert moved
    for day, name in moved:
        assert day in waiting or (NAMES[name] == "元旦" and statutory.awaits_next_new_year(day)), (day, name)


def test_the_reach_is_no_wider_than_the_notices_needed():
    """REACH_DAYS is the smallest reach that holds every moved day of 2004–2026: 11 May 2024 (a make-up Saturday,
    ten days after 劳动节's statutory 1 May)."""
    farthest = 0
    for year in LIBRARY_YEARS:
        statutory_days = sorted(d for h in holidays(year) for d in h.days)
        for day, name in list(chinese_calendar.holidays.items()) + list(chinese_calendar.workdays.items()):
            if day.year == year and day not in statutory_days and name != ONE_OFF and not (
                    NAMES[name] == "元旦" and day.month == 12):
                farthest = max(farthest, min(abs((day - s).days) for s in statutory_days))
    assert farthest == REACH_DAYS


def test_days_waiting_for_the_notice():
    spring = next(h for h in holidays(2027) if h.name == "春节")
    assert spring.pending[0] == D(2027, 1, 26) and spring.pending[-1] == D(2027, 2, 18)
    assert not set(spring.pending) & set(spring.days)
    new_year = next(h for h in holidays(2027) if h.name == "元旦")
    assert new_year.pending == tuple(D(2027, 1, 2) + dt.timedelta(i) for i in range(10))   # not into 2026
    assert statutory.awaits_next_new_year(D(2026, 12, 22)) and not statutory.awaits_next_new_year(D(2026, 12, 21))
    assert not statutory.awaits_next_new_year(D(2100, 12, 31))      # 2101 is beyond the law's years here
    days = statutory.year_days(2020)
    assert days[D(2020, 10, 1)] == ("中秋节、国庆节", True)           # two holidays on one day
