"""Completing an inspection starts its publication clock (20 working days, docs/deadlines.md)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from backend.inspections.checks import today_shanghai
from backend.inspections.models import Inspection

PUBLICATION_WORKING_DAYS = 20
DUE_SOON_WORKING_DAYS = 5


def _calendar(session: Session):
    from backend.publication.services import work_calendar

    return work_calendar(session)


def completion_time(inspection: Inspection, device_time: dt.datetime | None, now: dt.datetime) -> dt.datetime:
    """When the record was completed: the phone's time of the submit, never later than the server's
    clock nor earlier than the inspection's start (a phone offline for days submits with its own time)."""
    if device_time is None:
        return now
    earliest = inspection.started_at or inspection.created_at or now
    return min(now, max(device_time, earliest))


def complete(session: Session, inspection: Inspection, *, user_id: int | None,
             device_time: dt.datetime | None = None) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    inspection.status = "completed"
    inspection.completed_at = completion_time(inspection, device_time, now)
    inspection.completed_by = user_id
    inspection.completed_on = today_shanghai(inspection.completed_at)
    due = _calendar(session).add_working_days(inspection.completed_on, PUBLICATION_WORKING_DAYS)
    inspection.publication_due_on, inspection.due_provisional = due.day, due.provisional


def period_json(period) -> dict:
    """A provisional period as the API gives it (docs/sync.md §4.2): ``{from, to, year, holiday, label}``."""
    return {"from": period.first.isoformat(), "to": period.last.isoformat(), "year": period.year,
            "holiday": period.holiday, "label": period.label}


def provisional_periods(session: Session, inspection: Inspection, calendar=None) -> list[dict]:
    """The days the stored due date still waits for a notice about: the provisional days after the completion
    day up to the due day, as periods (docs/deadlines.md); empty when the due date is final."""
    if inspection.publication_due_on is None or not inspection.due_provisional or inspection.completed_on is None:
        return []
    calendar = calendar or _calendar(session)
    return [period_json(p) for p in calendar.provisional_periods(inspection.completed_on,
                                                                 inspection.publication_due_on)]


def due_of(session: Session, inspection: Inspection, calendar=None) -> dict:
    """What ``record.submit`` answers about the clock: the day it counts from, the due day, and what is
    still provisional."""
    return {"completed_on": inspection.completed_on.isoformat(),
            "publication_due_on": inspection.publication_due_on.isoformat(),
            "due_provisional": inspection.due_provisional,
            "provisional_periods": provisional_periods(session, inspection, calendar)}


def state_of(session: Session, inspection: Inspection, today: dt.date | None = None,
             calendar=None) -> dict | None:
    """{completed_on, due_on, provisional, provisional_periods, state, state_label} of a completed inspection,
    else None. The due day is ``PUBLICATION_WORKING_DAYS`` working days after ``completed_on`` (day 0)."""
    if inspection.publication_due_on is None:
        return None
    calendar = calendar or _calendar(session)
    today = today or today_shanghai()
    if inspection.published_at is not None:
        state = "published"
    elif inspection.publication_exempt_at is not None:
        state = "exempt"
    else:
        state = calendar.deadline_state(inspection.publication_due_on, today, DUE_SOON_WORKING_DAYS)
    return {"completed_on": inspection.completed_on.isoformat(), "due_on": inspection.publication_due_on.isoformat(),
            "provisional": inspection.due_provisional,
            "provisional_periods": provisional_periods(session, inspection, calendar),
            "state": state, "state_label": STATE_LABELS[state]}


def provisional_words(periods: list[dict]) -> str:
    """The periods in one sentence for people (the PDF; the phone says the same, pwa/src/lib/deadline.ts):
    暂按法定节假日计算，2027-01-30 至 2027-02-04、2027-02-09 至 2027-02-18（2027 年春节前后）的放假调休待国务院放假通知发布后确定."""
    if not periods:
        return ""
    basis = ("法定节假日" if all(p["holiday"] for p in periods)
             else "周一至周五" if not any(p["holiday"] for p in periods) else "法定节假日和周一至周五")
    groups: list[tuple[tuple, list[str]]] = []
    for p in periods:
        key = (p["year"], p["holiday"])
        span = p["from"] if p["from"] == p["to"] else f"{p['from']} 至 {p['to']}"
        if groups and groups[-1][0] == key:
            groups[-1][1].append(span)
        else:
            groups.append((key, [span]))
    parts = [f"{'、'.join(spans)}（{year} 年{holiday + '前后' if holiday else '尚无放假安排'}）"
             for (year, holiday), spans in groups]
    return f"暂按{basis}计算，{'；'.join(parts)}的放假调休待国务院放假通知发布后确定"


STATE_LABELS = {"on_track": "按期", "due_soon": "5 个工作日内到期", "overdue": "已逾期", "published": "已公示",
                "exempt": "经批准不公开"}


def recompute_after_import(session: Session, year: int) -> int:
    """A year's notice was imported: deadlines counted through that year with Monday–Friday (provisional), or
    with the old notice, are counted again. Returns how many due dates moved or became final."""
    from sqlalchemy import select

    calendar = _calendar(session)
    moved = 0
    # a 20-working-day deadline reaches at most ~2 months past its completion day
    first = dt.date(year - 1, 10, 1)
    last = dt.date(year, 12, 31)
    rows = session.scalars(select(Inspection).where(Inspection.completed_on.is_not(None),
                                                    Inspection.completed_on >= first,
                                                    Inspection.completed_on <= last))
    for inspection in rows:
        due = calendar.add_working_days(inspection.completed_on, PUBLICATION_WORKING_DAYS)
        if (due.day, due.provisional) != (inspection.publication_due_on, inspection.due_provisional):
            inspection.publication_due_on, inspection.due_provisional = due.day, due.provisional
            moved += 1
    return moved
