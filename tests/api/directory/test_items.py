"""抽查事项清单: public reads; system admin or the item's department admin write; check points."""
from __future__ import annotations

import pytest
from sqlalchemy import event, func, select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.directory.models import CheckPoint, Item
from tests.factories import audit_actions
from tests.hostile import send_junk


def item_body(**over):
    body = {"code": "SCJG-DJ-001", "category": "登记事项检查", "name": "营业执照(登记证)规范使用情况的检查",
            "object_types": ["enterprise", "individual", "cooperative"], "kind": "general",
            "methods": ["onsite", "online"], "legal_basis": "《市场主体登记管理条例》第三十六条",
            "ratio_cap_percent": 5, "frequency": "每年一次"}
    body.update(over)
    return body


@pytest.fixture()
def depts(factory):
    return factory.department("SCJG"), factory.department("WJW")


def count(db_session, model):
    return db_session.scalar(select(func.count()).select_from(model))


# --- reads -----------------------------------------------------------------------------------------

def test_item_list_is_public_filtered_and_labelled(client, factory, depts):
    own, other = depts
    factory.item(own, code="A-001", name="名称规范使用情况的检查", methods=["onsite", "documents"])
    factory.item(own, code="A-002", kind="key", category="食品安全", object_types=["product"], methods=["testing"])
    factory.item(other, code="B-001", name="学校食堂食品安全情况的检查")
    retired = factory.item(other, code="B-002")
    from backend.db import utcnow
    retired.retired_at = utcnow()
    factory.session.flush()

    r = client.get("/api/v1/items", query_string={"page_size": 200})
    assert r.status_code == 200
    codes = [i["code"] for i in r.json["items"]]
    assert codes == sorted(codes) and {"A-001", "A-002", "B-001"} <= set(codes) and "B-002" not in codes
    first = next(i for i in r.json["items"] if i["code"] == "A-001")
    assert first["kind_label"] == "一般检查事项" and first["method_labels"] == ["实地检查", "书面检查"]
    assert first["object_type_labels"] == ["企业"] and first["department_code"] == "SCJG"
    assert first["ratio_cap_percent"] == 5.0

    def codes_for(**args):
        return [i["code"] for i in client.get("/api/v1/items", query_string={"page_size": 200, **args}).json["items"]]

    assert codes_for(department_id=own.id) == ["A-001", "A-002"]
    assert codes_for(kind="key") == ["A-002"]
    assert codes_for(method="testing") == ["A-002"]
    assert codes_for(method="documents") == ["A-001"]
    assert codes_for(object_type="product") == ["A-002"]
    assert codes_for(category="食品安全") == ["A-002"]
    assert codes_for(q="食堂") == ["B-001"]
    assert codes_for(q="a-00") == ["A-001", "A-002"]  # codes match case-insensitively
    assert codes_for(q="%") == [] and codes_for(q="_") == []  # wildcards are literal
    assert "B-002" in codes_for(include_retired="true", department_id=other.id)
    page = client.get("/api/v1/items", query_string={"department_id": own.id, "page_size": 1, "page": 2}).json
    assert page["total"] == 2 and page["pages"] == 2 and [i["code"] for i in page["items"]] == ["A-002"]


def test_bad_query_arguments_are_422_not_500(client):
    for args in ({"kind": "x"}, {"method": "fly"}, {"department_id": "abc"}, {"department_id": 10**20},
                 {"page": 0}, {"page_size": 1000}, {"q": "x" * 101}, {"q": "a\x00"}):
        r = client.get("/api/v1/items", query_string=args)
        assert r.status_code == 422, (args, r.json)
        assert r.json["code"] == "validation_error" and r.json["message"].startswith("提交的数据有误")


def test_item_detail_shows_active_check_points(client, factory, depts):
    item = factory.item(depts[0], check_points=3)
    from backend.db import utcnow
    item.check_points[1].retired_at = utcnow()
    factory.session.flush()
    r = client.get(f"/api/v1/items/{item.id}")
    assert r.status_code == 200
    assert [cp["seq"] for cp in r.json["check_points"]] == [1, 3]
    assert r.json["check_points"][0]["answer_type_label"] == "符合/不符合/不适用"
    listed = client.get(f"/api/v1/items/{item.id}/check-points", query_string={"include_retired": 1}).json
    assert [cp["seq"] for cp in listed] == [1, 2, 3] and listed[1]["retired"] is True
    for url in ("/api/v1/items/99999999", "/api/v1/items/99999999/check-points"):
        r = client.get(url)
        assert r.status_code == 404 and r.json["code"] == "item.not_found" and r.json["message"] == "抽查事项不存在"


def test_item_list_runs_a_fixed_number_of_queries(client, factory, depts, database):
    for n in range(12):
        factory.item(depts[n % 2], code=f"Q-{n:03d}")
    statements = []

    def count_statement(*_args):
        statements.append(1)

    event.listen(database.engine, "before_cursor_execute", count_statement)
    try:
        r = client.get("/api/v1/items", query_string={"page_size": 50, "q": "Q-"})
    finally:
        event.remove(database.engine, "before_cursor_execute", count_statement)
    assert r.status_code == 200 and len(r.json["items"]) == 12
    assert len(statements) <= 4  # count + page (+ savepoint bookkeeping), not one per row


# --- writes ----------------------------------------------------------------------------------------

def test_sysadmin_creates_item_with_check_points_and_audit(client, auth, depts, db_session):
    _, admin = auth.as_role(Role.SYSADMIN)
    body = item_body(department_id=depts[1].id, check_points=[
        {"text": "是否在住所醒目位置悬挂营业执照正本"},
        {"text": "经营者类型", "answer_type": "choice", "options": ["企业", "个体"], "required": False},
        {"seq": 10, "text": "现场照片", "answer_type": "photo", "guidance": "拍摄营业执照全貌"}])
    r = client.post("/api/v1/items", json=body, headers=admin)
    assert r.status_code == 201, r.json
    assert r.json["department_id"] == depts[1].id and r.json["department_code"] == "WJW"
    assert [(cp["seq"], cp["answer_type"]) for cp in r.json["check_points"]] == [(1, "compliance"), (2, "choice"),
                                                                                 (10, "photo")]
    assert r.json["check_points"][1]["options"] == ["企业", "个体"] and r.json["check_points"][1]["required"] is False
    assert audit_actions(db_session, "item", r.json["id"]) == ["item.create"]
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "item.create",
                                                       AuditEntry.entity_id == str(r.json["id"])))
    assert entry.department_id == depts[1].id and entry.after_digest and entry.before_digest is None


def test_sysadmin_must_name_the_department(client, auth):
    _, admin = auth.as_role(Role.SYSADMIN)
    r = client.post("/api/v1/items", json=item_body(), headers=admin)
    assert r.status_code == 422 and r.json["code"] == "item.department_required"
    r = client.post("/api/v1/items", json=item_body(department_id=99999999), headers=admin)
    assert r.status_code == 422 and r.json["code"] == "item.unknown_department"
    assert r.json["errors"] == {"department_id": ["部门不存在"]}


def test_dept_admin_creates_items_for_their_own_department_only(client, auth, depts, db_session):
    own, other = depts
    _, headers = auth.as_role(Role.DEPT_ADMIN, own)
    r = client.post("/api/v1/items", json=item_body(), headers=headers)
    assert r.status_code == 201 and r.json["department_id"] == own.id
    before = count(db_session, Item)
    r = client.post("/api/v1/items", json=item_body(code="X-2", department_id=other.id), headers=headers)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    assert count(db_session, Item) == before


def test_key_items_have_no_ratio_cap(client, auth, depts, factory, db_session):
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    r = client.post("/api/v1/items", json=item_body(kind="key"), headers=headers)
    assert r.status_code == 422
    assert r.json["errors"]["json"]["ratio_cap_percent"] == ["重点检查事项不设抽查比例上限"]
    r = client.post("/api/v1/items", json=item_body(kind="key", ratio_cap_percent=None), headers=headers)
    assert r.status_code == 201 and r.json["ratio_cap_percent"] is None and r.json["kind_label"] == "重点检查事项"
    # a general item with a cap cannot silently become key
    general = factory.item(depts[0], kind="general", ratio_cap_percent=5)
    r = client.patch(f"/api/v1/items/{general.id}", json={"kind": "key"}, headers=headers)
    assert r.status_code == 422 and r.json["code"] == "item.ratio_cap_on_key"
    assert r.json["message"] == "重点检查事项不设抽查比例上限"
    db_session.expire_all()
    assert db_session.get(Item, general.id).kind == "general"
    r = client.patch(f"/api/v1/items/{general.id}", json={"kind": "key", "ratio_cap_percent": None}, headers=headers)
    assert r.status_code == 200 and r.json["kind"] == "key"
    key = r.json["id"]
    r = client.patch(f"/api/v1/items/{key}", json={"ratio_cap_percent": 3}, headers=headers)
    assert r.status_code == 422 and r.json["code"] == "item.ratio_cap_on_key"


@pytest.mark.parametrize("over, field, text", [
    ({"methods": []}, "methods", "至少选择一种检查方式"),
    ({"methods": ["fly"]}, "methods", "检查方式必须是"),
    ({"methods": ["onsite", "onsite"]}, "methods", "不能重复"),
    ({"object_types": []}, "object_types", "至少选择一类检查对象"),
    ({"kind": "重点"}, "kind", "事项类型必须是"),
    ({"ratio_cap_percent": 0}, "ratio_cap_percent", "大于 0"),
    ({"ratio_cap_percent": 101}, "ratio_cap_percent", "不超过 100"),
    ({"ratio_cap_percent": "NaN"}, "ratio_cap_percent", "特殊数值"),
    ({"ratio_cap_percent": "1e999999999"}, "ratio_cap_percent", ""),
    ({"code": "含中文"}, "code", "事项编码"),
    ({"name": " "}, "name", "不能为空"),
    ({"legal_basis": "x" * 10001}, "legal_basis", "不超过"),
    ({"department_id": True}, "department_id", "整数"),
    ({"department_id": 2**40}, "department_id", "编号无效"),
    ({"check_points": [{"text": "单选", "answer_type": "choice"}]}, "check_points", ""),
    ({"check_points": [{"text": "文字", "answer_type": "text", "options": ["a", "b"]}]}, "check_points", ""),
    ({"check_points": [{"seq": 1, "text": "a"}, {"seq": 1, "text": "b"}]}, "check_points", "序号不能重复"),
    ({"check_points": "x"}, "check_points", "列表"),
])
def test_bad_item_input_is_refused(client, auth, depts, db_session, over, field, text):
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    before = count(db_session, Item), count(db_session, AuditEntry)
    r = client.post("/api/v1/items", json=item_body(**over), headers=headers)
    assert r.status_code == 422, r.json
    assert field in r.json["errors"]["json"] and text in str(r.json["errors"]["json"][field])
    assert (count(db_session, Item), count(db_session, AuditEntry)) == before


def test_choice_check_points_need_options_in_chinese(client, auth, depts):
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    r = client.post("/api/v1/items", json=item_body(check_points=[{"text": "单选", "answer_type": "choice"}]),
                    headers=headers)
    assert r.json["errors"]["json"]["check_points"]["0"]["options"] == ["单选、多选题至少需要两个选项"]


def test_duplicate_item_code_is_a_conflict(client, auth, depts, factory):
    existing = factory.item(depts[0], code="DUP-1", name="已有事项")
    _, headers = auth.as_role(Role.SYSADMIN)
    r = client.post("/api/v1/items", json=item_body(code="DUP-1", department_id=depts[0].id), headers=headers)
    assert r.status_code == 409 and r.json["code"] == "item.duplicate_code" and "已有事项" in r.json["message"]
    other = factory.item(depts[0], code="DUP-2")
    r = client.patch(f"/api/v1/items/{other.id}", json={"code": "DUP-1"}, headers=headers)
    assert r.status_code == 409 and r.json["details"]["existing_id"] == existing.id


def test_item_update_is_audited_with_changes(client, auth, depts, factory, db_session):
    item = factory.item(depts[0], ratio_cap_percent=5)
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    r = client.patch(f"/api/v1/items/{item.id}", json={"name": "新名称", "methods": ["documents"],
                                                       "ratio_cap_percent": "2.5", "remark": ""}, headers=headers)
    assert r.status_code == 200, r.json
    assert r.json["name"] == "新名称" and r.json["methods"] == ["documents"] and r.json["ratio_cap_percent"] == 2.5
    assert r.json["remark"] is None
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "item.update"))
    assert entry.detail["changed"]["name"][1] == "新名称" and entry.detail["changed"]["ratio_cap_percent"] == ["5.000",
                                                                                                          "2.500"]
    # a PATCH that changes nothing writes nothing
    client.patch(f"/api/v1/items/{item.id}", json={"name": "新名称"}, headers=headers)
    assert audit_actions(db_session, "item", item.id) == ["item.update"]


def test_dept_admin_cannot_move_an_item_to_another_department(client, auth, depts, factory, db_session):
    own, other = depts
    item = factory.item(own)
    _, headers = auth.as_role(Role.DEPT_ADMIN, own)
    r = client.patch(f"/api/v1/items/{item.id}", json={"department_id": other.id}, headers=headers)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    _, admin = auth.as_role(Role.SYSADMIN)
    r = client.patch(f"/api/v1/items/{item.id}", json={"department_id": other.id}, headers=admin)
    assert r.status_code == 200 and r.json["department_code"] == "WJW"


def test_retire_instead_of_delete(client, auth, depts, factory, db_session):
    item = factory.item(depts[0])
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    assert client.delete(f"/api/v1/items/{item.id}", headers=headers).status_code == 405
    r = client.post(f"/api/v1/items/{item.id}/retire", json={"retired": True, "reason": "清单调整"}, headers=headers)
    assert r.status_code == 200 and r.json["retired"] is True
    assert item.code not in [i["code"] for i in client.get("/api/v1/items").json["items"]]
    r = client.patch(f"/api/v1/items/{item.id}", json={"name": "x"}, headers=headers)
    assert r.status_code == 409 and r.json["code"] == "item.retired"
    # asking again changes nothing and writes nothing
    client.post(f"/api/v1/items/{item.id}/retire", json={"retired": True}, headers=headers)
    r = client.post(f"/api/v1/items/{item.id}/retire", json={"retired": False, "reason": "恢复"}, headers=headers)
    assert r.json["retired"] is False
    assert audit_actions(db_session, "item", item.id) == ["item.retire", "item.unretire"]
    assert db_session.get(Item, item.id) is not None


# --- check points ----------------------------------------------------------------------------------

def test_check_points_add_update_retire(client, auth, depts, factory, db_session):
    item = factory.item(depts[0], check_points=2)
    _, headers = auth.as_role(Role.DEPT_ADMIN, depts[0])
    url = f"/api/v1/items/{item.id}/check-points"
    r = client.post(url, json={"text": "从业人员健康证", "answer_type": "multi", "options": ["齐全", "缺失", "过期"]},
                    headers=headers)
    assert r.status_code == 201 and r.json["seq"] == 3 and r.json["answer_type_label"] == "多选"
    cp_id = r.json["id"]
    r = client.post(url, json={"seq": 3, "text": "重复序号"}, headers=headers)
    assert r.status_code == 409 and r.json["code"] == "check_point.duplicate_seq" and "从业人员健康证" in r.json["message"]
    r = client.post(url, json={"text": "单选", "answer_type": "choice", "options": ["只有一个"]}, headers=headers)
    assert r.status_code == 422 and r.json["errors"]["json"]["options"] == ["单选、多选题至少需要两个选项"]
    # turning a choice into text drops its options; turning text into choice needs them
    r = client.patch(f"{url}/{cp_id}", json={"answer_type": "text"}, headers=headers)
    assert r.status_code == 200 and r.json["options"] is None
    r = client.patch(f"{url}/{cp_id}", json={"answer_type": "choice"}, headers=headers)
    assert r.status_code == 422 and r.json["code"] == "check_point.options_required"
    r = client.patch(f"{url}/{cp_id}", json={"seq": 1}, headers=headers)
    assert r.status_code == 409 and r.json["code"] == "check_point.duplicate_seq"
    r = client.post(f"{url}/{cp_id}/retire", json={"retired": True, "reason": "不再检查"}, headers=headers)
    assert r.status_code == 200 and r.json["retired"] is True
    assert [cp["seq"] for cp in client.get(url).json] == [1, 2]
    assert audit_actions(db_session, "check_point", cp_id) == ["check_point.create", "check_point.update",
                                                               "check_point.retire"]
    other_item = factory.item(depts[0])
    r = client.patch(f"/api/v1/items/{other_item.id}/check-points/{cp_id}", json={"text": "x"}, headers=headers)
    assert r.status_code == 404 and r.json["code"] == "check_point.not_found"


# --- access ----------------------------------------------------------------------------------------

def write_calls(item, cp):
    return [("post", "/api/v1/items", item_body(code="NEW-1", department_id=item.department_id)),
            ("patch", f"/api/v1/items/{item.id}", {"name": "改名"}),
            ("post", f"/api/v1/items/{item.id}/retire", {"retired": True}),
            ("post", f"/api/v1/items/{item.id}/check-points", {"text": "新增"}),
            ("patch", f"/api/v1/items/{item.id}/check-points/{cp.id}", {"text": "改"}),
            ("post", f"/api/v1/items/{item.id}/check-points/{cp.id}/retire", {"retired": True})]


@pytest.mark.parametrize("role", [Role.PLANNER, Role.INSPECTOR, Role.SUPERVISOR])
def test_other_roles_cannot_write_items(client, auth, depts, factory, db_session, role):
    item = factory.item(depts[0])
    _, headers = auth.as_role(role, depts[0])
    for method, url, body in write_calls(item, item.check_points[0]):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.role", (method, url)
        assert getattr(client, method)(url, json=body).status_code == 401
    db_session.expire_all()
    assert db_session.get(Item, item.id).retired_at is None and count(db_session, CheckPoint) == 2


def test_dept_admin_of_another_department_cannot_write_items(client, auth, depts, factory, db_session):
    own, other = depts
    item = factory.item(other)
    _, headers = auth.as_role(Role.DEPT_ADMIN, own)
    for method, url, body in write_calls(item, item.check_points[0]):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.department", (method, url, r.json)
    db_session.expire_all()
    assert db_session.get(Item, item.id).name != "改名" and db_session.get(Item, item.id).retired_at is None
    assert db_session.get(CheckPoint, item.check_points[0].id).text == "检查内容1"


# --- no input gives a 500 --------------------------------------------------------------------------


def test_no_input_gives_a_500(client, auth, depts, factory):
    item = factory.item(depts[0])
    _, admin = auth.as_role(Role.SYSADMIN)
    keys = list(item_body()) + ["department_id", "remark", "check_points"]
    send_junk(client, "post", "/api/v1/items", keys, admin)
    send_junk(client, "patch", f"/api/v1/items/{item.id}", keys[:-1], admin)
    cp_keys = ["seq", "text", "answer_type", "options", "required", "guidance"]
    send_junk(client, "post", f"/api/v1/items/{item.id}/check-points", cp_keys, admin)
    send_junk(client, "patch", f"/api/v1/items/{item.id}/check-points/{item.check_points[0].id}", cp_keys, admin)
    send_junk(client, "post", f"/api/v1/items/{item.id}/retire", ["retired", "reason"], admin)
