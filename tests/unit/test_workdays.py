""""N working days after a date" (docs/deadlines.md) on the 2026 PRC calendar, without a database.

Every expected date below was counted by hand from the State Council notice for 2026 (rest 15–23 Feb,
make-up Sat 14 and Sat 28 Feb; rest 25–27 Sep and 1–7 Oct, make-up Sun 20 Sep and Sat 10 Oct).
"""
from __future__ import annotations

import datetime as dt
import json
import random
from pathlib import Path

import chinese_calendar
import pytest

from backend.publication import calendar
from backend.publication.calendar import (DayInfo, Due, add_working_days, beijing_date, deadline_state, is_workday,
                                          library_lookup, weekday_lookup, working_days_between, worst_state)
from backend.publication.notice import parse_notice
from backend.publication.services import WorkCalendar

D = dt.date
EXAMPLE = Path(__file__).resolve().parents[2] / "backend" / "publication" / "data" / "2026.json"


def due(start, n, lookup=library_lookup) -> dt.date:
    result = add_working_days(start, n, lookup)
    assert result.provisional is False
    return result.day


# --- the Spring Festival: rest Sun 15 – Mon 23 Feb, make-up Sat 14 and Sat 28 Feb -----------------------

@pytest.mark.parametrize("n,expected", [
    (1, D(2026, 2, 14)),    # the make-up Saturday is the first working day
    (2, D(2026, 2, 24)),    # then nine days of rest
    (5, D(2026, 2, 27)),
    (6, D(2026, 2, 28)),    # the second make-up Saturday
    (7, D(2026, 3, 2)),     # a penalty decision (7 working days)
    (20, D(2026, 3, 19)),   # publication: Mon–Fri alone would say Fri 13 Mar
])
def test_spring_festival_from_friday_13_february(n, expected):
    assert due(D(2026, 2, 13), n) == expected


def test_spring_festival_completion_on_a_rest_day_or_a_make_up_saturday():
    # day 0 never counts, whatever kind of day it is
    assert due(D(2026, 2, 15), 1) == D(2026, 2, 24)     # Sunday, first day of the holiday
    assert due(D(2026, 2, 18), 1) == D(2026, 2, 24)     # Wednesday inside the holiday
    assert due(D(2026, 2, 18), 20) == D(2026, 3, 20)
    assert due(D(2026, 2, 14), 1) == D(2026, 2, 24)     # the make-up Saturday itself
    assert due(D(2026, 2, 14), 20) == D(2026, 3, 20)
    assert due(D(2026, 2, 27), 1) == D(2026, 2, 28)     # Friday before the second make-up Saturday


# --- National Day: rest Fri 25 – Sun 27 Sep (Mid-autumn) and Thu 1 – Wed 7 Oct; make-up Sun 20 Sep, Sat 10 Oct

@pytest.mark.parametrize("start,n,expected", [
    (D(2026, 9, 18), 1, D(2026, 9, 20)),     # Friday → the make-up Sunday
    (D(2026, 9, 18), 20, D(2026, 10, 22)),
    (D(2026, 9, 20), 5, D(2026, 9, 28)),     # from the make-up Sunday, over Mid-autumn
    (D(2026, 9, 30), 1, D(2026, 10, 8)),
    (D(2026, 9, 30), 3, D(2026, 10, 10)),    # the make-up Saturday
    (D(2026, 9, 30), 7, D(2026, 10, 15)),    # a penalty decision
    (D(2026, 10, 1), 1, D(2026, 10, 8)),     # completed on the holiday itself
    (D(2026, 10, 1), 3, D(2026, 10, 10)),
    (D(2026, 10, 10), 1, D(2026, 10, 12)),   # completed on the make-up Saturday
    (D(2026, 10, 7), 20, D(2026, 11, 3)),
])
def test_national_day(start, n, expected):
    assert due(start, n) == expected


def test_the_days_themselves():
    for day in (D(2026, 2, 14), D(2026, 2, 28), D(2026, 9, 20), D(2026, 10, 10), D(2026, 1, 4), D(2026, 5, 9)):
        info = library_lookup(day)
        assert info.workday and info.makeup and not info.provisional and info.source == "chinesecalendar"
    for day in (D(2026, 2, 16), D(2026, 2, 23), D(2026, 10, 1), D(2026, 10, 7), D(2026, 9, 25)):
        info = library_lookup(day)
        assert not info.workday and info.holiday
    assert library_lookup(D(2026, 2, 21)).name == "春节" and not is_workday(D(2026, 2, 21))
    assert library_lookup(D(2026, 4, 6)).name == "清明节"
    assert library_lookup(D(2026, 3, 7)).name is None and not is_workday(D(2026, 3, 7))   # an ordinary Saturday


# --- counting between two days and the property that ties the two together ---------------------------

def test_working_days_between():
    assert working_days_between(D(2026, 2, 13), D(2026, 3, 19)) == 20
    assert working_days_between(D(2026, 3, 19), D(2026, 2, 13)) == -20
    assert working_days_between(D(2026, 2, 15), D(2026, 2, 23)) == 0    # nothing but rest
    assert working_days_between(D(2026, 2, 13), D(2026, 2, 13)) == 0
    assert working_days_between(D(2026, 9, 30), D(2026, 10, 10)) == 3


def test_between_inverts_add_on_every_day_of_2026():
    rng = random.Random(7)
    day = D(2025, 12, 1)
    while day < D(2026, 12, 1):
        n = rng.randint(1, 40)
        result = add_working_days(day, n)
        assert working_days_between(day, result.day) == n
        assert is_workday(result.day)
        day += dt.timedelta(days=1)


def test_the_fast_counts_agree_with_the_definitions_across_known_and_unknown_years():
    cal = WorkCalendar(None)          # chinesecalendar, then the statutory holidays: 2003 and 2027 have no notice
    rng = random.Random(11)
    for start, end in [(D(2003, 11, 1), D(2004, 2, 29)), (D(2025, 12, 1), D(2027, 3, 1))]:
        day = start
        while day <= end:
            for n in (1, 5, 20, rng.randint(1, 300)):
                assert cal.add_working_days(day, n) == add_working_days(day, n, cal), (day, n)
            other = day + dt.timedelta(days=rng.randint(-400, 400))
            assert cal.working_days_between(day, other) == working_days_between(day, other, cal), (day, other)
            day += dt.timedelta(days=1)
    assert cal.add_working_days(D(2026, 12, 31), 1) == Due(D(2027, 1, 4), True)     # 1 Jan 2027 rests (元旦)
    assert cal.add_working_days(D(2026, 12, 30), 1) == Due(D(2026, 12, 31), True)   # 2027's notice may move it
    assert cal.add_working_days(D(2026, 12, 18), 1) == Due(D(2026, 12, 21), False)
    assert cal.add_working_days(D(2027, 3, 1), 5) == Due(D(2027, 3, 8), False)      # far from any holiday
    with pytest.raises(ValueError):
        cal.add_working_days(D(2026, 2, 13), 0)


# --- states -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("today,expected", [
    (D(2026, 3, 10), "on_track"),
    (D(2026, 3, 11), "on_track"),    # 6 working days before: 12, 13, 16, 17, 18, 19
    (D(2026, 3, 12), "due_soon"),    # 5 working days before
    (D(2026, 3, 14), "due_soon"),    # a Saturday: 16, 17, 18, 19
    (D(2026, 3, 19), "due_soon"),    # the due day itself
    (D(2026, 3, 20), "overdue"),
    (D(2026, 6, 1), "overdue"),
])
def test_state_of_a_deadline_due_thursday_19_march(today, expected):
    assert deadline_state(D(2026, 3, 19), today) == expected


def test_state_counts_working_days_not_calendar_days():
    # due Thu 15 Oct: from Fri 25 Sep (rest) there are 10 working days left although National Day intervenes
    assert deadline_state(D(2026, 10, 15), D(2026, 9, 25)) == "on_track"
    assert deadline_state(D(2026, 10, 15), D(2026, 10, 8)) == "on_track"    # 9, 10 (Sat), 12, 13, 14, 15
    assert deadline_state(D(2026, 10, 15), D(2026, 10, 9)) == "due_soon"    # 10 (Sat), 12, 13, 14, 15
    # due Fri 9 Oct: nine calendar days away on 30 Sep, but only two working days
    assert deadline_state(D(2026, 10, 9), D(2026, 9, 30)) == "due_soon"
    assert deadline_state(D(2026, 10, 9), D(2026, 9, 30), soon_days=1) == "on_track"


def test_worst_state_of_a_task():
    assert worst_state([]) is None
    assert worst_state(["on_track", "due_soon", "on_track"]) == "due_soon"
    assert worst_state(["due_soon", "overdue", "on_track"]) == "overdue"


# --- years nobody knows ---------------------------------------------------------------------------------

def test_chinesecalendar_knows_2004_to_2026_and_raises_outside():
    assert calendar.library_years() == range(2004, 2027)
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(2027, 1, 4))
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(D(2003, 12, 31))
    assert calendar.library_day(D(2027, 1, 4)) is None and calendar.library_day(D(2003, 12, 31)) is None
    assert calendar.library_exceptions(2027) == []


def test_reading_the_library_tables_agrees_with_its_is_workday_on_every_day():
    day, last = D(2004, 1, 1), D(2026, 12, 31)
    while day <= last:
        assert library_lookup(day).workday is chinese_calendar.is_workday(day), day
        day += dt.timedelta(days=1)


def test_2027_new_years_day_is_not_a_working_day_before_any_2027_notice():
    for lookup in (library_lookup, WorkCalendar(None)):
        info = lookup(D(2027, 1, 1))
        assert not info.workday and not info.provisional and info.source == "statutory" and info.name == "元旦"
        assert info.holiday                       # a Friday at rest
        assert add_working_days(D(2026, 12, 31), 1, lookup) == Due(D(2027, 1, 4), True)
    # the weekend after it waits for the notice (2026's notice made Sun 4 Jan a working day)
    for day in (D(2027, 1, 2), D(2027, 1, 3), D(2027, 1, 4)):
        assert library_lookup(day).provisional and library_lookup(day).pending == (2027, "元旦")
    assert library_lookup(D(2027, 1, 2)).workday is False and library_lookup(D(2027, 1, 4)).workday is True


def test_a_year_without_notice_rests_on_the_statutory_holidays_and_waits_around_them():
    rest = [D(2027, 1, 1), D(2027, 2, 5), D(2027, 2, 8), D(2027, 4, 5), D(2027, 6, 9), D(2027, 9, 15),
            D(2027, 10, 1)]
    for day in rest:           # every weekday among 2027's statutory days
        info = library_lookup(day)
        assert not info.workday and not info.provisional and info.source == "statutory", day
    for day in (D(2027, 2, 4), D(2027, 2, 9), D(2027, 2, 13), D(2027, 9, 26), D(2027, 10, 4), D(2027, 10, 9)):
        info = library_lookup(day)
        assert info.provisional and info.workday is (day.weekday() < 5), day
    assert not library_lookup(D(2027, 3, 10)).provisional and library_lookup(D(2027, 3, 10)).workday
    assert not library_lookup(D(2027, 7, 10)).provisional and not library_lookup(D(2027, 7, 10)).workday
    assert add_working_days(D(2027, 1, 1), 1) == Due(D(2027, 1, 4), True)
    assert add_working_days(D(2003, 6, 6), 1) == Due(D(2003, 6, 9), False)   # 2003: the law of 1999, no holiday near


def test_20_working_days_across_2027_spring_festival_count_the_known_holidays_and_name_the_waiting_days():
    # 除夕 Fri 5 Feb to 初三 Mon 8 Feb rest: 1–4, 9–12, 15–19, 22–26 Feb, 1–2 Mar (Monday to Friday: 26 Feb)
    due = add_working_days(D(2027, 1, 29), 20)
    assert due == Due(D(2027, 3, 2), True)
    periods = calendar.provisional_periods(calendar.days_in(D(2027, 1, 29), due.day))
    assert [(p.first, p.last, p.year, p.holiday) for p in periods] == [
        (D(2027, 1, 30), D(2027, 2, 4), 2027, "春节"), (D(2027, 2, 9), D(2027, 2, 18), 2027, "春节")]
    assert periods[1].label == "2027-02-09 至 2027-02-18：2027 年春节前后，放假调休待国务院通知"


def test_20_working_days_across_2027_national_day():
    # 国庆 Fri 1 Oct rests (2–3 Oct are a weekend): 27–30 Sep, 4–8, 11–15, 18–22, 25 Oct (Monday to Friday: 22 Oct)
    due = add_working_days(D(2027, 9, 24), 20)
    assert due == Due(D(2027, 10, 25), True)
    periods = calendar.provisional_periods(calendar.days_in(D(2027, 9, 24), due.day))
    assert [(p.first, p.last, p.holiday) for p in periods] == [
        (D(2027, 9, 25), D(2027, 9, 30), "中秋节、国庆节"), (D(2027, 10, 4), D(2027, 10, 13), "国庆节")]


def test_crossing_into_an_unknown_year_makes_a_deadline_provisional():
    # late December waits for the next year's notice (its 元旦 may reach back: Sat 31 Dec 2011 worked in 2012's)
    assert add_working_days(D(2026, 12, 1), 14) == Due(D(2026, 12, 21), False)
    assert add_working_days(D(2026, 12, 1), 20) == Due(D(2026, 12, 29), True)
    # 13 working days left in December 2026, then 1 January rests (元旦), then 4–8, 11, 12 January 2027
    assert add_working_days(D(2026, 12, 14), 20) == Due(D(2027, 1, 12), True)
    assert add_working_days(D(2026, 12, 30), 1) == Due(D(2026, 12, 31), True)
    assert add_working_days(D(2026, 12, 31), 1) == Due(D(2027, 1, 4), True)


def test_outside_2000_to_2100_only_monday_to_friday():
    assert library_lookup(D(2101, 1, 3)).source == "weekdays" and library_lookup(D(2101, 1, 3)).workday   # Monday
    assert add_working_days(D(1999, 12, 31), 1) == Due(D(2000, 1, 3), True)
    assert add_working_days(D(2003, 6, 6), 1, weekday_lookup) == Due(D(2003, 6, 9), True)
    info = library_lookup(D(1999, 10, 1))
    assert info.workday and info.provisional and info.pending is None


def test_weekday_lookup_on_its_own():
    assert add_working_days(D(2026, 2, 13), 20, weekday_lookup) == Due(D(2026, 3, 13), True)


# --- bad arguments -----------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [0, -1, calendar.MAX_DAYS + 1, True, 1.5, "3", None])
def test_n_must_be_a_whole_number_of_working_days(n):
    with pytest.raises(ValueError):
        add_working_days(D(2026, 2, 13), n)


def test_a_calendar_without_working_days_does_not_loop_for_ever():
    with pytest.raises(ValueError):
        add_working_days(D(2026, 1, 1), 1, lambda day: DayInfo(day, False, "notice"))


def test_beijing_date():
    assert beijing_date(dt.datetime(2026, 2, 13, 15, 59, tzinfo=dt.timezone.utc)) == D(2026, 2, 13)
    assert beijing_date(dt.datetime(2026, 2, 13, 16, 0, tzinfo=dt.timezone.utc)) == D(2026, 2, 14)
    with pytest.raises(ValueError):
        beijing_date(dt.datetime(2026, 2, 13, 16, 0))


# --- the example notice shipped with the code ------------------------------------------------------------

def test_the_shipped_2026_notice_agrees_with_chinesecalendar_day_by_day():
    notice = parse_notice(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    assert notice.year == 2026 and notice.title == "国务院办公厅关于2026年部分节假日安排的通知"
    ours = {d.day: (d.kind == "workday", d.name) for d in notice.days}
    theirs = {d.day: (d.workday, d.name) for d in calendar.library_exceptions(2026)}
    assert ours == theirs
    assert [d.day for d in notice.workdays] == [D(2026, 1, 4), D(2026, 2, 14), D(2026, 2, 28), D(2026, 5, 9),
                                                D(2026, 9, 20), D(2026, 10, 10)]
    assert len(notice.rest_days) == 3 + 9 + 3 + 5 + 3 + 3 + 7
