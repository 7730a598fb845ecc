"""Working days on the PRC calendar: pure rules, no database, no Flask (docs/deadlines.md).

Everything here takes a *lookup*: a function from a date to a ``DayInfo`` saying whether the day is
a working day, where that answer comes from, and whether it is provisional (the notice that arranges the day
is not known yet). ``services.WorkCalendar`` builds the lookup from admin-imported notices, then
``chinesecalendar``, then the statutory holidays of 《全国年节及纪念日放假办法》 (``statutory.py``), then Monday
to Friday; ``library_lookup`` here is the same without the imported notices.

A day is provisional when a notice not known yet may still change it: in a year that neither a notice nor
chinesecalendar knows, the days within ``statutory.REACH_DAYS`` of a statutory holiday (its make-up days and
joined weekdays wait for the notice; the statutory days themselves are known rest days), the last days of
December when the next year is not known (its 元旦 may reach back), and every day of a year outside 2000–2100.

Definitions (the one place they are written in code; docs/deadlines.md says the same in words):

* Day 0 is the given date itself (the completion date). It never counts, whatever kind of day it is.
* "N working days after D" is the N-th working day strictly after D (N ≥ 1); it is provisional when a day
  from D+1 to it is provisional.
* ``working_days_between(a, b)`` is the number of working days d with a < d ≤ b (negative when b < a),
  so ``working_days_between(d, add_working_days(d, n).day) == n``.
* The state of a deadline on a given day (``today``, a date in Beijing time):
  ``overdue`` when today is after the due day; ``due_soon`` when the due day is at most
  ``soon_days`` working days after today (today itself counts as 0, so the due day is always
  ``due_soon``); ``on_track`` otherwise. A deadline that has been met (published) has no state here:
  the caller shows it as done.
"""
from __future__ import annotations

import bisect
import dataclasses
import datetime as dt
from typing import Callable, Iterable

import chinese_calendar

from backend.publication import statutory

BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")  # no daylight saving since 1991

# where a day's kind comes from
SOURCE_NOTICE = "notice"               # an admin-imported State Council notice
SOURCE_LIBRARY = "chinesecalendar"     # the chinesecalendar package's table
SOURCE_STATUTORY = "statutory"         # no notice yet: the law's holidays rest, the days around them wait
SOURCE_WEEKDAYS = "weekdays"           # outside 2000–2100: Monday to Friday, provisional
SOURCE_LABELS = {SOURCE_NOTICE: "管理员导入的国务院通知", SOURCE_LIBRARY: "chinesecalendar 节假日数据",
                 SOURCE_STATUTORY: "《全国年节及纪念日放假办法》规定的节日（该年放假安排尚未发布，调休待定）",
                 SOURCE_WEEKDAYS: "暂按周一至周五计算（尚无该年节假日安排）"}

STATES = {"on_track": "正常", "due_soon": "即将到期", "overdue": "已逾期"}
_STATE_ORDER = {"on_track": 0, "due_soon": 1, "overdue": 2}

MAX_DAYS = 1000               # add_working_days refuses more (about four years)
_MAX_SCAN = MAX_DAYS * 7 + 366  # a calendar with (almost) no working days cannot loop for ever

# chinesecalendar's English holiday names → the names the notices use
_NOTICE_NAMES = {"清明": "清明节", "端午": "端午节", "中秋": "中秋节"}
_LIBRARY_NAMES = {h.value: _NOTICE_NAMES.get(h.chinese, h.chinese) for h in chinese_calendar.Holiday}


@dataclasses.dataclass(frozen=True)
class DayInfo:
    day: dt.date
    workday: bool
    source: str                      # SOURCE_NOTICE | SOURCE_LIBRARY | SOURCE_STATUTORY | SOURCE_WEEKDAYS
    name: str | None = None          # the holiday the day belongs to (rest day or make-up working day)
    # (year, holiday) whose notice, not known yet, may still change this day: (2027, "春节")
    pending: tuple[int, str] | None = None

    @property
    def provisional(self) -> bool:
        return self.pending is not None or self.source == SOURCE_WEEKDAYS

    @property
    def makeup(self) -> bool:
        """A weekend day that is a working day (调休上班)."""
        return self.workday and self.day.weekday() >= 5

    @property
    def holiday(self) -> bool:
        """A weekday that is a rest day (放假)."""
        return not self.workday and self.day.weekday() < 5


Lookup = Callable[[dt.date], DayInfo]


@dataclasses.dataclass(frozen=True)
class Due:
    """A deadline: the due day and whether a day on the way is provisional (a notice not known yet may move it)."""

    day: dt.date
    provisional: bool


# --- the outer layers ------------------------------------------------------------------------

def weekday_lookup(day: dt.date) -> DayInfo:
    """Monday to Friday, provisional."""
    return DayInfo(day, day.weekday() < 5, SOURCE_WEEKDAYS)


def statutory_day(day: dt.date) -> DayInfo | None:
    """The law's answer for a year no notice arranges (None outside 2000–2100): a statutory holiday rests (known);
    another day is Monday to Friday, provisional when it is within reach of a holiday (its arrangement waits for
    the notice)."""
    if not statutory.FIRST_YEAR <= day.year <= statutory.LAST_YEAR:
        return None
    found = statutory.year_days(day.year).get(day)
    if found is not None and found[1]:
        return DayInfo(day, False, SOURCE_STATUTORY, found[0])
    return DayInfo(day, day.weekday() < 5, SOURCE_STATUTORY, None, (day.year, found[0]) if found else None)


def awaiting_next_year(info: DayInfo, knows_year: Callable[[int], bool]) -> DayInfo:
    """``info``, made provisional when it is a late-December day that the next year's notice may still arrange
    around its 元旦 and nobody knows that year yet."""
    if info.pending is None and statutory.awaits_next_new_year(info.day) and not knows_year(info.day.year + 1):
        return dataclasses.replace(info, pending=(info.day.year + 1, "元旦"))
    return info


def library_years() -> range:
    """The years chinesecalendar has a table for (1.11: 2004–2026)."""
    years = [d.year for d in chinese_calendar.holidays] + [d.year for d in chinese_calendar.workdays]
    return range(min(years), max(years) + 1)


_LIBRARY_YEARS = library_years()


def library_day(day: dt.date) -> DayInfo | None:
    """chinesecalendar's answer, or None for a year it has no table for (where it raises NotImplementedError).

    Its tables are read directly, by the rule of its ``is_workday`` (a listed make-up day works, a listed
    holiday rests, otherwise Monday to Friday): ``is_workday`` itself scans every key for the year range on
    each call, about 100 times slower than a dictionary lookup.
    """
    if day.year not in _LIBRARY_YEARS:
        return None
    name = chinese_calendar.workdays.get(day)
    if name is not None:
        return DayInfo(day, True, SOURCE_LIBRARY, _LIBRARY_NAMES.get(name, name))
    name = chinese_calendar.holidays.get(day)
    if name is not None:
        return DayInfo(day, False, SOURCE_LIBRARY, _LIBRARY_NAMES.get(name, name))
    return DayInfo(day, day.weekday() < 5, SOURCE_LIBRARY)


def library_knows(year: int) -> bool:
    return year in _LIBRARY_YEARS


def library_lookup(day: dt.date) -> DayInfo:
    """chinesecalendar, then the statutory holidays, then Monday to Friday (provisional): every layer but the
    imported notices."""
    return awaiting_next_year(library_day(day) or statutory_day(day) or weekday_lookup(day), library_knows)


def library_exceptions(year: int) -> list[DayInfo]:
    """The days of ``year`` on which chinesecalendar differs from Monday to Friday, plus the weekend days
    inside a holiday (as the notice lists them); [] for a year it does not know."""
    if year not in _LIBRARY_YEARS:
        return []
    days = [d for d in chinese_calendar.holidays if d.year == year] + \
           [d for d in chinese_calendar.workdays if d.year == year]
    return [library_day(d) for d in sorted(days)]


# --- the rules -------------------------------------------------------------------------------

def is_workday(day: dt.date, lookup: Lookup = library_lookup) -> bool:
    return lookup(day).workday


def add_working_days(start: dt.date, n: int, lookup: Lookup = library_lookup) -> Due:
    """The N-th working day strictly after ``start`` (day 0, which never counts), and whether any day
    counted or skipped on the way is provisional."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DAYS:
        raise ValueError(f"n must be an integer from 1 to {MAX_DAYS}, not {n!r}")
    provisional = False
    day = start
    counted = 0
    for _ in range(_MAX_SCAN):
        day += dt.timedelta(days=1)
        info = lookup(day)
        provisional = provisional or info.provisional
        if info.workday:
            counted += 1
            if counted == n:
                return Due(day, provisional)
    raise ValueError(f"no {n} working days within {_MAX_SCAN} days after {start}")


def working_days_between(a: dt.date, b: dt.date, lookup: Lookup = library_lookup) -> int:
    """Working days d with a < d ≤ b; −(working days d with b < d ≤ a) when b < a; 0 when equal."""
    if b < a:
        return -working_days_between(b, a, lookup)
    count = 0
    day = a
    while day < b:
        day += dt.timedelta(days=1)
        if lookup(day).workday:
            count += 1
    return count


def deadline_state(due: dt.date, today: dt.date, lookup: Lookup = library_lookup, soon_days: int = 5) -> str:
    """``overdue`` after the due day; ``due_soon`` when the due day is at most ``soon_days`` working days
    after today (the due day itself included); ``on_track`` otherwise."""
    if today > due:
        return "overdue"
    count, day = 0, today
    while day < due:  # stop as soon as the answer is known: a far deadline costs soon_days + 1 steps
        day += dt.timedelta(days=1)
        if lookup(day).workday:
            count += 1
            if count > soon_days:
                return "on_track"
    return "due_soon"


def worst_state(states: Iterable[str]) -> str | None:
    """The state a task shows for its open inspections: the worst of theirs (None when there are none)."""
    worst = None
    for state in states:
        if worst is None or _STATE_ORDER[state] > _STATE_ORDER[worst]:
            worst = state
    return worst


class YearCounts:
    """The same rules as ``add_working_days`` and ``working_days_between``, over per-year running counts of
    working days (built once per year from ``lookup``), so that a long list of deadlines costs a few
    list look-ups each instead of a walk over every day. The tests hold it equal to the definitions."""

    def __init__(self, lookup: Lookup):
        self._lookup = lookup
        self._years: dict[int, tuple[list[int], list[int]]] = {}

    def clear(self) -> None:
        self._years.clear()

    def _year(self, year: int) -> tuple[list[int], list[int]]:
        """counts[i]: working days among the year's first i days; pending[i]: provisional days among them."""
        found = self._years.get(year)
        if found is None:
            day, end = dt.date(year, 1, 1), dt.date(year, 12, 31)
            counts, pending = [0], [0]
            while True:
                info = self._lookup(day)
                counts.append(counts[-1] + (1 if info.workday else 0))
                pending.append(pending[-1] + (1 if info.provisional else 0))
                if day == end:
                    break
                day += dt.timedelta(days=1)
            found = self._years[year] = (counts, pending)
        return found

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        if b < a:
            return -self.working_days_between(b, a)
        counts_a = self._year(a.year)[0]
        if a.year == b.year:
            return counts_a[b.timetuple().tm_yday] - counts_a[a.timetuple().tm_yday]
        total = counts_a[-1] - counts_a[a.timetuple().tm_yday]
        for year in range(a.year + 1, b.year):
            total += self._year(year)[0][-1]
        return total + self._year(b.year)[0][b.timetuple().tm_yday]

    def add_working_days(self, start: dt.date, n: int) -> Due:
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_DAYS:
            raise ValueError(f"n must be an integer from 1 to {MAX_DAYS}, not {n!r}")
        year, position, needed, provisional = start.year, start.timetuple().tm_yday, n, False
        for _ in range(_MAX_SCAN // 365 + 2):
            counts, pending = self._year(year)
            available = counts[-1] - counts[position]
            if available >= needed:
                index = bisect.bisect_left(counts, counts[position] + needed, lo=position + 1)
                provisional = provisional or pending[index] > pending[position]
                return Due(dt.date(year, 1, 1) + dt.timedelta(days=index - 1), provisional)
            provisional = provisional or pending[-1] > pending[position]
            needed -= available
            year, position = year + 1, 0
        raise ValueError(f"no {n} working days within {_MAX_SCAN} days after {start}")


# --- which days are provisional, for people to read -----------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Period:
    """Consecutive provisional days that wait for the same notice (``holiday`` None: a year outside 2000–2100)."""

    first: dt.date
    last: dt.date
    year: int
    holiday: str | None

    def to_dict(self) -> dict:
        """As the API gives it (``from_`` is ``from`` there)."""
        return {"from_": self.first, "to": self.last, "year": self.year, "holiday": self.holiday,
                "label": self.label}

    @property
    def label(self) -> str:
        span = self.first.isoformat() if self.first == self.last else f"{self.first.isoformat()} 至 {self.last.isoformat()}"
        if self.holiday is None:
            return f"{span}：{self.year} 年尚无节假日安排，暂按周一至周五计算"
        return f"{span}：{self.year} 年{self.holiday}前后，放假调休待国务院通知"


def days_in(start: dt.date, end: dt.date, lookup: Lookup = library_lookup) -> list[DayInfo]:
    """The days d with start < d ≤ end (day 0 excluded, as when counting)."""
    out, day = [], start
    while day < end:
        day += dt.timedelta(days=1)
        out.append(lookup(day))
    return out


def provisional_periods(days: Iterable[DayInfo]) -> list[Period]:
    """The provisional days among ``days`` (in date order), as runs of consecutive days waiting for the same
    year's notice; the holidays of a run are joined with 、 (中秋节、国庆节)."""
    periods: list[Period] = []
    for info in days:
        if not info.provisional:
            continue
        year, holiday = info.pending or (info.day.year, None)
        last = periods[-1] if periods else None
        if (last and last.last + dt.timedelta(days=1) == info.day and last.year == year
                and (last.holiday is None) == (holiday is None)):
            names = (last.holiday or "").split("、")
            joined = "、".join(names + [h for h in (holiday or "").split("、") if h not in names]) or None
            periods[-1] = dataclasses.replace(last, last=info.day, holiday=joined)
        else:
            periods.append(Period(info.day, info.day, year, holiday))
    return periods


def beijing_date(moment: dt.datetime | None = None) -> dt.date:
    """The calendar date in Beijing of an aware moment (now when None): completion dates and 'today'."""
    moment = moment or dt.datetime.now(dt.timezone.utc)
    if moment.tzinfo is None:
        raise ValueError("an aware datetime is needed")
    return moment.astimezone(BEIJING).date()
