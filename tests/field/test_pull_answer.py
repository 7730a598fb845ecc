"""A pull's answer (docs/sync.md §4), pinned: written straight with orjson (``sync_routes.Pull``), its bytes are those of
``PullOut``'s dump through ``jsonify``, every key in its place, floats included; and a first pull sends a fixed
number of statements, however many inspections it brings."""
from __future__ import annotations

import re

from flask import jsonify

from backend.actor import Actor
from backend.auth.models import User
from backend.inspections import syncing
from backend.inspections.sync_routes import PULL_OUT
from tests.field.conftest import build_field
from tests.statements import sent_statements

INSPECTION_KEYS = ["id", "status", "status_label", "task_id", "stratum", "position", "started_at", "completed_at",
                   "target", "group", "me", "sections", "signatures", "record", "conflicts", "flags", "deadline",
                   "reinspection", "media"]
SECTION_KEYS = ["department_id", "department_code", "status", "status_label", "rev", "content", "revs",
                "content_hash", "signed_hash", "server_times", "updated_at"]
TASK_KEYS = ["id", "code", "name", "status", "start_date", "end_date", "draw_date", "lead_department_id",
             "departments", "verify_url"]
ITEM_KEYS = ["id", "code", "category", "name", "kind", "methods", "legal_basis", "check_points"]
POINT_KEYS = ["id", "seq", "text", "answer_type", "options", "required", "guidance"]
TIME = re.compile(rb'"server_time":"[^"]*"')


def _pushed(field) -> None:
    """Sections of both departments (failed check points with photos: media the server has not got), notes in
    Chinese with characters JSON escapes."""
    lead = field.phone(field.lead_user)
    for n, inspection in enumerate(field.inspections):
        values = field.full_section(field.lead_item, result="fail" if n == 0 else "pass")
        values["note"] = f"第{n}户：\"引号\"、\\、\t制表、\u2028行分隔、😀"
        lead.set_section(inspection.id, field.lead_dept.id, values)
    assert {r["status"] for r in lead.push()} == {"applied"}
    other = field.phone(field.other_officer)
    other.set_section(field.inspection.id, field.other_dept.id, field.full_section(field.other_item))
    assert [r["status"] for r in other.push()] == ["applied"]


def _same_as_the_schema(field, user) -> dict:
    """The HTTP answer of ``user``'s first pull, to the byte the dump of the same pull through ``PullOut`` and
    ``jsonify`` (the server's time apart: the two are not taken at the same moment)."""
    phone = field.phone(user)
    r = field.client.get(f"/api/sync/pull?client_id={phone.client_id}", headers=field.auth.headers(user))
    assert r.status_code == 200 and r.mimetype == "application/json"
    field.session.expire_all()          # the test's objects as the request left them
    with field.app.test_request_context():
        body = syncing.pull(field.session, Actor.of_user(field.session.get(User, user.id)),
                            client_id=phone.client_id, cursor=None, limit=100)
        usual = jsonify(PULL_OUT.dump(body)).get_data()
    assert TIME.sub(b'"server_time":""', r.get_data()) == TIME.sub(b'"server_time":""', usual)
    return r.json


def test_a_pulls_answer_is_the_schemas_dump_to_the_byte(field):
    _pushed(field)
    for user in (field.lead_user, field.lead_officer, field.other_officer):
        answer = _same_as_the_schema(field, user)
        assert list(answer) == ["cursor", "has_more", "last_mutation_id", "server_time", "changes"]
        docs = [c["data"] for c in answer["changes"] if c["type"] == "inspection"]
        assert len(docs) == len(field.inspections) and all(list(doc) == INSPECTION_KEYS for doc in docs)
        assert all(list(s) == SECTION_KEYS for doc in docs for s in doc["sections"])
        [task] = [c["data"] for c in answer["changes"] if c["type"] == "task"]
        assert list(task) == TASK_KEYS
        items = [i for d in task["departments"] for i in d["items"]]
        assert items and all(list(i) == ITEM_KEYS for i in items)
        assert all(list(p) == POINT_KEYS for i in items for p in i["check_points"])
        if user is field.lead_user:
            assert docs[0]["sections"][0]["content"]["note"].endswith("行分隔、😀")


def test_small_floats_are_written_as_python_writes_them(field):
    """orjson writes 1e-05 as 0.00001 and 1e-07 as 1e-7: an answer holding such a float is written the usual way."""
    _pushed(field)
    for n, (lat, lon) in enumerate([(1e-05, 120.5), (3.2e-07, 1e-12), (0.0001, 1e16)]):
        target = field.inspections[n % len(field.inspections)].target
        target.latitude, target.longitude = lat, lon
        field.session.flush()
        answer = _same_as_the_schema(field, field.lead_user)
        doc = next(c["data"] for c in answer["changes"] if c["type"] == "inspection" and c["id"] == field.inspections[
            n % len(field.inspections)].id)
        assert doc["target"]["location"]["lat"] == lat and doc["target"]["location"]["lon"] == lon


def test_a_first_pull_sends_the_same_statements_for_two_inspections_or_five(app, client, factory, auth,
                                                                              db_session):
    counts = {}
    for targets in (2, 5):
        field = build_field(app, client, factory, auth, db_session, targets=targets)
        lead = field.phone(field.lead_user)
        for inspection in field.inspections:
            lead.set_section(inspection.id, field.lead_dept.id, field.full_section(field.lead_item))
        assert {r["status"] for r in lead.push()} == {"applied"}
        phone = field.phone(field.lead_user)
        phone.pull()                  # the device's first pull writes it (its claim): a second first pull counted
        phone.cursor = None
        with sent_statements(db_session.get_bind().engine) as sent:
            assert phone.pull() == targets + 1
        counts[targets] = sent
    assert len(counts[2]) == len(counts[5]), (counts[2], counts[5])
    # the account of the token, the head, the device, the changes (inspections, tasks), the inspections with their
    # task's code, group's number, business and record (PostgreSQL: and their people; SQLite: the people apart), the
    # sections (PostgreSQL: with their answers; SQLite: their answers apart), signatures, conflicts, flags, recent
    # results of the businesses, and the checklist: its task, departments, items and check points (22 before the
    # pull's sections read their department codes with them, the inspections their task's code, and the checklist
    # its items with the tasks' items; 19 before the inspections read their group and record with them, and
    # PostgreSQL the people with the inspections and the answers with their sections)
    postgres = db_session.get_bind().dialect.name == "postgresql"
    assert len(counts[5]) == (15 if postgres else 17), (len(counts[5]), "\n".join(s[:100] for s in counts[5]))


def test_a_sections_answers_come_in_check_point_order_whatever_was_written_last(field):
    """A section's ``content``, ``revs`` and ``server_times`` list its check points in their ids' order on every
    pull and every database: the first check point rewritten after the others (on PostgreSQL its row then lies
    last in the table) still comes first."""
    points = field.points(field.lead_item)
    assert len(points) >= 2
    lead = field.phone(field.lead_user)
    lead.set_section(field.inspection.id, field.lead_dept.id, field.full_section(field.lead_item))
    assert [r["status"] for r in lead.push()] == ["applied"]
    lead.pull()
    lead.set_section(field.inspection.id, field.lead_dept.id, {f"points.{points[0]}.result": "fail",
                                                               f"points.{points[0]}.problem": "现场复核"})
    assert [r["status"] for r in lead.push()] == ["applied"]
    answer = _same_as_the_schema(field, field.lead_user)
    doc = next(c["data"] for c in answer["changes"] if c["type"] == "inspection" and c["id"] == field.inspection.id)
    [section] = [s for s in doc["sections"] if s["department_id"] == field.lead_dept.id]
    order = sorted(points)
    for key in ("content", "revs"):
        seen = [int(k.split(".")[1]) for k in section[key] if k.startswith("points.")]
        assert list(dict.fromkeys(seen)) == order, (key, seen)
    assert [int(k) for k in section["server_times"]] == order
