"""Several people writing at the same moment, through real threads and connections: all succeed.

On SQLite a transaction that has read and then wants to write fails at once (no waiting)
when another connection wrote in between. The gate below makes that moment certain instead
of likely: no request may write until every other request has either read in its own
transaction or is waiting to begin one. A write transaction that takes the lock up front
(``BEGIN IMMEDIATE``) waits at its BEGIN and then succeeds; one that begins by reading loses.
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import event, select

from backend.auth.roles import Role
from backend.directory.models import Target
from tests.conftest import make_test_app
from tests.factories import PASSWORD, AuthActions, Factory

pytestmark = pytest.mark.committed

WRITERS = 4   # PATCH of four different targets
LOGINS = 3    # three people logging in


class WriteGate:
    """Holds each thread's first write until every other thread has read or is waiting to begin."""

    def __init__(self, engine, threads: int):
        self.engine, self.threads = engine, threads
        self.cond = threading.Condition()
        self.state: dict[int, str] = {}   # thread -> "begin" | "read" | "done"
        self.passed: set[int] = set()

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before)
        event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._before)
        event.remove(self.engine, "after_cursor_execute", self._after)

    def _set(self, state: str) -> None:
        with self.cond:
            self.state[threading.get_ident()] = state
            self.cond.notify_all()

    def done(self) -> None:
        self._set("done")

    def _before(self, _conn, _cursor, statement, *_args):
        verb = statement.lstrip().split(None, 1)[0].upper()
        me = threading.get_ident()
        if verb == "BEGIN":
            self._set("begin")
        elif verb in ("INSERT", "UPDATE", "DELETE") and me not in self.passed:
            with self.cond:
                self.passed.add(me)
                self.cond.wait_for(lambda: len(self.state) == self.threads and all(
                    s in ("begin", "read", "done") for t, s in self.state.items() if t != me), timeout=30)

    def _after(self, _conn, _cursor, statement, *_args):
        verb = statement.lstrip().split(None, 1)[0].upper()
        if verb in ("BEGIN", "SELECT"):
            self._set("read" if verb == "SELECT" else "began")


def test_simultaneous_logins_and_writes_all_succeed(committed_db, tmp_path):
    app = make_test_app(committed_db, tmp_path)
    with committed_db.session_scope() as session:
        factory = Factory(session)
        admin = factory.user(Role.SYSADMIN)
        headers = AuthActions(app, factory).headers(admin)
        target_ids = [factory.target().id for _ in range(WRITERS)]
        usernames = [factory.user(Role.PLANNER).username for _ in range(LOGINS)]

    requests = ([("patch", f"/api/v1/targets/{tid}", {"name": f"同时修改的企业{n}有限公司"}, headers)
                 for n, tid in enumerate(target_ids)]
                + [("post", "/api/v1/auth/login", {"username": name, "password": PASSWORD}, {})
                   for name in usernames])
    answers: list = [None] * len(requests)
    start = threading.Barrier(len(requests))

    with WriteGate(committed_db.engine, len(requests)) as gate:
        def call(index: int) -> None:
            method, url, body, extra = requests[index]
            client = app.test_client()
            start.wait()
            try:
                r = getattr(client, method)(url, json=body, headers=extra)
                answers[index] = (r.status_code, r.get_json())
            finally:
                gate.done()

        threads = [threading.Thread(target=call, args=(i,)) for i in range(len(requests))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)

    assert [a[0] if a else None for a in answers] == [200] * len(requests), answers
    with committed_db.session_scope() as session:
        names = session.scalars(select(Target.name).where(Target.id.in_(target_ids)).order_by(Target.id)).all()
    assert names == [f"同时修改的企业{n}有限公司" for n in range(WRITERS)]
