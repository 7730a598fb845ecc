"""不适合公开 (an approver other than the lead) and the publishers' queue (issue 12 §1.3, §1.1)."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.inspections.models import Inspection
from backend.publication.models import PublicationExemption
from backend.publication.services import work_calendar
from tests.api.publication.results_world import build_world, inspection_of

PUBLISH = "/api/v1/publication/inspections/{}/publish"
PREVIEW = "/api/v1/publication/inspections/{}/preview"
EXEMPTION = "/api/v1/publication/inspections/{}/exemption"
DECISION = "/api/v1/publication/inspections/{}/exemption/decision"
QUEUE = "/api/v1/publication/queue"


@pytest.fixture()
def world(app, client, factory, auth, db_session):
    return build_world(app, client, factory, auth, db_session)


def _post(client, world, user, url, body=None):
    return client.post(url, json=body or {}, headers=world.headers(user))


def test_the_leads_not_public_waits_for_an_approver_who_is_not_the_lead(client, world, factory):
    f = world.field
    iid = world.submit(0, not_public="涉及正在查办的案件")
    for user in (world.lead_publisher, world.other_publisher):
        r = _post(client, world, user, PUBLISH.format(iid))
        assert r.status_code == 409 and r.json["code"] == "publication.exemption_pending"
        assert r.json["details"]["reason"] == "涉及正在查办的案件"
    preview = _post(client, world, world.lead_publisher, PREVIEW.format(iid)).json
    assert preview["blocked"]["code"] == "publication.exemption_pending"
    # the lead, made a department admin of the lead department, still may not approve their own request
    f.lead_user.role = Role.DEPT_ADMIN.value
    world.session.flush()
    r = _post(client, world, f.lead_user, DECISION.format(iid), {"decision": "approve"})
    assert r.status_code == 403 and r.json["code"] == "exemption.approver_is_lead" and "组长以外" in r.json["message"]
    # nor may the participating department, nor an officer
    r = _post(client, world, world.other_publisher, DECISION.format(iid), {"decision": "approve"})
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    r = _post(client, world, world.lead_publisher, DECISION.format(iid), {"decision": "maybe"})
    assert r.status_code == 422 and r.json["code"] == "validation_error"
    before = client.get(f"/api/v1/inspections/{iid}", headers=world.headers(world.lead_admin))
    r = _post(client, world, world.lead_publisher, DECISION.format(iid), {"decision": "approve", "note": "同意"})
    assert r.status_code == 200, r.json
    # a new revision of the inspection: its deadline is no longer open, and never "late"
    after = client.get(f"/api/v1/inspections/{iid}", headers=world.headers(world.lead_admin))
    assert after.headers["ETag"] != before.headers["ETag"]
    assert before.json["deadline"]["state"] != "exempt"
    assert after.json["deadline"]["state"] == "exempt" and after.json["deadline"]["state_label"] == "经批准不公开"
    listed = client.get(f"/api/v1/inspections?task_id={f.task.id}&deadline_state=overdue",
                        headers=world.headers(world.lead_admin)).json
    assert iid not in [row["id"] for row in listed["items"]]
    exemption = r.json["exemption"]
    assert exemption["status"] == "approved" and exemption["source"] == "record"
    assert exemption["reason"] == "涉及正在查办的案件" and exemption["decided_by"] == world.lead_publisher.id
    assert exemption["requested_by"] == f.lead_user.id
    # an approved exemption is recorded as such: nothing is published, the queue no longer lists it
    r = _post(client, world, world.other_publisher, PUBLISH.format(iid))
    assert r.status_code == 409 and r.json["code"] == "publication.exempt"
    queue = client.get(QUEUE, headers=world.headers(world.lead_admin)).json
    assert iid not in [row["inspection_id"] for row in queue["items"]]
    again = _post(client, world, world.lead_admin, DECISION.format(iid), {"decision": "refuse"})
    assert again.status_code == 409 and again.json["code"] == "exemption.not_requested"
    entry = world.session.scalar(select(AuditEntry).where(AuditEntry.action == "publication.exemption_approve"))
    assert entry.entity_id == str(iid) and entry.detail["reason"] == "涉及正在查办的案件"
    status = client.get(f"/api/v1/publication/inspections/{iid}", headers=world.headers(world.lead_admin)).json
    assert status["exemption"]["status"] == "approved" and status["published_at"] is None


def test_a_refused_exemption_leaves_the_result_to_publish(client, world):
    iid = world.submit(0, not_public="涉及商业秘密")
    r = _post(client, world, world.lead_admin, DECISION.format(iid), {"decision": "refuse", "note": "不属于不公开情形"})
    assert r.status_code == 200 and r.json["exemption"]["status"] == "refused"
    assert _post(client, world, world.lead_publisher, PUBLISH.format(iid)).status_code == 201
    assert world.session.scalar(select(PublicationExemption.status)) == "refused"


def test_a_publisher_asks_and_someone_else_decides(client, world):
    iid = world.submit(0)
    short = _post(client, world, world.lead_publisher, EXEMPTION.format(iid), {"reason": "秘"})
    assert short.status_code == 422 and short.json["code"] == "validation_error"
    other = _post(client, world, world.other_publisher, EXEMPTION.format(iid), {"reason": "涉及国家秘密事项"})
    assert other.status_code == 403 and other.json["code"] == "forbidden.department"
    r = _post(client, world, world.lead_publisher, EXEMPTION.format(iid), {"reason": "涉及国家秘密事项"})
    assert r.status_code == 201 and r.json["exemption"]["status"] == "requested"
    assert r.json["exemption"]["source"] == "request"
    twice = _post(client, world, world.lead_admin, EXEMPTION.format(iid), {"reason": "再申请一次"})
    assert twice.status_code == 409 and twice.json["code"] == "exemption.exists"
    own = _post(client, world, world.lead_publisher, DECISION.format(iid), {"decision": "approve"})
    assert own.status_code == 403 and own.json["code"] == "exemption.approver_is_requester"
    ok = _post(client, world, world.lead_admin, DECISION.format(iid), {"decision": "approve"})
    assert ok.status_code == 200 and ok.json["exemption"]["status"] == "approved"


def test_no_exemption_once_published(client, world):
    iid = world.submit(0)
    assert _post(client, world, world.lead_publisher, PUBLISH.format(iid)).status_code == 201
    r = _post(client, world, world.lead_admin, EXEMPTION.format(iid), {"reason": "发布后才发现涉密"})
    assert r.status_code == 409 and r.json["code"] == "exemption.already_published"


# --- the queue ----------------------------------------------------------------------------------------

def test_the_queue_lists_what_the_department_still_has_to_publish_by_due_date(client, world):
    f = world.field
    ids = [world.submit(i) for i in range(3)]
    # completed on different days: the oldest is due first
    calendar = work_calendar(world.session)
    days = [dt.date(2026, 3, 2), dt.date(2026, 3, 16), dt.date(2026, 4, 1)]
    for iid, day in zip(ids, days):
        inspection = world.session.get(Inspection, iid)
        inspection.completed_on = day
        inspection.publication_due_on = calendar.add_working_days(day, 20).day
    world.session.flush()
    dues = [calendar.add_working_days(d, 20).day for d in days]
    today = dues[1] - dt.timedelta(days=1)          # the first overdue, the second due soon, the third on track
    r = client.get(f"{QUEUE}?today={today}", headers=world.headers(world.lead_publisher))
    assert r.status_code == 200, r.json
    rows = r.json["items"]
    assert [row["inspection_id"] for row in rows] == ids
    assert [row["state"] for row in rows] == ["overdue", "due_soon", "on_track"]
    assert [row["due_on"] for row in rows] == [d.isoformat() for d in dues]
    assert rows[0]["working_days_left"] < 0 < rows[2]["working_days_left"]
    assert {row["kind"] for row in rows} == {"record"} and rows[0]["clock_start"] == "submission"
    assert rows[0]["state_label"] and rows[0]["task_code"] == f.task.code
    for state, expected in (("overdue", ids[:1]), ("due_soon", ids[1:2]), ("on_track", ids[2:])):
        page = client.get(f"{QUEUE}?today={today}&state={state}", headers=world.headers(world.lead_publisher)).json
        assert [row["inspection_id"] for row in page["items"]] == expected, state
    paged = client.get(f"{QUEUE}?page_size=2&page=2", headers=world.headers(world.lead_publisher)).json
    assert paged["total"] == 3 and paged["pages"] == 2 and len(paged["items"]) == 1
    # publishing takes it off this department's queue, not off the other's
    _post(client, world, world.lead_publisher, PUBLISH.format(ids[0]))
    mine = client.get(QUEUE, headers=world.headers(world.lead_admin)).json
    assert [row["inspection_id"] for row in mine["items"]] == ids[1:]
    theirs = client.get(QUEUE, headers=world.headers(world.other_publisher)).json
    assert [row["inspection_id"] for row in theirs["items"]] == ids
    assert {row["kind"] for row in theirs["items"]} == {"department"}
    assert client.get(QUEUE, headers=world.headers(world.outsider)).json["total"] == 0
    bad = client.get(f"{QUEUE}?state=late", headers=world.headers(world.lead_publisher))
    assert bad.status_code == 422 and bad.json["code"] == "validation_error" and bad.json["message"]
    assert inspection_of(world, ids[0]).published_at is not None


@pytest.mark.parametrize("role", [Role.INSPECTOR, Role.PLANNER, Role.SUPERVISOR, Role.SYSADMIN])
def test_the_queue_is_the_publishers_only(client, world, factory, role):
    user = world.field.lead_user if role == Role.INSPECTOR else factory.user(role, world.field.lead_dept)
    r = client.get(QUEUE, headers=world.headers(user))
    assert r.status_code == 403 and r.json["code"] == "forbidden.role" and "items" not in r.json
    assert client.get(QUEUE).status_code == 401
