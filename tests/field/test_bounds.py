"""Bounds of the field API (issue 11, §4.2 and §4.4): office client ids nobody can take first, open conflicts
collapsed and capped and resolved in bulk, a user's devices capped with a way out."""
from __future__ import annotations

import uuid

from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.inspections.models import Conflict
from sync.client import SyncError
from sync.models import SyncClient
from tests.field.test_office import _get


# --- 4.2: the office client --------------------------------------------------------------------------------------

def _patch(field, user, value="意见"):
    tag = _get(field, user).headers["ETag"]
    return field.client.patch(f"/api/v1/inspections/{field.inspection.id}/record", json={"fields": {"opinion": value}},
                              headers={**field.auth.headers(user), "If-Match": tag})


def test_nobody_can_take_the_leads_office_client_first(field, db_session):
    # the id the office client used to have: derived from public values
    guessed = str(uuid.uuid5(uuid.UUID("6f1b7d0e-3c1a-5b0e-9a51-7d2f4c3b9e10"), f"office-{field.lead_user.id}"))
    thief = field.phone(field.lead_officer, client_id=guessed)
    thief.set_section(field.inspection.id, field.lead_dept.id, {"note": "抢占"})
    try:
        thief.push()
    except SyncError as exc:
        assert exc.status == 422 and exc.code == "sync.bad_batch"       # not a phone's id (UUID v5)
    r = _patch(field, field.lead_user)
    assert r.status_code == 200, r.json
    office = db_session.scalars(select(SyncClient).where(SyncClient.user_id == field.lead_user.id,
                                                         SyncClient.kind == "office")).all()
    assert len(office) == 1 and office[0].id != guessed and uuid.UUID(office[0].id).version == 4
    r = field.client.post(f"/api/v1/inspections/{field.inspection.id}/record/finalize", json={},
                          headers={**field.auth.headers(field.lead_user), "If-Match": "*"})
    assert r.status_code == 409 and r.json["code"] == "record.incomplete"     # refused for its reason, not a 500
    assert _patch(field, field.lead_user, "二稿").status_code == 200            # the same office client again
    assert db_session.scalar(select(func.count()).select_from(SyncClient).where(
        SyncClient.user_id == field.lead_user.id, SyncClient.kind == "office")) == 1


def test_a_client_id_already_taken_answers_a_refusal_on_every_path_that_claims_one(field, monkeypatch):
    taken = str(uuid.uuid4())
    other = field.phone(field.lead_officer, client_id=taken)
    other.set_section(field.inspection.id, field.lead_dept.id, {"note": "先来"})
    other.push()
    monkeypatch.setattr("backend.inspections.office.uuid.uuid4", lambda: uuid.UUID(taken))
    r = _patch(field, field.lead_user)
    assert r.status_code == 403 and r.json["code"] == "sync.client_not_yours"
    r = field.client.get(f"/api/sync/pull?client_id={taken}", headers=field.auth.headers(field.lead_user))
    assert r.status_code == 403 and r.json["code"] == "sync.client_not_yours"


# --- 4.4: conflicts ------------------------------------------------------------------------------------------------

def _stale_writes(field, phone, paths_values: dict) -> list[dict]:
    """Writes based on revision 0 to fields another phone has already written (so each is stale)."""
    phone.enqueue("section.set", {"inspection_id": field.inspection.id, "department_id": field.lead_dept.id,
                                  "fields": {p: {"value": v, "base_rev": 0} for p, v in paths_values.items()}})
    return phone.push()


def _first_writes(field, paths):
    first = field.phone(field.lead_user)
    first.set_section(field.inspection.id, field.lead_dept.id, {p: "甲" for p in paths})
    assert first.push()[0]["status"] == "applied"


def _open(db_session, **where):
    return db_session.scalars(select(Conflict).where(Conflict.inspection_id == where.pop("inspection_id"),
                                                     Conflict.status == "open").order_by(Conflict.id)).all()


def test_a_repeated_stale_write_replaces_the_writers_open_conflict(field, db_session):
    cp = field.points(field.lead_item)[0]
    path = f"points.{cp}.note"
    _first_writes(field, [path])
    phone = field.phone(field.lead_officer)
    for n in range(5):
        [res] = _stale_writes(field, phone, {path: f"乙{n}"})
        assert res["status"] == "conflict"
    [conflict] = _open(db_session, inspection_id=field.inspection.id)
    assert conflict.client_value == "乙4" and conflict.client_user_id == field.lead_officer.id
    # another officer's stale write to the same path (from another phone) is a conflict of its own
    colleague = field.phone(field.lead_user)
    colleague.enqueue("section.set", {"inspection_id": field.inspection.id, "department_id": field.lead_dept.id,
                                      "fields": {path: {"value": "丙", "base_rev": 0}}})
    assert colleague.push()[0]["status"] == "conflict"
    assert [c.client_value for c in _open(db_session, inspection_id=field.inspection.id)] == ["乙4", "丙"]


def test_open_conflicts_are_capped_per_inspection_and_nothing_is_lost(field, db_session, monkeypatch):
    monkeypatch.setitem(field.app.config, "SYNC_MAX_OPEN_CONFLICTS", 3)
    cps = field.points(field.lead_item)
    paths = [f"points.{cp}.{f}" for cp in cps for f in ("note", "problem")]
    _first_writes(field, paths)
    phone = field.phone(field.lead_officer)
    [res] = _stale_writes(field, phone, {p: "乙" for p in paths[:3]})
    assert res["status"] == "conflict" and len(res["conflicts"]) == 3
    [res] = _stale_writes(field, phone, {paths[3]: "乙", "note": "同一条变更里可以写入的字段"})
    assert res["status"] == "rejected" and res["code"] == "conflict.limit" and res["details"]["limit"] == 3
    assert len(_open(db_session, inspection_id=field.inspection.id)) == 3
    lead = field.phone(field.lead_user)
    lead.pull()
    assert "note" not in lead.section(field.inspection.id, field.lead_dept.id)["content"]   # nothing of it applied
    # a repeat onto an open conflict is no new one: still taken at the cap
    [res] = _stale_writes(field, phone, {paths[0]: "乙又改"})
    assert res["status"] == "conflict"


def test_the_lead_resolves_conflicts_in_bulk_with_one_audit_entry(field, db_session):
    cps = field.points(field.lead_item)
    paths = [f"points.{cp}.note" for cp in cps]
    _first_writes(field, paths)
    _stale_writes(field, field.phone(field.lead_officer), {p: "乙" for p in paths})
    conflicts = _open(db_session, inspection_id=field.inspection.id)
    assert len(conflicts) == len(paths)
    lead = field.phone(field.lead_user)
    before = db_session.scalar(select(func.count()).select_from(AuditEntry))
    lead.enqueue("conflict.resolve_many", {"inspection_id": field.inspection.id, "choice": "client",
                                           "note": "以现场核实为准"})
    [res] = lead.push()
    assert res["status"] == "applied" and res["resolved"] == [c.id for c in conflicts]
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == before + 1
    entry = db_session.scalars(select(AuditEntry).order_by(AuditEntry.id.desc())).first()
    assert entry.action == "sync.push" and entry.detail["resolutions"][0]["conflict_ids"] == [c.id for c in conflicts]
    lead.pull()
    content = lead.section(field.inspection.id, field.lead_dept.id)["content"]
    assert all(content[p] == "乙" for p in paths)
    assert _open(db_session, inspection_id=field.inspection.id) == []


def test_the_office_resolves_conflicts_in_bulk(field, db_session):
    cps = field.points(field.lead_item)
    paths = [f"points.{cp}.note" for cp in cps]
    _first_writes(field, paths)
    _stale_writes(field, field.phone(field.lead_officer), {p: "乙" for p in paths})
    ids = [c.id for c in _open(db_session, inspection_id=field.inspection.id)]
    h = {**field.auth.headers(field.lead_user), "If-Match": _get(field, field.lead_user).headers["ETag"]}
    url = f"/api/v1/inspections/{field.inspection.id}/conflicts/resolve"
    r = field.client.post(url, json={"choice": "server", "conflict_ids": ids[:1]}, headers=h)
    assert r.status_code == 200 and r.json["resolved"] == ids[:1], r.json
    h["If-Match"] = r.headers["ETag"]
    r = field.client.post(url, json={"choice": "server", "conflict_ids": [ids[0], 999999]}, headers=h)
    assert r.status_code == 404 and r.json["code"] == "conflict.not_found"
    r = field.client.post(url, json={"choice": "server", "department_id": field.lead_dept.id}, headers=h)
    assert r.status_code == 200 and r.json["resolved"] == ids[1:]
    r = field.client.post(url, json={"choice": "server"}, headers={**field.auth.headers(field.lead_officer),
                                                                   "If-Match": "*"})
    assert r.status_code == 403 and r.json["code"] == "record.lead_only"


# --- 4.4: devices ------------------------------------------------------------------------------------------------

def test_a_users_devices_are_capped_and_an_old_one_can_be_retired(field, db_session, monkeypatch, factory):
    monkeypatch.setitem(field.app.config, "SYNC_MAX_CLIENTS", 2)
    user = field.lead_officer
    phones = [field.phone(user) for _ in range(3)]
    phones[0].pull()
    phones[1].set_section(field.inspection.id, field.lead_dept.id, {"note": "第二台"})
    phones[1].push()
    for attempt in (phones[2].pull, phones[2].push):
        phones[2].set_section(field.inspection.id, field.lead_dept.id, {"note": "第三台"})
        try:
            attempt()
            raise AssertionError("a third device was let in")
        except SyncError as exc:
            assert exc.status == 409 and exc.code == "sync.too_many_devices"
            assert exc.body["details"]["limit"] == 2
            assert {d["client_id"] for d in exc.body["details"]["devices"]} == {phones[0].client_id, phones[1].client_id}
    assert db_session.get(SyncClient, phones[2].client_id) is None
    # the way out: the owner lists their devices and retires one
    h = field.auth.headers(user)
    listed = field.client.get("/api/sync/clients", headers=h).json
    assert [d["client_id"] for d in listed] == [phones[1].client_id, phones[0].client_id]
    stranger = field.phone(field.other_officer)
    r = field.client.post(f"/api/sync/clients/{phones[0].client_id}/retire", headers=field.auth.headers(field.other_officer))
    assert r.status_code == 404 and stranger                                  # not theirs: not shown
    r = field.client.post(f"/api/sync/clients/{phones[0].client_id}/retire", headers=h)
    assert r.status_code == 200 and r.json["retired_at"]
    assert db_session.scalar(select(AuditEntry.action).order_by(AuditEntry.id.desc())) == "sync.client_retire"
    phones[2].push()
    assert phones[2].pending() == 0
    try:
        phones[0].pull()
        raise AssertionError("a retired device pulled")
    except SyncError as exc:
        assert exc.status == 403 and exc.code == "sync.client_retired"
    # an admin of the owner's department may retire it too; one of another department may not
    admin = factory.user(Role.DEPT_ADMIN, field.lead_dept)
    r = field.client.post(f"/api/sync/clients/{phones[1].client_id}/retire", headers=field.auth.headers(admin))
    assert r.status_code == 200
    outsider = factory.user(Role.DEPT_ADMIN, factory.department())
    r = field.client.post(f"/api/sync/clients/{phones[2].client_id}/retire", headers=field.auth.headers(outsider))
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
