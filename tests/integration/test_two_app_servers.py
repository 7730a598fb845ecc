"""Two app servers, one PostgreSQL, one Redis, one file store: the deployment past one machine.

Two gunicorn instances (the repository's configuration, each with its own instance folder and anchor file)
serve the same PostgreSQL database and Redis, and the same S3-compatible bucket (a real server on loopback)
with one shared folder for unfinished uploads. Phones push through both: every request goes to the other
server than the one before; some answers are lost, so the same batch arrives again at the other server; and
some batches are sent to both servers at the same moment. Exactly-once holds across them: each mutation is
applied once (every section at revision 1, one stored mutation per id), every other send is answered as a
replay of the first, nothing is lost, and a photo whose upload hopped between the servers is stored whole."""
from __future__ import annotations

import concurrent.futures
import hashlib
import io
import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import uuid

import pytest
from PIL import Image
from sqlalchemy import func, select

from backend.inspections.models import Section, SectionAnswer
from backend.media import services as media_services
from sync.client import Client, HttpTransport, NetworkError, Response
from sync.models import SyncClient, SyncMutation
from tests.conftest import TEST_AUDIT_KEY, TEST_SECRET, fresh_database, make_test_app, require_postgresql
from tests.factories import PASSWORD, AuthActions, Factory
from tests.field.conftest import build_field
from tests.s3server import s3_server  # noqa: F401 - the session's S3 server

INSPECTIONS = 30


@pytest.fixture()
def pg(tmp_path_factory):
    require_postgresql("多台应用服务器共用一个 PostgreSQL")
    with fresh_database("postgresql", tmp_path_factory, "two_servers") as db:
        yield db


def _lines(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)
    into.put(None)


class Gunicorn:
    """``shuangsui run`` (gunicorn, backend/gunicorn_conf.py) on a free loopback port."""

    def __init__(self, name: str, env: dict):
        self.name = name
        self.process = subprocess.Popen([sys.executable, "-m", "backend.cli", "run", "--host", "127.0.0.1", "--port", "0"],
                                        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.lines: queue.Queue = queue.Queue()
        threading.Thread(target=_lines, args=(self.process.stderr, self.lines), daemon=True).start()
        self.log: list[str] = []
        self.port = None
        while self.port is None or sum("Booting worker" in line for line in self.log) < 2:
            line = self.lines.get(timeout=90)
            assert line is not None, "".join(self.log)
            self.log.append(line)
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
            self.port = self.port or (int(found.group(1)) if found else None)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class BothServers:
    """A phone's link through a proxy that sends each request to the other server than the last one (pushes
    alternate among themselves too) and loses the answer of every third push: the server acted, the phone
    does not know, and its next push, the same batch again, goes to the other server."""

    def __init__(self, ports: list[int]):
        self.links = [HttpTransport(f"http://127.0.0.1:{p}", timeout=60) for p in ports]
        self.turn, self.pushes = 0, 0
        self.sent = [0] * len(ports)
        self.lost = 0
        self.replays_by_server = [0] * len(ports)

    def request(self, method, path, headers, body) -> Response:
        push = path == "/api/sync/push"
        if push:
            i, self.pushes = self.pushes % len(self.links), self.pushes + 1
        else:
            i, self.turn = self.turn, (self.turn + 1) % len(self.links)
        r = self.links[i].request(method, path, headers, body)
        self.sent[i] += 1
        if push and r.status == 200:
            self.replays_by_server[i] += sum(1 for res in r.json["results"] if res.get("replayed"))
            if self.pushes % 3 == 2:
                self.lost += 1
                raise NetworkError("the answer was lost on the way back")
        return r

    def close(self):
        for link in self.links:
            link.close()


def _retry(fn, attempts=50):
    for _ in range(attempts):
        try:
            return fn()
        except NetworkError:
            continue
    raise AssertionError("gave up")


def _photo(n: int) -> bytes:
    im = Image.effect_noise((160, 120), 60 + n).convert("RGB")
    out = io.BytesIO()
    im.save(out, "JPEG", quality=90)
    return out.getvalue()


def _both_at_once(ports, phone: Client) -> list[dict]:
    """The phone's next batch sent to both servers at the same moment (two paths out of a flaky network)."""
    body = json.dumps({"client_id": phone.client_id, "mutations": phone.outbox[:50]}, ensure_ascii=False).encode()
    headers = {"Authorization": f"Bearer {phone.access_token}", "Content-Type": "application/json"}
    barrier = threading.Barrier(len(ports))

    def send(port):
        link = HttpTransport(f"http://127.0.0.1:{port}", timeout=60)
        barrier.wait()
        try:
            return link.request("POST", "/api/sync/push", headers, body)
        finally:
            link.close()

    with concurrent.futures.ThreadPoolExecutor(len(ports)) as pool:
        answers = list(pool.map(send, ports))
    assert all(a.status == 200 for a in answers), [(a.status, a.content[:300]) for a in answers]
    return [a.json for a in answers]


def test_two_app_servers_apply_each_mutation_exactly_once(pg, redis_url, tmp_path, s3_server):  # noqa: F811
    bucket = s3_server.new_bucket()
    s3 = s3_server.settings(bucket, prefix="two/")
    shared = tmp_path / "shared-media"          # unfinished uploads: the shared volume (docs/decisions.md)
    app = make_test_app(pg, tmp_path / "setup", MEDIA_DIR=str(shared), **s3)
    with pg.session_scope() as session:
        factory = Factory(session)
        f = build_field(app, app.test_client(), factory, AuthActions(app, factory), session, targets=INSPECTIONS,
                        lead_members=2, other_members=1)
        inspections = [i.id for i in f.inspections]
        writers = [(f.lead_user.username, f.lead_dept.id, f.points(f.lead_item)[0]),
                   (f.lead_officer.username, None, None),
                   (f.other_officer.username, f.other_dept.id, f.points(f.other_item)[0])]
    queue_name = f"two-{uuid.uuid4().hex[:8]}"
    servers = []
    try:
        for name in ("a", "b"):
            instance = tmp_path / f"instance-{name}"
            env = {k: v for k, v in os.environ.items() if k not in ("SHUANGSUI_ENV",)}
            env.update({"DATABASE_URL": pg.url, "REDIS_URL": redis_url, "RQ_QUEUE": queue_name,
                        "SECRET_KEY": TEST_SECRET, "AUDIT_KEY": TEST_AUDIT_KEY, "SHUANGSUI_INSTANCE": str(instance),
                        "MEDIA_DIR": str(shared), "WEB_CONCURRENCY": "2", "WEB_THREADS": "4", "REMINDERS_TIMER": "0",
                        "LOGIN_MAX_FAILURES": "50", **s3})
            servers.append(Gunicorn(name, env))
        ports = [s.port for s in servers]

        def officer(index: int):
            username, dept, cp = writers[index]
            link = BothServers(ports)
            phone = Client(link, label=f"phone-{index}")
            _retry(lambda: phone.login(username, PASSWORD))
            photos, expected, both = {}, {}, []
            rng = random.Random(index)
            for n, iid in enumerate(inspections):
                if dept is None:          # the lead's colleague writes nothing: a third phone that only pulls
                    break
                values = {f"points.{cp}.result": "fail", f"points.{cp}.problem": f"问题{index}-{n}"}
                if n % 10 == 0:           # a photo whose upload hops between the servers (whole: never)
                    data = _photo(index * 100 + n)
                    sha = _retry(lambda: phone.upload(data, "image/jpeg", f"p{n}.jpg", chunk=8 * 1024, whole_limit=0))
                    assert sha == hashlib.sha256(data).hexdigest()
                    photos[sha] = data
                    values[f"points.{cp}.photos"] = [{"id": str(uuid.UUID(int=index * 1000 + n)), "sha256": sha}]
                phone.set_section(iid, dept, values)
                expected[iid] = values
                if len(phone.outbox) >= 7 or n == len(inspections) - 1:
                    if not both or rng.random() < 0.4:
                        both.append(_both_at_once(ports, phone))
                    _retry(phone.push)
                    if rng.random() < 0.3:
                        _retry(phone.push)        # a duplicate send of what was just pushed (nothing left)
            _retry(phone.pull)
            assert phone.pending() == 0
            return phone, link, dept, cp, expected, photos, both

        with concurrent.futures.ThreadPoolExecutor(len(writers)) as pool:
            phones = list(pool.map(officer, range(len(writers))))
        reader = phones[1][0]
        _retry(reader.pull)               # once the writers are done, through both servers again
    finally:
        for server in servers:
            server.stop()
    logs = "".join(line for s in servers for line in s.log)
    assert "Traceback" not in logs, logs[-5000:]

    total_photos = 0
    with pg.session_scope() as session:
        for phone, link, dept, cp, expected, photos, both in phones:
            assert all(link.sent), link.sent                       # both servers served this phone
            if dept is None:
                continue
            n = len(expected)
            assert all(r["status"] == "applied" for r in phone.results.values()), phone.results
            assert len(phone.results) == n
            # each mutation stored once, the client's high-water mark exact
            assert session.scalar(select(SyncClient.last_mutation_id).where(SyncClient.id == phone.client_id)) == n
            assert session.scalar(select(func.count()).select_from(SyncMutation)
                                  .where(SyncMutation.client_id == phone.client_id)) == n
            # a lost answer was replayed by the other server
            assert link.lost > 0 and all(link.replays_by_server), (link.lost, link.replays_by_server)
            # sent to both at once: each mutation applied by exactly one of the two
            assert both, "no batch went to both servers at once"
            for answers in both:
                firsts = [{r["id"] for r in a["results"] if not r.get("replayed")} for a in answers]
                assert not (firsts[0] & firsts[1])
                assert firsts[0] | firsts[1] == {r["id"] for r in answers[0]["results"]}
            sections = {s.inspection_id: s for s in session.scalars(select(Section).where(Section.department_id == dept))}
            assert set(sections) == set(expected) and all(s.rev == 1 for s in sections.values())
            for iid, values in expected.items():
                answer = session.get(SectionAnswer, (sections[iid].id, cp)).data
                assert answer["problem"] == values[f"points.{cp}.problem"] and answer["result"] == "fail"
                if f"points.{cp}.photos" in values:
                    assert answer["photos"][0]["sha256"] == values[f"points.{cp}.photos"][0]["sha256"]
                assert phone.section(iid, dept)["content"][f"points.{cp}.problem"] == values[f"points.{cp}.problem"]
            for sha, data in photos.items():
                assert media_services.info(session, sha).size == len(data)
                total_photos += 1
        # the lead's colleague pulled through both servers and holds what the lead wrote
        for _phone, _link, dept, cp, expected, _photos, _both in phones[:1]:
            for iid, values in expected.items():
                assert reader.section(iid, dept)["content"][f"points.{cp}.problem"] == values[f"points.{cp}.problem"]
    stored = s3_server.objects(bucket)
    for _phone, _link, _dept, _cp, _expected, photos, _both in phones:
        for sha, data in photos.items():
            key = f"two/{sha[:2]}/{sha[2:4]}/{sha}"
            assert stored[key] == len(data)
            body = s3_server.client().get_object(Bucket=bucket, Key=key)["Body"].read()
            assert hashlib.sha256(body).hexdigest() == sha
    assert total_photos == 2 * (INSPECTIONS // 10)
    uploads = shared / "uploads"
    assert not uploads.is_dir() or not any(uploads.iterdir())      # every upload finished, no part left
