"""Export files are kept EXPORT_RETENTION_DAYS: then the daily clean-up marks the job expired and removes the
file (unless something else names the same bytes); the download answers 410 ``export.expired``."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.db import utcnow
from backend.jobs.models import Job
from backend.media import storage
from backend.media.models import Media
from backend.publication.models import PublicationExport
from tests.api.directory_io.helpers import age_job as _age, cleanup as _cleanup, finished_job
from tests.api.directory_io.test_io_exports import _make_lists


@pytest.fixture()
def media_dir(app):
    return app.config["MEDIA_DIR"]


def _export(client, headers) -> dict:
    job = finished_job(client, headers, client.post("/api/v1/exports/targets?format=csv", headers=headers))
    assert job["status"] == "done", job
    return job


def test_an_old_export_is_expired_its_file_removed_and_its_download_refused(app, client, db_session, world,
                                                                           factory, auth, media_dir):
    _make_lists(factory, world)
    _planner, headers = auth.as_role(Role.PLANNER, world.dept)
    old = _export(client, headers)
    sha = old["result"]["sha256"]
    assert storage.exists(media_dir, sha)
    _age(db_session, old["id"], 31)

    counts = _cleanup(app, db_session)

    assert counts["exports_expired"] == 1 and counts["export_files_deleted"] == 1
    assert counts["export_bytes_freed"] == old["result"]["size"] and counts["export_retention_days"] == 30
    assert not storage.exists(media_dir, sha)
    row = db_session.get(Job, old["id"])
    assert row.status == "done" and row.result["expired_at"] and row.result["sha256"] == sha
    for url in (f"/api/v1/exports/files/{old['id']}", f"/api/v1/jobs/{old['id']}/file"):
        r = client.get(url, headers=headers)
        assert r.status_code == 410 and r.json["code"] == "export.expired", r.json
        assert "保留期限" in r.json["message"] and r.json["details"]["file_name"] == old["result"]["file_name"]
    shown = client.get(f"/api/v1/jobs/{old['id']}", headers=headers).json
    assert shown["status"] == "done" and shown["result"]["expired_at"]
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "media.cleanup")).one()
    assert entry.detail["exports_expired"] == 1 and entry.detail["export_files_deleted"] == 1
    # the next run finds nothing more to do
    assert _cleanup(app, db_session)["exports_expired"] == 0


def test_a_recent_export_and_the_same_bytes_named_elsewhere_are_kept(app, client, db_session, world, factory,
                                                                     auth, media_dir):
    _make_lists(factory, world)
    _planner, headers = auth.as_role(Role.PLANNER, world.dept)
    old, recent = _export(client, headers), _export(client, headers)
    sha = old["result"]["sha256"]
    assert recent["result"]["sha256"] == sha          # the same rows: the same bytes, stored once
    _age(db_session, old["id"], 40)
    _age(db_session, recent["id"], 29)

    counts = _cleanup(app, db_session)
    assert counts["exports_expired"] == 1 and counts["export_files_deleted"] == 0
    assert storage.exists(media_dir, sha)
    assert client.get(f"/api/v1/exports/files/{recent['id']}", headers=headers).status_code == 200
    assert client.get(f"/api/v1/exports/files/{old['id']}", headers=headers).status_code == 410

    # the recent one expires too, but a kept national-publicity export (or a media row) names the bytes
    _age(db_session, recent["id"], 31)
    db_session.add(PublicationExport(department_id=None, period_from=dt.date(2026, 1, 1),
                                     period_to=dt.date(2026, 1, 31), format="csv", rows=0, sha256=sha, size=1,
                                     file_name="x.csv", source="cli"))
    db_session.flush()
    counts = _cleanup(app, db_session)
    assert counts["exports_expired"] == 1 and counts["export_files_deleted"] == 0 and storage.exists(media_dir, sha)
    db_session.execute(update(PublicationExport).where(PublicationExport.sha256 == sha).values(sha256="0" * 64))
    db_session.add(Media(sha256=sha, kind="pdf", media_type="text/csv", size=1, status="ready",
                         touched_at=utcnow() + dt.timedelta(days=30)))
    db_session.flush()
    _age(db_session, recent["id"], 31)
    db_session.execute(update(Job).where(Job.id == recent["id"])
                       .values(result={**recent["result"]}))           # expired again, to be judged again
    db_session.flush()
    assert _cleanup(app, db_session)["export_files_deleted"] == 0 and storage.exists(media_dir, sha)


def test_retention_zero_keeps_exports(app, client, db_session, world, factory, auth, media_dir):
    _make_lists(factory, world)
    _planner, headers = auth.as_role(Role.PLANNER, world.dept)
    old = _export(client, headers)
    _age(db_session, old["id"], 400)
    counts = _cleanup(app, db_session, EXPORT_RETENTION_DAYS=0)
    assert counts["exports_expired"] == 0 and counts["export_retention_days"] == 0
    assert storage.exists(media_dir, old["result"]["sha256"])
    assert client.get(f"/api/v1/exports/files/{old['id']}", headers=headers).status_code == 200


def test_the_cleanup_command_reports_the_exports(app, client, db_session, world, factory, auth):
    _make_lists(factory, world)
    _planner, headers = auth.as_role(Role.PLANNER, world.dept)
    _age(db_session, _export(client, headers)["id"], 31)
    result = app.test_cli_runner().invoke(args=["media", "cleanup"])
    assert result.exit_code == 0, result.output
    assert "过期导出 1 个，删除导出文件 1 个，过期名录导入 0 个，删除导入文件 0 个（保留 30 天）" in result.output
