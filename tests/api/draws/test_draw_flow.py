"""The draw of a task through the API: commit, seed, groups, record, verify."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.draws.models import Draw, InspectionGroup
from backend.draws.verify import verify_record
from backend.inspections.models import Inspection
from tests.factories import item_history


def commit(client, s):
    return client.post(f"/api/v1/tasks/{s.task.id}/draw/commit", headers=s.headers)


def seed(client, s, dice="31415926535897932384", witnesses=("公证员王某", "企业代表李某")):
    return client.post(f"/api/v1/tasks/{s.task.id}/draw/seed", headers=s.headers,
                       json={"source": "dice", "dice": dice, "witnesses": list(witnesses)})


def test_full_draw_is_verifiable_and_assigns_groups(client, scenario, db_session):
    s = scenario()
    r = commit(client, s)
    assert r.status_code == 201, r.json
    assert r.json["commitment"] and r.json["seed"] is None and r.json["status"] == "committed"
    # k per stratum: A ceil(10/10)=1 (min 1), B ceil(20/10)=2, C 5, D min(10, cap 6, 10) = 6
    assert r.json["counts"]["selected"] == {"A": 1, "B": 2, "C": 5, "D": 6}
    assert r.json["counts"]["groups"] == 7
    r = seed(client, s)
    assert r.status_code == 200, r.json
    draw = r.json
    assert draw["status"] == "drawn" and len(draw["seed"]) == 64 and draw["dice"] == "31415926535897932384"
    assert sum(len(v) for v in draw["result"]["selected"].values()) == 14
    assert len(draw["result"]["groups"]) == 7
    assert db_session.scalar(select(func.count()).select_from(Inspection)) == 14
    assert db_session.scalar(select(func.count()).select_from(InspectionGroup)) == 7

    record = client.get(f"/api/public/draws/{s.task.code}/record").get_json()  # no login
    assert record["commitment"] == draw["commitment"] and record["result"] == draw["result"]
    assert len(record["targets"]) == 40 and record["draw"]["witnesses"] == ["公证员王某", "企业代表李某"]
    report = verify_record(record)
    assert report.ok, report.differences
    leader = record["result"]["groups"][0]["leader"]
    assert record["names"]["inspectors"][leader]

    page = client.get(f"/api/v1/tasks/{s.task.id}/groups", headers=s.headers).json
    assert (page["total"], page["page"], page["pages"]) == (7, 1, 1)
    groups = page["items"]
    assert [g["number"] for g in groups] == list(range(7))
    assert all(len(g["members"]) == 3 and len(g["inspections"]) == 2 for g in groups)
    # the leader as the record names it: the certificate number, beside the row id
    assert [g["leader_cert_no"] for g in groups] == [g["leader"] for g in record["result"]["groups"]]
    assert all(g["leader_id"] == next(m["inspector_id"] for m in g["members"] if m["cert_no"] == g["leader_cert_no"])
               for g in groups)

    actions = db_session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("draw.%"))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["draw.commit", "draw.seed", "draw.result"]


def test_members_see_their_inspections(client, scenario, auth):
    s = scenario()  # 7 groups of 2 businesses: 2 of the lead's 16 inspectors and 1 of the other's 9 in each
    commit(client, s)
    draw = seed(client, s).json
    groups = draw["result"]["groups"]
    by_cert = {i.cert_no: i for roster in s.inspectors.values() for i in roster}
    drawn = [c for g in groups for certs in g["members"].values() for c in certs]
    strangers = [i for cert, i in by_cert.items() if cert not in drawn]
    assert len(groups) == 7 and len(drawn) == len(set(drawn)) == 21 and len(strangers) == 25 - 21

    def mine(inspector):
        _, headers = auth.as_role(Role.INSPECTOR, inspector=inspector)
        r = client.get("/api/v1/my/inspections", headers=headers)
        assert r.status_code == 200, r.json
        return r.json

    for group in groups:
        assert len(group["targets"]) == 2
        for cert in [c for certs in group["members"].values() for c in certs]:
            page = mine(by_cert[cert])
            assert page["total"] == 2 and sorted(i["target_code"] for i in page["items"]) == sorted(group["targets"])
            assert [i["task_code"] for i in page["items"]] == [s.task.code] * 2
    for stranger in strangers:
        page = mine(stranger)
        assert page["items"] == [] and page["total"] == 0


def test_commitment_is_shown_before_randomness(client, scenario):
    s = scenario()
    r = commit(client, s)
    public = client.get(f"/api/public/draws/{s.task.code}").json["items"]
    assert public[0]["commitment"] == r.json["commitment"] and public[0]["seed"] is None


def test_task_not_confirmed_by_all_cannot_be_drawn(client, scenario, db_session):
    s = scenario(status="consulting")
    r = commit(client, s)
    assert r.status_code == 409 and r.json["code"] == "task.not_confirmed"
    assert s.other.code in r.json["details"]["departments"] and s.other.name in r.json["message"]
    assert db_session.scalar(select(func.count()).select_from(Draw)) == 0


def test_too_few_inspectors_names_the_department_and_freezes_nothing(client, scenario, db_session):
    s = scenario(inspectors=(20, 3))  # 7 groups × 1 member needed from the other department
    r = commit(client, s)
    assert r.status_code == 422 and r.json["code"] == "draw.cannot_draw"
    [why] = r.json["details"]["reasons"]
    assert why["code"] == "draw.too_few_inspectors"
    assert {k: why["details"][k] for k in ("dept", "have", "need")} == {"dept": s.other.code, "have": 3, "need": 7}
    assert s.other.code in r.json["message"] and "3" in r.json["message"] and "7" in r.json["message"]
    assert db_session.scalar(select(func.count()).select_from(Draw)) == 0
    assert db_session.scalar(select(func.count()).select_from(Inspection)) == 0
    db_session.refresh(s.task)
    assert s.task.status == "confirmed"
    assert not db_session.scalars(select(AuditEntry).where(AuditEntry.action.like("draw.%"))).all()


def test_empty_stratum_and_everything_excluded(client, scenario, factory, db_session):
    s = scenario(risk=("B",), per_class=4)   # A, C, D strata have no targets
    r = commit(client, s).json
    assert r["counts"]["targets"] == {"B": 4} and r["counts"]["selected"] == {"A": 0, "B": 1, "C": 0, "D": 0}
    assert seed(client, s).status_code == 200

    t = scenario(risk=("B",), per_class=3)
    for target in t.targets:
        target.status = "deregistered"
    db_session.flush()
    r = commit(client, t).json
    assert r["counts"]["targets"] == {} and r["counts"]["excluded"] == {"deregistered": 3}
    drawn = seed(client, t).json
    assert drawn["result"] == {"selected": {"A": [], "B": [], "C": [], "D": []}, "groups": [], "replacements": []}


def test_exclusions_carry_reason_codes(client, scenario, factory, db_session):
    s = scenario(risk=("A", "B"), per_class=3)
    import datetime as dt

    a_targets = [t for t in s.targets if t.risk_class == "A"]
    a_targets[0].tags_text += "无事不扰,"
    b_targets = [t for t in s.targets if t.risk_class == "B"]
    item_history(factory, b_targets[0], s.item, dt.date(2026, 3, 1))
    item_history(factory, b_targets[1], s.item, dt.date(2025, 3, 1))  # last year: still eligible
    b_targets[2].status = "revoked"
    db_session.flush()
    commit(client, s)
    record = client.get(f"/api/public/draws/{s.task.code}/record").get_json()
    reasons = {e["id"]: e["reason"] for e in record["excluded"]}
    assert reasons == {a_targets[0].code: "a_class_exempt", b_targets[0].code: "inspected_this_year",
                       b_targets[2].code: "revoked"}
    assert {t["id"] for t in record["targets"]} == {t.code for t in s.targets} - set(reasons)


def _drawn_lead_members(db_session, s, dice="31415926535897932384"):
    """Who the draw will pick from the lead department (conflicts are not part of the commitment)."""
    from backend.draws import algorithm
    from backend.draws.eligibility import freeze
    from backend.plans.services import draw_plan_object

    plan = draw_plan_object(s.task)
    eligible = freeze(db_session, s.task, sorted(plan["members"]))
    c = algorithm.commitment(s.task.code, plan, [tuple(x.split("|")) for x in eligible.target_lines],
                             [tuple(x.split("|")) for x in eligible.inspector_lines])
    seed_hex = algorithm.seed_from(c.commitment, dice)
    lead = [x.split("|")[1] for x in eligible.inspector_lines if x.startswith(s.lead.code + "|")]
    order = algorithm._order(seed_hex, ("insp", s.task.code, s.lead.code), lead)
    return c.commitment, order


def test_recusal_replacement_and_the_recused_member_does_not_see_it(client, scenario, factory, auth, db_session):
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(4, 3), group_load=2)
    predicted, order = _drawn_lead_members(db_session, s)
    by_cert = {i.cert_no: i for i in s.inspectors[s.lead.code]}
    out, first_reserve = by_cert[order[0]], by_cert[order[2]]   # drawn in group 0; first in the reserve
    factory.conflict(out, s.targets[0])
    assert commit(client, s).json["commitment"] == predicted
    r = seed(client, s)
    assert r.status_code == 200, r.json
    replacements = r.json["result"]["replacements"]
    assert replacements == [{"group": 0, "target": s.targets[0].code, "dept": s.lead.code,
                             "out": out.cert_no, "in": first_reserve.cert_no}]
    _, headers = auth.as_role(Role.INSPECTOR, s.lead, inspector=out)
    codes = [i["target_code"] for i in client.get("/api/v1/my/inspections", headers=headers).json["items"]]
    assert codes == [s.targets[1].code]            # recused from targets[0] only
    _, headers = auth.as_role(Role.INSPECTOR, s.lead, inspector=first_reserve)
    codes = [i["target_code"] for i in client.get("/api/v1/my/inspections", headers=headers).json["items"]]
    assert codes == [s.targets[0].code]            # stands in for targets[0] only
    record = client.get(f"/api/public/draws/{s.task.code}/record").get_json()
    assert record["conflicts"] == [[out.cert_no, s.targets[0].code]] and verify_record(record).ok


def test_no_replacement_left_fails_clearly(client, scenario, factory, db_session):
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(2, 1), group_load=2)
    for inspector in s.inspectors[s.lead.code]:
        factory.conflict(inspector, s.targets[0])
    assert commit(client, s).status_code == 201   # the preview cannot know who the seed will draw
    r = seed(client, s)
    assert r.status_code == 422 and r.json["code"] == "draw.no_replacement"
    assert r.json["details"]["dept"] == s.lead.code and r.json["details"]["target"] == s.targets[0].code
    assert db_session.scalar(select(func.count()).select_from(Inspection)) == 0
    draw = db_session.scalar(select(Draw).execution_options(populate_existing=True))
    assert draw.status == "failed" and draw.seed is None and draw.result is None
    [attempt] = draw.failed_attempts
    assert attempt["error"] == "draw.no_replacement" and attempt["dice"] == "31415926535897932384"
    failed = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "draw.failed")).one()
    assert failed.detail["seed"] == attempt["seed"] and failed.detail["error"] == "draw.no_replacement"


def test_redraw_needs_a_reason_is_logged_and_public(client, scenario, db_session):
    s = scenario()
    commit(client, s)
    first = seed(client, s).json
    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/redraw", json={"reason": ""}, headers=s.headers)
    assert r.status_code == 422
    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/redraw", json={"reason": "名录库数据有误，经联席会议同意重新抽取"},
                    headers=s.headers)
    assert r.status_code == 201, r.json
    assert r.json["seq"] == 2 and r.json["reason"].startswith("名录库") and r.json["status"] == "committed"
    second = seed(client, s, dice="27182818284590452353").json
    assert second["seq"] == 2 and second["seed"] != first["seed"]
    draws = client.get(f"/api/public/draws/{s.task.code}").json["items"]
    assert [(d["seq"], d["status"]) for d in draws] == [(1, "superseded"), (2, "drawn")]
    assert draws[0]["superseded_reason"].startswith("名录库")
    old = client.get(f"/api/public/draws/{s.task.code}/record?seq=1").get_json()
    assert verify_record(old).ok and old["draw"]["status"] == "superseded"
    live = db_session.scalars(select(Inspection.status).where(Inspection.draw_id == first_id(db_session))).all()
    assert set(live) == {"superseded"}
    actions = db_session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("draw.%"))
                                 .order_by(AuditEntry.id)).all()
    assert actions == ["draw.commit", "draw.seed", "draw.result", "draw.supersede", "draw.commit", "draw.seed",
                       "draw.result"]


def first_id(session):
    return session.scalar(select(Draw.id).where(Draw.seq == 1))


def test_drawn_target_closed_is_replaced_from_the_reserve(client, scenario, db_session):
    s = scenario()
    commit(client, s)
    seed(client, s)
    inspection = db_session.scalars(select(Inspection).where(Inspection.stratum == "C")
                                    .order_by(Inspection.position)).first()
    r = client.post(f"/api/v1/inspections/{inspection.id}/replace", json={"reason_code": "closed"},
                    headers=s.headers)
    assert r.status_code == 201, r.json
    assert r.json["stratum"] == "C" and r.json["target_code"] != inspection.target.code
    record = client.get(f"/api/public/draws/{s.task.code}/record").get_json()
    assert record["target_replacements"][0]["out"] == inspection.target.code
    assert record["target_replacements"][0]["in"] == r.json["target_code"]
    assert verify_record(record).ok  # replacing never changes the draw itself
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "draw.replace_target")).one()
    assert entry.detail["in"] == r.json["target_code"]


def test_seed_before_commit_and_twice(client, scenario):
    s = scenario()
    r = seed(client, s)
    assert r.status_code == 409 and r.json["code"] == "draw.not_committed"
    commit(client, s)
    assert commit(client, s).json["code"] == "draw.already_committed"
    assert seed(client, s, dice="123").json["code"] == "draw.bad_dice"
    assert seed(client, s).status_code == 200
    assert seed(client, s).json["code"] == "draw.already_drawn"


def test_csprng_seed_logs_who_pressed_the_button(client, scenario, db_session):
    s = scenario()
    commit(client, s)
    r = client.post(f"/api/v1/tasks/{s.task.id}/draw/seed", json={"source": "csprng"}, headers=s.headers)
    assert r.status_code == 200 and len(r.json["dice"]) == 20 and r.json["seed_source"] == "csprng"
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "draw.seed")).one()
    assert entry.detail["pressed_by"] and entry.actor_id is not None


def test_draw_endpoints_refuse_wrong_role_and_department(client, scenario, auth, factory):
    s = scenario()
    _, other_planner = auth.as_role(Role.PLANNER, s.other)   # a participating department, not the lead
    _, supervisor = auth.as_role(Role.SUPERVISOR)
    _, inspector = auth.as_role(Role.INSPECTOR, s.lead, inspector=s.inspectors[s.lead.code][0])
    for headers in (other_planner, supervisor, inspector):
        r = client.post(f"/api/v1/tasks/{s.task.id}/draw/commit", headers=headers)
        assert r.status_code == 403, r.json
    assert client.post(f"/api/v1/tasks/{s.task.id}/draw/commit").status_code == 401
    commit(client, s)
    for headers in (other_planner, supervisor, inspector):
        assert client.post(f"/api/v1/tasks/{s.task.id}/draw/seed", json={"source": "csprng"},
                           headers=headers).status_code == 403
    _, outsider = auth.as_role(Role.PLANNER, factory.department())
    assert client.get(f"/api/v1/tasks/{s.task.id}/groups", headers=outsider).status_code == 403
    assert client.get(f"/api/v1/tasks/{s.task.id}/draws", headers=outsider).status_code == 403
    assert client.get(f"/api/v1/tasks/{s.task.id}/groups", headers=supervisor).status_code == 200
    assert client.get("/api/v1/my/inspections", headers=other_planner).status_code == 403


def test_public_record_of_unknown_task(client):
    r = client.get("/api/public/draws/NO-SUCH/record")
    assert r.status_code == 404 and r.json["code"] == "task.not_found"


def test_verify_cli_on_a_downloaded_record(client, scenario, app, tmp_path):
    s = scenario()
    commit(client, s)
    seed(client, s)
    record = client.get(f"/api/public/draws/{s.task.code}/record").get_json()
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    from click.testing import CliRunner

    from backend.cli import main

    result = CliRunner().invoke(main, ["draw", "verify", str(path)])  # no app, no database needed
    assert result.exit_code == 0 and "MATCH" in result.output
    record["result"]["groups"][0]["leader"] = record["result"]["groups"][0]["members"][s.other.code][0]
    path.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
    result = CliRunner().invoke(main, ["draw", "verify", str(path)])
    assert result.exit_code == 1 and "leader" in result.output
