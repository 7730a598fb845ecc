"""Issue 11 §4.6 (and §4.5's last point): the PDF is made by a job, never in a request, kept by what it shows.

The draft took 9–13 s per request and the lead could ask for it without limit. Now a request answers from a
rendering already made, or ``202`` with the job making it; the same content is rendered once; one person has
at most ``PDF_MAX_ACTIVE_JOBS`` renderings under way. The app here hands jobs to rq on the real Redis with no
worker listening, so the test decides when a job runs (``backend.jobs.services.execute``, as a worker would).
After submission every member of the group reads the record and its PDF.
"""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from backend.directory.models import Inspector
from backend.inspections import record_pdf
from backend.jobs import services as jobs
from backend.jobs.models import Job
from tests.conftest import make_test_app
from tests.field.builders import led_inspection


@pytest.fixture()
def queued(database, tmp_path, redis_url, app):
    """The app with an rq queue nobody works: jobs wait until the test runs them."""
    name = f"test-pdf-{uuid.uuid4().hex[:8]}"
    held = make_test_app(database, tmp_path, REDIS_URL=redis_url, RQ_QUEUE=name, MEDIA_DIR=app.config["MEDIA_DIR"])
    assert held.extensions["shuangsui.jobs"].backend == "rq"
    yield held
    held.extensions["shuangsui.jobs"].queue.delete(delete_jobs=True)


def _run(held, job_id: str) -> None:
    jobs.execute(held.extensions["shuangsui.db"], job_id, media_dir=held.config["MEDIA_DIR"],
                 config=dict(held.config), progress_thread=False)


def _count(db_session, name: str) -> int:
    return db_session.scalar(select(func.count()).select_from(Job).where(Job.name == name))


def test_the_draft_is_made_by_a_job_once_per_content(field, queued, db_session, monkeypatch):
    client = queued.test_client()
    lead = field.auth.headers(field.lead_user)
    url = f"/api/v1/inspections/{field.inspection.id}/record.pdf?draft=1"
    first = client.get(url, headers=lead)
    assert first.status_code == 202, first.get_json()
    body = first.json
    assert body == {"state": "rendering", "job_id": body["job_id"], "job_status": "queued", "draft": True,
                    "retry_after": 2, "message": "检查记录表正在生成，请稍候再取"}
    assert first.headers["Retry-After"] == "2" and first.headers["Location"] == f"/api/v1/jobs/{body['job_id']}"
    for _ in range(5):                                   # asking again starts nothing new
        again = client.get(url, headers=lead)
        assert again.status_code == 202 and again.json["job_id"] == body["job_id"]
    assert _count(db_session, record_pdf.DRAFT_JOB) == 1
    assert client.get(f"/api/v1/jobs/{body['job_id']}", headers=lead).json["status"] == "queued"

    _run(queued, body["job_id"])
    made = client.get(url, headers=lead)
    assert made.status_code == 200 and made.mimetype == "application/pdf" and made.data[:5] == b"%PDF-"
    assert made.headers["Cache-Control"] == "private, no-store"
    assert client.get(url, headers=lead).data == made.data and _count(db_session, record_pdf.DRAFT_JOB) == 1

    # the record changes: its draft is made again, once
    phone = field.phone(field.lead_user)
    phone.set_section(field.inspection.id, field.lead_dept.id, {"note": "门店已整改"})
    assert phone.push()[0]["status"] == "applied"
    changed = client.get(url, headers=lead)
    assert changed.status_code == 202 and changed.json["job_id"] != body["job_id"]
    # one person has at most PDF_MAX_ACTIVE_JOBS renderings under way
    monkeypatch.setitem(queued.config, "PDF_MAX_ACTIVE_JOBS", 1)
    phone.set_section(field.inspection.id, field.lead_dept.id, {"note": "门店已整改，复查无误"})
    phone.push()
    busy = client.get(url, headers=lead)
    assert busy.status_code == 429 and busy.json["code"] == "pdf.busy", busy.json
    assert busy.headers["Retry-After"] == "10" and busy.json["details"]["limit"] == 1
    # the draft and its job are the lead's alone
    member = field.auth.headers(field.other_officer)
    assert client.get(url, headers=member).json["code"] == "record.lead_only"
    assert client.get(f"/api/v1/jobs/{changed.json['job_id']}", headers=member).status_code == 403


def test_after_submission_every_member_reads_the_record_and_its_pdf(field, queued, db_session):
    lead_inspector = db_session.get(Inspector, field.lead_user.inspector_id)
    led_inspection(db_session, field.inspection.id, lead_inspector, "submitted")       # no PDF yet
    client = queued.test_client()
    url = f"/api/v1/inspections/{field.inspection.id}/record.pdf"
    members = [u for u in field.members.values() if u.id != field.lead_user.id]
    assert {u.department_id for u in members} == {field.lead_dept.id, field.other_dept.id}
    pending = [client.get(url, headers=field.auth.headers(u)) for u in members]
    assert {r.status_code for r in pending} == {202} and len({r.json["job_id"] for r in pending}) == 1
    job_id = pending[0].json["job_id"]
    assert _count(db_session, record_pdf.JOB) == 1
    for user in members:                                   # every member may follow the job making it
        r = client.get(f"/api/v1/jobs/{job_id}", headers=field.auth.headers(user))
        assert r.status_code == 200 and r.json["status"] == "queued"
    _run(queued, job_id)
    for user in [field.lead_user, *members]:
        headers = field.auth.headers(user)
        r = client.get(url, headers=headers)
        assert r.status_code == 200 and r.data[:5] == b"%PDF-", user.id
        record = client.get(f"/api/v1/inspections/{field.inspection.id}", headers=headers).json
        assert record["record"]["state"] == "submitted" and record["record"]["pdf_sha256"]
        assert {s["department_id"] for s in record["sections"]} == {field.lead_dept.id, field.other_dept.id}
        assert client.get(f"/api/media/{record['record']['pdf_sha256']}", headers=headers).status_code == 200
