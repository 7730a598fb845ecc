"""The change sequence pulls page by.

``append`` gives each change the next numbers of the single ``sync_head`` row. Taking that row's
lock (an UPDATE) holds it until the transaction ends, so two transactions can never interleave
their numbers: sequence order is commit order, and a reader that sees change ``n`` sees every
change before it. (The usual trap: numbers from a database sequence are handed out at insert time
and can commit out of order, so a pull that saw 11 may have skipped a 10 still in flight.)

Lock order: the audit head first, then the sync head, always. ``append`` takes the audit head
itself before the sync head, so a transaction that writes audit entries after appending changes
cannot deadlock with one that appends after its audit entries. Call it last, just before commit:
the lock is held from here to the end of the transaction.
"""
from __future__ import annotations

from typing import Iterable, NamedTuple

from sqlalchemy import Select, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from backend.db import utcnow
from sync.models import SyncChange, SyncHead


class Change(NamedTuple):
    entity: str                      # inspection | task
    inspection_id: int | None
    task_id: int | None
    reason: str | None = None


def _lock_heads(session: Session, n: int) -> int:
    """Reserve ``n`` numbers; return the first. Holds both head row locks until commit."""
    from backend.audit.models import AuditHead

    tx = session.get_transaction()     # None when this is the transaction's first statement: not held then
    if tx is None or session.info.get("audit_head_tx") is not tx:  # the audit log appended: held already
        session.execute(select(AuditHead.id).where(AuditHead.id == 1).with_for_update())
    last = session.scalar(update(SyncHead).where(SyncHead.id == 1).values(seq=SyncHead.seq + n)
                          .returning(SyncHead.seq))
    return last - n + 1


def append(session: Session, changes: Iterable[Change]) -> list[int]:
    """Append the changes (duplicates within the call collapse to one); return their numbers."""
    unique = list(dict.fromkeys(changes))
    if not unique:
        return []
    first = _lock_heads(session, len(unique))
    now = utcnow()
    rows = [{"seq": first + i, "entity": c.entity, "inspection_id": c.inspection_id, "task_id": c.task_id,
             "reason": c.reason, "at": now} for i, c in enumerate(unique)]
    session.execute(insert(SyncChange), rows)
    return [r["seq"] for r in rows]


def append_inspections(session: Session, inspection_ids: list[int], task_id: int, reason: str) -> None:
    """One change per inspection (bulk: a draw creates thousands)."""
    from backend.db import bulk_insert

    if not inspection_ids:
        return
    first = _lock_heads(session, len(inspection_ids))
    now = utcnow()
    if session.get_bind().dialect.name == "postgresql":   # one statement from one array: no row object per change
        from sqlalchemy import text

        session.execute(text("INSERT INTO sync_change (seq, entity, inspection_id, task_id, reason, at) "
                             "SELECT :first + u.n - 1, 'inspection', u.id, :task_id, :reason, :at "
                             "FROM unnest(string_to_array(:ids, ',')::integer[]) WITH ORDINALITY AS u(id, n)"),
                        {"first": first, "task_id": task_id, "reason": reason, "at": now,
                         "ids": ",".join(map(str, inspection_ids))})
        return
    bulk_insert(session, SyncChange, [
        {"seq": first + i, "entity": "inspection", "inspection_id": iid, "task_id": task_id, "reason": reason,
         "at": now} for i, iid in enumerate(inspection_ids)])


_HEAD = select(SyncHead.seq).where(SyncHead.id == 1)


def head(session: Session) -> int:
    return session.scalar(_HEAD) or 0


class ChangeQuery:
    """``changed``'s two statements for readers who may see the inspections and tasks of two selects of ids, built
    once: the selects may hold bound parameters of their own (``params`` of ``run``), so one ``ChangeQuery`` serves
    every reader, and each pull only binds its values (SQLAlchemy's compiled cache is hit without building and
    coercing the statements again)."""

    def __init__(self, inspections: Select, tasks: Select):
        in_range = (SyncChange.seq > bindparam("after")) & (SyncChange.seq <= bindparam("upto"))
        self.inspections = (
            select(SyncChange.inspection_id).where(in_range, SyncChange.entity == "inspection",
                                                   SyncChange.inspection_id.in_(inspections),
                                                   SyncChange.inspection_id > bindparam("after_id"))
            .group_by(SyncChange.inspection_id).order_by(SyncChange.inspection_id).limit(bindparam("limit")))
        # the tasks come once per pull, on its first page: every task that changed in the range, and the task of
        # every inspection that did (whichever page brings the inspection)
        self.tasks = (
            select(SyncChange.task_id).where(in_range, SyncChange.task_id.is_not(None), or_(
                (SyncChange.entity == "task") & SyncChange.task_id.in_(tasks),
                (SyncChange.entity == "inspection") & SyncChange.inspection_id.in_(inspections)))
            .group_by(SyncChange.task_id))

    def run(self, session: Session, *, after: int, upto: int, after_id: int, limit: int,
            params: dict | None = None) -> tuple[list[int], list[int]]:
        """``changed``'s answer; ``params``: the values of the selects' own parameters."""
        bound = {**(params or {}), "after": after, "upto": upto}
        inspection_ids = list(session.scalars(self.inspections, {**bound, "after_id": after_id, "limit": limit + 1}))
        task_ids = [] if after_id else list(session.scalars(self.tasks, bound))
        return inspection_ids, task_ids


def changed(session: Session, *, after: int, upto: int, inspections: Select, tasks: Select, after_id: int,
            limit: int) -> tuple[list[int], list[int]]:
    """The inspections (ids after ``after_id``, in id order, at most ``limit + 1``) that changed in (``after``,
    ``upto``], among those the reader may see (selects of ids), and, for the first page (``after_id`` 0), the
    tasks that changed there or whose inspections did.

    Each is named once however often it changed: a pull sends its current state once. ``upto`` is a number
    read before: everything up to it has committed (the head's lock), so nothing in the range is missed.
    (Statements built for this call; ``ChangeQuery`` builds them once.)
    """
    return ChangeQuery(inspections, tasks).run(session, after=after, upto=upto, after_id=after_id, limit=limit)
