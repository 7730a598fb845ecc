"""The publication clock: the working-day calendar with its three layers, deadlines, and the import of a
year's State Council notice. No Flask; every change is audited.

Layers, for each day: the admin-imported notice of that day's year if there is one, else chinesecalendar's
table if it knows the year, else the statutory holidays of 《全国年节及纪念日放假办法》 (2000–2100: they rest; the
days within reach of them wait for the notice and are *provisional*), else Monday to Friday, provisional. A late
December day is also provisional while the next year is unknown (its 元旦 may reach back). Everything computed
over a provisional day is provisional. The rules themselves are in ``calendar.py``; docs/deadlines.md defines
them in words.

How the lead wires it (the inspection record stores only its completion date; a due date is computed
when it is shown, so that importing a notice later corrects every provisional deadline at once)::

    cal = work_calendar(session)                        # one per session (request, job, command)
    d = cal.deadline(beijing_date(inspection.completed_at), PUBLICATION_DAYS, today=beijing_date())
    d.due, d.provisional, d.state                      # state: on_track | due_soon | overdue (None when done)
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit.services import record
from backend.auth.roles import Role
from backend.auth.rules import ensure_role
from backend.db import utcnow
from backend.errors import Conflict, InvalidInput
from backend.publication import calendar
from backend.publication import statutory
from backend.publication.calendar import (SOURCE_LABELS, SOURCE_LIBRARY, SOURCE_NOTICE, SOURCE_STATUTORY,
                                          SOURCE_WEEKDAYS, STATES, DayInfo, Due, beijing_date)
from backend.publication.models import CalendarDay, CalendarYear
from backend.publication.notice import MAX_YEAR, MIN_YEAR, Notice, weekday_text
from sync.canonical import canonical_json, sha256_hex

PUBLICATION_DAYS = 20        # results are published within 20 working days of completion
PENALTY_DECISION_DAYS = 7    # penalty decisions within 7 (DESIGN §6)
SOON_DAYS = 5                # "due within 5 working days"
_CACHE_KEY = "shuangsui.work_calendar"


@dataclasses.dataclass(frozen=True)
class Deadline:
    start: dt.date              # day 0: the completion date (Beijing)
    days: int                   # N working days
    due: dt.date
    provisional: bool           # a day on the way waits for a notice nobody knows yet
    state: str | None           # on_track | due_soon | overdue; None when done
    working_days_left: int      # working days from today to the due day; negative when overdue

    @property
    def state_label(self) -> str | None:
        return STATES.get(self.state) if self.state else None

    def to_dict(self) -> dict:
        return {"start": self.start.isoformat(), "days": self.days, "due": self.due.isoformat(),
                "provisional": self.provisional, "state": self.state, "state_label": self.state_label,
                "working_days_left": self.working_days_left}


class WorkCalendar:
    """The day lookup of one session: imported notices, then chinesecalendar, then the statutory holidays,
    then Monday to Friday.

    An imported year is read from the database once (its few exceptional days) and kept for the life of
    this object; ``work_calendar(session)`` keeps one per session. Callable: it *is* a ``Lookup``.
    """

    def __init__(self, session: Session | None):
        self._session = session
        self._imported_years: set[int] | None = None
        self._days: dict[int, dict[dt.date, DayInfo]] = {}
        self._seen: dict[dt.date, DayInfo] = {}
        self._counts = calendar.YearCounts(self)

    # --- the lookup ---
    def imported_days(self, year: int) -> dict[dt.date, DayInfo] | None:
        if self._session is None:
            return None
        if self._imported_years is None:
            self._imported_years = set(self._session.scalars(select(CalendarYear.year)))
        if year not in self._imported_years:
            return None
        if year not in self._days:
            rows = self._session.execute(select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)
                                         .where(CalendarDay.year == year))
            self._days[year] = {day: DayInfo(day, kind == "workday", SOURCE_NOTICE, name) for day, kind, name in rows}
        return self._days[year]

    def knows_year(self, year: int) -> bool:
        """An imported notice or chinesecalendar arranges the year."""
        return self.imported_days(year) is not None or calendar.library_knows(year)

    def __call__(self, day: dt.date) -> DayInfo:
        info = self._seen.get(day)
        if info is None:
            imported = self.imported_days(day.year)
            if imported is not None:
                info = imported.get(day) or DayInfo(day, day.weekday() < 5, SOURCE_NOTICE)
            else:
                info = (calendar.library_day(day) or calendar.statutory_day(day)
                        or calendar.weekday_lookup(day))
            info = self._seen[day] = calendar.awaiting_next_year(info, self.knows_year)
        return info

    day = __call__

    def source_of(self, year: int) -> str:
        if self.imported_days(year) is not None:
            return SOURCE_NOTICE
        if calendar.library_knows(year):
            return SOURCE_LIBRARY
        return SOURCE_STATUTORY if statutory.FIRST_YEAR <= year <= statutory.LAST_YEAR else SOURCE_WEEKDAYS

    def provisional_periods(self, start: dt.date, end: dt.date) -> list[calendar.Period]:
        """The provisional days d with start < d ≤ end, as periods: what a deadline from ``start`` due on
        ``end`` still waits for."""
        return calendar.provisional_periods(calendar.days_in(start, end, self))

    def statutory_days(self, start: dt.date, end: dt.date) -> list[DayInfo]:
        """The statutory holidays d with start < d ≤ end counted as rest days of a year without a notice."""
        return [d for d in calendar.days_in(start, end, self) if d.source == SOURCE_STATUTORY and not d.workday
                and d.name]

    # --- the rules on this calendar ---
    def is_workday(self, day: dt.date) -> bool:
        return self(day).workday

    def add_working_days(self, start: dt.date, n: int) -> Due:
        return self._counts.add_working_days(start, n)

    def working_days_between(self, a: dt.date, b: dt.date) -> int:
        return self._counts.working_days_between(a, b)

    def deadline_state(self, due: dt.date, today: dt.date, soon_days: int = SOON_DAYS) -> str:
        return calendar.deadline_state(due, today, self, soon_days)

    def deadline(self, start: dt.date, days: int = PUBLICATION_DAYS, *, today: dt.date | None = None,
                 done: bool = False, soon_days: int = SOON_DAYS) -> Deadline:
        """Day 0 ``start`` (the completion date), due ``days`` working days later, and its state today
        (Beijing date when not given); ``done`` (published, decided) leaves it without a state."""
        today = today or beijing_date()
        due = self.add_working_days(start, days)
        return Deadline(start, days, due.day, due.provisional,
                        None if done else self.deadline_state(due.day, today, soon_days),
                        self.working_days_between(today, due.day))

    def forget(self) -> None:
        """Drop what was read (after an import in the same session)."""
        self._imported_years = None
        self._days.clear()
        self._seen.clear()
        self._counts.clear()


def work_calendar(session: Session) -> WorkCalendar:
    """The session's calendar (made on first use; an import in this session refreshes it)."""
    cal = session.info.get(_CACHE_KEY)
    if cal is None:
        cal = session.info[_CACHE_KEY] = WorkCalendar(session)
    return cal


# --- a year as the public and the admin see it -------------------------------------------------------

def check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise InvalidInput(f"年份应在 {MIN_YEAR} 到 {MAX_YEAR} 之间", code="calendar.bad_year",
                           errors={"year": [f"应在 {MIN_YEAR} 到 {MAX_YEAR} 之间"]})


def _day_dict(info: DayInfo) -> dict:
    return {"day": info.day, "weekday": weekday_text(info.day), "name": info.name}


def year_view(session: Session, year: int) -> dict:
    """The year's rest days and make-up working days and where they come from."""
    check_year(year)
    cal = work_calendar(session)
    source = cal.source_of(year)
    notice = session.get(CalendarYear, year) if source == SOURCE_NOTICE else None
    if source == SOURCE_NOTICE:
        days = sorted(cal.imported_days(year).values(), key=lambda d: d.day)
    elif source == SOURCE_STATUTORY:
        days = [cal(d) for h in statutory.holidays(year) for d in h.days]
        days = sorted({d.day: d for d in days}.values(), key=lambda d: d.day)
    else:
        days = calendar.library_exceptions(year)
    view = {
        "year": year, "source": source, "source_label": SOURCE_LABELS[source],
        "provisional": source in (SOURCE_STATUTORY, SOURCE_WEEKDAYS),
        "library_knows_year": year in calendar.library_years(),
        "law": statutory.law_for(year).title if source == SOURCE_STATUTORY else None,
        "provisional_periods": [p.to_dict() for p in cal.provisional_periods(dt.date(year - 1, 12, 31),
                                                                             dt.date(year, 12, 31))],
        "notice": None,
        "restdays": [_day_dict(d) for d in days if not d.workday],
        "workdays": [_day_dict(d) for d in days if d.workday],
        "differences_from_library": _differences(days, year) if source == SOURCE_NOTICE else [],
    }
    if notice is not None:
        view["notice"] = {"title": notice.title, "ref": notice.ref, "issued_on": notice.issued_on,
                          "file_name": notice.file_name, "sha256": notice.sha256, "source": notice.source,
                          "imported_at": notice.imported_at, "imported_by": notice.imported_by_label}
    return view


def _differences(days: list[DayInfo], year: int) -> list[dict]:
    """Days on which the imported notice and chinesecalendar disagree about working or resting."""
    if year not in calendar.library_years():
        return []
    notice = {d.day: d.workday for d in days}
    library = {d.day: d.workday for d in calendar.library_exceptions(year)}
    out = []
    for day in sorted(set(notice) | set(library)):
        mine = notice.get(day, day.weekday() < 5)
        theirs = library.get(day, day.weekday() < 5)
        if mine != theirs:
            out.append({"day": day, "weekday": weekday_text(day),
                        "notice": "workday" if mine else "restday", "library": "workday" if theirs else "restday"})
    return out


# --- importing a notice ------------------------------------------------------------------------------

def _snapshot(year: CalendarYear, days: list[tuple[dt.date, str, str]]) -> dict:
    return {"year": year.year, "title": year.title, "ref": year.ref,
            "issued_on": year.issued_on.isoformat() if year.issued_on else None,
            "restdays": [f"{d.isoformat()} {n}" for d, k, n in days if k == "restday"],
            "workdays": [f"{d.isoformat()} {n}" for d, k, n in days if k == "workday"]}


def notice_sha256(notice: Notice) -> str:
    """The digest of a notice given as a request body: its canonical JSON (RFC 8785)."""
    return sha256_hex(canonical_json(notice.snapshot()))


def import_notice(session: Session, actor: Actor, notice: Notice, *, replace: bool = False, source: str = "api",
                  file_name: str | None = None, sha256: str | None = None) -> dict:
    """Store a validated notice as its year's calendar (system admins only).

    A year already imported is replaced only when ``replace`` is set (audited with what it was); the same
    content again changes nothing. Returns the year's view with ``action``: created | replaced | unchanged.
    """
    ensure_role(actor, [Role.SYSADMIN])
    check_year(notice.year)
    existing = session.execute(select(CalendarYear).where(CalendarYear.year == notice.year)
                               .with_for_update()).scalar_one_or_none()
    old_days = [] if existing is None else [tuple(r) for r in session.execute(
        select(CalendarDay.day, CalendarDay.kind, CalendarDay.name)
        .where(CalendarDay.year == notice.year).order_by(CalendarDay.day))]
    before = None if existing is None else _snapshot(existing, old_days)
    after = notice.snapshot()
    if before == after:
        return {**year_view(session, notice.year), "action": "unchanged"}
    if existing is not None and not replace:
        raise Conflict(f"{notice.year} 年的节假日安排已导入（{existing.title}）；确需替换时请加 --replace"
                       f"（接口：replace=true），替换将记入审计日志", code="calendar.year_exists",
                       details={"year": notice.year, "title": existing.title,
                                "imported_at": existing.imported_at.isoformat()})
    digest = sha256 or notice_sha256(notice)
    fields = {"source": source, "file_name": file_name, "title": notice.title, "ref": notice.ref,
              "issued_on": notice.issued_on, "sha256": digest, "imported_by": actor.user_id,
              "imported_by_label": actor.label[:128], "imported_at": utcnow()}
    if existing is None:
        session.add(CalendarYear(year=notice.year, **fields))
    else:
        session.execute(delete(CalendarDay).where(CalendarDay.year == notice.year))
        for key, value in fields.items():
            setattr(existing, key, value)
    try:
        session.flush()
        session.add_all(CalendarDay(day=d.day, year=notice.year, kind=d.kind, name=d.name) for d in notice.days)
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(f"{notice.year} 年的节假日安排正被他人同时导入，请稍后重试", code="calendar.concurrent") from exc
    action = "replaced" if existing is not None else "created"
    work_calendar(session).forget()
    from backend.inspections.deadlines import recompute_after_import

    moved = recompute_after_import(session, notice.year)
    record(session, actor, f"calendar.{'replace' if existing is not None else 'import'}", "calendar_year",
           notice.year, before=before, after=after,
           detail={"file_name": file_name, "sha256": digest, "source": source, "title": notice.title,
                   "restdays": len(notice.rest_days), "workdays": len(notice.workdays),
                   "deadlines_recomputed": moved})
    session.commit()
    work_calendar(session).forget()
    return {**year_view(session, notice.year), "action": action}


def recount_deadlines(session: Session, actor: Actor) -> dict:
    """Count again every stored deadline that is still provisional, on the calendar as it is now: after an upgrade
    of chinesecalendar (a new year in its table) or of these rules, neither of which imports a notice. System
    admins only; audited. Returns {"years": [...], "deadlines_recomputed": n}."""
    ensure_role(actor, [Role.SYSADMIN])
    from backend.inspections.deadlines import recompute_after_import
    from backend.inspections.models import Inspection

    from sqlalchemy import func

    years = sorted({day.year for day in session.scalars(
        select(func.coalesce(Inspection.clock_start_on, Inspection.completed_on))
        .where(Inspection.due_provisional.is_(True), Inspection.completed_on.is_not(None)))})
    work_calendar(session).forget()
    # recompute_after_import(year) counts again every deadline completed from 1 October of the year before to
    # the end of ``year``: a deadline moves once, then stays
    moved = sum(recompute_after_import(session, year) for year in years)
    result = {"years": years, "deadlines_recomputed": moved}
    record(session, actor, "calendar.recount", "calendar_year", None, detail=result)
    session.commit()
    return result


def due_view(session: Session, start: dt.date, days: int, today: dt.date | None = None) -> dict:
    """``GET /calendar/due``: N working days after ``start``, its state today, and each year's source."""
    check_year(start.year)
    cal = work_calendar(session)
    try:
        deadline = cal.deadline(start, days, today=today or beijing_date())
    except ValueError as exc:
        raise InvalidInput(f"无法计算：{exc}", code="calendar.bad_days") from exc
    check_year(deadline.due.year)
    return {"from_": start, "days": days, "due": deadline.due, "provisional": deadline.provisional,
            "provisional_periods": [p.to_dict() for p in cal.provisional_periods(start, deadline.due)],
            "statutory_days": [_day_dict(d) for d in cal.statutory_days(start, deadline.due)],
            "today": today or beijing_date(), "state": deadline.state, "state_label": deadline.state_label,
            "working_days_left": deadline.working_days_left,
            "sources": [{"year": y, "source": cal.source_of(y), "source_label": SOURCE_LABELS[cal.source_of(y)]}
                        for y in range(start.year, deadline.due.year + 1)]}
