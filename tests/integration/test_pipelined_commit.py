"""A push's last statements and COMMIT sent together (backend/inspections/batch.py, ``FieldBatch.commit``: psycopg's
pipeline mode), on PostgreSQL with real commits.

The append (the audit entry, the heads' moves, the change rows), the figure facts' refresh and COMMIT go in one
round trip. An error in one of them must make the server skip the rest, COMMIT included: nothing of the push is
kept, a deadlock's victim is applied again exactly once, any other error reaches the caller."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from backend.audit.models import AuditEntry, AuditHead
from backend.audit.services import verify_chain
from backend.figures import facts
from backend.inspections.models import Section
from sync.client import Client
from sync.models import SyncMutation
from tests.conftest import fresh_database, make_test_app, require_postgresql
from tests.factories import AuthActions, Factory
from tests.field.conftest import FlaskTransport, build_field


@pytest.fixture()
def pg(tmp_path_factory):
    require_postgresql("推送的最后语句与提交一并发送")
    with fresh_database("postgresql", tmp_path_factory, "pipelined_commit") as db:
        yield db


def _field(pg, tmp_path):
    app = make_test_app(pg, tmp_path / "app")
    with pg.session_scope() as session:
        factory = Factory(session)
        f = build_field(app, app.test_client(), factory, AuthActions(app, factory), session, targets=1)
        iid, dept, officer = f.inspections[0].id, f.lead_dept.id, f.lead_officer
    phone = Client(FlaskTransport(app.test_client()))
    phone.access_token = AuthActions(app, None).token(officer)
    return app, phone, iid, dept


def _fail_in_the_pipeline(monkeypatch, sql: str, times: int) -> list[int]:
    """The facts' refresh (sent inside the pipeline, after the append, before COMMIT) sends ``sql`` first, the
    first ``times`` times it runs in a pipeline."""
    real, calls = facts.refresh, []

    def refresh(conn, ids, held=frozenset()):
        if conn.connection.driver_connection._pipeline is not None and len(calls) < times:
            calls.append(1)
            conn.execute(text(sql))
        return real(conn, ids, held)

    monkeypatch.setattr(facts, "refresh", refresh)
    return calls


def _kept(pg):
    with pg.session_scope(write=False) as s:
        head = s.get(AuditHead, 1)
        return (head.seq, s.scalar(select(func.count()).select_from(AuditEntry)),
                s.scalar(select(func.count()).select_from(SyncMutation)),
                s.scalar(select(func.count()).select_from(Section)))


def test_a_deadlock_in_the_pipelined_statements_keeps_nothing_and_the_push_is_applied_once(pg, tmp_path, monkeypatch):
    _app, phone, iid, dept = _field(pg, tmp_path)
    head0, entries0, mutations0, sections0 = _kept(pg)
    calls = _fail_in_the_pipeline(
        monkeypatch, "DO $$ BEGIN RAISE EXCEPTION 'victim' USING ERRCODE = 'deadlock_detected'; END $$", 1)
    phone.set_section(iid, dept, {"note": "现场已检查"})       # a first write: its fact is refreshed in the pipeline
    assert [r["status"] for r in phone.push()] == ["applied"]
    assert calls == [1]
    head, entries, mutations, sections = _kept(pg)
    assert (mutations, sections) == (mutations0 + 1, sections0 + 1)
    assert head == entries and entries > entries0
    with pg.session_scope(write=False) as s:
        assert s.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "sync.push")) == 1
        assert verify_chain(s).ok
        fact = s.get(facts.FigureFact, iid)
        assert (fact.status, fact.departments) == ("in_progress", 1)


def test_an_error_in_the_pipelined_statements_reaches_the_caller_and_nothing_is_committed(pg, tmp_path, monkeypatch):
    app, phone, iid, dept = _field(pg, tmp_path)
    app.config["PROPAGATE_EXCEPTIONS"] = False                  # the client sees the 500
    kept = _kept(pg)
    _fail_in_the_pipeline(monkeypatch, "SELECT 1 / 0", 1)
    phone.set_section(iid, dept, {"note": "现场已检查"})
    with pytest.raises(Exception):                               # noqa: B017 - the transport's error for a 500
        phone.push()
    assert _kept(pg) == kept                                     # COMMIT was skipped with the rest
    assert [r["status"] for r in phone.push()] == ["applied"]    # the outbox kept it; sent again, it applies
    with pg.session_scope(write=False) as s:
        assert verify_chain(s).ok
