"""执法检查人员名录库: department-scoped reads and writes, unique certificates, declared conflicts (回避)."""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.directory.models import Inspector, InspectorConflict
from tests.factories import audit_actions
from tests.hostile import send_junk


@pytest.fixture()
def depts(factory):
    return factory.department("SCJG", "市场监督管理局"), factory.department("WJW", "卫生健康委员会")


def inspector_body(**over):
    body = {"cert_no": "豫A 0001 2345", "name": "王五", "phone": "13800138000", "position": "科员",
            "qualifications": ["食品安全", "特种设备"], "expertise": "餐饮,电梯", "status": "active"}
    body.update(over)
    return body


def count(db_session, model):
    return db_session.scalar(select(func.count()).select_from(model))


# --- writes ----------------------------------------------------------------------------------------

def test_dept_admin_adds_an_inspector_to_their_department(client, auth, depts, db_session):
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    r = client.post("/api/v1/inspectors", json=inspector_body(), headers=headers)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["cert_no"] == "豫A00012345" and body["department_id"] == depts[0].id
    assert body["department_name"] == "市场监督管理局" and body["status_label"] == "在岗"
    assert body["qualifications"] == ["食品安全", "特种设备"] and body["expertise"] == ["餐饮", "电梯"]
    assert body["conflicts"] == []
    assert audit_actions(db_session, "inspector", body["id"]) == ["inspector.create"]


def test_a_person_entered_twice_is_refused_naming_the_holder(client, auth, depts, factory, db_session):
    factory.inspector(depts[1], cert_no="豫A00012345", name="赵六")
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    before = count(db_session, Inspector)
    r = client.post("/api/v1/inspectors", json=inspector_body(cert_no="豫a 00012345"), headers=headers)
    assert r.status_code == 409 and r.json["code"] == "inspector.duplicate_cert_no"
    assert "赵六" in r.json["message"] and "卫生健康委员会" in r.json["message"]
    assert count(db_session, Inspector) == before
    mine = factory.inspector(depts[0])
    r = client.patch(f"/api/v1/inspectors/{mine.id}", json={"cert_no": "豫A00012345"}, headers=headers)
    assert r.status_code == 409 and r.json["code"] == "inspector.duplicate_cert_no"


@pytest.mark.parametrize("over, field, text", [
    ({"cert_no": ""}, "cert_no", "不能为空"),
    ({"cert_no": "x" * 33}, "cert_no", "32"),
    ({"cert_no": "A<script>"}, "cert_no", "执法证号"),
    ({"name": None}, "name", "不能为空"),
    ({"status": "retired"}, "status", "状态必须是"),
    ({"qualifications": "食品"}, "qualifications", "应为列表"),
    ({"qualifications": ["a"] * 21}, "qualifications", "不能超过 20"),
    ({"qualifications": ["x" * 65]}, "qualifications", "64"),
    ({"expertise": 5}, "expertise", "标签"),
    ({"expertise": "电梯," + "x" * 33}, "expertise", "单个标签不能超过 32 个字符"),
    ({"phone": "x" * 40}, "phone", ""),
    ({"department_id": 0}, "department_id", "编号无效"),
    ({"region_code": "abc"}, "region_code", "6 位或 9 位"),
])
def test_bad_inspector_input(client, auth, depts, db_session, over, field, text):
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    before = count(db_session, Inspector), count(db_session, AuditEntry)
    r = client.post("/api/v1/inspectors", json=inspector_body(**over), headers=headers)
    assert r.status_code == 422, r.json
    assert text in str(r.json["errors"]["json"][field])
    assert (count(db_session, Inspector), count(db_session, AuditEntry)) == before


def test_update_status_and_retire(client, auth, depts, factory, db_session):
    inspector = factory.inspector(depts[0], name="孙七")
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    url = f"/api/v1/inspectors/{inspector.id}"
    r = client.patch(url, json={"status": "on_leave", "expertise": ["药品"], "qualifications": []}, headers=headers)
    assert r.status_code == 200 and r.json["status_label"] == "休假/请假" and r.json["expertise"] == ["药品"]
    r = client.post(f"{url}/retire", json={"retired": True, "reason": "退休"}, headers=headers)
    assert r.status_code == 200 and r.json["retired"] is True
    assert inspector.cert_no not in [i["cert_no"] for i in client.get("/api/v1/inspectors", headers=headers).json["items"]]
    assert client.patch(url, json={"name": "x"}, headers=headers).json["code"] == "inspector.retired"
    client.post(f"{url}/retire", json={"retired": False}, headers=headers)
    assert audit_actions(db_session, "inspector", inspector.id) == ["inspector.update", "inspector.retire",
                                                                   "inspector.unretire"]
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "inspector.update",
                                                       AuditEntry.entity_id == str(inspector.id)))
    assert entry.detail["changed"]["status"] == ["active", "on_leave"]


def test_sysadmin_moves_an_inspector_a_dept_admin_cannot(client, auth, depts, factory):
    own, other = depts
    inspector = factory.inspector(own)
    _, headers = auth.as_role(Role.DEPT_ADMIN, own)
    r = client.patch(f"/api/v1/inspectors/{inspector.id}", json={"department_id": other.id}, headers=headers)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    _, admin = auth.as_role(Role.SYSADMIN)
    r = client.patch(f"/api/v1/inspectors/{inspector.id}", json={"department_id": other.id}, headers=admin)
    assert r.status_code == 200 and r.json["department_name"] == "卫生健康委员会"
    r = client.post("/api/v1/inspectors", json=inspector_body(), headers=admin)
    assert r.status_code == 422 and r.json["code"] == "inspector.department_required"


# --- conflicts of interest -------------------------------------------------------------------------

def test_declare_and_retire_conflicts(client, auth, depts, factory, db_session):
    inspector = factory.inspector(depts[0])
    by_id, by_code = factory.target(name="亲属开的店"), factory.target(name="前雇主")
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    url = f"/api/v1/inspectors/{inspector.id}/conflicts"
    r = client.post(url, json={"target_id": by_id.id, "reason": "配偶任该企业法定代表人"}, headers=headers)
    assert r.status_code == 201 and r.json["target_name"] == "亲属开的店" and r.json["retired"] is False
    first = r.json["id"]
    r = client.post(url, json={"target_code": by_code.code.lower(), "reason": "曾在该企业任职"}, headers=headers)
    assert r.status_code == 201 and r.json["target_id"] == by_code.id
    r = client.post(url, json={"target_id": by_id.id, "reason": "再次申报"}, headers=headers)
    assert r.status_code == 409 and r.json["code"] == "conflict.duplicate" and "亲属开的店" in r.json["message"]
    assert [c["target_name"] for c in client.get(url, headers=headers).json] == ["亲属开的店", "前雇主"]
    detail = client.get(f"/api/v1/inspectors/{inspector.id}", headers=headers).json
    assert [c["target_name"] for c in detail["conflicts"]] == ["亲属开的店", "前雇主"]

    r = client.post(f"{url}/{first}/retire", json={"retired": True, "reason": "已离婚"}, headers=headers)
    assert r.status_code == 200 and r.json["retired"] is True
    assert [c["target_name"] for c in client.get(url, headers=headers).json] == ["前雇主"]
    assert len(client.get(url, query_string={"include_retired": "1"}, headers=headers).json) == 2
    # declaring it again restores the same row with the new reason
    r = client.post(url, json={"target_id": by_id.id, "reason": "复婚"}, headers=headers)
    assert r.status_code == 201 and r.json["id"] == first and r.json["reason"] == "复婚" and r.json["retired"] is False
    assert audit_actions(db_session, "inspector_conflict", first) == [
        "inspector_conflict.declare", "inspector_conflict.retire", "inspector_conflict.declare"]
    assert count(db_session, InspectorConflict) == 2


def test_bad_conflict_input(client, auth, depts, factory, db_session):
    inspector = factory.inspector(depts[0])
    other_inspector = factory.inspector(depts[0])
    target = factory.target()
    conflict = factory.conflict(other_inspector, target)
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    url = f"/api/v1/inspectors/{inspector.id}/conflicts"
    for body, field in (({"reason": "x"}, "target_id"), ({"target_id": target.id}, "reason"),
                        ({"target_id": target.id, "target_code": target.code, "reason": "x"}, "target_code"),
                        ({"target_id": "abc", "reason": "x"}, "target_id"),
                        ({"target_id": target.id, "reason": "x" * 201}, "reason")):
        r = client.post(url, json=body, headers=headers)
        assert r.status_code == 422 and field in r.json["errors"]["json"], body
    r = client.post(url, json={"target_id": 99999999, "reason": "x"}, headers=headers)
    assert r.status_code == 422 and r.json["code"] == "conflict.unknown_target"
    assert r.json["errors"] == {"target_id": ["检查对象不存在"]}
    r = client.post(url, json={"target_code": "NO-SUCH", "reason": "x"}, headers=headers)
    assert r.status_code == 422 and r.json["errors"] == {"target_code": ["检查对象不存在"]}
    # another inspector's declaration is not reachable through this inspector
    r = client.post(f"{url}/{conflict.id}/retire", json={"retired": True}, headers=headers)
    assert r.status_code == 404 and r.json["code"] == "conflict.not_found"
    assert count(db_session, InspectorConflict) == 1


# --- reads and scoping -----------------------------------------------------------------------------

def test_list_filters_search_and_order(client, auth, depts, factory):
    own, other = depts
    factory.inspector(own, cert_no="SCJG-002", name="甲", expertise_text=",餐饮,电梯,", qualifications=["特种设备检验"])
    factory.inspector(own, cert_no="SCJG-001", name="乙", status="on_leave")
    factory.inspector(other, cert_no="WJW-001", name="丙")
    _, headers = auth.as_role(Role.SUPERVISOR)

    def certs(**args):
        r = client.get("/api/v1/inspectors", query_string={"page_size": 200, **args}, headers=headers)
        assert r.status_code == 200, r.json
        return [i["cert_no"] for i in r.json["items"]]

    assert certs() == ["SCJG-001", "SCJG-002", "WJW-001"]  # by department, then certificate
    assert certs(department_id=own.id, status="active") == ["SCJG-002"]
    assert certs(expertise="电梯") == ["SCJG-002"]
    assert certs(qualification="特种设备") == ["SCJG-002"]
    assert certs(q="scjg") == ["SCJG-001", "SCJG-002"]
    assert certs(q="丙") == ["WJW-001"]
    page = client.get("/api/v1/inspectors", query_string={"page_size": 2, "page": 2}, headers=headers).json
    assert page["total"] == 3 and [i["cert_no"] for i in page["items"]] == ["WJW-001"]


def test_dept_admin_and_planner_see_only_their_department(client, auth, depts, factory):
    own, other = depts
    mine, theirs = factory.inspector(own), factory.inspector(other)
    factory.conflict(theirs, factory.target())
    for role in (Role.DEPT_ADMIN, Role.PLANNER):
        _, headers = auth.as_role(role, own)
        listed = client.get("/api/v1/inspectors", headers=headers).json["items"]
        assert [i["id"] for i in listed] == [mine.id]
        assert client.get(f"/api/v1/inspectors/{mine.id}", headers=headers).status_code == 200
        for url in ("/api/v1/inspectors?department_id=%d" % other.id, f"/api/v1/inspectors/{theirs.id}",
                    f"/api/v1/inspectors/{theirs.id}/conflicts"):
            r = client.get(url, headers=headers)
            assert r.status_code == 403 and r.json["code"] == "forbidden.department", (role, url)


def test_sysadmin_and_supervisor_see_every_department(client, auth, depts, factory):
    theirs = factory.inspector(depts[1])
    for role in (Role.SYSADMIN, Role.SUPERVISOR):
        _, headers = auth.as_role(role)
        assert client.get(f"/api/v1/inspectors/{theirs.id}", headers=headers).status_code == 200
        assert client.get(f"/api/v1/inspectors/{theirs.id}/conflicts", headers=headers).status_code == 200
        assert client.get("/api/v1/inspectors", query_string={"department_id": depts[1].id},
                          headers=headers).json["total"] == 1


def test_inspector_list_runs_a_fixed_number_of_queries(client, auth, depts, factory, database):
    for n in range(10):
        factory.inspector(depts[n % 2])
    _, headers = auth.as_role(Role.SUPERVISOR)
    statements = []

    def count_statement(*_args):
        statements.append(1)

    event.listen(database.engine, "before_cursor_execute", count_statement)
    try:
        r = client.get("/api/v1/inspectors", query_string={"page_size": 50}, headers=headers)
    finally:
        event.remove(database.engine, "before_cursor_execute", count_statement)
    assert r.status_code == 200 and r.json["total"] == 10
    assert len(statements) <= 5  # user lookup + count + page, not one per row


def write_calls(inspector, conflict):
    return [("post", "/api/v1/inspectors", inspector_body(department_id=inspector.department_id)),
            ("patch", f"/api/v1/inspectors/{inspector.id}", {"name": "改名"}),
            ("post", f"/api/v1/inspectors/{inspector.id}/retire", {"retired": True}),
            ("post", f"/api/v1/inspectors/{inspector.id}/conflicts", {"target_id": conflict.target_id, "reason": "x"}),
            ("post", f"/api/v1/inspectors/{inspector.id}/conflicts/{conflict.id}/retire", {"retired": True})]


@pytest.mark.parametrize("role", [Role.PLANNER, Role.SUPERVISOR, Role.INSPECTOR])
def test_other_roles_cannot_write_the_roster(client, auth, depts, factory, db_session, role):
    inspector = factory.inspector(depts[0])
    conflict = factory.conflict(inspector, factory.target())
    _, headers = auth.as_role(role, depts[0])
    for method, url, body in write_calls(inspector, conflict):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.role", (method, url)
        assert getattr(client, method)(url, json=body).status_code == 401
    db_session.expire_all()
    assert count(db_session, Inspector) == 1 and db_session.get(InspectorConflict, conflict.id).retired_at is None


def test_dept_admin_of_another_department_cannot_write(client, auth, depts, factory, db_session):
    inspector = factory.inspector(depts[1])
    conflict = factory.conflict(inspector, factory.target())
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    for method, url, body in write_calls(inspector, conflict):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.department", (method, url)
    db_session.expire_all()
    assert db_session.get(Inspector, inspector.id).name != "改名" and count(db_session, Inspector) == 1


def test_inspectors_read_only_their_own_entry(client, auth, depts, factory):
    me = factory.inspector(depts[0], name="本人", expertise_text=",电梯,")
    factory.conflict(me, factory.target(name="须回避的公司"))
    user, headers = auth.as_role(Role.INSPECTOR, depts[0], inspector=me)
    r = client.get("/api/v1/me/inspector", headers=headers)
    assert r.status_code == 200 and r.json["id"] == me.id and r.json["expertise"] == ["电梯"]
    assert [c["target_name"] for c in r.json["conflicts"]] == ["须回避的公司"]
    for url in ("/api/v1/inspectors", f"/api/v1/inspectors/{me.id}", f"/api/v1/inspectors/{me.id}/conflicts",
                "/api/v1/experts"):
        r = client.get(url, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.role", url
    _, unlinked = auth.as_role(Role.INSPECTOR, depts[0])
    r = client.get("/api/v1/me/inspector", headers=unlinked)
    assert r.status_code == 404 and r.json["code"] == "inspector.not_linked"
    for role in (Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.SUPERVISOR):
        _, headers = auth.as_role(role, depts[0])
        assert client.get("/api/v1/me/inspector", headers=headers).status_code == 403
    assert client.get("/api/v1/me/inspector").status_code == 401


def test_unknown_inspector_ids(client, auth):
    _, headers = auth.as_role(Role.SYSADMIN)
    for method, url, body in (("get", "/api/v1/inspectors/424242", None), ("patch", "/api/v1/inspectors/424242", {}),
                              ("post", "/api/v1/inspectors/424242/retire", {"retired": True}),
                              ("get", "/api/v1/inspectors/424242/conflicts", None),
                              ("post", "/api/v1/inspectors/424242/conflicts", {"target_id": 1, "reason": "x"})):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 404 and r.json["code"] == "inspector.not_found", (method, url)
        assert r.json["message"] == "执法检查人员不存在"


# --- no input gives a 500 --------------------------------------------------------------------------


def test_no_input_gives_a_500(client, auth, depts, factory):
    inspector = factory.inspector(depts[0])
    _, admin = auth.as_role(Role.SYSADMIN)
    keys = list(inspector_body()) + ["department_id", "region_code"]
    send_junk(client, "post", "/api/v1/inspectors", keys, admin)
    send_junk(client, "patch", f"/api/v1/inspectors/{inspector.id}", keys, admin)
    send_junk(client, "post", f"/api/v1/inspectors/{inspector.id}/conflicts", ["target_id", "target_code", "reason"],
              admin)
