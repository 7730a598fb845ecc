"""The demo's field work: a drawn joint task (市场监管 leads, 税务 takes part) whose first group is made of
the demo officers, so that the officers' app (/app/) opens on real assignments.

The plan, the task and its departments are written as confirmed rows (as if the 会审 had happened);
the draw is a real one through the draw services (committed lists, a public commitment, then dice
digits made from the date, so that the same demo county always draws the same group). The draw picks the officers
at random from the roster; the demo accounts
``samr_lead`` (组长), ``samr_inspector`` and ``tax_inspector`` are then linked to the officers drawn into
group 1, so they log in to that group's businesses. Nothing here runs when the task already exists.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.auth.models import User
from backend.db import Database
from backend.directory.models import Department, Inspector, Item
from backend.draws import services as draws
from backend.draws.models import GroupMember, InspectionGroup
from backend.plans.models import Plan, PlanDepartment, PlanItem, Task, TaskDepartment, TaskItem

TOWN = "411203100"                    # 大营镇: the busiest town of the demo county
ITEMS = {"SAMR": "SAMR-002", "TAX": "TAX-002"}   # not the first items: the API guide's own example task uses those
TARGETS = 4                           # businesses of the demo group
LINKS = (("samr_lead", "SAMR", True), ("samr_inspector", "SAMR", False), ("tax_inspector", "TAX", False))


@dataclasses.dataclass(frozen=True)
class FieldDemo:
    task_code: str | None
    inspections: int
    linked: dict[str, str]            # username → certificate number of the officer drawn
    note: str


def task_code(today: dt.date) -> str:
    return f"SS-{today.year}-DEMO"


def seed_field_task(db: Database, today: dt.date) -> FieldDemo:
    code = task_code(today)
    with db.session_scope() as session:
        if session.scalar(select(Task.id).where(Task.code == code)) is not None:
            return FieldDemo(None, 0, {}, f"演示联合抽查任务 {code} 已存在，未改动")
        dept = {d.code: d for d in session.scalars(select(Department).where(Department.code.in_(ITEMS)))}
        items = {i.code: i for i in session.scalars(select(Item).where(Item.code.in_(ITEMS.values())))}
        planner = session.scalar(select(User).where(User.username == "samr_planner"))
        if len(dept) < 2 or len(items) < 2 or planner is None:
            return FieldDemo(None, 0, {}, "缺少市场监管、税务部门、演示事项或计划编制员账号，未生成演示任务")
        task_id = _write_task(session, code, today, dept, items)
    actor = Actor.system("demo-seed")
    with db.session_scope() as session:
        planner = session.scalar(select(User).where(User.username == "samr_planner"))
        actor = Actor.of_user(planner)
        settings = draws.DrawSettings()
        draws.commit(session, actor, task_id, settings)
        # dice from the date: the same demo county always draws the same group. (docs/api.md's guide, run by
        # tests/api/test_api_guide.py on the demo county of 2026-06-15, links samr_inspector to the leader of
        # its own task's group 0; with these digits samr_lead is not that officer.)
        draws.seed_and_draw(session, actor, task_id, settings, source="dice", dice=f"{today:%Y%m%d}" * 3 + "1",
                            witnesses=["演示数据（自动生成，非真实摇号）"])
    with db.session_scope() as session:
        linked, count = _link_accounts(session, task_id)
    names = "、".join(f"{u}（{c}）" for u, c in linked.items())
    return FieldDemo(code, count, linked, f"演示联合抽查任务 {code} 已摇号：第 1 组 {count} 户，组员账号 {names}")


def _write_task(session: Session, code: str, today: dt.date, dept: dict, items: dict) -> int:
    samr, tax = dept["SAMR"], dept["TAX"]
    plan = Plan(code=f"JH-{today.year}-DEMO", year=today.year, name=f"{today.year} 年度市场监管与税务部门联合抽查计划（演示）",
                kind="joint", lead_department_id=samr.id, status="published", ratio_rules={},
                description="演示数据：供掌上执法应用演示现场检查、组长汇总与提交")
    plan.departments = [PlanDepartment(department_id=samr.id, role="lead"),
                        PlanDepartment(department_id=tax.id, role="participant")]
    plan.items = [PlanItem(item_id=items[ITEMS[c]].id, department_id=dept[c].id) for c in ITEMS]
    session.add(plan)
    session.flush()
    task = Task(code=code, name="企业名称规范使用与税务登记联合检查（演示）", plan_id=plan.id, lead_department_id=samr.id,
                status="confirmed", strata_mode="all", filters={"regions": [TOWN], "types": ["enterprise"]},
                strata={"all": {"num": 1, "den": 100, "min": TARGETS, "cap": TARGETS}},
                exclusions={"inspected_this_year": True, "a_class_exempt": True}, group_load=TARGETS,
                start_date=today, end_date=today + dt.timedelta(days=60), draw_date=today,
                description="演示数据：大营镇企业，市场监管局牵头、税务局参与，一组检查 4 户")
    task.departments = [TaskDepartment(department_id=samr.id, role="lead", members_per_group=2, status="confirmed"),
                        TaskDepartment(department_id=tax.id, role="participant", members_per_group=1,
                                       status="confirmed")]
    task.items = [TaskItem(item_id=items[ITEMS[c]].id, department_id=dept[c].id) for c in ITEMS]
    session.add(task)
    session.flush()
    return task.id


def _link_accounts(session: Session, task_id: int) -> tuple[dict[str, str], int]:
    """Link the demo officers' accounts to the officers drawn into group 1 (the lead to its leader)."""
    from backend.inspections.models import Inspection

    group = session.scalars(select(InspectionGroup).join(Inspection, Inspection.group_id == InspectionGroup.id)
                            .where(Inspection.task_id == task_id).order_by(InspectionGroup.number)).first()
    members = list(session.scalars(select(GroupMember).where(GroupMember.group_id == group.id)
                                   .order_by(GroupMember.position)))
    officers = {m.inspector_id: session.get(Inspector, m.inspector_id) for m in members}
    by_dept: dict[str, list[Inspector]] = {}
    for officer in officers.values():
        by_dept.setdefault(officer.department.code, []).append(officer)
    users = {u.username: u for u in session.scalars(select(User).where(User.username.in_([u for u, _, _ in LINKS])))}
    # free the drawn officers from any other account first (one account per officer)
    for other in session.scalars(select(User).where(User.inspector_id.in_(list(officers)))):
        if other.username not in users:
            other.inspector_id = None
    for user in users.values():
        user.inspector_id = None
    session.flush()
    linked = {}
    for username, code, lead in LINKS:
        user = users.get(username)
        pool = [o for o in by_dept.get(code, []) if (o.id == group.leader_id) == lead]
        if user is None or not pool:
            continue
        officer = pool[0]
        by_dept[code].remove(officer)
        user.inspector_id, user.display_name = officer.id, officer.name
        linked[username] = officer.cert_no
    session.flush()
    count = len(list(session.scalars(select(Inspection.id).where(Inspection.group_id == group.id))))
    return linked, count
