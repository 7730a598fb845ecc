"""Benchmark: the reminder sweep over many completed, unpublished inspections (issue 12, Performance: ≤ 1 s).

    .venv/bin/python bench/reminders.py [--inspections 100000] [--url postgresql://…]

Builds a fresh database (SQLite in a temporary folder unless --url names an empty PostgreSQL database): one
department with two admins and a planner, one drawn task whose end date has passed, ``inspections`` completed
inspections over 2026 with their publication due dates (nothing is published yet: every one past its day is
overdue). Then sweeps on 2026-12-01: the first sweep records a reminder per admin and inspection due soon or
overdue, and the task's; the second (what every hourly sweep costs afterwards) finds them all and records
nothing. Prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, insert, select  # noqa: E402

from backend import migrate  # noqa: E402
from backend.db import Database, utcnow  # noqa: E402


def build(db: Database, n: int) -> None:
    import backend.models  # noqa: F401
    from backend.auth.models import User
    from backend.directory.models import Department, Inspector, Target
    from backend.draws.models import Draw, InspectionGroup
    from backend.inspections.models import Inspection
    from backend.plans.models import Plan, Task
    from backend.publication.services import work_calendar

    rng = random.Random(12)
    with db.session_scope() as s:
        dept = Department(code="B001", name="基准市场监管局", short_name="基准")
        s.add(dept)
        s.flush()
        for i, role in enumerate(("dept_admin", "dept_admin", "planner")):
            s.add(User(username=f"bench{i}", display_name=f"基准{i}", password_hash="x", role=role,
                       department_id=dept.id))
        inspector = Inspector(department_id=dept.id, cert_no="B-000001", name="检查员")
        plan = Plan(code="JH-B", year=2026, name="基准计划", lead_department_id=dept.id, status="published",
                    ratio_rules={})
        s.add_all([inspector, plan])
        s.flush()
        task = Task(code="SS-B", name="基准任务", plan_id=plan.id, lead_department_id=dept.id, status="drawn",
                    end_date=dt.date(2026, 11, 20))
        s.add(task)
        s.flush()
        draw = Draw(task_id=task.id, seq=1, status="drawn", plan={}, plan_hash="0" * 64, targets_hash="0" * 64,
                    inspectors_hash="0" * 64, commitment="0" * 64, counts={})
        s.add(draw)
        s.flush()
        group = InspectionGroup(draw_id=draw.id, task_id=task.id, number=0, leader_id=inspector.id)
        s.add(group)
        s.flush()
        now = utcnow()
        for start in range(0, n, 10000):
            rows = [{"code": f"B{i:09d}", "name": f"基准企业{i}", "type": "enterprise", "status": "active",
                     "tags_text": "", "created_at": now, "updated_at": now} for i in range(start, min(n, start + 10000))]
            s.execute(insert(Target), rows)
        target_ids = s.scalars(select(Target.id).order_by(Target.id)).all()
        cal = work_calendar(s)
        rows = []
        for position, target_id in enumerate(target_ids):
            done = dt.date(2026, 1, 5) + dt.timedelta(days=rng.randrange(330))
            rows.append({"task_id": task.id, "draw_id": draw.id, "group_id": group.id, "target_id": target_id,
                         "stratum": "B", "position": position, "status": "completed" if position else "assigned",
                         "completed_on": done, "publication_due_on": cal.add_working_days(done, 20).day,
                         "due_provisional": False, "created_at": now, "updated_at": now})
        for start in range(0, len(rows), 10000):
            s.execute(insert(Inspection), rows[start:start + 10000])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--inspections", type=int, default=100_000)
    parser.add_argument("--url", default=None)
    args = parser.parse_args()
    url = args.url or f"sqlite:///{Path(tempfile.mkdtemp()) / 'reminders.db'}"
    migrate.upgrade(url)
    db = Database(url)
    started = time.perf_counter()
    build(db, args.inspections)
    print(f"{db.dialect}: {args.inspections} inspections built in {time.perf_counter() - started:.1f} s")

    from backend.notifications.models import Notification
    from backend.notifications.services import sweep

    for label in ("first sweep (records everything due)", "next sweep (nothing new)", "and the next"):
        with db.session_scope() as s:
            started = time.perf_counter()
            result = sweep(s, dt.date(2026, 12, 1))
            elapsed = time.perf_counter() - started
        print(f"{label}: {elapsed * 1000:.0f} ms, {result.created} new, by kind {result.by_kind}")
    with db.session_scope(write=False) as s:
        print(f"notifications: {s.scalar(select(func.count()).select_from(Notification))}")


if __name__ == "__main__":
    main()
