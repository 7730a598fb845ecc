"""Completing an inspection starts its publication clock (20 working days, docs/deadlines.md)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from backend.inspections.checks import today_shanghai
from backend.inspections.models import Inspection

PUBLICATION_WORKING_DAYS = 20
DUE_SOON_WORKING_DAYS = 5

# The day the 20 working days count from (day 0), a deployment setting (PUBLICATION_CLOCK_START); the seeds'
# four wordings, mapped onto the data we have (docs/deadlines.md, "When the clock starts"):
#   submission  结果产生之日 (三门峡): the result exists when the lead submits the signed record — the default
#   inspected   完成检查之日 (潜江): the day the officers left the business (the record's 离开时间), never after
#               the submission nor before the visit began; without a 离开时间, the submission day
#   task_end    工作结束之日 (郴州), 抽查任务完成后 (甘州): the task's end date, or the submission day when later
CLOCK_STARTS = {
    "submission": "自组长提交检查记录之日（第 0 天）起算",
    "inspected": "自完成现场检查之日（第 0 天）起算",
    "task_end": "自抽查任务结束之日（第 0 天）起算",
}
DEFAULT_CLOCK_START = "submission"


def clock_setting(config: dict | None = None) -> str:
    """The deployment's clock start (``PUBLICATION_CLOCK_START``); the default outside an app."""
    if config is None:
        from flask import current_app, has_app_context

        config = current_app.config if has_app_context() else {}
    value = (config.get("PUBLICATION_CLOCK_START") or DEFAULT_CLOCK_START).strip()
    if value not in CLOCK_STARTS:
        raise ValueError(f"PUBLICATION_CLOCK_START 应为 {'、'.join(CLOCK_STARTS)} 之一：{value}")
    return value


def clock_start_day(inspection: Inspection, start: str, record_values: dict | None) -> dt.date:
    """Day 0 of ``inspection``'s publication clock under ``start`` (its ``completed_on`` is set)."""
    submitted = inspection.completed_on
    if start == "inspected":
        from sync.protocol import parse_time

        try:
            departed = parse_time((record_values or {}).get("departed_at"))
        except ValueError:
            departed = None
        if departed is None:
            return submitted
        day = today_shanghai(departed)
        began = today_shanghai(inspection.started_at) if inspection.started_at else None
        return min(submitted, max(day, began) if began else day)
    if start == "task_end":
        end = inspection.task.end_date if inspection.task is not None else None
        return max(end, submitted) if end else submitted
    return submitted


def start_of(inspection: Inspection) -> tuple[str, dt.date | None]:
    """(clock start, day 0) as stored; an inspection completed before the setting counts from submission."""
    return inspection.clock_start or DEFAULT_CLOCK_START, inspection.clock_start_on or inspection.completed_on


def clock_json(inspection: Inspection, *, text: bool = True) -> dict:
    """{clock_start, clock_start_label, start_on}: which start the due date counts from (``start_on`` as ISO text,
    or a date when ``text`` is false)."""
    start, day = start_of(inspection)
    return {"clock_start": start, "clock_start_label": CLOCK_STARTS[start],
            "start_on": (day.isoformat() if text else day) if day else None}


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
             device_time: dt.datetime | None = None, record_values: dict | None = None,
             clock_start: str | None = None) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    inspection.status = "completed"
    inspection.completed_at = completion_time(inspection, device_time, now)
    inspection.completed_by = user_id
    inspection.completed_on = today_shanghai(inspection.completed_at)
    inspection.clock_start = clock_start or clock_setting()
    inspection.clock_start_on = clock_start_day(inspection, inspection.clock_start, record_values)
    due = _calendar(session).add_working_days(inspection.clock_start_on, PUBLICATION_WORKING_DAYS)
    inspection.publication_due_on, inspection.due_provisional = due.day, due.provisional


def period_json(period) -> dict:
    """A provisional period as the API gives it (docs/sync.md §4.2): ``{from, to, year, holiday, label}``."""
    return {"from": period.first.isoformat(), "to": period.last.isoformat(), "year": period.year,
            "holiday": period.holiday, "label": period.label}


def provisional_periods(session: Session, inspection: Inspection, calendar=None) -> list[dict]:
    """The days the stored due date still waits for a notice about: the provisional days after the completion
    day up to the due day, as periods (docs/deadlines.md); empty when the due date is final."""
    _, start = start_of(inspection)
    if inspection.publication_due_on is None or not inspection.due_provisional or start is None:
        return []
    calendar = calendar or _calendar(session)
    return [period_json(p) for p in calendar.provisional_periods(start, inspection.publication_due_on)]


def due_of(session: Session, inspection: Inspection, calendar=None) -> dict:
    """What ``record.submit`` answers about the clock: the day it counts from, the due day, and what is
    still provisional."""
    return {"completed_on": inspection.completed_on.isoformat(),
            "publication_due_on": inspection.publication_due_on.isoformat(),
            "due_provisional": inspection.due_provisional, **clock_json(inspection),
            "provisional_periods": provisional_periods(session, inspection, calendar)}


def state_of(session: Session, inspection: Inspection, today: dt.date | None = None,
             calendar=None) -> dict | None:
    """{completed_on, due_on, provisional, clock_start, clock_start_label, start_on, provisional_periods, state,
    state_label} of a completed inspection, else None. The due day is ``PUBLICATION_WORKING_DAYS`` working days
    after ``start_on`` (day 0: by the deployment's clock start, ``completed_on`` by default)."""
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
            "provisional": inspection.due_provisional, **clock_json(inspection),
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
    from sqlalchemy import or_, select

    calendar = _calendar(session)
    moved = 0
    # a 20-working-day deadline reaches at most ~2 months past its day 0 (never before the completion day)
    first = dt.date(year - 1, 10, 1)
    last = dt.date(year, 12, 31)
    rows = session.scalars(select(Inspection).where(Inspection.completed_on.is_not(None),
                                                    Inspection.completed_on <= last,
                                                    or_(Inspection.completed_on >= first,
                                                        Inspection.clock_start_on >= first)))
    for inspection in rows:
        _, start = start_of(inspection)
        if start < first:
            continue
        due = calendar.add_working_days(start, PUBLICATION_WORKING_DAYS)
        if (due.day, due.provisional) != (inspection.publication_due_on, inspection.due_provisional):
            inspection.publication_due_on, inspection.due_provisional = due.day, due.provisional
            moved += 1
    return moved
