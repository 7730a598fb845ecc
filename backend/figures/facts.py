"""Figure facts: one row per drawn inspection with what the supervisors' figures count (docs/figures.md,
"Speed"), so that a figure is one pass over narrow rows instead of joins to a million businesses, the records'
JSON, the sections and the sync log.

A fact is a pure function of the rows it is computed from (``fact_select``): the inspection, its task and
plan, its business's region, its record's result categories, its sections and the sync clients that wrote
them. It is kept up to date in the transaction that changes any of them:

* every flush notes the inspections whose rows it wrote (ORM objects, and ORM-enabled bulk statements
  through ``do_orm_execute``); a business's region, a task's end date or plan, a plan's level note all their
  inspections. The notes live on the database connection, so that sessions sharing one transaction (the
  tests' savepoints) see each other's;
* before the session commits, and before the figures are read, the noted inspections' facts are computed
  again from their rows (``refresh``): their refresh locks taken first (PostgreSQL, see ``_lock``), then one
  upsert and one delete (an inspection no longer drawn has no fact).

Writers that bypass the ORM (a draw's ``INSERT … SELECT``, a directory import's bulk update) call ``note``
themselves. ``rebuild`` computes every fact from scratch (migration 0020's backfill, ``shuangsui figures
rebuild``); the tests compare the maintained facts with it.
"""
from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (Boolean, Date, Index, Integer, String, and_, case, delete, event, false, func,
                        insert, literal_column, or_, select, text, true, update)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from backend.db import Base

DRAWN = ("assigned", "in_progress", "completed")
# the result categories that say a problem was found (docs/figures.md, 问题发现率)
PROBLEM_CATEGORIES = ("pending_followup", "unpublished_info", "false_info", "unreachable", "other_violation",
                      "corrected")
LEVELS = ("province", "city", "county")
NOTES = "figure_facts.noted"     # connection.info key: {(kind, id)} waiting for refresh
TOUCHED = "figure_facts.touched"  # session.info key: this session noted something in its transaction
HELD = "figure_facts.held"        # session.info key: (its transaction, the refresh locks' buckets it took already)
CHUNK = 500
# PostgreSQL: the advisory lock that one refresher of an inspection holds until it ends (``_lock``), as
# pg_advisory_xact_lock(LOCK_SPACE, inspection id % LOCK_BUCKETS)
LOCK_SPACE = 0x46494746          # "FIGF"
LOCK_BUCKETS = 512


class FigureFact(Base):
    """What the figures need of one drawn inspection (see the module's docstring)."""

    __tablename__ = "figure_fact"
    __table_args__ = (
        Index("ix_figure_fact_end", "task_end_date"),
        Index("ix_figure_fact_region_end", "region_code", "task_end_date"),
        Index("ix_figure_fact_task", "task_id"),
        Index("ix_figure_fact_plan_end", "plan_id", "task_end_date"),
        Index("ix_figure_fact_due", "publication_due_on", "inspection_id"),     # the lists' order
    )

    # no foreign key (migration 0022): a derived table, rebuilt from the inspections at will; its check cost a
    # probe and a row lock of the inspection per fact written (0.18 s of a draw's 30,000). Inspections are never
    # deleted by the application; whatever deletes one deletes its fact (see bench/draw.py's ``_undraw``)
    inspection_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    task_id: Mapped[int] = mapped_column(Integer)
    plan_id: Mapped[int] = mapped_column(Integer)
    task_end_date = mapped_column(Date, nullable=True)
    level: Mapped[str] = mapped_column(String(16))            # the level that set the task (its plan's)
    target_id: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str | None] = mapped_column(String(12))
    stratum: Mapped[str] = mapped_column(String(16))          # the risk class the business was drawn in
    status: Mapped[str] = mapped_column(String(16))
    submitted: Mapped[bool] = mapped_column(Boolean)          # the lead submitted the record
    done: Mapped[bool] = mapped_column(Boolean)               # submitted and (published or exempt)
    on_time_completion: Mapped[bool] = mapped_column(Boolean)  # done, completed by the task's end date
    on_time_publication: Mapped[bool] = mapped_column(Boolean)  # submitted, exempt or published by its due date
    exempt: Mapped[bool] = mapped_column(Boolean)             # 不适合公开 approved
    from_phone: Mapped[bool] = mapped_column(Boolean)         # its sections' writes came from phones only
    problem: Mapped[bool] = mapped_column(Boolean)            # its record's categories say a problem was found
    departments: Mapped[int] = mapped_column(Integer)         # its sections (one per department)
    completed_on = mapped_column(Date, nullable=True)
    publication_due_on = mapped_column(Date, nullable=True)
    published_on = mapped_column(Date, nullable=True)         # the first publication, Beijing date


class RegionCount(Base):
    """The businesses registered (存续, status active) per region code ('' for none): 抽查覆盖率's denominator
    without counting a million businesses per request. Kept as the facts are (``settle``)."""

    __tablename__ = "figure_region_count"

    region_code: Mapped[str] = mapped_column(String(12), primary_key=True)
    registered: Mapped[int] = mapped_column(Integer)


def _count_regions(conn: Connection, codes: list[str] | None) -> None:
    """Count the registered businesses of these region codes again (None: of every region)."""
    from backend.directory.models import Target

    dialect = _dialect(conn)
    code = func.coalesce(Target.region_code, "")
    counted = select(code, func.count()).where(Target.status == "active").group_by(code)
    if codes is None:
        if dialect == "postgresql":
            conn.execute(text("LOCK TABLE figure_region_count IN EXCLUSIVE MODE"))
        conn.execute(delete(RegionCount))
        conn.execute(insert(RegionCount).from_select(["region_code", "registered"], counted))
        return
    codes = sorted(set(codes))
    insert_ = _dialect_insert(dialect)
    conn.execute(insert_(RegionCount).values([{"region_code": c, "registered": 0} for c in codes])
                 .on_conflict_do_nothing(index_elements=[RegionCount.region_code]))
    if dialect == "postgresql":       # one counter at a time per region: each sees the last one's commit
        conn.execute(select(RegionCount.region_code).where(RegionCount.region_code.in_(codes))
                     .order_by(RegionCount.region_code).with_for_update())
    named = [c for c in codes if c]
    rows = dict(conn.execute(select(Target.region_code, func.count()).where(
        Target.status == "active", Target.region_code.in_(named)).group_by(Target.region_code)).all()) if named else {}
    if "" in codes:
        rows[""] = conn.scalar(select(func.count()).select_from(Target).where(Target.status == "active",
                                                                               Target.region_code.is_(None)))
    for c in codes:
        conn.execute(update(RegionCount).where(RegionCount.region_code == c).values(registered=rows.get(c, 0)))


# --- the definition: a fact from its rows ---------------------------------------------------------------

def _flag(cond):
    """A condition as a true/false value, never null."""
    return case((cond, true()), else_=false())


def _problem_condition(dialect: str):
    from backend.inspections.models import Record

    codes = ", ".join(f"'{c}'" for c in PROBLEM_CATEGORIES)   # constants, not input
    if dialect == "postgresql":
        return literal_column(f"(CAST(inspection_record.data AS jsonb) -> 'result_categories') ?| ARRAY[{codes}]")
    assert Record  # the SQL names its table
    return literal_column("EXISTS (SELECT 1 FROM json_each(inspection_record.data, '$.result_categories') "
                          f"WHERE json_each.value IN ({codes}))")


def _section_writes(kind: str):
    """A section write of the inspection came from a sync client of ``kind``."""
    from backend.inspections.models import Inspection
    from sync.models import SyncClient, SyncMutation

    return (select(SyncMutation.mutation_id)
            .join(SyncClient, SyncClient.id == SyncMutation.client_id)
            .where(SyncMutation.inspection_id == Inspection.id, SyncMutation.name.like("section.%"),
                   SyncMutation.status.in_(("applied", "conflict")), SyncClient.kind == kind)
            .exists())


COLUMNS = ("inspection_id", "task_id", "plan_id", "task_end_date", "level", "target_id", "region_code", "stratum",
           "status", "submitted", "done", "on_time_completion", "on_time_publication", "exempt", "from_phone",
           "problem", "departments", "completed_on", "publication_due_on", "published_on")


def drawn() -> tuple:
    """The inspections that have a fact: drawn ones; a re-inspection (复查, ``followup_id``) is not drawn."""
    from backend.inspections.models import Inspection

    return Inspection.status.in_(DRAWN), Inspection.followup_id.is_(None)


def fact_select(dialect: str, where=None):
    """The facts of the drawn inspections (``where``: which), computed from their rows, in ``COLUMNS`` order."""
    from backend.directory.models import Target
    from backend.figures.services import shanghai_date
    from backend.inspections.models import Inspection, Record, Section
    from backend.plans.models import Plan, Task

    submitted = Inspection.status == "completed"
    done = and_(submitted, or_(Inspection.published_at.is_not(None), Inspection.publication_exempt_at.is_not(None)))
    on_time_publication = and_(submitted, or_(
        Inspection.publication_exempt_at.is_not(None),
        and_(Inspection.published_at.is_not(None),
             shanghai_date(Inspection.published_at) <= Inspection.publication_due_on)))
    sections = (select(func.count()).select_from(Section).where(Section.inspection_id == Inspection.id)
                .scalar_subquery())
    stmt = (select(Inspection.id, Inspection.task_id, Task.plan_id, Task.end_date,
                   func.coalesce(Plan.level, "county"), Inspection.target_id, Target.region_code, Inspection.stratum,
                   Inspection.status, _flag(submitted), _flag(done),
                   _flag(and_(done, Inspection.completed_on <= Task.end_date)), _flag(on_time_publication),
                   _flag(Inspection.publication_exempt_at.is_not(None)),
                   _flag(and_(_section_writes("phone"), ~_section_writes("office"))),
                   _flag(and_(Record.inspection_id.is_not(None), _problem_condition(dialect))),
                   sections, Inspection.completed_on, Inspection.publication_due_on,
                   shanghai_date(Inspection.published_at))
            .select_from(Inspection)
            .join(Task, Task.id == Inspection.task_id)
            .join(Plan, Plan.id == Task.plan_id)
            .join(Target, Target.id == Inspection.target_id)
            .outerjoin(Record, Record.inspection_id == Inspection.id)
            .where(*drawn()))
    return stmt.where(where) if where is not None else stmt


def _dialect(conn: Connection) -> str:
    return conn.dialect.name


_REFRESH: dict[str, tuple] = {}     # dialect → the refresh's statements, built once (see ``_refresh_statements``)


def _refresh_statements(dialect: str) -> tuple:
    """The refresh's statements for a list of inspection ids (the expanding parameter ``ids``): one upsert
    (``INSERT … SELECT … ON CONFLICT DO UPDATE``) and one delete. Built once per dialect, so that a refresh
    costs their execution only (SQLAlchemy's compiled cache keeps them compiled): building and compiling the
    fact's select took most of a single push's refresh."""
    from sqlalchemy import bindparam

    from backend.inspections.models import Inspection

    if dialect not in _REFRESH:
        ids = bindparam("ids", expanding=True)
        upsert = _upsert(dialect, fact_select(dialect, Inspection.id.in_(ids)))
        gone = delete(FigureFact).where(FigureFact.inspection_id.in_(ids), FigureFact.inspection_id.not_in(
            select(Inspection.id).where(Inspection.id.in_(ids), *drawn())))
        if dialect == "postgresql":
            # one statement: the delete as its CTE (one snapshot; the two touch different facts, drawn or not)
            _REFRESH[dialect] = (upsert.add_cte(gone.cte("gone")), None)
        else:
            _REFRESH[dialect] = (upsert, gone)
    return _REFRESH[dialect]


_LOCK = text("SELECT count(pg_advisory_xact_lock(:space, b)) FROM unnest(CAST(:buckets AS integer[])) AS b")
# the same locks as a part (CTE) of another statement (``lock_parts``)
LOCK_CTE = ("fact_lock AS (SELECT count(pg_advisory_xact_lock(:fl_space, b)) AS n "
            "FROM unnest(CAST(:fl_buckets AS integer[])) AS b)")


def buckets(ids: Iterable[int]) -> list[int]:
    return sorted({i % LOCK_BUCKETS for i in ids})


def lock_parts(session: Session, ids: Iterable[int]) -> dict:
    """PostgreSQL: the refresh locks of these inspections taken by the caller's statement (``LOCK_CTE``, which
    that statement must read, e.g. ``(SELECT n FROM fact_lock)``), so that the refresh before commit does not
    take them again. For a writer that, like ``_lock``, takes them after its other writes: one whose only
    waits after them are on the audit and sync heads, which it holds already (a push, ``FieldBatch``).
    Returns the statement's parameters."""
    held = buckets(ids)
    tx = session.get_transaction()
    known = session.info.get(HELD)
    session.info[HELD] = (tx, set(held) | (known[1] if known and known[0] is tx else set()))
    return {"fl_space": LOCK_SPACE, "fl_buckets": held}


def _lock(conn: Connection, ids: list[int], held: set[int] = frozenset()) -> None:
    """PostgreSQL: one refresher at a time per inspection, so that the last one to refresh it sees every
    commit before it (each statement of a READ COMMITTED transaction reads what was committed when it began:
    two transactions that changed one inspection and computed its fact side by side would each miss the
    other's change, and the last upsert would win). The lock is an advisory lock per bucket of ids
    (``LOCK_BUCKETS``: a draw of a hundred thousand inspections takes at most that many), taken in bucket order
    and held until the transaction ends.

    Not a row lock on the inspections (``SELECT … FOR UPDATE``): the transaction has already written rows
    that reference them, or updated them, in whatever order its work went, and another transaction may hold
    such locks on the same inspections while it waits for one of ours, a deadlock (two servers applying two
    phones' pushes of one inspection at once). An advisory lock is only ever taken here (or by a push's write
    statement, ``lock_parts``, after its rows and the heads), after the transaction's other writes, in one
    order; its holder then writes only the facts of its own buckets, whose rows nobody else writes without the
    same lock (``rebuild`` locks the whole table), so it never waits for a transaction waiting for it."""
    wanted = [b for b in buckets(ids) if b not in held]     # ``held``: taken by this transaction (``lock_parts``)
    if wanted:
        conn.execute(_LOCK, {"space": LOCK_SPACE, "buckets": wanted})


def refresh(conn: Connection, inspection_ids: Iterable[int], held: set[int] = frozenset()) -> int:
    """Compute the facts of these inspections again from their rows; return how many were asked. ``held``: the
    buckets whose refresh locks this transaction holds already (``lock_parts``)."""
    ids = sorted({int(i) for i in inspection_ids if i is not None})
    if not ids:
        return 0
    upsert, gone = _refresh_statements(_dialect(conn))
    if _dialect(conn) == "postgresql":
        _lock(conn, ids, held)
    for start in range(0, len(ids), CHUNK):
        chunk = {"ids": ids[start:start + CHUNK]}
        conn.execute(upsert, chunk)
        if gone is not None:
            conn.execute(gone, chunk)
    return len(ids)


def _dialect_insert(dialect: str):
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert


def _upsert(dialect: str, select_stmt):
    stmt = _dialect_insert(dialect)(FigureFact).from_select(list(COLUMNS), select_stmt)
    return stmt.on_conflict_do_update(index_elements=[FigureFact.inspection_id],
                                      set_={c: stmt.excluded[c] for c in COLUMNS if c != "inspection_id"})


def rebuild(conn: Connection) -> int:
    """Every fact from scratch (the backfill, and the repair command); returns the number of facts."""
    if _dialect(conn) == "postgresql":     # no refresher writes a fact meanwhile (they wait for the rebuild)
        conn.execute(text("LOCK TABLE figure_fact IN EXCLUSIVE MODE"))
    conn.execute(delete(FigureFact))
    conn.execute(insert(FigureFact).from_select(list(COLUMNS), fact_select(_dialect(conn))))
    _count_regions(conn, None)
    conn.info.pop(NOTES, None)
    return conn.scalar(select(func.count()).select_from(FigureFact)) or 0


# --- keeping them up to date ----------------------------------------------------------------------------

def note(session: Session, kind: str, ids: Iterable[int]) -> None:
    """Note rows whose inspections' facts must be computed again before commit: ``kind`` is inspection,
    target, task, plan or draw (their inspections); or region (a region code whose registered businesses
    changed, "*" for all)."""
    ids = [i for i in ids if i is not None]
    if ids:
        session.info[TOUCHED] = True
        session.connection().info.setdefault(NOTES, set()).update((kind, i if kind == "region" else int(i))
                                                                  for i in ids)


def noted_inspections(session: Session) -> set[int] | None:
    """The inspections noted in this transaction so far, when every note names an inspection (a push's); None
    when one names anything else (those are resolved by ``settle``)."""
    notes = session.connection().info.get(NOTES) or set()
    if any(kind != "inspection" for kind, _ in notes):
        return None
    return {i for _, i in notes}


def forget_noted(session: Session) -> None:
    """The notes refreshed by the caller itself (``refresh`` with the ids of ``noted_inspections``, its locks
    held): nothing left for the refresh before commit."""
    session.connection().info.pop(NOTES, None)
    session.info.pop(TOUCHED, None)


def _resolve(conn: Connection, notes: set) -> set[int]:
    from backend.inspections.models import Inspection

    ids = {i for kind, i in notes if kind == "inspection"}
    columns = {"target": Inspection.target_id, "task": Inspection.task_id, "draw": Inspection.draw_id}
    for kind, column in columns.items():
        keys = sorted(i for k, i in notes if k == kind)
        for start in range(0, len(keys), CHUNK):
            ids.update(conn.scalars(select(Inspection.id).where(column.in_(keys[start:start + CHUNK]))))
    plans = sorted(i for k, i in notes if k == "plan")
    if plans:
        from backend.plans.models import Task

        ids.update(conn.scalars(select(Inspection.id).join(Task, Task.id == Inspection.task_id)
                                .where(Task.plan_id.in_(plans))))
    return ids


def settle(session: Session) -> int:
    """Refresh the facts noted in this transaction (before the figures are read, and before commit)."""
    if session.get_transaction() is None:
        return 0
    if not session.info.pop(TOUCHED, False) and not isinstance(session.bind, Connection):
        # nothing noted by this session: never open a connection for nothing (on SQLite a write session's
        # would take the write lock, BEGIN IMMEDIATE, only to commit nothing). A session bound to a connection
        # (the tests' shared transaction) may find the notes of the others sharing it.
        return 0
    conn = session.connection()
    notes = conn.info.pop(NOTES, None)
    if not notes:
        return 0
    regions = {key for kind, key in notes if kind == "region"}
    if regions:
        _count_regions(conn, None if "*" in regions else sorted(regions))
    known = session.info.get(HELD)
    held = known[1] if known and known[0] is session.get_transaction() else frozenset()
    return refresh(conn, _resolve(conn, notes), held)


def _changed(obj, *names: str) -> bool:
    from sqlalchemy import inspect as sa_inspect

    state = sa_inspect(obj)
    return any(state.attrs[name].history.has_changes() for name in names)


def _values(obj, name: str) -> set:
    """The attribute's value now and before this flush."""
    from sqlalchemy import inspect as sa_inspect

    history = sa_inspect(obj).attrs[name].history
    return {*history.added, *history.unchanged, *history.deleted} or {getattr(obj, name)}


# the columns of an inspection, its record and its sync log that a fact reads (``fact_select``): a flush that
# changes none of them (a section's answers, a photo, the sync bookkeeping) notes nothing
_INSPECTION_COLUMNS = ("task_id", "target_id", "stratum", "status", "completed_on", "publication_due_on",
                       "published_at", "publication_exempt_at", "followup_id")
_MUTATION_COLUMNS = ("name", "status", "client_id", "inspection_id")


def _counts_for_phone(mutation) -> bool:
    """A sync log row that ``_section_writes`` reads (a section's write, applied or in conflict)."""
    return (mutation.name or "").startswith("section.") and mutation.status in ("applied", "conflict")


def _after_flush(session: Session, _context) -> None:
    from backend.directory.models import Target
    from backend.inspections.models import Inspection, Record, Section
    from backend.plans.models import Plan, Task
    from sync.models import SyncMutation

    notes: set = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        new_or_gone = obj in session.new or obj in session.deleted
        if isinstance(obj, Inspection):
            if new_or_gone or _changed(obj, *_INSPECTION_COLUMNS):
                notes.add(("inspection", obj.id))
        elif isinstance(obj, Section):       # a fact counts its sections: only one added or removed matters
            if new_or_gone or _changed(obj, "inspection_id"):
                notes.update(("inspection", i) for i in _values(obj, "inspection_id") if i is not None)
        elif isinstance(obj, Record):        # its result categories (in data)
            if new_or_gone or _changed(obj, "data", "inspection_id"):
                notes.update(("inspection", i) for i in _values(obj, "inspection_id") if i is not None)
        elif isinstance(obj, SyncMutation):
            if (_counts_for_phone(obj) and (new_or_gone or _changed(obj, *_MUTATION_COLUMNS))) or \
                    (not new_or_gone and _changed(obj, *_MUTATION_COLUMNS)):
                notes.update(("inspection", i) for i in _values(obj, "inspection_id") if i is not None)
        elif isinstance(obj, Target):
            if new_or_gone or _changed(obj, "region_code", "status"):
                notes.update(("region", code or "") for code in _values(obj, "region_code"))
            if obj not in session.new and _changed(obj, "region_code"):
                notes.add(("target", obj.id))
        elif obj in session.new:
            continue           # a new task or plan has no inspections yet
        elif isinstance(obj, Task) and _changed(obj, "end_date", "plan_id"):
            notes.add(("task", obj.id))
        elif isinstance(obj, Plan) and _changed(obj, "level"):
            notes.add(("plan", obj.id))
    if notes:
        session.info[TOUCHED] = True
        session.connection().info.setdefault(NOTES, set()).update(notes)


# the tables whose bulk (ORM-enabled) statements change facts: table → (kind, the column naming it)
_BULK = {"inspection": ("inspection", "id"), "inspection_record": ("inspection", "inspection_id"),
         "inspection_section": ("inspection", "inspection_id"), "sync_mutation": ("inspection", "inspection_id"),
         "target": ("target", "id"), "task": ("task", "id"), "plan": ("plan", "id")}
# of a business, a task or a plan only these columns matter
_COLUMNS_THAT_MATTER = {"target": {"region_code"}, "task": {"end_date", "plan_id"}, "plan": {"level"}}


def _do_orm_execute(state) -> None:
    if not (state.is_insert or state.is_update or state.is_delete):
        return
    table = getattr(state.statement, "table", None)
    name = getattr(table, "name", None)
    if name not in _BULK:
        return
    kind, key = _BULK[name]
    params = state.parameters
    rows = params if isinstance(params, list) else [params] if params else []
    if name == "target":       # businesses added, removed or changed in bulk: every region counted again
        note(state.session, "region", ["*"])
    if name in _COLUMNS_THAT_MATTER:
        if state.is_insert:
            return
        written = {c.key if hasattr(c, "key") else str(c) for c in getattr(state.statement, "_values", None) or {}}
        written |= {k for r in rows for k in r}
        if not written & _COLUMNS_THAT_MATTER[name]:
            return
    session = state.session
    if state.is_insert:
        ids = [r.get(key) for r in rows]
    elif rows and all(key in r for r in rows):          # bulk update by primary key
        ids = [r[key] for r in rows]
    elif rows and all("_pk" in r for r in rows):        # the directory's bulk update by key
        ids = [r["_pk"] for r in rows]
    elif rows:                                          # executemany by other keys: its writer notes them
        return
    else:                                               # by criteria: the rows it will touch
        stmt = select(table.c[key])
        if state.statement.whereclause is not None:
            stmt = stmt.where(state.statement.whereclause)
        ids = list(session.connection().scalars(stmt))
    note(session, kind, ids)


def _before_commit(session: Session) -> None:
    if session.get_transaction() is None:
        return
    session.flush()
    settle(session)


def _forget(conn) -> None:
    if conn.invalidated:   # the connection died (its notes with it); asking its info would raise instead
        return
    conn.info.pop(NOTES, None)


def _untouch(session: Session, transaction) -> None:
    if transaction.parent is None:     # the outermost transaction ended (a savepoint's end keeps the notes)
        session.info.pop(TOUCHED, None)
        session.info.pop(HELD, None)


def install() -> None:
    """Listen on every session and engine (once)."""
    if getattr(install, "done", False):
        return
    install.done = True
    event.listen(Session, "after_flush", _after_flush)
    event.listen(Session, "do_orm_execute", _do_orm_execute)
    event.listen(Session, "before_commit", _before_commit)
    event.listen(Session, "after_transaction_end", _untouch)
    event.listen(Engine, "commit", _forget)
    event.listen(Engine, "rollback", _forget)


install()
