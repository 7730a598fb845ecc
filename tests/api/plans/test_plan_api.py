"""Annual plans: rules, states, versions after publishing, public reading, audit."""
from __future__ import annotations

import pytest

from backend.db import utcnow
from backend.plans.models import Plan, PlanVersion


def test_create_draft_generates_the_code_and_audits(w, audit_of):
    plan = w.create_plan()
    assert plan["code"] == f"JH-2026-{w.lead.code}-001"
    assert plan["status"] == "draft" and plan["version"] == 1 and plan["kind"] == "joint"
    assert plan["lead_department"]["code"] == w.lead.code
    assert {(d["code"], d["role"]) for d in plan["departments"]} == {(w.lead.code, "lead"),
                                                                      (w.part.code, "participant")}
    assert {i["item_id"] for i in plan["items"]} == {w.item_general.id, w.item_key.id, w.item_part.id}
    assert [b["seq"] for b in plan["batches"]] == [1, 2] and plan["batches"][0]["months"] == [4, 5, 6]
    assert plan["ratio_rules"] == {"A": {"num": 1, "den": 100, "min": 1}, "D": {"num": 5, "den": 100}}
    second = w.create_plan(name="第二个计划")
    assert second["code"] == f"JH-2026-{w.lead.code}-002"
    entries = audit_of("plan", plan["id"], "plan.create")
    assert len(entries) == 1 and entries[0].department_id == w.lead.id and entries[0].after_digest


def test_given_code_must_be_unique_and_well_formed(w):
    w.create_plan(code="JH-X-1")
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(code="JH-X-1"), 409, "plan.code_taken")
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(code="JH|1"), 422, "validation_error")
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(code=""), 422)


def test_department_plans_have_no_participants_and_joint_ones_need_one(w):
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(kind="joint", participant_department_ids=[]),
          422, "plan.participants_required")
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(kind="department"), 422,
          "plan.participants_not_allowed")
    body = w.plan_body(kind="department", participant_department_ids=[],
                       item_ids=[w.item_general.id, w.item_key.id])
    plan = w.create_plan(**{k: v for k, v in body.items()})
    assert [d["role"] for d in plan["departments"]] == ["lead"]
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(participant_department_ids=[w.lead.id]), 422,
          "plan.bad_department")
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(participant_department_ids=[999999]), 422,
          "plan.bad_department")


def test_items_must_belong_to_the_plans_departments_and_be_in_use(w, db_session):
    e = w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(item_ids=[w.item_other.id]), 422,
              "plan.item_department")
    assert w.item_other.code in e["message"]
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(item_ids=[888888]), 422, "plan.item_not_found")
    w.item_key.retired_at = utcnow()
    db_session.flush()
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(), 422, "plan.item_retired")


@pytest.mark.parametrize("batches, code", [
    ([{"seq": 1, "name": "一", "months": []}], "validation_error"),
    ([{"seq": 1, "name": "一", "months": [13]}], "validation_error"),
    ([{"seq": 1, "name": "一", "months": [0]}], "validation_error"),
    ([{"seq": 1, "name": "一", "months": [3], "planned_count": -1}], "validation_error"),
    ([{"seq": 1, "name": "", "months": [3]}], "validation_error"),
    ([{"seq": 1, "name": "   ", "months": [3]}], "plan.bad_batch"),
    ([{"seq": 1, "name": "一", "months": [3]}, {"seq": 1, "name": "二", "months": [4]}], "plan.batch_seq_duplicate"),
    ([{"seq": "1", "name": "一", "months": [3]}], "validation_error"),
    ("x", "validation_error"),
])
def test_batches_are_checked(w, batches, code):
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(batches=batches), 422, code)


def test_batch_months_are_sorted_and_unique(w):
    plan = w.create_plan(batches=[{"seq": 2, "name": "二", "months": [12, 11, 11]},
                                  {"seq": 1, "name": "一", "months": [1], "planned_count": 0}])
    assert [(b["seq"], b["months"], b["planned_count"]) for b in plan["batches"]] == [(1, [1], 0), (2, [11, 12], None)]


@pytest.mark.parametrize("rules, code", [
    ({"A": {"num": 2, "den": 1}}, "plan.bad_ratio"),
    ({"A": {"num": 1, "den": 0}}, "validation_error"),
    ({"A": {"num": -1, "den": 10}}, "validation_error"),
    ({"A": {"num": 1, "den": 10, "min": 5, "cap": 4}}, "plan.bad_ratio"),
    ({"A": {"num": 1, "den": 10, "cap": 0}}, "validation_error"),
    ({"A": {"num": 1, "den": 10, "min": -1}}, "validation_error"),
    ({"E": {"num": 1, "den": 10}}, "validation_error"),
    ({"A": {"num": True, "den": 10}}, "validation_error"),
    ({"A": {"num": 1.5, "den": 10}}, "validation_error"),
    ({"A": {"num": 1, "den": 10, "extra": 1}}, "validation_error"),
    ({"A": {"den": 10}}, "validation_error"),
    ({"A": 3}, "validation_error"),
    ([1], "validation_error"),
])
def test_ratio_rules_are_checked(w, rules, code):
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(ratio_rules=rules), 422, code)


def test_ratio_rules_accept_all_and_equal_min_cap(w):
    plan = w.create_plan(ratio_rules={"all": {"num": 3, "den": 100, "min": 2, "cap": 2},
                                      "U": {"num": 0, "den": 1}, "C": {"num": 1, "den": 1, "min": None}})
    assert plan["ratio_rules"] == {"all": {"num": 3, "den": 100, "min": 2, "cap": 2}, "U": {"num": 0, "den": 1},
                                   "C": {"num": 1, "den": 1}}


def test_drafts_are_edited_freely_and_audited(w, audit_of):
    plan = w.create_plan()
    url = f"/api/v1/plans/{plan['id']}"
    out = w.ok("patch", url, "lead_planner", {"name": "改过的名称", "kind": "department",
                                               "participant_department_ids": [],
                                               "item_ids": [w.item_key.id],
                                               "batches": [{"seq": 2, "name": "二批改", "months": [7]}],
                                               "ratio_rules": {}})
    assert out["name"] == "改过的名称" and out["kind"] == "department" and out["version"] == 1
    assert [d["code"] for d in out["departments"]] == [w.lead.code]
    assert [i["item_id"] for i in out["items"]] == [w.item_key.id]
    assert [(b["seq"], b["name"]) for b in out["batches"]] == [(2, "二批改")] and out["ratio_rules"] == {}
    again = w.ok("get", url, "lead_planner")
    assert again["items"] == out["items"] and again["batches"] == out["batches"]
    [entry] = audit_of("plan", plan["id"], "plan.update")
    assert entry.department_id == w.lead.id and "name" in entry.detail["changed"]
    # the participants' items went with them; an item of a department not in the plan is refused
    w.err("patch", url, "lead_planner", {"item_ids": [w.item_part.id]}, 422, "plan.item_department")
    # an unchanged PATCH is no change at all
    w.ok("patch", url, "lead_planner", {"name": "改过的名称"})
    assert len(audit_of("plan", plan["id"], "plan.update")) == 1


def test_states_draft_approved_published(w, audit_of):
    plan = w.create_plan()
    url = f"/api/v1/plans/{plan['id']}"
    w.err("post", url + "/publish", "lead_admin", status=409, code="plan.bad_status")
    approved = w.ok("post", url + "/approve", "lead_admin")
    assert approved["status"] == "approved" and approved["approved_at"] and approved["approved_by"]
    w.err("post", url + "/approve", "lead_admin", status=409, code="plan.bad_status")
    e = w.err("patch", url, "lead_planner", {"name": "x"}, 409, "plan.approved_locked")
    assert "退回草稿" in e["message"]
    reopened = w.ok("post", url + "/reopen", "lead_admin", {"reason": "比例需要调整"})
    assert reopened["status"] == "draft" and reopened["approved_at"] is None
    w.ok("patch", url, "lead_planner", {"name": "修改后再审批"})
    w.ok("post", url + "/approve", "lead_admin")
    published = w.ok("post", url + "/publish", "lead_admin")
    assert published["status"] == "published" and published["published_at"]
    w.err("post", url + "/publish", "lead_admin", status=409, code="plan.bad_status")
    w.err("post", url + "/reopen", "lead_admin", status=409, code="plan.bad_status")
    actions = [e.action for e in audit_of("plan", plan["id"])]
    assert actions == ["plan.create", "plan.approve", "plan.reopen", "plan.update", "plan.approve", "plan.publish"]
    assert all(e.department_id == w.lead.id for e in audit_of("plan", plan["id"]))


def test_a_plan_without_items_is_not_approved(w):
    plan = w.create_plan(item_ids=[])
    w.err("post", f"/api/v1/plans/{plan['id']}/approve", "lead_admin", status=409, code="plan.no_items")


def test_published_changes_need_a_reason_and_keep_the_old_version(w, db_session, audit_of):
    plan = w.published_plan()
    url = f"/api/v1/plans/{plan['id']}"
    w.err("patch", url, "lead_planner", {"name": "调整后"}, 422, "plan.reason_required")
    w.err("patch", url, "lead_planner", {"name": "调整后", "reason": "   "}, 422, "plan.reason_required")
    w.err("patch", url, "lead_planner", {"code": "NEW-1", "reason": "r"}, 409, "plan.published_field_locked")
    w.err("patch", url, "lead_planner", {"year": 2027, "reason": "r"}, 409, "plan.published_field_locked")
    out = w.ok("patch", url, "lead_planner", {"name": "调整后", "reason": "增加第三批",
                                               "batches": plan_batches(plan) + [{"seq": 3, "name": "第三批",
                                                                                 "months": [11]}]})
    assert out["status"] == "published" and out["version"] == 2 and out["name"] == "调整后"
    assert len(out["batches"]) == 3
    versions = w.ok("get", url + "/versions", "lead_planner")
    assert [v["version"] for v in versions] == [1]
    assert versions[0]["reason"] == "增加第三批" and versions[0]["changed_by"]
    assert versions[0]["snapshot"]["name"] == plan["name"] and len(versions[0]["snapshot"]["batches"]) == 2
    assert versions[0]["snapshot"]["version"] == 1 and versions[0]["snapshot"]["lead"] == w.lead.code
    out = w.ok("patch", url, "lead_planner", {"description": "说明", "reason": "补充说明"})
    assert out["version"] == 3
    assert [v["version"] for v in w.ok("get", url + "/versions", "lead_planner")] == [1, 2]
    # no change: no new version
    w.ok("patch", url, "lead_planner", {"description": "说明", "reason": "无变化"})
    assert db_session.query(PlanVersion).filter_by(plan_id=plan["id"]).count() == 2
    [first, second] = audit_of("plan", plan["id"], "plan.adjust")
    assert first.detail["reason"] == "增加第三批" and first.department_id == w.lead.id


def test_the_level_that_set_the_plan(w, db_session, audit_of):
    plan = w.create_plan()
    assert (plan["level"], plan["level_label"]) == ("county", "县级")          # the default: the county's own
    city = w.create_plan(name="市级计划", level="city")
    assert (city["level"], city["level_label"]) == ("city", "市级")
    for bad in ("town", "", "County", "省级"):
        e = w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(level=bad), 422, "plan.bad_level")
        assert "省级" in e["message"] and e["errors"]["level"]
    for bad in (3, None, ["city"], "x" * 17):
        w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(level=bad), 422, "validation_error")
    url = f"/api/v1/plans/{plan['id']}"
    w.err("patch", url, "lead_planner", {"level": "region"}, 422, "plan.bad_level")
    out = w.ok("patch", url, "lead_planner", {"level": "province"})
    assert out["level"] == "province" and out["version"] == 1
    [entry] = audit_of("plan", plan["id"], "plan.update")
    assert "level" in entry.detail["changed"]
    assert db_session.get(Plan, plan["id"]).level == "province"
    # published: a change of level is an adjustment with its reason, the earlier version keeps the old level
    published = w.published_plan(name="公开计划")
    url = f"/api/v1/plans/{published['id']}"
    w.err("patch", url, "lead_planner", {"level": "city"}, 422, "plan.reason_required")
    out = w.ok("patch", url, "lead_planner", {"level": "city", "reason": "市局部署的计划"})
    assert out["level"] == "city" and out["version"] == 2
    [version] = w.ok("get", url + "/versions", "lead_planner")
    assert version["snapshot"]["level"] == "county"
    assert w.client.get(f"/api/public/plans/{published['code']}").json["level_label"] == "市级"


def plan_batches(plan):
    return [{k: b[k] for k in ("seq", "name", "months", "planned_count")} for b in plan["batches"]]


def test_published_plans_are_public_with_their_versions(w):
    draft = w.create_plan(name="草稿计划")
    plan = w.published_plan(name="公开计划")
    w.ok("patch", f"/api/v1/plans/{plan['id']}", "lead_planner", {"name": "公开计划（调整）", "reason": "名称更正"})
    r = w.client.get("/api/public/plans")
    assert r.status_code == 200
    codes = [p["code"] for p in r.json["items"]]
    assert plan["code"] in codes and draft["code"] not in codes
    one = w.client.get(f"/api/public/plans/{plan['code']}").json
    assert one["name"] == "公开计划（调整）" and one["version"] == 2
    assert "created_by" not in one and "id" not in one and "approved_by" not in one
    versions = w.client.get(f"/api/public/plans/{plan['code']}/versions").json
    assert [(v["version"], v["reason"]) for v in versions] == [(1, "名称更正")] and "changed_by" not in versions[0]
    assert versions[0]["snapshot"]["name"] == "公开计划"
    for url in (f"/api/public/plans/{draft['code']}", f"/api/public/plans/{draft['code']}/versions",
                "/api/public/plans/NO-SUCH", "/api/public/plans/%00", "/api/public/plans/" + "X" * 300):
        r = w.client.get(url)
        assert r.status_code == 404 and r.json["code"] in ("plan.not_found", "not_found")
    r = w.client.get("/api/public/plans", query_string={"year": 2026, "q": "公开", "department_id": w.part.id})
    assert [p["code"] for p in r.json["items"]] == [plan["code"]]
    r = w.client.get("/api/public/plans", query_string={"year": 2025})
    assert r.json["total"] == 0
    r = w.client.get("/api/public/plans", query_string={"year": "abc"})
    assert r.status_code == 422


def test_retire_drafts_only(w, audit_of):
    plan = w.create_plan()
    url = f"/api/v1/plans/{plan['id']}"
    out = w.ok("post", url + "/retire", "lead_planner", {"reason": "重复录入"})
    assert out["retired_at"]
    [entry] = audit_of("plan", plan["id"], "plan.retire")
    assert entry.detail["reason"] == "重复录入"
    w.err("patch", url, "lead_planner", {"name": "x"}, 409, "plan.retired")
    w.err("post", url + "/approve", "lead_admin", status=409, code="plan.retired")
    w.err("post", url + "/retire", "lead_planner", {}, 409, "plan.retired")
    listed = w.ok("get", "/api/v1/plans", "lead_planner")
    assert plan["id"] not in [p["id"] for p in listed["items"]]
    listed = w.ok("get", "/api/v1/plans?include_retired=true", "lead_planner")
    assert plan["id"] in [p["id"] for p in listed["items"]]
    published = w.published_plan()
    w.err("post", f"/api/v1/plans/{published['id']}/retire", "lead_planner", {}, 409, "plan.bad_status")


def test_published_changes_cannot_pull_what_tasks_use(w):
    plan = w.published_plan()
    task = w.create_task(plan, batch_id=plan["batches"][0]["id"])
    url = f"/api/v1/plans/{plan['id']}"
    w.err("patch", url, "lead_planner", {"item_ids": [w.item_key.id, w.item_part.id], "reason": "r"}, 409,
          "plan.item_in_use")
    w.err("patch", url, "lead_planner", {"batches": plan_batches(plan)[1:], "reason": "r"}, 409, "plan.batch_in_use")
    w.err("patch", url, "lead_planner", {"kind": "department", "participant_department_ids": [],
                                         "item_ids": [w.item_general.id], "reason": "r"}, 409,
          "plan.department_in_use")
    # a batch may change in place; an unused item may go
    out = w.ok("patch", url, "lead_planner", {"batches": [dict(plan_batches(plan)[0], name="第一批（调整）"),
                                                           plan_batches(plan)[1]],
                                               "item_ids": [w.item_general.id, w.item_part.id], "reason": "r"})
    assert out["batches"][0]["id"] == plan["batches"][0]["id"] and out["batches"][0]["name"] == "第一批（调整）"
    # once the task is cancelled its items no longer hold the plan, but its batch still does
    w.ok("post", f"/api/v1/tasks/{task['id']}/cancel", "lead_planner", {"reason": "取消"})
    w.ok("patch", url, "lead_planner", {"item_ids": [w.item_part.id], "reason": "r2"})
    w.err("patch", url, "lead_planner", {"batches": plan_batches(plan)[1:], "reason": "r"}, 409, "plan.batch_in_use")


def test_lists_filter_and_paginate(w):
    a = w.create_plan(name="甲计划")
    b = w.published_plan(name="乙计划", year=2025)
    c = w.create_plan(name="外部门计划", who="other_planner", kind="department", participant_department_ids=[],
                      item_ids=[w.item_other.id])
    ids = lambda body: [p["id"] for p in body["items"]]  # noqa: E731
    assert set(ids(w.ok("get", "/api/v1/plans", "lead_planner"))) == {a["id"], b["id"]}
    assert set(ids(w.ok("get", "/api/v1/plans", "part_planner"))) == {a["id"], b["id"]}
    assert ids(w.ok("get", "/api/v1/plans", "other_planner")) == [c["id"]]
    assert {a["id"], b["id"], c["id"]} <= set(ids(w.ok("get", "/api/v1/plans?page_size=200", "supervisor")))
    assert ids(w.ok("get", "/api/v1/plans?year=2025", "lead_planner")) == [b["id"]]
    assert ids(w.ok("get", "/api/v1/plans?status=published", "lead_planner")) == [b["id"]]
    assert ids(w.ok("get", "/api/v1/plans?q=甲", "lead_planner")) == [a["id"]]
    assert ids(w.ok("get", f"/api/v1/plans?q={a['code'].lower()}", "lead_planner")) == [a["id"]]
    assert ids(w.ok("get", "/api/v1/plans?q=100%25", "lead_planner")) == []
    assert ids(w.ok("get", f"/api/v1/plans?department_id={w.other.id}", "sysadmin")) == [c["id"]]
    page = w.ok("get", "/api/v1/plans?page_size=1&page=2", "lead_planner")
    assert page["total"] == 2 and page["pages"] == 2 and len(page["items"]) == 1
    w.err("get", f"/api/v1/plans?department_id={w.other.id}", "lead_planner", status=403, code="forbidden.department")
    w.err("get", "/api/v1/plans?status=nope", "lead_planner", status=422)


def test_sysadmin_names_the_lead(w):
    w.err("post", "/api/v1/plans", "sysadmin", w.plan_body(), 422, "plan.lead_required")
    plan = w.create_plan(who="sysadmin", lead_department_id=w.lead.id)
    assert plan["lead_department"]["id"] == w.lead.id
    w.err("post", "/api/v1/plans", "lead_planner", w.plan_body(lead_department_id=w.other.id), 403,
          "forbidden.department")


def test_bad_input_never_gives_500(w):
    plan = w.create_plan()
    url = f"/api/v1/plans/{plan['id']}"
    for body in (None, {}, [], "x", 5, {"year": "2026"}, {"year": 1999}, {"name": "x" * 201},
                 {"name": "a\x00b", "year": 2026}, {"item_ids": ["1"]}, {"item_ids": [2**40]},
                 {"participant_department_ids": {"a": 1}}, {"kind": "other"}):
        r = w.client.post("/api/v1/plans", json=body, headers=w.h["lead_planner"])
        assert r.status_code == 422, (body, r.json)
        r = w.client.patch(url, json=body, headers=w.h["lead_planner"])
        assert r.status_code in (200, 422), (body, r.json)
    r = w.client.post("/api/v1/plans", data="{not json", headers={**w.h["lead_planner"],
                                                                   "Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    for bad in ("/api/v1/plans/999999", "/api/v1/plans/99999999999999999999", "/api/v1/plans/0"):
        w.err("get", bad, "lead_planner", status=404)
        w.err("patch", bad, "lead_planner", {"name": "x"}, 404)
        w.err("post", bad + "/approve", "lead_admin", status=404)
        w.err("get", bad + "/versions", "lead_planner", status=404)
    w.err("get", "/api/v1/plans/abc", "lead_planner", status=404)
    w.err("get", "/api/v1/plans?page=0", "lead_planner", status=422)
    w.err("get", "/api/v1/plans?q=%00", "lead_planner", status=422)
    w.err("get", "/api/v1/plans?department_id=99999999999999", "supervisor", status=422)


def test_plan_model_state_after_publish(w, db_session):
    plan = w.published_plan()
    row = db_session.get(Plan, plan["id"])
    db_session.refresh(row)
    assert row.status == "published" and row.published_at is not None and row.version == 1


# --- issue 6 §3.2: ratios above an item's cap are refused at approval, naming the item ----------

def test_ratios_above_an_items_cap_are_not_approved(w, audit_of):
    """item_general is capped at 5 %, item_part at 10 %: 30 % in D and 8 % in C exceed them."""
    plan = w.create_plan(ratio_rules={"A": {"num": 1, "den": 100, "min": 1}, "C": {"num": 8, "den": 100},
                                      "D": {"num": 30, "den": 100}})
    url = f"/api/v1/plans/{plan['id']}"
    e = w.err("post", url + "/approve", "lead_admin", status=422, code="plan.ratio_above_cap")
    general, part = w.item_general, w.item_part
    assert general.name in e["message"] and general.code in e["message"] and part.code in e["message"]
    assert sorted((v["item"], v["stratum"]) for v in e["details"]["violations"]) == sorted(
        [(general.code, "C"), (general.code, "D"), (part.code, "D")])
    assert set(e["errors"]) == {"ratio_rules.C", "ratio_rules.D"}
    assert w.ok("get", url, "lead_planner")["status"] == "draft"
    assert audit_of("plan", plan["id"], "plan.approve") == []
    # within every cap (5 % is the tightest): approved, published, and a task can be made from it
    w.ok("patch", url, "lead_planner", {"ratio_rules": {"A": {"num": 1, "den": 100, "min": 1},
                                                        "C": {"num": 5, "den": 100}, "D": {"num": 1, "den": 20}}})
    w.ok("post", url + "/approve", "lead_admin")
    published = w.ok("post", url + "/publish", "lead_admin")
    task = w.create_task(published, strata={"C": {"num": 5, "den": 100}, "D": {"num": 5, "den": 100}})
    assert task["strata"]["C"] == published["ratio_rules"]["C"]


def test_a_cap_lowered_after_approval_stops_publishing(w, db_session):
    plan = w.create_plan()            # D 5/100: within item_general's 5 %
    url = f"/api/v1/plans/{plan['id']}"
    w.ok("post", url + "/approve", "lead_admin")
    w.item_general.ratio_cap_percent = 3
    db_session.flush()
    e = w.err("post", url + "/publish", "lead_admin", status=422, code="plan.ratio_above_cap")
    assert w.item_general.code in e["message"] and "3%" in e["message"]
    assert w.ok("get", url, "lead_planner")["status"] == "approved"


def test_a_published_plan_is_not_adjusted_above_a_cap(w, db_session, factory):
    plan = w.published_plan()
    url = f"/api/v1/plans/{plan['id']}"
    e = w.err("patch", url, "lead_planner", {"ratio_rules": {"D": {"num": 1, "den": 10}}, "reason": "提高比例"},
              422, "plan.ratio_above_cap")
    assert w.item_general.code in e["message"]
    low = factory.item(w.lead, kind="general", ratio_cap_percent=0.5)
    e = w.err("patch", url, "lead_planner", {"item_ids": [i["item_id"] for i in plan["items"]] + [low.id],
                                             "reason": "增加事项"}, 422, "plan.ratio_above_cap")
    assert low.code in e["message"] and "0.5%" in e["message"]
    after = w.ok("get", url, "lead_planner")
    assert after["version"] == 1 and after["ratio_rules"] == plan["ratio_rules"]
    assert db_session.query(PlanVersion).filter_by(plan_id=plan["id"]).count() == 0
