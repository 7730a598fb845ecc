"""The chain written before the key (plain SHA-256) stays verifiable after the migration that keys it;
the first keyed entry seals the old ones."""
from __future__ import annotations

import datetime as dt
import hashlib

import pytest
from sqlalchemy import text

from backend import migrate
from backend.actor import Actor
from backend.audit import keys
from backend.audit import services as audit
from backend.audit.models import AuditEntry
from backend.db import Database
from sync.canonical import canonical_json
from tests.conftest import BACKENDS, TEST_AUDIT_KEY, drop_pg_database, new_database_url


def _legacy_append(conn, n: int) -> None:
    """Entries as the code before the key wrote them."""
    seq, prev = conn.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
    for _ in range(n):
        seq += 1
        at = dt.datetime(2026, 11, 1, 8, 0, seq, tzinfo=dt.timezone.utc)
        fields = {"id": seq, "at": at, "actor_id": None, "actor_label": "cli:root", "action": "user.create",
                  "entity_type": "user", "entity_id": str(seq), "department_id": None, "before": None,
                  "after": None, "detail": None}
        h = hashlib.sha256(prev.encode() + b"\n" + canonical_json(fields)).hexdigest()
        conn.execute(text("INSERT INTO audit_entry (id, at, actor_label, action, entity_type, entity_id, "
                          "prev_hash, hash) VALUES (:id, :at, 'cli:root', 'user.create', 'user', :e, :p, :h)"),
                     {"id": seq, "at": at if conn.dialect.name == "postgresql" else at.replace(tzinfo=None),
                      "e": str(seq), "p": prev, "h": h})
        conn.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": seq, "h": h})
        prev = h


@pytest.mark.parametrize("backend", BACKENDS)
def test_old_entries_keep_their_hashes_and_are_sealed_by_the_first_keyed_one(backend, tmp_path_factory):
    url = new_database_url(backend, tmp_path_factory, "audmig")
    migrate.upgrade(url, "0002")
    db = Database(url)
    keys.configure(db.engine, keys.AuditSettings(key=TEST_AUDIT_KEY.encode()))
    try:
        with db.engine.begin() as conn:
            _legacy_append(conn, 3)
        migrate.upgrade(url)
        with db.session_scope() as session:
            assert session.execute(text("SELECT legacy_seq, seq FROM audit_head")).one() == (3, 3)
            report = audit.verify_chain(session)
            assert report.ok and report.checked == 3 and report.legacy_seq == 3
            keyed = [audit.record(session, Actor.system("test"), "test.change", "thing", i) for i in range(2)]
        assert [e.id for e in keyed] == [4, 5] and keyed[0].prev_hash == report.head_hash
        with db.session_scope() as session:
            assert audit.verify_chain(session).ok
        # an old entry rewritten and every later one re-hashed the old way (by someone who lifted the
        # triggers): the old entries agree with each other again, but the first keyed one does not
        session = db.session()
        try:
            if backend == "postgresql":
                session.execute(text("ALTER TABLE audit_entry DISABLE TRIGGER USER"))
                session.execute(text("ALTER TABLE audit_head DISABLE TRIGGER USER"))
            else:
                for name in ("audit_entry_no_update", "audit_head_forward_only"):
                    session.execute(text(f"DROP TRIGGER {name}"))
            session.execute(text("UPDATE audit_entry SET actor_label = 'someone' WHERE id = 2"))
            report = audit.verify_chain(session)
            assert not report.ok and report.broken_at == 2
            prev = session.get(AuditEntry, 2).prev_hash
            for position in range(2, 6):
                entry = session.get(AuditEntry, position, populate_existing=True)
                new_hash = audit.entry_hash(prev, audit._hashed_fields(entry), None)
                session.execute(text("UPDATE audit_entry SET prev_hash = :p, hash = :h WHERE id = :i"),
                                {"p": prev, "h": new_hash, "i": position})
                prev = new_hash
            session.execute(text("UPDATE audit_head SET hash = :h WHERE id = 1"), {"h": prev})
            report = audit.verify_chain(session)
            assert not report.ok and report.broken_at == 4 and "内容与其哈希不符" in report.reason
        finally:
            session.rollback()
            session.close()
    finally:
        db.engine.dispose()
        if backend == "postgresql":
            drop_pg_database(url)
