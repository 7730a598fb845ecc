"""Follow-ups (后续处置): made when a record is submitted, carried to closure only with evidence, the register."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
import uuid

import pytest
from sqlalchemy import func, select

from backend.auth.roles import Role
from backend.db import utcnow
from backend.directory.models import Inspector
from backend.followups import services
from backend.followups.models import Followup
from backend.inspections.deadlines import today_shanghai
from backend.inspections.models import Inspection
from backend.media.models import Media, MediaHolder
from tests.field.builders import led_inspection

RECTIFY, NOTIFY, TRANSFER, NONE = (str(uuid.uuid4()) for _ in range(4))


def _followups(field) -> list[dict]:
    return [{"id": RECTIFY, "action": "rectify", "department_id": field.lead_dept.id, "due_on": "2026-05-08",
             "note": "限期 15 日内悬挂营业执照"},
            {"id": NOTIFY, "action": "notify", "department_id": field.other_dept.id, "note": "涉税问题"},
            {"id": TRANSFER, "action": "transfer", "department_id": field.lead_dept.id},
            {"id": NONE, "action": "none", "department_id": field.lead_dept.id}]


def submit_with_followups(field, db_session, inspection_id: int | None = None) -> int:
    """A record listing four follow-ups (one of them ``none``), submitted by its lead at the desk."""
    inspection_id = inspection_id or field.inspection.id
    lead = db_session.get(Inspector, field.lead_user.inspector_id)
    led_inspection(db_session, inspection_id, lead, "submittable",
                   record={"result_categories": ["pending_followup", "other_violation"],
                           "followups": _followups(field)})
    r = field.client.post(f"/api/v1/inspections/{inspection_id}/record/submit", json={},
                          headers={**field.auth.headers(field.lead_user), "If-Match": "*"})
    assert r.status_code == 200, r.json
    db_session.expire_all()          # the request changed the rows under this session
    return inspection_id


def _rows(db_session, inspection_id) -> dict[str, Followup]:
    return {f.uid: f for f in db_session.scalars(select(Followup).where(Followup.inspection_id == inspection_id))}


def evidence(factory, user) -> str:
    """A stored file ``user`` uploaded (and so may read)."""
    sha = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
    factory._add(Media(sha256=sha, kind="photo", media_type="image/jpeg", size=100, status="ready",
                       uploaded_by=user.id))
    factory._add(MediaHolder(sha256=sha, user_id=user.id, created_at=utcnow()))
    return sha


def _get(field, user, followup_id, status=200):
    r = field.client.get(f"/api/v1/followups/{followup_id}", headers=field.auth.headers(user))
    assert r.status_code == status, r.json
    return r


def _step(field, user, followup_id, step, body, *, etag=None, status=200):
    if etag is None:
        etag = _get(field, user, followup_id).headers["ETag"] if status != 403 else "*"
    r = field.client.post(f"/api/v1/followups/{followup_id}/{step}", json=body,
                          headers={**field.auth.headers(user), "If-Match": etag})
    assert r.status_code == status, r.json
    return r


def test_submitting_a_record_makes_its_followups_once(field, db_session):
    inspection_id = submit_with_followups(field, db_session)
    rows = _rows(db_session, inspection_id)
    assert set(rows) == {RECTIFY, NOTIFY, TRANSFER}                     # "none" is no follow-up
    assert rows[RECTIFY].state == "ordered" and rows[RECTIFY].due_on == dt.date(2026, 5, 8)
    assert rows[RECTIFY].department_id == field.lead_dept.id and rows[RECTIFY].note == "限期 15 日内悬挂营业执照"
    assert rows[NOTIFY].state == "to_notify" and rows[NOTIFY].department_id == field.other_dept.id
    assert rows[TRANSFER].state == "to_transfer" and rows[TRANSFER].due_on is None
    inspection = db_session.get(Inspection, inspection_id)
    assert all(f.target_id == inspection.target_id and f.task_id == field.task.id
               and f.lead_department_id == field.task.lead_department_id for f in rows.values())
    assert [s.action for s in rows[RECTIFY].steps] == ["open"]
    # made once: the same list again (a replayed submission) makes nothing
    again = services.open_from_record(db_session, inspection, field.task, _followups(field), user_id=None)
    assert again == []
    assert db_session.scalar(select(func.count(Followup.id)).where(Followup.inspection_id == inspection_id)) == 3


def test_rectify_then_reinspect_then_transfer(field, factory, db_session):
    inspection_id = submit_with_followups(field, db_session)
    fid = _rows(db_session, inspection_id)[RECTIFY].id
    officer = field.lead_officer
    today = today_shanghai().isoformat()
    # cannot be skipped: no transfer before the re-inspection
    r = _step(field, officer, fid, "transfer", {"filed_on": today, "agency": "区局执法大队", "case_no": "X-1",
                                                "evidence": [evidence(factory, officer)]}, status=409)
    assert r.json["code"] == "followup.bad_state" and "复查" in r.json["message"]
    # a re-inspection needs its photos
    r = _step(field, officer, fid, "reinspection", {"inspected_on": today, "findings": "仍未悬挂",
                                                    "outcome": "unrectified"}, status=422)
    assert r.json["code"] == "followup.evidence_required" and "evidence" in r.json["errors"]
    # a file the officer may not read is no evidence
    stranger = factory.user(Role.INSPECTOR, field.lead_dept, inspector=factory.inspector(field.lead_dept))
    r = _step(field, officer, fid, "reinspection", {"inspected_on": today, "findings": "仍未悬挂",
                                                    "outcome": "unrectified",
                                                    "evidence": [evidence(factory, stranger)]}, status=422)
    assert r.json["code"] == "followup.evidence_unreadable"
    tomorrow = (today_shanghai() + dt.timedelta(days=1)).isoformat()
    r = _step(field, officer, fid, "reinspection", {"inspected_on": tomorrow, "findings": "仍未悬挂",
                                                    "outcome": "unrectified",
                                                    "evidence": [evidence(factory, officer)]}, status=422)
    assert r.json["code"] == "followup.bad_date"
    # stale: an old ETag after someone else's step
    old = _get(field, officer, fid).headers["ETag"]
    photo = evidence(factory, officer)
    r = _step(field, officer, fid, "reinspection", {"inspected_on": today, "findings": "仍未悬挂",
                                                    "outcome": "unrectified", "evidence": [photo]})
    assert r.json["state"] == "unrectified" and r.json["closed"] is False and r.headers["ETag"] != old
    assert r.json["steps"][-1]["evidence"] == [photo] and r.json["steps"][-1]["detail"]["findings"] == "仍未悬挂"
    r = _step(field, officer, fid, "transfer", {"filed_on": today, "agency": "区局执法大队", "case_no": "X-1",
                                                "evidence": [evidence(factory, officer)]}, etag=old, status=412)
    assert r.json["code"] == "followup.stale" and r.json["details"]["etag"] == _get(field, officer, fid).headers["ETag"]
    r = field.client.post(f"/api/v1/followups/{fid}/transfer", json={"filed_on": today, "agency": "区局执法大队",
                                                                     "case_no": "X-1"},
                          headers=field.auth.headers(officer))
    assert r.status_code == 428 and r.json["code"] == "followup.if_match_required"
    r = _step(field, officer, fid, "transfer", {"filed_on": today, "agency": "区局执法大队", "case_no": "X-1"},
              status=422)
    assert r.json["code"] == "followup.evidence_required"
    r = _step(field, officer, fid, "transfer", {"filed_on": today, "agency": "区局执法大队", "case_no": "（2026）罚字 1 号",
                                                "evidence": [evidence(factory, officer)]})
    assert r.json["state"] == "transferred" and r.json["closed"] and r.json["case_no"] == "（2026）罚字 1 号"
    assert [s["action"] for s in r.json["steps"]] == ["open", "reinspect", "transfer"]
    r = _step(field, officer, fid, "judicial", {"transferred_on": today, "authority": "区公安分局", "record_no": "J-1",
                                                "evidence": [evidence(factory, officer)]}, status=409)
    assert r.json["code"] == "followup.bad_state" and "已办结" in r.json["message"]
    # each step is audited
    audit = field.client.get(f"/api/v1/audit?entity_type=followup&entity_id={fid}",
                             headers=field.auth.headers(factory.user(Role.SYSADMIN)))
    assert audit.status_code == 200, audit.json
    assert {e["action"] for e in audit.json["items"]} >= {"followup.reinspect", "followup.transfer"}


def test_rectified_on_reinspection_closes(field, factory, db_session):
    fid = _rows(db_session, submit_with_followups(field, db_session))[RECTIFY].id
    admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    r = _step(field, admin, fid, "reinspection", {"inspected_on": today_shanghai().isoformat(), "findings": "已悬挂",
                                                  "outcome": "rectified", "evidence": [evidence(factory, admin)]})
    assert r.json["state"] == "rectified" and r.json["closed"] and r.json["closed_at"] and r.json["next_step"] is None


def test_notify_and_the_other_departments_receipt(field, factory, db_session):
    rows = _rows(db_session, submit_with_followups(field, db_session))
    fid = rows[NOTIFY].id                         # owned by the other department
    today = today_shanghai().isoformat()
    third = factory.department()
    owner_officer = field.other_officer
    # the lead department sees it, but does not act on it
    lead_admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    assert _get(field, lead_admin, fid).json["state"] == "to_notify"
    r = _step(field, lead_admin, fid, "notify", {"notified_on": today, "department_id": third.id}, status=403)
    assert r.json["code"] == "forbidden.department"
    r = _step(field, owner_officer, fid, "notify", {"notified_on": today, "department_id": field.other_dept.id},
              status=422)
    assert r.json["code"] == "followup.bad_department"
    r = _step(field, owner_officer, fid, "notify", {"notified_on": today, "department_id": 99999999}, status=422)
    assert r.json["code"] == "followup.bad_department"
    r = _step(field, owner_officer, fid, "notify", {"notified_on": today, "department_id": third.id,
                                                    "note": "请依职责处理"})
    assert r.json["state"] == "notified" and r.json["notified_department"]["id"] == third.id
    # only the receiving department's admin acknowledges, with the receipt
    r = _step(field, owner_officer, fid, "acknowledge", {"received_on": today}, status=403)
    assert r.json["code"] == "forbidden.role"
    other_admin = factory.user(Role.DEPT_ADMIN, field.other_dept)
    r = _step(field, other_admin, fid, "acknowledge", {"received_on": today, "evidence": [evidence(factory, other_admin)]},
              status=403)
    assert r.json["code"] == "forbidden.department"
    receiver = factory.user(Role.DEPT_ADMIN, third)
    r = _step(field, receiver, fid, "acknowledge", {"received_on": today}, status=422)
    assert r.json["code"] == "followup.evidence_required"
    r = _step(field, receiver, fid, "acknowledge", {"received_on": today, "evidence": [evidence(factory, receiver)]})
    assert r.json["state"] == "acknowledged" and r.json["closed"]


def test_transfer_to_judicial_authority(field, factory, db_session):
    fid = _rows(db_session, submit_with_followups(field, db_session))[TRANSFER].id
    officer = field.lead_officer
    body = {"transferred_on": today_shanghai().isoformat(), "authority": "区公安分局", "record_no": "（2026）移字 3 号"}
    assert _step(field, officer, fid, "judicial", body, status=422).json["code"] == "followup.evidence_required"
    r = _step(field, officer, fid, "judicial", {**body, "evidence": [evidence(factory, officer)]})
    assert r.json["state"] == "judicial" and r.json["steps"][-1]["detail"]["record_no"] == "（2026）移字 3 号"


def test_who_reads_and_acts(field, factory, db_session):
    fid = _rows(db_session, submit_with_followups(field, db_session))[RECTIFY].id   # owned by the lead department
    outsider_dept = factory.department()
    assert _get(field, factory.user(Role.SUPERVISOR), fid).status_code == 200
    assert _get(field, factory.user(Role.PLANNER, field.lead_dept), fid).status_code == 200
    assert _get(field, factory.user(Role.DEPT_ADMIN, outsider_dept), fid, 403).json["code"] == "forbidden.department"
    assert _get(field, field.other_officer, fid, 403).json["code"] == "forbidden.department"
    assert _get(field, field.lead_user, 99999999, 404).json["code"] == "followup.not_found"
    body = {"inspected_on": today_shanghai().isoformat(), "findings": "已悬挂", "outcome": "rectified"}
    supervisor = factory.user(Role.SUPERVISOR)
    assert _step(field, supervisor, fid, "reinspection", body, status=403).json["code"] == "forbidden.role"
    planner = factory.user(Role.PLANNER, field.lead_dept)
    assert _step(field, planner, fid, "reinspection", body, status=403).json["code"] == "forbidden.role"
    other_admin = factory.user(Role.DEPT_ADMIN, field.other_dept)
    assert _step(field, other_admin, fid, "reinspection", body, status=403).json["code"] == "forbidden.department"
    r = _step(field, field.lead_officer, fid, "reinspection", {**body, "outcome": "maybe"}, status=422)
    assert r.json["code"] == "validation_error" and "outcome" in r.json["errors"]["json"]
    r = _step(field, field.lead_officer, fid, "reinspection", {**body, "evidence": ["xyz"]}, status=422)
    assert r.json["code"] == "validation_error" and "evidence" in r.json["errors"]["json"]


def test_the_register(field, factory, db_session):
    inspection_id = submit_with_followups(field, db_session)
    rows = _rows(db_session, inspection_id)
    rows[TRANSFER].due_on = today_shanghai() - dt.timedelta(days=3)       # overdue
    later = rows[RECTIFY].due_on = today_shanghai() + dt.timedelta(days=30)
    db_session.flush()
    lead_admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    h = field.auth.headers(lead_admin)
    r = field.client.get("/api/v1/followups", headers=h)
    assert r.status_code == 200 and r.json["total"] == 3                  # owns two, leads the task of the third
    dues = [i["due_on"] for i in r.json["items"]]
    assert dues[-1] is None and dues[:2] == sorted(dues[:2])              # by deadline, none last
    r = field.client.get(f"/api/v1/followups?department_id={field.lead_dept.id}", headers=h)
    assert {i["uid"] for i in r.json["items"]} == {RECTIFY, TRANSFER}
    r = field.client.get("/api/v1/followups?overdue=1", headers=h)
    assert [i["uid"] for i in r.json["items"]] == [TRANSFER] and r.json["items"][0]["overdue"] is True
    r = field.client.get(f"/api/v1/followups?action=rectify&state=ordered&due_before={later}", headers=h)
    assert [i["uid"] for i in r.json["items"]] == [RECTIFY]
    r = field.client.get(f"/api/v1/followups?due_before={later - dt.timedelta(days=1)}", headers=h)
    assert [i["uid"] for i in r.json["items"]] == [TRANSFER]
    r = field.client.get("/api/v1/followups?state=open", headers=h)
    assert r.json["total"] == 3
    r = field.client.get("/api/v1/followups?state=closed", headers=h)
    assert r.json["total"] == 0
    target_id = db_session.get(Inspection, inspection_id).target_id
    r = field.client.get(f"/api/v1/followups?task_id={field.task.id}&target_id={target_id}&page_size=1", headers=h)
    assert r.json["total"] == 3 and len(r.json["items"]) == 1 and r.json["pages"] == 3
    # another department's register is refused; an outsider sees nothing of these
    r = field.client.get(f"/api/v1/followups?department_id={field.other_dept.id}", headers=h)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    outsider = factory.user(Role.DEPT_ADMIN, factory.department())
    assert field.client.get("/api/v1/followups", headers=field.auth.headers(outsider)).json["total"] == 0
    r = field.client.get("/api/v1/followups?state=nonsense", headers=h)
    assert r.status_code == 422 and "state" in r.json["errors"]["query"]
    r = field.client.get(f"/api/v1/followups?department_id={field.other_dept.id}",
                         headers=field.auth.headers(factory.user(Role.SUPERVISOR)))
    assert [i["uid"] for i in r.json["items"]] == [NOTIFY]


def test_the_register_as_xlsx(field, factory, db_session):
    from openpyxl import load_workbook

    submit_with_followups(field, db_session)
    lead_admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    r = field.client.get(f"/api/v1/followups/register.xlsx?department_id={field.lead_dept.id}",
                         headers=field.auth.headers(lead_admin))
    assert r.status_code == 200, r.get_json(silent=True)
    assert "attachment" in r.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(r.data)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0] == tuple(services.REGISTER_HEADERS)
    assert sorted(row[6] for row in rows[1:]) == sorted(["责令限期整改", "移送办案机构"])
    assert {row[8] for row in rows[1:]} == {"已责令限期整改（待复查）", "待移送办案机构"}
    r = field.client.get(f"/api/v1/followups/register.xlsx?department_id={field.other_dept.id}",
                         headers=field.auth.headers(lead_admin))
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    with pytest.raises(Exception) as err:
        services.register_xlsx(db_session, _actor(lead_admin), {}, limit=1)
    assert getattr(err.value, "code", None) == "export.too_many_rows"


def _actor(user):
    from backend.actor import Actor

    return Actor.of_user(user)


def test_disposal_rate(field, factory, db_session):
    """后续处置率 = closed / due in the period; counted here independently of the query."""
    first = submit_with_followups(field, db_session)
    second = submit_with_followups(field, db_session, field.inspections[1].id)
    rows = list(_rows(db_session, first).values()) + list(_rows(db_session, second).values())
    completed = {i: db_session.get(Inspection, i).completed_on for i in (first, second)}
    may, june = (dt.date(2026, 5, 1), dt.date(2026, 5, 31)), (dt.date(2026, 6, 1), dt.date(2026, 6, 30))
    for n, row in enumerate(rows):
        row.due_on = dt.date(2026, 5, 10 + n) if n < 4 else dt.date(2026, 6, 3) if n == 4 else None
    rows[0].state, rows[2].state, rows[4].state = "rectified", "transferred", "acknowledged"
    rows[1].state = "unrectified"
    db_session.flush()

    def expected(period, department_id=None):
        def due(r):
            return r.due_on if r.due_on is not None else completed[r.inspection_id]
        mine = [r for r in rows if period[0] <= due(r) <= period[1]
                and (department_id is None or r.department_id == department_id)]
        return len(mine), sum(1 for r in mine if r.state in ("rectified", "transferred", "acknowledged", "judicial"))

    for period in (may, june, (min(completed.values()), max(completed.values()))):
        for dept in (None, field.lead_dept.id):
            got = services.disposal_rate(db_session, *period, department_id=dept)
            due, closed = expected(period, dept)
            assert (got["due"], got["closed"]) == (due, closed)
            assert got["rate"] == (round(closed / due, 4) if due else None)
    assert services.disposal_rate(db_session, *may)["due"] == 4
    assert services.disposal_rate(db_session, dt.date(2020, 1, 1), dt.date(2020, 1, 31))["rate"] is None


def test_the_business_record(field, factory, db_session):
    inspection_id = submit_with_followups(field, db_session)
    target_id = db_session.get(Inspection, inspection_id).target_id
    planner = factory.user(Role.PLANNER, field.other_dept)
    r = field.client.get(f"/api/v1/targets/{target_id}/inspections", headers=field.auth.headers(planner))
    assert r.status_code == 200 and r.json["total"] == 1, r.json
    [item] = r.json["items"]
    assert item["id"] == inspection_id and item["task_code"] == field.task.code
    assert item["result_categories"] == ["pending_followup", "other_violation"] and item["completed_on"]
    assert {f["action"] for f in item["open_followups"]} == {"rectify", "notify", "transfer"}
    # a closed follow-up is no longer open
    fid = _rows(db_session, inspection_id)[RECTIFY].id
    admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    _step(field, admin, fid, "reinspection", {"inspected_on": today_shanghai().isoformat(), "findings": "已悬挂",
                                              "outcome": "rectified", "evidence": [evidence(factory, admin)]})
    r = field.client.get(f"/api/v1/targets/{target_id}/inspections", headers=field.auth.headers(admin))
    assert {f["action"] for f in r.json["items"][0]["open_followups"]} == {"notify", "transfer"}
    # another department's staff see none of it; officers are not office roles; unknown target
    outsider = factory.user(Role.DEPT_ADMIN, factory.department())
    r = field.client.get(f"/api/v1/targets/{target_id}/inspections", headers=field.auth.headers(outsider))
    assert r.status_code == 200 and r.json["total"] == 0
    r = field.client.get(f"/api/v1/targets/{target_id}/inspections", headers=field.auth.headers(field.lead_user))
    assert r.status_code == 403 and r.json["code"] == "forbidden.role"
    r = field.client.get("/api/v1/targets/99999999/inspections", headers=field.auth.headers(admin))
    assert r.status_code == 404 and r.json["code"] == "target.not_found"


def test_evidence_is_referenced_as_the_records_files_are_and_survives_the_clean_up(field, factory, db_session, app):
    """The step references its evidence through ``media.add_references``: the file's row is touched (the lock a
    clean-up running at that moment re-checks), and a reference that was waiting (named by someone who had not sent
    the bytes) is bound by the actor, who may read the file."""
    from backend.actor import Actor
    from backend.media import upkeep
    from backend.media.common import MediaSettings
    from backend.media.models import MediaRef

    inspection_id = submit_with_followups(field, db_session)
    fid = _rows(db_session, inspection_id)[RECTIFY].id
    admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    photo = evidence(factory, admin)
    long_ago = utcnow() - dt.timedelta(days=30)
    db_session.get(Media, photo).touched_at = long_ago
    db_session.add(MediaRef(sha256=photo, inspection_id=inspection_id, added_by=field.lead_user.id, bound=False,
                            created_at=long_ago))
    db_session.commit()
    _step(field, admin, fid, "reinspection", {"inspected_on": today_shanghai().isoformat(), "findings": "已悬挂",
                                              "outcome": "rectified", "evidence": [photo]})
    db_session.expire_all()
    assert db_session.get(Media, photo).touched_at > long_ago
    ref = db_session.scalar(select(MediaRef).where(MediaRef.sha256 == photo, MediaRef.inspection_id == inspection_id))
    assert ref.bound is True and ref.added_by == admin.id
    upkeep.cleanup(db_session, MediaSettings.from_config(app.config), Actor.system(),
                   now=utcnow() + dt.timedelta(days=60))
    db_session.expire_all()
    assert db_session.get(Media, photo) is not None
