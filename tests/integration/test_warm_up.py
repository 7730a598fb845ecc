"""A worker that just started opens its connections before its first request (``gunicorn_conf.post_worker_init``,
``backend.warm_up``, ``Database.open_connections``); a failure there never stops it. On PostgreSQL a statement is
prepared on its second run on a connection (``DATABASE_PREPARE_THRESHOLD``, ``backend.db._prepare_sooner``)."""
from __future__ import annotations

import types

import pytest
from sqlalchemy import event, text

from backend import gunicorn_conf
from backend.db import Database
from tests.conftest import PG_URL, require_postgresql


class _Log:
    def __init__(self):
        self.warnings: list[str] = []

    def warning(self, msg, *args):
        self.warnings.append(msg % args)

    def debug(self, msg, *args):
        pass


def _url(tmp_path) -> str:
    return PG_URL or f"sqlite:///{tmp_path / 'warm.db'}"


def _pid(conn) -> object:
    if conn.dialect.name == "postgresql":
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()
    return id(conn.connection.driver_connection)


def test_the_connections_opened_at_start_are_the_ones_requests_use(tmp_path):
    db = Database(_url(tmp_path), pool_size=5)
    opened = []
    event.listen(db.engine, "connect", lambda dbapi, record: opened.append(dbapi))
    try:
        assert db.open_connections(3) == 3
        assert len(opened) == 3 and db.engine.pool.checkedin() == 3
        pids = set()
        with db.engine.connect() as a, db.engine.connect() as b, db.engine.connect() as c:
            pids = {_pid(a), _pid(b), _pid(c)}
            assert len(pids) == 3
        assert len(opened) == 3                        # the three requests opened none
        with db.session_scope() as session:
            session.execute(text("SELECT 1"))
        assert len(opened) == 3
        assert db.open_connections(2) == 2             # those idle in the pool count: none opened
        assert len(opened) == 3
        assert db.open_connections(9) == 5             # no more than the pool keeps
        assert len(opened) == 5 and db.engine.pool.checkedin() == 5
    finally:
        db.engine.dispose()


def _worker(app, threads=3):
    return types.SimpleNamespace(wsgi=app, cfg=types.SimpleNamespace(threads=threads), log=_Log())


def test_the_worker_hook_opens_a_connection_a_thread_in_the_background(tmp_path, monkeypatch):
    monkeypatch.delenv("DATABASE_POOL_WARM", raising=False)
    db = Database(_url(tmp_path), pool_size=6)
    app = types.SimpleNamespace(extensions={"shuangsui.db": db})
    try:
        worker = _worker(app, threads=4)
        gunicorn_conf.post_worker_init(worker).join(30)
        assert worker.log.warnings == []
        assert db.engine.pool.checkedin() == 4
        monkeypatch.setenv("DATABASE_POOL_WARM", "0")  # none
        db.engine.dispose()
        gunicorn_conf.post_worker_init(worker).join(30)
        assert db.engine.pool.checkedin() == 0
    finally:
        db.engine.dispose()


@pytest.mark.parametrize("failure", ["the database", "the setting"])
def test_a_failed_warm_up_is_logged_and_the_worker_goes_on(tmp_path, monkeypatch, failure):
    if failure == "the database":                      # nothing listens there
        db = Database("postgresql://nobody@127.0.0.1:1/none" if PG_URL else f"sqlite:///{tmp_path}/no/such/dir.db")
    else:
        db = Database(_url(tmp_path))
        monkeypatch.setenv("DATABASE_POOL_WARM", "many")
    worker = _worker(types.SimpleNamespace(extensions={"shuangsui.db": db}))
    try:
        thread = gunicorn_conf.post_worker_init(worker)   # returns at once: the worker serves meanwhile
        thread.join(30)
        assert not thread.is_alive()
        assert len(worker.log.warnings) == 1 and worker.log.warnings[0].startswith("warm-up failed")
    finally:
        db.engine.dispose()


def test_a_statement_is_prepared_on_its_second_run():
    require_postgresql("psycopg's prepared statements")
    for threshold, prepared_after in ((None, 2), (5, 6), (0, 1)):
        db = Database(PG_URL, prepare_threshold=threshold)
        try:
            with db.engine.connect() as conn:
                raw = conn.connection.driver_connection
                assert raw.prepare_threshold == (1 if threshold is None else threshold)
                runs = 0
                while True:
                    runs += 1
                    conn.execute(text("SELECT count(*) FROM pg_class WHERE relname = :n AND relpages > -7"), {"n": "x"})
                    if conn.execute(text("SELECT count(*) FROM pg_prepared_statements "
                                         "WHERE statement LIKE '%relpages > -' || '7%'")).scalar():
                        break
                    assert runs < 10
                assert runs == prepared_after
        finally:
            db.engine.dispose()


def test_the_threshold_is_a_setting(monkeypatch):
    from backend.config import from_environment

    monkeypatch.delenv("DATABASE_PREPARE_THRESHOLD", raising=False)
    assert from_environment()["DATABASE_PREPARE_THRESHOLD"] == 1
    monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", "5")
    assert from_environment()["DATABASE_PREPARE_THRESHOLD"] == 5
    monkeypatch.setenv("DATABASE_PREPARE_THRESHOLD", "off")
    assert from_environment()["DATABASE_PREPARE_THRESHOLD"] == -1


def test_off_prepares_nothing():
    require_postgresql("psycopg's prepared statements")
    db = Database(PG_URL, prepare_threshold=-1)
    try:
        with db.engine.connect() as conn:
            assert conn.connection.driver_connection.prepare_threshold is None
            for _ in range(8):
                conn.execute(text("SELECT count(*) FROM pg_class WHERE relname = :n AND relpages > -8"), {"n": "x"})
            assert conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar() == 0
    finally:
        db.engine.dispose()
