"""The reminder sweep: due soon / overdue around the 2026 Spring Festival and National Day weeks, to the people
responsible, once per state change; the year's tasks not done by 30 November (石家庄)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from backend.auth.roles import Role
from backend.notifications import sources
from backend.notifications.channels import LoggingNotifier, notifiers_from_config
from backend.notifications.models import Notification
from backend.notifications.services import sweep
from backend.plans.models import Task
from tests.api.notifications.world import drawn_task

D = dt.date


def _rows(session, kind=None):
    stmt = select(Notification).order_by(Notification.id)
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return session.scalars(stmt).all()


def _keys(rows):
    return sorted((n.user_id, n.subject_id, n.state) for n in rows)


def test_task_end_date_around_the_2026_spring_festival(db_session, factory, auth):
    # 2026: 15–23 February off, Saturday 14 February a working day. A task ending Friday 27 February is due
    # soon (≤ 5 working days) from Friday 13 February: 14, 24, 25, 26, 27 February; on the 12th it is six.
    w = drawn_task(db_session, factory, auth, end_date=D(2026, 2, 27))
    tid = str(w.task.id)
    assert sweep(db_session, D(2026, 2, 12), only=["task.end_date"]).created == 0
    result = sweep(db_session, D(2026, 2, 13), only=["task.end_date"])
    people = {w.planner.id, w.leader.id}
    assert result.created == len(people) and result.by_kind == {"task.end_date:due_soon": len(people)}
    rows = _rows(db_session, "task.end_date")
    assert _keys(rows) == sorted((u, tid, "due_soon") for u in people)
    assert rows[0].title == "抽查任务即将到期：联合抽查任务" and "2026-02-27" in rows[0].body
    assert "尚有 2 户检查未完成" in rows[0].body and rows[0].link == f"/office/tasks/{tid}"
    # nobody else: not the participating department's planner, not the lead's admin, not a supervisor
    assert not {w.other_planner.id, w.admin.id, w.supervisor.id} & {n.user_id for n in rows}
    # no daily spam: through the holiday and up to the end date, nothing new
    for day in (D(2026, 2, 14), D(2026, 2, 18), D(2026, 2, 24), D(2026, 2, 27)):
        assert sweep(db_session, day, only=["task.end_date"]).created == 0
    # the state changes the day after: overdue, once
    assert sweep(db_session, D(2026, 2, 28), only=["task.end_date"]).created == len(people)
    assert sweep(db_session, D(2026, 3, 9), only=["task.end_date"]).created == 0
    assert _keys(_rows(db_session, "task.end_date")) == sorted(
        [(u, tid, "due_soon") for u in people] + [(u, tid, "overdue") for u in people])


def test_a_task_whose_inspections_are_done_is_not_reminded(db_session, factory, auth):
    w = drawn_task(db_session, factory, auth, end_date=D(2026, 2, 27))
    for inspection in w.inspections:
        inspection.status = "completed"
    db_session.flush()
    assert sweep(db_session, D(2026, 3, 2), only=["task.end_date"]).created == 0


def test_an_overdue_task_first_seen_late_is_reminded_overdue_only(db_session, factory, auth):
    w = drawn_task(db_session, factory, auth, end_date=D(2026, 2, 27))
    sweep(db_session, D(2026, 3, 2), only=["task.end_date"])
    assert {n.state for n in _rows(db_session)} == {"overdue"}
    assert len(_rows(db_session)) == 2 and w.task.id


def _complete(inspection, completed_on, cal):
    inspection.status = "completed"
    inspection.completed_on = completed_on
    inspection.publication_due_on = cal.add_working_days(completed_on, 20).day


def test_publication_due_around_the_2026_national_day_week(db_session, factory, auth):
    # 2026: 25–27 September (中秋) and 1–7 October off; Sunday 20 September and Saturday 10 October worked.
    # Completed Friday 11 September: the 20th working day after is Thursday 15 October (14–18, 20–24 and
    # 28–30 September: 13; 8, 9, 10 October: 16; 12–15 October: 20).
    from backend.publication.services import work_calendar

    w = drawn_task(db_session, factory, auth)
    cal = work_calendar(db_session)
    first = w.inspections[0]
    _complete(first, D(2026, 9, 11), cal)
    db_session.flush()
    assert first.publication_due_on == D(2026, 10, 15)
    iid = str(first.id)
    # on 30 September seven working days are left (8, 9, 10, 12–15 October); through the holiday, still
    # more than five; on Thursday 8 October six; on Friday 9 October five: due soon
    for day in (D(2026, 9, 30), D(2026, 10, 1), D(2026, 10, 7), D(2026, 10, 8)):
        assert sweep(db_session, day, only=["publication.due"]).created == 0, day
    assert sweep(db_session, D(2026, 10, 9), only=["publication.due"]).created == 1
    rows = _rows(db_session, "publication.due")
    assert _keys(rows) == [(w.admin.id, iid, "due_soon")]
    assert rows[0].title.startswith("检查结果公示即将到期：") and "2026-10-15" in rows[0].body
    assert rows[0].due_on == D(2026, 10, 15) and rows[0].link == f"/office/inspections/{iid}"
    assert sweep(db_session, D(2026, 10, 15), only=["publication.due"]).created == 0
    assert sweep(db_session, D(2026, 10, 16), only=["publication.due"]).created == 1
    assert _keys(_rows(db_session, "publication.due")) == [(w.admin.id, iid, "due_soon"), (w.admin.id, iid, "overdue")]


def test_a_published_or_exempt_inspection_is_not_reminded(db_session, factory, auth):
    """Published by the lead department, or approved 不适合公开: nothing to remind; otherwise overdue."""
    from backend.publication.services import work_calendar

    calendar = work_calendar(db_session)
    published, exempt = drawn_task(db_session, factory, auth).inspections[:2]
    left = drawn_task(db_session, factory, auth).inspections[0]
    for inspection in (published, exempt, left):
        _complete(inspection, D(2026, 9, 11), calendar)
    published.published_at = dt.datetime(2026, 10, 9, 2, tzinfo=dt.timezone.utc)
    exempt.publication_exempt_at = dt.datetime(2026, 10, 9, 2, tzinfo=dt.timezone.utc)
    db_session.flush()
    assert (sources.is_published(published), sources.is_published(exempt), sources.is_published(left)) == \
        (True, True, False)
    sweep(db_session, D(2026, 10, 16), only=["publication.due"])
    assert {int(r.subject_id) for r in _rows(db_session, "publication.due")} == {left.id}


def test_the_years_tasks_not_done_by_30_november(db_session, factory, auth):
    w = drawn_task(db_session, factory, auth)
    done = drawn_task(db_session, factory, auth)
    for inspection in done.inspections:
        inspection.status = "completed"
    cancelled = Task(code="SS-2026-CANCEL", name="已撤销的任务", plan_id=w.task.plan_id,
                     lead_department_id=w.task.lead_department_id, status="cancelled")
    draft = Task(code="SS-2026-DRAFT", name="未摇号的任务", plan_id=w.task.plan_id,
                 lead_department_id=w.task.lead_department_id, status="draft")
    db_session.add_all([cancelled, draft])
    db_session.flush()
    assert sweep(db_session, D(2026, 11, 30), only=["task.year_end"]).created == 0
    sweep(db_session, D(2026, 12, 1), only=["task.year_end"])
    rows = _rows(db_session, "task.year_end")
    planners = {n.user_id for n in rows if n.subject_type == "task"}
    assert {(n.subject_id, n.state) for n in rows if n.user_id == w.planner.id} == {
        (str(w.task.id), "flagged"), (str(draft.id), "flagged")}
    assert w.planner.id in planners and done.planner.id not in planners and w.leader.id not in planners
    digest = [n for n in rows if n.user_id == w.supervisor.id]
    assert len(digest) == 1 and digest[0].subject_type == "plan_year" and digest[0].subject_id == "2026"
    assert digest[0].title == "2026 年有 2 项抽查任务未在 11 月 30 日前完成"
    assert w.task.code in digest[0].body and draft.code in digest[0].body and cancelled.code not in digest[0].body
    assert sweep(db_session, D(2026, 12, 2), only=["task.year_end"]).created == 0


def test_new_reminders_go_out_by_the_configured_channels_once(db_session, factory, auth, caplog):
    w = drawn_task(db_session, factory, auth, end_date=D(2026, 2, 27))
    w.planner.phone = "13800000000"
    db_session.flush()
    channels = notifiers_from_config({"NOTIFY_CHANNELS": "sms, email", "NOTIFY_SENDER": "log"})
    assert [type(c) for c in channels] == [LoggingNotifier, LoggingNotifier]
    with caplog.at_level("INFO", logger="shuangsui.notify"):
        result = sweep(db_session, D(2026, 2, 13), channels, only=["task.end_date"])
    sms, email = channels
    assert result.sent == 4
    assert sorted((m["user_id"], m["address"]) for m in sms.sent) == sorted(
        [(w.planner.id, "13800000000"), (w.leader.id, None)])
    assert "13800000000" in caplog.text and "抽查任务即将到期" in caplog.text
    assert {m["address"] for m in email.sent} == {None}
    sweep(db_session, D(2026, 2, 13), channels, only=["task.end_date"])
    assert len(sms.sent) == 2


def test_unknown_channels_are_refused_at_start():
    import pytest

    with pytest.raises(RuntimeError, match="NOTIFY_CHANNELS"):
        notifiers_from_config({"NOTIFY_CHANNELS": "pigeon"})
    with pytest.raises(RuntimeError, match="NOTIFY_SENDER"):
        notifiers_from_config({"NOTIFY_CHANNELS": "sms", "NOTIFY_SENDER": "gateway"})


def test_a_followup_is_reminded_by_its_own_deadline_until_it_closes(db_session, factory, auth):
    """followup.deadline (backend/followups/reminders.py): to the owner department's admins and whoever opened
    it, due soon then overdue, once each; a closed one never."""
    import uuid

    from backend.followups.models import Followup

    w = drawn_task(db_session, factory, auth)
    first, second = w.inspections[:2]
    opener = factory.user(Role.INSPECTOR, w.scenario.lead)
    rows = [Followup(uid=str(uuid.uuid4()), inspection_id=i.id, task_id=i.task_id, target_id=i.target_id,
                     department_id=w.scenario.lead.id, lead_department_id=w.scenario.lead.id, action="rectify",
                     state=state, due_on=D(2026, 10, 9), created_by=opener.id)
            for i, state in ((first, "ordered"), (second, "rectified"))]
    db_session.add_all(rows)
    db_session.flush()
    assert sweep(db_session, D(2026, 9, 18), only=["followup.deadline"]).created == 0     # 6 working days ahead
    assert sweep(db_session, D(2026, 9, 30), only=["followup.deadline"]).created == 2     # admin and opener
    assert sweep(db_session, D(2026, 10, 9), only=["followup.deadline"]).created == 0     # still due soon
    assert sweep(db_session, D(2026, 10, 12), only=["followup.deadline"]).created == 2    # overdue
    got = _rows(db_session, "followup.deadline")
    assert {(n.user_id, n.subject_id, n.state) for n in got} == {
        (u, str(rows[0].id), st) for u in (w.admin.id, opener.id) for st in ("due_soon", "overdue")}
    assert got[0].link == f"/office/followups/{rows[0].id}" and "责令限期整改" in got[0].body


def test_the_sweep_command_moves_the_clock_and_records_a_job(app, db_session, factory, auth):
    from backend.jobs.models import Job

    w = drawn_task(db_session, factory, auth, end_date=D(2026, 2, 27))
    runner = app.test_cli_runner()
    r = runner.invoke(args=["reminders", "sweep", "--today", "2026-02-13"])
    assert r.exit_code == 0, r.output
    assert r.output.strip() == "2026-02-13：新增提醒 2 条（task.end_date:due_soon 2）"
    r = runner.invoke(args=["reminders", "sweep", "--today", "2026-02-13"])
    assert r.output.strip() == "2026-02-13：新增提醒 0 条"
    assert {n.user_id for n in _rows(db_session)} == {w.planner.id, w.leader.id}
    jobs = db_session.scalars(select(Job).where(Job.name == "reminders.sweep")).all()
    assert [j.status for j in jobs] == ["done", "done"] and jobs[0].result["created"] == 2
    r = runner.invoke(args=["reminders", "sweep", "--today", "2026-02-30"])
    assert r.exit_code == 2 and "2026-02-30" in r.output
    r = runner.invoke(args=["reminders", "cron"])
    assert r.exit_code == 1 and "未设置 REDIS_URL" in r.output


def test_a_task_not_drawn_by_its_end_date_is_reminded_and_a_frozen_account_is_not(db_session, factory, auth):
    from backend.auth.roles import Role
    from tests.api.draws.conftest import build_scenario

    s = build_scenario(factory, auth, risk=("D",), per_class=1, inspectors=(2, 1))   # confirmed, not drawn
    s.task.end_date = D(2026, 10, 9)
    frozen = factory.user(Role.PLANNER, s.lead, status="frozen")
    db_session.flush()
    assert sweep(db_session, D(2026, 10, 8), only=["task.end_date"]).created == 1
    rows = _rows(db_session, "task.end_date")
    assert rows[0].user_id != frozen.id and rows[0].state == "due_soon"
    assert rows[0].body == f"抽查任务「联合抽查任务」（{s.task.code}）的结束日期为 2026-10-09，尚未完成抽取。"
    s.task.status = "cancelled"
    db_session.flush()
    assert sweep(db_session, D(2026, 10, 12), only=["task.end_date"]).created == 0


def test_the_set_based_reminders_write_the_same_words_as_before(db_session, factory, auth):
    """publication.due and followup.deadline are inserted straight from a SELECT (state, title, body and link
    written in SQL): word for word what the reminders said when they were built one by one, the title cut at
    200 characters; an admin who joins later gets the follow-up's reminder in its present state (never the
    publication's: its admins were told)."""
    import uuid

    from backend.followups.models import Followup
    from backend.publication.services import work_calendar

    w = drawn_task(db_session, factory, auth)
    first = w.inspections[0]
    _complete(first, D(2026, 9, 11), work_calendar(db_session))          # due 15 October
    first.target.name = "长" * 190 + "有限公司名称"
    fu = Followup(uid=str(uuid.uuid4()), inspection_id=first.id, task_id=first.task_id, target_id=first.target_id,
                  department_id=w.scenario.lead.id, lead_department_id=w.scenario.lead.id, action="notify",
                  state="to_notify", due_on=D(2026, 10, 12), created_by=None)
    db_session.add(fu)
    db_session.flush()
    name = first.target.name
    many = ["publication.due", "followup.deadline"]
    assert sweep(db_session, D(2026, 10, 16), only=many).by_kind == {"publication.due:overdue": 1,
                                                                     "followup.deadline:overdue": 1}
    pub, = _rows(db_session, "publication.due")
    assert pub.title == ("检查结果公示已逾期：" + name)[:200] and len(pub.title) == 200
    assert pub.body == (f"「{w.task.name}」对「{name}」的检查于 2026-09-11 完成，结果应于 2026-10-15 前公示"
                        "（20 个工作日）。")
    assert (pub.user_id, pub.subject_type, pub.subject_id, pub.state, pub.due_on, pub.link) == (
        w.admin.id, "inspection", str(first.id), "overdue", D(2026, 10, 15), f"/office/inspections/{first.id}")
    got, = _rows(db_session, "followup.deadline")
    assert got.title == ("后续处置已逾期：" + name)[:200]
    assert got.body == f"对「{name}」的后续处置（抄告相关部门）期限为 2026-10-12，尚未办结。"
    assert (got.user_id, got.subject_type, got.subject_id, got.state, got.due_on, got.link) == (
        w.admin.id, "followup", str(fu.id), "overdue", D(2026, 10, 12), f"/office/followups/{fu.id}")
    late = factory.user(Role.DEPT_ADMIN, w.scenario.lead)
    assert sweep(db_session, D(2026, 10, 19), only=many).by_kind == {"followup.deadline:overdue": 1}
    assert {n.user_id for n in _rows(db_session, "followup.deadline")} == {w.admin.id, late.id}
    assert {n.user_id for n in _rows(db_session, "publication.due")} == {w.admin.id}
