"""The record on the office side: reading it, and the lead's merge with ETag / If-Match."""
from __future__ import annotations

from backend.auth.roles import Role
from tests.factories import PASSWORD
from tests.field.test_merge import lead_fields, sign_everything


def _get(field, user, status=200):
    r = field.client.get(f"/api/v1/inspections/{field.inspection.id}", headers=field.auth.headers(user))
    assert r.status_code == status, r.json
    return r


def test_who_reads_an_inspection(field, factory):
    other = field.phone(field.other_officer)
    other.set_section(field.inspection.id, field.other_dept.id, {"note": "税务部分"})
    other.push()
    r = _get(field, field.lead_user)
    assert r.headers["ETag"].startswith('"i') and {s["department_id"] for s in r.json["sections"]} == {field.other_dept.id}
    assert _get(field, field.lead_officer).json["sections"] == []          # a member sees only their department
    planner = factory.user(Role.PLANNER, field.other_dept)
    assert len(_get(field, planner).json["sections"]) == 1                  # staff of a taking-part department
    assert len(_get(field, factory.user(Role.SUPERVISOR)).json["sections"]) == 1
    outsider = factory.user(Role.PLANNER, factory.department())
    assert _get(field, outsider, 403).json["code"] == "forbidden.department"
    stranger = factory.user(Role.INSPECTOR, field.lead_dept, inspector=factory.inspector(field.lead_dept))
    assert _get(field, stranger, 403).json["code"] == "forbidden.department"
    r = field.client.get("/api/v1/inspections/999999", headers=field.auth.headers(field.lead_user))
    assert r.status_code == 404 and r.json["code"] == "inspection.not_found"


def test_the_record_is_changed_only_with_the_current_etag(field):
    h = field.auth.headers(field.lead_user)
    url = f"/api/v1/inspections/{field.inspection.id}/record"
    r = field.client.patch(url, json={"fields": {"opinion": "初稿"}}, headers=h)
    assert r.status_code == 428 and r.json["code"] == "inspection.if_match_required"
    tag = _get(field, field.lead_user).headers["ETag"]
    r = field.client.patch(url, json={"fields": {"opinion": "初稿"}}, headers={**h, "If-Match": tag})
    assert r.status_code == 200, r.json
    new_tag = r.headers["ETag"]
    assert new_tag != tag and r.json["etag"] == new_tag
    r = field.client.patch(url, json={"fields": {"opinion": "基于旧版本"}}, headers={**h, "If-Match": tag})
    assert r.status_code == 412 and r.json["code"] == "inspection.stale" and r.json["details"]["etag"] == new_tag
    assert _get(field, field.lead_user).json["record"]["content"]["opinion"] == "初稿"
    # a phone's change moves the version too
    other = field.phone(field.other_officer)
    other.set_section(field.inspection.id, field.other_dept.id, {"note": "现场补充"})
    other.push()
    r = field.client.patch(url, json={"fields": {"opinion": "二稿"}}, headers={**h, "If-Match": new_tag})
    assert r.status_code == 412


def test_only_the_lead_changes_the_record_here(field):
    tag = _get(field, field.lead_officer).headers["ETag"]
    r = field.client.patch(f"/api/v1/inspections/{field.inspection.id}/record", json={"fields": {"opinion": "x"}},
                           headers={**field.auth.headers(field.lead_officer), "If-Match": tag})
    assert r.status_code == 403 and r.json["code"] == "record.lead_only"
    r = field.client.patch(f"/api/v1/inspections/{field.inspection.id}/record",
                           json={"fields": {"result_categories": ["nonsense"]}},
                           headers={**field.auth.headers(field.lead_user), "If-Match": tag})
    assert r.status_code == 422 and "result_categories" in r.json["errors"]


def test_resolve_finalize_and_submit_at_the_desk(field, db_session):
    cp = field.points(field.lead_item)[0]
    a, b = field.phone(field.lead_officer), field.phone(field.lead_officer)
    a.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": "甲"})
    b.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": "乙"})
    a.push()
    b.push()
    h = field.auth.headers(field.lead_user)
    doc = _get(field, field.lead_user)
    [conflict] = doc.json["conflicts"]
    r = field.client.post(f"/api/v1/inspections/{field.inspection.id}/conflicts/{conflict['id']}/resolve",
                          json={"choice": "server"}, headers={**h, "If-Match": doc.headers["ETag"]})
    assert r.status_code == 200, r.json
    lead = field.phone(field.lead_user)
    sign_everything(field, lead)
    tag = _get(field, field.lead_user).headers["ETag"]
    r = field.client.patch(f"/api/v1/inspections/{field.inspection.id}/record", json={"fields": lead_fields()},
                           headers={**h, "If-Match": tag})
    assert r.status_code == 200, r.json
    r = field.client.post(f"/api/v1/inspections/{field.inspection.id}/record/finalize", json={},
                          headers={**h, "If-Match": r.headers["ETag"]})
    assert r.status_code == 200 and r.json["content_hash"], r.json
    lead.pull()
    lead.sign_record(field.inspection.id)
    lead.sign_record(field.inspection.id, signer={"username": field.lead_officer.username, "password": PASSWORD})
    lead.sign_record(field.inspection.id, signer={"username": field.other_officer.username, "password": PASSWORD})
    h2 = lead.docs["inspection"][field.inspection.id]["record"]["content_hash"]
    lead.enqueue("record.refusal", {"inspection_id": field.inspection.id, "signature_id": "1" * 8 + "-1111-4111-8111-" + "1" * 12,
                                    "content_hash": h2, "reason": "拒签", "witness": {"name": "见证人"}})
    assert [x["status"] for x in lead.push()] == ["applied"] * 4
    tag = _get(field, field.lead_user).headers["ETag"]
    r = field.client.post(f"/api/v1/inspections/{field.inspection.id}/record/submit", json={},
                          headers={**h, "If-Match": tag})
    assert r.status_code == 200 and r.json["publication_due_on"], r.json
    r = field.client.post(f"/api/v1/inspections/{field.inspection.id}/record/submit", json={},
                          headers={**h, "If-Match": r.headers["ETag"]})
    assert r.status_code == 409 and r.json["code"] == "inspection.completed"


def test_lists_and_task_deadlines(field, factory):
    planner = factory.user(Role.PLANNER, field.lead_dept)
    h = field.auth.headers(planner)
    r = field.client.get(f"/api/v1/inspections?task_id={field.task.id}", headers=h)
    assert r.status_code == 200 and r.json["total"] == len(field.inspections)
    r = field.client.get("/api/v1/inspections?deadline_state=overdue", headers=h)
    assert r.status_code == 200 and r.json["total"] == 0
    outsider = factory.user(Role.PLANNER, factory.department())
    r = field.client.get(f"/api/v1/inspections?task_id={field.task.id}", headers=field.auth.headers(outsider))
    assert r.status_code == 200 and r.json["total"] == 0
    r = field.client.get(f"/api/v1/tasks/{field.task.id}/publication", headers=h)
    assert r.status_code == 200 and r.json["inspections"] == len(field.inspections)
    assert r.json["by_status"] == {"assigned": len(field.inspections)} and r.json["state"] is None
    r = field.client.get(f"/api/v1/tasks/{field.task.id}/publication", headers=field.auth.headers(outsider))
    assert r.status_code == 403
