"""Tasks: creation from a published plan, filters, strata and caps, groups, the 会审 flow, cancel, read-only."""
from __future__ import annotations

import pytest

from backend.actor import Actor
from backend.db import utcnow
from backend.errors import DomainError
from backend.plans import services
from backend.plans.models import Task


def test_create_from_a_published_plan(w, audit_of):
    plan = w.published_plan()
    task = w.create_task(plan, batch_id=plan["batches"][1]["id"])
    assert task["code"] == "SS-2026-001" and task["status"] == "draft"
    assert task["plan"]["code"] == plan["code"] and task["batch"]["seq"] == 2
    assert task["lead_department"]["code"] == w.lead.code
    depts = {d["code"]: d for d in task["departments"]}
    assert depts[w.lead.code]["role"] == "lead" and depts[w.lead.code]["members_per_group"] == 2
    assert depts[w.part.code]["status"] == "pending" and depts[w.part.code]["members_per_group"] == 1
    assert task["members_per_group"] == 3
    assert {(i["item_id"], i["department_id"]) for i in task["items"]} == {(w.item_general.id, w.lead.id),
                                                                         (w.item_part.id, w.part.id)}
    assert task["filters"] == {} and task["directed"] is False
    assert task["exclusions"] == {"inspected_this_year": True, "a_class_exempt": True}
    assert task["methods"] == ["onsite", "documents", "online"]  # from the items, in vocabulary order
    assert task["start_date"] == "2026-04-01" and task["draw_date"] == "2026-03-25"
    assert w.create_task(plan)["code"] == "SS-2026-002"
    [entry] = audit_of("task", task["id"], "task.create")
    assert entry.department_id == w.lead.id


def test_only_published_plans_and_only_their_lead(w):
    draft = w.create_plan()
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(draft), 409, "task.plan_not_published")
    plan = w.published_plan()
    w.err("post", "/api/v1/tasks", "part_planner", w.task_body(plan), 403, "forbidden.department")
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body({"id": 987654}), 422, "task.plan_not_found")
    given = w.create_task(plan, code="SS-CUSTOM-7")
    assert given["code"] == "SS-CUSTOM-7"
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, code="SS-CUSTOM-7"), 409, "task.code_taken")
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, code="A B"), 422)
    other = w.published_plan()
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, batch_id=other["batches"][0]["id"]), 422,
          "task.bad_batch")


def test_departments_and_items_come_from_the_plan(w):
    plan = w.published_plan()
    w.err("post", "/api/v1/tasks", "lead_planner",
          w.task_body(plan, departments=[{"department_id": w.other.id, "members_per_group": 1}]), 422,
          "task.department_not_in_plan")
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, item_ids=[w.item_other.id]), 422,
          "task.item_not_in_plan")
    e = w.err("post", "/api/v1/tasks", "lead_planner",
              w.task_body(plan, departments=[{"department_id": w.lead.id, "members_per_group": 2}]), 422,
              "task.item_department")
    assert w.item_part.code in e["message"]
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, item_ids=[]), 422)
    w.err("post", "/api/v1/tasks", "lead_planner",
          w.task_body(plan, departments=[{"department_id": w.part.id}, {"department_id": w.part.id}]), 422,
          "task.department_duplicate")
    # without participants: the lead alone, its default of two officers per group
    alone = w.create_task(plan, departments=[], item_ids=[w.item_general.id])
    assert [(d["role"], d["members_per_group"]) for d in alone["departments"]] == [("lead", 2)]


def test_at_least_two_officers_per_group(w):
    plan = w.published_plan()
    w.err("post", "/api/v1/tasks", "lead_planner",
          w.task_body(plan, departments=[{"department_id": w.lead.id, "members_per_group": 0},
                                         {"department_id": w.part.id, "members_per_group": 3}]), 422,
          "task.lead_members")
    e = w.err("post", "/api/v1/tasks", "lead_planner",
              w.task_body(plan, departments=[{"department_id": w.lead.id, "members_per_group": 1},
                                             {"department_id": w.part.id, "members_per_group": 0}]), 422,
              "task.group_too_small")
    assert "两名" in e["message"]
    w.err("post", "/api/v1/tasks", "lead_planner",
          w.task_body(plan, departments=[{"department_id": w.lead.id, "members_per_group": 2},
                                         {"department_id": w.part.id, "members_per_group": 0}],
                      item_ids=[w.item_general.id]), 422, "task.department_idle")
    w.err("post", "/api/v1/tasks", "lead_planner",
          w.task_body(plan, departments=[{"department_id": w.part.id, "members_per_group": -1}]), 422)
    ok = w.create_task(plan, departments=[{"department_id": w.lead.id, "members_per_group": 2},
                                          {"department_id": w.part.id, "members_per_group": 0}])
    assert {d["code"]: d["members_per_group"] for d in ok["departments"]} == {w.lead.code: 2, w.part.code: 0}


@pytest.mark.parametrize("filters, ok", [
    ({"regions": ["41"]}, True), ({"regions": ["411203001"]}, True), ({"regions": ["4a"]}, False),
    ({"regions": ["4"]}, False), ({"regions": ["４１"]}, False),
    ({"industries": ["F"]}, True), ({"industries": ["F52", "F5211"]}, True), ({"industries": ["Z1"]}, False),
    ({"industries": ["F5"]}, False),
    ({"types": ["enterprise", "individual"]}, True), ({"types": ["bank"]}, False),
    ({"risk_classes": ["C", "D"]}, True), ({"risk_classes": ["E"]}, False), ({"risk_classes": ["U"]}, False),
    ({"tags": ["食品经营"]}, True), ({"tags": ["a,b"]}, False), ({"tags": [""]}, False),
    ({"colour": ["red"]}, False), ({"regions": "41"}, False), ({"regions": [41]}, False),
])
def test_filters_are_checked_against_the_vocabulary(w, filters, ok):
    plan = w.published_plan()
    body = w.task_body(plan, filters=filters, strata={"A": {"num": 1, "den": 100}, "B": {"num": 1, "den": 100},
                                                      "C": {"num": 1, "den": 100}, "D": {"num": 1, "den": 100},
                                                      "U": {"num": 1, "den": 100}}
                       if "risk_classes" not in filters else {"C": {"num": 1, "den": 100}, "D": {"num": 1, "den": 100}})
    r = w.client.post("/api/v1/tasks", json=body, headers=w.h["lead_planner"])
    if ok:
        assert r.status_code == 201, r.json
        assert r.json["directed"] is True and r.json["filters"] == {k: sorted(v) for k, v in filters.items()}
    else:
        assert r.status_code == 422, r.json
        assert r.json["code"] in ("task.bad_filter", "validation_error")


def test_strata_default_from_the_plan_then_the_settings(w, app):
    plan = w.published_plan(ratio_rules={"A": {"num": 1, "den": 100, "min": 1}, "D": {"num": 4, "den": 100}})
    # only the key item: no cap, so the defaults stand as they are
    task = w.create_task(plan, departments=[], item_ids=[w.item_key.id], strata=None)
    defaults = app.config["RISK_RATIOS"]
    assert task["strata"] == {"A": {"num": 1, "den": 100, "min": 1}, "B": defaults["B"], "C": defaults["C"],
                              "D": {"num": 4, "den": 100}, "U": defaults["U"]}
    assert task["strata_mode"] == "risk"
    partial = w.create_task(plan, departments=[], item_ids=[w.item_key.id], strata={"C": {"num": 20, "den": 100}})
    assert partial["strata"]["C"] == {"num": 20, "den": 100} and partial["strata"]["D"] == {"num": 4, "den": 100}
    directed = w.create_task(plan, departments=[], item_ids=[w.item_key.id], strata=None,
                             filters={"risk_classes": ["D", "C"]})
    assert sorted(directed["strata"]) == ["C", "D"]
    flat = w.create_task(plan, departments=[], item_ids=[w.item_key.id], strata=None, strata_mode="all")
    assert flat["strata"] == {"all": defaults["U"]}
    # 7 % is within item_part's 10 % (item_general's 5 % would refuse the plan: plan.ratio_above_cap)
    plan2 = w.published_plan(ratio_rules={"all": {"num": 7, "den": 100, "cap": 500}},
                             item_ids=[w.item_key.id, w.item_part.id])
    flat2 = w.create_task(plan2, departments=[], item_ids=[w.item_key.id], strata=None, strata_mode="all")
    assert flat2["strata"] == {"all": {"num": 7, "den": 100, "cap": 500}}
    w.err("post", "/api/v1/tasks", "lead_planner",
          w.task_body(plan, departments=[], item_ids=[w.item_key.id], strata_mode="all",
                      strata={"A": {"num": 1, "den": 100}}), 422, "task.bad_stratum")
    w.err("post", "/api/v1/tasks", "lead_planner",
          w.task_body(plan, departments=[], item_ids=[w.item_key.id], filters={"risk_classes": ["D"]},
                      strata={"A": {"num": 1, "den": 100}}), 422, "task.bad_stratum")
    w.err("post", "/api/v1/tasks", "lead_planner",
          w.task_body(plan, strata={"A": {"num": 3, "den": 2}}), 422, "task.bad_ratio")
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, strata_mode="none"), 422)


def test_the_cap_of_general_items(w):
    plan = w.published_plan()
    # defaults (C 10%, D 30%) exceed the 5% cap of the lead's general item: refused, naming it
    e = w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, strata=None), 422, "task.ratio_above_cap")
    assert w.item_general.code in e["message"] and "5%" in e["message"]
    assert e["details"]["item"] == w.item_general.code
    five = {k: {"num": 5, "den": 100} for k in "ABCDU"}
    assert w.create_task(plan, strata=five)["strata"]["D"] == {"num": 5, "den": 100}
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, strata=dict(five, B={"num": 51, "den": 1000})),
          422, "task.ratio_above_cap")
    # only the participant's item (10%): 10/100 passes, 101/1000 does not
    body = dict(departments=[{"department_id": w.lead.id, "members_per_group": 1},
                             {"department_id": w.part.id, "members_per_group": 1}], item_ids=[w.item_part.id])
    w.create_task(plan, strata={k: {"num": 10, "den": 100} for k in "ABCDU"}, **body)
    e = w.err("post", "/api/v1/tasks", "lead_planner",
              w.task_body(plan, strata={"C": {"num": 101, "den": 1000}}, **body), 422, "task.ratio_above_cap")
    assert w.item_part.code in e["message"] and "10%" in e["message"]
    # key items have no cap
    w.create_task(plan, departments=[], item_ids=[w.item_key.id], strata={"D": {"num": 100, "den": 100}})


def test_fractional_caps_use_exact_arithmetic(w, factory):
    item = factory.item(w.lead, kind="general", ratio_cap_percent="2.5")
    plan = w.published_plan(kind="department", participant_department_ids=[], item_ids=[item.id],
                            ratio_rules={"A": {"num": 1, "den": 100, "min": 1}})   # within the 2.5 % cap
    base = dict(departments=[], item_ids=[item.id])
    w.create_task(plan, strata={k: {"num": 1, "den": 40} for k in "ABCDU"}, **base)            # exactly 2.5%
    w.err("post", "/api/v1/tasks", "lead_planner",
          w.task_body(plan, strata={k: {"num": 1, "den": 39} for k in "ABCDU"}, **base), 422, "task.ratio_above_cap")
    item2 = factory.item(w.lead, kind="general", ratio_cap_percent="0.001")
    assert services.ratio_within_cap(1, 100000, item2.ratio_cap_percent)
    assert not services.ratio_within_cap(1, 99999, item2.ratio_cap_percent)
    assert services.ratio_within_cap(0, 1, "0")


def test_methods_dates_exclusions_group_load(w):
    plan = w.published_plan()
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, methods=["onsite", "telepathy"]), 422,
          "task.bad_method")
    assert w.create_task(plan, methods=["documents", "onsite"])["methods"] == ["onsite", "documents"]
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, end_date="2026-03-01"), 422, "task.bad_dates")
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, draw_date="2026-07-01"), 422, "task.bad_dates")
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, start_date="2026-02-30"), 422)
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, group_load=0), 422)
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, group_load="5"), 422)
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, exclusions={"inspected_this_year": "maybe"}), 422)
    w.err("post", "/api/v1/tasks", "lead_planner", w.task_body(plan, exclusions={"other": True}), 422)
    t = w.create_task(plan, exclusions={"a_class_exempt": False}, group_load=3)
    assert t["exclusions"] == {"inspected_this_year": True, "a_class_exempt": False} and t["group_load"] == 3


def test_consultation_confirm_flow(w, db_session, audit_of):
    task = w.create_task()
    url = f"/api/v1/tasks/{task['id']}"
    row = db_session.get(Task, task["id"])
    with pytest.raises(DomainError) as info:
        services.ensure_drawable(row)
    assert info.value.code == "task.not_confirmed" and "尚未发送" in info.value.message
    w.err("post", url + "/decision", "part_planner", {"decision": "confirm"}, 409, "task.not_consulting")
    sent = w.ok("post", url + "/send", "lead_planner")
    assert sent["status"] == "consulting"
    assert {d["code"]: d["status"] for d in sent["departments"]} == {w.lead.code: "confirmed", w.part.code: "pending"}
    w.err("post", url + "/send", "lead_planner", status=409, code="task.bad_status")
    db_session.expire_all()
    with pytest.raises(DomainError) as info:
        services.ensure_drawable(db_session.get(Task, task["id"]))
    assert w.part.code in info.value.message and info.value.details["departments"] == [w.part.code]
    done = w.ok("post", url + "/decision", "part_admin", {"decision": "confirm"})
    assert done["status"] == "confirmed"
    part = next(d for d in done["departments"] if d["code"] == w.part.code)
    assert part["status"] == "confirmed" and part["decided_by"] and part["decided_at"]
    db_session.expire_all()
    row = db_session.get(Task, task["id"])
    services.ensure_drawable(row)  # no error
    assert services.draw_plan_object(row) == {
        "strata": task["strata"], "lead": w.lead.code, "members": {w.lead.code: 2, w.part.code: 1}, "group_load": 5}
    actions = [e.action for e in audit_of("task", task["id"])]
    assert actions == ["task.create", "task.send", "task.confirm"]
    assert all(e.department_id == w.lead.id for e in audit_of("task", task["id"]))
    w.err("post", url + "/decision", "part_admin", {"decision": "decline", "reason": "晚了"}, 409, "task.not_consulting")


def test_decline_edit_and_resend(w, db_session, factory, auth):
    third = factory.department()
    item3 = factory.item(third, kind="key")
    h3 = auth.as_role("planner", third)[1]
    w.h["third"] = h3
    plan = w.published_plan(participant_department_ids=[w.part.id, third.id],
                            item_ids=[w.item_general.id, w.item_part.id, item3.id])
    task = w.create_task(plan, departments=[{"department_id": w.part.id}, {"department_id": third.id}],
                         item_ids=[w.item_general.id, w.item_part.id, item3.id])
    url = f"/api/v1/tasks/{task['id']}"
    w.ok("post", url + "/send", "lead_planner")
    w.ok("post", url + "/decision", "third", {"decision": "confirm"})
    w.err("post", url + "/decision", "third", {"decision": "confirm"}, 409, "task.already_decided")
    w.err("post", url + "/decision", "part_planner", {"decision": "decline"}, 422, "task.reason_required")
    w.err("post", url + "/decision", "part_planner", {"decision": "decline", "reason": "  "}, 422,
          "task.reason_required")
    w.err("post", url + "/decision", "part_planner", {"decision": "maybe"}, 422)
    out = w.ok("post", url + "/decision", "part_planner", {"decision": "decline", "reason": "人员不足"})
    assert out["status"] == "declined"
    assert next(d for d in out["departments"] if d["code"] == w.part.code)["reason"] == "人员不足"
    db_session.expire_all()
    with pytest.raises(DomainError) as info:
        services.ensure_drawable(db_session.get(Task, task["id"]))
    assert info.value.details["departments"] == [w.part.code] and w.part.name in info.value.message
    # the lead edits (back to draft) and sends again: every decision starts over
    edited = w.ok("patch", url, "lead_planner", {"departments": [{"department_id": w.lead.id, "members_per_group": 1},
                                                                  {"department_id": w.part.id, "members_per_group": 2},
                                                                  {"department_id": third.id, "members_per_group": 0}]})
    assert edited["status"] == "draft"
    resent = w.ok("post", url + "/send", "lead_planner")
    assert resent["status"] == "consulting"
    assert {d["code"]: (d["status"], d["reason"]) for d in resent["departments"] if d["role"] != "lead"} == {
        w.part.code: ("pending", None), third.code: ("pending", None)}
    w.ok("post", url + "/decision", "part_planner", {"decision": "confirm"})
    assert w.ok("get", url, "lead_planner")["status"] == "consulting"
    final = w.ok("post", url + "/decision", "third", {"decision": "confirm", "reason": "同意"})
    assert final["status"] == "confirmed"
    db_session.expire_all()
    row = db_session.get(Task, task["id"])
    assert services.draw_plan_object(row)["members"] == {w.lead.code: 1, w.part.code: 2}  # m = 0 left out


def test_a_declined_task_may_be_resent_unchanged(w):
    task = w.create_task()
    url = f"/api/v1/tasks/{task['id']}"
    w.ok("post", url + "/send", "lead_planner")
    w.ok("post", url + "/decision", "part_planner", {"decision": "decline", "reason": "请再确认日期"})
    again = w.ok("post", url + "/send", "lead_planner")
    assert again["status"] == "consulting"


def test_editing_a_confirmed_task_returns_it_to_draft(w, audit_of):
    task = w.create_task()
    url = f"/api/v1/tasks/{task['id']}"
    w.ok("post", url + "/send", "lead_planner")
    w.ok("post", url + "/decision", "part_planner", {"decision": "confirm"})
    same = w.ok("patch", url, "lead_planner", {"name": task["name"]})
    assert same["status"] == "confirmed"  # nothing changed, nothing reset
    out = w.ok("patch", url, "lead_planner", {"group_load": 8})
    assert out["status"] == "draft" and out["group_load"] == 8
    [entry] = audit_of("task", task["id"], "task.update")
    assert entry.detail["reset_to_draft"] is True


def test_a_task_without_participants_is_confirmed_on_send(w, db_session):
    task = w.create_task(departments=[], item_ids=[w.item_general.id])
    out = w.ok("post", f"/api/v1/tasks/{task['id']}/send", "lead_planner")
    assert out["status"] == "confirmed"
    db_session.expire_all()
    row = db_session.get(Task, task["id"])
    services.ensure_drawable(row)
    assert services.draw_plan_object(row) == {"strata": task["strata"], "lead": w.lead.code,
                                              "members": {w.lead.code: 2}, "group_load": 5}


def test_who_may_decide(w):
    task = w.create_task()
    url = f"/api/v1/tasks/{task['id']}"
    w.ok("post", url + "/send", "lead_planner")
    w.err("post", url + "/decision", "lead_planner", {"decision": "confirm"}, 403, "forbidden.department")
    w.err("post", url + "/decision", "other_planner", {"decision": "confirm"}, 403, "forbidden.department")
    w.err("post", url + "/decision", "part_planner", {"decision": "confirm", "department_id": w.other.id}, 403)
    w.err("post", url + "/decision", "supervisor", {"decision": "confirm"}, 403, "forbidden.role")
    w.err("post", url + "/decision", "part_inspector", {"decision": "confirm"}, 403, "forbidden.role")
    w.err("post", url + "/decision", "sysadmin", {"decision": "confirm"}, 422, "task.department_required")
    out = w.ok("post", url + "/decision", "sysadmin", {"decision": "confirm", "department_id": w.part.id})
    assert out["status"] == "confirmed"


def test_cancel_before_the_draw_only(w, db_session, audit_of):
    task = w.create_task()
    url = f"/api/v1/tasks/{task['id']}"
    w.err("post", url + "/cancel", "lead_planner", {}, 422)
    w.err("post", url + "/cancel", "lead_planner", {"reason": "   "}, 422, "task.reason_required")
    w.ok("post", url + "/send", "lead_planner")
    out = w.ok("post", url + "/cancel", "lead_admin", {"reason": "专项整治替代"})
    assert out["status"] == "cancelled"
    [entry] = audit_of("task", task["id"], "task.cancel")
    assert entry.detail["reason"] == "专项整治替代" and entry.department_id == w.lead.id
    w.err("post", url + "/cancel", "lead_planner", {"reason": "again"}, 409, "task.read_only")
    w.err("patch", url, "lead_planner", {"name": "x"}, 409, "task.read_only")
    w.err("post", url + "/send", "lead_planner", status=409, code="task.read_only")
    with pytest.raises(DomainError) as info:
        db_session.expire_all()
        services.ensure_drawable(db_session.get(Task, task["id"]))
    assert info.value.code == "task.not_confirmed"


@pytest.mark.parametrize("status", ["committed", "drawn"])
def test_after_the_draw_service_a_task_is_read_only(w, db_session, status):
    task = w.create_task(departments=[], item_ids=[w.item_general.id])
    w.ok("post", f"/api/v1/tasks/{task['id']}/send", "lead_planner")
    row = db_session.get(Task, task["id"])
    row.status = status
    db_session.flush()
    url = f"/api/v1/tasks/{task['id']}"
    e = w.err("patch", url, "lead_planner", {"name": "x"}, 409, "task.read_only")
    assert "不能再修改" in e["message"]
    w.err("post", url + "/cancel", "lead_planner", {"reason": "x"}, 409, "task.read_only")
    w.err("post", url + "/send", "lead_planner", status=409, code="task.read_only")
    assert w.ok("get", url, "lead_planner")["status"] == status


def test_editing_checks_the_final_state(w, db_session):
    task = w.create_task()
    url = f"/api/v1/tasks/{task['id']}"
    w.err("patch", url, "lead_planner", {"strata": {"D": {"num": 30, "den": 100}}}, 422, "task.ratio_above_cap")
    w.err("patch", url, "lead_planner", {"departments": [{"department_id": w.lead.id, "members_per_group": 2}]}, 422,
          "task.item_department")
    w.err("patch", url, "lead_planner", {"end_date": "2026-01-01"}, 422, "task.bad_dates")
    w.err("patch", url, "lead_planner", {"code": "OTHER"}, 422)  # not a field of the update
    out = w.ok("patch", url, "lead_planner", {"item_ids": [w.item_key.id], "departments": [],
                                               "strata": {"D": {"num": 30, "den": 100}}})
    assert [d["role"] for d in out["departments"]] == ["lead"] and out["strata"]["D"] == {"num": 30, "den": 100}
    assert out["strata"]["A"] == task["strata"]["A"]  # kept from before
    out = w.ok("patch", url, "lead_planner", {"strata_mode": "all"})
    assert list(out["strata"]) == ["all"]
    out = w.ok("patch", url, "lead_planner", {"filters": {"regions": ["4112"]}, "strata_mode": "risk"})
    assert out["directed"] and out["strata"]["D"] == {"num": 5, "den": 100}  # back to the plan's rule
    # a newly retired item cannot be added; one already in the task is refused on send
    w.item_general.retired_at = utcnow()
    db_session.flush()
    w.err("patch", url, "lead_planner", {"item_ids": [w.item_key.id, w.item_general.id],
                                          "strata": {k: {"num": 1, "den": 100} for k in "ABCDU"}}, 422,
          "task.item_retired")


def test_send_refuses_retired_items_and_unpublished_plans(w, db_session):
    task = w.create_task()
    w.item_part.retired_at = utcnow()
    db_session.flush()
    e = w.err("post", f"/api/v1/tasks/{task['id']}/send", "lead_planner", status=409, code="task.item_retired")
    assert w.item_part.code in e["message"]
    # taking the retired item out makes it sendable again
    w.ok("patch", f"/api/v1/tasks/{task['id']}", "lead_planner", {"item_ids": [w.item_general.id]})
    assert w.ok("post", f"/api/v1/tasks/{task['id']}/send", "lead_planner")["status"] == "consulting"


def test_task_lists_are_scoped_and_filtered(w):
    plan = w.published_plan()
    a = w.create_task(plan, name="甲任务")
    b = w.create_task(plan, name="乙任务", departments=[], item_ids=[w.item_general.id])
    w.ok("post", f"/api/v1/tasks/{b['id']}/send", "lead_planner")
    ids = lambda body: [t["id"] for t in body["items"]]  # noqa: E731
    assert ids(w.ok("get", "/api/v1/tasks", "lead_planner")) == [b["id"], a["id"]]
    assert ids(w.ok("get", "/api/v1/tasks", "part_planner")) == [a["id"]]
    assert ids(w.ok("get", "/api/v1/tasks", "other_planner")) == []
    assert {a["id"], b["id"]} <= set(ids(w.ok("get", "/api/v1/tasks?page_size=200", "supervisor")))
    assert ids(w.ok("get", "/api/v1/tasks?status=confirmed", "lead_planner")) == [b["id"]]
    assert ids(w.ok("get", "/api/v1/tasks?q=甲", "lead_planner")) == [a["id"]]
    assert ids(w.ok("get", f"/api/v1/tasks?q={a['code']}", "lead_planner")) == [a["id"]]
    assert ids(w.ok("get", "/api/v1/tasks?year=2025", "lead_planner")) == []
    assert ids(w.ok("get", f"/api/v1/tasks?year=2026&plan_id={plan['id']}", "lead_planner")) == [b["id"], a["id"]]
    assert ids(w.ok("get", f"/api/v1/tasks?department_id={w.part.id}", "sysadmin")) == [a["id"]]
    w.err("get", f"/api/v1/tasks?department_id={w.part.id}", "lead_planner", status=403, code="forbidden.department")
    w.err("get", "/api/v1/tasks?status=bogus", "lead_planner", status=422)


def test_bad_task_input_never_gives_500(w):
    plan = w.published_plan()
    task = w.create_task(plan)
    url = f"/api/v1/tasks/{task['id']}"
    for body in (None, {}, [], "x", {"plan_id": "1"}, {"plan_id": plan["id"]}, {"plan_id": 2**40, "name": "x"},
                 dict(w.task_body(plan), item_ids=[0]), dict(w.task_body(plan), departments="x"),
                 dict(w.task_body(plan), departments=[{"department_id": w.part.id, "members_per_group": "2"}]),
                 dict(w.task_body(plan), filters=[]), dict(w.task_body(plan), strata=[]),
                 dict(w.task_body(plan), filters={"tags": ["a\x00"]}), dict(w.task_body(plan), name="a\x00"),
                 dict(w.task_body(plan), batch_id=2**40), dict(w.task_body(plan), methods="onsite")):
        r = w.client.post("/api/v1/tasks", json=body, headers=w.h["lead_planner"])
        assert r.status_code == 422, (body, r.json)
    for body in (None, {}, [], {"batch_id": 999999}, {"item_ids": [999999]}, {"name": ""}, {"group_load": None},
                 {"strata": {"A": None}}, {"filters": None}, {"departments": None}, {"item_ids": None},
                 {"start_date": None, "end_date": None}):
        r = w.client.patch(url, json=body, headers=w.h["lead_planner"])
        assert r.status_code in (200, 422), (body, r.json)
    for body in (None, {}, {"decision": 1}, {"decision": "confirm", "department_id": "x"}):
        r = w.client.post(url + "/decision", json=body, headers=w.h["part_planner"])
        assert r.status_code in (409, 422), (body, r.json)
    for bad in ("/api/v1/tasks/999999", "/api/v1/tasks/99999999999999999999"):
        w.err("get", bad, "lead_planner", status=404, code="task.not_found")
        w.err("patch", bad, "lead_planner", {"name": "x"}, 404)
        w.err("post", bad + "/send", "lead_planner", status=404)
        w.err("post", bad + "/decision", "part_planner", {"decision": "confirm"}, 404)
        w.err("post", bad + "/cancel", "lead_planner", {"reason": "x"}, 404)


def test_services_refuse_without_flask(w, db_session):
    """The services stand alone (CLI, jobs): same rules, same errors."""
    plan = w.published_plan()
    actor = Actor.system("test")
    data = w.task_body(plan, start_date=None, end_date=None, draw_date=None)
    with pytest.raises(DomainError) as info:
        services.create_task(db_session, actor, dict(data, strata=None), {k: {"num": 1, "den": 10} for k in "ABCDU"})
    assert info.value.code == "task.ratio_above_cap"
    task = services.create_task(db_session, actor, dict(data, strata={"A": {"num": 1, "den": 100}},
                                                        filters={"risk_classes": ["A"]}), {})
    assert task.strata == {"A": {"num": 1, "den": 100}}
    with pytest.raises(DomainError) as info:
        services.create_task(db_session, actor, dict(data, strata=None, filters={"risk_classes": ["B"]}), {})
    assert info.value.code == "task.strata_required"
    snap = services.task_snapshot(task)
    assert snap["code"] == task.code and snap["lead"] == w.lead.code and snap["status"] == "draft"
    assert snap["decisions"] == {w.part.code: {"status": "pending", "reason": None}}


def test_the_consult_inbox_filters_on_the_server(w):
    """GET /api/v1/tasks?decision=…: the tasks a department takes part in (not leads), by where its own 会审
    decision stands; paged and searched as the list."""
    plan = w.published_plan()
    waiting = w.create_task(plan, name="待会审的联合抽查")
    confirmed = w.create_task(plan, name="已确认的联合抽查")
    declined = w.create_task(plan, name="已退回的联合抽查")
    w.create_task(plan, name="未送会审的联合抽查")                      # a draft: pending, but not sent
    for t in (waiting, confirmed, declined):
        w.ok("post", f"/api/v1/tasks/{t['id']}/send", "lead_planner")
    w.ok("post", f"/api/v1/tasks/{confirmed['id']}/decision", "part_planner", {"decision": "confirm"})
    w.ok("post", f"/api/v1/tasks/{declined['id']}/decision", "part_planner", {"decision": "decline", "reason": "人员不足"})

    def ids(who, query):
        page = w.ok("get", f"/api/v1/tasks?{query}", who)
        return [t["id"] for t in page["items"]], page["total"]

    assert ids("part_admin", "decision=pending&status=consulting") == ([waiting["id"]], 1)
    assert ids("part_admin", "decision=confirmed") == ([confirmed["id"]], 1)
    assert ids("part_admin", "decision=declined") == ([declined["id"]], 1)
    assert ids("part_admin", "decision=pending&status=consulting&q=已确认") == ([], 0)
    # paged on the server: one row a page, the total says how many
    page = w.ok("get", "/api/v1/tasks?decision=pending&page_size=1", "part_planner")
    assert page["total"] == 2 and len(page["items"]) == 1 and page["pages"] == 2
    # the lead department decides nothing: its own tasks are not in its inbox
    assert ids("lead_planner", "decision=pending") == ([], 0)
    assert ids("lead_planner", "decision=confirmed") == ([], 0)
    # a system administrator names the department; without one the filter is refused in words
    assert ids("sysadmin", f"decision=pending&status=consulting&department_id={w.part.id}") == ([waiting["id"]], 1)
    e = w.err("get", "/api/v1/tasks?decision=pending", "sysadmin", status=422, code="task.decision_needs_department")
    assert "部门" in e["message"]
    w.err("get", "/api/v1/tasks?decision=maybe", "part_admin", status=422)
    # another department's inbox is not mine to read
    w.err("get", f"/api/v1/tasks?decision=pending&department_id={w.part.id}", "other_planner", status=403,
          code="forbidden.department")
