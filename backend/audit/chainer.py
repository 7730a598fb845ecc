"""The chainer (PostgreSQL): pending audit entries linked into the chain after their transaction commits.

A push (``backend.inspections.batch``) does not append its audit entry and its change rows itself: that needs the
two global rows ``audit_head`` and ``sync_head``, and holding them from its last statement to its commit (the WAL
flush) made every push on the server wait for the one before it (about 100 a second, the cores two thirds idle).
It writes ONE ``chain_pending`` row instead — the entry's fields, its change rows, a MAC under the audit key — and
touches no global row, so pushes commit in parallel (the WAL flush of many shared: group commit).

Right after its commit, and before it answers, the push runs :func:`run`: one short transaction that takes the
chainer's lock (a transaction advisory lock), reads the pending rows in id order (those committed; each locked,
so that a row linked by the chainer before is skipped), takes the audit head's row lock (the lock ``record`` waits for),
hashes each entry exactly as ``record`` would at the next positions, and in one statement writes the entries,
moves the audit head onto the last, numbers the change rows from ``sync_head`` and writes them, moves the sync
head, and deletes the pending rows; then commits. A push that waited for the lock while another linked its row
finds nothing left: it reads, writes nothing and commits without a WAL flush. Under load one run links the rows
of every push that committed meanwhile.

Guarantees kept: a push's answer comes after its entry is in the chain and its changes are numbered; a change is
visible to pulls only once numbered, and numbers are handed out under the heads' locks in the chainer's commit
order, so a pull that sees number n sees every number below it. A row left by a crash between a push's commit and
its run is linked by the next run (any push's, ``shuangsui audit chain``, ``shuangsui audit verify``).

Lock order, as everywhere: the chainer's lock, the pending rows, the audit head, the sync head. ``record``
(every other writer of the chain) takes the audit head then the sync head and never the chainer's lock or a
pending row, so the two never wait for each other in a cycle.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
import re
from typing import Any, Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import anchors
from backend.audit.keys import settings_for
from backend.audit.services import _info, entry_hash
from sync.canonical import canonical_json, plain, sha256_hex

log = logging.getLogger(__name__)

LOCK_SPACE = 0x41554449          # "AUDI": pg_advisory_xact_lock(LOCK_SPACE, 1), the chainer's lock
BATCH = 500                      # pending rows linked by one transaction at most
REFUSED = "audit.pending_refused"
_MAC_FIELDS = ("at", "actor_id", "actor_label", "action", "entity_type", "entity_id", "department_id", "detail",
               "changes")


def pending_mac(key: bytes, fields: dict) -> str:
    """HMAC-SHA256 under the audit key of a pending row's content (``_MAC_FIELDS``)."""
    # the time as its canonical text: the rest is plain JSON then, written by the standard library's C encoder
    message = b"chain_pending\n" + canonical_json({**{k: fields[k] for k in _MAC_FIELDS}, "at": plain(fields["at"])})
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def pending(session: Session, actor: Actor, action: str, entity_type: str, entity_id: Any = None, *,
            detail: dict | None = None, department_id: int | None = None,
            changes: Iterable[tuple] = (), at: dt.datetime) -> dict:
    """A pending row's content: the entry's fields as ``record`` would write them (``_info``: the actor's address
    added), the change rows as ``[entity, inspection id, task id, reason]`` (duplicates collapse to one, as
    ``sync.changes.append`` does), and its MAC."""
    fields = {"at": at, "actor_id": actor.user_id, "actor_label": actor.label, "action": action,
              "entity_type": entity_type, "entity_id": None if entity_id is None else str(entity_id),
              "department_id": department_id, "detail": plain(_info(actor, None, None, detail)) or None,
              "changes": [list(c) for c in dict.fromkeys(tuple(c) for c in changes)] or None}
    fields["mac"] = pending_mac(settings_for(session).key, fields)
    return fields


# PostgreSQL: a pending row as a part (CTE) of the caller's write statement, written when ``{ok}`` holds
PENDING_CTE = (
    "chain_p AS (INSERT INTO chain_pending (at, actor_id, actor_label, action, entity_type, entity_id, department_id, "
    "detail, changes, mac) SELECT CAST(:cp_at AS timestamptz), CAST(:cp_actor_id AS integer), :cp_actor_label, "
    ":cp_action, :cp_entity_type, :cp_entity_id, CAST(:cp_department_id AS integer), CAST(:cp_detail AS json), "
    "CAST(:cp_changes AS json), :cp_mac WHERE {ok} RETURNING id)")


def pending_params(fields: dict) -> dict:
    from backend.db import _json_dumps

    return {"cp_at": fields["at"], "cp_actor_id": fields["actor_id"], "cp_actor_label": fields["actor_label"],
            "cp_action": fields["action"], "cp_entity_type": fields["entity_type"],
            "cp_entity_id": fields["entity_id"], "cp_department_id": fields["department_id"],
            "cp_detail": None if fields["detail"] is None else _json_dumps(fields["detail"]),
            "cp_changes": None if fields["changes"] is None else _json_dumps(fields["changes"]),
            "cp_mac": fields["mac"]}


# the chainer's lock, the pending rows (locked: one linked meanwhile by the lock's last holder is skipped, though
# this statement's snapshot, taken before the lock was granted, still shows it) and the audit head's row lock (the
# one ``record``'s UPDATE takes) and value, the latter only when there is a row to link (else nothing is locked nor
# written: no WAL flush at commit); a row lock, not a touch: the head gets one new version a run, by the write
_READ = text(
    "WITH p AS MATERIALIZED (SELECT id, at, actor_id, actor_label, action, entity_type, entity_id, department_id, "
    "detail, changes, mac FROM chain_pending WHERE (SELECT pg_advisory_xact_lock(:space, 1)) IS NOT NULL "
    "ORDER BY id LIMIT :limit FOR UPDATE), "
    "h AS MATERIALIZED (SELECT seq, hash FROM audit_head WHERE id = 1 AND EXISTS (SELECT 1 FROM p) FOR UPDATE) "
    "SELECT p.id, p.at, p.actor_id, p.actor_label, p.action, p.entity_type, p.entity_id, p.department_id, "
    "p.detail, p.changes, p.mac, h.seq, h.hash FROM p, h ORDER BY p.id")

_ENTRIES = (
    "audit_e AS (INSERT INTO audit_entry (id, at, actor_id, actor_label, action, entity_type, entity_id, "
    "department_id, detail, prev_hash, hash, pending_id) SELECT v.id, v.at, v.actor_id, v.actor_label, v.action, "
    "v.entity_type, v.entity_id, v.department_id, v.detail, v.prev_hash, v.hash, v.pending_id FROM "
    "json_to_recordset(CAST(:entries AS json)) AS v(id bigint, at timestamptz, actor_id integer, actor_label varchar, "
    "action varchar, entity_type varchar, entity_id varchar, department_id integer, detail json, prev_hash varchar, "
    "hash varchar, pending_id bigint) ORDER BY v.id RETURNING pending_id)",
    # the head's move and the rows' deletion read the entries' RETURNING: the entries are written first (the
    # triggers see them)
    "audit_h AS (UPDATE audit_head SET seq = :head_seq, hash = :head_hash WHERE id = 1 "
    "AND (SELECT count(*) FROM audit_e) = :n_entries)",
    "gone AS (DELETE FROM chain_pending WHERE id IN (SELECT pending_id FROM audit_e))",
)
_CHANGES = (
    "sync_h AS (UPDATE sync_head SET seq = seq + :n_changes WHERE id = 1 RETURNING seq)",
    "sync_x AS (INSERT INTO sync_change (seq, entity, inspection_id, task_id, reason, at) "
    "SELECT sync_h.seq - :n_changes + v.n, v.entity, v.inspection_id, v.task_id, v.reason, v.at FROM sync_h, "
    "json_to_recordset(CAST(:changes AS json)) AS v(n integer, entity varchar, inspection_id integer, "
    "task_id integer, reason varchar, at timestamptz))",
)
_WRITE = {has_changes: text("WITH " + ", ".join(_ENTRIES + (_CHANGES if has_changes else ())) + " SELECT 0")
          for has_changes in (False, True)}
# the same statements for the raw psycopg connection (``commit_and_link``): SQLAlchemy's ``text`` execution and
# result processing cost more than the statements themselves here
_READ_RAW = re.sub(r":(\w+)", r"%(\1)s", _READ.text)
_WRITE_RAW = {k: re.sub(r":(\w+)", r"%(\1)s", v.text) for k, v in _WRITE.items()}
COMMIT_FIRST = "chainer.commit_first"   # session.info: the caller's COMMIT, sent by ``after_commit`` (see there)


def run(session: Session, mine: int | None = None, limit: int = BATCH) -> int:
    """Link the pending rows into the chain, ``limit`` at most a transaction, each committed; return how many.
    ``mine``: a pending row the caller wrote (a push): done once it is linked (by this run or another); without
    it, until none is left. Outside PostgreSQL nothing is pending (SQLite appends as it writes)."""
    if session.get_bind().dialect.name != "postgresql":
        return 0
    settings = settings_for(session)
    linked = 0
    while True:
        rows = session.execute(_READ, {"space": LOCK_SPACE, "limit": limit}).all()
        if not rows:
            session.commit()              # the lock released; nothing was written
            return linked
        statement, params, due = _link(settings, rows)
        _write_and_commit(session, statement, params, due, settings)
        linked += len(rows)
        if len(rows) < limit or (mine is not None and mine <= rows[-1].id):
            return linked


def _link(settings, rows) -> tuple:
    """The write statement linking ``rows`` (read with the head: ``seq``, ``hash``), its parameters, and whether
    an anchor is due."""
    from backend.db import _json_dumps

    seq, prev = rows[0].seq, rows[0].hash
    entries, changes, due = [], [], False
    for row in rows:
        at = row.at.astimezone(dt.timezone.utc)
        fields = {"at": at, "actor_id": row.actor_id, "actor_label": row.actor_label, "action": row.action,
                  "entity_type": row.entity_type, "entity_id": row.entity_id, "department_id": row.department_id,
                  "detail": row.detail, "changes": row.changes}
        if not hmac.compare_digest(pending_mac(settings.key, fields), row.mac or ""):
            # written in the database without the key: recorded as refused, its changes not numbered
            log.error("审计待入链记录 %s 的校验码不符，已拒绝入链", row.id)
            fields = {"at": at, "actor_id": None, "actor_label": "chainer", "action": REFUSED,
                      "entity_type": "chain_pending", "entity_id": str(row.id), "department_id": None,
                      "detail": {"reason": "mac", "row": sha256_hex(canonical_json(
                          {**{k: fields[k] for k in _MAC_FIELDS}, "mac": row.mac}))}, "changes": None}
        seq += 1
        # ``record``'s fields (``_hashed_fields``), the time as its canonical text (the same bytes, hashed faster)
        hashed = {"id": seq, "at": plain(at), "actor_id": fields["actor_id"], "actor_label": fields["actor_label"],
                  "action": fields["action"], "entity_type": fields["entity_type"], "entity_id": fields["entity_id"],
                  "department_id": fields["department_id"], "before": None, "after": None,
                  "detail": fields["detail"]}
        digest = entry_hash(prev, hashed, settings.key)
        entries.append({**{k: v for k, v in hashed.items() if k not in ("before", "after")},
                        "prev_hash": prev, "hash": digest, "pending_id": row.id})
        prev = digest
        due = due or anchors.is_due(settings, seq, fields["action"])
        for entity, inspection_id, task_id, reason in fields["changes"] or ():
            changes.append({"n": len(changes) + 1, "entity": entity, "inspection_id": inspection_id,
                            "task_id": task_id, "reason": reason, "at": hashed["at"]})
    params = {"entries": _json_dumps(entries), "head_seq": seq, "head_hash": prev, "n_entries": len(entries)}
    if changes:
        params.update({"n_changes": len(changes), "changes": _json_dumps(changes)})
    return _WRITE[bool(changes)], params, due


def _write_and_commit(session: Session, statement, params: dict, due: bool, settings) -> None:
    """The write statement and COMMIT in one round trip (psycopg's pipeline mode; the locks held the shortest
    time). A session inside a savepoint (the tests' shared transaction) sends the statement and leaves the end to
    ``session.commit``."""
    if due:
        anchors.mark_due(session, settings)
    conn = session.connection()
    root = not conn.in_nested_transaction() and not isinstance(session.bind, Connection)
    if not root:
        session.execute(statement, params)
        session.commit()
        return
    import psycopg

    raw = conn.connection.driver_connection
    try:
        with raw.pipeline():
            conn.execute(statement, params)
            raw.execute("COMMIT", prepare=False)
    except psycopg.Error as exc:          # answered at the pipeline's end: wrapped as SQLAlchemy would
        if conn.dialect.is_disconnect(exc, raw, None):
            conn.invalidate(exc)
        raise DBAPIError.instance("COMMIT", None, exc, psycopg.Error, dialect=conn.dialect) from exc
    session.commit()                      # the ORM's bookkeeping (and the anchor, when due): no round trip


def after_commit(session: Session, mine: int) -> None:
    """A push's run after its commit, before it answers. Its writes are committed whatever happens here: should
    the run fail (the database gone away…), the row stays pending and the next run links it; logged.

    When the caller left its COMMIT to this run (``session.info[COMMIT_FIRST]``: a function that queues the
    caller's last statements and COMMIT in a pipeline and returns COMMIT's cursor), it is sent with this run's
    BEGIN and first statement in one round trip (``commit_and_link``). An error of the caller's statements or
    COMMIT is raised as SQLAlchemy raises it (nothing of the caller kept); one after COMMIT is the run's."""
    send = session.info.pop(COMMIT_FIRST, None)
    if send is not None:
        rows = commit_and_read(session, send)        # raises when the caller's COMMIT did not succeed
        try:
            if rows is None or link_read(session, rows, mine):
                return
        except Exception:  # noqa: BLE001 - committed already; the next run links the row
            _end_raw(session)
            log.exception("审计记录入链失败（待入链记录 %s 留待下次入链）", mine)
            return
    try:
        run(session, mine)
    except Exception:  # noqa: BLE001 - committed already; the next run links the row
        session.rollback()
        log.exception("审计记录入链失败（待入链记录 %s 留待下次入链）", mine)


def _raw(session: Session):
    conn = session.connection()
    return conn, conn.connection.driver_connection


def commit_and_read(session: Session, send) -> list | None:
    """The caller's statements and COMMIT (queued by ``send``), then this run's BEGIN and read (``_READ``), in
    one pipeline on the session's psycopg connection: one round trip. Returns the rows read (the run's
    transaction left open on the raw connection, the session's not yet told its transaction ended), or None when
    the read failed after COMMIT succeeded (logged; the connection's state settled). Raises as SQLAlchemy would
    when anything before COMMIT's end failed (the server skipped the rest: nothing committed)."""
    import psycopg
    from psycopg.rows import namedtuple_row

    conn, raw = _raw(session)
    committed = None
    read = raw.cursor(row_factory=namedtuple_row)
    try:
        with raw.pipeline():
            committed = send(conn, raw)
            raw.execute("BEGIN", prepare=False)
            read.execute(_READ_RAW, {"space": LOCK_SPACE, "limit": BATCH})
    except psycopg.Error as exc:          # answered at the pipeline's end
        res = committed.pgresult if committed is not None else None
        if res is None or res.status != psycopg.pq.ExecStatus.COMMAND_OK:   # the caller's: wrapped as SQLAlchemy would
            if conn.dialect.is_disconnect(exc, raw, None):
                conn.invalidate(exc)
            raise DBAPIError.instance("COMMIT", None, exc, psycopg.Error, dialect=conn.dialect) from exc
        log.exception("审计记录入链失败（读取待入链记录时出错，留待下次入链）")
        _end_raw(session)
        return None
    return read.fetchall()


def link_read(session: Session, rows: list, mine: int) -> bool:
    """``run``'s first step on the raw connection for the rows ``commit_and_read`` read: their entries written and
    COMMIT in one round trip (nothing read: the lock released), then the session told its transaction ended (no
    round trip). Returns whether the run is over (else ``run`` goes on: more than a batch was pending)."""
    import psycopg

    conn, raw = _raw(session)
    if not rows:
        raw.execute("COMMIT", prepare=False)     # the lock released; nothing was written
        session.commit()                          # the ORM's bookkeeping: no round trip
        return True
    settings = settings_for(session)
    statement, params, due = _link(settings, rows)
    try:
        with raw.pipeline():
            raw.execute(_WRITE_RAW[statement is _WRITE[True]], params)
            raw.execute("COMMIT", prepare=False)
    except psycopg.Error as exc:
        if conn.dialect.is_disconnect(exc, raw, None):
            conn.invalidate(exc)
        raise DBAPIError.instance("COMMIT", None, exc, psycopg.Error, dialect=conn.dialect) from exc
    if due:
        anchors.mark_due(session, settings)
    session.commit()                              # the ORM's bookkeeping (and the anchor, when due): no round trip
    return len(rows) < BATCH or mine <= rows[-1].id


def _end_raw(session: Session) -> None:
    """After a failure of the run on the raw connection (the caller's COMMIT done): its transaction rolled back,
    the session's ended (a connection gone away: invalidated, the session rolled back)."""
    import psycopg

    try:
        conn, raw = _raw(session)
        if not raw.closed and not conn.invalidated:
            raw.rollback()
            session.commit()                      # the ORM's bookkeeping: the connection is idle, no round trip
            return
    except (psycopg.Error, Exception):  # noqa: BLE001 - the connection is given up below
        pass
    try:
        session.rollback()
    except Exception:  # noqa: BLE001
        log.exception("审计入链失败后回滚会话出错")


def pending_count(session: Session) -> int:
    return int(session.execute(text("SELECT count(*) FROM chain_pending")).scalar_one())


def link_own(session: Session, pending_id: int, fields: dict) -> None:
    """Link the caller's own pending row (written by its transaction, not committed: no other run sees it) in its
    transaction, now: the audit head taken as ``record`` takes it, held to commit (``sync.changes`` sees it held)."""
    from types import SimpleNamespace

    from backend.audit.services import _TOUCH_HEAD

    seq, prev = session.execute(_TOUCH_HEAD).one()
    session.info["audit_head_tx"] = session.get_transaction()
    row = SimpleNamespace(id=pending_id, seq=seq, hash=prev, **{k: fields[k] for k in (*_MAC_FIELDS, "mac")})
    settings = settings_for(session)
    statement, params, due = _link(settings, [row])
    session.execute(statement, params)
    if due:
        anchors.mark_due(session, settings)
