"""The store's lock (``backend.media.holders``): a clean-up checks who names a file and removes it while no
writer may store bytes and record who names them, and the other way round. Seen from a second connection, with
real commits, on both databases (PostgreSQL: an advisory lock; SQLite: the write lock)."""
from __future__ import annotations

import sqlite3

from sqlalchemy import text

from backend.media import holders, storage


def _may(database, *, shared: bool) -> bool:
    """Whether another connection could take the store's lock now (without waiting)."""
    if database.dialect == "postgresql":
        fn = "pg_try_advisory_xact_lock_shared" if shared else "pg_try_advisory_xact_lock"
        with database.engine.connect() as conn:
            got = conn.execute(text(f"SELECT {fn}(:space, 1)"), {"space": holders.LOCK_SPACE}).scalar()
            conn.rollback()
        return bool(got)
    raw = database.engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("PRAGMA busy_timeout=0")
        try:
            cur.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            assert "locked" in str(exc)
            return False
        cur.execute("ROLLBACK")
        return True
    finally:
        raw.invalidate()     # not back to the pool with a busy timeout of 0


def test_a_removal_checks_and_removes_while_no_writer_may_store(committed_db, tmp_path, monkeypatch):
    store = storage.LocalStore(tmp_path)
    shas = [store.put_bytes(b"file %d" % i) for i in range(3)]
    seen = []
    monkeypatch.setattr(holders, "before_remove", lambda session, gone: seen.append((
        sorted(gone), _may(committed_db, shared=True))))
    assert _may(committed_db, shared=True)
    session = committed_db.session()
    try:
        removed = holders.remove_unnamed(session, store, shas)
    finally:
        session.close()
    assert seen == [(sorted(shas), False)]                    # the writers waited while it checked and removed
    assert sorted(removed) == sorted(shas) and not any(store.exists(s) for s in shas)
    assert _may(committed_db, shared=True)                    # released by its commit


def test_a_writer_stores_while_no_removal_may_check(committed_db):
    assert _may(committed_db, shared=False)
    session = committed_db.session()
    try:
        holders.writing(session)
        assert not _may(committed_db, shared=False)
        if committed_db.dialect == "postgresql":
            assert _may(committed_db, shared=True)            # writers do not wait for one another
        session.commit()
        assert _may(committed_db, shared=False)
    finally:
        session.close()


def test_a_long_removal_takes_the_lock_a_chunk_at_a_time(committed_db, tmp_path, monkeypatch):
    """Past ``CHUNK`` hashes the lock is taken and released per chunk (the writers wait one chunk at most)."""
    monkeypatch.setattr(holders, "CHUNK", 2)
    store = storage.LocalStore(tmp_path)
    shas = sorted(store.put_bytes(b"chunked %d" % i) for i in range(5))
    chunks = []
    monkeypatch.setattr(holders, "before_remove", lambda session, gone: chunks.append(sorted(gone)))
    session = committed_db.session()
    try:
        holders.remove_unnamed(session, store, shas)
    finally:
        session.close()
    assert chunks == [shas[0:2], shas[2:4], shas[4:]]


def test_a_removal_waits_for_the_writers_without_holding_up_the_next_ones(committed_db, tmp_path, monkeypatch):
    """A writer holds the lock: the removal waits for it (PostgreSQL: it tries again, never queueing, so a writer
    arriving meanwhile is not held up behind it), then removes."""
    import threading

    store = storage.LocalStore(tmp_path)
    sha = store.put_bytes(b"removed once the writer is done")
    trying = threading.Event()
    wait = holders._wait

    def tried():
        trying.set()
        wait()

    monkeypatch.setattr(holders, "_wait", tried)
    writer = committed_db.session()
    holders.writing(writer)
    removed, failed = {}, []

    def remove():
        session = committed_db.session()
        try:
            removed.update(holders.remove_unnamed(session, store, [sha]))
        except Exception as exc:  # noqa: BLE001 - reported by the test
            failed.append(exc)
        finally:
            session.close()

    thread = threading.Thread(target=remove)
    thread.start()
    try:
        if committed_db.dialect == "postgresql":
            assert trying.wait(60)                              # the removal is waiting for the writer
            assert _may(committed_db, shared=True)              # another writer goes ahead at once
            assert store.exists(sha)
    finally:
        writer.commit()
        writer.close()
        thread.join(60)
    assert not thread.is_alive() and not failed and sha in removed and not store.exists(sha)
