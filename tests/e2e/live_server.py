"""A real server process for the officers' app tests: the app on a SQLite file and a media folder in a
temporary directory, served by werkzeug (threaded) in a process of its own the test can stop and start again on
the same port (the network "going away" and "coming back").

Each server is forked from a process that has already imported the app's modules (multiprocessing's fork
server, one per test process, its modules loaded once): a fresh interpreter spent ~2.7 s of CPU importing them
for every start, the fork ~0.5 s; the server itself builds its app from the test's configuration and
environment as before. ``python -m tests.e2e.live_server CONFIG.json`` still serves one by hand."""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import TEST_AUDIT_KEY, TEST_PASSWORD_COST, TEST_SECRET, at_test_password_cost

ROOT = Path(__file__).resolve().parents[2]
DIST = ROOT / "pwa" / "dist"
OFFICE_DIST = ROOT / "pwa" / "dist-office"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_database(tmp: Path, *, today: dt.date | None = None) -> str:
    """A migrated SQLite file holding a small demo county with its drawn joint task."""
    from backend import migrate
    from backend.audit.keys import AuditSettings, configure
    from backend.db import Database
    from backend.demo.seed import seed_demo

    url = f"sqlite:///{tmp / 'shuangsui.db'}"
    migrate.upgrade(url)
    db = Database(url)
    configure(db.engine, AuditSettings(key=TEST_AUDIT_KEY.encode()))
    with at_test_password_cost():   # the demo password hashed as the live server's app hashes
        seed_demo(db, targets=200, inspectors=128, seed=7, today=today, media_dir=str(tmp / "media"))  # LiveServer's
    db.engine.dispose()
    return url


def copy_database(template: Path, tmp: Path) -> str:
    """What :func:`prepare_database` made in ``template`` (its SQLite file and media folder), copied into ``tmp``:
    the same clean demo county for each test at the cost of a file copy (seeding one takes seconds of CPU)."""
    import shutil
    import sqlite3

    source, target = sqlite3.connect(template / "shuangsui.db"), sqlite3.connect(tmp / "shuangsui.db")
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    if (template / "media").exists():
        shutil.copytree(template / "media", tmp / "media")
    return f"sqlite:///{tmp / 'shuangsui.db'}"


class LiveServer:
    def __init__(self, tmp: Path, database_url: str, *, port: int | None = None, **config):
        self.tmp, self.port = tmp, port or free_port()
        self.config = {"DATABASE_URL": database_url, "MEDIA_DIR": str(tmp / "media"), "SECRET_KEY": TEST_SECRET,
                       "AUDIT_KEY": TEST_AUDIT_KEY, "AUDIT_ANCHOR_FILE": None, "PWA_APP_DIR": str(DIST), "PWA_OFFICE_DIR": str(OFFICE_DIST),
                       "JOBS_INLINE_THREAD": False, "REDIS_URL": None, "LOGIN_MAX_FAILURES": 50,
                       "LOGIN_ADDRESS_MAX_FAILURES": 1000, "PASSWORD_HASH_COST": TEST_PASSWORD_COST, **config}
        self.proc: multiprocessing.Process | None = None
        self.log = tmp / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveServer":
        cfg = self.tmp / "server.json"
        cfg.write_text(json.dumps({"port": self.port, "config": self.config}))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        self.proc = _forks().Process(target=_serve_forked, args=(str(cfg), env, str(self.log)), daemon=True)
        self.proc.start()
        deadline = time.monotonic() + 90   # building the app takes a second of CPU: far more on a loaded machine
        while time.monotonic() < deadline:
            if self.proc.exitcode is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/api/v1/departments", timeout=2).read()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()   # not left running after the test (a fixture that raises in its setup is not torn down)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.exitcode is None:
            self.proc.terminate()   # SIGTERM: the server closes its socket and exits
            self.proc.join(10)
            if self.proc.exitcode is None:
                self.proc.kill()
                self.proc.join(5)
        if self.proc:
            self.proc.close()
        self.proc = None


# what the fork server imports once: the app, every module its blueprints load (backend/routes.py) and this one
PRELOAD = ["tests.e2e.live_server_preload", "tests.e2e.live_server"]


def _forks():
    """multiprocessing's fork server, its modules preloaded (started with the first server of the process)."""
    forks = multiprocessing.get_context("forkserver")
    forks.set_forkserver_preload(PRELOAD)
    return forks


def _serve_forked(path: str, env: dict, log: str) -> None:
    """A server forked from the fork server: the test's working directory, environment and log, as a
    subprocess of its own would have had them."""
    multiprocessing.current_process().daemon = False   # (daemonic only for the test process: it may fork in turn)
    os.chdir(ROOT)
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    _serve(path)


def _serve(path: str) -> None:
    from werkzeug.serving import make_server

    from backend import create_app

    spec = json.loads(Path(path).read_text())
    app = create_app({"TESTING": False, "REMINDERS_TIMER": False, **spec["config"]})   # no reminder sweeps
    server = make_server("127.0.0.1", spec["port"], app, threaded=True)
    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    _serve(sys.argv[1])
