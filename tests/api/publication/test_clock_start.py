"""When the publication clock starts: a deployment setting (issue 12 §1.5, docs/deadlines.md)."""
from __future__ import annotations

import datetime as dt

import pytest

from backend.inspections import deadlines
from backend.publication.services import work_calendar
from tests.api.publication.results_world import build_world, inspection_of


@pytest.fixture()
def world(app, client, factory, auth, db_session):
    return build_world(app, client, factory, auth, db_session)


def test_by_default_the_clock_counts_from_the_submission_and_every_due_date_says_so(client, world):
    iid = world.submit(0)
    inspection = inspection_of(world, iid)
    assert inspection.clock_start == "submission" and inspection.clock_start_on == inspection.completed_on
    due = work_calendar(world.session).add_working_days(inspection.completed_on, 20).day
    assert inspection.publication_due_on == due
    office = client.get(f"/api/v1/inspections/{iid}", headers=world.headers(world.lead_admin)).json
    assert office["deadline"]["clock_start"] == "submission"
    assert office["deadline"]["start_on"] == inspection.completed_on.isoformat()
    assert office["deadline"]["clock_start_label"] == deadlines.CLOCK_STARTS["submission"]
    listed = client.get("/api/v1/inspections", query_string={"task_id": world.field.task.id},
                        headers=world.headers(world.lead_admin)).json
    line = next(r for r in listed["items"] if r["id"] == iid)
    assert line["clock_start"] == "submission" and line["start_on"] == inspection.completed_on.isoformat()
    history = client.get(f"/api/v1/targets/{inspection.target_id}/inspections", headers=world.headers(world.lead_admin))
    assert history.status_code == 200, history.json
    past = next(r for r in history.json["items"] if r["id"] == iid)
    assert past["clock_start"] == "submission" and past["start_on"] == inspection.completed_on.isoformat()
    queue = client.get("/api/v1/publication/queue", headers=world.headers(world.lead_publisher)).json
    row = next(r for r in queue["items"] if r["inspection_id"] == iid)
    assert row["clock_start"] == "submission" and row["start_on"] == inspection.completed_on.isoformat()
    status = client.get(f"/api/v1/publication/inspections/{iid}", headers=world.headers(world.lead_publisher)).json
    assert status["clock_start"] == "submission" and status["start_on"] == inspection.completed_on.isoformat()


def test_task_end_counts_from_the_tasks_end_date_when_later(app, world):
    task = world.field.task
    inspection = world.field.inspections[0]
    world.session.refresh(inspection)
    task.end_date = deadlines.today_shanghai() + dt.timedelta(days=30)
    world.session.flush()
    app.config["PUBLICATION_CLOCK_START"] = "task_end"
    try:
        with app.app_context():        # as a submission does (a phone's push): the app's setting
            iid = world.submit(0)
    finally:
        app.config["PUBLICATION_CLOCK_START"] = "submission"
    inspection = inspection_of(world, iid)
    assert inspection.clock_start == "task_end" and inspection.clock_start_on == task.end_date
    assert inspection.publication_due_on == work_calendar(world.session).add_working_days(task.end_date, 20).day
    # a task that ended before the submission: the submission day
    task.end_date = inspection.completed_on - dt.timedelta(days=10)
    assert deadlines.clock_start_day(inspection, "task_end", None) == inspection.completed_on


def test_inspected_counts_from_the_visits_departure_within_the_visit():
    from backend.inspections.models import Inspection

    started = dt.datetime(2026, 2, 10, 1, 0, tzinfo=dt.timezone.utc)        # 09:00 Beijing, 10 February
    inspection = Inspection(started_at=started, completed_on=dt.date(2026, 2, 26))
    left = {"departed_at": "2026-02-12T17:30:00+08:00"}
    assert deadlines.clock_start_day(inspection, "inspected", left) == dt.date(2026, 2, 12)
    # 23:30 UTC on the 12th is the 13th in Beijing
    assert deadlines.clock_start_day(inspection, "inspected", {"departed_at": "2026-02-12T23:30:00Z"}) == \
        dt.date(2026, 2, 13)
    # never before the visit began nor after the submission; none recorded: the submission day
    assert deadlines.clock_start_day(inspection, "inspected", {"departed_at": "2026-01-01T10:00:00+08:00"}) == \
        dt.date(2026, 2, 10)
    assert deadlines.clock_start_day(inspection, "inspected", {"departed_at": "2026-03-30T10:00:00+08:00"}) == \
        dt.date(2026, 2, 26)
    assert deadlines.clock_start_day(inspection, "inspected", {}) == dt.date(2026, 2, 26)
    assert deadlines.clock_start_day(inspection, "inspected", {"departed_at": "not a time"}) == dt.date(2026, 2, 26)


def test_around_the_2026_spring_festival_each_start_gives_its_own_due_date(db_session):
    """Spring Festival 2026: rest 15–23 February, make-up working days Sat 14 and Sat 28 February (the notice)."""
    from backend.inspections.models import Inspection
    from backend.plans.models import Task

    task = Task(end_date=dt.date(2026, 2, 13))
    inspection = Inspection(started_at=dt.datetime(2026, 2, 5, 1, tzinfo=dt.timezone.utc))
    inspection.task = task
    done = dt.datetime(2026, 2, 11, 2, tzinfo=dt.timezone.utc)     # submitted on Wed 11 February (Beijing)
    dues = {}
    for start in deadlines.CLOCK_STARTS:
        deadlines.complete(db_session, inspection, user_id=None, device_time=done, clock_start=start,
                           record_values={"departed_at": "2026-02-06T16:00:00+08:00"})
        dues[start] = (inspection.clock_start_on, inspection.publication_due_on)
    # counted by hand: working days after day 0, the 春节 rest days skipped, Sat 14 and Sat 28 worked
    # from Wed 11 Feb: 12, 13, 14 (Sat), 24–27, 28 (Sat), 2–6, 9–13, 16, 17 Mar
    assert dues["submission"] == (dt.date(2026, 2, 11), dt.date(2026, 3, 17))
    # from Fri 6 Feb (the visit's departure): 9–13, 14 (Sat), 24–27, 28 (Sat), 2–6, 9–12 Mar
    assert dues["inspected"] == (dt.date(2026, 2, 6), dt.date(2026, 3, 12))
    # from Fri 13 Feb (the task's end; docs/deadlines.md's worked example): Thu 19 Mar
    assert dues["task_end"] == (dt.date(2026, 2, 13), dt.date(2026, 3, 19))


def test_a_wrong_setting_stops_the_start(tmp_path):
    from backend import create_app

    with pytest.raises(RuntimeError, match="PUBLICATION_CLOCK_START"):
        create_app({"TESTING": True, "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "MEDIA_DIR": str(tmp_path / "m"),
                    "SECRET_KEY": "x" * 40, "PUBLICATION_CLOCK_START": "whenever"})
