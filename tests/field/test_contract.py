"""The sync contract as a client written from docs/sync.md meets it (issue 11, §5): replays answer what the first
send answered, a pull claims its client id, a replay with other content is refused, one bad value refuses its
mutation alone, a late 回避 is enforced, implausible device times are not believed, the cursor, the label and
the error code of a HEAD are checked, and server and text agree on the rest (§5.7)."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from backend.auth.roles import Role
from backend.auth.tokens import TokenSettings, issue_access_token
from backend.inspections.models import Section
from sync import changes
from sync.client import SyncError
from sync.models import SyncClient, SyncMutation
from tests.field.test_merge import everyone_signs_on_the_leads_phone, representative_signs_and_submit, sign_and_finalise


def _push(field, user, body, **headers):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body, ensure_ascii=False)
    return field.client.post("/api/sync/push", data=data, content_type="application/json",
                             headers={**field.auth.headers(user), **headers})


def _set(mid: int, field, value, **extra) -> dict:
    return {"id": mid, "name": "section.set", "device_time": "2026-04-08T09:31:02+08:00",
            "args": {"inspection_id": field.inspection.id, "department_id": field.lead_dept.id,
                     "fields": {"note": {"value": value, "base_rev": 0}}}, **extra}


class Recorder:
    """Keeps every push body sent and the answer it got."""

    def __init__(self, phone):
        self.sent: list[tuple[dict, dict]] = []
        real = phone.transport.request

        def request(method, path, headers, body):
            r = real(method, path, headers, body)
            if path == "/api/sync/push" and r.status == 200:
                self.sent.append((json.loads(body), r.json))
            return r
        phone.transport.request = request


# --- 5.1: a replay answers exactly what the first send answered ----------------------------------------------

def test_a_replay_answers_exactly_what_the_first_send_answered(field):
    lead = field.phone(field.lead_user)
    recorder = Recorder(lead)
    sign_and_finalise(field, lead)
    everyone_signs_on_the_leads_phone(field, lead)
    representative_signs_and_submit(field, lead, lead.docs["inspection"][field.inspection.id]["record"]["content_hash"])
    assert lead.push()[-1]["publication_due_on"]
    firsts = {r["id"]: r for _body, answer in recorder.sent for r in answer["results"] if not r.get("replayed")}
    names = {m["id"]: m["name"] for body, _answer in recorder.sent for m in body["mutations"]}
    assert {"section.sign", "record.finalize", "record.sign", "record.submit"} <= set(names.values())
    for body, _answer in recorder.sent:
        r = _push(field, field.lead_user, body)
        assert r.status_code == 200, r.json
        for again in r.json["results"]:
            assert again.pop("replayed") is True
            assert again == firsts[again["id"]], names[again["id"]]
    submit = next(firsts[i] for i, n in names.items() if n == "record.submit")
    assert submit["content_hash"] and submit["publication_due_on"] and "due_provisional" in submit


# --- 5.2: a pull claims its client id ---------------------------------------------------------------------------

def test_a_pull_claims_its_client_id(field, db_session):
    phone = field.phone(field.lead_officer)
    phone.pull()
    row = db_session.get(SyncClient, phone.client_id)
    assert row is not None and row.user_id == field.lead_officer.id and row.last_pull_at is not None
    thief = field.phone(field.other_officer, client_id=phone.client_id)
    thief.set_section(field.inspection.id, field.other_dept.id, {"note": "抢先"})
    with pytest.raises(SyncError) as e:
        thief.push()
    assert e.value.status == 403 and e.value.code == "sync.client_not_yours"
    phone.set_section(field.inspection.id, field.lead_dept.id, {"note": "本机"})
    assert phone.push()[0]["status"] == "applied"


# --- 5.3: a replayed id with another content --------------------------------------------------------------------

def test_a_replayed_id_with_other_content_is_refused_and_nothing_is_dropped(field, db_session):
    phone = field.phone(field.lead_officer)
    r = _push(field, field.lead_officer, {"client_id": phone.client_id, "mutations": [_set(1, field, "第一次")]})
    assert r.status_code == 200 and r.json["results"][0]["status"] == "applied"
    # the same id, another content (a bug of the outbox): refused whole, the server keeps the first
    r = _push(field, field.lead_officer, {"client_id": phone.client_id,
                                          "mutations": [_set(1, field, "改过的内容"), _set(2, field, "下一条")]})
    assert r.status_code == 409 and r.json["code"] == "sync.replay_mismatch", r.json
    assert r.json["details"]["mutation_id"] == 1 and r.json["details"]["first_result"]["status"] == "applied"
    assert db_session.get(SyncClient, phone.client_id).last_mutation_id == 1
    # the same content again (key order and spacing aside) is a replay
    same = _set(1, field, "第一次")
    text = json.dumps({"mutations": [dict(reversed(list(same.items())))], "client_id": phone.client_id}, indent=2)
    r = _push(field, field.lead_officer, text)
    assert r.status_code == 200 and r.json["results"][0]["replayed"] is True
    # sync/client.py follows the contract: the changed mutation goes again under a new id
    phone.next_id = 2
    phone.outbox = [{**_set(1, field, "改过的内容")}]
    results = phone.push()
    assert [x["status"] for x in results] == ["applied"] and results[0]["id"] == 2 and phone.pending() == 0
    section = db_session.scalar(select(Section).where(Section.inspection_id == field.inspection.id))
    db_session.refresh(section)
    assert section.data["note"] == "改过的内容"


# --- 5.4: one bad mutation is refused alone ------------------------------------------------------------------------

BAD_VALUES = [
    ("2^53", "9007199254740993"), ("NaN", "NaN"), ("Infinity", "-Infinity"), ("101 digits", "1" * 101),
    ("a huge exponent", "1e400"), ("nesting over 32", "[" * 40 + "]" * 40), ("nesting of thousands", "[" * 5000 + "]" * 5000),
    ("NUL", '"a\\u0000b"'), ("a lone surrogate", '"a\\ud800b"'), ("a key with NUL", '{"a\\u0000": 1}'),
]


def test_one_bad_value_refuses_its_mutation_alone_and_the_outbox_moves_on(field, db_session):
    phone = field.phone(field.lead_officer)
    parts, mid = [], 0
    for _label, raw in BAD_VALUES:
        mid += 1
        parts.append(json.dumps(_set(mid, field, "好的"), ensure_ascii=False).replace('"好的"', raw))
        mid += 1
        parts.append(json.dumps(_set(mid, field, f"第 {mid} 条")))
    odd = [{"id": mid + 1, "name": "No such name", "args": {}}, {"id": mid + 2, "name": "section.set", "args": [1]},
           {"id": mid + 3, "name": "section.set", "args": {}, "device_time": "明天"}]
    parts += [json.dumps(m) for m in odd]
    body = '{"client_id": "%s", "mutations": [%s]}' % (phone.client_id, ", ".join(parts))
    r = _push(field, field.lead_officer, body)
    assert r.status_code == 200, r.json
    results = r.json["results"]
    assert r.json["last_mutation_id"] == mid + 3 and len(results) == mid + 3
    for n, (label, _raw) in enumerate(BAD_VALUES):
        bad, good = results[2 * n], results[2 * n + 1]
        assert bad["status"] == "rejected" and bad["code"] == "validation_error" and bad["errors"], label
        assert good["status"] == "applied", label
    assert [x["code"] for x in results[-3:]] == ["sync.unknown_mutation", "validation_error", "validation_error"]
    rows = db_session.scalars(select(SyncMutation).where(SyncMutation.client_id == phone.client_id)).all()
    assert len(rows) == mid + 3
    section = db_session.scalar(select(Section).where(Section.inspection_id == field.inspection.id))
    db_session.refresh(section)
    assert section.data["note"] == f"第 {mid} 条"
    # the same push again: the refusals are replayed, nothing applied twice
    r = _push(field, field.lead_officer, body)
    assert r.status_code == 200 and all(x["replayed"] for x in r.json["results"])


def test_values_out_of_range_elsewhere_are_still_refused_whole(field):
    # outside the push the screening stays as it was: a whole request with such a value is refused
    r = field.client.post("/api/sync/signers/verify", data='{"inspection_id": 1e400, "scope": "record", '
                          '"username": "a", "password": "b"}', content_type="application/json",
                          headers=field.auth.headers(field.lead_user))
    assert r.status_code == 422


# --- 5.5: a conflict of interest declared after the draw -----------------------------------------------------------

def _declare(field, factory, inspector_id, department, target_id, reason="配偶在该企业任职"):
    admin = factory.user(Role.DEPT_ADMIN, department)
    r = field.client.post(f"/api/v1/inspectors/{inspector_id}/conflicts", json={"target_id": target_id, "reason": reason},
                          headers=field.auth.headers(admin))
    assert r.status_code == 201, r.json
    return r.json["id"], admin


def test_a_late_recusal_takes_the_officer_out_at_once(field, factory):
    officer = field.other_officer
    phone = field.phone(officer)
    phone.pull()
    assert field.inspection.id in phone.docs["inspection"]
    conflict_id, admin = _declare(field, factory, officer.inspector_id, field.other_dept, field.inspection.target_id)
    phone.pull()
    tomb = phone.tombstones[field.inspection.id]
    assert tomb["reason_code"] == "recused" and "配偶在该企业任职" in tomb["reason"]
    assert field.inspections[1].id in phone.docs["inspection"]          # only that business
    phone.set_section(field.inspection.id, field.other_dept.id, {"note": "回避后仍在填写"})
    [res] = phone.push()
    assert res["status"] == "rejected" and res["code"] == "sync.recused" and "配偶在该企业任职" in res["message"]
    lead = field.phone(field.lead_user)
    lead.pull()
    members = lead.docs["inspection"][field.inspection.id]["group"]["members"]
    assert officer.inspector_id not in {m["inspector_id"] for m in members}
    assert field.client.get("/api/v1/my/inspections", headers=field.auth.headers(officer)).json["total"] == \
        len(field.inspections) - 1
    # withdrawn: back in
    r = field.client.post(f"/api/v1/inspectors/{officer.inspector_id}/conflicts/{conflict_id}/retire",
                          json={"retired": True}, headers=field.auth.headers(admin))
    assert r.status_code == 200, r.json
    phone.pull()
    assert field.inspection.id in phone.docs["inspection"]


def test_a_recused_lead_is_followed_by_the_next_officer_of_the_lead_department(field, factory):
    lead_inspector = field.lead_user.inspector_id
    _declare(field, factory, lead_inspector, field.lead_dept, field.inspection.target_id)
    phone = field.phone(field.lead_officer)
    phone.pull()
    doc = phone.docs["inspection"][field.inspection.id]
    assert doc["me"]["is_lead"] is True
    phone.set_record(field.inspection.id, {"opinion": "由本部门另一名检查人员汇总"})
    assert phone.push()[0]["status"] == "applied"
    old = field.phone(field.lead_user)
    old.set_record(field.inspection.id, {"opinion": "已回避的组长"})
    assert old.push()[0]["code"] == "sync.recused"


def test_a_declaration_after_completion_changes_nothing(field, factory, db_session):
    from backend.directory.models import Inspector
    from tests.field.builders import led_inspection

    led_inspection(db_session, field.inspection.id, db_session.get(Inspector, field.lead_user.inspector_id), "submitted")
    _declare(field, factory, field.other_officer.inspector_id, field.other_dept, field.inspection.target_id)
    phone = field.phone(field.other_officer)
    phone.pull()
    doc = phone.docs["inspection"][field.inspection.id]
    assert doc["status"] == "completed" and field.other_officer.inspector_id in {
        m["inspector_id"] for m in doc["group"]["members"]}


# --- 5.6: device times, the cursor, the label, HEAD ------------------------------------------------------------------

@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+08:00", "0001-01-01T00:00:00Z", "2999-12-31T23:59:59+08:00",
                                  "1999-12-31T23:59:59Z"])
def test_a_device_time_no_clock_can_have_is_not_believed(field, db_session, when):
    phone = field.phone(field.lead_officer)
    r = _push(field, field.lead_officer, {"client_id": phone.client_id,
                                          "mutations": [{**_set(1, field, "时钟不对"), "device_time": when}]})
    assert r.status_code == 200, r.json
    [res] = r.json["results"]
    assert res["status"] == "applied" and res["device_time_ignored"] is True
    row = db_session.get(SyncMutation, (phone.client_id, 1))
    assert row.device_time is None and row.result["device_time_ignored"] is True
    # a time written as a field is refused where it cannot be true
    cp = field.points(field.lead_item)[0]
    phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.device_time": "2999-12-31T00:00:00Z"})
    phone.next_id = phone.outbox[0]["id"] = 2
    [res] = phone.push()
    assert res["code"] == "validation_error" and f"points.{cp}.device_time" in res["errors"]


def test_a_cursor_beyond_the_head_is_refused_and_the_client_starts_afresh(field, db_session):
    phone = field.phone(field.lead_officer)
    ahead = changes.head(db_session) + 100
    r = field.client.get(f"/api/sync/pull?client_id={phone.client_id}&cursor={ahead}",
                         headers=field.auth.headers(field.lead_officer))
    assert r.status_code == 409 and r.json["code"] == "sync.cursor_ahead" and r.json["message"]
    r = field.client.get(f"/api/sync/pull?client_id={phone.client_id}&cursor=1.{ahead}.5",
                         headers=field.auth.headers(field.lead_officer))
    assert r.status_code == 409 and r.json["code"] == "sync.cursor_ahead"
    phone.cursor = str(ahead)
    phone.pull()
    assert set(phone.docs["inspection"]) == {i.id for i in field.inspections} and int(phone.cursor) < ahead


def test_a_device_label_over_128_characters_is_refused_not_cut(field, db_session):
    phone = field.phone(field.lead_officer)
    body = {"client_id": phone.client_id, "mutations": [_set(1, field, "x")]}
    r = _push(field, field.lead_officer, body, **{"X-Device-Label": "A" * 129})
    assert r.status_code == 422 and r.json["code"] == "sync.bad_label"
    assert db_session.get(SyncClient, phone.client_id) is None
    r = field.client.get(f"/api/sync/pull?client_id={phone.client_id}",
                         headers={**field.auth.headers(field.lead_officer), "X-Device-Label": "B" * 200})
    assert r.status_code == 422 and r.json["code"] == "sync.bad_label"
    r = _push(field, field.lead_officer, body, **{"X-Device-Label": "A" * 128})
    assert r.status_code == 200 and db_session.get(SyncClient, phone.client_id).label == "A" * 128


def test_every_error_names_its_code_in_a_header_also_for_head(field):
    sha = "ab" * 32
    r = field.client.head(f"/api/media/{sha}")
    assert r.status_code == 401 and r.data == b"" and r.headers["X-Error-Code"] == "auth.required"
    expired = TokenSettings(field.app.config["SECRET_KEY"], "shuangsui", "shuangsui-api", -5)
    import jwt

    sid = jwt.decode(field.auth.token(field.lead_officer), options={"verify_signature": False})["sid"]
    token = issue_access_token(expired, field.lead_officer, sid)[0]
    r = field.client.head(f"/api/media/{sha}", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.headers["X-Error-Code"] == "auth.token_expired"
    r = field.client.head("/api/uploads/" + "0" * 32, headers={**field.auth.headers(field.lead_officer),
                                                              "Tus-Resumable": "1.0.0"})
    assert r.status_code == 404 and r.headers["X-Error-Code"] == "upload.not_found"
    r = field.client.get("/api/sync/pull?client_id=nope", headers=field.auth.headers(field.lead_officer))
    assert r.headers["X-Error-Code"] == r.json["code"] == "sync.bad_client"


# --- 5.7: the server and the text agree --------------------------------------------------------------------------

def test_a_malformed_push_is_a_bad_batch(field):
    cid = str(uuid.uuid4())
    many = [_set(i, field, "x") for i in range(1, 102)]
    answers = [
        _push(field, field.lead_officer, {"client_id": cid, "mutations": many}),
        _push(field, field.lead_officer, {"client_id": cid, "mutations": [_set(1, field, "x")], "extra": 1}),
        _push(field, field.lead_officer, {"client_id": cid, "mutations": [_set(1, field, "x", extra=1)]}),
        _push(field, field.lead_officer, {"client_id": cid, "mutations": [{**_set(1, field, "x"), "id": 2**53}]}),
        _push(field, field.lead_officer, {"client_id": cid, "mutations": [{**_set(1, field, "x"), "id": 0}]}),
        _push(field, field.lead_officer, {"client_id": cid}),
    ]
    for r in answers:
        assert r.status_code == 422 and r.json["code"] == "sync.bad_batch" and r.json["errors"], r.json


@pytest.mark.parametrize("client_id,ok", [
    ("3f1c2b7e-5d4a-4c3b-9a8f-1e2d3c4b5a69", True),                   # uuid4, lower case
    ("ba81e0fe-f154-11f1-95a6-02fc00000001", False),                  # uuid1
    ("3F1C2B7E-5D4A-4C3B-9A8F-1E2D3C4B5A69", False),                  # upper case
    ("05b16a01-46c6-56dd-bd6e-c6dfb4a1427a", False),                  # uuid5
    ("3f1c2b7e-5d4a-4c3b-7a8f-1e2d3c4b5a69", False)],                 # not the RFC 4122 variant
    ids=["v4", "v1", "upper", "v5", "variant"])
def test_a_client_id_is_a_lowercase_uuid4(field, client_id, ok):
    r = _push(field, field.lead_officer, {"client_id": client_id, "mutations": [_set(1, field, "x")]})
    assert (r.status_code == 200) is ok, r.json
    if not ok:
        assert r.json["code"] == "sync.bad_batch" and "client_id" in r.json["errors"]
    r = field.client.get(f"/api/sync/pull?client_id={client_id}", headers=field.auth.headers(field.lead_officer))
    assert (r.status_code == 200) is ok and (ok or r.json["code"] == "sync.bad_client")


def test_only_officers_sync_and_others_hear_so(field, factory):
    planner = factory.user(Role.PLANNER, field.lead_dept)
    r = _push(field, planner, {"client_id": str(uuid.uuid4()), "mutations": [_set(1, field, "x")]})
    assert r.status_code == 403 and r.json["code"] == "forbidden.not_inspector"
    r = field.client.get(f"/api/sync/pull?client_id={uuid.uuid4()}", headers=field.auth.headers(planner))
    assert r.status_code == 403 and r.json["code"] == "forbidden.not_inspector"


def test_the_contract_file_says_a_new_client_has_last_mutation_id_0(app):
    spec = app.extensions["shuangsui.api"].spec.to_dict()["components"]["schemas"]
    for name in ("PushOut", "PullOut"):
        assert spec[name]["properties"]["last_mutation_id"]["minimum"] == 0
    assert spec["MutationResultOut"]["properties"]["id"]["maximum"] == 2**53 - 1
    push = app.extensions["shuangsui.api"].spec.to_dict()["paths"]["/api/sync/push"]["post"]
    assert push["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/PushIn")


def test_a_draft_record_carries_the_hash_it_would_be_finalised_with(field):
    lead = field.phone(field.lead_user)
    lead.set_record(field.inspection.id, {"opinion": "初稿"})
    lead.push()
    lead.pull()
    record = lead.docs["inspection"][field.inspection.id]["record"]
    assert record["state"] == "draft" and record["content_hash"] == lead.record_hash(field.inspection.id)
    other = field.phone(field.lead_user)
    other.pull()
    other_id = field.inspections[1].id
    untouched = other.docs["inspection"][other_id]["record"]
    assert untouched["content_hash"] == other.record_hash(other_id)


def test_a_write_without_base_rev_is_refused(field):
    phone = field.phone(field.lead_officer)
    phone.enqueue("section.set", {"inspection_id": field.inspection.id, "department_id": field.lead_dept.id,
                                  "fields": {"note": {"value": "没有 base_rev"}, "arrived_at": {"value": None}}})
    [res] = phone.push()
    assert res["code"] == "validation_error" and set(res["errors"]) == {"note", "arrived_at"}
    assert "base_rev" in res["errors"]["note"][0]


def test_a_method_must_be_one_the_item_list_gives(field):
    phone = field.phone(field.lead_officer)
    path = f"items.{field.lead_item.id}.method"                 # the item lists 实地检查 only
    phone.set_section(field.inspection.id, field.lead_dept.id, {path: "testing"})
    [res] = phone.push()
    assert res["code"] == "validation_error" and "实地检查" in res["errors"][path][0]
    phone.set_section(field.inspection.id, field.lead_dept.id, {path: "onsite"})
    assert phone.push()[0]["status"] == "applied"


def test_a_task_comes_once_per_pull(field):
    phone = field.phone(field.lead_officer)
    pages = []
    real = phone.transport.request

    def request(method, path, headers, body):
        r = real(method, path, headers, body)
        if path.startswith("/api/sync/pull") and r.status == 200:
            pages.append(r.json)
        return r
    phone.transport.request = request
    phone.pull(limit=1)
    assert len(pages) >= 2
    tasks = [c["id"] for p in pages for c in p["changes"] if c["type"] == "task"]
    assert tasks == [field.task.id]
    assert [c["type"] for c in pages[0]["changes"]][0] == "task"
