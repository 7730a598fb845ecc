"""Slow password hashing never runs inside a transaction, and login and refresh write in a
transaction whose first statement is a write (issue 6, 2.1): on SQLite a read that later has
to become a write fails at once when another writer got in between, whatever the busy timeout."""
from __future__ import annotations

import contextlib

from argon2 import PasswordHasher
from flask import g
from sqlalchemy import event

from backend.auth import passwords, services
from backend.auth.models import User
from backend.auth.roles import Role
from tests.conftest import make_test_app
from tests.factories import PASSWORD, AuthActions, Factory

WRITES = ("INSERT", "UPDATE", "DELETE")


class Transactions:
    """Every transaction's statements, on one engine."""

    def __init__(self, engine):
        self.engine, self.open, self.done, self.recording = engine, {}, [], False

    def __enter__(self):
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "commit", self._end)
        event.listen(self.engine, "rollback", self._end)
        event.listen(self.engine, "before_cursor_execute", self._statement)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._end)
        event.remove(self.engine, "rollback", self._end)
        event.remove(self.engine, "before_cursor_execute", self._statement)

    def _begin(self, conn):
        self.open[id(conn)] = []

    def _end(self, conn):
        statements = self.open.pop(id(conn), None)
        if self.recording and statements:
            self.done.append(statements)

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        words = statement.lstrip().split(None, 1)
        if id(conn) in self.open and words and words[0].upper() not in ("BEGIN", "SAVEPOINT", "RELEASE"):
            self.open[id(conn)].append(words[0].upper())

    @contextlib.contextmanager
    def watching(self):
        self.recording = True
        try:
            yield
        finally:
            self.recording = False


def test_argon2_runs_outside_transactions_and_login_writes_take_the_lock_first(committed_db, tmp_path, monkeypatch):
    app = make_test_app(committed_db, tmp_path)
    weak_hash = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with committed_db.session_scope() as session:
        factory = Factory(session)
        dept = factory.department()
        admin = factory.user(Role.DEPT_ADMIN, dept)
        officer = factory.user(Role.INSPECTOR, dept)
        old_style = factory.user(Role.INSPECTOR, dept)
        old_style.password_hash = weak_hash  # hashed with older parameters: login re-hashes it
        admin_headers = AuthActions(app, factory).headers(admin)

    slow_calls = []

    def spy(real):
        def call(*args):
            slow_calls.append((real.__name__, g.db_session.in_transaction()))
            return real(*args)
        return call

    monkeypatch.setattr(services, "verify_password", spy(services.verify_password))
    monkeypatch.setattr(services, "hash_password", spy(services.hash_password))
    client = app.test_client()

    def post(url, body, headers=None, expect=200):
        r = client.post(url, json=body, headers=headers)
        assert r.status_code == expect, r.json
        return r.json

    with Transactions(committed_db.engine) as txs:
        with txs.watching():
            tokens = post("/api/v1/auth/login", {"username": officer.username, "password": PASSWORD})
            post("/api/v1/auth/login", {"username": officer.username, "password": "wrong"}, expect=401)
            post("/api/v1/auth/login", {"username": old_style.username, "password": PASSWORD})
            newer = post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]})
            post("/api/v1/auth/refresh", {"refresh_token": newer["refresh_token"]})   # the device moved on
            post("/api/v1/auth/refresh", {"refresh_token": tokens["refresh_token"]}, expect=401)
            post("/api/v1/auth/refresh", {"refresh_token": "made-up-token-000"}, expect=401)
        login_and_refresh = txs.done
        fresh = post("/api/v1/auth/login", {"username": officer.username, "password": PASSWORD})
        bearer = {"Authorization": f"Bearer {fresh['access_token']}"}
        post("/api/v1/auth/me/password", {"password": "Changed-pass-1", "old_password": PASSWORD}, bearer)
        post(f"/api/v1/users/{officer.id}/password", {"password": "Changed-pass-2"}, admin_headers)
        post("/api/v1/users", {"username": "created-one", "display_name": "新账号", "role": "inspector",
                               "department_id": dept.id, "password": "Created-pass-1"}, admin_headers, expect=201)

    with committed_db.session_scope(write=False) as session:
        upgraded = session.get(User, old_style.id).password_hash
    with app.app_context():   # the older parameters' hash was replaced by one of the app's cost
        assert upgraded != weak_hash and passwords.needs_rehash(weak_hash) and not passwords.needs_rehash(upgraded)
        assert passwords.verify_password(upgraded, PASSWORD)
    names = {name for name, _ in slow_calls}
    assert names == {"verify_password", "hash_password"} and len(slow_calls) >= 8
    assert not any(in_transaction for _, in_transaction in slow_calls), slow_calls
    writing = [statements for statements in login_and_refresh if set(statements) & set(WRITES)]
    assert len(writing) >= 6
    for statements in writing:
        assert statements[0] in WRITES, statements
