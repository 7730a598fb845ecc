"""The audit chain: every change appends; verify names the first broken link; PostgreSQL refuses edits."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from backend.actor import Actor
from backend.audit import services as audit
from backend.audit.models import AuditEntry
from backend.auth.roles import Role


def _entries(session, n, start_label="t"):
    actor = Actor.system("test")
    return [audit.record(session, actor, "test.change", "thing", i, before={"v": i}, after={"v": i + 1})
            for i in range(n)]


def test_chain_links_and_verifies(db_session):
    entries = _entries(db_session, 5)
    db_session.commit()
    assert [e.id for e in entries] == list(range(entries[0].id, entries[0].id + 5))
    for prev, nxt in zip(entries, entries[1:]):
        assert nxt.prev_hash == prev.hash
    report = audit.verify_chain(db_session)
    assert report.ok and report.checked >= 5


def test_verify_finds_a_row_altered_behind_the_applications_back(db_session, database):
    entries = _entries(db_session, 4)
    db_session.commit()
    victim = entries[2]
    if database.dialect == "postgresql":  # the trigger refuses; only someone disabling it gets through
        db_session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
    db_session.execute(text("UPDATE audit_entry SET actor_label = 'someone else' WHERE id = :id"), {"id": victim.id})
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at == victim.id
    assert f"第 {victim.id} 条" in report.reason


def test_verify_finds_a_deleted_row(db_session, database):
    entries = _entries(db_session, 3)
    db_session.commit()
    if database.dialect == "postgresql":
        db_session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
    db_session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": entries[1].id})
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at == entries[1].id


def test_verify_finds_a_deleted_last_row(db_session, database):
    entries = _entries(db_session, 3)
    db_session.commit()
    if database.dialect == "postgresql":
        db_session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
    db_session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": entries[-1].id})
    assert not audit.verify_chain(db_session).ok


def test_postgresql_refuses_update_and_delete(db_session, database):
    if database.dialect != "postgresql":
        assert database.dialect == "sqlite"  # SQLite has no trigger; verify() is the guard there
        return
    entry = _entries(db_session, 1)[0]
    db_session.commit()
    for statement in ("UPDATE audit_entry SET action = 'x' WHERE id = :id", "DELETE FROM audit_entry WHERE id = :id"):
        with pytest.raises(DBAPIError, match="append-only"):
            with db_session.begin_nested():
                db_session.execute(text(statement), {"id": entry.id})


def test_changes_through_the_api_are_audited(client, factory, auth, db_session):
    dept = factory.department()
    _, headers = auth.as_role(Role.DEPT_ADMIN, dept)
    before = db_session.scalar(select(AuditEntry.id).order_by(AuditEntry.id.desc()).limit(1)) or 0
    r = client.post("/api/v1/users", json={"username": "officer-zhang", "display_name": "张三",
                                            "password": "Str0ng!pass", "role": "inspector",
                                            "department_id": dept.id}, headers=headers)
    assert r.status_code == 201, r.json
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.id > before)).one()
    assert entry.action == "user.create" and entry.entity_id == str(r.json["id"])
    assert entry.after_digest and entry.before_digest is None and entry.department_id == dept.id


def test_audit_list_is_scoped(client, factory, auth):
    dept, other = factory.department(), factory.department()
    _, headers = auth.as_role(Role.DEPT_ADMIN, dept)
    r = client.get(f"/api/v1/audit?department_id={other.id}", headers=headers)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department"
    r = client.get("/api/v1/audit", headers=headers)
    assert r.status_code == 200 and all(e["department_id"] == dept.id for e in r.json["items"])
    _, planner = auth.as_role(Role.PLANNER, dept)
    assert client.get("/api/v1/audit", headers=planner).status_code == 403


def test_audit_verify_cli(app, db_session, database):
    _entries(db_session, 2)
    db_session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and "审计链完整" in result.output
    if database.dialect == "postgresql":
        db_session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
    db_session.execute(text("UPDATE audit_entry SET detail = NULL WHERE id = (SELECT max(id) FROM audit_entry)"))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "审计链断裂" in result.output
