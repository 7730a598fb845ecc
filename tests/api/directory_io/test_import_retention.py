"""A list import's uploaded file is kept EXPORT_RETENTION_DAYS as an export's is (the same code,
backend/jobs/retention.py): then the daily clean-up marks the job expired and removes the file unless something
else names the same bytes; the import's result (its counts, its bad rows) stays readable, and the job's file
answers 410 ``import.expired``."""
from __future__ import annotations

import datetime as dt
import hashlib
import uuid

from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.db import utcnow
from backend.jobs.models import Job
from backend.media import storage
from tests.api.directory_io.helpers import age_job as _age, cleanup as _cleanup, csv_bytes, finished_job, upload
from tests.api.directory_io.test_io_imports import TARGET_HEADER, target_rows, usccs


def _import(client, world, data: bytes, name: str = "检查对象.csv", **form) -> dict:
    return finished_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data, name,
                                                            **form))


def test_old_imports_lose_their_upload_keep_their_report_and_the_file_answers_410(app, client, db_session, world):
    media_dir = app.config["MEDIA_DIR"]
    good = csv_bytes([TARGET_HEADER, *target_rows(usccs(2), world.dept.code)])
    rows = target_rows(usccs(2, seed=9), world.dept.code)
    rows[1][0] = "91411203XXXXXXXXXX"
    bad = csv_bytes([TARGET_HEADER, *rows])
    done, failed = _import(client, world, good), _import(client, world, bad, "有误.csv")
    assert done["status"] == "done" and failed["status"] == "failed", (done, failed)
    sha_good, sha_bad = hashlib.sha256(good).hexdigest(), hashlib.sha256(bad).hexdigest()
    fresh = client.get(f"/api/v1/jobs/{done['id']}/file", headers=world.admin_headers)
    assert fresh.status_code == 200 and fresh.data == good          # the uploaded file, within the period
    _age(db_session, done["id"], 31)
    _age(db_session, failed["id"], 31)

    counts = _cleanup(app, db_session)

    assert counts["imports_expired"] == 2 and counts["import_files_deleted"] == 2
    assert counts["import_bytes_freed"] == len(good) + len(bad) and counts["exports_expired"] == 0
    assert not storage.exists(media_dir, sha_good) and not storage.exists(media_dir, sha_bad)
    shown = client.get(f"/api/v1/jobs/{done['id']}", headers=world.admin_headers).json
    assert shown["status"] == "done" and shown["result"]["expired_at"]
    assert (shown["result"]["rows"], shown["result"]["created"]) == (2, 2)      # the report stays
    shown = client.get(f"/api/v1/jobs/{failed['id']}", headers=world.admin_headers).json
    assert shown["status"] == "failed" and shown["error_code"] == "import.bad_rows" and shown["result"]["expired_at"]
    assert shown["result"]["errors"][0]["row"] == 3                             # the bad rows stay
    gone = client.get(f"/api/v1/jobs/{done['id']}/file", headers=world.admin_headers)
    assert gone.status_code == 410 and gone.json["code"] == "import.expired", gone.json
    assert "保留期限" in gone.json["message"] and gone.json["details"]["file_name"] == "检查对象.csv"
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "media.cleanup")).one()
    assert entry.detail["imports_expired"] == 2 and entry.detail["import_files_deleted"] == 2
    assert _cleanup(app, db_session)["imports_expired"] == 0                   # nothing more to do

    # a system admin retrying the old failed import: the job says the file is gone, nothing breaks
    retried = client.post(f"/api/v1/jobs/{failed['id']}/retry", headers=world.admin_headers)
    assert retried.status_code == 202, retried.json
    again = client.get(f"/api/v1/jobs/{failed['id']}", headers=world.admin_headers).json
    assert again["status"] == "failed" and again["error_code"] == "import.file_missing", again


def test_an_upload_still_named_elsewhere_is_kept(app, client, db_session, world):
    media_dir = app.config["MEDIA_DIR"]
    data = csv_bytes([TARGET_HEADER, *target_rows(usccs(2), world.dept.code)])
    sha = hashlib.sha256(data).hexdigest()
    old, recent = _import(client, world, data, dry_run=True), _import(client, world, data, dry_run=True)
    _age(db_session, old["id"], 40)
    _age(db_session, recent["id"], 29)

    counts = _cleanup(app, db_session)
    assert counts["imports_expired"] == 1 and counts["import_files_deleted"] == 0 and storage.exists(media_dir, sha)

    # the recent one expires too, but an import not yet run (queued, or retried) names the same upload
    _age(db_session, recent["id"], 31)
    pending = Job(id=uuid.uuid4().hex, name="directory.import", status="queued",
                  params={"kind": "targets", "sha256": sha, "file_name": "检查对象.csv", "format": "csv"},
                  result={"expired_at": "2026-01-01T00:00:00+00:00"})     # a retried import keeps its old result
    db_session.add(pending)
    db_session.flush()
    counts = _cleanup(app, db_session)
    assert counts["imports_expired"] == 1 and counts["import_files_deleted"] == 0 and storage.exists(media_dir, sha)

    # an export job within the period naming the same bytes keeps them as well (one store, one helper)
    pending.status, pending.finished_at = "failed", utcnow() - dt.timedelta(days=60)
    db_session.add(Job(id=uuid.uuid4().hex, name="directory.export", status="done", params={},
                       result={"sha256": sha, "file_name": "x.csv"}, finished_at=utcnow()))
    db_session.flush()
    assert _cleanup(app, db_session)["import_files_deleted"] == 0 and storage.exists(media_dir, sha)


def test_retention_zero_keeps_uploads(app, client, db_session, world):
    data = csv_bytes([TARGET_HEADER, *target_rows(usccs(1), world.dept.code)])
    job = _import(client, world, data)
    _age(db_session, job["id"], 400)
    counts = _cleanup(app, db_session, EXPORT_RETENTION_DAYS=0)
    assert counts["imports_expired"] == 0 and storage.exists(app.config["MEDIA_DIR"], hashlib.sha256(data).hexdigest())
    assert client.get(f"/api/v1/jobs/{job['id']}/file", headers=world.admin_headers).status_code == 200
