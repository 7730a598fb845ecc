"""检查对象名录库: identity rules (USCC / registration number / directory code), shared reads, scoped writes."""
from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.db import utcnow
from backend.directory.models import Target
from tests.factories import audit_actions, item_history, make_reg_no, make_uscc
from tests.hostile import send_junk

USCC = make_uscc(random.Random(7))
REG_NO = make_reg_no(random.Random(7))


def bad_check_char(code: str) -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    return code[:17] + alphabet[(alphabet.index(code[17]) + 1) % 31]


def target_body(**over):
    body = {"uscc": USCC, "name": "三门峡市湖滨区好味道餐饮有限公司", "type": "enterprise", "address": "湖滨区六峰路 1 号",
            "region_code": "411202", "industry_code": "H6210", "risk_class": "B", "tags": "餐饮、学校周边",
            "latitude": 34.77, "longitude": 111.2, "datum": "GCJ-02", "legal_rep": "张三", "phone": "0398-2812345"}
    body.update(over)
    return body


@pytest.fixture()
def world(factory):
    factory.region("411200", "三门峡市", "city")
    factory.region("411202", "湖滨区", "county", "411200")
    factory.region("411203", "陕州区", "county", "411200")
    factory.region("410100", "郑州市", "city")
    return factory.department("SCJG"), factory.department("WJW")


def count(db_session, model):
    return db_session.scalar(select(func.count()).select_from(model))


# --- identity rules --------------------------------------------------------------------------------

def test_sysadmin_creates_an_enterprise_keyed_by_its_uscc(client, auth, world, db_session):
    _, admin = auth.as_role(Role.SYSADMIN)
    r = client.post("/api/v1/targets", json=target_body(uscc=USCC.lower(), department_id=world[0].id), headers=admin)
    assert r.status_code == 201, r.json
    body = r.json
    assert body["code"] == USCC and body["uscc"] == USCC and body["reg_no"] is None
    assert body["type_label"] == "企业" and body["risk_class_label"] == "信用风险一般" and body["status"] == "active"
    assert body["status_label"] == "存续" and body["tags"] == ["餐饮", "学校周边"] and body["datum"] == "GCJ-02"
    assert body["department_id"] == world[0].id and body["industry_code"] == "H6210"
    assert audit_actions(db_session, "target", body["id"]) == ["target.create"]


def test_a_wrong_check_character_is_refused(client, auth, world, db_session):
    _, admin = auth.as_role(Role.DEPT_ADMIN, world[0])
    r = client.post("/api/v1/targets", json=target_body(uscc=bad_check_char(USCC)), headers=admin)
    assert r.status_code == 422
    assert r.json["errors"]["json"]["uscc"][0].startswith("统一社会信用代码校验位错误")
    for bad, text in (("91411203MA4", "应为 18 位"), ("91411203MA44OOOOO1", "不允许的字符")):
        r = client.post("/api/v1/targets", json=target_body(uscc=bad), headers=admin)
        assert text in r.json["errors"]["json"]["uscc"][0]
    assert count(db_session, Target) == 0


def test_registration_number_where_there_is_no_uscc(client, auth, world):
    _, admin = auth.as_role(Role.DEPT_ADMIN, world[0])
    r = client.post("/api/v1/targets", json=target_body(uscc=None, reg_no=REG_NO, type="individual"), headers=admin)
    assert r.status_code == 201, r.json
    assert r.json["code"] == REG_NO and r.json["type_label"] == "个体工商户"
    r = client.post("/api/v1/targets", json=target_body(uscc=None, reg_no=REG_NO[:14] + str((int(REG_NO[14]) + 1) % 10)),
                    headers=admin)
    assert r.status_code == 422 and r.json["errors"]["json"]["reg_no"] == ["注册号校验位错误"]
    r = client.post("/api/v1/targets", json=target_body(uscc=None), headers=admin)
    assert r.status_code == 422 and "统一社会信用代码" in r.json["errors"]["json"]["uscc"][0]


def test_products_projects_and_activities_carry_a_directory_code(client, auth, world):
    _, admin = auth.as_role(Role.DEPT_ADMIN, world[0])
    base = target_body(uscc=None, type="product", name="儿童玩具（批次 2025-01）")
    r = client.post("/api/v1/targets", json={**base, "code": "prd-2025-001"}, headers=admin)
    assert r.status_code == 201 and r.json["code"] == "PRD-2025-001" and r.json["uscc"] is None
    r = client.post("/api/v1/targets", json=base, headers=admin)
    assert r.status_code == 422 and r.json["errors"]["json"]["code"] == ["产品、项目、活动类检查对象须填写名录代码"]
    r = client.post("/api/v1/targets", json={**base, "code": "PRD-2", "uscc": USCC}, headers=admin)
    assert r.status_code == 422 and "不填统一社会信用代码" in r.json["errors"]["json"]["uscc"][0]
    r = client.post("/api/v1/targets", json={**target_body(), "code": "OTHER"}, headers=admin)
    assert r.status_code == 422 and r.json["code"] == "target.code_mismatch"


def test_duplicates_are_refused_naming_the_existing_target(client, auth, world, factory):
    existing = factory.target(uscc=USCC, name="已登记的公司", department=world[1])
    _, admin = auth.as_role(Role.DEPT_ADMIN, world[0])
    r = client.post("/api/v1/targets", json=target_body(), headers=admin)
    assert r.status_code == 409 and r.json["code"] == "target.duplicate_code"
    assert "已登记的公司" in r.json["message"] and r.json["details"]["existing_id"] == existing.id
    # a registration number already held by another target (even beside its USCC) is a duplicate too
    factory.target(uscc=make_uscc(random.Random(9)), reg_no=REG_NO, name="有注册号的公司")
    r = client.post("/api/v1/targets", json=target_body(uscc=None, reg_no=REG_NO), headers=admin)
    assert r.status_code == 409 and "有注册号的公司" in r.json["message"]
    existing.retired_at = utcnow()
    factory.session.flush()
    r = client.post("/api/v1/targets", json=target_body(), headers=admin)
    assert r.status_code == 409 and "（已停用）" in r.json["message"]


@pytest.mark.parametrize("over, field, text", [
    ({"latitude": 34.7, "longitude": None}, "longitude", "同时填写"),
    ({"longitude": None}, "longitude", "同时填写"),
    ({"latitude": 60}, "latitude", "纬度应在 3 与 54 之间"),
    ({"longitude": 150}, "longitude", "经度应在 73 与 136 之间"),
    ({"datum": None}, "datum", "坐标系"),
    ({"datum": "BD-09"}, "datum", "WGS-84、GCJ-02"),
    ({"latitude": "北纬"}, "latitude", "应为数字"),
    ({"latitude": True}, "latitude", "应为数字"),
    ({"industry_code": "1311"}, "industry_code", "国民经济行业分类"),
    ({"risk_class": "E"}, "risk_class", "信用风险分类必须是"),
    ({"type": "company"}, "type", "对象类型必须是"),
    ({"status": "倒闭"}, "status", "经营状态必须是"),
    ({"region_code": "4112"}, "region_code", "6 位或 9 位"),
    ({"tags": {"a": 1}}, "tags", "标签"),
    ({"tags": ["长标签" * 10 + str(n) for n in range(30)]}, "tags", "500"),
    ({"phone": "call me"}, "phone", "电话号码"),
    ({"name": "x" * 201}, "name", "不超过 200"),
    ({"name": None}, "name", "不能为空"),
    ({"department_id": "1"}, "department_id", "整数"),
])
def test_bad_target_input_is_refused(client, auth, world, db_session, over, field, text):
    _, admin = auth.as_role(Role.DEPT_ADMIN, world[0])
    before = count(db_session, Target), count(db_session, AuditEntry)
    r = client.post("/api/v1/targets", json=target_body(**over), headers=admin)
    assert r.status_code == 422, r.json
    assert text in str(r.json["errors"]["json"][field]), r.json
    assert (count(db_session, Target), count(db_session, AuditEntry)) == before


def test_region_must_exist(client, auth, world):
    _, admin = auth.as_role(Role.DEPT_ADMIN, world[0])
    r = client.post("/api/v1/targets", json=target_body(region_code="419999"), headers=admin)
    assert r.status_code == 422 and r.json["code"] == "target.unknown_region"
    assert r.json["errors"] == {"region_code": ["行政区划代码 419999 不存在"]}


def test_empty_and_odd_bodies_never_500(client, auth, world):
    _, admin = auth.as_role(Role.SYSADMIN)
    for body in ({}, [], "x", None, {"name": "x" * 100000, "type": "enterprise"}, {"uscc": 5, "type": "enterprise"}):
        r = client.post("/api/v1/targets", json=body, headers=admin)
        assert r.status_code in (400, 422), (body, r.json)
    r = client.post("/api/v1/targets", json={}, headers=admin)
    assert r.json["errors"]["json"] == {"name": ["必填项"], "type": ["必填项"]}


# --- updates and retire ----------------------------------------------------------------------------

def test_update_location_and_risk_class_is_audited(client, auth, world, factory, db_session):
    target = factory.target(department=world[0], risk_class="B", latitude=34.7, longitude=111.2, datum="WGS-84")
    _, admin = auth.as_role(Role.DEPT_ADMIN, world[0])
    url = f"/api/v1/targets/{target.id}"
    r = client.patch(url, json={"latitude": None}, headers=admin)
    assert r.status_code == 422 and r.json["code"] == "target.bad_location"
    r = client.patch(url, json={"latitude": 34.8, "longitude": 111.3}, headers=admin)  # the datum stays
    assert r.status_code == 200 and (r.json["latitude"], r.json["datum"]) == (34.8, "WGS-84")
    r = client.patch(url, json={"latitude": None, "longitude": None}, headers=admin)
    assert r.status_code == 200 and r.json["datum"] is None and r.json["latitude"] is None
    r = client.patch(url, json={"latitude": 34.8, "longitude": 111.3}, headers=admin)
    assert r.status_code == 422 and r.json["code"] == "target.datum_required"
    r = client.patch(url, json={"risk_class": "D", "tags": ["投诉多"]}, headers=admin)
    assert r.status_code == 200 and r.json["risk_class_label"] == "信用风险高" and r.json["tags"] == ["投诉多"]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "target.update")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.detail["changed"]["risk_class"] == ["B", "D"] and entry.department_id == world[0].id
    r = client.patch(url, json={"uscc": bad_check_char(target.uscc)}, headers=admin)
    assert r.status_code == 422 and "校验位" in r.json["errors"]["json"]["uscc"][0]


def test_a_business_may_swap_its_registration_number_for_a_uscc(client, auth, world, factory):
    target = factory.target(department=world[0], uscc=None, reg_no=REG_NO, code=REG_NO, type="individual")
    target.uscc = None
    factory.session.flush()
    _, admin = auth.as_role(Role.DEPT_ADMIN, world[0])
    r = client.patch(f"/api/v1/targets/{target.id}", json={"uscc": USCC}, headers=admin)
    assert r.status_code == 200 and r.json["code"] == USCC and r.json["reg_no"] == REG_NO


def test_only_the_sysadmin_moves_a_target_between_departments(client, auth, world, factory):
    own, other = world
    target = factory.target(department=own)
    _, headers = auth.as_role(Role.DEPT_ADMIN, own)
    r = client.patch(f"/api/v1/targets/{target.id}", json={"department_id": other.id}, headers=headers)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    _, admin = auth.as_role(Role.SYSADMIN)
    assert client.patch(f"/api/v1/targets/{target.id}", json={"department_id": other.id},
                        headers=admin).json["department_id"] == other.id


def test_retire_and_restore_a_target(client, auth, world, factory, db_session):
    target = factory.target(department=world[0])
    _, headers = auth.as_role(Role.DEPT_ADMIN, world[0])
    r = client.post(f"/api/v1/targets/{target.id}/retire", json={"retired": True, "reason": "重复录入"}, headers=headers)
    assert r.status_code == 200 and r.json["retired"] is True
    listed = client.get("/api/v1/targets", headers=headers).json
    assert target.code not in [t["code"] for t in listed["items"]]
    assert target.code in [t["code"] for t in client.get("/api/v1/targets", query_string={"include_retired": "true"},
                                                         headers=headers).json["items"]]
    assert client.get(f"/api/v1/targets/{target.id}", headers=headers).json["retired"] is True
    r = client.patch(f"/api/v1/targets/{target.id}", json={"name": "x"}, headers=headers)
    assert r.status_code == 409 and r.json["code"] == "target.retired"
    client.post(f"/api/v1/targets/{target.id}/retire", json={"retired": False}, headers=headers)
    assert audit_actions(db_session, "target", target.id) == ["target.retire", "target.unretire"]


# --- reads -----------------------------------------------------------------------------------------

def test_filters_search_order_and_pagination(client, auth, world, factory):
    own, other = world
    rng = random.Random(3)
    a = factory.target(name="湖滨甲公司", region=factory.region("411202"), risk_class="A", department=own,
                       tags=["餐饮"], industry_code="H6210", uscc=make_uscc(rng, "411202"), latitude=34.7,
                       longitude=111.2, datum="WGS-84")
    b = factory.target(name="陕州乙公司", region=factory.region("411203"), risk_class="D", department=other,
                       tags=["食品生产", "餐饮外卖"], industry_code="C1311", uscc=make_uscc(rng, "411203"))
    factory.target(name="郑州丙公司", region=factory.region("410100"), risk_class=None, status="deregistered",
                       uscc=make_uscc(rng, "410100"), legal_rep="李四")
    d = factory.target(name="玩具批次", type="product", uscc=None, code="PRD-1", risk_class="C")
    d.uscc = None
    factory.session.flush()
    _, headers = auth.as_role(Role.PLANNER, own)

    def names(**args):
        r = client.get("/api/v1/targets", query_string={"page_size": 200, **args}, headers=headers)
        assert r.status_code == 200, r.json
        return [t["name"] for t in r.json["items"]]

    everything = client.get("/api/v1/targets", query_string={"page_size": 200}, headers=headers).json["items"]
    assert [t["code"] for t in everything] == sorted(t["code"] for t in everything)
    assert set(names()) == {"湖滨甲公司", "陕州乙公司", "郑州丙公司", "玩具批次"}
    assert names(region="411200") == sorted(["湖滨甲公司", "陕州乙公司"], key=lambda n: {a.name: a.code,
                                                                                 b.name: b.code}[n])
    assert names(region="411203") == ["陕州乙公司"]
    assert set(names(risk_class="A,D")) == {"湖滨甲公司", "陕州乙公司"}
    assert names(unclassified="true") == ["郑州丙公司"]
    assert names(status="deregistered") == ["郑州丙公司"]
    assert names(type="product") == ["玩具批次"]
    assert names(tag="餐饮") == ["湖滨甲公司"]  # whole tags only: not 餐饮外卖
    assert names(industry="c13") == ["陕州乙公司"]
    assert names(department_id=other.id) == ["陕州乙公司"]
    assert names(has_location="true") == ["湖滨甲公司"]
    assert names(q=b.uscc[-6:].lower()) == ["陕州乙公司"]
    assert names(q="李四") == ["郑州丙公司"]
    # eight or more letters and digits: identifiers from their start (any case), names still anywhere
    assert names(q=b.uscc[:10].lower()) == ["陕州乙公司"] and names(q=b.uscc) == ["陕州乙公司"]
    assert names(q=b.uscc[2:12]) == []
    page = client.get("/api/v1/targets", query_string={"page": 2, "page_size": 3}, headers=headers).json
    assert page["total"] == 4 and page["pages"] == 2 and len(page["items"]) == 1
    for bad in ({"risk_class": "A,E"}, {"region": "41x"}, {"industry": "13"}, {"type": "company"}):
        r = client.get("/api/v1/targets", query_string=bad, headers=headers)
        assert r.status_code == 422 and r.json["message"].startswith("提交的数据有误"), bad


def test_history_lists_the_last_inspection_per_item(client, auth, world, factory):
    target = factory.target()
    old = factory.item(world[0], code="H-1", name="旧事项")
    new = factory.item(world[1], code="H-2", name="新事项", kind="key", ratio_cap_percent=None)
    item_history(factory, target, old, dt.date(2024, 5, 1), "2024 年第 3 号任务")
    item_history(factory, target, new, dt.date(2025, 3, 2))
    _, headers = auth.as_role(Role.SUPERVISOR)
    r = client.get(f"/api/v1/targets/{target.id}/history", headers=headers)
    assert r.status_code == 200
    assert [(h["item_code"], h["last_inspected_on"]) for h in r.json] == [("H-2", "2025-03-02"), ("H-1", "2024-05-01")]
    assert r.json[0]["department_name"] == world[1].name and r.json[0]["item_kind_label"] == "重点检查事项"
    assert r.json[1]["source"] == "2024 年第 3 号任务"
    r = client.get("/api/v1/targets/99999999/history", headers=headers)
    assert r.status_code == 404 and r.json["code"] == "target.not_found" and r.json["message"] == "检查对象不存在"


def test_target_conflicts_are_scoped_to_the_readers_department(client, auth, world, factory):
    own, other = world
    target = factory.target()
    factory.conflict(factory.inspector(own, name="本部门人员"), target, "配偶任该企业股东")
    factory.conflict(factory.inspector(other, name="外部门人员"), target)
    _, planner = auth.as_role(Role.PLANNER, own)
    r = client.get(f"/api/v1/targets/{target.id}/conflicts", headers=planner)
    assert r.status_code == 200 and [c["inspector_name"] for c in r.json] == ["本部门人员"]
    assert r.json[0]["reason"] == "配偶任该企业股东" and r.json[0]["target_code"] == target.code
    _, supervisor = auth.as_role(Role.SUPERVISOR)
    assert len(client.get(f"/api/v1/targets/{target.id}/conflicts", headers=supervisor).json) == 2


# --- access ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", [Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.SUPERVISOR])
def test_staff_read_every_departments_targets(client, auth, world, factory, role):
    target = factory.target(department=world[1])
    _, headers = auth.as_role(role, world[0])
    for url in ("/api/v1/targets", f"/api/v1/targets/{target.id}", f"/api/v1/targets/{target.id}/history",
                f"/api/v1/targets/{target.id}/conflicts"):
        assert client.get(url, headers=headers).status_code == 200, url


def test_inspectors_and_the_public_cannot_read_targets(client, auth, world, factory):
    target = factory.target(department=world[0])
    _, headers = auth.as_role(Role.INSPECTOR, world[0])
    for url in ("/api/v1/targets", f"/api/v1/targets/{target.id}", f"/api/v1/targets/{target.id}/history",
                f"/api/v1/targets/{target.id}/conflicts"):
        r = client.get(url, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.role" and "执法检查人员" in r.json["message"]
        assert client.get(url).status_code == 401


def write_calls(target):
    return [("post", "/api/v1/targets", target_body(uscc=make_uscc(random.Random(11)))),
            ("patch", f"/api/v1/targets/{target.id}", {"name": "改名"}),
            ("post", f"/api/v1/targets/{target.id}/retire", {"retired": True})]


@pytest.mark.parametrize("role", [Role.PLANNER, Role.SUPERVISOR, Role.INSPECTOR])
def test_only_admins_write_targets(client, auth, world, factory, db_session, role):
    target = factory.target(department=world[0])
    _, headers = auth.as_role(role, world[0])
    for method, url, body in write_calls(target):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 403 and r.json["code"] == "forbidden.role", (method, url)
    db_session.expire_all()
    assert count(db_session, Target) == 1 and db_session.get(Target, target.id).retired_at is None


def test_dept_admin_writes_only_targets_their_department_maintains(client, auth, world, factory, db_session):
    own, other = world
    theirs = factory.target(department=other)
    nobodys = factory.target(department=None)
    _, headers = auth.as_role(Role.DEPT_ADMIN, own)
    for target in (theirs, nobodys):
        for method, url, body in write_calls(target)[1:]:
            r = getattr(client, method)(url, json=body, headers=headers)
            assert r.status_code == 403 and r.json["code"] == "forbidden.department", (method, url)
    r = client.post("/api/v1/targets", json=target_body(department_id=other.id), headers=headers)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    db_session.expire_all()
    assert count(db_session, Target) == 2 and db_session.get(Target, theirs.id).name != "改名"
    r = client.post("/api/v1/targets", json=target_body(), headers=headers)
    assert r.status_code == 201 and r.json["department_id"] == own.id


def test_unknown_target_ids(client, auth):
    _, headers = auth.as_role(Role.SYSADMIN)
    for method, url, body in (("get", "/api/v1/targets/424242", None), ("patch", "/api/v1/targets/424242", {}),
                              ("post", "/api/v1/targets/424242/retire", {"retired": True}),
                              ("get", "/api/v1/targets/2147483648", None),
                              ("get", "/api/v1/targets/99999999999999999999999/conflicts", None)):
        r = getattr(client, method)(url, json=body, headers=headers)
        assert r.status_code == 404 and r.json["code"] == "target.not_found", (method, url)


# --- no input gives a 500 --------------------------------------------------------------------------


def test_no_input_gives_a_500(client, auth, world, factory):
    target = factory.target(department=world[0])
    _, admin = auth.as_role(Role.SYSADMIN)
    keys = list(target_body()) + ["reg_no", "code", "status", "department_id"]
    send_junk(client, "post", "/api/v1/targets", keys, admin)
    send_junk(client, "patch", f"/api/v1/targets/{target.id}", keys, admin)
    send_junk(client, "post", f"/api/v1/targets/{target.id}/retire", ["retired", "reason"], admin)
    for key in ("q", "page", "page_size", "department_id", "region", "type", "risk_class", "status", "tag", "industry",
                "has_location", "include_retired"):
        for value in ("", "0", "-1", "9" * 30, "\x00", "%", "_", "A,", "🙂", "x" * 3000):
            r = client.get("/api/v1/targets", query_string={key: value}, headers=admin)
            assert r.status_code in (200, 422), (key, value, r.json)
