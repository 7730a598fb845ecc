"""The audit chain: every change appends; the database refuses edits on both backends; verify
names the first broken link, also after tampering done with care (issue 6 §1.4)."""
from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from backend.actor import Actor
from backend.audit import anchors
from backend.audit import keys
from backend.audit import services as audit
from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from sync.canonical import canonical_json
from tests.conftest import TEST_AUDIT_KEY


def _entries(session, n, department_id=None):
    actor = Actor.system("test")
    return [audit.record(session, actor, "test.change", "thing", i, before={"v": i}, after={"v": i + 1},
                         department_id=department_id)
            for i in range(n)]


def _fields(row) -> dict:
    return {"id": row.id, "at": row.at, "actor_id": row.actor_id, "actor_label": row.actor_label,
            "action": row.action, "entity_type": row.entity_type, "entity_id": row.entity_id,
            "department_id": row.department_id, "before": row.before_digest, "after": row.after_digest,
            "detail": row.detail}


def _plain_hash(prev: str, fields: dict) -> str:
    """What someone with the database but not the key computes (the chain's hash before the key)."""
    return hashlib.sha256(prev.encode() + b"\n" + canonical_json(fields)).hexdigest()


def _keyed_hash(prev: str, fields: dict, key: str = TEST_AUDIT_KEY) -> str:
    return hmac.new(key.encode(), prev.encode() + b"\n" + canonical_json(fields), hashlib.sha256).hexdigest()


def _lift_triggers(session, database) -> None:
    """What an attacker with the database's owner rights does first (undone with the test's transaction)."""
    if database.dialect == "postgresql":
        for table in ("audit_entry", "audit_head"):
            session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
    else:
        for (name,) in session.execute(text("SELECT name FROM sqlite_master WHERE type = 'trigger' "
                                            "AND tbl_name IN ('audit_entry', 'audit_head')")).all():
            session.execute(text(f'DROP TRIGGER "{name}"'))


def _head(session) -> tuple[int, str]:
    return session.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()


def _rows(session, first_id):
    return session.execute(text("SELECT * FROM audit_entry WHERE id >= :i ORDER BY id"), {"i": first_id}).all()


def _rewrite_from(session, first_id, label, hasher):
    """Rewrite entry ``first_id`` and re-hash it and every later one with ``hasher``; move the head."""
    prev = session.scalar(text("SELECT prev_hash FROM audit_entry WHERE id = :i"), {"i": first_id})
    for row in _rows(session, first_id):
        entry = session.get(AuditEntry, row.id, populate_existing=True)
        fields = _fields(entry)
        if row.id == first_id:
            fields["actor_label"] = label
        new_hash = hasher(prev, fields)
        session.execute(text("UPDATE audit_entry SET actor_label = :l, prev_hash = :p, hash = :h WHERE id = :i"),
                        {"l": fields["actor_label"], "p": prev, "h": new_hash, "i": row.id})
        prev = new_hash
    session.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})


@pytest.fixture()
def anchor_file(database, tmp_path):
    """The suite's audit settings with an anchor file, for one test."""
    old = keys._BY_ENGINE.get(database.engine)
    path = tmp_path / "audit-anchors.jsonl"
    keys.configure(database.engine, keys.AuditSettings(key=TEST_AUDIT_KEY.encode(), anchor_file=path,
                                                       anchor_every=0, anchor_minutes=0))
    yield path
    keys.configure(database.engine, old)


def _verify_cli(app, *args):
    return app.test_cli_runner().invoke(args=["audit", "verify", *args])


# --- the chain ------------------------------------------------------------------------------

def test_chain_links_and_verifies(db_session):
    entries = _entries(db_session, 5)
    db_session.commit()
    assert [e.id for e in entries] == list(range(entries[0].id, entries[0].id + 5))
    for prev, nxt in zip(entries, entries[1:]):
        assert nxt.prev_hash == prev.hash
    report = audit.verify_chain(db_session)
    assert report.ok and report.checked == entries[-1].id and report.broken_at is None
    assert (report.head_seq, report.head_hash) == (entries[-1].id, entries[-1].hash)


def test_entries_are_keyed_with_the_audit_key(db_session):
    entry = _entries(db_session, 1)[0]
    db_session.commit()
    assert entry.hash == _keyed_hash(entry.prev_hash, _fields(entry))
    assert entry.hash != _plain_hash(entry.prev_hash, _fields(entry))
    # the same chain read with another key is broken at its first keyed entry
    other = keys.AuditSettings(key=b"another-key-of-at-least-32-characters!")
    old = keys.settings_for(db_session)
    keys.configure(db_session.get_bind().engine, other)
    try:
        report = audit.verify_chain(db_session)
    finally:
        keys.configure(db_session.get_bind().engine, old)
    assert not report.ok and report.broken_at == 1 and "审计密钥" in report.reason


def test_verify_finds_a_row_altered_behind_the_applications_back(db_session, database):
    entries = _entries(db_session, 4)
    db_session.commit()
    victim = entries[2]
    _lift_triggers(db_session, database)
    db_session.execute(text("UPDATE audit_entry SET actor_label = 'someone else' WHERE id = :id"), {"id": victim.id})
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at == victim.id
    assert f"第 {victim.id} 条" in report.reason


def test_verify_finds_a_deleted_row(db_session, database):
    entries = _entries(db_session, 3)
    db_session.commit()
    _lift_triggers(db_session, database)
    db_session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": entries[1].id})
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at == entries[1].id and "缺失" in report.reason


def test_verify_finds_a_deleted_last_row(db_session, database):
    entries = _entries(db_session, 3)
    db_session.commit()
    _lift_triggers(db_session, database)
    db_session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": entries[-1].id})
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at == entries[-1].id and "链头" in report.reason


# --- the database refuses, on both backends -------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE audit_entry SET action = 'x' WHERE id = :id",
    "DELETE FROM audit_entry WHERE id = :id",
])
def test_the_database_refuses_update_and_delete_of_entries(db_session, database, statement):
    entry = _entries(db_session, 2)[0]
    db_session.commit()
    with pytest.raises(DBAPIError, match="append-only"):
        with db_session.begin_nested():
            db_session.execute(text(statement), {"id": entry.id})
    assert db_session.get(AuditEntry, entry.id, populate_existing=True).action == "test.change"


@pytest.mark.parametrize("statement", [
    "UPDATE audit_head SET seq = seq - 1, hash = :prev WHERE id = 1",    # moved back
    "UPDATE audit_head SET hash = :prev WHERE id = 1",                   # hash changed in place
    "UPDATE audit_head SET seq = seq + 1 WHERE id = 1",                  # forward onto nothing
    "UPDATE audit_head SET seq = seq + 2, hash = :h WHERE id = 1",       # a jump
    "UPDATE audit_head SET legacy_seq = seq WHERE id = 1",               # the unkeyed part grown
    "DELETE FROM audit_head",
])
def test_the_database_refuses_improper_head_moves(db_session, database, statement):
    entries = _entries(db_session, 2)
    db_session.commit()
    with pytest.raises(DBAPIError, match="audit_head only moves forward"):
        with db_session.begin_nested():
            db_session.execute(text(statement), {"prev": entries[0].hash, "h": "f" * 64})
    assert tuple(_head(db_session)) == (entries[-1].id, entries[-1].hash)


def test_the_database_refuses_an_entry_off_the_head(db_session, database):
    last = _entries(db_session, 2)[-1]
    db_session.commit()
    values = {"at": last.at, "actor_label": "x", "action": "x", "entity_type": "x"}
    for position, prev in ((last.id + 2, last.hash), (last.id + 1, "e" * 64)):
        with pytest.raises(DBAPIError, match="append at the head only"):
            with db_session.begin_nested():
                db_session.add(AuditEntry(id=position, prev_hash=prev, hash="d" * 64, **values))
                db_session.flush()


# --- tampering done with care (issue 6 §1.4): each one named at its first broken link ---------

def test_deleting_the_last_row_and_moving_the_head_back_is_found(app, db_session, database, anchor_file):
    entries = _entries(db_session, 3)
    db_session.commit()
    result = _verify_cli(app)  # the operator's check: whole, and the head is written down outside
    assert result.exit_code == 0, result.output
    assert f"已在锚点文件中记下第 {entries[-1].id} 条" in result.output
    _lift_triggers(db_session, database)
    db_session.execute(text("DELETE FROM audit_entry WHERE id = :id"), {"id": entries[-1].id})
    db_session.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                       {"s": entries[-2].id, "h": entries[-2].hash})
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at == entries[-1].id
    assert f"第 {entries[-1].id} 至第 {entries[-1].id} 条记录已不存在" in report.reason
    result = _verify_cli(app)
    assert result.exit_code == 1 and "审计链断裂" in result.output and "链尾被删除" in result.output


def test_an_appended_row_with_a_correctly_computed_hash_is_found(db_session, database):
    entries = _entries(db_session, 3)
    db_session.commit()
    seq, head_hash = _head(db_session)
    forged = AuditEntry(id=seq + 1, at=entries[-1].at, actor_id=None, actor_label="系统", action="user.create",
                        entity_type="user", entity_id="999", department_id=None, before_digest=None,
                        after_digest=None, detail=None, prev_hash=head_hash)
    forged.hash = _plain_hash(head_hash, _fields(forged))
    # the triggers let an append at the head through, as they must for the application
    db_session.add(forged)
    db_session.flush()
    db_session.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": forged.id, "h": forged.hash})
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at == forged.id
    assert f"第 {forged.id} 条记录的内容与其哈希不符" in report.reason


def test_a_row_rewritten_and_every_later_one_rehashed_is_found(db_session, database):
    entries = _entries(db_session, 5)
    db_session.commit()
    _lift_triggers(db_session, database)
    _rewrite_from(db_session, entries[1].id, "someone else", _plain_hash)
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at == entries[1].id
    assert f"第 {entries[1].id} 条记录的内容与其哈希不符" in report.reason


def test_with_a_stolen_key_a_rewrite_past_an_anchor_is_still_found(db_session, database, anchor_file):
    entries = _entries(db_session, 5)
    db_session.commit()
    settings = keys.settings_for(db_session)
    anchors.append(settings, entries[3].id, entries[3].hash, 0)
    _lift_triggers(db_session, database)
    _rewrite_from(db_session, entries[1].id, "someone else", _keyed_hash)
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at == entries[3].id and report.anchors == 1
    assert f"第 1 至第 {entries[3].id} 条之间的记录被改写" in report.reason and "锚点文件" in report.reason


def test_a_published_draw_record_anchors_the_chain(app, db_session, database, tmp_path):
    entries = _entries(db_session, 3)
    db_session.commit()
    record = tmp_path / "record.json"
    record.write_text(json.dumps({"algorithm": "dsr/v1", "audit_anchor": {
        "commit": {"seq": entries[1].id, "hash": entries[1].hash, "at": "2026-01-01T00:00:00+00:00"},
        "seed": None}}), encoding="utf-8")
    result = _verify_cli(app, "--record", str(record))
    assert result.exit_code == 0 and "核对锚点 1 个" in result.output, result.output
    _lift_triggers(db_session, database)
    db_session.execute(text("DELETE FROM audit_entry WHERE id >= :id"), {"id": entries[1].id})
    db_session.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                       {"s": entries[0].id, "h": entries[0].hash})
    result = _verify_cli(app, "--record", str(record))
    assert result.exit_code == 1 and "摇号记录 record.json 的 commit 锚点" in result.output, result.output


# --- the anchor file -------------------------------------------------------------------------

def test_the_anchor_file_is_chained_and_keyed(db_session, anchor_file):
    entries = _entries(db_session, 3)
    db_session.commit()
    settings = keys.settings_for(db_session)
    for e in entries:
        anchors.append(settings, e.id, e.hash, 0)
    assert anchor_file.stat().st_mode & 0o777 == 0o600
    found, problem = anchors.read(settings)
    assert problem is None and [a.seq for a in found] == [e.id for e in entries]
    assert audit.verify_chain(db_session).ok
    lines = anchor_file.read_text().splitlines()

    anchor_file.write_text("\n".join([lines[0], lines[2]]) + "\n")  # a line taken out
    report = audit.verify_chain(db_session)
    assert not report.ok and report.broken_at is None and "第 2 行与上一行不相接" in report.reason

    edited = json.loads(lines[1])
    edited["seq"] = 1
    anchor_file.write_text("\n".join([lines[0], json.dumps(edited), lines[2]]) + "\n")  # a line edited
    report = audit.verify_chain(db_session)
    assert not report.ok and "第 2 行的校验码不符" in report.reason

    anchor_file.write_text(lines[0] + "\nnot json\n")
    assert "第 2 行无法读取" in audit.verify_chain(db_session).reason


def test_anchors_are_written_after_commit_only(committed_db, tmp_path):
    from tests.conftest import make_test_app

    path = tmp_path / "anchors.jsonl"
    old = keys._BY_ENGINE.get(committed_db.engine)
    make_test_app(committed_db, tmp_path, AUDIT_ANCHOR_FILE=str(path), AUDIT_ANCHOR_EVERY=2,
                  AUDIT_ANCHOR_MINUTES=0)
    try:
        for _ in range(3):
            with committed_db.session_scope() as session:
                _entries(session, 1)
        with pytest.raises(RuntimeError):
            with committed_db.session_scope() as session:
                _entries(session, 1)  # position 4: due, but rolled back
                raise RuntimeError("the change fails")
        with committed_db.session_scope() as session:
            _entries(session, 1)
            session.flush()
            assert [a.seq for a in anchors.read(keys.settings_for(session))[0]] == [2]  # not before the commit
        with committed_db.session_scope() as session:
            found, problem = anchors.read(keys.settings_for(session))
            assert problem is None and [(a.seq, a.legacy_seq) for a in found] == [(2, 0), (4, 0)]
            assert found[1].hash == session.get(AuditEntry, 4).hash
            report = audit.verify_chain(session)
            assert report.ok and report.anchors == 2 and report.checked == 4
    finally:
        keys.configure(committed_db.engine, old)


# --- the API ---------------------------------------------------------------------------------

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


def test_audit_list_is_scoped(client, factory, auth, db_session):
    dept, other = factory.department(), factory.department()
    mine = _entries(db_session, 2, department_id=dept.id)
    theirs = _entries(db_session, 2, department_id=other.id)
    unowned = _entries(db_session, 1)
    _, headers = auth.as_role(Role.DEPT_ADMIN, dept)
    r = client.get(f"/api/v1/audit?department_id={other.id}", headers=headers)
    assert r.status_code == 403 and r.json["code"] == "forbidden.department" and "items" not in r.json
    ids = lambda r: {e["id"] for e in r.json["items"]}  # noqa: E731
    for query in ({}, {"department_id": dept.id}):
        r = client.get("/api/v1/audit", query_string={**query, "page_size": 200}, headers=headers)
        assert r.status_code == 200
        assert {e.id for e in mine} <= ids(r) and not ids(r) & {e.id for e in theirs + unowned}
        assert all(e["department_id"] == dept.id for e in r.json["items"])
    # the supervisor reads all, or one department when asked
    _, supervisor = auth.as_role(Role.SUPERVISOR)
    everything = ids(client.get("/api/v1/audit?page_size=200", headers=supervisor))
    assert {e.id for e in mine + theirs + unowned} <= everything
    assert ids(client.get(f"/api/v1/audit?department_id={other.id}", headers=supervisor)) == {e.id for e in theirs}
    _, planner = auth.as_role(Role.PLANNER, dept)
    assert client.get("/api/v1/audit", headers=planner).status_code == 403


def test_audit_verify_cli(app, db_session, database):
    _entries(db_session, 2)
    db_session.commit()
    result = _verify_cli(app)
    assert result.exit_code == 0 and "审计链完整" in result.output
    _lift_triggers(db_session, database)
    db_session.execute(text("UPDATE audit_entry SET detail = NULL WHERE id = (SELECT max(id) FROM audit_entry)"))
    result = _verify_cli(app)
    assert result.exit_code == 1 and "审计链断裂" in result.output


def test_audit_verify_api_names_the_first_broken_link(client, auth, db_session, database):
    entries = _entries(db_session, 3)
    db_session.commit()
    _, headers = auth.as_role(Role.SUPERVISOR)
    r = client.get("/api/v1/audit/verify", headers=headers)
    assert r.status_code == 200 and r.json["ok"] is True and r.json["checked"] >= 3
    _lift_triggers(db_session, database)
    db_session.execute(text("UPDATE audit_entry SET actor_label = 'x' WHERE id = :i"), {"i": entries[0].id})
    r = client.get("/api/v1/audit/verify", headers=headers)
    assert r.json["ok"] is False and r.json["broken_at"] == entries[0].id
