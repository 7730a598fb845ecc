"""Pending audit entries (``chain_pending``, backend/audit/chainer.py) and the chain's triggers after migration
0025, on both backends: a pending row cannot be changed, nor removed before an entry of the chain names it, nor
the table emptied; a run of entries may be appended beyond the head, each on the one before it, and the head moved
onto its last — and nothing else."""
from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from backend.actor import Actor
from backend.audit import chainer
from backend.audit import services as audit
from backend.audit.keys import settings_for
from backend.audit.models import AuditEntry, AuditHead, ChainPending
from backend.db import utcnow


def _pending(session, note="x") -> int:
    fields = chainer.pending(session, Actor.system("test"), "sync.push", "sync_client", note,
                             detail={"inspections": [1]}, changes=[("inspection", 1, 1, "push")], at=utcnow())
    row = ChainPending(**fields)
    session.add(row)
    session.flush()
    return row.id


def _head(session):
    return session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()


def _append(session, seq, prev, pending_id=None, move=True) -> AuditEntry:
    """An entry at ``seq`` on ``prev`` (as ``record`` builds it), naming ``pending_id``; the head moved onto it."""
    entry = audit._entry(settings_for(session), seq, prev, Actor.system("test"), "test.change", "thing", seq,
                         None, None, {}, None)
    entry.pending_id = pending_id
    session.add(entry)
    session.flush()
    if move:
        session.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"), {"s": seq, "h": entry.hash})
    return entry


@pytest.mark.parametrize("statement", [
    "UPDATE chain_pending SET actor_label = 'someone else' WHERE id = :id",
    "DELETE FROM chain_pending WHERE id = :id",
])
def test_a_pending_row_cannot_be_changed_or_removed_before_it_is_linked(db_session, database, statement):
    pid = _pending(db_session)
    db_session.commit()
    with pytest.raises(DBAPIError, match="chain_pending"):
        with db_session.begin_nested():
            db_session.execute(text(statement), {"id": pid})
    assert db_session.get(ChainPending, pid, populate_existing=True).actor_label == "test"


def test_the_pending_table_cannot_be_emptied(db_session, database):
    if database.dialect != "postgresql":
        return                      # SQLite has no TRUNCATE (a DELETE is refused row by row, above)
    _pending(db_session)
    db_session.commit()
    with pytest.raises(DBAPIError, match="chain_pending"):
        with db_session.begin_nested():
            db_session.execute(text("TRUNCATE chain_pending"))


def test_a_linked_pending_row_may_go(db_session, database):
    pid = _pending(db_session)
    seq, prev = _head(db_session)
    _append(db_session, seq + 1, prev, pending_id=pid)
    db_session.execute(text("DELETE FROM chain_pending WHERE id = :id"), {"id": pid})
    assert db_session.get(ChainPending, pid, populate_existing=True) is None
    assert audit.verify_chain(db_session).ok


def test_a_run_of_entries_beyond_the_head_and_the_head_moved_onto_its_last(db_session, database):
    seq, prev = _head(db_session)
    first = _append(db_session, seq + 1, prev, move=False)
    second = _append(db_session, seq + 2, first.hash, move=False)     # on the entry beyond the head
    with pytest.raises(DBAPIError, match="append at the head only"):  # not on the entry before it
        with db_session.begin_nested():
            _append(db_session, seq + 3, first.hash, move=False)
    with pytest.raises(DBAPIError, match="audit_head only moves forward"):   # onto a hash that is not there
        with db_session.begin_nested():
            db_session.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                               {"s": seq + 2, "h": first.hash})
    db_session.execute(text("UPDATE audit_head SET seq = :s, hash = :h WHERE id = 1"),
                       {"s": seq + 2, "h": second.hash})
    assert tuple(_head(db_session)) == (seq + 2, second.hash)
    assert audit.verify_chain(db_session).ok


def test_verify_counts_the_pending_rows(db_session, database):
    before = audit.verify_chain(db_session).pending
    _pending(db_session)
    report = audit.verify_chain(db_session)
    assert report.ok and report.pending == before + 1
