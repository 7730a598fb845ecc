"""The store is shared: every deletion of the clean-up asks one question, who else names these bytes
(``backend.media.holders``), and a writer whose bytes a clean-up removes meanwhile puts them back."""
from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from backend.auth.roles import Role
from backend.db import utcnow
from backend.inspections.models import OutboxImport
from backend.jobs import exports as job_exports
from backend.jobs import retention
from backend.jobs.models import Job
from backend.media import holders, storage
from backend.media.models import Media
from backend.publication.models import PublicationExport
from tests.api.directory_io.helpers import age_job, cleanup, csv_bytes, finished_job, upload
from tests.api.directory_io.test_io_exports import _make_lists
from tests.api.directory_io.test_io_imports import TARGET_HEADER, target_rows, usccs


@pytest.fixture()
def media_dir(app):
    return app.config["MEDIA_DIR"]


def _job(db_session, name: str, *, sha: str | None = None, status: str = "done", days: float = 1,
         result: dict | None = None, params: dict | None = None) -> Job:
    job = Job(id=uuid.uuid4().hex, name=name, status=status, params=params or {},
              result=result if result is not None else ({"sha256": sha, "file_name": "x.csv"} if sha else None),
              finished_at=None if status in ("queued", "running") else utcnow() - dt.timedelta(days=days))
    db_session.add(job)
    db_session.flush()
    return job


def _orphan(db_session, media_dir, data: bytes) -> str:
    """A stored file whose ``media`` row nothing references, untouched for 30 days: the clean-up deletes the row."""
    sha = storage.get(media_dir).put_bytes(data)
    db_session.add(Media(sha256=sha, kind="pdf", media_type="application/pdf", size=len(data), status="ready",
                         touched_at=utcnow() - dt.timedelta(days=30)))
    db_session.flush()
    return sha


def _apart(app) -> dict:
    """The clean-up in a session of its own (a run of the daily job while a request or a job is under way)."""
    session = app.config["DATABASE"].session()
    try:
        return cleanup(app, session)
    finally:
        session.close()


HOLDERS = {
    "a recent export": lambda s, sha, w: _job(s, "export.file", sha=sha),
    "a running export that named its file": lambda s, sha, w: _job(s, "directory.export", sha=sha, status="running"),
    "a list import's upload": lambda s, sha, w: _job(s, "directory.import", params={"sha256": sha}),
    "a list import running again after it expired": lambda s, sha, w: _job(
        s, "directory.import", status="queued", params={"sha256": sha}, result={"expired_at": "2026-01-01"}),
    "a kept national-publicity export": lambda s, sha, w: s.add(PublicationExport(
        department_id=None, period_from=dt.date(2026, 1, 1), period_to=dt.date(2026, 1, 31), format="csv", rows=0,
        sha256=sha, size=1, file_name="x.csv", source="cli")),
    "an outbox upload waiting for its confirmation": lambda s, sha, w: s.add(OutboxImport(
        status="previewed", file_name="x.json", file_sha256=sha, file_size=1, client_id=str(uuid.uuid4()),
        officer_id=w.dept_admin.id, preview={}, created_by_label="x")),
}
NOT_HOLDERS = {
    "an expired export": lambda s, sha, w: _job(s, "export.file", sha=sha, days=40,
                                                  result={"sha256": sha, "expired_at": "2026-01-01"}),
    "an outbox upload imported": lambda s, sha, w: s.add(OutboxImport(
        status="imported", file_name="x.json", file_sha256=sha, file_size=1, client_id=str(uuid.uuid4()),
        officer_id=w.dept_admin.id, preview={}, created_by_label="x")),
    "a job of another kind": lambda s, sha, w: _job(s, "media.process", params={"sha256": sha},
                                                      result={"sha256": sha}),
}


@pytest.mark.parametrize("holder", sorted(HOLDERS))
def test_an_orphan_s_file_named_by_something_else_is_kept(app, db_session, world, media_dir, holder):
    """The media pass deletes the unreferenced row, but the same bytes are an export, an upload…: they stay."""
    sha = _orphan(db_session, media_dir, f"the same bytes: {holder}".encode())
    HOLDERS[holder](db_session, sha, world)
    db_session.flush()

    counts = cleanup(app, db_session)

    assert counts["media_deleted"] == 1 and counts["files_deleted"] == 0
    assert db_session.get(Media, sha) is None and storage.exists(media_dir, sha)


@pytest.mark.parametrize("other", sorted(NOT_HOLDERS))
def test_an_orphan_s_file_named_only_by_what_no_longer_needs_it_goes(app, db_session, world, media_dir, other):
    sha = _orphan(db_session, media_dir, f"the same bytes: {other}".encode())
    NOT_HOLDERS[other](db_session, sha, world)
    db_session.flush()

    counts = cleanup(app, db_session)

    assert counts["media_deleted"] == 1 and counts["files_deleted"] == 1 and not storage.exists(media_dir, sha)


def test_an_expiring_export_or_outbox_upload_whose_bytes_something_else_names_is_kept(app, db_session, world,
                                                                                        media_dir):
    """The retention's and the import desk's deletions ask the same question as the media pass: an outbox upload
    left unconfirmed (cancelled by the run) whose bytes a recent export names, an old export whose bytes a
    waiting outbox upload names. (Before: the import desk asked only about other outbox uploads.)"""
    store = storage.get(media_dir)

    def stale_upload(sha: str) -> OutboxImport:
        row = OutboxImport(status="previewed", file_name="y.json", file_sha256=sha, file_size=1, client_id="c",
                           officer_id=world.dept_admin.id, preview={}, created_by_label="x",
                           created_at=utcnow() - dt.timedelta(days=3))
        db_session.add(row)
        return row

    shared_with_export = store.put_bytes(b"an outbox upload that is also a recent export")
    _job(db_session, "export.file", sha=shared_with_export, days=2)
    stale = stale_upload(shared_with_export)
    shared_with_upload = store.put_bytes(b"an old export that is also a waiting outbox upload")
    _job(db_session, "export.file", sha=shared_with_upload, days=40)
    HOLDERS["an outbox upload waiting for its confirmation"](db_session, shared_with_upload, world)
    db_session.flush()

    counts = cleanup(app, db_session)

    assert counts["outbox_imports_expired"] == 1 and db_session.get(OutboxImport, stale.id).status == "cancelled"
    assert counts["exports_expired"] == 1 and counts["export_files_deleted"] == 0
    assert store.exists(shared_with_export) and store.exists(shared_with_upload)


def test_an_export_finishing_while_a_clean_up_removes_the_same_bytes_keeps_its_file(app, client, db_session, world,
                                                                                    factory, auth, media_dir,
                                                                                    monkeypatch):
    """An old export expires while a new one with the same rows ends: the clean-up runs after the new job has
    stored its file and before its result is recorded (its last progress report). The job named the file on its
    row in the transaction that stored it, so the clean-up keeps it. (Before: removed, the download 404.)"""
    from backend.jobs.services import JobContext

    _make_lists(factory, world)
    _planner, headers = auth.as_role(Role.PLANNER, world.dept)
    old = finished_job(client, headers, client.post("/api/v1/exports/targets?format=csv", headers=headers))
    sha = old["result"]["sha256"]
    age_job(db_session, old["id"], 31)
    ran = []
    progress = JobContext.progress

    def clean_up_at_the_end(self, done, total=None, message=None, **kwargs):
        if message and message.startswith("导出完成") and not ran:
            ran.append(_apart(app))
        return progress(self, done, total, message, **kwargs)

    monkeypatch.setattr(JobContext, "progress", clean_up_at_the_end)
    new = finished_job(client, headers, client.post("/api/v1/exports/targets?format=csv", headers=headers))

    assert ran and ran[0]["exports_expired"] == 1 and ran[0]["export_files_deleted"] == 0
    assert new["status"] == "done" and new["result"]["sha256"] == sha and storage.exists(media_dir, sha)
    assert client.get(f"/api/v1/exports/files/{new['id']}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/exports/files/{old['id']}", headers=headers).status_code == 410


def test_a_clean_up_between_an_export_s_writing_and_its_storing_loses_nothing(app, client, db_session, world,
                                                                               factory, auth, media_dir,
                                                                               monkeypatch):
    """Earlier in the same job: written and hashed, not yet stored nor named. The clean-up removes the old
    export's file (nothing names it), then the job stores the bytes again, naming them."""
    _make_lists(factory, world)
    _planner, headers = auth.as_role(Role.PLANNER, world.dept)
    old = finished_job(client, headers, client.post("/api/v1/exports/targets?format=csv", headers=headers))
    age_job(db_session, old["id"], 31)
    ran = []
    keep = job_exports.Spooled.keep

    def clean_up_first(self, session, job_id=None):
        if not ran:
            ran.append(_apart(app))
        return keep(self, session, job_id)

    monkeypatch.setattr(job_exports.Spooled, "keep", clean_up_first)
    new = finished_job(client, headers, client.post("/api/v1/exports/targets?format=csv", headers=headers))

    assert ran and ran[0]["export_files_deleted"] == 1
    assert new["status"] == "done" and storage.exists(media_dir, new["result"]["sha256"])
    assert client.get(f"/api/v1/exports/files/{new['id']}", headers=headers).status_code == 200


def test_a_list_import_uploaded_while_a_clean_up_removes_the_same_bytes_reads_its_file(app, client, db_session,
                                                                                      world, monkeypatch):
    """The same for an upload: the clean-up runs while the upload is checked, before the job naming it is
    recorded; the bytes are stored with the job, and the import reads them (before: import.file_missing)."""
    from backend.directory import io_routes

    data = csv_bytes([TARGET_HEADER, *target_rows(usccs(2), world.dept.code)])
    old = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data,
                                                           dry_run=True))
    assert old["status"] == "done", old
    age_job(db_session, old["id"], 31)
    ran = []
    precheck = io_routes.readers.precheck

    def clean_up_first(*args, **kwargs):
        if not ran:
            ran.append(_apart(app))
        return precheck(*args, **kwargs)

    monkeypatch.setattr(io_routes.readers, "precheck", clean_up_first)
    new = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data,
                                                           dry_run=True))

    assert ran and ran[0]["imports_expired"] == 1 and ran[0]["import_files_deleted"] == 1
    assert new["status"] == "done", new


def test_expired_jobs_are_read_a_page_at_a_time_and_only_those_to_expire(app, db_session, world, media_dir,
                                                                         monkeypatch):
    """A year of jobs is never loaded at once: the pages hold only the kind's jobs finished before the cutoff
    and not yet expired, PAGE at most; each page's files go before the next is read."""
    monkeypatch.setattr(retention, "PAGE", 2)
    store = storage.get(media_dir)
    old = [_job(db_session, "export.file", sha=store.put_bytes(b"old %d" % i), days=31 + i) for i in range(5)]
    _job(db_session, "export.file", sha=store.put_bytes(b"recent"), days=3)
    _job(db_session, "export.file", sha=store.put_bytes(b"gone"), days=90,
         result={"sha256": "0" * 64, "expired_at": "2026-01-01"})
    _job(db_session, "export.file", status="failed", days=90)
    _job(db_session, "media.process", params={"sha256": "1" * 64}, days=90)
    pages = []
    expiring = retention._expiring

    def seen(session, kind, cutoff, after):
        rows = expiring(session, kind, cutoff, after)
        pages.append((kind.key, [r.id for r in rows], sum(store.exists(kind.file_of(r)) for r in old if r in rows)))
        return rows

    monkeypatch.setattr(retention, "_expiring", seen)
    counts = cleanup(app, db_session)

    assert counts["exports_expired"] == 5 and counts["export_files_deleted"] == 5 and counts["imports_expired"] == 0
    by_age = [j.id for j in sorted(old, key=lambda j: j.finished_at)]
    assert pages == [("export", by_age[:2], 2), ("export", by_age[2:4], 2), ("export", by_age[4:], 1),
                     ("import", [], 0)]
    assert all(db_session.get(Job, j.id).result["expired_at"] for j in old)
    assert cleanup(app, db_session)["exports_expired"] == 0


def test_the_holders_answer_for_hashes_in_any_number(app, db_session, world, media_dir):
    """``named`` reads in chunks: more hashes than one ``IN`` list holds."""
    shas = [f"{i:064x}" for i in range(1200)]
    _job(db_session, "export.file", sha=shas[0])
    _job(db_session, "directory.import", params={"sha256": shas[1100]})
    assert holders.named(db_session, shas) == {shas[0], shas[1100]}
    assert db_session.scalar(select(Job.id).limit(1)) is not None
