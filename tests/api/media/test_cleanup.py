"""The scheduled clean-up: unreferenced files after the grace period, expired upload sessions; referenced stay."""
from __future__ import annotations

import datetime as dt
import os
import time

from sqlalchemy import select, update

from backend.actor import Actor
from backend.audit.models import AuditEntry
from backend.db import utcnow
from backend.media import services, storage
from backend.media.models import Media, Upload
from tests.api.media import files
from tests.api.media.test_media_access import _drawn


def _row(db_session, sha):
    return db_session.scalar(select(Media).where(Media.sha256 == sha))


def _settings(app):
    return services.MediaSettings.from_config(app.config)


def test_cleanup_deletes_orphans_after_the_grace_period_and_keeps_the_rest(app, uploader, media_dir, db_session,
                                                                        factory, auth):
    _, inspection, _ = _drawn(factory, auth, db_session)
    # the orphan carries EXIF: its public copy is not the original itself, three files to delete
    orphan = files.photo(320, 240, seed=51, exif=files.camera_exif(orientation=1))
    kept, recent = (files.photo(320, 240, seed=s) for s in (52, 53))
    for data in (orphan, kept, recent):
        assert uploader.upload(data).status_code == 200
    uploader.derive(files.sha(orphan))     # its copies are made when first asked for
    orphan_row = db_session.get(Media, files.sha(orphan))
    derived = [orphan_row.thumb_sha256, orphan_row.public_sha256]
    services.add_references(db_session, [files.sha(kept)], inspection.id, Actor.system())
    later = utcnow() + dt.timedelta(days=8)
    db_session.execute(update(Media).where(Media.sha256 == files.sha(recent))
                       .values(touched_at=later - dt.timedelta(days=2)))  # uploaded again two days "ago"
    # an expired session with its bytes, and a live one
    expired = uploader.create(files.photo(64, 48, seed=54))
    uploader.patch(expired.headers["Location"], 0, b"\xff\xd8partial")
    live = uploader.create(files.photo(64, 48, seed=55))
    db_session.execute(update(Upload).where(Upload.id == live.json["id"])
                       .values(expires_at=later + dt.timedelta(hours=1)))

    counts = services.cleanup(db_session, _settings(app), Actor.system(), now=later)

    assert counts["media_deleted"] == 1 and counts["files_deleted"] == 3 and counts["uploads_expired"] == 1
    assert counts["bytes_freed"] > len(orphan)
    assert _row(db_session, files.sha(orphan)) is None
    assert not any(storage.exists(media_dir, s) for s in [files.sha(orphan), *derived])
    for data in (kept, recent):
        assert _row(db_session, files.sha(data)) is not None and storage.exists(media_dir, files.sha(data))
    assert db_session.scalar(select(Upload).where(Upload.id == expired.json["id"])) is None
    assert not (_settings(app).uploads_dir / expired.json["id"]).exists()
    assert db_session.get(Upload, live.json["id"]) is not None
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "media.cleanup")).one()
    assert entry.detail["media_deleted"] == 1 and entry.detail["uploads_expired"] == 1


def test_a_derived_copy_shared_with_another_file_is_kept(app, uploader, media_dir, db_session):
    data = files.photo(320, 240, seed=56, exif=files.camera_exif(orientation=1))
    uploader.upload(data)
    uploader.derive(files.sha(data))
    row = db_session.get(Media, files.sha(data))
    twin = Media(sha256="9" * 64, kind="photo", media_type="image/jpeg", size=1, status="ready",
                 thumb_sha256=row.thumb_sha256, public_sha256=None, touched_at=utcnow() + dt.timedelta(days=30))
    db_session.add(twin)
    db_session.flush()
    services.cleanup(db_session, _settings(app), Actor.system(), now=utcnow() + dt.timedelta(days=8))
    assert _row(db_session, files.sha(data)) is None and not storage.exists(media_dir, files.sha(data))
    assert storage.exists(media_dir, row.thumb_sha256) and not storage.exists(media_dir, row.public_sha256)


def test_stray_part_files_left_by_a_crash_are_removed_once_old(app, db_session):
    settings = _settings(app)
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    stray, fresh = settings.uploads_dir / ("0" * 32), settings.uploads_dir / ("1" * 32)
    stray.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - 4 * 24 * 3600
    os.utime(stray, (old, old))
    counts = services.cleanup(db_session, settings, Actor.system())
    assert counts["stray_files_deleted"] == 1 and not stray.exists() and fresh.exists()
    fresh.unlink()


def test_the_cleanup_command(app, uploader, db_session):
    data = files.photo(64, 48, seed=57)
    uploader.upload(data)
    result = app.test_cli_runner().invoke(args=["media", "cleanup", "--grace-days", "0"])
    assert result.exit_code == 0, result.output
    assert "文件记录 1 个" in result.output and "宽限期 0 天" in result.output
    assert _row(db_session, files.sha(data)) is None
