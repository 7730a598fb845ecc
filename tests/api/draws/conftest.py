"""A confirmed joint task, built row by row, ready to draw."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from backend.auth.roles import Role
from backend.plans.models import Plan, PlanDepartment, PlanItem, Task, TaskDepartment, TaskItem


@dataclasses.dataclass
class Scenario:
    task: Task
    lead: object
    other: object
    targets: list
    inspectors: dict
    headers: dict          # planner of the lead department
    item: object


@pytest.fixture()
def scenario(factory, auth):
    return lambda **kw: build_scenario(factory, auth, **kw)


def build_scenario(factory, auth, *, strata=None, risk=("A", "B", "C", "D"), per_class=10, inspectors=(16, 9),
                   members=(2, 1), group_load=2, status="confirmed", exclusions=None, strata_mode="risk", code=None) -> Scenario:
    lead = factory.department()
    other = factory.department()
    item = factory.item(lead, kind="key")
    plan = Plan(code=f"JH-{lead.code}", year=2026, name="2026 年度联合抽查计划", kind="joint",
                lead_department_id=lead.id, status="published", ratio_rules={})
    plan.departments = [PlanDepartment(department_id=lead.id, role="lead"),
                        PlanDepartment(department_id=other.id, role="participant")]
    plan.items = [PlanItem(item_id=item.id, department_id=lead.id)]
    factory._add(plan)
    task = Task(code=code or f"SS-2026-{lead.code}", name="联合抽查任务", plan_id=plan.id,
                lead_department_id=lead.id, status=status, strata_mode=strata_mode,
                filters={"tags": [f"场景{lead.code}"]},  # directed at this scenario's targets only
                strata=strata or {"A": {"num": 1, "den": 10, "min": 1}, "B": {"num": 2, "den": 10},
                                  "C": {"num": 5, "den": 10}, "D": {"num": 1, "den": 1, "cap": 6}},
                exclusions=exclusions or {"inspected_this_year": True, "a_class_exempt": True},
                group_load=group_load, start_date=dt.date(2026, 4, 1), end_date=dt.date(2026, 6, 30))
    task.departments = [TaskDepartment(department_id=lead.id, role="lead", members_per_group=members[0],
                                       status="confirmed"),
                        TaskDepartment(department_id=other.id, role="participant",
                                       members_per_group=members[1],
                                       status="confirmed" if status == "confirmed" else "pending")]
    task.items = [TaskItem(item_id=item.id, department_id=lead.id)]
    factory._add(task)
    targets = [factory.target(risk_class=r, tags=[f"场景{lead.code}"]) for r in risk for _ in range(per_class)]
    roster = {lead.code: [factory.inspector(lead) for _ in range(inspectors[0])],
              other.code: [factory.inspector(other) for _ in range(inspectors[1])]}
    _, headers = auth.as_role(Role.PLANNER, lead)
    return Scenario(task, lead, other, targets, roster, headers, item)
