"""Issue 6 §3.3 and §3.7: who may be drawn. Targets: only of a type one of the task's items
applies to. Inspectors: only those holding every qualification their department's items require."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import text

from backend.draws import eligibility
from backend.draws.eligibility import freeze
from backend.directory.models import Target
from backend.draws.verify import verify_record
from backend.plans.models import PlanItem, TaskItem
from tests.api.draws.test_draw_flow import commit, seed
from tests.factories import item_history


def record(client, s):
    return client.get(f"/api/public/draws/{s.task.code}/record").get_json()


def test_only_targets_of_a_type_the_items_apply_to_are_candidates(client, scenario, factory, db_session):
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(8, 4))
    s.item.object_types = ["enterprise", "branch", "individual"]
    tag = [f"场景{s.lead.code}"]
    wanted = {kind: factory.target(risk_class="D", tags=tag, type=kind) for kind in ("branch", "individual")}
    others = {kind: factory.target(risk_class="D", tags=tag, type=kind)
              for kind in ("cooperative", "product", "project", "activity")}
    db_session.flush()
    p = client.get(f"/api/v1/tasks/{s.task.id}/draw/preview", headers=s.headers).json
    assert p["targets"] == {"D": 4} and p["excluded"] == {}
    assert commit(client, s).status_code == 201
    rec = record(client, s)
    ids = {t["id"] for t in rec["targets"]}
    assert ids == {t.code for t in s.targets} | {t.code for t in wanted.values()}
    assert not ids & {t.code for t in others.values()}
    assert not {e["id"] for e in rec["excluded"]} & {t.code for t in others.values()}   # not candidates at all


def test_the_items_types_are_taken_together(client, scenario, factory, db_session):
    """A target of a type only one item applies to is a candidate (inspected for that item only)."""
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(8, 4))
    products = factory.item(s.other, kind="key", object_types=["product"])
    factory._add(PlanItem(plan_id=s.task.plan_id, item_id=products.id, department_id=s.other.id))
    factory._add(TaskItem(task_id=s.task.id, item_id=products.id, department_id=s.other.id))
    tag = [f"场景{s.lead.code}"]
    product = factory.target(risk_class="D", tags=tag, type="product")
    project = factory.target(risk_class="D", tags=tag, type="project")
    db_session.expire(s.task, ["items"])
    assert commit(client, s).status_code == 201
    ids = {t["id"] for t in record(client, s)["targets"]}
    assert product.code in ids and project.code not in ids and {t.code for t in s.targets} <= ids


def test_the_task_filter_on_types_narrows_the_items_types(client, scenario, factory, db_session):
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(8, 4))
    s.item.object_types = ["enterprise", "individual"]
    s.task.filters = {**s.task.filters, "types": ["individual", "product"]}
    person = factory.target(risk_class="D", tags=[f"场景{s.lead.code}"], type="individual")
    factory.target(risk_class="D", tags=[f"场景{s.lead.code}"], type="product")
    db_session.flush()
    assert commit(client, s).status_code == 201
    assert [t["id"] for t in record(client, s)["targets"]] == [person.code]


def test_only_inspectors_holding_the_required_qualifications_are_drawn(client, scenario, factory, db_session):
    s = scenario(risk=("D",), per_class=4, strata={"D": {"num": 1, "den": 1}}, inspectors=(0, 4), group_load=2)
    s.item.required_qualifications = ["食品安全执法资格", "行政执法证"]
    both = [factory.inspector(s.lead, qualifications=["行政执法证", "食品安全执法资格", "特种设备"])
            for _ in range(4)]
    one = [factory.inspector(s.lead, qualifications=["行政执法证"]) for _ in range(3)]
    none = [factory.inspector(s.lead, qualifications=[]) for _ in range(2)]
    db_session.flush()
    # 2 groups × 2 lead members: the 4 holding both qualifications are enough, the other 5 are left out
    p = client.get(f"/api/v1/tasks/{s.task.id}/draw/preview", headers=s.headers).json
    lead = next(d for d in p["departments"] if d["code"] == s.lead.code)
    assert (lead["available"], lead["needed"], lead["unqualified"]) == (4, 4, 5)
    assert lead["required_qualifications"] == ["行政执法证", "食品安全执法资格"]   # code point order
    other = next(d for d in p["departments"] if d["code"] == s.other.code)
    assert (other["available"], other["unqualified"], other["required_qualifications"]) == (4, 0, [])
    assert p["can_draw"] is True and p["unqualified"] == {s.lead.code: 5}
    assert commit(client, s).status_code == 201
    assert seed(client, s).status_code == 200
    rec = record(client, s)
    drawn_lead = {i["id"] for i in rec["inspectors"] if i["dept"] == s.lead.code}
    assert drawn_lead == {i.cert_no for i in both}
    assert not drawn_lead & {i.cert_no for i in one + none}
    assert rec["draw"]["counts"]["unqualified"] == {s.lead.code: 5} and verify_record(rec).ok


def test_too_few_qualified_inspectors_is_a_reason_not_to_draw(client, scenario, factory, db_session):
    s = scenario(risk=("D",), per_class=4, strata={"D": {"num": 1, "den": 1}}, inspectors=(0, 4), group_load=2)
    s.item.required_qualifications = ["食品安全执法资格"]
    for quals in (["食品安全执法资格"], ["食品安全执法资格"], ["食品安全执法资格"], [], ["药品"]):
        factory.inspector(s.lead, qualifications=quals)
    db_session.flush()
    r = commit(client, s)
    assert r.status_code == 422 and r.json["code"] == "draw.cannot_draw"
    [why] = r.json["details"]["reasons"]
    assert why["code"] == "draw.too_few_inspectors"
    assert {k: why["details"][k] for k in ("dept", "have", "need", "unqualified")} == {
        "dept": s.lead.code, "have": 3, "need": 4, "unqualified": 2}
    assert "食品安全执法资格" in why["message"] and "资质" in why["message"]


def test_items_take_required_qualifications_through_the_api(client, factory, auth):
    from backend.auth.roles import Role

    dept = factory.department()
    _, admin = auth.as_role(Role.DEPT_ADMIN, dept)
    body = {"code": "QUAL-1", "category": "食品安全检查", "name": "食品经营许可情况的检查", "object_types": ["enterprise"],
            "kind": "key", "methods": ["onsite"], "legal_basis": "《食品安全法》",
            "required_qualifications": [" 食品安全执法资格 "]}
    r = client.post("/api/v1/items", json=body, headers=admin)
    assert r.status_code == 201, r.json
    assert r.json["required_qualifications"] == ["食品安全执法资格"]
    item_id = r.json["id"]
    r = client.patch(f"/api/v1/items/{item_id}", json={"required_qualifications": ["食品安全执法资格", "行政执法证"]},
                     headers=admin)
    assert r.status_code == 200 and r.json["required_qualifications"] == ["食品安全执法资格", "行政执法证"]
    assert client.get(f"/api/v1/items/{item_id}").json["required_qualifications"] == ["食品安全执法资格", "行政执法证"]
    for bad in (["a", "a"], [""], ["x" * 65], "食品"):
        r = client.patch(f"/api/v1/items/{item_id}", json={"required_qualifications": bad}, headers=admin)
        assert r.status_code == 422, (bad, r.json)


def test_each_verdict_gives_its_line(scenario, factory, db_session):
    """One line per candidate, whichever branch of the freeze query decides it: "stratum|code" or
    "!reason|code", sorted, the reason's lines apart."""
    s = scenario(risk=("B",), per_class=1, strata={"B": {"num": 1, "den": 1}, "U": {"num": 1, "den": 1}})
    tag = f"场景{s.lead.code}"
    made = {
        "B": factory.target(risk_class="B", tags=[tag]),
        "U": factory.target(risk_class=None, tags=[tag]),                        # unclassified: stratum U
        "a_class_exempt": factory.target(risk_class="A", tags=[tag]),            # A, no stratum A
        "a_class_exempt/tag": factory.target(risk_class="A", tags=[tag, "无事不扰"]),
        "no_stratum": factory.target(risk_class="C", tags=[tag]),
        "deregistered": factory.target(risk_class="B", tags=[tag], status="deregistered"),
        "moved_out": factory.target(risk_class=None, tags=[tag], status="moved_out"),
        "inspected_this_year": factory.target(risk_class="B", tags=[tag]),
    }
    item_history(factory, made["inspected_this_year"], s.item, dt.date(2026, 2, 1))
    db_session.flush()
    eligible = freeze(db_session, s.task, [s.lead.code, s.other.code])
    assert eligible.target_lines == sorted([f"B|{s.targets[0].code}", f"B|{made['B'].code}", f"U|{made['U'].code}"])
    assert eligible.excluded_lines == sorted(f"{reason.split('/')[0]}|{t.code}" for reason, t in made.items()
                                             if reason not in ("B", "U"))

    s.task.strata_mode, s.task.strata = "all", {"all": {"num": 1, "den": 1}}
    s.task.exclusions = {"inspected_this_year": False, "a_class_exempt": False}
    db_session.flush()
    eligible = freeze(db_session, s.task, [s.lead.code, s.other.code])
    assert eligible.excluded_lines == sorted(f"{reason}|{made[reason].code}" for reason in ("deregistered", "moved_out"))
    assert eligible.target_lines == sorted(f"all|{t.code}" for t in [*s.targets, *made.values()]
                                           if t.status == "active")


@pytest.mark.parametrize("chars", [0, 1, 3, 10])
def test_the_target_lines_read_by_prefix_are_the_one_sorted_list(scenario, factory, db_session, monkeypatch, chars):
    """A large directory on PostgreSQL: the target lines come grouped by their code's first characters, each
    group sorted apart, the groups in the order of their prefixes; otherwise in one text sorted once. Either
    way the list is the code point order of all the lines: codes shorter than the prefix, a code the
    beginning of another, a "|" inside a code, codes beyond ASCII and beyond the Basic Multilingual Plane
    (where UTF-16 order is not code point order), strata and reasons mixed in one group."""
    s = scenario(risk=("B",), per_class=2, strata={"B": {"num": 1, "den": 1}, "C": {"num": 1, "den": 1}})
    tag = f"场景{s.lead.code}"
    codes = ["A", "AB", "AB0", "AB01", "AB0A", "ABC|DEF", "ABC|DEG", "AB0123456789", "AB01234567890",
             "AB0123456788", "AB012345678Z", "项目-甲-0001", "项目-甲-0002", "项目乙", "\U00020000-1", "\uff01X",
             "\ufb01", "zz", "Z9", "91411203MA0000001X", "91411203MA0000002X", "91411203MA1000001X"]
    for n, code in enumerate(codes):
        factory.target(code=code, risk_class="BC"[n % 2], tags=[tag],
                       status="deregistered" if n % 5 == 4 else "active")
    db_session.flush()
    made = [(("!deregistered" if n % 5 == 4 else "BC"[n % 2]), code) for n, code in enumerate(codes)]
    wanted = sorted([f"{k}|{c}" for k, c in made if k[0] != "!"] + [f"B|{t.code}" for t in s.targets])
    statement = eligibility.target_verdicts(s.task)
    plain = eligibility.fetch_lines(db_session, statement)
    assert plain[len(codes) // 5:] == wanted   # the "!deregistered|" lines first
    if db_session.get_bind().dialect.name == "postgresql":
        assert eligibility.fetch_lines_grouped(db_session, statement, Target.code, chars) == plain
        db_session.execute(text("ANALYZE target"))
        monkeypatch.setattr(eligibility, "GROUP_FROM", 0)
        assert eligibility.group_chars(db_session) is not None
    eligible = freeze(db_session, s.task, [s.lead.code, s.other.code])
    assert eligible.target_lines == wanted
    assert eligible.excluded_lines == sorted(f"deregistered|{c}" for k, c in made if k[0] == "!")


def test_the_lines_are_grouped_by_as_few_characters_as_tell_apart_nine_in_ten_bounds(db_session, monkeypatch):
    """``group_chars`` reads the histogram of ``target.code``; none (or SQLite, or a small directory):
    one sort."""
    if db_session.get_bind().dialect.name != "postgresql":
        assert eligibility.group_chars(db_session) is None
        return
    assert eligibility.group_chars(db_session) is None   # under GROUP_FROM rows
    monkeypatch.setattr(eligibility, "GROUP_FROM", 0)
    bounds = [f"914112{n % 4:02d}{n:04d}XX" for n in range(40)]   # 8 characters: 4 prefixes; 9: 4; 10: 40
    monkeypatch.setattr(db_session, "execute", lambda *a, **k: type("R", (), {"first": lambda self: (5e6, bounds)})())
    assert eligibility.group_chars(db_session) == 12   # "91411203" + 4 digits: 40 apart from the 12th on
    bounds[:] = [f"9{n % 30:02d}{n:03d}" for n in range(100)]   # 3 characters: 30 of 100; 5: 100
    assert eligibility.group_chars(db_session) == 5
    bounds[:] = [f"9{n:02d}{n % 7}" for n in range(100)]
    assert eligibility.group_chars(db_session) == 3
    bounds[:] = []
    assert eligibility.group_chars(db_session) is None
