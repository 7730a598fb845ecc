"""A small world for plans and tasks: a lead department, a participating one, an outsider, their items and people."""
from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role


@dataclasses.dataclass
class World:
    client: object
    lead: object
    part: object
    other: object
    item_general: object      # lead's general item, cap 5%
    item_key: object          # lead's key item, no cap
    item_part: object         # participant's general item, cap 10%
    item_other: object        # the outsider's item
    h: dict                   # headers by name

    # --- plans -------------------------------------------------------------------------
    def plan_body(self, **over) -> dict:
        body = {"year": 2026, "name": "2026年度联合抽查计划", "kind": "joint",
                "participant_department_ids": [self.part.id],
                "item_ids": [self.item_general.id, self.item_key.id, self.item_part.id],
                "batches": [{"seq": 1, "name": "第一批", "months": [4, 5, 6], "planned_count": 100},
                            {"seq": 2, "name": "第二批", "months": [9, 10], "planned_count": 50}],
                "ratio_rules": {"A": {"num": 1, "den": 100, "min": 1}, "D": {"num": 5, "den": 100}}}
        body.update(over)
        return body

    def create_plan(self, who: str = "lead_planner", expect: int = 201, **over) -> dict:
        r = self.client.post("/api/v1/plans", json=self.plan_body(**over), headers=self.h[who])
        assert r.status_code == expect, r.json
        return r.json

    def published_plan(self, **over) -> dict:
        plan = self.create_plan(**over)
        self.ok("post", f"/api/v1/plans/{plan['id']}/approve", "lead_admin")
        return self.ok("post", f"/api/v1/plans/{plan['id']}/publish", "lead_admin")

    # --- tasks -------------------------------------------------------------------------
    def task_body(self, plan: dict, **over) -> dict:
        body = {"plan_id": plan["id"], "name": "2026年第一批联合抽查",
                "departments": [{"department_id": self.lead.id, "members_per_group": 2},
                                {"department_id": self.part.id, "members_per_group": 1}],
                "item_ids": [self.item_general.id, self.item_part.id],
                "strata": {"A": {"num": 1, "den": 100, "min": 1}, "B": {"num": 2, "den": 100},
                           "C": {"num": 3, "den": 100}, "D": {"num": 5, "den": 100}, "U": {"num": 3, "den": 100}},
                "group_load": 5, "start_date": "2026-04-01", "end_date": "2026-06-30", "draw_date": "2026-03-25"}
        body.update(over)
        return body

    def create_task(self, plan: dict | None = None, who: str = "lead_planner", expect: int = 201, **over) -> dict:
        plan = plan or self.published_plan()
        r = self.client.post("/api/v1/tasks", json=self.task_body(plan, **over), headers=self.h[who])
        assert r.status_code == expect, r.json
        return r.json

    # --- requests ----------------------------------------------------------------------
    def call(self, method: str, url: str, who: str | None = None, json=None):
        headers = self.h[who] if who else {}
        kwargs = {"headers": headers}
        if json is not None:
            kwargs["json"] = json
        return getattr(self.client, method)(url, **kwargs)

    def ok(self, method: str, url: str, who: str, json=None, status: int = 200) -> dict:
        r = self.call(method, url, who, json)
        assert r.status_code == status, (r.status_code, r.json)
        return r.json

    def err(self, method: str, url: str, who: str | None, json=None, status: int = 422,
            code: str | None = None) -> dict:
        r = self.call(method, url, who, json)
        assert r.status_code == status, (r.status_code, r.json)
        body = r.json
        assert body["status"] == status and body["message"], body
        if code is not None:
            assert body["code"] == code, body
        return body


@pytest.fixture()
def w(client, factory, auth, db_session) -> World:
    lead = factory.department()
    part = factory.department()
    other = factory.department()
    item_general = factory.item(lead, kind="general", ratio_cap_percent=5, methods=["onsite", "documents"],
                                name="营业执照规范使用情况的检查")
    item_key = factory.item(lead, kind="key", ratio_cap_percent=None, name="食品生产许可情况的检查")
    item_part = factory.item(part, kind="general", ratio_cap_percent=10, methods=["online"], name="纳税申报检查")
    item_other = factory.item(other, kind="general", name="他部门事项")
    headers = {}
    for name, role, dept in [
        ("lead_planner", Role.PLANNER, lead), ("lead_admin", Role.DEPT_ADMIN, lead),
        ("part_planner", Role.PLANNER, part), ("part_admin", Role.DEPT_ADMIN, part),
        ("other_planner", Role.PLANNER, other), ("other_admin", Role.DEPT_ADMIN, other),
        ("lead_inspector", Role.INSPECTOR, lead), ("part_inspector", Role.INSPECTOR, part),
        ("sysadmin", Role.SYSADMIN, None), ("supervisor", Role.SUPERVISOR, None),
    ]:
        headers[name] = auth.as_role(role, dept)[1]
    return World(client, lead, part, other, item_general, item_key, item_part, item_other, headers)


@pytest.fixture()
def audit_of(db_session):
    def entries(entity_type: str, entity_id, action: str | None = None) -> list[AuditEntry]:
        stmt = select(AuditEntry).where(AuditEntry.entity_type == entity_type,
                                        AuditEntry.entity_id == str(entity_id)).order_by(AuditEntry.id)
        if action:
            stmt = stmt.where(AuditEntry.action == action)
        return db_session.scalars(stmt).all()

    return entries
