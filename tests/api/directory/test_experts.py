"""专家库: like the inspector roster — department-scoped reads and writes, unique codes, retire."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.directory.models import Expert
from tests.factories import audit_actions
from tests.hostile import send_junk


@pytest.fixture()
def depts(factory):
    return factory.department("SCJG", "市场监督管理局"), factory.department("WJW", "卫生健康委员会")


def expert_body(**over):
    body = {"code": "ex-001", "name": "钱教授", "organization": "河南大学", "title": "教授",
            "fields": ["食品检验", "微生物"], "phone": "0371-12345678"}
    body.update(over)
    return body


def count(db_session, model):
    return db_session.scalar(select(func.count()).select_from(model))


def test_dept_admin_adds_an_expert(client, auth, depts, db_session):
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    r = client.post("/api/v1/experts", json=expert_body(), headers=headers)
    assert r.status_code == 201, r.json
    assert r.json["code"] == "EX-001" and r.json["fields"] == ["食品检验", "微生物"]
    assert r.json["department_id"] == depts[0].id and r.json["status_label"] == "在库"
    assert audit_actions(db_session, "expert", r.json["id"]) == ["expert.create"]
    dup = client.post("/api/v1/experts", json=expert_body(name="另一位"), headers=headers)
    assert dup.status_code == 409 and dup.json["code"] == "expert.duplicate_code" and "钱教授" in dup.json["message"]


@pytest.mark.parametrize("over, field", [
    ({"code": ""}, "code"), ({"code": "专家一"}, "code"), ({"name": ""}, "name"), ({"fields": [1, 2]}, "fields"),
    ({"status": "active!"}, "status"), ({"organization": "x" * 129}, "organization"), ({"unknown": 1}, "unknown"),
])
def test_bad_expert_input(client, auth, depts, db_session, over, field):
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    before = count(db_session, Expert), count(db_session, AuditEntry)
    r = client.post("/api/v1/experts", json=expert_body(**over), headers=headers)
    assert r.status_code == 422 and field in r.json["errors"]["json"], r.json
    assert (count(db_session, Expert), count(db_session, AuditEntry)) == before


def test_update_suspend_and_retire(client, auth, depts, factory, db_session):
    expert = factory.expert(depts[0], fields_text=",电梯,")
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    url = f"/api/v1/experts/{expert.id}"
    r = client.patch(url, json={"status": "suspended", "fields": "锅炉，压力容器"}, headers=headers)
    assert r.status_code == 200 and r.json["status_label"] == "暂停" and r.json["fields"] == ["锅炉", "压力容器"]
    assert client.post(f"{url}/retire", json={"retired": True, "reason": "聘期届满"}, headers=headers).json["retired"]
    assert client.get("/api/v1/experts", headers=headers).json["total"] == 0
    assert client.get("/api/v1/experts", query_string={"include_retired": "true"}, headers=headers).json["total"] == 1
    assert client.patch(url, json={"name": "x"}, headers=headers).json["code"] == "expert.retired"
    assert audit_actions(db_session, "expert", expert.id) == ["expert.update", "expert.retire"]
    assert db_session.get(Expert, expert.id) is not None


def test_filters_and_order(client, auth, depts, factory):
    factory.expert(depts[0], code="EX-2", name="甲", fields_text=",电梯,", organization="特检院")
    factory.expert(depts[0], code="EX-1", name="乙", status="suspended")
    factory.expert(depts[1], code="EX-3", name="丙")
    _, headers = auth.as_role(Role.SUPERVISOR)

    def codes(**args):
        r = client.get("/api/v1/experts", query_string={"page_size": 200, **args}, headers=headers)
        assert r.status_code == 200, r.json
        return [e["code"] for e in r.json["items"]]

    assert codes() == ["EX-1", "EX-2", "EX-3"]
    assert codes(department_id=depts[0].id, status="active") == ["EX-2"]
    assert codes(field="电梯") == ["EX-2"]
    assert codes(q="特检") == ["EX-2"]
    assert client.get("/api/v1/experts", query_string={"page_size": 1, "page": 3}, headers=headers).json["items"][0][
        "code"] == "EX-3"


def test_scoping_of_reads(client, auth, depts, factory):
    mine, theirs = factory.expert(depts[0]), factory.expert(depts[1])
    for role in (Role.DEPT_ADMIN, Role.PLANNER):
        _, headers = auth.as_role(role, depts[0])
        assert [e["id"] for e in client.get("/api/v1/experts", headers=headers).json["items"]] == [mine.id]
        assert client.get(f"/api/v1/experts/{mine.id}", headers=headers).status_code == 200
        for url in (f"/api/v1/experts?department_id={depts[1].id}", f"/api/v1/experts/{theirs.id}"):
            r = client.get(url, headers=headers)
            assert r.status_code == 403 and r.json["code"] == "forbidden.department", (role, url)
    for role in (Role.SYSADMIN, Role.SUPERVISOR):
        _, headers = auth.as_role(role)
        assert client.get(f"/api/v1/experts/{theirs.id}", headers=headers).status_code == 200
        assert client.get("/api/v1/experts", headers=headers).json["total"] == 2
    _, headers = auth.as_role(Role.INSPECTOR, depts[0])
    for url in ("/api/v1/experts", f"/api/v1/experts/{mine.id}"):
        assert client.get(url, headers=headers).status_code == 403
        assert client.get(url).status_code == 401


def write_calls(expert):
    return [("post", "/api/v1/experts", expert_body(code="EX-NEW", department_id=expert.department_id)),
            ("patch", f"/api/v1/experts/{expert.id}", {"name": "改名"}),
            ("post", f"/api/v1/experts/{expert.id}/retire", {"retired": True})]


@pytest.mark.parametrize("role", [Role.PLANNER, Role.SUPERVISOR, Role.INSPECTOR])
def test_other_roles_cannot_write_experts(client, auth, depts, factory, db_session, role):
    expert = factory.expert(depts[0])
    _, headers = auth.as_role(role, depts[0])
    for method, url, body in write_calls(expert):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.role", (method, url)
    db_session.expire_all()
    assert count(db_session, Expert) == 1 and db_session.get(Expert, expert.id).retired_at is None


def test_dept_admin_of_another_department_cannot_write_experts(client, auth, depts, factory, db_session):
    expert = factory.expert(depts[1])
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    for method, url, body in write_calls(expert):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.department", (method, url)
    r = client.patch(f"/api/v1/experts/{factory.expert(depts[0]).id}", json={"department_id": depts[1].id},
                     headers=headers)
    assert r.status_code == 403
    db_session.expire_all()
    assert db_session.get(Expert, expert.id).name != "改名" and count(db_session, Expert) == 2


def test_unknown_expert_ids(client, auth):
    _, headers = auth.as_role(Role.SYSADMIN)
    for method, url, body in (("get", "/api/v1/experts/424242", None), ("patch", "/api/v1/experts/424242", {}),
                              ("post", "/api/v1/experts/424242/retire", {"retired": True})):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 404 and r.json["code"] == "expert.not_found" and r.json["message"] == "专家不存在"


# --- no input gives a 500 --------------------------------------------------------------------------


def test_no_input_gives_a_500(client, auth, depts, factory):
    expert = factory.expert(depts[0])
    _, admin = auth.as_role(Role.SYSADMIN)
    keys = list(expert_body()) + ["department_id", "status"]
    send_junk(client, "post", "/api/v1/experts", keys, admin)
    send_junk(client, "patch", f"/api/v1/experts/{expert.id}", keys, admin)
