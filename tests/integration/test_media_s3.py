"""Photos with ``MEDIA_STORAGE=s3``, end to end on SQLite and PostgreSQL: a resumable upload (cut, then
resumed), the whole-file POST, processing (in the app, and by an rq worker in another process with a folder
of its own: nothing shared but the database, Redis and the bucket), serving (ranges, 304) and the clean-up,
against a real S3-compatible server on loopback."""
from __future__ import annotations

import datetime as dt
import io
import os
import subprocess
import sys
import uuid

from PIL import Image
from sqlalchemy import update

from backend.actor import Actor
from backend.db import utcnow
from backend.media import services, storage
from backend.media.models import Media
from tests.api.directory_io.conftest import world  # noqa: F401 - the lists' fixture
from tests.api.media import files
from tests.api.media.conftest import OCTETS, Uploader
from tests.conftest import TEST_SECRET, make_test_app
from tests.factories import AuthActions
from tests.integration.test_media_uploads import _on_duty
from tests.s3server import s3_server  # noqa: F401 - the session's S3 server


def _key(sha: str) -> str:
    return f"shuangsui/{sha[:2]}/{sha[2:4]}/{sha}"


def _stored_locally(media_dir) -> list[str]:
    """Files under MEDIA_DIR other than unfinished uploads and temporary files."""
    out = []
    for root, _dirs, names in os.walk(media_dir):
        rel = os.path.relpath(root, media_dir)
        if rel.split(os.sep)[0] in ("uploads", "tmp"):
            continue
        out += [os.path.join(rel, n) for n in names]
    return out


def test_a_photo_goes_to_s3_and_back_resumed_processed_served_and_cleaned_up(committed_db, tmp_path,
                                                                             s3_server):  # noqa: F811
    bucket = s3_server.new_bucket()
    app = make_test_app(committed_db, tmp_path, **s3_server.settings(bucket, prefix="shuangsui/"))
    media_dir = app.config["MEDIA_DIR"]
    assert storage.get(media_dir).kind == "s3"
    officer = _on_duty(app, committed_db)
    up = Uploader(app.test_client(), AuthActions(app, None).headers(officer))
    data = files.photo(seed=71, exif=files.camera_exif(orientation=6))     # 1920 × 1440, about 200 KB
    sha = files.sha(data)

    # resumable: a session, a first chunk, a body cut short (its bytes kept), the rest after HEAD
    r = up.create(data)
    assert r.status_code == 201, r.json
    location = r.headers["Location"]
    assert up.patch(location, 0, data[:50_000]).status_code == 204
    cut = up.client.patch(location, input_stream=io.BytesIO(data[50_000:90_000]),    # the connection drops
                          headers={**up.headers, "Upload-Offset": "50000", "Content-Type": OCTETS},
                          environ_overrides={"CONTENT_LENGTH": str(len(data) - 50_000)})
    assert cut.status_code == 400 and cut.json["code"] == "upload.incomplete_chunk", cut.json
    offset = up.offset(location)
    assert offset == 90_000 and not s3_server.objects(bucket)      # nothing stored before the last byte
    done = up.patch(location, offset, data[offset:])
    assert done.status_code == 200 and done.json["complete"] is True, done.json

    with committed_db.session_scope() as session:
        media = services.info(session, sha)
        assert media.status == "ready" and media.orientation_fixed is True
        thumb, public = media.thumb_sha256, media.public_sha256
    objects = s3_server.objects(bucket)
    assert objects[_key(sha)] == len(data) and set(objects) == {_key(sha), _key(thumb), _key(public)}
    assert _stored_locally(media_dir) == []                          # nothing kept on this machine's disk

    client, headers = up.client, up.headers
    original = client.get(f"/api/media/{sha}", headers=headers)
    assert original.status_code == 200 and original.data == data
    assert original.headers["ETag"] == f'"{sha}"' and original.headers["Content-Length"] == str(len(data))
    assert original.headers["Cache-Control"] == "private, max-age=31536000, immutable"
    part = client.get(f"/api/media/{sha}", headers={**headers, "Range": "bytes=1000-1999"})
    assert part.status_code == 206 and part.data == data[1000:2000]
    assert part.headers["Content-Range"] == f"bytes 1000-1999/{len(data)}"
    # behind gunicorn (a file wrapper that cannot seek) a range is still read from its first byte, not the object's
    s3 = storage.get(media_dir).client
    ranges, get_object = [], s3.get_object
    s3.get_object = lambda **kw: ranges.append(kw.get("Range")) or get_object(**kw)
    try:
        unseekable = {"wsgi.file_wrapper": lambda f, size=8192: iter(lambda: f.read(size), b"")}
        part = client.get(f"/api/media/{sha}", headers={**headers, "Range": "bytes=150000-150099"},
                          environ_overrides=unseekable)
        assert part.status_code == 206 and part.data == data[150_000:150_100]
        assert ranges == ["bytes=150000-"]
    finally:
        s3.get_object = get_object
    tail = client.get(f"/api/media/{sha}", headers={**headers, "Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.data == data[-10:]
    assert client.get(f"/api/media/{sha}", headers={**headers, "If-None-Match": f'"{sha}"'}).status_code == 304
    assert client.get(f"/api/media/{sha}", headers={**headers, "Range": f"bytes={len(data) + 5}-"}).status_code == 416
    for suffix, size in (("/thumb", (240, 320)), ("/public", (1440, 1920))):
        r = client.get(f"/api/media/{sha}{suffix}", headers=headers)
        assert r.status_code == 200 and r.mimetype == "image/jpeg"
        image = Image.open(io.BytesIO(r.data))
        assert image.size == size and not image.getexif()

    # a small file in one POST (no session), then the same bytes again: stored once
    small = files.png()
    r = up.create_tus(small, "image/png", body=small, kind="signature")
    assert r.status_code in (200, 201) and r.json["complete"] is True, r.json
    again = up.create_tus(small, "image/png", body=small, kind="signature")
    assert again.json["complete"] is True
    assert s3_server.objects(bucket)[_key(files.sha(small))] == len(small)
    assert client.get(f"/api/media/{files.sha(small)}", headers=headers).data == small

    # a stored object lost from the bucket: the stable error, never a 500
    s3_server.client().delete_object(Bucket=bucket, Key=_key(files.sha(small)))
    lost = client.get(f"/api/media/{files.sha(small)}", headers=headers)
    assert lost.status_code == 404 and lost.json["code"] == "media.file_missing"

    # nothing references the files: after the grace period the clean-up empties the bucket
    with committed_db.session_scope() as session:
        session.execute(update(Media).values(touched_at=utcnow() - dt.timedelta(days=30)))
    with committed_db.session_scope() as session:
        counts = services.cleanup(session, services.MediaSettings.from_config(app.config), Actor.system())
    assert counts["media_deleted"] == 2 and counts["files_deleted"] == 3
    assert counts["bytes_freed"] == sum(objects.values())
    assert s3_server.objects(bucket) == {}

    # a writer killed in the middle of a multipart PUT left its parts in the bucket: the clean-up aborts it (moto
    # dates every multipart upload 2010: long past the limit)
    s3 = s3_server.client()
    upload = s3.create_multipart_upload(Bucket=bucket, Key=_key(files.sha(b"never finished")))["UploadId"]
    s3.upload_part(Bucket=bucket, Key=_key(files.sha(b"never finished")), UploadId=upload, PartNumber=1, Body=b"x")
    with committed_db.session_scope() as session:
        counts = services.cleanup(session, services.MediaSettings.from_config(app.config), Actor.system())
    assert counts["stray_files_deleted"] == 1 and not s3.list_multipart_uploads(Bucket=bucket).get("Uploads")


def test_an_rq_worker_with_a_disk_of_its_own_processes_a_photo_from_s3(committed_db, redis_url, tmp_path,
                                                                       s3_server):  # noqa: F811
    bucket = s3_server.new_bucket()
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    settings = s3_server.settings(bucket, prefix="shuangsui/")
    app = make_test_app(committed_db, tmp_path / "web", REDIS_URL=redis_url, RQ_QUEUE=queue_name, **settings)
    officer = _on_duty(app, committed_db)
    up = Uploader(app.test_client(), AuthActions(app, None).headers(officer))
    data = files.photo(800, 600, seed=72, exif=files.camera_exif())
    sha = files.sha(data)
    r = up.upload(data, chunk=100_000)
    assert r.status_code == 200 and r.json["media"]["status"] == "processing", r.json

    worker_dir = tmp_path / "worker-machine"
    env = {**os.environ, "DATABASE_URL": committed_db.url, "REDIS_URL": redis_url, "RQ_QUEUE": queue_name,
           "SECRET_KEY": TEST_SECRET, "MEDIA_DIR": str(worker_dir / "media"), "SHUANGSUI_INSTANCE": str(worker_dir),
           **{k: v for k, v in settings.items()}}
    worker = subprocess.run([sys.executable, "-m", "backend.cli", "jobs", "worker", "--burst"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr[-3000:]
    with committed_db.session_scope() as session:
        media = services.info(session, sha)
        assert media.status == "ready" and media.exif_gps["lat"] == 34.7751389, (media.status, media.error)
        thumb = media.thumb_sha256
    assert set(s3_server.objects(bucket)) == {_key(sha), _key(thumb), _key(media.public_sha256)}
    assert _stored_locally(worker_dir / "media") == [] and _stored_locally(app.config["MEDIA_DIR"]) == []
    r = up.client.get(f"/api/media/{sha}/thumb", headers=up.headers)
    assert r.status_code == 200 and Image.open(io.BytesIO(r.data)).format == "JPEG"
    app.extensions["shuangsui.jobs"].queue.delete(delete_jobs=True)


def test_a_list_export_and_its_import_go_through_the_bucket(database, db_session, factory, auth,
                                                            world, tmp_path, s3_server):  # noqa: F811
    """The export job writes its file to the bucket, the download streams it from there, and the same file
    imported again is stored once and read back by the import job (a temporary copy for the reader)."""
    from backend.auth.roles import Role
    from tests.api.directory_io.helpers import finished_job, upload
    from tests.api.directory_io.test_io_exports import _make_lists

    bucket = s3_server.new_bucket()
    app = make_test_app(database, tmp_path, **s3_server.settings(bucket, prefix="shuangsui/"))
    client = app.test_client()
    _make_lists(factory, world)
    admin_headers = world.admin_headers
    _planner, planner_headers = auth.as_role(Role.PLANNER, world.dept)
    job = finished_job(client, planner_headers, client.post("/api/v1/exports/targets?format=xlsx",
                                                            headers=planner_headers))
    assert job["status"] == "done", job
    sha = job["result"]["sha256"]
    assert set(s3_server.objects(bucket)) == {_key(sha)}
    download = client.get(f"/api/v1/exports/files/{job['id']}", headers=planner_headers)
    assert download.status_code == 200 and files.sha(download.data) == sha
    assert download.headers["Content-Length"] == str(len(download.data))

    imported = finished_job(client, admin_headers, upload(client, admin_headers, "targets", download.data,
                                                          job["result"]["file_name"]))
    assert imported["status"] == "done" and imported["result"]["unchanged"] == 3, imported
    assert set(s3_server.objects(bucket)) == {_key(sha)}           # the same bytes: one object
    assert _stored_locally(app.config["MEDIA_DIR"]) == []
    assert not os.listdir(os.path.join(app.config["MEDIA_DIR"], "tmp"))   # the reader's copy is gone

    s3_server.client().delete_object(Bucket=bucket, Key=_key(sha))
    gone = client.get(f"/api/v1/exports/files/{job['id']}", headers=planner_headers)
    assert gone.status_code == 404 and gone.json["code"] == "export.file_missing"


def test_an_old_export_is_removed_from_the_bucket(database, db_session, factory, auth, world,  # noqa: F811
                                                 tmp_path, s3_server):  # noqa: F811
    """EXPORT_RETENTION_DAYS past: the clean-up deletes the export's object and its download answers 410."""
    from backend.auth.roles import Role
    from backend.jobs.models import Job
    from tests.api.directory_io.helpers import finished_job
    from tests.api.directory_io.test_io_exports import _make_lists

    bucket = s3_server.new_bucket()
    app = make_test_app(database, tmp_path, **s3_server.settings(bucket, prefix="shuangsui/"))
    client = app.test_client()
    _make_lists(factory, world)
    _planner, headers = auth.as_role(Role.PLANNER, world.dept)
    job = finished_job(client, headers, client.post("/api/v1/exports/targets?format=xlsx", headers=headers))
    sha = job["result"]["sha256"]
    assert set(s3_server.objects(bucket)) == {_key(sha)}
    db_session.execute(update(Job).where(Job.id == job["id"]).values(finished_at=utcnow() - dt.timedelta(days=31)))
    db_session.flush()
    counts = services.cleanup(db_session, services.MediaSettings.from_config(app.config), Actor.system())
    assert counts["exports_expired"] == 1 and counts["export_files_deleted"] == 1
    assert s3_server.objects(bucket) == {}
    gone = client.get(f"/api/v1/exports/files/{job['id']}", headers=headers)
    assert gone.status_code == 410 and gone.json["code"] == "export.expired"


def test_an_old_list_import_s_upload_is_removed_from_the_bucket(database, db_session, world,  # noqa: F811
                                                               tmp_path, s3_server):  # noqa: F811
    """The same retention for a list import's upload: its object goes, its report stays, its file answers 410."""
    import hashlib

    from backend.jobs.models import Job
    from tests.api.directory_io.helpers import csv_bytes, finished_job, upload
    from tests.api.directory_io.test_io_imports import TARGET_HEADER, target_rows, usccs

    bucket = s3_server.new_bucket()
    app = make_test_app(database, tmp_path, **s3_server.settings(bucket, prefix="shuangsui/"))
    client = app.test_client()
    data = csv_bytes([TARGET_HEADER, *target_rows(usccs(2), world.dept.code)])
    job = finished_job(client, world.admin_headers, upload(client, world.admin_headers, "targets", data, "名录.csv"))
    assert job["status"] == "done", job
    assert set(s3_server.objects(bucket)) == {_key(hashlib.sha256(data).hexdigest())}
    db_session.execute(update(Job).where(Job.id == job["id"]).values(finished_at=utcnow() - dt.timedelta(days=31)))
    db_session.flush()
    counts = services.cleanup(db_session, services.MediaSettings.from_config(app.config), Actor.system())
    assert counts["imports_expired"] == 1 and counts["import_files_deleted"] == 1
    assert s3_server.objects(bucket) == {}
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=world.admin_headers).json["result"]["created"] == 2
    gone = client.get(f"/api/v1/jobs/{job['id']}/file", headers=world.admin_headers)
    assert gone.status_code == 410 and gone.json["code"] == "import.expired"


def test_a_plain_photo_s_copies_are_made_from_s3_on_first_need(committed_db, tmp_path, s3_server):  # noqa: F811
    """The app's photo (upright, no profile) sent whole: nothing but the original in the bucket until a reader
    asks; then the thumbnail and the public copy, made from a temporary copy, go to the bucket, nothing stays
    on this machine's disk."""
    bucket = s3_server.new_bucket()
    app = make_test_app(committed_db, tmp_path, **s3_server.settings(bucket, prefix="shuangsui/"))
    officer = _on_duty(app, committed_db)
    up = Uploader(app.test_client(), AuthActions(app, None).headers(officer))
    data = files.photo(seed=73, exif=files.camera_exif(orientation=1))
    sha = files.sha(data)
    r = up.create_tus(data, body=data)
    assert r.status_code == 201 and r.json["media"]["status"] == "ready", r.json
    assert set(s3_server.objects(bucket)) == {_key(sha)}
    thumb = up.client.get(f"/api/media/{sha}/thumb", headers=up.headers)
    assert thumb.status_code == 200 and Image.open(io.BytesIO(thumb.data)).size == (320, 240)
    with committed_db.session_scope() as session:
        media = services.info(session, sha)
        made = {media.thumb_sha256, media.public_sha256}
    assert files.sha(thumb.data) in made and None not in made and sha not in made   # EXIF dropped: a copy
    assert set(s3_server.objects(bucket)) == {_key(sha), *map(_key, made)}
    assert _stored_locally(app.config["MEDIA_DIR"]) == []


def test_an_orphan_photo_s_bytes_that_a_recent_export_names_stay_in_the_bucket(database, db_session, factory,  # noqa: F811
                                                                                auth, world, tmp_path, s3_server):  # noqa: F811
    """One check of who names a file on S3 too: the orphan's row goes, its object stays while the export names
    it, and goes with the export once the export expires."""
    from backend.auth.roles import Role
    from backend.jobs.models import Job
    from tests.api.directory_io.helpers import finished_job
    from tests.api.directory_io.test_io_exports import _make_lists

    bucket = s3_server.new_bucket()
    app = make_test_app(database, tmp_path, **s3_server.settings(bucket, prefix="shuangsui/"))
    client = app.test_client()
    _make_lists(factory, world)
    _planner, headers = auth.as_role(Role.PLANNER, world.dept)
    job = finished_job(client, headers, client.post("/api/v1/exports/targets?format=csv", headers=headers))
    sha = job["result"]["sha256"]
    db_session.add(Media(sha256=sha, kind="pdf", media_type="application/pdf", size=job["result"]["size"],
                         status="ready", touched_at=utcnow() - dt.timedelta(days=30)))
    db_session.flush()
    settings = services.MediaSettings.from_config(app.config)

    counts = services.cleanup(db_session, settings, Actor.system())
    assert counts["media_deleted"] == 1 and counts["files_deleted"] == 0
    assert set(s3_server.objects(bucket)) == {_key(sha)}
    assert client.get(f"/api/v1/exports/files/{job['id']}", headers=headers).status_code == 200

    db_session.execute(update(Job).where(Job.id == job["id"]).values(finished_at=utcnow() - dt.timedelta(days=31)))
    db_session.flush()
    counts = services.cleanup(db_session, settings, Actor.system())
    assert counts["exports_expired"] == 1 and counts["export_files_deleted"] == 1
    assert s3_server.objects(bucket) == {}
