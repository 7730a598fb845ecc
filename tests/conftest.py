"""Test fixtures (Flask tutorial + Warehouse style).

* Every test that touches the database runs once per backend: SQLite always, and
  PostgreSQL when ``DATABASE_URL`` points at one (CI sets it).
* The schema comes from the Alembic migrations, once per backend and test process: that migrated database is
  the template every other database of the process is cloned from (``fresh_database``).
* Each test runs inside one transaction that is rolled back at the end; services may
  commit freely (their commits release savepoints).
* ``committed_db`` gives a test real commits (concurrency, rq workers, triggers) and
  empties the tables afterwards.
"""
from __future__ import annotations

import contextlib
import gc
import os
import sqlite3
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from backend import create_app
from backend import migrate
from backend.audit.keys import AuditSettings
from backend.audit.keys import configure as configure_audit
from backend.db import Base, Database

PG_URL = os.environ.get("DATABASE_URL", "")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL.startswith("postgresql") else [])
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "main")
TEST_SECRET = "test-secret-key-for-the-test-suite-only-0123456789"
TEST_AUDIT_KEY = "test-audit-key-for-the-test-suite-only-0123456789"
# argon2 at a cost of microseconds instead of production's few hundred ms of CPU a hash (a login, a co-signature,
# a password change, a demo seed): the suite's apps, live servers and factories hash at it; production's cost is
# tested in tests/api/test_app.py. It differs from the "older parameters" of tests/integration/test_auth_transactions.py
TEST_PASSWORD_COST = {"time_cost": 1, "memory_cost": 64, "parallelism": 1}


def _pg_url_for(name: str) -> str:
    url = make_url(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1)
                   if PG_URL.startswith("postgresql://") else PG_URL)
    return url.set(database=name).render_as_string(hide_password=False)


def _create_pg_database(name: str, template: str | None = None) -> str:
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")))
    admin.dispose()
    return _pg_url_for(name)


def drop_pg_database(url: str) -> None:
    admin = create_engine(PG_URL.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
    admin.dispose()


def new_database_url(backend: str, tmp_path_factory, label: str) -> str:
    """A fresh, empty database of the given backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / (label + '.db')}"
    return _create_pg_database(f"ss_{label}_{WORKER}_{os.getpid()}")


_TEMPLATES: dict[str, str] = {}   # backend → a database of this process migrated to the head (never opened after)


def _migrated_template(backend: str, tmp_path_factory) -> str:
    """The migrations run once per backend and test process (a few seconds of CPU each time); every fresh
    database is a copy of what they built (PostgreSQL's CREATE DATABASE … TEMPLATE, SQLite's backup)."""
    if backend not in _TEMPLATES:
        url = new_database_url(backend, tmp_path_factory, "template")
        migrate.upgrade(url)
        _TEMPLATES[backend] = url
    return _TEMPLATES[backend]


def _clone(backend: str, template: str, tmp_path_factory, label: str) -> str:
    if backend == "postgresql":
        return _create_pg_database(f"ss_{label}_{WORKER}_{os.getpid()}", template=make_url(template).database)
    url = new_database_url(backend, tmp_path_factory, label)
    source, target = sqlite3.connect(make_url(template).database), sqlite3.connect(make_url(url).database)
    try:
        source.backup(target)
    finally:
        source.close()
        target.close()
    return url


def pytest_collection_finish(session):
    """The test process's objects once its tests are collected (the app's, the tests' and their libraries' modules,
    ~180,000) frozen out of the garbage collector's sight, and its youngest generation collected every 10,000
    allocations rather than 700: the collector spent ~11% of a test process's CPU walking the same long-lived
    objects again and again (tests/api/test_access_matrix.py on SQLite: 3.6 s of 32 s; 1.2 s of 30 s with
    this). Nothing else changes: garbage without cycles is freed at once as before, cycles a little later."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)


@pytest.hookimpl(tryfirst=True, optionalhook=True)   # (optional: -p no:xdist runs without it)
def pytest_xdist_make_scheduler(config, log):
    """xdist's ``load`` distribution with the longest tests handed out first (tests/scheduling.py)."""
    if config.getvalue("dist") == "load":
        from tests.scheduling import LongestFirst

        return LongestFirst(config, log)
    return None


def pytest_sessionfinish(session, exitstatus):
    if _TEMPLATES.get("postgresql"):
        drop_pg_database(_TEMPLATES.pop("postgresql"))


@contextlib.contextmanager
def fresh_database(backend: str, tmp_path_factory, label: str):
    """A new database of ``backend``, migrated (a copy of the process's migrated template), with the suite's
    audit key (also for tests without an app); dropped afterwards."""
    url = _clone(backend, _migrated_template(backend, tmp_path_factory), tmp_path_factory, label)
    db = Database(url)
    configure_audit(db.engine, AuditSettings(key=TEST_AUDIT_KEY.encode()))
    try:
        yield db
    finally:
        db.engine.dispose()
        if backend == "postgresql":
            drop_pg_database(url)


@contextlib.contextmanager
def at_test_password_cost():
    """Passwords hashed outside any app (a demo seed) at the suite's cost, as the suite's apps hash them."""
    from flask import Flask

    from backend.auth import passwords

    bare = Flask(__name__)
    bare.config["PASSWORD_HASH_COST"] = TEST_PASSWORD_COST
    passwords.configure(bare)
    with bare.app_context():
        yield


def require_postgresql(why: str) -> None:
    if not PG_URL.startswith("postgresql"):
        pytest.fail(f"这个测试需要 PostgreSQL（DATABASE_URL={PG_URL!r}）：{why}")


@pytest.fixture(scope="session")
def _databases(tmp_path_factory):
    """The suite's database of each backend, made when first asked and kept to the end of the process: the
    tests of one backend and of the other alternate on a worker (xdist hands them out in turns), and a
    switch must not cost a new database each time."""
    made: dict[str, Database] = {}
    with contextlib.ExitStack() as stack:
        def get(backend: str) -> Database:
            if backend not in made:
                made[backend] = stack.enter_context(fresh_database(backend, tmp_path_factory, "t"))
            return made[backend]

        yield get


@pytest.fixture(scope="session", params=BACKENDS)
def database(request, _databases) -> Database:
    return _databases(request.param)


def make_test_app(database: Database, tmp_path, **extra):
    config = {
        "TESTING": True, "DATABASE": database, "DATABASE_URL": database.url, "SECRET_KEY": TEST_SECRET,
        "MEDIA_DIR": str(tmp_path / "media"), "JOBS_INLINE_THREAD": False, "REDIS_URL": None,
        "LOGIN_MAX_FAILURES": 5, "PASSWORD_HASH_COST": TEST_PASSWORD_COST,
        # the audit key of the suite; no anchor file (each test rolls back what an anchor would record):
        # the tests of anchoring pass their own
        "AUDIT_KEY": TEST_AUDIT_KEY, "AUDIT_ANCHOR_FILE": None,
    }
    config.update(extra)
    return create_app(config)


@pytest.fixture(scope="session")
def _apps(tmp_path_factory):
    made: dict[str, object] = {}

    def get(database: Database):
        if database.dialect not in made:
            made[database.dialect] = make_test_app(database, tmp_path_factory.mktemp("app"))
        return made[database.dialect]

    return get


@pytest.fixture(scope="session")
def app(database, _apps):
    """The suite's app on ``database`` (one per backend, kept like the databases)."""
    return _apps(database)


@contextlib.contextmanager
def rolled_back_session(database: Database):
    """A session in one transaction that is rolled back at the end; the database's other sessions (an app's)
    join it through savepoints."""
    connection = database.engine.connect()
    transaction = connection.begin()
    original = database.sessionmaker
    database.sessionmaker = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                                         expire_on_commit=False)
    session = database.sessionmaker()
    try:
        yield session
    finally:
        session.close()
        database.sessionmaker = original
        transaction.rollback()
        connection.close()


@pytest.fixture(scope="module")
def module_transaction(app, database):
    """One connection and transaction for a module; the database's sessions (the module's data, the tests', the
    app's) join it through savepoints (``rolled_back_session``, held for the module instead of one test)."""
    with rolled_back_session(database) as session:
        yield session.bind, session


@pytest.fixture()
def db_session(app, database):
    """One rolled-back transaction per test; the app's sessions join it through savepoints."""
    with rolled_back_session(database) as session:
        yield session


@pytest.fixture()
def client(app, db_session):
    return app.test_client()


@pytest.fixture()
def committed_db(database):
    """Real commits; all tables emptied afterwards."""
    yield database
    truncate_all(database)


def truncate_all(database: Database) -> None:
    """Empty every table. The audit tables refuse DELETE by trigger: a test-only path lifts them."""
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.dialect == "postgresql":
            for table in ("audit_entry", "audit_head", "chain_pending"):
                conn.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
            conn.execute(text("TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"))
            conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64})
            for table in ("audit_entry", "audit_head", "chain_pending"):
                conn.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER USER"))
        else:
            triggers = conn.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' "
                                         "AND tbl_name IN ('audit_entry', 'audit_head', 'chain_pending')")).all()
            for name, _sql in triggers:
                conn.execute(text(f'DROP TRIGGER "{name}"'))
            for name in tables:
                conn.execute(text(f'DELETE FROM "{name}"'))
            conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"), {"h": "0" * 64})
            for _name, sql in triggers:
                conn.execute(text(sql))
        conn.execute(text("INSERT INTO sync_head (id, seq) VALUES (1, 0)"))


@pytest.fixture()
def factory(db_session):
    from tests.factories import Factory

    return Factory(db_session)


@pytest.fixture()
def auth(app, factory):
    from tests.factories import AuthActions

    return AuthActions(app, factory)


@pytest.fixture()
def unique():
    return lambda prefix="x": f"{prefix}{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def redis_url():
    """The real Redis (CI sets REDIS_URL; the test script starts one if needed)."""
    import redis

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    try:
        redis.Redis.from_url(url).ping()
    except redis.exceptions.ConnectionError as exc:  # a failure, not a skip: CI must run this
        pytest.fail(f"这些测试需要真实的 Redis（REDIS_URL={url}）：{exc}")
    return url

