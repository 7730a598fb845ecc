"""Regions and departments: public reads, system-admin writes, retire instead of delete."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.directory.models import Department, Region
from tests.factories import audit_actions
from tests.hostile import send_junk

NOT_SYSADMIN = [Role.DEPT_ADMIN, Role.PLANNER, Role.INSPECTOR, Role.SUPERVISOR]


@pytest.fixture()
def regions(factory):
    factory.region("410000", "河南省", "province")
    factory.region("411200", "三门峡市", "city", "410000")
    factory.region("411202", "湖滨区", "county", "411200")
    factory.region("411203", "陕州区", "county", "411200")
    factory.region("411203001", "大营镇", "town", "411203")
    factory.region("410100", "郑州市", "city", "410000")


@pytest.fixture()
def admin(auth):
    return auth.as_role(Role.SYSADMIN)[1]


def count(db_session, model):
    return db_session.scalar(select(func.count()).select_from(model))


# --- regions ---------------------------------------------------------------------------------------

def test_regions_are_public_ordered_and_filtered(client, regions):
    r = client.get("/api/v1/regions", query_string={"page_size": 200})
    assert r.status_code == 200, r.json
    codes = [row["code"] for row in r.json["items"]]
    assert codes == sorted(codes) and "411203001" in codes
    under = client.get("/api/v1/regions", query_string={"prefix": "411200", "page_size": 200}).json["items"]
    assert {row["code"] for row in under} == {"411200", "411202", "411203", "411203001"}
    children = client.get("/api/v1/regions", query_string={"parent_code": "411200"}).json["items"]
    assert [row["code"] for row in children] == ["411202", "411203"]
    towns = client.get("/api/v1/regions", query_string={"level": "town"}).json["items"]
    assert [(t["code"], t["level_label"]) for t in towns] == [("411203001", "乡镇/街道")]
    assert [x["name"] for x in client.get("/api/v1/regions", query_string={"q": "陕州"}).json["items"]] == ["陕州区"]
    page = client.get("/api/v1/regions", query_string={"prefix": "41", "page": 2, "page_size": 2}).json
    assert page["total"] == 6 and page["pages"] == 3 and [x["code"] for x in page["items"]] == ["411200", "411202"]


def test_region_detail_and_unknown_codes(client, regions):
    assert client.get("/api/v1/regions/411203").json["name"] == "陕州区"
    for code in ("999999", "abc", "1" * 40, "%00"):
        r = client.get(f"/api/v1/regions/{code}")
        assert r.status_code == 404 and r.json["code"] == "region.not_found" and r.json["message"] == "行政区划不存在"


def test_sysadmin_creates_region_with_derived_level_and_audit(client, regions, admin, db_session):
    r = client.post("/api/v1/regions", json={"code": "411204", "name": "新区", "parent_code": "411200"}, headers=admin)
    assert r.status_code == 201, r.json
    assert r.json["level"] == "county" and r.json["level_label"] == "县/区" and r.json["retired"] is False
    assert audit_actions(db_session, "region", "411204") == ["region.create"]


@pytest.mark.parametrize("body, field, text", [
    ({"code": "4112", "name": "x"}, "code", "6 位或 9 位"),
    ({"code": "411205", "name": ""}, "name", "不能为空"),
    ({"code": "411205"}, "name", "必填项"),
    ({"code": "411205", "name": "x", "level": "planet"}, "level", "级别必须是"),
    ({"code": "411205", "name": "x" * 65}, "name", "不超过 64"),
    ({"code": "411205", "name": "a\x00b"}, "name", "控制字符"),
    ({"code": 411205, "name": "x"}, "code", "应为文本"),
    ({"code": "411205", "name": "x", "extra": 1}, "extra", "不允许的字段"),
])
def test_bad_region_input_is_refused_in_chinese(client, regions, admin, db_session, body, field, text):
    before = count(db_session, Region)
    r = client.post("/api/v1/regions", json=body, headers=admin)
    assert r.status_code == 422, r.json
    assert r.json["code"] == "validation_error" and text in r.json["errors"]["json"][field][0]
    assert r.json["message"].startswith("提交的数据有误")
    assert count(db_session, Region) == before


def test_region_parent_must_exist_and_contain_the_code(client, regions, admin):
    r = client.post("/api/v1/regions", json={"code": "411205", "name": "x", "parent_code": "410100"}, headers=admin)
    assert r.status_code == 422 and r.json["code"] == "region.bad_parent" and "不是 411205 的上级" in r.json["message"]
    r = client.post("/api/v1/regions", json={"code": "411205", "name": "x", "parent_code": "419900"}, headers=admin)
    assert r.status_code == 422 and r.json["code"] == "region.unknown_region"
    r = client.post("/api/v1/regions", json={"code": "411203", "name": "重复"}, headers=admin)
    assert r.status_code == 409 and r.json["code"] == "region.duplicate_code" and "陕州区" in r.json["message"]


def test_region_update_retire_and_restore(client, regions, admin, db_session):
    r = client.patch("/api/v1/regions/411203", json={"name": "陕州区（新）"}, headers=admin)
    assert r.status_code == 200 and r.json["name"] == "陕州区（新）"
    r = client.post("/api/v1/regions/411203/retire", json={"retired": True, "reason": "区划调整"}, headers=admin)
    assert r.status_code == 200 and r.json["retired"] is True and r.json["retired_at"]
    listed = client.get("/api/v1/regions", query_string={"prefix": "4112"}).json["items"]
    assert "411203" not in [x["code"] for x in listed]
    listed = client.get("/api/v1/regions", query_string={"prefix": "4112", "include_retired": "true"}).json["items"]
    assert "411203" in [x["code"] for x in listed]
    r = client.patch("/api/v1/regions/411203", json={"name": "再改"}, headers=admin)
    assert r.status_code == 409 and r.json["code"] == "region.retired"
    assert client.post("/api/v1/regions/411203/retire", json={"retired": False}, headers=admin).json["retired"] is False
    assert audit_actions(db_session, "region", "411203") == ["region.update", "region.retire", "region.unretire"]
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "region.retire"))
    assert entry.detail["reason"] == "区划调整" and entry.before_digest != entry.after_digest
    assert db_session.get(Region, "411203") is not None  # never deleted


@pytest.mark.parametrize("role", NOT_SYSADMIN)
def test_region_writes_are_for_the_sysadmin_only(client, regions, auth, factory, db_session, role):
    _, headers = auth.as_role(role, factory.department())
    calls = [("post", "/api/v1/regions", {"code": "411299", "name": "x"}),
             ("patch", "/api/v1/regions/411203", {"name": "x"}),
             ("post", "/api/v1/regions/411203/retire", {"retired": True})]
    for method, url, body in calls:
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.role", (method, url)
        assert getattr(client, method)(url, json=body).status_code == 401
    db_session.expire_all()
    assert db_session.get(Region, "411299") is None and db_session.get(Region, "411203").name == "陕州区"


# --- departments -----------------------------------------------------------------------------------

def test_departments_are_public_and_searchable(client, factory, regions):
    factory.department("SCJG", "三门峡市市场监督管理局")
    factory.department("WJW", "三门峡市卫生健康委员会")
    r = client.get("/api/v1/departments", query_string={"q": "市场监督"})
    assert r.status_code == 200 and [d["code"] for d in r.json["items"]] == ["SCJG"]
    codes = [d["code"] for d in client.get("/api/v1/departments", query_string={"page_size": 200}).json["items"]]
    assert codes == sorted(codes) and {"SCJG", "WJW"} <= set(codes)
    dept_id = r.json["items"][0]["id"]
    assert client.get(f"/api/v1/departments/{dept_id}").json["name"] == "三门峡市市场监督管理局"
    r = client.get("/api/v1/departments/99999999")
    assert r.status_code == 404 and r.json["code"] == "department.not_found"
    assert client.get("/api/v1/departments/99999999999999999999").status_code == 404


def test_sysadmin_creates_department(client, regions, admin, db_session):
    r = client.post("/api/v1/departments", json={"code": "scjg_sz", "name": "陕州区市场监督管理局", "short_name": "陕州市监",
                                                 "region_code": "411203"}, headers=admin)
    assert r.status_code == 201, r.json
    assert r.json["code"] == "SCJG_SZ" and r.json["region_code"] == "411203"
    assert audit_actions(db_session, "department", r.json["id"]) == ["department.create"]
    dup = client.post("/api/v1/departments", json={"code": "SCJG_SZ", "name": "另一个"}, headers=admin)
    assert dup.status_code == 409 and dup.json["code"] == "department.duplicate_code" and "陕州区市场监督管理局" in dup.json["message"]
    dup = client.post("/api/v1/departments", json={"code": "OTHER", "name": "陕州区市场监督管理局"}, headers=admin)
    assert dup.status_code == 409 and dup.json["code"] == "department.duplicate_name"
    r = client.post("/api/v1/departments", json={"code": "NEWD", "name": "新部门", "region_code": "419999"}, headers=admin)
    assert r.status_code == 422 and r.json["code"] == "department.unknown_region"
    assert r.json["errors"]["region_code"] == ["行政区划代码 419999 不存在"]


@pytest.mark.parametrize("body, field", [
    ({}, "code"), ({"code": "1ABC", "name": "x"}, "code"), ({"code": "A", "name": "x"}, "code"),
    ({"code": "ABC", "name": "x", "short_name": "x" * 17}, "short_name"), ({"code": "ABC", "name": ["x"]}, "name"),
    ({"code": "ABC", "name": "x" * 10000}, "name"), ({"code": "ABC", "name": "x", "region_code": "12"}, "region_code"),
])
def test_bad_department_input(client, admin, db_session, body, field):
    before = count(db_session, Department)
    r = client.post("/api/v1/departments", json=body, headers=admin)
    assert r.status_code == 422 and field in r.json["errors"]["json"], r.json
    assert all("\u4e00" <= ch <= "\u9fff" for ch in r.json["errors"]["json"][field][0][:1])  # Chinese
    assert count(db_session, Department) == before


def test_non_object_bodies_are_refused(client, admin):
    for data, content_type in (("[1, 2]", "application/json"), ('"x"', "application/json"), ("", "application/json"),
                               ("{bad json", "application/json"), ("code=ABC", "application/x-www-form-urlencoded")):
        r = client.post("/api/v1/departments", data=data, content_type=content_type, headers=admin)
        assert r.status_code in (400, 422), (data, r.json)
        assert r.json["message"] and r.json["code"]


def test_department_update_and_retire(client, factory, admin, db_session):
    dept = factory.department("ZJJ")
    r = client.patch(f"/api/v1/departments/{dept.id}", json={"name": "质监局", "short_name": None}, headers=admin)
    assert r.status_code == 200 and r.json["name"] == "质监局" and r.json["short_name"] is None
    r = client.patch(f"/api/v1/departments/{dept.id}", json={"code": "NEW"}, headers=admin)
    assert r.status_code == 422 and r.json["errors"]["json"]["code"] == ["不允许的字段"]
    assert client.patch(f"/api/v1/departments/{dept.id}", json={}, headers=admin).status_code == 200
    r = client.post(f"/api/v1/departments/{dept.id}/retire", json={"retired": True, "reason": "机构改革"}, headers=admin)
    assert r.json["retired"] is True
    assert dept.code not in [d["code"] for d in client.get("/api/v1/departments",
                                                           query_string={"page_size": 200}).json["items"]]
    r = client.post(f"/api/v1/departments/{dept.id}/retire", json={}, headers=admin)
    assert r.status_code == 422 and r.json["errors"]["json"]["retired"] == ["必填项"]
    assert audit_actions(db_session, "department", dept.id) == ["department.update", "department.retire"]


@pytest.mark.parametrize("role", NOT_SYSADMIN)
def test_department_writes_are_for_the_sysadmin_only(client, factory, auth, db_session, role):
    dept = factory.department("OWN")
    _, headers = auth.as_role(role, dept)  # even their own department
    for method, url, body in [("post", "/api/v1/departments", {"code": "NEWD", "name": "新部门"}),
                              ("patch", f"/api/v1/departments/{dept.id}", {"name": "改名"}),
                              ("post", f"/api/v1/departments/{dept.id}/retire", {"retired": True})]:
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.role"
    db_session.expire_all()
    assert db_session.get(Department, dept.id).name != "改名" and db_session.get(Department, dept.id).retired_at is None


# --- no input gives a 500 --------------------------------------------------------------------------


def test_no_input_gives_a_500(client, regions, factory, admin):
    dept = factory.department("ZJJ")
    send_junk(client, "post", "/api/v1/regions", ["code", "name", "level", "parent_code"], admin)
    send_junk(client, "patch", "/api/v1/regions/411203", ["name", "level", "parent_code"], admin)
    send_junk(client, "post", "/api/v1/departments", ["code", "name", "short_name", "region_code"], admin)
    send_junk(client, "patch", f"/api/v1/departments/{dept.id}", ["name", "short_name", "region_code"], admin)
    send_junk(client, "post", f"/api/v1/departments/{dept.id}/retire", ["retired", "reason"], admin)
