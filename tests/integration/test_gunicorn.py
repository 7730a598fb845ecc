"""Command one's server: the real gunicorn, started as ``shuangsui run`` starts it, with the
repository's configuration (backend/gunicorn_conf.py), on the embedded default (SQLite, jobs
in-process). It answers, with the security headers and no version, and runs a job in a worker."""
from __future__ import annotations

import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from backend import migrate
from backend.auth.roles import Role
from backend.db import Database
from tests.conftest import TEST_SECRET
from tests.factories import PASSWORD, Factory


def _lines(stream, into: queue.Queue) -> None:
    for line in iter(stream.readline, ""):
        into.put(line)
    into.put(None)


@pytest.fixture()
def gunicorn_server(tmp_path):
    url = f"sqlite:///{tmp_path / 'shuangsui.db'}"
    migrate.upgrade(url)
    db = Database(url)
    with db.session_scope() as session:
        username = Factory(session).user(Role.SYSADMIN).username
    db.engine.dispose()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SHUANGSUI_ENV")}
    env.update({"DATABASE_URL": url, "SECRET_KEY": TEST_SECRET, "MEDIA_DIR": str(tmp_path / "media"),
                "SHUANGSUI_INSTANCE": str(tmp_path), "WEB_CONCURRENCY": "2", "WEB_THREADS": "4"})
    process = subprocess.Popen([sys.executable, "-m", "backend.cli", "run", "--host", "127.0.0.1", "--port", "0"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=_lines, args=(process.stderr, lines), daemon=True).start()
    log, port = [], None
    try:
        while port is None or not any("Booting worker" in line for line in log):
            line = lines.get(timeout=60)
            assert line is not None, "".join(log)
            log.append(line)
            found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
            port = port or (int(found.group(1)) if found else None)
        yield port, username, log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _call(port, method, path, body=None, token=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    for _attempt in range(100):  # the workers may still be booting
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            break
        except ConnectionRefusedError:
            time.sleep(0.1)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response, json.loads(data) if data else None


def test_gunicorn_serves_with_the_repository_configuration(gunicorn_server):
    port, username, log = gunicorn_server
    assert any("Using worker: gthread" in line for line in log), "".join(log)

    response, page = _call(port, "GET", "/api/v1/items")
    assert response.status == 200 and page["items"] == []
    servers = response.headers.get_all("Server") or []
    assert all("/" not in s and "werkzeug" not in s.lower() and "python" not in s.lower() for s in servers), servers
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]

    response, tokens = _call(port, "POST", "/api/v1/auth/login", {"username": username, "password": PASSWORD})
    assert response.status == 200 and response.headers["Cache-Control"] == "no-store", tokens

    # a job runs in-process, in a thread of the worker that accepted it; any worker reports on it
    response, job = _call(port, "POST", "/api/v1/jobs/selfcheck", {"steps": 3}, tokens["access_token"])
    assert response.status == 202 and job["backend"] == "inline", job
    for _poll in range(600):
        _response, job = _call(port, "GET", f"/api/v1/jobs/{job['id']}", token=tokens["access_token"])
        if job["status"] in ("done", "failed"):
            break
        time.sleep(0.1)
    assert job["status"] == "done" and job["result"] == {"steps": 3, "attempt": 1}, job
