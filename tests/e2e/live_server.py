"""A real server process for the officers' app tests: the app on a SQLite file and a media folder in a
temporary directory, served by werkzeug (threaded) in a subprocess the test can stop and start again on
the same port (the network "going away" and "coming back").

Run as ``python -m tests.e2e.live_server CONFIG.json`` (what :class:`LiveServer` does)."""
from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
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
        self.proc: subprocess.Popen | None = None
        self.log = tmp / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> "LiveServer":
        cfg = self.tmp / "server.json"
        cfg.write_text(json.dumps({"port": self.port, "config": self.config}))
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "tests.e2e.live_server", str(cfg)], cwd=ROOT, env=env,
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90   # importing the app takes seconds of CPU: far more on a loaded machine
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{self.url}/api/v1/departments", timeout=2).read()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()   # not left running after the test (a fixture that raises in its setup is not torn down)
        raise RuntimeError(f"server did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


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
