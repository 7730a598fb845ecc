"""SQLite's writers queue instead of waiting out the busy timeout (backend/db.py): a write session begins with
``BEGIN IMMEDIATE``, so two threads that each read and then write take the lock in turn at their BEGIN and both
succeed at once; a reading session that writes is refused at once (the request layer runs it again as a writer,
backend/web.py), never after ``SQLITE_BUSY_TIMEOUT_S``."""
from __future__ import annotations

import threading
import time

from sqlalchemy import text

from backend.db import SQLITE_BUSY_TIMEOUT_S, Database, is_busy


def _db(tmp_path) -> Database:
    db = Database(f"sqlite:///{tmp_path}/writers.db")
    with db.session_scope() as s:
        s.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"))
        s.execute(text("INSERT INTO t VALUES (1, 0), (2, 0)"))
    return db


def _read_then_write(db: Database, row: int, *, write: bool, read: threading.Event | None = None,
                     go: threading.Event | None = None) -> None:
    with db.session_scope(write=write) as s:
        n = s.execute(text("SELECT n FROM t WHERE id = :i"), {"i": row}).scalar_one()
        if read is not None:
            read.set()
        if go is not None:
            go.wait(5)
        s.execute(text("UPDATE t SET n = :n WHERE id = :i"), {"n": n + 1, "i": row})


def test_two_writers_that_read_first_both_succeed_promptly(tmp_path):
    db = _db(tmp_path)
    first_read, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def first():
        try:
            _read_then_write(db, 1, write=True, read=first_read, go=release)
            outcome["first"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["first"] = exc

    def second():
        first_read.wait(5)
        started = time.monotonic()
        try:
            _read_then_write(db, 2, write=True)
            outcome["second"] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["second"] = exc
        outcome["waited"] = time.monotonic() - started

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for t in threads:
        t.start()
    first_read.wait(5)
    time.sleep(0.3)            # the second is now waiting at its BEGIN IMMEDIATE, holding nothing
    release.set()
    for t in threads:
        t.join(SQLITE_BUSY_TIMEOUT_S + 5)
    assert outcome["first"] == "ok" and outcome["second"] == "ok", outcome
    assert 0.2 < outcome["waited"] < 5, outcome     # it queued behind the first, then went on at once
    with db.session_scope(write=False) as s:
        assert s.execute(text("SELECT n FROM t ORDER BY id")).scalars().all() == [1, 1]
    db.engine.dispose()


def test_a_reading_session_that_writes_is_refused_at_once_not_after_the_timeout(tmp_path):
    db = _db(tmp_path)
    both_read, release = threading.Barrier(2, timeout=5), threading.Event()
    outcome: dict[int, object] = {}

    def reader(row: int):
        started = time.monotonic()
        try:
            with db.session_scope(write=False) as s:
                s.execute(text("SELECT n FROM t WHERE id = :i"), {"i": row}).scalar_one()
                both_read.wait()
                if row == 2:
                    release.wait(5)        # the first writes (and holds the lock) first
                s.execute(text("UPDATE t SET n = n + 1 WHERE id = :i"), {"i": row})
                if row == 1:
                    release.set()
                    time.sleep(0.2)
            outcome[row] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported below
            release.set()
            outcome[row] = exc
        outcome[row + 10] = time.monotonic() - started

    threads = [threading.Thread(target=reader, args=(row,)) for row in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(SQLITE_BUSY_TIMEOUT_S + 5)
    assert outcome[1] == "ok", outcome
    assert is_busy(outcome[2]), outcome             # refused: the request layer runs it again as a writer
    assert outcome[12] < 5, outcome
    db.engine.dispose()
