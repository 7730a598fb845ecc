"""Reminders for real: two sweeps at once record each reminder once (SQLite and PostgreSQL), and the sweep
fires through rq's own cron (`rq cron`, `shuangsui reminders cron`) and a real rq worker on Redis, with the
clock moved forward."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import threading
import time
import uuid

from sqlalchemy import func, select

from backend.notifications import services
from backend.notifications.channels import LoggingNotifier
from backend.notifications.models import Notification
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET
from tests.factories import AuthActions, Factory

D = dt.date
RQ = os.path.join(os.path.dirname(sys.executable), "rq")     # rq's own command


def _world(db, app, end_date=None):
    from tests.api.notifications.world import drawn_task

    with db.session_scope() as session:
        factory = Factory(session)
        w = drawn_task(session, factory, AuthActions(app, factory), end_date=end_date or D(2026, 2, 27))
        return {"task": w.task.id, "people": {w.planner.id, w.leader.id}}


def _notes(db):
    with db.session_scope(write=False) as session:
        return sorted(tuple(r) for r in session.execute(
            select(Notification.user_id, Notification.subject_id, Notification.state)
            .where(Notification.kind == "task.end_date")))


def test_insert_once_skips_a_reminder_already_there(committed_db, app):
    w = _world(committed_db, app)
    row = {"user_id": min(w["people"]), "kind": "task.end_date", "subject_type": "task", "subject_id": str(w["task"]),
           "state": "due_soon", "title": "抽查任务即将到期", "body": "—", "link": None, "due_on": None,
           "created_at": dt.datetime.now(dt.timezone.utc)}
    with committed_db.session_scope() as session:
        assert len(services._insert_once(session, [row, dict(row, state="overdue")])) == 2
    with committed_db.session_scope() as session:
        assert services._insert_once(session, [row]) == []


def test_two_sweeps_at_once_record_and_send_each_reminder_once(committed_db, app, monkeypatch):
    """Both sweeps see no reminder yet and both insert (on PostgreSQL truly at once: a barrier holds both
    between reading and inserting; SQLite lets one writer in at a time): the unique key lets one insert win,
    the other's conflicts and is skipped, and only the winner sends."""
    w = _world(committed_db, app)
    postgres = committed_db.dialect == "postgresql"
    barrier = threading.Barrier(2, timeout=30)
    original = services._insert_once

    def insert_together(session, rows):
        if postgres:
            barrier.wait()
        return original(session, rows)

    monkeypatch.setattr(services, "_insert_once", insert_together)
    results, errors, channels = [], [], [LoggingNotifier("sms"), LoggingNotifier("sms")]

    def run(channel):
        try:
            with committed_db.session_scope() as session:
                results.append(services.sweep(session, D(2026, 2, 13), [channel], only=["task.end_date"]))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in channels]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    people = w["people"]
    assert sum(r.created for r in results) == len(people)
    assert sum(len(c.sent) for c in channels) == len(people)
    assert _notes(committed_db) == sorted((u, str(w["task"]), "due_soon") for u in people)


def test_two_set_based_sweeps_at_once_record_and_send_each_reminder_once(committed_db, app, monkeypatch):
    """The same for the reminders inserted straight from a SELECT (publication.due, followup.deadline): both
    sweeps select the same rows (on PostgreSQL a barrier holds both before their INSERT … SELECT), one insert
    wins each row, the other waits for it and skips it; only the winner sends."""
    import uuid

    from backend.followups.models import Followup
    from backend.inspections.models import Inspection
    from backend.publication.services import work_calendar
    from tests.api.notifications.world import drawn_task

    with committed_db.session_scope() as session:
        factory = Factory(session)
        w = drawn_task(session, factory, AuthActions(app, factory))
        cal = work_calendar(session)
        for inspection in w.inspections[:2]:
            inspection = session.get(Inspection, inspection.id)
            inspection.status, inspection.completed_on = "completed", D(2026, 9, 11)
            inspection.publication_due_on = cal.add_working_days(inspection.completed_on, 20).day
            session.add(Followup(uid=str(uuid.uuid4()), inspection_id=inspection.id, task_id=inspection.task_id,
                                 target_id=inspection.target_id, department_id=w.scenario.lead.id,
                                 lead_department_id=w.scenario.lead.id, action="rectify", state="ordered",
                                 due_on=D(2026, 10, 12), created_by=w.planner.id))
    postgres = committed_db.dialect == "postgresql"
    barrier, waited = threading.Barrier(2, timeout=30), threading.local()
    original = services._insert_selected

    def insert_together(session, stmt, now):
        if postgres and not getattr(waited, "done", False):    # each sweep's first insert: together
            waited.done = True
            barrier.wait()
        return original(session, stmt, now)

    monkeypatch.setattr(services, "_insert_selected", insert_together)
    results, errors, channels = [], [], [LoggingNotifier("sms"), LoggingNotifier("sms")]
    only = ["publication.due", "followup.deadline"]

    def run(channel):
        try:
            with committed_db.session_scope() as session:
                results.append(services.sweep(session, D(2026, 10, 16), [channel], only=only))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(c,)) for c in channels]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    # two inspections to the lead's admin; two follow-ups to the admin and their opener
    expected = 2 + 2 * 2
    assert sum(r.created for r in results) == expected
    assert sum(len(c.sent) for c in channels) == expected
    with committed_db.session_scope(write=False) as session:
        keys = session.execute(select(Notification.kind, Notification.subject_id, Notification.user_id)
                               .where(Notification.kind.in_(only))).all()
    assert len(keys) == len(set(keys)) == expected


def _env(db, redis_url, queue, tmp_path, **extra):
    env = {**os.environ, "DATABASE_URL": db.url, "REDIS_URL": redis_url, "RQ_QUEUE": queue,
           "SECRET_KEY": TEST_SECRET, "AUDIT_KEY": TEST_AUDIT_KEY, "MEDIA_DIR": str(tmp_path / "media"),
           "PYTHONPATH": os.getcwd()}
    env.update(extra)
    return env


def _cron_enqueues(argv, env, queue, expected: int):
    """Start a cron scheduler, wait until it has put ``expected`` jobs on the queue (an interval job runs at
    once when the scheduler starts), then stop it."""
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while queue.count < expected:
            assert proc.poll() is None, proc.stdout.read()[-3000:]
            assert time.monotonic() < deadline, "the cron scheduler enqueued nothing"
            time.sleep(0.2)
    finally:
        proc.terminate()
        proc.wait(30)


def _burst_workers(env, n: int = 1):
    workers = [subprocess.Popen([sys.executable, "-m", "backend.cli", "jobs", "worker", "--burst"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]
    for worker in workers:
        _, err = worker.communicate(timeout=180)
        assert worker.returncode == 0, err[-3000:]


def test_reminders_fire_from_rq_cron_and_a_real_worker_with_the_clock_moved_forward(committed_db, app, redis_url, tmp_path):
    from redis import Redis
    from rq import Queue

    w = _world(committed_db, app)
    people = w["people"]
    name = f"test-{uuid.uuid4().hex[:8]}"
    queue = Queue(name, connection=Redis.from_url(redis_url))
    try:
        # 12 February 2026: six working days to the end date (13, 14 February, 24–27): nothing yet; then the clock
        # moves to Friday 13 February: due soon, to the lead's planner and the group's leader. Each day's scheduler
        # puts its sweep (the day in its arguments) on the queue; one worker runs both, in that order
        for day in ("2026-02-12", "2026-02-13"):
            env = _env(committed_db, redis_url, name, tmp_path, REMINDERS_TODAY=day)
            _cron_enqueues([RQ, "cron", "backend.notifications.cron_config", "--url", redis_url],
                           env, queue, queue.count + 1)
        assert queue.count == 2
        _burst_workers(env)
        assert _notes(committed_db) == sorted((u, str(w["task"]), "due_soon") for u in people)
        # then to 28 February, past the end date: two schedulers (the project's command this time) put two
        # sweeps on the queue, two workers run them at once: overdue, once each
        env = _env(committed_db, redis_url, name, tmp_path)
        for _ in range(2):
            _cron_enqueues([sys.executable, "-m", "backend.cli", "reminders", "cron", "--interval", "1",
                            "--today", "2026-02-28"], env, queue, queue.count + 1)
        assert queue.count == 2
        _burst_workers(env, 2)
        assert _notes(committed_db) == sorted([(u, str(w["task"]), "due_soon") for u in people]
                                              + [(u, str(w["task"]), "overdue") for u in people])
        # each run is a job of the job table, done, with what it found
        from backend.jobs.models import Job

        with committed_db.session_scope(write=False) as session:
            runs = session.scalars(select(Job).where(Job.name == "reminders.sweep").order_by(Job.created_at)).all()
            assert [j.status for j in runs] == ["done"] * 4 and {j.backend for j in runs} == {"rq"}
            assert [j.result["today"] for j in runs] == ["2026-02-12", "2026-02-13", "2026-02-28", "2026-02-28"]
            assert [j.result["created"] for j in runs[:2]] == [0, len(people)]    # nothing on the 12th
            assert sorted(j.result["created"] for j in runs[2:]) == [0, len(people)]
            assert session.scalar(select(func.count()).select_from(Notification)) == 2 * len(people)
    finally:
        queue.delete(delete_jobs=True)


def test_the_embedded_default_sweeps_on_a_timer_in_the_server_process(committed_db, app, tmp_path):
    """No Redis: the first request starts a timer thread that sweeps (off in tests unless asked, never in a CLI)."""
    from backend.publication.calendar import beijing_date
    from tests.conftest import make_test_app

    w = _world(committed_db, app, end_date=beijing_date())        # due today: due soon
    assert "shuangsui.reminder_timer" not in app.extensions      # the suite's app: off
    client = app.test_client()
    client.get("/api/v1/regions")
    assert "shuangsui.reminder_timer" not in app.extensions
    served = make_test_app(committed_db, tmp_path, REMINDERS_TIMER_IN_TESTS=True, REMINDERS_FIRST_DELAY_SECONDS=0,
                           REMINDERS_SWEEP_MINUTES=60)
    assert "shuangsui.reminder_timer" not in served.extensions   # not before it serves a request
    served.test_client().get("/api/v1/regions")
    timer = served.extensions["shuangsui.reminder_timer"]
    try:
        deadline = time.monotonic() + 60
        while len(_notes(committed_db)) < len(w["people"]):
            assert time.monotonic() < deadline, "the timer swept nothing"
            time.sleep(0.2)
        assert _notes(committed_db) == sorted((u, str(w["task"]), "due_soon") for u in w["people"])
    finally:
        timer.stop()
    served.test_client().get("/api/v1/regions")
    assert served.extensions["shuangsui.reminder_timer"] is timer     # one timer per process
