"""复查 through the phones' push (issue 12 §3): a 责令限期整改 follow-up gets a re-inspection on the owner
department's phones, worked like any inspection (pull, section, photo upload, signatures, submit), whose
submission moves the follow-up to 已整改 / 未整改 with its photos as the evidence; and the refusals."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from backend.auth.roles import Role
from backend.followups.models import Followup
from backend.inspections.deadlines import today_shanghai
from backend.inspections.models import Inspection
from tests.api.media.files import photo
from tests.factories import PASSWORD
from tests.field.test_followups import RECTIFY, TRANSFER, evidence, submit_with_followups


def _followup(field, db_session, uid=RECTIFY) -> int:
    inspection_id = submit_with_followups(field, db_session)
    return db_session.scalar(select(Followup.id).where(Followup.inspection_id == inspection_id, Followup.uid == uid))


def _etag(field, user, fid) -> str:
    r = field.client.get(f"/api/v1/followups/{fid}", headers=field.auth.headers(user))
    assert r.status_code == 200, r.json
    return r.headers["ETag"]


def _schedule(field, user, fid, body=None, *, status=200, etag=None):
    r = field.client.post(f"/api/v1/followups/{fid}/reinspections", json=body or {},
                          headers={**field.auth.headers(user), "If-Match": etag or _etag(field, user, fid)})
    assert r.status_code == status, r.json
    return r


def _reinspection_id(r) -> int:
    [step] = [s for s in r.json["steps"] if s["action"] == "schedule"]
    return step["detail"]["inspection_id"]


def _work(field, rid, users, *, result="pass", photos=True, categories=("corrected",)) -> list[dict]:
    """The re-inspection worked on the phones as any inspection: the leader's phone writes the section (with a
    photo uploaded), every officer signs it and the record, the representative signs, the leader submits."""
    phones = {u.id: field.phone(u) for u in users}
    for p in phones.values():
        p.pull()
    docs = {uid: p.docs["inspection"][rid] for uid, p in phones.items()}
    lead_user = next(u for u in users if docs[u.id]["me"]["is_lead"])
    lead = phones[lead_user.id]
    dept = field.lead_dept.id
    values = field.full_section(field.lead_item, result=result)
    cp = field.points(field.lead_item)[0]
    if photos:     # one photo taken, of the first check point and of each 不符合
        sha = lead.upload(photo(640, 480, seed=rid), "image/jpeg")
        for key in [f"points.{cp}.photos", *(k for k in values if k.endswith(".photos"))]:
            values[key] = [{"id": str(uuid.uuid4()), "sha256": sha}]
    lead.set_section(rid, dept, values)
    assert all(r["status"] == "applied" for r in lead.push())
    lead.pull()
    lead.sign_section(rid, dept)
    for u in users:
        if u.id != lead_user.id:
            lead.sign_section(rid, dept, signer={"username": u.username, "password": PASSWORD})
    assert all(r["status"] == "applied" for r in lead.push())
    lead.pull()
    record = {"arrived_at": "2026-04-20T09:00:00+08:00", "departed_at": "2026-04-20T09:40:00+08:00",
              "representative": {"name": "王经理"}, "result_categories": list(categories), "opinion": "复查：已悬挂营业执照"}
    if result == "fail":
        record["followups"] = [{"id": str(uuid.uuid4()), "action": "transfer", "department_id": dept}]
        record["opinion"] = "复查：仍未悬挂"
    lead.set_record(rid, record)
    lead.push()
    lead.pull()
    lead.enqueue("record.finalize", {"inspection_id": rid, "content_hash": lead.record_hash(rid)})
    assert lead.push()[-1]["status"] == "applied"
    lead.pull()
    lead.sign_record(rid)
    for u in users:
        if u.id != lead_user.id:
            lead.sign_record(rid, signer={"username": u.username, "password": PASSWORD})
    content_hash = lead.docs["inspection"][rid]["record"]["content_hash"]
    lead.enqueue("record.representative", {"inspection_id": rid, "signature_id": str(uuid.uuid4()),
                                           "content_hash": content_hash, "strokes": [{"points": [[1, 1, 1]]}]})
    lead.enqueue("record.submit", {"inspection_id": rid, "content_hash": content_hash})
    return lead.push()


def test_a_reinspection_is_pushed_from_the_phones_and_closes_its_followup(field, factory, db_session):
    fid = _followup(field, db_session)
    admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    supervisor = factory.user(Role.SUPERVISOR)

    def figures():
        r = field.client.get("/api/v1/figures", query_string={"period": str(field.task.end_date.year),
                                                               "task_id": field.task.id},
                             headers=field.auth.headers(supervisor))
        assert r.status_code == 200, r.json
        return {f["key"]: (f["numerator"], f["denominator"]) for f in r.json["figures"] if f["key"] != "followup"}

    counted = figures()
    r = _schedule(field, admin, fid)              # by default: the department's officers of the first visit
    assert r.json["state"] == "ordered" and r.json["steps"][-1]["action"] == "schedule"
    assert r.json["steps"][-1]["action_label"] == "安排复查"
    rid = _reinspection_id(r)
    users = [field.lead_user, field.lead_officer]
    assert {o["inspector_id"] for o in r.json["steps"][-1]["detail"]["officers"]} == {u.inspector_id for u in users}
    # it comes to their phones with the pull, as a 复查 of this follow-up, with what was found the first time
    phone = field.phone(field.lead_officer)
    phone.pull()
    doc = phone.docs["inspection"][rid]
    first = db_session.get(Inspection, db_session.get(Followup, fid).inspection_id)
    assert doc["status"] == "assigned" and doc["target"]["id"] == first.target_id and doc["task_id"] == field.task.id
    assert doc["reinspection"]["followup_id"] == fid and doc["reinspection"]["inspection_id"] == first.id
    assert doc["reinspection"]["due_on"] == "2026-05-08" and doc["reinspection"]["note"] == "限期 15 日内悬挂营业执照"
    assert {m["department_id"] for m in doc["group"]["members"]} == {field.lead_dept.id}
    assert field.task.id in phone.docs["task"]
    # an inspection drawn carries no reinspection
    assert phone.docs["inspection"][first.id]["reinspection"] is None
    # the other department's officer neither sees it nor may write to it
    other = field.phone(field.other_officer)
    other.pull()
    assert rid not in other.docs["inspection"]
    other.set_section(rid, field.other_dept.id, {"note": "越权"})
    assert other.push()[0]["code"] == "sync.not_participant"

    results = _work(field, rid, users)
    submit = results[-1]
    assert submit["status"] == "applied", results
    assert submit.get("followup") == {"id": fid, "state": "rectified", "state_label": "复查已整改"}, results
    db_session.expire_all()
    row = db_session.get(Followup, fid)
    assert row.state == "rectified" and row.closed_at is not None
    step = row.steps[-1]
    assert (step.action, step.from_state, step.to_state) == ("reinspect", "ordered", "rectified")
    assert step.detail["inspection_id"] == rid and step.detail["via"] == "phone"
    assert step.detail["findings"] == "复查：已悬挂营业执照"
    assert len(step.evidence) == 1                   # the photo the phone uploaded
    reinspection = db_session.get(Inspection, rid)
    assert reinspection.status == "completed" and reinspection.publication_due_on is None
    # the evidence opens for the department's admin (the follow-up's evidence is readable)
    assert field.client.get(f"/api/media/{step.evidence[0]}", headers=field.auth.headers(admin)).status_code == 200
    # no follow-ups of its own, not in the draw's groups nor in the publication queue
    assert db_session.scalars(select(Followup).where(Followup.inspection_id == rid)).all() == []
    groups = field.client.get(f"/api/v1/tasks/{field.task.id}/groups", headers=field.auth.headers(admin))
    assert groups.status_code == 200, groups.json
    assert reinspection.group_id not in {g["id"] for g in groups.json["items"]}
    queue = field.client.get("/api/v1/publication/queue", headers=field.auth.headers(admin))
    assert queue.status_code == 200, queue.json
    assert queue.json["items"] and rid not in {i["inspection_id"] for i in queue.json["items"]}
    # not drawn: no figure counts it
    assert figures() == counted and counted["completion"][1] == len(field.inspections)
    # a closed follow-up gets no re-inspection
    r = _schedule(field, admin, fid, status=409)
    assert r.json["code"] == "followup.bad_state" and "已办结" in r.json["message"]


def test_a_reinspection_that_finds_the_problem_leaves_it_unrectified_for_transfer(field, factory, db_session):
    fid = _followup(field, db_session)
    admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    # the admin names the officer (the first named leads)
    rid = _reinspection_id(_schedule(field, admin, fid, {"inspector_ids": [field.lead_officer.inspector_id]}))
    results = _work(field, rid, [field.lead_officer], result="fail",
                    categories=("pending_followup", "other_violation"))
    assert results[-1].get("followup", {}).get("state") == "unrectified", results
    db_session.expire_all()
    row = db_session.get(Followup, fid)
    assert row.state == "unrectified" and row.closed_at is None and len(row.steps[-1].evidence) == 1
    # then 移送 as before (the re-inspection's own follow-up list opens nothing)
    etag = _etag(field, admin, fid)
    r = field.client.post(f"/api/v1/followups/{fid}/transfer",
                          json={"filed_on": today_shanghai().isoformat(), "agency": "区局执法大队", "case_no": "A-1",
                                "evidence": [evidence(factory, admin)]},
                          headers={**field.auth.headers(admin), "If-Match": etag})
    assert r.status_code == 200 and r.json["state"] == "transferred", r.json


def test_refusals(field, factory, db_session):
    fid = _followup(field, db_session)
    admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    other_admin = factory.user(Role.DEPT_ADMIN, field.other_dept)
    # another department's admin, an officer, no If-Match, a stale one
    assert _schedule(field, other_admin, fid, status=403, etag="*").json["code"] == "forbidden.department"
    assert _schedule(field, field.lead_officer, fid, status=403, etag="*").json["code"] == "forbidden.role"
    r = field.client.post(f"/api/v1/followups/{fid}/reinspections", json={}, headers=field.auth.headers(admin))
    assert r.status_code == 428 and r.json["code"] == "followup.if_match_required"
    r = _schedule(field, admin, fid, status=412, etag='"f1-999"')
    assert r.json["code"] == "followup.stale" and r.json["details"]["etag"] == _etag(field, admin, fid)
    # officers of another department, or none
    r = _schedule(field, admin, fid, {"inspector_ids": [field.other_officer.inspector_id]}, status=422)
    assert r.json["code"] == "followup.bad_officers"
    assert _schedule(field, admin, fid, {"inspector_ids": []}, status=422).json["code"] == "validation_error"
    # a follow-up that is no 责令限期整改 (移送) gets no re-inspection
    transfer = db_session.scalar(select(Followup.id).where(Followup.uid == TRANSFER))
    assert _schedule(field, admin, transfer, status=409).json["code"] == "followup.bad_state"
    rid = _reinspection_id(_schedule(field, admin, fid))
    # once scheduled: not twice, and not recorded at the desk meanwhile
    r = _schedule(field, admin, fid, status=409)
    assert r.json["code"] == "followup.reinspection_open" and r.json["details"]["inspection_id"] == rid
    r = field.client.post(f"/api/v1/followups/{fid}/reinspection",
                          json={"inspected_on": today_shanghai().isoformat(), "findings": "已整改", "outcome": "rectified",
                                "evidence": [evidence(factory, admin)]},
                          headers={**field.auth.headers(admin), "If-Match": _etag(field, admin, fid)})
    assert r.status_code == 409 and r.json["code"] == "followup.reinspection_open"
    # nothing closes without evidence: a re-inspection with no photo is not submitted
    results = _work(field, rid, [field.lead_user, field.lead_officer], photos=False)
    assert results[-1]["status"] == "rejected" and results[-1]["code"] == "followup.evidence_required", results[-1]
    db_session.expire_all()
    assert db_session.get(Followup, fid).state == "ordered"
    assert db_session.get(Inspection, rid).status != "completed"


def test_a_reinspections_record_pdf_says_复查_and_names_the_first_inspection(field, factory, db_session):
    """The 复查's PDF is a 复查记录表: its title, file name and first rows say so and name the inspection it
    follows up (检查编号, group, date, record hash) and what was ordered; the first inspection's PDF is unchanged."""
    from backend.draws.models import InspectionGroup
    from backend.inspections.models import Record
    from tests.field.test_pdf import squeeze, text_of

    fid = _followup(field, db_session)
    admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    rid = _reinspection_id(_schedule(field, admin, fid))
    assert _work(field, rid, [field.lead_user, field.lead_officer])[-1]["status"] == "applied"
    db_session.expire_all()
    first = db_session.get(Inspection, db_session.get(Followup, fid).inspection_id)
    number = db_session.get(InspectionGroup, first.group_id).number
    first_hash = db_session.scalar(select(Record.content_hash).where(Record.inspection_id == first.id))

    r = field.client.get(f"/api/v1/inspections/{rid}/record.pdf", headers=field.auth.headers(field.lead_user))
    assert r.status_code == 200 and r.mimetype == "application/pdf", r.json
    from urllib.parse import unquote
    assert unquote(r.headers["Content-Disposition"].split("''", 1)[1]).startswith(f"复查记录表-{field.task.code}-")
    text = text_of(r.data)
    assert squeeze("市场监管领域随机抽查复查记录表") in text and "随机抽查检查记录表" not in text
    for expected in (f"原检查检查编号 {first.id}，{field.task.code} 第 {number + 1} 组",
                     f"{first.completed_on.isoformat()} 检查完成", f"记录哈希 {first_hash[:16]}",
                     f"复查事由责令限期整改（后续处置编号 {fid}），整改期限 2026-05-08：限期 15 日内悬挂营业执照",
                     "复查组组长", "复查：已悬挂营业执照"):
        assert squeeze(expected) in text, expected

    r = field.client.get(f"/api/v1/inspections/{first.id}/record.pdf", headers=field.auth.headers(field.lead_user))
    assert r.status_code == 200, r.json
    text = text_of(r.data)
    assert squeeze("市场监管领域随机抽查检查记录表") in text and "复查" not in text and "原检查" not in text


def test_the_office_list_marks_a_reinspection_with_its_followup(field, factory, db_session):
    fid = _followup(field, db_session)
    admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    rid = _reinspection_id(_schedule(field, admin, fid))
    first = db_session.get(Followup, fid).inspection_id
    h = field.auth.headers(admin)

    def listed(query: str) -> dict[int, object]:
        r = field.client.get(f"/api/v1/inspections?task_id={field.task.id}{query}", headers=h)
        assert r.status_code == 200, r.json
        return {row["id"]: row["followup_id"] for row in r.json["items"]}

    every = listed("&page_size=200")
    assert every[rid] == fid and every[first] is None
    assert listed("&reinspection=true") == {rid: fid}
    drawn = listed("&reinspection=false&page_size=200")
    assert rid not in drawn and first in drawn and set(drawn.values()) == {None}
    r = field.client.get("/api/v1/inspections?reinspection=perhaps", headers=h)
    assert r.status_code == 422 and r.json["code"] == "validation_error"
