"""Issue 6 §3.7: experts of the 专家名录库 attached to a task's groups by the lead department, their
conflicts checked, named in the committed facts of the public record."""
from __future__ import annotations

from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.directory.models import ExpertConflict
from backend.draws import algorithm
from backend.draws.experts import recusals
from backend.draws.verify import verify_record
from tests.api.draws.test_draw_flow import commit, seed


def put_experts(client, s, entries, headers=None):
    return client.put(f"/api/v1/tasks/{s.task.id}/experts", json={"experts": entries}, headers=headers or s.headers)


def small(scenario, **kw):
    """4 targets, all drawn, 2 groups of 2."""
    return scenario(risk=("D",), per_class=4, strata={"D": {"num": 1, "den": 1}}, inspectors=(8, 4), group_load=2,
                    **kw)


def test_expert_conflicts_are_declared_listed_and_retired(client, factory, auth, db_session):
    dept = factory.department()
    expert = factory.expert(dept)
    target = factory.target()
    _, admin = auth.as_role(Role.DEPT_ADMIN, dept)
    _, planner = auth.as_role(Role.PLANNER, dept)
    _, outsider = auth.as_role(Role.DEPT_ADMIN, factory.department())
    url = f"/api/v1/experts/{expert.id}/conflicts"
    body = {"target_code": target.code.lower(), "reason": "曾任该企业技术顾问"}
    assert client.post(url, json=body, headers=outsider).status_code == 403
    assert client.post(url, json=body, headers=planner).status_code == 403
    r = client.post(url, json=body, headers=admin)
    assert r.status_code == 201, r.json
    assert (r.json["expert_code"], r.json["target_code"], r.json["reason"]) == (expert.code, target.code,
                                                                                "曾任该企业技术顾问")
    assert client.post(url, json=body, headers=admin).json["code"] == "conflict.duplicate"
    assert client.post(url, json={"target_id": 99999999, "reason": "x"}, headers=admin).status_code == 422
    assert [c["target_code"] for c in client.get(url, headers=planner).json] == [target.code]
    assert client.get(url, headers=outsider).status_code == 403
    r = client.post(f"{url}/{r.json['id']}/retire", json={"retired": True, "reason": "已离职"}, headers=admin)
    assert r.status_code == 200 and r.json["retired"] is True
    assert client.get(url, headers=planner).json == []
    assert len(client.get(url + "?include_retired=true", headers=planner).json) == 1
    actions = db_session.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "expert_conflict")).all()
    assert actions == ["expert_conflict.declare", "expert_conflict.retire"]


def test_the_lead_department_attaches_experts_to_groups(client, scenario, factory, auth, db_session):
    s = small(scenario)
    mine, theirs = factory.expert(s.lead, organization="市特检院", title="高级工程师"), factory.expert(s.other)
    r = put_experts(client, s, [{"expert_id": mine.id, "group": 0}, {"expert_id": theirs.id, "group": 1},
                                {"expert_id": mine.id, "group": 1}])
    assert r.status_code == 200, r.json
    assert [(e["group"], e["code"]) for e in r.json["experts"]] == [(0, mine.code), (1, mine.code),
                                                                    (1, theirs.code)]
    assert r.json["committed"] is None and r.json["recusals"] == []
    _, participant = auth.as_role(Role.PLANNER, s.other)
    assert put_experts(client, s, [], headers=participant).status_code == 403
    assert client.get(f"/api/v1/tasks/{s.task.id}/experts", headers=participant).status_code == 200
    # refused, each with a field error, changing nothing
    outsider = factory.expert(factory.department())
    suspended = factory.expert(s.lead, status="suspended")
    for entries, code in (([{"expert_id": outsider.id, "group": 0}], "task.expert_department"),
                          ([{"expert_id": suspended.id, "group": 0}], "task.expert_unavailable"),
                          ([{"expert_id": 99999999, "group": 0}], "task.expert_not_found"),
                          ([{"expert_id": mine.id, "group": 0}] * 2, "task.expert_duplicate")):
        r = put_experts(client, s, entries)
        assert r.status_code == 422 and r.json["code"] == code, r.json
    for bad in ([{"expert_id": mine.id, "group": -1}], [{"expert_id": mine.id}], [{"expert_id": "1", "group": 0}]):
        assert put_experts(client, s, bad).status_code == 422
    assert len(client.get(f"/api/v1/tasks/{s.task.id}/experts", headers=s.headers).json["experts"]) == 3
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "task.experts")).one()
    assert entry.department_id == s.lead.id
    # after the commitment the experts are fixed
    assert commit(client, s).status_code == 201
    r = put_experts(client, s, [])
    assert r.status_code == 409 and r.json["code"] == "task.read_only"


def test_experts_are_committed_with_the_plan_and_recused_where_they_conflict(client, scenario, factory, db_session):
    s = small(scenario)
    expert = factory.expert(s.lead, name="王专家", organization="市特检院")
    factory._add(ExpertConflict(expert_id=expert.id, target_id=s.targets[0].id, reason="亲属任该企业负责人"))
    assert put_experts(client, s, [{"expert_id": expert.id, "group": 0},
                                   {"expert_id": expert.id, "group": 1}]).status_code == 200
    committed = commit(client, s).json
    assert committed["plan"]["experts"] == [{"group": 0, "id": expert.code}, {"group": 1, "id": expert.code}]
    before = client.get(f"/api/public/draws/{s.task.code}/record").get_json()
    assert before["plan"]["experts"] == committed["plan"]["experts"]
    assert before["expert_conflicts"] == [[expert.code, s.targets[0].code]]
    # the experts are part of what the commitment fixes: without them it would differ
    lists = ([(t["stratum"], t["id"]) for t in before["targets"]], [(i["dept"], i["id"]) for i in before["inspectors"]])
    assert algorithm.commitment(s.task.code, before["plan"], *lists).commitment == committed["commitment"]
    bare = {k: v for k, v in before["plan"].items() if k != "experts"}
    assert algorithm.commitment(s.task.code, bare, *lists).commitment != committed["commitment"]

    assert seed(client, s).status_code == 200
    record = client.get(f"/api/public/draws/{s.task.code}/record").get_json()
    assert verify_record(record).ok
    group = next(g for g, grp in enumerate(record["result"]["groups"]) if s.targets[0].code in grp["targets"])
    assert record["expert_recusals"] == [{"group": group, "expert": expert.code, "target": s.targets[0].code}]
    assert record["task_info"]["experts"] == [
        {"group": 0, "id": expert.code, "name": "王专家", "organization": "市特检院", "title": None},
        {"group": 1, "id": expert.code, "name": "王专家", "organization": "市特检院", "title": None}]
    staff = client.get(f"/api/v1/tasks/{s.task.id}/experts", headers=s.headers).json
    assert staff["recusals"] == record["expert_recusals"] and staff["committed"] == committed["plan"]["experts"]


def test_an_expert_attached_to_a_group_the_draw_will_not_have_stops_the_commit(client, scenario, factory, db_session):
    s = small(scenario)                       # 2 groups: numbers 0 and 1
    expert = factory.expert(s.other)
    put_experts(client, s, [{"expert_id": expert.id, "group": 2}])
    p = client.get(f"/api/v1/tasks/{s.task.id}/draw/preview", headers=s.headers).json
    assert p["can_draw"] is False and p["reasons"][0]["code"] == "draw.expert_group_missing"
    assert p["reasons"][0]["details"] == {"expert": expert.code, "group": 2, "groups": 2}
    # the text counts groups as the screens do (第 1 组 is group 0), without the record's zero-based number
    assert p["reasons"][0]["message"] == (f"专家 {expert.name}（{expert.code}）选派到第 3 组，"
                                          "但按当前名录只会产生 2 个检查组（第 1 至第 2 组）")
    assert "编号" not in p["reasons"][0]["message"]
    r = commit(client, s)
    assert r.status_code == 422 and r.json["details"]["reasons"][0]["code"] == "draw.expert_group_missing"
    put_experts(client, s, [{"expert_id": expert.id, "group": 1}])
    expert.status = "suspended"               # suspended after being attached
    db_session.flush()
    r = commit(client, s)
    assert r.status_code == 422 and r.json["details"]["reasons"][0]["code"] == "draw.expert_unavailable"


def test_recusals_follow_the_groups_and_the_targets_brought_in():
    plan = {"experts": [{"group": 0, "id": "EX-1"}, {"group": 1, "id": "EX-2"}]}
    result = {"groups": [{"targets": ["T1", "T2"]}, {"targets": ["T3"]}]}
    conflicts = [("EX-1", "T2"), ("EX-1", "T3"), ("EX-2", "T9"), ("EX-2", "T1")]
    assert recusals(plan, result, conflicts) == [{"group": 0, "expert": "EX-1", "target": "T2"}]
    assert recusals(plan, result, conflicts, [(1, "T9")]) == [{"group": 0, "expert": "EX-1", "target": "T2"},
                                                              {"group": 1, "expert": "EX-2", "target": "T9"}]
    assert recusals({}, result, conflicts) == [] and recusals(plan, None, conflicts) == []


def test_a_drawn_tasks_experts_change_for_a_redraw_only(client, scenario, factory, db_session):
    s = small(scenario)
    first, second = factory.expert(s.lead), factory.expert(s.lead)
    put_experts(client, s, [{"expert_id": first.id, "group": 1}])
    committed = commit(client, s).json
    assert put_experts(client, s, []).json["code"] == "task.read_only"      # the commitment awaits its seed
    seed(client, s)
    # the directory shrinks: a re-draw would have one group, and group 1 would be gone
    for target in s.targets[2:]:
        target.status = "deregistered"
    db_session.flush()
    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/redraw", json={"reason": "名录库有误"}, headers=s.headers)
    assert r.status_code == 422 and r.json["details"]["reasons"][0]["code"] == "draw.expert_group_missing"
    r = put_experts(client, s, [{"expert_id": second.id, "group": 0}])
    assert r.status_code == 200 and r.json["committed"] == committed["plan"]["experts"]   # the draw is unchanged
    record = client.get(f"/api/public/draws/{s.task.code}/record").get_json()
    assert record["plan"]["experts"] == [{"group": 1, "id": first.code}] and verify_record(record).ok
    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/redraw", json={"reason": "名录库有误"}, headers=s.headers)
    assert r.status_code == 201 and r.json["plan"]["experts"] == [{"group": 0, "id": second.code}]
