"""Signatures bound to content, conflicts for the lead, the lead's merge and submission."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.inspections.models import Conflict, Inspection, Signature
from tests.factories import PASSWORD

GPS = {"lat": 34.77, "lon": 111.19, "accuracy": 8, "datum": "WGS-84", "time": "2026-04-08T09:30:00+08:00",
       "source": "gps"}


def fill_and_sign(field, user, dept, item, *, result="pass"):
    phone = field.phone(user)
    phone.set_section(field.inspection.id, dept.id, field.full_section(item, result=result))
    phone.push()
    phone.pull()
    phone.sign_section(field.inspection.id, dept.id)
    res = phone.push()
    assert res[-1]["status"] == "applied", res
    return phone


def lead_fields(**over):
    values = {"arrived_at": "2026-04-08T09:00:00+08:00", "departed_at": "2026-04-08T10:30:00+08:00",
              "representative": {"name": "王经理", "position": "店长", "phone": "13800000000"},
              "result_categories": ["no_problem"], "opinion": "未发现问题"}
    values.update(over)
    return values


def sign_everything(field, lead):
    """Both departments' officers sign their sections (the lead department's two on their phones)."""
    fill_and_sign(field, field.other_officer, field.other_dept, field.other_item)
    p = fill_and_sign(field, field.lead_officer, field.lead_dept, field.lead_item)
    lead.pull()
    lead.sign_section(field.inspection.id, field.lead_dept.id)
    assert lead.push()[-1]["status"] == "applied"
    return p


def test_two_officers_of_one_department_conflict_and_the_lead_resolves(field, db_session):
    cp = field.points(field.lead_item)[0]
    a, b = field.phone(field.lead_officer), field.phone(field.lead_user)
    a.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": "门口有灭火器"})
    b.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": "灭火器已过期"})
    assert a.push()[0]["status"] == "applied"
    res = b.push()[0]
    assert res["status"] == "conflict" and res["conflicts"] == [{"path": f"points.{cp}.note", "server_rev": 1}]
    # untouched fields merge on their own; the conflicting one keeps the server value
    b.set_section(field.inspection.id, field.lead_dept.id, {"note": "另一字段"})
    assert b.push()[0]["status"] == "applied"
    b.pull()
    doc = b.docs["inspection"][field.inspection.id]
    section = b.section(field.inspection.id, field.lead_dept.id)
    assert section["content"][f"points.{cp}.note"] == "门口有灭火器" and section["content"]["note"] == "另一字段"
    [c] = [c for c in doc["conflicts"] if c["status"] == "open"]
    assert (c["server_value"], c["client_value"]) == ("门口有灭火器", "灭火器已过期")
    # the section cannot be signed while a conflict is open
    a.pull()
    a.sign_section(field.inspection.id, field.lead_dept.id)
    assert a.push()[0]["code"] == "section.conflicts_open"
    b.enqueue("conflict.resolve", {"inspection_id": field.inspection.id, "conflict_id": c["id"], "choice": "client",
                                   "note": "以组长现场核实为准"})
    assert b.push()[0]["status"] == "applied"
    b.pull()
    assert b.section(field.inspection.id, field.lead_dept.id)["content"][f"points.{cp}.note"] == "灭火器已过期"
    row = db_session.get(Conflict, c["id"])
    db_session.refresh(row)
    assert (row.status, row.choice, row.resolved_by) == ("resolved", "client", field.lead_user.id)
    pushes = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "sync.push")).all()
    assert any(c["id"] in [r["conflict_id"] for r in (e.detail or {}).get("resolutions", [])] for e in pushes)


def test_only_the_lead_resolves_and_writes_the_record(field):
    phone = field.phone(field.lead_officer)
    phone.set_record(field.inspection.id, {"opinion": "我来汇总"})
    phone.enqueue("conflict.resolve", {"inspection_id": field.inspection.id, "conflict_id": 1, "choice": "server"})
    assert [r["code"] for r in phone.push()] == ["record.lead_only", "record.lead_only"]


def test_a_signed_section_is_read_only(field):
    phone = fill_and_sign(field, field.other_officer, field.other_dept, field.other_item)
    phone.set_section(field.inspection.id, field.other_dept.id, {"note": "签名后再改"})
    [res] = phone.push()
    assert res["status"] == "rejected" and res["code"] == "section.signed"


def test_a_signature_binds_the_content_it_saw(field):
    phone = field.phone(field.other_officer)
    phone.set_section(field.inspection.id, field.other_dept.id, field.full_section(field.other_item))
    phone.push()
    phone.pull()
    stale = phone.section_hash(field.inspection.id, field.other_dept.id)
    colleague_change = field.phone(field.other_officer)
    colleague_change.set_section(field.inspection.id, field.other_dept.id, {"note": "补充"})
    colleague_change.push()
    phone.enqueue("section.sign", {"inspection_id": field.inspection.id, "department_id": field.other_dept.id,
                                   "signature_id": str(uuid.uuid4()), "content_hash": stale,
                                   "strokes": [{"points": [[0, 0, 0]]}]})
    [res] = phone.push()
    assert res["code"] == "signature.content_changed" and res["details"]["server_hash"] != stale


def test_signing_needs_a_complete_section(field):
    phone = field.phone(field.other_officer)
    cp = field.points(field.other_item)[0]
    phone.set_section(field.inspection.id, field.other_dept.id, {f"points.{cp}.result": "fail"})
    phone.push()
    phone.pull()
    phone.sign_section(field.inspection.id, field.other_dept.id)
    [res] = phone.push()
    assert res["code"] == "section.incomplete"
    problems = " ".join(res["details"]["problems"])
    assert "检查方式" in problems and "须有照片" in problems and "未填写结果" in problems


def test_the_whole_merge_submits_with_a_due_date(field, db_session):
    lead = field.phone(field.lead_user)
    sign_everything(field, lead)
    lead.set_record(field.inspection.id, lead_fields())
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": field.inspection.id,
                                     "content_hash": lead.record_hash(field.inspection.id)})
    assert lead.push()[0]["status"] == "applied"
    lead.pull()
    # every member signs the record: the lead and the other department on their phones,
    # the lead department's second officer on the lead's phone with their own password
    lead.sign_record(field.inspection.id)
    lead.sign_record(field.inspection.id, signer={"username": field.lead_officer.username, "password": PASSWORD})
    other = field.phone(field.other_officer)
    other.pull()
    assert {s["department_id"] for s in other.docs["inspection"][field.inspection.id]["sections"]} == \
        {field.lead_dept.id, field.other_dept.id}          # all members see the record they sign
    other.sign_record(field.inspection.id)
    assert [r["status"] for r in other.push()] == ["applied"]
    rec = lead.docs["inspection"][field.inspection.id]["record"]
    lead.enqueue("record.representative", {"inspection_id": field.inspection.id, "signature_id": str(uuid.uuid4()),
                                           "content_hash": rec["content_hash"], "strokes": [{"points": [[1, 1, 1]]}]})
    lead.enqueue("record.submit", {"inspection_id": field.inspection.id, "content_hash": rec["content_hash"]})
    results = lead.push()
    assert [r["status"] for r in results] == ["applied"] * 4, results
    assert results[-1]["publication_due_on"]
    db_session.expire_all()
    inspection = db_session.get(Inspection, field.inspection.id)
    assert inspection.status == "completed" and inspection.publication_due_on > inspection.completed_on
    signers = db_session.scalars(select(Signature).where(Signature.inspection_id == inspection.id,
                                                         Signature.scope == "record")).all()
    assert {s.via for s in signers if s.signer_user_id == field.lead_officer.id} == {"lead_device"}
    for phone in (lead, other):
        phone.pull()
        doc = phone.docs["inspection"][field.inspection.id]
        assert doc["status"] == "completed" and doc["deadline"]["due_on"] == inspection.publication_due_on.isoformat()
        assert doc["record"]["state"] == "submitted" and doc["record"]["submitted_at"]
    # completed: nothing more may change
    other.set_section(field.inspection.id, field.other_dept.id, {"note": "事后修改"})
    assert other.push()[0]["code"] == "inspection.completed"


def test_a_wrong_password_on_the_leads_phone_signs_nothing(field):
    lead = field.phone(field.lead_user)
    sign_everything(field, lead)
    lead.set_record(field.inspection.id, lead_fields())
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": field.inspection.id,
                                     "content_hash": lead.record_hash(field.inspection.id)})
    lead.push()
    lead.pull()
    lead.sign_record(field.inspection.id, signer={"username": field.lead_officer.username, "password": "wrong"})
    [res] = lead.push()
    assert res["code"] == "signature.signer_invalid"


def test_finalising_checks_the_record(field):
    lead = field.phone(field.lead_user)
    lead.set_record(field.inspection.id, {"result_categories": ["no_problem"]})
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": field.inspection.id,
                                     "content_hash": lead.record_hash(field.inspection.id)})
    [res] = lead.push()
    assert res["code"] == "record.incomplete"
    text = " ".join(res["details"]["problems"])
    assert "到达和离开时间" in text and "尚未签名" in text and "被检查对象代表" in text


def test_a_failed_point_needs_a_problem_category_and_a_followup(field):
    lead = field.phone(field.lead_user)
    fill_and_sign(field, field.other_officer, field.other_dept, field.other_item, result="fail")
    fill_and_sign(field, field.lead_officer, field.lead_dept, field.lead_item)
    lead.pull()
    lead.sign_section(field.inspection.id, field.lead_dept.id)
    lead.set_record(field.inspection.id, lead_fields())
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": field.inspection.id,
                                     "content_hash": lead.record_hash(field.inspection.id)})
    [res] = lead.push()
    assert res["code"] == "record.incomplete" and "后续处置" in " ".join(res["details"]["problems"])
    lead.set_record(field.inspection.id, {"result_categories": ["pending_followup", "other_violation"], "followups": [
        {"id": str(uuid.uuid4()), "action": "rectify", "department_id": field.other_dept.id, "note": "限期七日整改"}]})
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": field.inspection.id,
                                     "content_hash": lead.record_hash(field.inspection.id)})
    assert lead.push()[0]["status"] == "applied"


def test_followups_belong_to_participating_departments(field, factory):
    lead = field.phone(field.lead_user)
    outsider = factory.department()
    lead.set_record(field.inspection.id, {"followups": [
        {"id": str(uuid.uuid4()), "action": "notify", "department_id": outsider.id}]})
    [res] = lead.push()
    assert res["code"] == "validation_error" and "followups" in res["errors"]


def test_no_inspection_is_a_result_with_evidence(field, db_session):
    lead = field.phone(field.lead_user)
    import io

    from PIL import Image

    jpeg = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 30, 30)).save(jpeg, "JPEG")
    photo = {"id": str(uuid.uuid4()), "sha256": lead.upload(jpeg.getvalue(), "image/jpeg", "门头.jpg")}
    lead.set_record(field.inspection.id, {"outcome": {"code": "unreachable", "note": "门店已无人", "photos": [photo]},
                                          "result_categories": ["unreachable"]})
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": field.inspection.id,
                                     "content_hash": lead.record_hash(field.inspection.id)})
    [res] = lead.push()
    assert res["code"] == "record.incomplete" and "定位" in " ".join(res["details"]["problems"])
    lead.set_record(field.inspection.id, {"outcome": {"code": "unreachable", "note": "门店已无人", "photos": [photo],
                                                      "gps": GPS}})
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": field.inspection.id,
                                     "content_hash": lead.record_hash(field.inspection.id)})
    assert lead.push()[0]["status"] == "applied"
    lead.pull()
    lead.sign_record(field.inspection.id)
    for user in (field.lead_officer, field.other_officer):
        lead.sign_record(field.inspection.id, signer={"username": user.username, "password": PASSWORD})
    lead.enqueue("record.submit", {"inspection_id": field.inspection.id,
                                   "content_hash": lead.docs["inspection"][field.inspection.id]["record"]["content_hash"]})
    results = lead.push()
    assert [r["status"] for r in results] == ["applied"] * 4, results   # no representative at an empty address


def test_refusal_with_a_witness_and_reopening_voids_signatures(field, db_session):
    lead = field.phone(field.lead_user)
    sign_everything(field, lead)
    lead.set_record(field.inspection.id, lead_fields())
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": field.inspection.id,
                                     "content_hash": lead.record_hash(field.inspection.id)})
    lead.push()
    lead.pull()
    h = lead.docs["inspection"][field.inspection.id]["record"]["content_hash"]
    lead.sign_record(field.inspection.id)
    lead.enqueue("record.refusal", {"inspection_id": field.inspection.id, "signature_id": str(uuid.uuid4()),
                                    "content_hash": h, "reason": "拒绝签字",
                                    "witness": {"name": "李四", "phone": "13900000000"}})
    assert [r["status"] for r in lead.push()] == ["applied", "applied"]
    lead.set_record(field.inspection.id, {"opinion": "定稿后修改"})
    assert lead.push()[0]["code"] == "record.signing"
    lead.enqueue("record.reopen", {"inspection_id": field.inspection.id, "reason": "补充汇总意见"})
    assert lead.push()[0]["status"] == "applied"
    db_session.expire_all()
    sigs = db_session.scalars(select(Signature).where(Signature.inspection_id == field.inspection.id,
                                                      Signature.scope == "record")).all()
    assert sigs and all(s.void_at is not None and s.void_reason == "补充汇总意见" for s in sigs)
    lead.set_record(field.inspection.id, {"opinion": "定稿后修改"})
    assert lead.push()[0]["status"] == "applied"


def test_a_member_sees_only_own_section_until_the_record_is_finalised(field):
    fill_and_sign(field, field.lead_officer, field.lead_dept, field.lead_item)
    other = field.phone(field.other_officer)
    other.pull()
    doc = other.docs["inspection"][field.inspection.id]
    assert doc["sections"] == [] and doc["record"] is None and doc["conflicts"] == []


@pytest.mark.parametrize("when", ["2026-04-08T10:00:00+08:00"])
def test_completion_uses_the_phones_time_of_submission(field, db_session, when):
    from backend.inspections import deadlines

    inspection = db_session.get(Inspection, field.inspection.id)
    inspection.started_at = dt.datetime(2026, 4, 1, tzinfo=dt.timezone.utc)
    now = dt.datetime(2026, 4, 20, tzinfo=dt.timezone.utc)
    device = dt.datetime.fromisoformat(when)
    assert deadlines.completion_time(inspection, device, now) == device
    assert deadlines.completion_time(inspection, now + dt.timedelta(days=3), now) == now      # clock ahead
    assert deadlines.completion_time(inspection, dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc), now) == \
        inspection.started_at                                                                  # clock behind


def test_a_record_naming_photos_not_yet_uploaded_is_not_submitted(field):
    lead = field.phone(field.lead_user)
    fill_and_sign(field, field.other_officer, field.other_dept, field.other_item, result="fail")   # names "ab"*32
    fill_and_sign(field, field.lead_officer, field.lead_dept, field.lead_item)
    lead.pull()
    lead.sign_section(field.inspection.id, field.lead_dept.id)
    lead.set_record(field.inspection.id, lead_fields(result_categories=["pending_followup", "other_violation"],
                                                     followups=[{"id": str(uuid.uuid4()), "action": "rectify",
                                                                 "department_id": field.other_dept.id}]))
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": field.inspection.id,
                                     "content_hash": lead.record_hash(field.inspection.id)})
    lead.push()
    lead.pull()
    lead.sign_record(field.inspection.id)
    for user in (field.lead_officer, field.other_officer):
        lead.sign_record(field.inspection.id, signer={"username": user.username, "password": PASSWORD})
    h = lead.docs["inspection"][field.inspection.id]["record"]["content_hash"]
    lead.enqueue("record.representative", {"inspection_id": field.inspection.id, "signature_id": str(uuid.uuid4()),
                                           "content_hash": h, "strokes": [{"points": [[1, 1, 1]]}]})
    lead.enqueue("record.submit", {"inspection_id": field.inspection.id, "content_hash": h})
    results = lead.push()
    assert [r["status"] for r in results] == ["applied"] * 4 + ["rejected"], results
    assert results[-1]["code"] == "record.media_missing" and results[-1]["details"]["missing"] == ["ab" * 32]
