"""Publishing results: who publishes which part, the preview, corrections, the public API (issue 12 §1)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.inspections.models import Record, Section
from backend.publication.models import PublishedResult
from sync.canonical import canonical_json, sha256_hex
from tests.api.publication.results_world import SECRETS, build_world, inspection_of

PUBLISH = "/api/v1/publication/inspections/{}/publish"
PREVIEW = "/api/v1/publication/inspections/{}/preview"
CORRECT = "/api/v1/publication/inspections/{}/correct"


@pytest.fixture()
def world(app, client, factory, auth, db_session):
    return build_world(app, client, factory, auth, db_session)


def _post(client, world, user, url, body=None):
    return client.post(url, json=body or {}, headers=world.headers(user))


def test_the_lead_department_publishes_the_record_exactly_as_previewed(client, world):
    f = world.field
    iid = world.submit(0)
    preview = _post(client, world, world.lead_publisher, PREVIEW.format(iid), {"remarks": "已完成检查"})
    assert preview.status_code == 200, preview.json
    assert preview.json["kind"] == "record" and preview.json["version"] == 1 and preview.json["blocked"] is None
    r = _post(client, world, world.lead_publisher, PUBLISH.format(iid), {"remarks": "已完成检查"})
    assert r.status_code == 201, r.json
    assert r.json["content"] == preview.json["content"]
    assert r.json["content_sha256"] == preview.json["content_sha256"] == sha256_hex(canonical_json(r.json["content"]))
    content = r.json["content"]
    assert content["task"]["code"] == f.task.code and content["task"]["joint"] is True
    assert content["task"]["type"] in ("directed", "undirected")
    assert [a["code"] for a in content["authorities"]] == [f.lead_dept.code, f.other_dept.code]
    assert [a["role"] for a in content["authorities"]] == ["lead", "participant"]
    assert content["business"]["name"] == inspection_of(world, iid).target.name
    assert {i["code"] for i in content["items"]} == {f.lead_item.code, f.other_item.code}
    assert [c["code"] for c in content["result_categories"]] == ["no_problem"]
    assert content["remarks"] == "已完成检查"
    assert content["record_hash"] and content["record_hash"] == r.json["record_hash"]
    assert inspection_of(world, iid).published_at is not None
    office = client.get(f"/api/v1/inspections/{iid}", headers=world.headers(world.lead_admin)).json
    assert office["deadline"]["state"] == "published"
    entry = world.session.scalar(select(AuditEntry).where(AuditEntry.action == "publication.publish"))
    assert entry.entity_id == str(r.json["id"]) and entry.department_id == f.lead_dept.id
    # the public reads it without logging in, at its permanent link
    public = client.get(f"/api/public/results/{r.json['id']}")
    assert public.status_code == 200
    assert public.json["content"] == preview.json["content"] and public.json["state"] == "current"
    assert "published_by" not in public.json


def test_a_participating_department_publishes_its_own_part(client, world):
    f = world.field
    iid = world.submit(0, fail_other=True)
    record = world.session.get(Record, iid)
    record.data = {**record.data, "result_categories": ["pending_followup", "unpublished_info"]}
    world.session.flush()
    r = _post(client, world, world.other_publisher, PUBLISH.format(iid))
    assert r.status_code == 201, r.json
    content = r.json["content"]
    assert r.json["kind"] == content["kind"] == "department"
    assert [a["code"] for a in content["authorities"]] == [f.other_dept.code]
    assert [i["code"] for i in content["items"]] == [f.other_item.code]
    assert content["items"][0]["methods"] == [{"code": "documents", "label": "书面检查"}]
    # a 不符合 in its section: the record's problem categories
    assert [c["code"] for c in content["result_categories"]] == ["pending_followup", "unpublished_info"]
    # its part does not publish the inspection as a whole
    assert inspection_of(world, iid).published_at is None
    # the lead department still has its own part to publish; each department publishes once
    assert _post(client, world, world.lead_admin, PUBLISH.format(iid)).status_code == 201
    again = _post(client, world, world.other_publisher, PUBLISH.format(iid))
    assert again.status_code == 409 and again.json["code"] == "publication.already_published"


def test_a_visit_with_an_outcome_publishes_the_outcome_and_no_items(client, world):
    iid = world.submit(0)
    record = world.session.get(Record, iid)
    record.data = {**record.data, "outcome": {"code": "unreachable", "photos": [], "gps": None},
                   "result_categories": ["pending_followup", "unreachable"]}
    for section in world.session.scalars(select(Section).where(Section.inspection_id == iid)):
        section.data = {}
    world.session.flush()
    for user in (world.lead_publisher, world.other_publisher):
        content = _post(client, world, user, PREVIEW.format(iid)).json["content"]
        assert [c["code"] for c in content["result_categories"]] == ["pending_followup", "unreachable"]
        assert content["items"] == []


def test_a_participant_may_set_its_categories_by_the_record_rules(client, world):
    iid = world.submit(0)
    bad = _post(client, world, world.other_publisher, PREVIEW.format(iid), {"result_categories": ["pending_followup"]})
    assert bad.status_code == 422 and bad.json["code"] == "publication.bad_categories"
    assert "须同时选择具体问题" in bad.json["message"]
    alone = _post(client, world, world.other_publisher, PREVIEW.format(iid),
                  {"result_categories": ["no_problem", "corrected"]})
    assert alone.status_code == 422 and alone.json["code"] == "publication.bad_categories"
    assert alone.json["details"]["rules"] == ["record.categories.no_problem_alone"]   # the record's own rule
    unknown = _post(client, world, world.other_publisher, PREVIEW.format(iid), {"result_categories": ["nothing"]})
    assert unknown.status_code == 422 and unknown.json["code"] == "validation_error"
    ok = _post(client, world, world.other_publisher, PREVIEW.format(iid), {"result_categories": ["corrected"]})
    assert ok.status_code == 200 and [c["code"] for c in ok.json["content"]["result_categories"]] == ["corrected"]
    fixed = _post(client, world, world.lead_publisher, PREVIEW.format(iid), {"result_categories": ["corrected"]})
    assert fixed.status_code == 422 and fixed.json["code"] == "publication.categories_fixed"
    long = _post(client, world, world.lead_publisher, PREVIEW.format(iid), {"remarks": "长" * 501})
    assert long.status_code == 422 and long.json["code"] == "validation_error" and long.json["message"]


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.PLANNER, Role.SUPERVISOR, Role.SYSADMIN])
def test_roles_that_never_publish_are_refused(client, world, factory, role):
    iid = world.submit(0)
    user = world.field.lead_user if role == Role.INSPECTOR else factory.user(role, world.field.lead_dept)
    for url in (PUBLISH, PREVIEW):
        r = _post(client, world, user, url.format(iid))
        assert r.status_code == 403 and r.json["code"] == "forbidden.role" and "content" not in r.json
    assert world.session.scalar(select(PublishedResult.id)) is None


def test_a_department_not_taking_part_is_refused(client, world):
    iid = world.submit(0)
    for url in (PUBLISH, PREVIEW, "/api/v1/publication/inspections/{}"):
        r = (client.get(url.format(iid), headers=world.headers(world.outsider)) if url.endswith("}")
             else _post(client, world, world.outsider, url.format(iid)))
        assert r.status_code == 403 and r.json["code"] == "forbidden.department", r.json
        assert "不" in r.json["message"] or "只能" in r.json["message"]


def test_only_a_submitted_record_is_published(client, world):
    f = world.field
    draft = f.inspections[1].id
    r = _post(client, world, world.lead_publisher, PUBLISH.format(draft))
    assert r.status_code == 409 and r.json["code"] == "publication.not_submitted" and "提交" in r.json["message"]
    r = _post(client, world, world.lead_publisher, PUBLISH.format(2147483647))
    assert r.status_code == 404 and r.json["code"] == "inspection.not_found"
    r = client.post(PUBLISH.format(world.submit(0)), json={"surprise": 1}, headers=world.headers(world.lead_publisher))
    assert r.status_code == 422 and r.json["code"] == "validation_error"


def test_a_correction_is_a_new_version_and_the_old_stays_public(client, world):
    iid = world.submit(0)
    first = _post(client, world, world.lead_publisher, PUBLISH.format(iid), {"remarks": "初稿"}).json
    missing = _post(client, world, world.lead_publisher, CORRECT.format(iid), {"remarks": "更正"})
    assert missing.status_code == 422 and missing.json["code"] == "validation_error"
    same = _post(client, world, world.lead_publisher, CORRECT.format(iid), {"remarks": "初稿", "change_note": "没有改动"})
    assert same.status_code == 409 and same.json["code"] == "publication.unchanged"
    preview = _post(client, world, world.lead_publisher, PREVIEW.format(iid), {"remarks": "备注有误，已更正"})
    assert preview.json["version"] == 2 and preview.json["supersedes_id"] == first["id"]
    second = _post(client, world, world.lead_publisher, CORRECT.format(iid),
                   {"remarks": "备注有误，已更正", "change_note": "备注写错了企业的经营范围，更正"})
    assert second.status_code == 201, second.json
    assert second.json["version"] == 2 and second.json["supersedes_id"] == first["id"]
    assert second.json["change_note"] == "备注写错了企业的经营范围，更正"
    assert second.json["content"] == preview.json["content"]
    old = client.get(f"/api/public/results/{first['id']}").json
    assert old["state"] == "superseded" and old["superseded_by_id"] == second.json["id"]
    assert old["content"]["remarks"] == "初稿"
    assert [v["state"] for v in old["versions"]] == ["superseded", "current"]
    listed = client.get("/api/public/results").json
    assert [row["id"] for row in listed["items"]] == [second.json["id"]]
    both = client.get("/api/public/results?include_superseded=true").json
    assert {row["id"] for row in both["items"]} == {first["id"], second.json["id"]}
    actions = world.session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("publication.%"))
                                   .order_by(AuditEntry.id)).all()
    # each version's 检查结果告知书 is made (and audited) right after it is published
    assert actions == ["publication.publish", "publication.notice", "publication.correct", "publication.notice"]
    not_yet = _post(client, world, world.other_publisher, CORRECT.format(iid), {"change_note": "尚未发布的更正"})
    assert not_yet.status_code == 409 and not_yet.json["code"] == "publication.not_published"


# --- what the public sees -----------------------------------------------------------------------------

# every path the public sees of a result (written out here, not read from the code): a new one fails this test
PUBLIC_CONTENT_PATHS = {
    "kind", "kind_label", "plan.code", "plan.name",
    "task.code", "task.name", "task.type", "task.type_label", "task.joint", "task.joint_label",
    "authorities[].code", "authorities[].name", "authorities[].role", "authorities[].role_label",
    "publisher.code", "publisher.name", "business.name", "business.uscc", "business.reg_no",
    "items[].code", "items[].name", "items[].department", "items[].methods[].code", "items[].methods[].label",
    "completed_on", "result_categories[].code", "result_categories[].label", "remarks", "record_hash",
}
PUBLIC_ANSWER_KEYS = {
    "id", "inspection_id", "version", "kind", "state", "state_label", "department", "task_code", "target_name",
    "target_code", "completed_on", "published_at", "result_categories", "record_hash", "change_note",
    "supersedes_id", "superseded_by_id", "superseded_at", "pdf_sha256", "content", "content_sha256", "versions",
}
PUBLIC_ROW_KEYS = PUBLIC_ANSWER_KEYS - {"pdf_sha256", "content", "content_sha256", "versions"}


def _paths(value, prefix=""):
    if isinstance(value, dict):
        out = set()
        for k, v in value.items():
            out |= _paths(v, f"{prefix}.{k}" if prefix else k) or {f"{prefix}.{k}" if prefix else k}
        return out
    if isinstance(value, list):
        out = set()
        for v in value:
            out |= _paths(v, prefix + "[]")
        return out
    return {prefix}


def test_a_record_full_of_personal_data_publishes_none_of_it(client, world):
    iid = world.submit(0, personal=True)
    preview = _post(client, world, world.lead_publisher, PREVIEW.format(iid))
    published = _post(client, world, world.lead_publisher, PUBLISH.format(iid))
    part = _post(client, world, world.other_publisher, PUBLISH.format(iid))
    assert published.status_code == 201 and part.status_code == 201
    answers = [preview.json, published.json, part.json,
               client.get(f"/api/public/results/{published.json['id']}").json,
               client.get(f"/api/public/results/{part.json['id']}").json,
               client.get("/api/public/results").json]
    for answer in answers:
        text = json.dumps(answer, ensure_ascii=False)
        leaked = [name for name, secret in SECRETS.items() if secret in text]
        assert not leaked, leaked
        for word in ("phone", "id_no", "gps", "photo", "signature", "strokes", "representative", "officer",
                     "lat", "lon", "opinion", "note\"", "problem"):
            assert f'"{word}' not in text, word
    # every field the public sees, listed: a new field fails here until it is added on purpose
    public = client.get(f"/api/public/results/{published.json['id']}").json
    assert set(public) == PUBLIC_ANSWER_KEYS
    assert _paths(public["content"]) == PUBLIC_CONTENT_PATHS
    assert set(public["department"]) == {"id", "code", "name"}
    assert {k for v in public["versions"] for k in v} == {"id", "version", "state", "published_at"}
    assert {k for c in public["result_categories"] for k in c} == {"code", "label"}
    row = client.get("/api/public/results").json["items"][0]
    assert set(row) == PUBLIC_ROW_KEYS


def test_the_redaction_refuses_a_field_outside_the_whitelist():
    import dataclasses
    import datetime as dt

    from backend.publication import redaction

    src = redaction.Source(kind="record", plan_code="P", plan_name="计划", task_code="T", task_name="任务",
                           directed=False, joint=False, authorities=(), publisher=redaction.Department("D", "部门"),
                           business_name="企业", uscc=None, reg_no=None, items=(), completed_on=dt.date(2026, 4, 8),
                           categories=("no_problem",), remarks=None, record_hash=None)
    doc = redaction.public_document(src)
    assert redaction.field_paths(doc) <= redaction.PUBLIC_FIELDS
    assert "officers" not in {f.name for f in dataclasses.fields(redaction.Source)}
    original = redaction.PUBLIC_FIELDS
    try:
        redaction.PUBLIC_FIELDS = original - {"remarks"}
        with pytest.raises(redaction.UnpublishableField):
            redaction.public_document(src)
    finally:
        redaction.PUBLIC_FIELDS = original


# --- the public search --------------------------------------------------------------------------------

def test_the_public_searches_published_results_without_logging_in(client, world, factory):
    f = world.field
    ids = [world.submit(i) for i in range(2)]
    results = [_post(client, world, world.lead_publisher, PUBLISH.format(i)).json for i in ids]
    _post(client, world, world.other_publisher, PUBLISH.format(ids[0]))
    first = inspection_of(world, ids[0]).target

    def found(query):
        r = client.get("/api/public/results" + query)
        assert r.status_code == 200, r.json
        return r.json

    assert found("")["total"] == 3
    assert {r["inspection_id"] for r in found(f"?q={first.name[-6:]}")["items"]} == {ids[0]}
    assert {r["inspection_id"] for r in found(f"?uscc={first.uscc}")["items"]} == {ids[0]}
    assert found(f"?uscc={first.uscc.lower()}")["total"] == 2
    assert found(f"?task={f.task.code}")["total"] == 3 and found("?task=NONE")["total"] == 0
    assert {r["kind"] for r in found(f"?department_id={f.other_dept.id}")["items"]} == {"department"}
    day = inspection_of(world, ids[0]).completed_on.isoformat()
    assert found(f"?from={day}&to={day}")["total"] == 3
    assert found("?to=2000-01-01")["total"] == 0
    page = found("?page_size=2")
    assert page["pages"] == 2 and len(page["items"]) == 2 and page["total"] == 3
    assert found("?q=%25")["total"] == 0      # a % is a character, not a wildcard
    # a business checks the PDF it was given (its SHA-256) or the record's hash
    record = world.session.get(Record, ids[1])
    record.pdf_sha256 = "d4" * 32
    world.session.flush()
    assert {r["inspection_id"] for r in found("?hash=" + "D4" * 32)["items"]} == {ids[1]}
    assert {r["inspection_id"] for r in found("?hash=" + results[0]["record_hash"])["items"]} == {ids[0]}
    assert found("?hash=" + "e5" * 32)["total"] == 0
    bad = client.get("/api/public/results?hash=abc")
    assert bad.status_code == 422 and bad.json["code"] == "validation_error" and "SHA-256" in bad.json["message"]
    bad = client.get("/api/public/results?from=2026-05-01&to=2026-04-01")
    assert bad.status_code == 422 and bad.json["code"] == "results.bad_period" and bad.json["message"]
    bad = client.get("/api/public/results?from=2026-13-01")
    assert bad.status_code == 422 and bad.json["code"] == "validation_error"
    missing = client.get("/api/public/results/2147483647")
    assert missing.status_code == 404 and missing.json["code"] == "result.not_found"
    assert results[1]["content"]["business"]["uscc"] == inspection_of(world, ids[1]).target.uscc


def test_a_department_admin_makes_publishers_of_their_own_department(client, world, factory):
    f = world.field
    body = {"username": "pub.new", "display_name": "公示审核员", "password": "Str0ng!pw", "role": "publisher",
            "department_id": f.lead_dept.id}
    r = client.post("/api/v1/users", json=body, headers=world.headers(world.lead_admin))
    assert r.status_code == 201, r.json
    assert r.json["role"] == "publisher"
    other = client.post("/api/v1/users", json={**body, "username": "pub.other", "department_id": f.other_dept.id},
                        headers=world.headers(world.lead_admin))
    assert other.status_code == 403 and other.json["code"].startswith("forbidden")
    # the new publisher publishes the lead department's part
    login = client.post("/api/v1/auth/login", json={"username": "pub.new", "password": "Str0ng!pw"}).json
    iid = world.submit(0)
    published = client.post(PUBLISH.format(iid), json={},
                            headers={"Authorization": f"Bearer {login['access_token']}"})
    assert published.status_code == 201 and published.json["kind"] == "record"
