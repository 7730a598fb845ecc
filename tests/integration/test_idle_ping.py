"""A pooled connection is pinged at checkout only after lying idle (``backend.db._ping_after_idle``), in place
of SQLAlchemy's ping at every checkout: a dead idle connection is replaced unseen; one that died within the
idle threshold fails its statement once (the API answers ``503 db.unavailable``), and the pool is renewed."""
from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from backend import db as db_module
from tests.conftest import PG_URL, require_postgresql


def _kill_pooled_backend(engine) -> None:
    with engine.connect() as conn:
        pid = conn.execute(text("SELECT pg_backend_pid()")).scalar()
    with psycopg.connect(PG_URL, autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))


def _pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT pg_backend_pid()")).scalar()


def _count_pings(engine, monkeypatch) -> list:
    pings = []
    real = engine.dialect.do_ping

    def ping(dbapi_connection):
        pings.append(1)
        return real(dbapi_connection)

    monkeypatch.setattr(engine.dialect, "do_ping", ping)
    return pings


def test_a_connection_that_died_while_idle_is_replaced_before_use(monkeypatch):
    require_postgresql("the ping after idle is a PostgreSQL pool's")
    engine = db_module.make_engine(PG_URL)
    pings = _count_pings(engine, monkeypatch)
    try:
        first = _pid(engine)
        assert pings == []                                          # a new connection is not pinged
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)   # every pooled connection counts as idle
        _kill_pooled_backend(engine)
        assert _pid(engine) not in (first, None)                    # pinged, found dead, replaced: no error
        assert pings
    finally:
        engine.dispose()


def test_a_connection_used_a_moment_ago_is_not_pinged_and_fails_once(monkeypatch):
    require_postgresql("the ping after idle is a PostgreSQL pool's")
    engine = db_module.make_engine(PG_URL)
    pings = _count_pings(engine, monkeypatch)
    try:
        _pid(engine)
        monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 3600.0)
        _kill_pooled_backend(engine)
        with pytest.raises(OperationalError) as failed:
            _pid(engine)
        assert failed.value.connection_invalidated
        assert _pid(engine) == _pid(engine)                         # a new connection, used again at once
        assert pings == []
    finally:
        engine.dispose()


def test_a_request_on_a_connection_that_died_a_moment_ago_answers_503_and_the_next_one_works(
        tmp_path, tmp_path_factory):
    """The app's side of the above: the request whose statement meets the dead connection is answered
    ``503 db.unavailable`` (its session's end does not raise on the dead connection), and the next is served."""
    require_postgresql("the ping after idle is a PostgreSQL pool's")
    from tests.conftest import fresh_database, make_test_app

    with fresh_database("postgresql", tmp_path_factory, "ping") as database:
        app = make_test_app(database, tmp_path)
        client = app.test_client()
        assert client.get("/api/public/plans").status_code == 200
        _kill_pooled_backend(database.engine)
        r = client.get("/api/public/plans")
        assert r.status_code == 503 and r.json["code"] == "db.unavailable", r.json
        assert client.get("/api/public/plans").status_code == 200
