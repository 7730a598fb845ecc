"""A drawn task with its people, for the reminder tests (shared by the API and integration tests)."""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select

from backend.actor import Actor
from backend.auth.models import User
from backend.auth.roles import Role
from backend.draws import services as draws
from backend.draws.models import InspectionGroup
from backend.inspections.models import Inspection


@dataclasses.dataclass
class DrawnTask:
    scenario: object
    task: object
    inspections: list
    planner: object          # a planner of the lead department (build_scenario's)
    leader: object           # the account of the leader of the first group
    admin: object            # a department admin of the lead department
    other_planner: object    # a planner of the participating department: never reminded of the lead's task
    supervisor: object


def drawn_task(session, factory, auth, *, end_date: dt.date | None = None) -> DrawnTask:
    from tests.api.draws.conftest import build_scenario

    s = build_scenario(factory, auth, risk=("D",), per_class=3, strata={"D": {"num": 2, "den": 3}},
                       inspectors=(4, 2), group_load=2)
    system = Actor.of_user(factory.user(Role.SYSADMIN))
    settings = draws.DrawSettings()
    draws.commit(session, system, s.task.id, settings)
    draws.seed_and_draw(session, system, s.task.id, settings, source="csprng")
    task = s.task
    session.refresh(task)
    if end_date is not None:
        task.end_date = end_date
    session.flush()
    inspections = session.scalars(select(Inspection).where(Inspection.task_id == task.id)
                                  .order_by(Inspection.id)).all()
    group = session.get(InspectionGroup, inspections[0].group_id)
    planner = session.scalars(select(User).where(User.role == "planner", User.department_id == s.lead.id)).first()
    leader = factory.user(Role.INSPECTOR, inspector=group.leader)
    admin = factory.user(Role.DEPT_ADMIN, s.lead)
    other_planner = factory.user(Role.PLANNER, s.other)
    supervisor = factory.user(Role.SUPERVISOR)
    return DrawnTask(s, task, inspections, planner, leader, admin, other_planner, supervisor)
