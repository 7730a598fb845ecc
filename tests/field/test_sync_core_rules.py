"""The sync core's rules, each with a test that fails when it breaks (issue 11, §6): sync/engine.py (replays of
refused and conflicted mutations, handler errors before and after applying, unknown names, gaps, the push's
audit entry), sync/fields.py (the same-value rule, null clears, the revs of an unchanged field, one's own
earlier write) and sync/changes.py (the numbers, the lock order, the first pull on a server with no change,
a pull's range kept across its pages, the pull's scope). Small and fast: ``bench/mutants.py`` runs them once
per mutant."""
from __future__ import annotations

import datetime as dt
import json
import logging
import uuid

import pytest
from sqlalchemy import delete, event, select, update

from backend.actor import Actor
from backend.audit import services as audit
from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.inspections import handlers as handlers_module
from backend.inspections.models import Conflict, Section
from sync import changes
from sync.fields import same
from sync.models import SyncChange, SyncClient, SyncHead, SyncMutation
from tests.field.conftest import build_field

DEVICE_TIME = "2026-04-08T09:31:02+08:00"


def _push(field, user, client_id, mutations, **headers):
    body = json.dumps({"client_id": client_id, "mutations": mutations}, ensure_ascii=False)
    return field.client.post("/api/sync/push", data=body, content_type="application/json",
                             headers={**field.auth.headers(user), **headers})


def _set(mid, field, fields, *, department=None, inspection=None, name="section.set"):
    """A ``section.set`` of ``fields`` (path → (value, base_rev)) on the lead department's section."""
    return {"id": mid, "name": name, "device_time": DEVICE_TIME,
            "args": {"inspection_id": inspection or field.inspection.id,
                     "department_id": department or field.lead_dept.id,
                     "fields": {p: {"value": v, "base_rev": b} for p, (v, b) in fields.items()}}}


def _pull(field, user, client_id, cursor=None, limit=100):
    query = f"/api/sync/pull?client_id={client_id}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
    r = field.client.get(query, headers=field.auth.headers(user))
    assert r.status_code == 200, r.json
    return r.json


def _pull_all(field, user, client_id, cursor=None):
    """Every page; (the changes, the last cursor)."""
    out = []
    while True:
        body = _pull(field, user, client_id, cursor)
        out += body["changes"]
        cursor = body["cursor"]
        if not body["has_more"]:
            return out, cursor


def _last_push_audit(db_session) -> dict:
    return db_session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "sync.push")
                             .order_by(AuditEntry.id.desc()))


# --------------------------------------------------------------------------- sync/engine.py


def test_a_replay_answers_refusals_and_conflicts_as_first_answered_never_applied(field, db_session):
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    r = _push(field, field.lead_officer, mine, [_set(1, field, {"note": ("甲", 0)})])
    assert r.json["results"] == [{"id": 1, "status": "applied", "inspection_id": field.inspection.id,
                                  "revs": {"note": 1}}]
    batch = [_set(1, field, {"note": ("乙", 0)}),                              # stale: a conflict
             _set(2, field, {"note": ("别的部门", 0)}, department=field.other_dept.id),   # not theirs: refused
             {"id": 3, "name": "section.frobnicate", "args": {"inspection_id": field.inspection.id}},
             _set(4, field, {"note": (123, 1)}),                                # not text: refused, the field named
             {"id": 5, "name": "section.sign", "device_time": DEVICE_TIME,      # signs what it did not see
              "args": {"inspection_id": field.inspection.id, "department_id": field.lead_dept.id,
                       "signature_id": str(uuid.uuid4()), "content_hash": "0" * 64,
                       "strokes": [{"points": [[0, 0, 0], [10, 12, 16]]}]}}]
    r = _push(field, field.lead_user, theirs, batch)
    assert r.status_code == 200, r.json
    first = r.json["results"]
    assert [x["status"] for x in first] == ["conflict", "rejected", "rejected", "rejected", "rejected"]
    assert first[0]["conflicts"] == [{"path": "note", "server_rev": 1}] and first[0]["revs"] == {}
    assert first[1]["code"] == "section.other_department"
    assert first[2] == {"id": 3, "status": "rejected", "code": "sync.unknown_mutation",
                        "message": "不认识的变更类型“section.frobnicate”，请升级应用"}
    assert first[3]["code"] == "validation_error" and list(first[3]["errors"]) == ["note"] and "details" not in first[3]
    assert first[4]["code"] == "signature.content_changed" and "errors" not in first[4]
    assert list(first[4]["details"]) == ["server_hash"] and len(first[4]["details"]["server_hash"]) == 64
    # what was kept of each, and for whom (the conflict names the mutation and its device time)
    rows = {m.mutation_id: m for m in db_session.scalars(select(SyncMutation)
                                                         .where(SyncMutation.client_id == theirs))}
    assert {i: (m.name, m.status, m.code) for i, m in rows.items()} == {
        1: ("section.set", "conflict", None), 2: ("section.set", "rejected", "section.other_department"),
        3: ("section.frobnicate", "rejected", "sync.unknown_mutation"), 4: ("section.set", "rejected", "validation_error"),
        5: ("section.sign", "rejected", "signature.content_changed")}
    assert rows[2].message == first[1]["message"] and rows[3].message == first[2]["message"]
    assert rows[1].inspection_id == field.inspection.id and rows[1].device_time is not None
    assert all(m.result == {k: v for k, v in first[i - 1].items() if k != "id"} for i, m in rows.items())
    assert all(m.payload_sha256 for m in rows.values())
    pushed_at = db_session.get(SyncClient, theirs).last_push_at
    assert {m.applied_at for m in rows.values()} == {pushed_at}           # one push, one time
    conflict = db_session.scalar(select(Conflict).where(Conflict.inspection_id == field.inspection.id))
    assert conflict.mutation_id == 1 and conflict.device_time is not None and conflict.client_value == "乙"
    # the same batch again, and its last mutation alone: the first answers, nothing applied again
    for again in (batch, batch[4:], batch[1:2]):
        r = _push(field, field.lead_user, theirs, again)
        assert r.status_code == 200, r.json
        assert r.json["results"] == [{**x, "replayed": True} for x in first if x["id"] in {m["id"] for m in again}]
        assert r.json["last_mutation_id"] == 5 and "stopped" not in r.json
    assert db_session.scalar(select(Section.data).where(Section.inspection_id == field.inspection.id)) == {"note": "甲"}
    assert len(db_session.scalars(select(Conflict)).all()) == 1


def test_a_replay_of_outcomes_kept_before_results_were_stored(field, db_session):
    """Rows written before the first answer was kept (no ``result``, no digest) still answer a replay."""
    cid = str(uuid.uuid4())
    batch = [_set(1, field, {"note": ("甲", 0)}), _set(2, field, {"note": ("乙", 0)}, department=field.other_dept.id),
             _set(3, field, {"note": ("丙", 1)})]
    r = _push(field, field.lead_officer, cid, batch)
    assert [x["status"] for x in r.json["results"]] == ["applied", "rejected", "applied"]
    db_session.execute(delete(SyncMutation).where(SyncMutation.client_id == cid, SyncMutation.mutation_id == 1))
    db_session.execute(update(SyncMutation).where(SyncMutation.client_id == cid, SyncMutation.mutation_id == 2)
                       .values(result=None, payload_sha256=None))
    # mutation 2 comes with another content: no digest was kept, so it cannot be told from the first
    r = _push(field, field.lead_officer, cid, [batch[0], _set(2, field, {"note": ("改过", 0)}), batch[2]])
    assert r.status_code == 200, r.json
    assert r.json["results"][:2] == [{"id": 1, "status": "applied", "replayed": True},
                                     {"id": 2, "status": "rejected", "replayed": True}]
    assert r.json["results"][2]["replayed"] is True and r.json["results"][2]["revs"] == {"note": 2}


def test_a_handler_error_before_applying_refuses_that_mutation_alone(field, db_session, monkeypatch, caplog):
    real = handlers_module.HANDLERS["section.set"]

    def flaky(ctx, args):
        value = args["fields"]["note"]["value"]
        if value == "炸":
            raise RuntimeError("a bug found before anything changed")
        if value == "无答复":
            return None          # a handler that says nothing: applied
        return real(ctx, args)

    monkeypatch.setitem(handlers_module.HANDLERS, "section.set", flaky)
    cid = str(uuid.uuid4())
    with caplog.at_level(logging.ERROR, logger="sync.engine"):
        r = _push(field, field.lead_officer, cid, [_set(1, field, {"note": ("炸", 0)}),
                                                   _set(2, field, {"note": ("好", 0)}),
                                                   _set(3, field, {"note": ("无答复", 1)})])
    assert r.status_code == 200, r.json
    assert r.json["results"][0] == {"id": 1, "status": "rejected", "code": "sync.server_error",
                                    "message": "服务器处理这条变更时出错，已记录；这条变更未生效，请联系管理员"}
    assert r.json["results"][1]["status"] == "applied" and r.json["results"][1]["revs"] == {"note": 1}
    assert r.json["results"][2] == {"id": 3, "status": "applied"}
    assert r.json["last_mutation_id"] == 3
    [logged] = [x for x in caplog.records if x.name == "sync.engine"]
    assert logged.getMessage() == f"sync mutation {cid}/1 (section.set) failed before applying"
    assert logged.exc_info and logged.exc_info[0] is RuntimeError
    assert db_session.get(SyncClient, cid).last_mutation_id == 3


def test_a_handler_error_after_applying_fails_the_whole_push(field, db_session, monkeypatch):
    real = handlers_module.HANDLERS["section.set"]

    def half_way(ctx, args):
        out = real(ctx, args)
        if args["fields"]["note"]["value"] == "半途":
            raise RuntimeError("a bug found after the state changed")
        return out

    monkeypatch.setitem(handlers_module.HANDLERS, "section.set", half_way)
    cid = str(uuid.uuid4())
    batch = [_set(1, field, {"note": ("好", 0)}), _set(2, field, {"note": ("半途", 1)})]
    r = _push(field, field.lead_officer, cid, batch)
    assert r.status_code == 500
    db_session.expire_all()
    assert db_session.get(SyncClient, cid) is None                      # nothing of the push was kept
    assert db_session.scalar(select(Section).where(Section.inspection_id == field.inspection.id)) is None
    r = _push(field, field.lead_officer, cid, batch[:1])                # the phone sends again: from the start
    assert r.status_code == 200 and r.json["results"][0]["status"] == "applied" and r.json["last_mutation_id"] == 1


def test_a_gap_stops_the_batch_where_it_is(field):
    cid = str(uuid.uuid4())
    r = _push(field, field.lead_officer, cid, [_set(1, field, {"note": ("一", 0)}), _set(3, field, {"note": ("三", 1)}),
                                               _set(4, field, {"note": ("四", 1)})])
    assert r.status_code == 200, r.json
    assert [x["id"] for x in r.json["results"]] == [1] and r.json["last_mutation_id"] == 1
    assert r.json["stopped"] == {"code": "sync.gap", "expected": 2, "got": 3,
                                 "message": "变更编号不连续：服务器期待第 2 条，收到第 3 条；请从第 2 条开始重新推送"}
    r = _push(field, field.lead_officer, cid, [_set(3, field, {"note": ("三", 1)})])
    assert r.json["results"] == [] and r.json["stopped"]["expected"] == 2 and r.json["stopped"]["got"] == 3


def test_the_push_audit_entry_says_what_came_and_the_label_is_kept(field, db_session):
    cid = str(uuid.uuid4())
    batch = [_set(1, field, {"note": ("甲", 0)}), _set(2, field, {"note": ("乙", 0)}, department=field.other_dept.id)]
    r = _push(field, field.lead_officer, cid, batch, **{"X-Device-Label": "旧手机"})
    assert r.status_code == 200, r.json
    detail = _last_push_audit(db_session)
    assert {k: detail.get(k) for k in ("client_id", "from", "to", "applied", "rejected", "replayed")} == {
        "client_id": cid, "from": 1, "to": 2, "applied": 1, "rejected": 1, "replayed": None}
    assert db_session.get(SyncClient, cid).label == "旧手机"
    entries = db_session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()))
    # replays only: nothing new to record
    r = _push(field, field.lead_officer, cid, batch, **{"X-Device-Label": "新手机"})
    assert r.status_code == 200 and db_session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc())) == entries
    db_session.expire_all()
    assert db_session.get(SyncClient, cid).label == "新手机"
    r = _push(field, field.lead_officer, cid, [*batch, _set(3, field, {"note": ("丙", 1)})])
    detail = _last_push_audit(db_session)
    assert {k: detail.get(k) for k in ("from", "to", "applied", "rejected", "replayed")} == {
        "from": 3, "to": 3, "applied": 1, "rejected": None, "replayed": 2}
    db_session.expire_all()
    assert db_session.get(SyncClient, cid).label == "新手机"            # a push without a label keeps it


def test_a_malformed_mutation_is_refused_alone_before_any_handler(field):
    cid = str(uuid.uuid4())
    r = _push(field, field.lead_officer, cid, [{"id": 1, "name": "section.set", "args": "不是对象"},
                                               _set(2, field, {"note": ("好", 0)})])
    assert r.status_code == 200, r.json
    assert [x["status"] for x in r.json["results"]] == ["rejected", "applied"]
    assert r.json["results"][0]["id"] == 1 and r.json["results"][0]["code"] == "validation_error"


def test_a_device_over_the_cap_hears_which_devices_are_in_use(field, db_session, monkeypatch):
    monkeypatch.setitem(field.app.config, "SYNC_MAX_CLIENTS", 1)
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    r = field.client.get(f"/api/sync/pull?client_id={first}", headers={**field.auth.headers(field.lead_officer),
                                                                      "X-Device-Label": "甲机"})
    assert r.status_code == 200

    def refusal():
        r = field.client.get(f"/api/sync/pull?client_id={second}", headers=field.auth.headers(field.lead_officer))
        assert r.status_code == 409 and r.json["code"] == "sync.too_many_devices"
        db_session.expire_all()
        row = db_session.get(SyncClient, first)
        return r.json["details"], row

    details, row = refusal()
    assert details == {"limit": 1, "devices": [{"client_id": first, "label": "甲机",
                                                "created_at": row.created_at.isoformat(),
                                                "last_seen_at": row.last_pull_at.isoformat()}]}
    assert _push(field, field.lead_officer, first, [_set(1, field, {"note": ("甲", 0)})]).status_code == 200
    details, row = refusal()
    assert row.last_push_at >= row.last_pull_at
    assert details["devices"][0]["last_seen_at"] == row.last_push_at.isoformat()
    assert db_session.get(SyncClient, second) is None


# --------------------------------------------------------------------------- sync/fields.py


@pytest.mark.parametrize("a, b, equal", [
    (1, 1, True), (1, 1.0, True), (1.5, 1, False), (True, 1, False), (1, True, False), (False, 0, False),
    (True, True, True), ("1", 1, False), (1, "1", False), (None, None, True), (None, 0, False),
    ([1, 2], [1, 2], True), ([1, 2], [1, 2, 3], False), ([1, 2, 3], [1, 2], False), ([1, 2], [2, 1], False),
    ([1], [True], False), ([1], [1.0], True),
    ({"a": 1}, {"a": 1.0}, True), ({"a": 1}, {"a": 2}, False), ({"a": 1}, {"b": 1}, False),
    ({"a": 1}, {"a": 1, "b": 2}, False), ({"a": True}, {"a": 1}, False), ("甲", "甲", True), ("甲", "乙", False),
])
def test_the_same_value_rule(a, b, equal):
    assert same(a, b) is equal and same(b, a) is equal


def test_a_stale_write_of_the_value_the_server_holds_changes_nothing_and_answers_its_rev(field, db_session):
    cp = field.points(field.lead_item)[0]
    gps = {"lat": 30, "lon": 120, "accuracy": 5, "datum": "WGS-84", "time": "2026-04-08T09:30:00+08:00",
           "source": "gps"}
    photos = [{"id": str(uuid.uuid4()), "sha256": "ab" * 32}]
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    r = _push(field, field.lead_officer, mine, [_set(1, field, {"note": ("甲", 0)}),
                                                _set(2, field, {f"points.{cp}.gps": (gps, 0),
                                                                f"points.{cp}.photos": (photos, 0)})])
    assert [x["revs"] for x in r.json["results"]] == [{"note": 1}, {f"points.{cp}.gps": 2, f"points.{cp}.photos": 2}]
    # another phone that never saw them writes the same values (30.0 is 30), and the note it saw
    r = _push(field, field.lead_user, theirs, [_set(1, field, {
        f"points.{cp}.gps": ({**gps, "lat": 30.0}, 0), f"points.{cp}.photos": ([dict(p) for p in photos], 0),
        "note": ("乙", 1)})])
    assert r.json["results"] == [{"id": 1, "status": "applied", "inspection_id": field.inspection.id,
                                  "revs": {"note": 3, f"points.{cp}.gps": 2, f"points.{cp}.photos": 2}}]
    # a stale write of another value is a conflict; the server value stays
    r = _push(field, field.lead_user, theirs, [_set(2, field, {f"points.{cp}.gps": ({**gps, "lat": 31}, 0)})])
    [res] = r.json["results"]
    assert res["status"] == "conflict" and res["conflicts"] == [{"path": f"points.{cp}.gps", "server_rev": 2}]
    assert res["revs"] == {} and res["message"] == "1 个字段与他人修改冲突，已保留服务器上的值并交组长处理"
    conflict = db_session.scalar(select(Conflict))
    assert (conflict.path, conflict.base_rev, conflict.server_rev, conflict.server_value["lat"],
            conflict.client_value["lat"]) == (f"points.{cp}.gps", 0, 2, 30, 31)


def test_ones_own_earlier_write_is_no_conflict_and_null_clears_a_field(field, db_session):
    mine, theirs = str(uuid.uuid4()), str(uuid.uuid4())
    # the phone writes twice before it pulls: its second write names base 0 again, over its own first
    r = _push(field, field.lead_officer, mine, [_set(1, field, {"note": ("甲", 0)}), _set(2, field, {"note": ("乙", 0)})])
    assert [(x["status"], x["revs"]) for x in r.json["results"]] == [("applied", {"note": 1}), ("applied", {"note": 2})]
    # another phone's stale write over it is a conflict
    r = _push(field, field.lead_user, theirs, [_set(1, field, {"note": ("丙", 0)})])
    assert r.json["results"][0]["status"] == "conflict"
    # null clears the field (its revision moves on: the clearing is a write)
    cp = field.points(field.lead_item)[0]
    r = _push(field, field.lead_officer, mine, [_set(3, field, {"note": (None, 2), f"points.{cp}.result": (None, 0)})])
    assert r.json["results"][0] == {"id": 3, "status": "applied", "inspection_id": field.inspection.id,
                                    "revs": {"note": 3, f"points.{cp}.result": 0}}
    section = db_session.scalar(select(Section).where(Section.inspection_id == field.inspection.id))
    db_session.refresh(section)
    assert "note" not in section.data and section.revs["note"][0] == 3
    docs, _ = _pull_all(field, field.lead_officer, mine)
    [doc] = [c["data"] for c in docs if c["type"] == "inspection" and c["id"] == field.inspection.id]
    [s] = [s for s in doc["sections"] if s["department_id"] == field.lead_dept.id]
    assert "note" not in s["content"] and s["revs"]["note"] == 3
    # a write of null to a field that holds nothing is no change
    r = _push(field, field.lead_user, theirs, [_set(2, field, {"note": (None, 0)})])
    assert r.json["results"][0] == {"id": 2, "status": "applied", "inspection_id": field.inspection.id,
                                    "revs": {"note": 3}}


# --------------------------------------------------------------------------- sync/changes.py


def test_append_numbers_changes_after_the_head_once_each(db_session, monkeypatch):
    at = dt.datetime(2026, 4, 8, 1, 2, 3, 456789, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(changes, "utcnow", lambda: at)                # one time for every row of one append
    start = db_session.scalar(select(SyncHead.seq).where(SyncHead.id == 1))
    assert changes.head(db_session) == start
    assert changes.append(db_session, []) == [] and changes.head(db_session) == start
    a, b = changes.Change("inspection", 7, 3, "push"), changes.Change("task", None, 3, "checklist")
    numbers = changes.append(db_session, [a, b, a])
    assert numbers == [start + 1, start + 2] and changes.head(db_session) == start + 2
    assert changes.append(db_session, [a]) == [start + 3]
    rows = db_session.execute(select(SyncChange.seq, SyncChange.entity, SyncChange.inspection_id, SyncChange.task_id,
                                     SyncChange.reason).where(SyncChange.seq > start).order_by(SyncChange.seq)).all()
    assert [tuple(r) for r in rows] == [(start + 1, "inspection", 7, 3, "push"), (start + 2, "task", None, 3, "checklist"),
                                        (start + 3, "inspection", 7, 3, "push")]
    # many at once (a draw): one number each, in the order given
    assert changes.append_inspections(db_session, [], 5, "draw") is None and changes.head(db_session) == start + 3
    changes.append_inspections(db_session, [12, 11], 5, "draw")
    assert changes.head(db_session) == start + 5
    rows = db_session.execute(select(SyncChange.seq, SyncChange.entity, SyncChange.inspection_id, SyncChange.task_id,
                                     SyncChange.reason).where(SyncChange.seq > start + 3).order_by(SyncChange.seq)).all()
    assert [tuple(r) for r in rows] == [(start + 4, "inspection", 12, 5, "draw"), (start + 5, "inspection", 11, 5, "draw")]
    assert set(db_session.scalars(select(SyncChange.at).where(SyncChange.seq > start))) == {at}


def test_the_audit_head_is_locked_before_the_sync_head_once_per_transaction(db_session):
    seen: list[tuple[str, list]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        text = " ".join(statement.split()).lower()
        if "audit_head" in text or "sync_head" in text:
            seen.append((text, list(parameters.values() if isinstance(parameters, dict) else parameters)))

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", record)
    try:
        # the transaction's first statement, and one after others
        for n in (1, 2):
            changes.append(db_session, [changes.Change("inspection", n, 1, "push")])
            assert len(seen) == 2, seen
            assert "from audit_head" in seen[0][0] and "audit_head.id = " in seen[0][0] and seen[0][1] == [1]
            assert seen[1][0].startswith("update sync_head")
            seen.clear()
        audit.record(db_session, Actor.system(), "sync.push", "sync_client", "x")    # takes the audit head
        seen.clear()
        changes.append(db_session, [changes.Change("inspection", 3, 1, "push")])
        assert len(seen) == 1 and seen[0][0].startswith("update sync_head")
    finally:
        event.remove(engine, "before_cursor_execute", record)


def test_a_draw_announces_each_inspection_once_in_order(field, db_session):
    rows = db_session.execute(select(SyncChange.seq, SyncChange.entity, SyncChange.inspection_id, SyncChange.reason,
                                     SyncChange.at).where(SyncChange.task_id == field.task.id)
                              .order_by(SyncChange.seq)).all()
    ids = sorted(i.id for i in field.inspections)
    assert [(r.entity, r.inspection_id, r.reason) for r in rows] == [("inspection", i, "draw") for i in ids]
    assert [r.seq for r in rows] == list(range(rows[0].seq, rows[0].seq + len(ids))) and all(r.at for r in rows)
    assert rows[-1].seq == db_session.scalar(select(SyncHead.seq))


def test_the_first_pull_on_a_server_with_no_change_yet(app, client, factory, auth, db_session):
    assert db_session.scalar(select(SyncHead.seq).where(SyncHead.id == 1)) == 0
    dept = factory.department()
    officer = factory.user(Role.INSPECTOR, dept, inspector=factory.inspector(dept))
    cid = str(uuid.uuid4())
    for cursor in (None, "0"):
        r = client.get(f"/api/sync/pull?client_id={cid}" + (f"&cursor={cursor}" if cursor else ""),
                       headers=auth.headers(officer))
        assert r.status_code == 200, r.json
        assert (r.json["cursor"], r.json["has_more"], r.json["changes"]) == ("0", False, [])
    r = client.get(f"/api/sync/pull?client_id={cid}&cursor=1", headers=auth.headers(officer))
    assert r.status_code == 409 and r.json["code"] == "sync.cursor_ahead" and r.json["details"] == {"head": "0"}


def test_a_pull_keeps_its_range_across_its_pages(field, db_session):
    """The first page fixes the range; a change committed between two pages comes with the next pull."""
    first, second = sorted(i.id for i in field.inspections)
    reader, writer = str(uuid.uuid4()), str(uuid.uuid4())
    head = changes.head(db_session)
    page = _pull(field, field.lead_officer, reader, limit=1)
    assert page["has_more"] is True and page["cursor"] == f"0.{head}.{first}"
    assert [(c["type"], c["id"]) for c in page["changes"]] == [("task", field.task.id), ("inspection", first)]
    r = _push(field, field.other_officer, writer, [_set(1, field, {"note": ("新", 0)}, department=field.other_dept.id,
                                                        inspection=first)])
    assert r.json["results"][0]["status"] == "applied" and changes.head(db_session) == head + 1
    page = _pull(field, field.lead_officer, reader, page["cursor"], limit=1)
    assert [(c["type"], c["id"]) for c in page["changes"]] == [("inspection", second)]
    assert (page["has_more"], page["cursor"]) == (False, str(head))
    page = _pull(field, field.lead_officer, reader, page["cursor"], limit=1)
    assert [(c["type"], c["id"]) for c in page["changes"]] == [("task", field.task.id), ("inspection", first)]
    assert (page["has_more"], page["cursor"]) == (False, str(head + 1))
    # the next change, to the other inspection: that one alone (the range starts after the cursor, ends at the head)
    r = _push(field, field.other_officer, writer, [_set(2, field, {"note": ("再", 0)}, department=field.other_dept.id,
                                                        inspection=second)])
    page = _pull(field, field.lead_officer, reader, page["cursor"], limit=1)
    assert [(c["type"], c["id"]) for c in page["changes"]] == [("task", field.task.id), ("inspection", second)]
    assert (page["has_more"], page["cursor"]) == (False, str(head + 2))


def test_a_pull_sends_nothing_of_other_tasks_and_groups(app, client, factory, auth, db_session, field):
    """Changes of an inspection or a task the reader is not in leave no trace: no document, no tombstone."""
    other = build_field(app, client, factory, auth, db_session)
    reader = str(uuid.uuid4())
    seen, cursor = _pull_all(field, field.lead_officer, reader)
    assert {(c["type"], c["id"]) for c in seen} == {("task", field.task.id)} | {("inspection", i.id)
                                                                                for i in field.inspections}
    r = _push(other, other.lead_officer, str(uuid.uuid4()), [_set(1, other, {"note": ("别处", 0)})])
    assert r.json["results"][0]["status"] == "applied"
    changes.append(db_session, [changes.Change("task", None, other.task.id, "checklist")])
    page = _pull(field, field.lead_officer, reader, cursor)
    assert page["changes"] == [] and page["has_more"] is False and int(page["cursor"]) > int(cursor)
    # a change of the reader's own task (its checklist) brings the task alone
    changes.append(db_session, [changes.Change("task", None, field.task.id, "checklist")])
    page = _pull(field, field.lead_officer, reader, page["cursor"])
    assert [(c["type"], c["id"]) for c in page["changes"]] == [("task", field.task.id)]
    # and the other task's officer sees its own, never this one's
    theirs, _ = _pull_all(other, other.lead_officer, str(uuid.uuid4()))
    assert {c["id"] for c in theirs if c["type"] == "inspection"} == {i.id for i in other.inspections}
    assert {c["id"] for c in theirs if c["type"] == "task"} == {other.task.id}
    assert all(c["op"] == "put" for c in theirs)
