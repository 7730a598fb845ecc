"""Uploads through a real HTTP server: a connection cut mid-body, then resumed; processing by an rq worker."""
from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import uuid

from werkzeug.serving import make_server

from backend.auth.roles import Role
from backend.media import services, storage
from tests.api.media import files
from tests.conftest import TEST_SECRET, make_test_app
from tests.factories import AuthActions, Factory


def _serve(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


def _on_duty(app, database):
    """An officer of a drawn group (only officers with an inspection still open upload), committed."""
    from tests.api.media.conftest import drawn, on_duty

    with database.session_scope() as session:
        factory = Factory(session)
        _s, _inspection, members = drawn(factory, AuthActions(app, factory), session)
        officer = on_duty(factory, session, members[0])
    return officer


def _request(port, method, path, headers, body=b""):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, data


def test_an_upload_cut_by_the_network_resumes_where_the_server_stopped(committed_db, tmp_path):
    app = make_test_app(committed_db, tmp_path)
    officer = _on_duty(app, committed_db)
    auth = AuthActions(app, None).headers(officer)
    data = files.photo(seed=61)
    sha = files.sha(data)
    server = _serve(app)
    port = server.server_port
    try:
        r, body = _request(port, "POST", "/api/uploads", {**auth, "Content-Type": "application/json"},
                           f'{{"sha256": "{sha}", "length": {len(data)}, "media_type": "image/jpeg"}}'.encode())
        assert r.status == 201, body
        location = r.getheader("Location")

        # send the headers and 120,000 of the bytes, then the connection dies
        raw = socket.create_connection(("127.0.0.1", port))
        head = (f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth['Authorization']}\r\n"
                f"Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\nTus-Resumable: 1.0.0\r\n"
                f"Content-Length: {len(data)}\r\n\r\n").encode()
        raw.sendall(head + data[:120_000])
        raw.shutdown(socket.SHUT_RDWR)
        raw.close()

        deadline, offset = time.monotonic() + 20, None
        while time.monotonic() < deadline:  # the server notices the cut and keeps what arrived
            r, _ = _request(port, "HEAD", location, auth)
            offset = int(r.getheader("Upload-Offset"))
            if offset == 120_000:
                r, _ = _request(port, "PATCH", location, {**auth, "Content-Type": "application/offset+octet-stream",
                                                          "Upload-Offset": str(offset)}, data[offset:])
                if r.status != 409:  # the first request may still hold the session for a moment
                    break
            time.sleep(0.05)
        assert offset == 120_000 and r.status == 200
        r, _ = _request(port, "HEAD", f"/api/media/{sha}", auth)
        assert r.status == 200 and r.getheader("Content-Length") == str(len(data))
        assert storage.path_for(app.config["MEDIA_DIR"], sha).read_bytes() == data
    finally:
        server.shutdown()


def test_photos_are_processed_by_an_rq_worker_when_redis_is_configured(committed_db, redis_url, tmp_path):
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    app = make_test_app(committed_db, tmp_path, REDIS_URL=redis_url, RQ_QUEUE=queue_name)
    officer = _on_duty(app, committed_db)
    headers = AuthActions(app, None).headers(officer)
    client = app.test_client()
    data = files.photo(800, 600, seed=62, exif=files.camera_exif())
    sha = files.sha(data)
    r = client.post("/api/uploads", json={"sha256": sha, "length": len(data), "media_type": "image/jpeg"},
                    headers=headers)
    r = client.patch(r.headers["Location"], data=data, headers={**headers, "Upload-Offset": "0",
                                                                "Content-Type": "application/offset+octet-stream"})
    assert r.status_code == 200 and r.json["media"]["status"] == "processing"
    assert client.head(f"/api/media/{sha}", headers=headers).headers["X-Media-Status"] == "processing"

    env = {**os.environ, "DATABASE_URL": committed_db.url, "REDIS_URL": redis_url, "RQ_QUEUE": queue_name,
           "SECRET_KEY": TEST_SECRET, "MEDIA_DIR": str(tmp_path / "media")}
    worker = subprocess.run([sys.executable, "-m", "backend.cli", "jobs", "worker", "--burst"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert worker.returncode == 0, worker.stderr[-3000:]
    with committed_db.session_scope() as session:
        media = services.info(session, sha)
        assert media.status == "ready" and media.exif_gps["lat"] == 34.7751389 and media.thumb_sha256
    assert client.head(f"/api/media/{sha}", headers=headers).headers["X-Media-Status"] == "ready"
    app.extensions["shuangsui.jobs"].queue.delete(delete_jobs=True)


def test_a_cleanup_running_while_a_push_references_the_file_keeps_it(committed_db, tmp_path):
    """The push's transaction references an old orphan and is still open when the clean-up starts."""
    import datetime as dt

    from sqlalchemy import select, update

    from backend.actor import Actor
    from backend.db import utcnow
    from backend.draws import services as draws
    from backend.inspections.models import Inspection
    from backend.media.models import Media
    from tests.api.draws.conftest import build_scenario

    app = make_test_app(committed_db, tmp_path)
    settings = services.MediaSettings.from_config(app.config)
    data = files.pdf()
    sha = storage.store_bytes(settings.media_dir, data)
    with committed_db.session_scope() as session:
        factory = Factory(session)
        scenario = build_scenario(factory, AuthActions(app, factory), risk=("D",), per_class=1,
                                  strata={"D": {"num": 1, "den": 1}}, inspectors=(2, 1), members=(1, 1))
        actor = Actor.of_user(factory.user(Role.SYSADMIN))
        session.commit()
        draws.commit(session, actor, scenario.task.id, draws.DrawSettings())
        draws.seed_and_draw(session, actor, scenario.task.id, draws.DrawSettings(), source="csprng")
        inspection_id = session.scalar(select(Inspection.id).where(Inspection.task_id == scenario.task.id))
        session.add(Media(sha256=sha, kind="pdf", media_type="application/pdf", size=len(data), status="ready",
                          touched_at=utcnow() - dt.timedelta(days=30), created_at=utcnow() - dt.timedelta(days=30)))

    push = committed_db.session()
    services.add_references(push, [sha], inspection_id, Actor.system())   # not committed yet
    result = {}

    def clean():
        with committed_db.session_scope() as session:
            result.update(services.cleanup(session, settings, Actor.system()))

    cleaner = threading.Thread(target=clean)
    cleaner.start()
    time.sleep(1.0)            # the clean-up is now waiting for the push's lock
    push.commit()
    push.close()
    cleaner.join(timeout=60)
    assert result["media_deleted"] == 0
    with committed_db.session_scope() as session:
        assert session.get(Media, sha) is not None and services.references(session, sha) == [inspection_id]
    assert storage.exists(settings.media_dir, sha)
    with committed_db.session_scope() as session:  # once unreferenced and old, it does go
        services.remove_references(session, [sha], inspection_id, Actor.system())
        session.execute(update(Media).values(touched_at=utcnow() - dt.timedelta(days=30)))
    with committed_db.session_scope() as session:
        assert services.cleanup(session, settings, Actor.system())["media_deleted"] == 1
    assert not storage.exists(settings.media_dir, sha)
