"""Two departments confirming at the same moment: the last one in must see the other's decision."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy.exc import OperationalError

from backend.actor import Actor
from backend.auth.roles import Role
from backend.config import from_environment
from backend.plans import services
from backend.plans.models import Task
from tests.factories import Factory

pytestmark = pytest.mark.committed


def _actor(user) -> Actor:
    return Actor(user_id=user.id, label=user.username, role=user.role, department_id=user.department_id)


def test_simultaneous_confirmations_confirm_the_task(committed_db):
    with committed_db.session_scope() as session:
        f = Factory(session)
        lead, a, b = f.department(), f.department(), f.department()
        items = [f.item(d, kind="key") for d in (lead, a, b)]
        planner = f.user(Role.PLANNER, lead)
        admin = f.user(Role.DEPT_ADMIN, lead)
        deciders = [_actor(f.user(Role.PLANNER, d)) for d in (a, b)]
        lead_actor, admin_actor = _actor(planner), _actor(admin)
        plan = services.create_plan(session, lead_actor, {
            "year": 2026, "name": "并发测试计划", "kind": "joint", "participant_department_ids": [a.id, b.id],
            "item_ids": [i.id for i in items]})
        services.approve_plan(session, admin_actor, plan.id)
        services.publish_plan(session, admin_actor, plan.id)
        task = services.create_task(session, lead_actor, {
            "plan_id": plan.id, "name": "并发会审", "item_ids": [i.id for i in items],
            "departments": [{"department_id": a.id}, {"department_id": b.id}]}, from_environment()["RISK_RATIOS"])
        services.send_task(session, lead_actor, task.id)
        task_id = task.id

    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def confirm(actor):
        barrier.wait()
        for _attempt in range(50):  # SQLite refuses the second writer (HTTP 503 "busy"); a client retries
            session = committed_db.session()
            try:
                services.decide_task(session, actor, task_id, {"decision": "confirm"})
                return
            except OperationalError:
                session.rollback()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return
            finally:
                session.close()
        errors.append(RuntimeError("gave up"))

    threads = [threading.Thread(target=confirm, args=(actor,)) for actor in deciders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    with committed_db.session_scope() as session:
        task = session.get(Task, task_id)
        assert [r.status for r in task.departments] == ["confirmed"] * 3
        assert task.status == "confirmed"
