"""Background jobs: inline by default, rq workers on real Redis with retries and a failed list."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid

from backend.auth.roles import Role
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, make_test_app
from tests.factories import Factory


def test_inline_job_reports_progress_and_result(client, auth):
    _, headers = auth.as_role(Role.SYSADMIN)
    r = client.post("/api/v1/jobs/selfcheck", json={"steps": 4}, headers=headers)
    assert r.status_code == 202, r.json
    job = client.get(f"/api/v1/jobs/{r.json['id']}", headers=headers).json
    assert job["status"] == "done" and job["progress_done"] == 4 and job["progress_total"] == 4
    assert job["progress_percent"] == 100 and job["result"] == {"steps": 4, "attempt": 1}


def test_inline_job_retries_then_fails_and_is_listed(client, auth):
    _, headers = auth.as_role(Role.SYSADMIN)
    ok = client.post("/api/v1/jobs/selfcheck", json={"fail_times": 1, "max_attempts": 2}, headers=headers).json
    bad = client.post("/api/v1/jobs/selfcheck", json={"fail_times": 3, "max_attempts": 2}, headers=headers).json
    ok = client.get(f"/api/v1/jobs/{ok['id']}", headers=headers).json
    assert ok["status"] == "done" and ok["attempts"] == 2
    bad = client.get(f"/api/v1/jobs/{bad['id']}", headers=headers).json
    assert bad["status"] == "failed" and bad["attempts"] == 2 and bad["error_code"] == "job.selfcheck_failed"
    failed = client.get("/api/v1/jobs?status=failed", headers=headers).json
    assert bad["id"] in [j["id"] for j in failed["items"]]


def test_jobs_are_private_to_their_creator(client, auth, factory):
    from backend.jobs.models import Job

    admin_user, admin = auth.as_role(Role.SYSADMIN)
    done = client.post("/api/v1/jobs/selfcheck", json={}, headers=admin).json
    failed = client.post("/api/v1/jobs/selfcheck", json={"fail_times": 3, "max_attempts": 1}, headers=admin).json
    assert [client.get(f"/api/v1/jobs/{j['id']}", headers=admin).json["status"] for j in (done, failed)] \
        == ["done", "failed"]
    dept = factory.department()
    planner_user, planner = auth.as_role(Role.PLANNER, dept)
    other_user, _ = auth.as_role(Role.PLANNER, dept)
    own = {status: factory._add(Job(id=uuid.uuid4().hex, name="directory.export", status=status, params={},
                                    created_by=planner_user.id)).id for status in ("done", "failed")}
    others = factory._add(Job(id=uuid.uuid4().hex, name="directory.export", status="failed", params={},
                              created_by=other_user.id)).id

    r = client.get(f"/api/v1/jobs/{done['id']}", headers=planner)
    assert r.status_code == 403 and r.json["code"] == "forbidden.owner"
    assert client.get(f"/api/v1/jobs/{others}", headers=planner).status_code == 403
    assert client.get(f"/api/v1/jobs/{own['failed']}", headers=planner).json["id"] == own["failed"]
    assert client.get(f"/api/v1/jobs/{others}", headers=admin).json["id"] == others
    assert client.post("/api/v1/jobs/selfcheck", json={}, headers=planner).status_code == 403
    ids = lambda query, headers: [j["id"] for j in client.get(f"/api/v1/jobs{query}",  # noqa: E731
                                                              headers=headers).json["items"]]
    # a user lists their own jobs, and only those; the system admin lists everyone's
    assert sorted(ids("", planner)) == sorted(own.values())
    assert ids("?status=failed", planner) == [own["failed"]]
    assert {done["id"], failed["id"], own["done"], own["failed"], others} <= set(ids("?page_size=200", admin))
    assert {failed["id"], own["failed"], others} <= set(ids("?status=failed&page_size=200", admin))
    assert done["id"] not in ids("?status=failed&page_size=200", admin)


def test_rq_worker_runs_jobs_with_retries_on_real_redis(committed_db, redis_url, tmp_path):
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    app = make_test_app(committed_db, tmp_path, REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    assert app.extensions["shuangsui.jobs"].backend == "rq"
    with committed_db.session_scope() as session:
        admin = Factory(session).user(Role.SYSADMIN)
    from tests.factories import AuthActions

    headers = AuthActions(app, None).headers(admin)
    client = app.test_client()
    flaky = client.post("/api/v1/jobs/selfcheck", json={"fail_times": 1, "max_attempts": 3}, headers=headers).json
    broken = client.post("/api/v1/jobs/selfcheck", json={"fail_times": 5, "max_attempts": 2}, headers=headers).json
    assert flaky["status"] == "queued" and flaky["backend"] == "rq"

    env = {**os.environ, "DATABASE_URL": committed_db.url, "REDIS_URL": redis_url, "RQ_QUEUE": queue_name,
           "SECRET_KEY": TEST_SECRET, "AUDIT_KEY": TEST_AUDIT_KEY, "MEDIA_DIR": str(tmp_path / "media")}
    worker = subprocess.run([sys.executable, "-m", "backend.cli", "jobs", "worker", "--burst"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr[-3000:]

    flaky = client.get(f"/api/v1/jobs/{flaky['id']}", headers=headers).json
    assert flaky["status"] == "done" and flaky["attempts"] == 2, worker.stderr[-6000:]
    broken = client.get(f"/api/v1/jobs/{broken['id']}", headers=headers).json
    assert broken["status"] == "failed" and broken["attempts"] == 2, broken
    failed = client.get("/api/v1/jobs?status=failed", headers=headers).json["items"]
    assert [j["id"] for j in failed] == [broken["id"]]

    from rq.registry import FailedJobRegistry

    queue = app.extensions["shuangsui.jobs"].queue
    assert f"ss-{broken['id']}" in FailedJobRegistry(queue=queue).get_job_ids()
    queue.delete(delete_jobs=True)
