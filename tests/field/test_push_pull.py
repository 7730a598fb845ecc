"""Push and pull: exactly once, gaps, refusals that never block the queue, visibility, tombstones."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from backend.inspections.models import Section, SectionAnswer
from sync.models import SyncMutation


def test_first_pull_brings_the_assignments_and_the_checklist(field):
    phone = field.phone(field.lead_officer)
    phone.pull()
    assert set(phone.docs["inspection"]) == {i.id for i in field.inspections}
    doc = phone.docs["inspection"][field.inspection.id]
    assert doc["target"]["name"] and doc["target"]["uscc"] and doc["me"]["department_id"] == field.lead_dept.id
    assert {m["department_id"] for m in doc["group"]["members"]} == {field.lead_dept.id, field.other_dept.id}
    assert sum(m["is_lead"] for m in doc["group"]["members"]) == 1
    task = phone.docs["task"][field.task.id]
    items = {d["id"]: d["items"] for d in task["departments"]}
    assert [i["id"] for i in items[field.lead_dept.id]] == [field.lead_item.id]
    assert items[field.lead_dept.id][0]["check_points"][0]["text"]
    assert items[field.lead_dept.id][0]["legal_basis"]


def test_a_section_pushed_is_stored_and_pulled_back(field, db_session):
    phone = field.phone(field.lead_officer)
    phone.pull()
    values = field.full_section(field.lead_item)
    mid = phone.set_section(field.inspection.id, field.lead_dept.id, values)
    results = phone.push()
    assert [r["status"] for r in results] == ["applied"] and results[0]["id"] == mid
    assert phone.pending() == 0
    phone.pull()
    section = phone.section(field.inspection.id, field.lead_dept.id)
    assert section["content"] == values
    assert all(section["revs"][p] == 1 for p in values)
    db_session.expire_all()
    assert db_session.get(type(field.inspection), field.inspection.id).status == "in_progress"


def test_the_same_push_twice_applies_once(field, db_session):
    phone = field.phone(field.lead_officer)
    phone.set_section(field.inspection.id, field.lead_dept.id, {"note": "第一次"})
    batch = list(phone.outbox)
    first = phone.push()
    body = {"client_id": phone.client_id, "mutations": batch}
    r = field.client.post("/api/sync/push", json=body, headers=field.auth.headers(field.lead_officer))
    assert r.status_code == 200
    again = r.json["results"]
    assert again[0]["replayed"] is True and again[0]["status"] == first[0]["status"] == "applied"
    assert r.json["last_mutation_id"] == 1
    assert db_session.scalar(select(func.count()).select_from(SyncMutation)
                             .where(SyncMutation.client_id == phone.client_id)) == 1
    section = db_session.scalar(select(Section).where(Section.inspection_id == field.inspection.id))
    assert section.rev == 1


def test_a_lost_answer_is_recovered_without_doubling(field, db_session):
    phone = field.phone(field.lead_officer)
    phone.set_section(field.inspection.id, field.lead_dept.id, field.full_section(field.lead_item))
    phone.transport.fail_next = ["response"]
    import pytest
    from sync.client import NetworkError

    with pytest.raises(NetworkError):
        phone.push()
    assert phone.pending() == 1                      # nothing dropped without an answer
    results = phone.push()
    assert results[0]["replayed"] and results[0]["status"] == "applied"
    assert phone.pending() == 0
    section = db_session.scalar(select(Section).where(Section.inspection_id == field.inspection.id))
    assert section.rev == 1
    n = db_session.scalar(select(func.count()).select_from(SectionAnswer).where(SectionAnswer.section_id == section.id))
    assert n == len(field.points(field.lead_item))


def test_a_gap_stops_the_batch(field):
    phone = field.phone(field.lead_officer)
    body = {"client_id": phone.client_id, "mutations": [
        {"id": 1, "name": "section.set", "args": {"inspection_id": field.inspection.id,
                                                  "department_id": field.lead_dept.id,
                                                  "fields": {"note": {"value": "一", "base_rev": 0}}}},
        {"id": 3, "name": "section.set", "args": {"inspection_id": field.inspection.id,
                                                  "department_id": field.lead_dept.id,
                                                  "fields": {"note": {"value": "三", "base_rev": 0}}}}]}
    r = field.client.post("/api/sync/push", json=body, headers=field.auth.headers(field.lead_officer))
    assert r.status_code == 200, r.json
    assert r.json["last_mutation_id"] == 1 and [x["id"] for x in r.json["results"]] == [1]
    assert r.json["stopped"]["code"] == "sync.gap" and r.json["stopped"]["expected"] == 2
    assert "第 2 条" in r.json["stopped"]["message"]


def test_a_refused_mutation_advances_the_queue(field):
    phone = field.phone(field.other_officer)
    phone.set_section(field.inspection.id, field.lead_dept.id, {"note": "写别的部门"})   # not theirs
    phone.set_section(field.inspection.id, field.other_dept.id, {"note": "写自己部门"})
    results = phone.push()
    assert [r["status"] for r in results] == ["rejected", "applied"]
    assert results[0]["code"] == "section.other_department" and results[0]["message"]
    assert phone.pending() == 0 and phone.results[1]["code"] == "section.other_department"


def test_bad_values_are_refused_with_every_field_named(field):
    phone = field.phone(field.lead_officer)
    cp = field.points(field.lead_item)[0]
    phone.set_section(field.inspection.id, field.lead_dept.id, {
        f"points.{cp}.result": "maybe", f"points.{cp}.gps": {"lat": 95, "lon": 1, "accuracy": 5, "datum": "WGS-84",
                                                          "time": "2026-04-01T09:00:00+08:00", "source": "gps"},
        "points.999999.result": "pass", "nonsense": 1})
    [res] = phone.push()
    assert res["status"] == "rejected" and res["code"] == "validation_error"
    assert set(res["errors"]) == {f"points.{cp}.result", f"points.{cp}.gps", "points.999999.result", "nonsense"}


def test_a_stranger_sees_nothing_and_cannot_write(field, factory, auth):
    from backend.auth.roles import Role

    stranger = factory.user(Role.INSPECTOR, field.lead_dept, inspector=factory.inspector(field.lead_dept))
    phone = field.phone(stranger)
    phone.pull()
    assert phone.docs["inspection"] == {} and phone.docs["task"] == {}
    phone.set_section(field.inspection.id, field.lead_dept.id, {"note": "x"})
    [res] = phone.push()
    assert res["status"] == "rejected" and res["code"] == "sync.not_participant"


def test_a_client_id_belongs_to_its_first_user(field):
    phone = field.phone(field.lead_officer)
    phone.set_section(field.inspection.id, field.lead_dept.id, {"note": "x"})
    phone.push()
    thief = field.phone(field.other_officer, client_id=phone.client_id)
    thief.set_section(field.inspection.id, field.other_dept.id, {"note": "y"})
    import pytest
    from sync.client import SyncError

    with pytest.raises(SyncError) as e:
        thief.push()
    assert e.value.status == 403 and e.value.code == "sync.client_not_yours"
    with pytest.raises(SyncError) as e:
        thief.pull()
    assert e.value.code == "sync.client_not_yours"


def test_an_officer_sees_only_their_department_section_the_lead_sees_all(field):
    mine = field.phone(field.other_officer)
    mine.set_section(field.inspection.id, field.other_dept.id, field.full_section(field.other_item))
    mine.push()
    colleague = field.phone(field.lead_officer)
    colleague.set_section(field.inspection.id, field.lead_dept.id, field.full_section(field.lead_item))
    colleague.push()
    mine.pull()
    colleague.pull()
    assert [s["department_id"] for s in mine.docs["inspection"][field.inspection.id]["sections"]] == [field.other_dept.id]
    assert [s["department_id"] for s in colleague.docs["inspection"][field.inspection.id]["sections"]] == [field.lead_dept.id]
    lead = field.phone(field.lead_user)
    lead.pull()
    sections = lead.docs["inspection"][field.inspection.id]["sections"]
    assert {s["department_id"] for s in sections} == {field.lead_dept.id, field.other_dept.id}


def test_pull_pages_and_resumes_from_the_cursor(field):
    phone = field.phone(field.lead_officer)
    phone.pull(limit=1)
    assert len(phone.docs["inspection"]) == 2
    cursor = phone.cursor
    other = field.phone(field.other_officer)
    other.set_section(field.inspection.id, field.other_dept.id, {"note": "更新"})
    other.push()
    lead = field.phone(field.lead_user)
    lead.pull()
    lead_cursor = lead.cursor
    assert int(lead_cursor) > int(cursor)
    n = lead.pull()
    assert n == 0 and lead.cursor == lead_cursor


def test_bad_batches_are_refused_whole(field):
    h = field.auth.headers(field.lead_officer)
    cid = str(uuid.uuid4())
    r = field.client.post("/api/sync/push", json={"client_id": "not-a-uuid", "mutations": []}, headers=h)
    assert r.status_code == 422
    mutations = [{"id": i, "name": "section.set", "args": {}} for i in range(1, 102)]
    r = field.client.post("/api/sync/push", json={"client_id": cid, "mutations": mutations}, headers=h)
    assert r.status_code == 422 and r.json["message"]
    r = field.client.post("/api/sync/push", json={"client_id": cid, "mutations": [
        {"id": 2, "name": "section.set", "args": {}}, {"id": 2, "name": "section.set", "args": {}}]}, headers=h)
    assert r.status_code == 422 and r.json["code"] == "sync.bad_batch"
    r = field.client.get(f"/api/sync/pull?client_id={cid}&cursor=abc", headers=h)
    assert r.status_code == 422 and r.json["code"] == "sync.bad_cursor"


def test_a_replaced_business_leaves_the_phone_with_its_reason(app, client, factory, auth, db_session):
    from backend.actor import Actor
    from backend.auth.roles import Role
    from backend.draws import services as draws
    from tests.field.conftest import build_field

    field = build_field(app, client, factory, auth, db_session, reserve=2)
    phone = field.phone(field.lead_officer)
    phone.pull()
    assert field.inspection.id in phone.docs["inspection"]
    planner = factory.user(Role.PLANNER, field.lead_dept)
    new = draws.replace_target(db_session, Actor.of_user(planner), field.inspection.id, reason_code="closed")
    phone.pull()
    assert field.inspection.id not in phone.docs["inspection"]
    assert phone.tombstones[field.inspection.id]["reason_code"] == "replaced"
    assert phone.tombstones[field.inspection.id]["reason"]
    assert phone.docs["inspection"][new.id]["target"]["id"] == new.target_id


def test_a_redrawn_task_leaves_the_phones(field, factory, db_session):
    from backend.actor import Actor
    from backend.auth.roles import Role
    from backend.draws import services as draws

    phone = field.phone(field.other_officer)
    phone.pull()
    before = set(phone.docs["inspection"])
    planner = factory.user(Role.PLANNER, field.lead_dept)
    draws.redraw(db_session, Actor.of_user(planner), field.task.id, draws.DrawSettings(), reason="抽取名单有误，重新抽取")
    phone.pull()
    assert before and not (before & set(phone.docs["inspection"]))
    assert all(phone.tombstones[i]["reason_code"] == "superseded" for i in before)
    phone.set_section(field.inspection.id, field.other_dept.id, {"note": "已取消的检查"})
    [res] = phone.push()
    assert res["status"] == "rejected" and res["code"] == "inspection.gone"


def test_a_batch_over_one_megabyte_is_refused_whole(field):
    h = field.auth.headers(field.lead_officer)
    big = "很" * 200_000
    mutations = [{"id": i, "name": "section.set", "args": {"inspection_id": field.inspection.id,
                                                          "department_id": field.lead_dept.id,
                                                          "fields": {"note": {"value": big[:2000], "base_rev": 0}},
                                                          "pad": big}} for i in range(1, 3)]
    r = field.client.post("/api/sync/push", json={"client_id": str(uuid.uuid4()), "mutations": mutations}, headers=h)
    assert r.status_code == 413 and r.json["code"] == "sync.batch_too_large" and r.json["message"]
