"""Which days of a publication deadline are still provisional, wherever the deadline is shown (issue 11 §2):
the record.submit result (and its replay), the pulled inspection's ``deadline``, the office record, the office
list, a task's publication summary and the PDF; a final deadline names none. Both databases."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import select

from backend.directory.models import Inspector
from backend.inspections import deadlines
from backend.inspections.models import Inspection
from tests.field.builders import led_inspection
from tests.field.test_pdf import get_pdf, text_of

# 20 working days after Friday 29 January 2027 (2027's notice not published): Tuesday 2 March, provisional
# around the Spring Festival (docs/api.md, Working days and deadlines)
SPRING = [{"from": "2027-01-30", "to": "2027-02-04", "year": 2027, "holiday": "春节",
           "label": "2027-01-30 至 2027-02-04：2027 年春节前后，放假调休待国务院通知"},
          {"from": "2027-02-09", "to": "2027-02-18", "year": 2027, "holiday": "春节",
           "label": "2027-02-09 至 2027-02-18：2027 年春节前后，放假调休待国务院通知"}]
WORDS = ("暂按法定节假日计算，2027-01-30 至 2027-02-04、2027-02-09 至 2027-02-18（2027 年春节前后）"
         "的放假调休待国务院放假通知发布后确定")


@pytest.fixture
def spring_festival(monkeypatch):
    """Completions happen on 29 January 2027 (Beijing), whatever today is."""
    moment = dt.datetime(2027, 1, 29, 2, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(deadlines, "completion_time", lambda inspection, device_time, now: moment)
    return moment


def _submit(field, db_session):
    led_inspection(db_session, field.inspection.id, db_session.get(Inspector, field.lead_user.inspector_id),
                   "submittable")
    db_session.commit()
    lead = field.phone(field.lead_user)
    lead.pull()
    content_hash = lead.docs["inspection"][field.inspection.id]["record"]["content_hash"]
    lead.enqueue("record.submit", {"inspection_id": field.inspection.id, "content_hash": content_hash})
    sent = [dict(m) for m in lead.outbox]
    return lead, sent, lead.push()


def test_the_submit_result_names_the_start_and_the_provisional_days(field, db_session, spring_festival):
    lead, sent, [result] = _submit(field, db_session)
    assert result["status"] == "applied", result
    assert (result["completed_on"], result["publication_due_on"], result["due_provisional"]) == \
        ("2027-01-29", "2027-03-02", True)
    assert result["provisional_periods"] == SPRING
    # a lead whose answer was lost learns the same from the replay
    r = field.client.post("/api/sync/push", json={"client_id": lead.client_id, "mutations": sent},
                          headers=field.auth.headers(field.lead_user))
    assert r.status_code == 200, r.json
    [again] = r.json["results"]
    assert again.pop("replayed") is True and again == result


def test_the_pulled_deadline_the_office_and_the_pdf_say_which_days(field, db_session, factory, spring_festival):
    _lead, _sent, [result] = _submit(field, db_session)
    assert result["status"] == "applied"
    member = field.phone(field.other_officer)
    member.pull()
    deadline = member.docs["inspection"][field.inspection.id]["deadline"]
    assert deadline["completed_on"] == "2027-01-29" and deadline["due_on"] == "2027-03-02"
    assert deadline["provisional"] is True and deadline["provisional_periods"] == SPRING

    from backend.auth.roles import Role
    supervisor = factory.user(Role.SUPERVISOR)
    h = field.auth.headers(supervisor)
    r = field.client.get(f"/api/v1/inspections/{field.inspection.id}", headers=h)
    assert r.status_code == 200 and r.json["deadline"]["provisional_periods"] == SPRING
    r = field.client.get(f"/api/v1/inspections?task_id={field.task.id}&status=completed", headers=h)
    assert r.status_code == 200, r.json
    [row] = r.json["items"]
    assert (row["completed_on"], row["publication_due_on"], row["due_provisional"]) == ("2027-01-29", "2027-03-02", True)
    assert row["provisional_periods"] == SPRING and row["target_name"] == field.inspection.target.name
    r = field.client.get(f"/api/v1/tasks/{field.task.id}/publication", headers=h)
    assert r.status_code == 200 and r.json["provisional"] is True and r.json["provisional_periods"] == SPRING

    r = get_pdf(field, field.lead_user)
    assert r.status_code == 200
    text = text_of(r.data)
    assert "公示截止日期2027-03-02（暂定：" in text and "".join(WORDS.split()) in text
    assert "公示期限起算自组长提交检查记录之日（第0天）起算：2027-01-29" in text


def test_a_final_deadline_names_no_provisional_day(field, db_session, factory, monkeypatch):
    # Monday 2 March 2026: chinesecalendar knows 2026, the deadline is final
    moment = dt.datetime(2026, 3, 2, 2, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(deadlines, "completion_time", lambda inspection, device_time, now: moment)
    _lead, _sent, [result] = _submit(field, db_session)
    assert result["due_provisional"] is False and result["provisional_periods"] == []
    assert result["completed_on"] == "2026-03-02"
    member = field.phone(field.other_officer)
    member.pull()
    assert member.docs["inspection"][field.inspection.id]["deadline"]["provisional_periods"] == []
    from backend.auth.roles import Role
    h = field.auth.headers(factory.user(Role.SUPERVISOR))
    r = field.client.get(f"/api/v1/tasks/{field.task.id}/publication", headers=h)
    assert r.json["provisional"] is False and r.json["provisional_periods"] == []
    assert "（暂定" not in text_of(get_pdf(field, field.lead_user).data)


def test_a_tasks_periods_join_those_of_its_deadlines(field, db_session, factory):
    """Two inspections completed on different days: the task names every provisional day either waits for, once."""
    from backend.publication.services import work_calendar

    calendar = work_calendar(db_session)
    rows = db_session.scalars(select(Inspection).where(Inspection.task_id == field.task.id)
                              .order_by(Inspection.id)).all()[:2]
    for inspection, day in zip(rows, (dt.date(2027, 1, 29), dt.date(2027, 2, 10))):
        due = calendar.add_working_days(day, deadlines.PUBLICATION_WORKING_DAYS)
        inspection.status, inspection.completed_on = "completed", day
        inspection.completed_at = dt.datetime.combine(day, dt.time(2), dt.timezone.utc)
        inspection.publication_due_on, inspection.due_provisional = due.day, due.provisional
    db_session.commit()
    second = deadlines.provisional_periods(db_session, rows[1])
    assert second and second[0]["from"] == "2027-02-11"
    from backend.auth.roles import Role
    r = field.client.get(f"/api/v1/tasks/{field.task.id}/publication",
                         headers=field.auth.headers(factory.user(Role.SUPERVISOR)))
    days = set()
    for p in r.json["provisional_periods"]:
        first, last = dt.date.fromisoformat(p["from"]), dt.date.fromisoformat(p["to"])
        days |= {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}
    expected = set()
    for inspection in rows:
        for p in deadlines.provisional_periods(db_session, inspection):
            first, last = dt.date.fromisoformat(p["from"]), dt.date.fromisoformat(p["to"])
            expected |= {first + dt.timedelta(days=n) for n in range((last - first).days + 1)}
    assert days == expected and len(r.json["provisional_periods"]) >= 2
    starts = [p["from"] for p in r.json["provisional_periods"]]
    assert starts == sorted(starts)


def test_the_words_for_people():
    """The same cases as the phone's (pwa/test/deadline.test.ts): the PDF and the phone say the same."""
    cases = json.loads((Path(__file__).parents[1] / "data" / "provisional-words.json").read_text(encoding="utf-8"))
    for case in cases["cases"]:
        assert deadlines.provisional_words(case["periods"]) == case["words"], case["name"]
    assert deadlines.provisional_words(SPRING) == WORDS
