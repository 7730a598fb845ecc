"""Issue 6 §3.1: the preview says whether the draw can run; the commit refuses a task that
cannot, freezing nothing; a committed task whose draw failed (or never ran) is reopened with a
reason, its draw staying public, marked abandoned."""
from __future__ import annotations

from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.draws import algorithm
from backend.draws.models import Draw
from backend.draws.verify import verify_record
from backend.inspections.models import Inspection
from tests.api.draws.test_draw_flow import commit, seed


def preview(client, s):
    r = client.get(f"/api/v1/tasks/{s.task.id}/draw/preview", headers=s.headers)
    assert r.status_code == 200, r.json
    return r.json


def reopen(client, s, reason="复核回避申报后重新冻结名单", headers=None):
    return client.post(f"/api/v1/tasks/{s.task.id}/draw/reopen", json={"reason": reason},
                       headers=headers or s.headers)


def draw_actions(db_session) -> list[str]:
    return db_session.scalars(select(AuditEntry.action).where(
        AuditEntry.action.like("draw.%") | AuditEntry.action.like("task.reopen")).order_by(AuditEntry.id)).all()


def test_preview_reports_per_department_available_and_needed_and_whether_it_can_run(client, scenario):
    s = scenario(inspectors=(20, 3))    # 7 groups: the lead needs 14 of 20, the other 7 of 3
    p = preview(client, s)
    assert p["can_draw"] is False and p["groups"] == 7
    by_code = {d["code"]: d for d in p["departments"]}
    assert (by_code[s.lead.code]["available"], by_code[s.lead.code]["needed"]) == (20, 14)
    assert (by_code[s.other.code]["available"], by_code[s.other.code]["needed"]) == (3, 7)
    assert by_code[s.other.code]["name"] == s.other.name
    [why] = p["reasons"]
    assert why["code"] == "draw.too_few_inspectors" and why["details"]["dept"] == s.other.code
    assert (why["details"]["have"], why["details"]["need"]) == (3, 7)
    assert "不足" in why["message"] and s.other.name in why["message"]

    ok = preview(client, scenario())
    assert ok["can_draw"] is True and ok["reasons"] == [] and ok["warnings"] == []

    draft = scenario(status="consulting")
    p = preview(client, draft)
    assert p["can_draw"] is False and [r["code"] for r in p["reasons"]] == ["task.not_confirmed"]
    assert draft.other.code in p["reasons"][0]["details"]["departments"]


def test_the_preview_warns_when_recusal_may_run_out(client, scenario, factory):
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(3, 1), group_load=2)
    factory.conflict(s.inspectors[s.lead.code][0], s.targets[0])
    p = preview(client, s)
    assert p["can_draw"] is True
    [warning] = p["warnings"]
    assert warning["code"] == "draw.recusal_may_fail" and warning["details"] == {
        "dept": s.lead.code, "conflicts": 1, "reserve": 1}


def test_a_failed_seed_is_public_and_the_task_is_reopened_with_a_reason(client, scenario, factory, db_session, auth):
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(2, 1), group_load=2)
    conflicts = [factory.conflict(inspector, s.targets[0]) for inspector in s.inspectors[s.lead.code]]
    first = commit(client, s).json
    assert seed(client, s).json["code"] == "draw.no_replacement"

    # the commitment is spent: no second roll of the dice on it, and the task is still read-only
    r = seed(client, s, dice="27182818284590452353")
    assert r.status_code == 409 and r.json["code"] == "draw.seed_failed"
    r = client.patch(f"/api/v1/tasks/{s.task.id}", json={"name": "改名"}, headers=s.headers)
    assert r.status_code == 409 and r.json["code"] == "task.read_only" and "重新开放" in r.json["message"]

    # the failed seed is public with the draw
    listed = client.get(f"/api/public/draws/{s.task.code}").json["items"]
    assert [(d["seq"], d["status"]) for d in listed] == [(1, "failed")]
    [attempt] = listed[0]["failed_attempts"]
    assert attempt["dice"] == "31415926535897932384" and attempt["error"] == "draw.no_replacement"
    assert attempt["seed"] == algorithm.seed_from(first["commitment"], attempt["dice"])

    # reopen: a reason is needed; only the lead department may
    r = reopen(client, s, reason="")
    assert r.status_code == 422
    r = reopen(client, s, reason="  ")
    assert r.status_code == 422 and r.json["code"] == "draw.reason_required"
    _, participant = auth.as_role(Role.PLANNER, s.other)
    assert reopen(client, s, headers=participant).status_code == 403
    r = reopen(client, s)
    assert r.status_code == 200, r.json
    assert r.json["seq"] == 1 and r.json["status"] == "abandoned"
    assert r.json["abandoned_reason"] == "复核回避申报后重新冻结名单" and r.json["abandoned_at"]
    db_session.refresh(s.task)
    assert s.task.status == "confirmed"
    assert reopen(client, s).json["code"] == "draw.not_reopenable"

    # the abandoned draw stays public, its commitment checkable, its failed seed with it
    record = client.get(f"/api/public/draws/{s.task.code}/record?seq=1").get_json()
    assert record["draw"]["status"] == "abandoned" and record["seed"] is None and record["result"] is None
    assert record["draw"]["abandoned_reason"] == "复核回避申报后重新冻结名单" and record["draw"]["abandoned_by"]
    assert record["draw"]["failed_attempts"][0]["seed"] == attempt["seed"]
    recomputed = algorithm.commitment(record["task"], record["plan"],
                                      [(t["stratum"], t["id"]) for t in record["targets"]],
                                      [(i["dept"], i["id"]) for i in record["inspectors"]])
    assert recomputed.commitment == record["commitment"] == first["commitment"]

    # the declarations turn out wrong and are withdrawn; the task is committed anew and drawn
    for conflict in conflicts:
        conflict.retired_at = conflict.declared_at
    db_session.flush()
    second = commit(client, s)
    assert second.status_code == 201 and second.json["seq"] == 2
    drawn = seed(client, s, dice="27182818284590452353")
    assert drawn.status_code == 200, drawn.json
    listed = client.get(f"/api/public/draws/{s.task.code}").json["items"]
    assert [(d["seq"], d["status"]) for d in listed] == [(1, "abandoned"), (2, "drawn")]
    assert verify_record(client.get(f"/api/public/draws/{s.task.code}/record").get_json()).ok
    assert draw_actions(db_session) == ["draw.commit", "draw.failed", "draw.abandon", "task.reopen",
                                        "draw.commit", "draw.seed", "draw.result"]
    reason = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "draw.abandon")).one()
    assert reason.detail["reason"] == "复核回避申报后重新冻结名单" and reason.detail["failed_attempts"] == 1


def test_a_committed_task_is_reopened_and_edited(client, scenario, db_session):
    s = scenario()
    assert reopen(client, s).json["code"] == "draw.not_reopenable"          # nothing committed yet
    assert commit(client, s).status_code == 201
    assert reopen(client, s).status_code == 200
    r = client.patch(f"/api/v1/tasks/{s.task.id}", json={"group_load": 3}, headers=s.headers)
    assert r.status_code == 200, r.json
    assert r.json["status"] == "draft"                                       # an edit goes back to the 会审
    assert db_session.scalar(select(Draw.status)) == "abandoned"


def test_a_drawn_task_is_redrawn_not_reopened(client, scenario):
    s = scenario()
    commit(client, s)
    seed(client, s)
    r = reopen(client, s)
    assert r.status_code == 409 and r.json["code"] == "draw.not_reopenable" and "重新抽取" in r.json["message"]


def test_a_redraw_that_cannot_run_changes_nothing(client, scenario, db_session):
    s = scenario()
    commit(client, s)
    first = seed(client, s).json
    for inspector in s.inspectors[s.other.code][2:]:
        inspector.status = "transferred"     # 2 left; 7 groups need 7
    db_session.flush()
    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/redraw", json={"reason": "名录库数据有误"}, headers=s.headers)
    assert r.status_code == 422 and r.json["code"] == "draw.cannot_draw"
    assert r.json["details"]["reasons"][0]["details"]["dept"] == s.other.code
    draws = client.get(f"/api/public/draws/{s.task.code}").json["items"]
    assert [(d["seq"], d["status"]) for d in draws] == [(1, "drawn")] and draws[0]["seed"] == first["seed"]
    assert set(db_session.scalars(select(Inspection.status))) == {"assigned"}
    db_session.refresh(s.task)
    assert s.task.status == "drawn"
    assert db_session.scalar(select(func.count()).select_from(AuditEntry).where(
        AuditEntry.action == "draw.supersede")) == 0


def test_a_failed_draw_may_be_redrawn_with_a_reason(client, scenario, factory):
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(2, 1), group_load=2)
    for inspector in s.inspectors[s.lead.code]:
        factory.conflict(inspector, s.targets[1])
    commit(client, s)
    assert seed(client, s).status_code == 422
    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/redraw", json={"reason": "重新抽取并公开"}, headers=s.headers)
    assert r.status_code == 201 and r.json["seq"] == 2
    draws = client.get(f"/api/public/draws/{s.task.code}").json["items"]
    assert [(d["seq"], d["status"]) for d in draws] == [(1, "superseded"), (2, "committed")]
    assert draws[0]["failed_attempts"][0]["error"] == "draw.no_replacement"
