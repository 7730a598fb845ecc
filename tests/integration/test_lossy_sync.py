"""Issue 7's acceptance: inspections with photos pushed through a loopback proxy that loses 20 % of the
requests and 20 % of the answers (so some mutations are applied but their answer is lost), with retries
and duplicate sends, end with exactly the client's data on the server: nothing lost, nothing doubled,
every photo's hash matching. Real HTTP, real commits."""
from __future__ import annotations

import hashlib
import io
import random
import threading

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.serving import make_server

from backend.inspections.models import Section, SectionAnswer
from sync.client import Client, HttpTransport, NetworkError, SyncError
from sync.models import SyncClient, SyncMutation
from tests.factories import PASSWORD, AuthActions, Factory
from tests.field.conftest import build_field
from tests.flaky_proxy import FlakyProxy


def _retry(fn, attempts=200):
    for _ in range(attempts):
        try:
            return fn()
        except NetworkError:
            continue
        except SyncError as exc:
            if exc.status in (502, 503, 504):
                continue
            raise
    raise AssertionError("gave up after many network failures")


def _photo(n: int) -> bytes:
    img = Image.new("RGB", (64, 48), ((n * 37) % 256, (n * 91) % 256, (n * 13) % 256))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=80)
    return buf.getvalue()


@pytest.mark.committed
def test_a_lossy_network_loses_and_doubles_nothing(committed_db, app, database):
    n_inspections = 1000 if database.dialect == "postgresql" else 150
    with committed_db.session_scope() as session:
        factory = Factory(session)
        f = build_field(app, app.test_client(), factory, AuthActions(app, factory), session, targets=n_inspections,
                        lead_members=1, other_members=1)
        inspections = [i.id for i in f.inspections]
        cp = f.points(f.lead_item)[0]
        dept, username = f.lead_dept.id, f.lead_user.username
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proxy = FlakyProxy(server.server_port, flaky=("/api/",), seed=20261130)
    try:
        phone = Client(HttpTransport(f"http://127.0.0.1:{proxy.port}", timeout=10))
        _retry(lambda: phone.login(username, PASSWORD))
        rng = random.Random(7)
        photos = {}
        for n, iid in enumerate(inspections):
            data = _photo(n)
            sha = _retry(lambda: phone.upload(data, "image/jpeg", f"p{n}.jpg"))
            assert sha == hashlib.sha256(data).hexdigest()
            photos[iid] = sha
            phone.set_section(iid, dept, {f"points.{cp}.result": "fail", f"points.{cp}.problem": f"问题{n}",
                                          f"points.{cp}.photos": [{"id": f"00000000-0000-4000-8000-{n:012d}",
                                                                   "sha256": sha}]})
            if len(phone.outbox) >= 100 or n == len(inspections) - 1:
                _retry(phone.push)
                if rng.random() < 0.3:  # a duplicate send of what was just pushed
                    _retry(phone.push)
        _retry(phone.pull)
        assert phone.pending() == 0
        assert all(r["status"] == "applied" for r in phone.results.values())
        assert proxy.counts["lost_requests"] > 20 and proxy.counts["lost_responses"] > 20, proxy.counts
    finally:
        proxy.close()
        server.shutdown()
    with committed_db.session_scope() as session:
        assert session.scalar(select(SyncClient.last_mutation_id).where(SyncClient.id == phone.client_id)) \
            == len(inspections)
        assert session.scalar(select(func.count()).select_from(SyncMutation)) == len(inspections)
        sections = session.scalars(select(Section).where(Section.department_id == dept)).all()
        assert len(sections) == len(inspections) and all(s.rev == 1 for s in sections)   # applied once each
        assert session.scalar(select(func.count()).select_from(SectionAnswer)) == len(inspections)
        for s in sections:
            answer = session.get(SectionAnswer, (s.id, cp))
            assert answer.data["photos"][0]["sha256"] == photos[s.inspection_id]
    from backend.media import storage

    media_dir = app.config["MEDIA_DIR"]
    for sha in photos.values():
        assert hashlib.sha256(storage.path_for(media_dir, sha).read_bytes()).hexdigest() == sha
    # and the phone holds exactly what the server holds
    for iid in inspections:
        section = phone.section(iid, dept)
        assert section["content"][f"points.{cp}.photos"][0]["sha256"] == photos[iid]
