"""Large exports as jobs (``backend.jobs.exports``): the list behind a figure, the follow-up register, the
经营异常名录 review list and the national publicity system's file are sent at once when small, and answer 202
with a job when above ``EXPORT_ASYNC_ROWS`` or asked (``?async=1``); the job's progress moves, its result is
the same file, downloaded by its maker from ``GET /api/v1/jobs/<id>/file``."""
from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest
from openpyxl import load_workbook

from backend.auth.roles import Role
from backend.inspections.models import Record
from backend.jobs import services as job_services
from tests.api.figures.test_figures import FIGURES


@pytest.fixture()
def progress(monkeypatch):
    """Every progress report of the jobs run in the test, as (done, total)."""
    seen: list[tuple[int, int | None]] = []
    original = job_services.JobContext.progress

    def record(self, done, total=None, message=None, *, force=False):
        seen.append((done, total))
        return original(self, done, total, message, force=True)

    monkeypatch.setattr(job_services.JobContext, "progress", record)
    monkeypatch.setattr("backend.jobs.exports.PROGRESS_EVERY", 1)
    return seen


def _csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def _get(client, user, data, path, **query):
    return client.get(path, query_string=query, headers=data.world.headers(user))


def _file_of(client, user, data, answer) -> bytes:
    assert answer.status_code == 202, answer.get_json(silent=True)
    job = answer.json
    assert answer.headers["Location"] == f"/api/v1/jobs/{job['id']}"
    state = _get(client, user, data, f"/api/v1/jobs/{job['id']}").json
    assert state["status"] == "done", state
    got = _get(client, user, data, f"/api/v1/jobs/{job['id']}/file")
    assert got.status_code == 200 and "attachment" in got.headers["Content-Disposition"]
    return got.data


def test_the_list_behind_a_figure_at_once_or_as_a_job(client, data, factory, app, monkeypatch, progress):
    supervisor = factory.user(Role.SUPERVISOR)
    base = FIGURES + "/on_time_publication/items"
    items = _get(client, supervisor, data, base, period="2026-Q2", part="missing").json
    small = _get(client, supervisor, data, base + "/export", period="2026-Q2", part="missing", format="csv")
    assert small.status_code == 200 and "attachment" in small.headers["Content-Disposition"]
    rows = _csv_rows(small.data)
    assert rows[0][:3] == ["检查编号", "任务编号", "任务名称"]
    assert sorted(int(r[0]) for r in rows[1:]) == sorted(i["id"] for i in items["items"]) and items["total"] == 3
    # asked: a job, whose file holds the same rows and whose progress went 0 → each row → all
    asked = _get(client, supervisor, data, base + "/export", period="2026-Q2", part="missing", format="csv",
                 **{"async": 1})
    assert _csv_rows(_file_of(client, supervisor, data, asked)) == rows
    assert progress[0] == (0, 3) and progress[-1] == (3, 3) and [d for d, _ in progress] == sorted(d for d, _ in progress)
    assert len({d for d, _ in progress}) == 4
    # above the setting: a job without asking; XLSX too
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 2)
    big = _get(client, supervisor, data, base + "/export", period="2026-Q2", part="missing", format="xlsx")
    sheet = load_workbook(io.BytesIO(_file_of(client, supervisor, data, big))).active
    assert len(list(sheet.iter_rows(min_row=2))) == 3
    # what the figures refuse, the export refuses before any job
    outsider = factory.user(Role.DEPT_ADMIN, factory.department())
    refused = _get(client, outsider, data, base + "/export", period="2026-Q2",
                   department_id=data.world.field.lead_dept.id, **{"async": 1})
    assert refused.status_code == 403 and refused.json["code"] == "forbidden.department"
    no_items = _get(client, supervisor, data, FIGURES + "/risk_ratio/items/export", period="2026-Q2")
    assert no_items.status_code == 422 and no_items.json["code"] == "figures.no_items"


def test_only_its_maker_downloads_the_file_and_not_before_it_is_made(client, data, factory, db_session):
    from backend.jobs.models import Job

    supervisor = factory.user(Role.SUPERVISOR)
    answer = _get(client, supervisor, data, FIGURES + "/completion/items/export", period="2026-Q2",
                  **{"async": 1})
    job_id = answer.json["id"]
    other = _get(client, factory.user(Role.SUPERVISOR), data, f"/api/v1/jobs/{job_id}/file")
    assert other.status_code == 403 and other.json["code"] == "forbidden.owner"
    db_session.get(Job, job_id).status = "queued"
    db_session.flush()
    pending = _get(client, supervisor, data, f"/api/v1/jobs/{job_id}/file")
    assert pending.status_code == 409 and pending.json["code"] == "job.not_ready"
    selfcheck = client.post("/api/v1/jobs/selfcheck", json={}, headers=data.world.headers(factory.user(Role.SYSADMIN)))
    assert selfcheck.status_code == 202
    no_file = _get(client, factory.user(Role.SYSADMIN), data, f"/api/v1/jobs/{selfcheck.json['id']}/file")
    assert no_file.status_code == 404 and no_file.json["code"] == "job.no_file"


def test_the_followup_register_as_a_job(client, data, factory, db_session, app, monkeypatch):
    from backend.followups.models import Followup

    f = data.world.field
    for n in (0, 3):
        inspection = f.inspections[n]
        db_session.add(Followup(uid=str(uuid.uuid4()), inspection_id=inspection.id, task_id=inspection.task_id,
                                target_id=inspection.target_id, department_id=f.lead_dept.id,
                                lead_department_id=f.lead_dept.id, action="rectify", state="ordered",
                                due_on=dt.date(2026, 9, 1)))
    db_session.flush()
    admin = factory.user(Role.DEPT_ADMIN, f.lead_dept)
    small = _get(client, admin, data, "/api/v1/followups/register.xlsx")
    assert small.status_code == 200
    monkeypatch.setitem(app.config, "EXPORT_ASYNC_ROWS", 1)
    big = _get(client, admin, data, "/api/v1/followups/register.xlsx", due_before="2026-12-31")
    sheet = load_workbook(io.BytesIO(_file_of(client, admin, data, big))).active
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 3 and {r[3] for r in rows[1:]} == {f.inspections[0].target.name, f.inspections[3].target.name}
    refused = _get(client, admin, data, "/api/v1/followups/register.xlsx", department_id=f.other_dept.id,
                   **{"async": 1})
    assert refused.status_code == 403 and refused.json["code"] == "forbidden.department"


def test_the_abnormal_list_and_the_national_file_as_jobs(client, data, factory, db_session):
    f = data.world.field
    record = db_session.get(Record, f.inspections[3].id)
    record.data = {**record.data, "result_categories": ["unreachable"]}
    db_session.flush()
    admin = factory.user(Role.DEPT_ADMIN, f.lead_dept)
    small = _get(client, admin, data, "/api/v1/publication/abnormal/file", format="csv")
    assert small.status_code == 200
    asked = _get(client, admin, data, "/api/v1/publication/abnormal/file", format="csv", **{"async": 1})
    rows = _csv_rows(_file_of(client, admin, data, asked))
    assert rows == _csv_rows(small.data) and len(rows) == 2 and rows[1][1] == f.inspections[3].target.name
    # the national file: at once (and kept as an export), or as a job (kept too)
    today = dt.date.today()
    period = {"from": (today - dt.timedelta(days=1)).isoformat(), "to": (today + dt.timedelta(days=1)).isoformat()}
    now = _get(client, admin, data, "/api/v1/publication/exports/file", format="csv", **period)
    assert now.status_code == 200, now.get_json(silent=True)
    national = _csv_rows(now.data)
    assert national[0][0] == "公示编号" and len(national) == 1 + 4      # 3 results, one corrected: 4 versions
    job = _get(client, admin, data, "/api/v1/publication/exports/file", format="csv", **period, **{"async": 1})
    assert _csv_rows(_file_of(client, admin, data, job)) == national
    kept = _get(client, admin, data, "/api/v1/publication/exports").json["items"]
    assert [e["job_id"] for e in kept[:2]] == [job.json["id"], None] and {e["rows"] for e in kept[:2]} == {4}
    refused = _get(client, admin, data, "/api/v1/publication/exports/file", department_id=f.other_dept.id, **period)
    assert refused.status_code == 403 and refused.json["code"] == "forbidden.department"
    bad = _get(client, admin, data, "/api/v1/publication/exports/file", **{"from": "2026-05-02", "to": "2026-05-01"})
    assert bad.status_code == 422 and bad.json["code"] == "export.bad_period"
