"""A drawn joint task whose group members have accounts and phones (sync clients over the test app)."""
from __future__ import annotations

import dataclasses
import uuid

import pytest
from sqlalchemy import select

from backend.actor import Actor
from backend.auth.roles import Role
from backend.draws import services as draws
from backend.inspections.models import Inspection
from backend.plans.models import TaskItem
from sync.client import Client, Response
from tests.api.draws.conftest import build_scenario


class FlaskTransport:
    """The sync client's transport over Flask's test client (no network, same app and transaction)."""

    def __init__(self, test_client):
        self.test_client = test_client
        self.fail_next: list[str] = []     # "request": lose the request; "response": apply, lose the answer

    def request(self, method, path, headers, body):
        from sync.client import NetworkError

        mode = self.fail_next.pop(0) if self.fail_next else None
        if mode == "request":
            raise NetworkError("request lost")
        r = self.test_client.open(path, method=method, headers=headers, data=body)
        if mode == "response":
            raise NetworkError("response lost")
        return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.get_data())


@dataclasses.dataclass
class Field:
    app: object
    client: object
    factory: object
    auth: object
    session: object
    task: object
    lead_dept: object
    other_dept: object
    lead_item: object
    other_item: object
    inspections: list
    members: dict        # inspector id → user
    lead_user: object
    lead_officer: object  # another officer of the lead department (not the lead)
    other_officer: object

    def phone(self, user, **kw) -> Client:
        c = Client(FlaskTransport(self.client), **kw)
        c.access_token = self.auth.token(user)
        return c

    @property
    def inspection(self):
        return self.inspections[0]

    def points(self, item) -> list[int]:
        return [cp.id for cp in item.check_points]

    def full_section(self, item, *, result="pass") -> dict:
        values = {f"items.{item.id}.method": "onsite"}
        for cp in self.points(item):
            values[f"points.{cp}.result"] = result
            values[f"points.{cp}.checked"] = True
            if result == "fail":
                values[f"points.{cp}.problem"] = "未按规定悬挂营业执照"
                values[f"points.{cp}.handling"] = ["rectify"]
                values[f"points.{cp}.photos"] = [{"id": str(uuid.uuid4()), "sha256": "ab" * 32}]
        return values


def build_field(app, client, factory, auth, db_session, *, targets=2, lead_members=2, other_members=1,
                reserve=0) -> Field:
    """A drawn task: ``targets`` businesses in one group, and ``reserve`` more left in the stratum's reserve."""
    total = targets + reserve
    s = build_scenario(factory, auth, risk=("D",), per_class=total, strata={"D": {"num": targets, "den": total}},
                       inspectors=(lead_members, other_members), members=(lead_members, other_members),
                       group_load=targets)
    other_item = factory.item(s.other, kind="key", check_points=3, name="纳税申报情况的检查",
                              methods=["onsite", "documents"])
    s.task.items.append(TaskItem(item_id=other_item.id, department_id=s.other.id))
    db_session.flush()
    admin = factory.user(Role.SYSADMIN)
    settings = draws.DrawSettings()
    draws.commit(db_session, Actor.of_user(admin), s.task.id, settings)
    draws.seed_and_draw(db_session, Actor.of_user(admin), s.task.id, settings, source="csprng")
    inspections = list(db_session.scalars(select(Inspection).where(Inspection.task_id == s.task.id)
                                          .order_by(Inspection.position)))
    from backend.draws.models import InspectionGroup

    group = db_session.get(InspectionGroup, inspections[0].group_id)
    members = {}
    for m in group.members:
        members[m.inspector_id] = factory.user(Role.INSPECTOR, m.inspector.department, inspector=m.inspector)
    lead_user = members[group.leader_id]
    lead_officer = next(u for iid, u in members.items()
                        if iid != group.leader_id and u.department_id == s.lead.id) if lead_members > 1 else None
    other_officer = next(u for u in members.values() if u.department_id == s.other.id)
    return Field(app, client, factory, auth, db_session, s.task, s.lead, s.other, s.item, other_item, inspections,
                 members, lead_user, lead_officer, other_officer)


@pytest.fixture()
def field(app, client, factory, auth, db_session) -> Field:
    return build_field(app, client, factory, auth, db_session)
