"""Placeholder working-day calendar (replaced by the `clock` branch): chinesecalendar, else Mon–Fri, provisional."""
from __future__ import annotations

import dataclasses
import datetime as dt


@dataclasses.dataclass(frozen=True)
class Due:
    day: dt.date
    provisional: bool


class WorkCalendar:
    def __init__(self, session=None):
        self.session = session

    def is_workday(self, day: dt.date) -> tuple[bool, bool]:
        import chinese_calendar

        try:
            return chinese_calendar.is_workday(day), False
        except NotImplementedError:
            return day.weekday() < 5, True

    def add_working_days(self, start: dt.date, n: int) -> Due:
        day, count, provisional = start, 0, False
        while count < n:
            day += dt.timedelta(days=1)
            work, unsure = self.is_workday(day)
            provisional = provisional or unsure
            count += work
        return Due(day, provisional)

    def deadline_state(self, due: dt.date, today: dt.date, soon_days: int = 5) -> str:
        if today > due:
            return "overdue"
        return "due_soon" if self.add_working_days(today, soon_days).day >= due else "on_track"
