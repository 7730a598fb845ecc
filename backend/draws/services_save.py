"""A draw's assignments saved, and the officers' phones told (the last part of ``services.seed_and_draw``).

The groups, their members and one inspection per drawn target, written in few statements: on PostgreSQL
one ``INSERT … SELECT`` a table, the codes turned into ids by index probes, the inspections' figure facts
in the same statement (docs/decisions.md, "The draw's save"); elsewhere the ids looked up in chunks and the
rows inserted in bulk. ``announce_inspections`` appends the inspections to the phones' change sequence.
"""
from __future__ import annotations

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from backend.db import bulk_insert, utcnow
from backend.directory.models import Department, Inspector, Target
from backend.draws import algorithm
from backend.draws.models import Draw, GroupMember, InspectionGroup
from backend.figures import facts
from backend.inspections.models import Inspection, InspectionMember
from backend.plans.models import Plan, Task
from sync import changes

_CHUNK = 5000


def announce_inspections(session: Session, task_id: int, where, reason: str, *, ids: list[int] | None = None) -> None:
    """Tell the officers' phones (the sync change sequence) that these inspections changed (``where``, or
    ``ids`` when the caller knows them). Call last."""
    ids = sorted(ids) if ids is not None else list(
        session.scalars(select(Inspection.id).where(where).order_by(Inspection.id)))
    changes.append_inspections(session, ids, task_id, reason)


def _ids_by(session: Session, column, key_column, keys: list[str]) -> dict[str, int]:
    """{key: id}, looked up in chunks of IN lists."""
    out: dict[str, int] = {}
    for i in range(0, len(keys), _CHUNK):
        out.update(session.execute(select(key_column, column).where(key_column.in_(keys[i:i + _CHUNK]))).all())
    return out


def save_assignments(session: Session, task: Task, draw: Draw, result: algorithm.DrawResult) -> list[int] | None:
    """Groups, their members and one inspection per selected target, in few statements. Returns the
    inspections' ids in group order (PostgreSQL, where they are known without reading them back), or None."""
    stratum_of = {code: s for s, codes in result.selected.items() for code in codes}
    few = sorted({g.leader for g in result.groups} | {r.out for r in result.replacements}
                 | {r.in_ for r in result.replacements})
    inspector_ids = _ids_by(session, Inspector.id, Inspector.cert_no, few)
    dept_ids = dict(session.execute(select(Department.code, Department.id)
                                    .where(Department.code.in_(list(draw.plan["members"])))).all())
    group_ids: list[int] = []
    if result.groups:
        group_ids = list(session.scalars(
            insert(InspectionGroup).returning(InspectionGroup.id, sort_by_parameter_order=True),
            [{"draw_id": draw.id, "task_id": task.id, "number": n, "leader_id": inspector_ids[g.leader]}
             for n, g in enumerate(result.groups)]))
    members = [(cert, group_ids[n], dept_ids[d], pos) for n, g in enumerate(result.groups)
               for d, certs in g.members.items() for pos, cert in enumerate(certs)]
    inspections = [(code, group_ids[n], stratum_of[code], p * len(result.groups) + n)
                   for n, g in enumerate(result.groups) for p, code in enumerate(g.targets)]
    _insert_keyed(session, GroupMember, "inspector", "cert_no", "inspector_id", members,
                  ("group_id", "department_id", "position"), {})
    now = utcnow()
    constants = {"task_id": task.id, "draw_id": draw.id, "status": "assigned", "created_at": now, "updated_at": now}
    if session.get_bind().dialect.name == "postgresql":
        # the figures' fact of each new inspection written by the same statement (``_FRESH_FACTS``)
        level = session.scalar(select(func.coalesce(Plan.level, "county")).where(Plan.id == task.plan_id))
        ids = _insert_keyed(session, Inspection, "target", "code", "target_id", inspections,
                            ("group_id", "stratum", "position"), constants, parent_columns=("region_code",),
                            also=_FRESH_FACTS, also_params={"f_plan_id": task.plan_id, "f_end_date": task.end_date,
                                                            "f_level": level})
    else:
        ids = _insert_keyed(session, Inspection, "target", "code", "target_id", inspections,
                            ("group_id", "stratum", "position"), constants)
        facts.note(session, "draw", [draw.id])   # inserted by SQL the ORM does not see: their facts
    if result.replacements:
        if ids is not None:
            inspection_of = {row[0]: i for row, i in zip(inspections, ids)}
        else:
            target_ids = _ids_by(session, Target.id, Target.code, sorted({r.target for r in result.replacements}))
            by_target = dict(session.execute(
                select(Inspection.target_id, Inspection.id).where(Inspection.draw_id == draw.id,
                                                                  Inspection.target_id.in_(list(target_ids.values())))
            ).all())
            inspection_of = {code: by_target[i] for code, i in target_ids.items()}
        session.execute(insert(InspectionMember), [
            {"inspection_id": inspection_of[r.target], "department_id": dept_ids[r.dept],
             "out_inspector_id": inspector_ids[r.out], "in_inspector_id": inspector_ids[r.in_]}
            for r in result.replacements])
    return ids


_PG_TYPES = {int: "bigint", str: "text"}

# The figures' fact (backend/figures/facts.py) of an inspection just drawn, as ``facts.fact_select`` computes it
# for one: assigned, not a re-inspection, nothing submitted, published or exempt, no record, no section, no
# write from any client. Written by the statement that inserts the inspections, from what it holds already
# (the business's region read by the same probe as its id): refreshing 30,000 new facts afterwards read every
# business again and took as long as inserting the inspections. The figures' tests compare the facts after a
# draw with a rebuild by ``fact_select``.
_FRESH_FACTS = f"""
        , facts AS (
            INSERT INTO figure_fact ({', '.join(facts.COLUMNS)})
            SELECT fresh.ids[x.n], :c_task_id, :f_plan_id, CAST(:f_end_date AS date), :f_level, x.parent_id,
                   x.region_code, x.stratum, :c_status, false, false, false, false, false, false, false, 0,
                   NULL, NULL, NULL
            FROM x CROSS JOIN fresh)"""


def _insert_keyed(session: Session, model, parent: str, parent_key: str, id_column: str, rows: list[tuple],
                  columns: tuple[str, ...], constants: dict, **postgresql) -> list[int] | None:
    """Insert rows given as (parent key, *columns), turning each key (a code) into the parent's id.

    PostgreSQL (``_pg_insert_keyed``, which takes the keywords ``postgresql``): one statement, no pass over
    the whole parent table. Returns the new rows' ids in the order of ``rows``. Elsewhere: look the ids up in
    chunks, then insert many rows; returns None.
    """
    if session.get_bind().dialect.name == "postgresql":
        return _pg_insert_keyed(session, model.__tablename__, parent, parent_key, id_column, rows, columns,
                                constants, **postgresql)
    if not rows:
        return None
    parent_model = {"target": Target, "inspector": Inspector}[parent]
    ids = _ids_by(session, parent_model.id, getattr(parent_model, parent_key), sorted({r[0] for r in rows}))
    bulk_insert(session, model, [{id_column: ids[r[0]], **dict(zip(columns, r[1:])), **constants} for r in rows])
    return None


def _pg_insert_keyed(session: Session, table: str, parent: str, parent_key: str, id_column: str, rows: list[tuple],
                     columns: tuple[str, ...], constants: dict, *, parent_columns: tuple[str, ...] = (),
                     also: str = "", also_params: dict | None = None) -> list[int]:
    """PostgreSQL: ``_insert_keyed`` in one statement.

    * Each column travels as one text joined by "|" (no key, stratum or number holds one: the draw's ids
      are checked for it), split by ``string_to_array``: an array parameter of 30,000 values costs
      psycopg a Python loop over them (0.1 s a column here), a join costs nothing.
    * Each key is looked up by one probe of the parent's unique index on the key, in key order (the index's
      pages in order: 30 % less time than in the rows' order). The LIMIT 1 changes nothing, the key being
      unique, but keeps the planner from joining the keys to the whole parent table: a hash of 1,000,000
      targets, which spilled to disk, and grows with the directory where the probes grow with the draw.
    * The new ids come from the table's sequence, the n-th smallest to the n-th row, so that ids follow the
      order of ``rows`` (a group's inspections, in order) as they did when the rows were inserted in that order.
    * The rows are inserted in parent id order: the foreign key's check of each row (an index probe and a
      row lock on the parent) then walks the parent's index and pages in order, as do the inserts into the
      indexes that start with the parent id.
    * ``also``: more of the statement (``, name AS (INSERT …)``), which may read ``x`` (n, parent_id, the
      columns, and ``parent_columns`` of the parent row, read by the same probe) and ``fresh.ids[x.n]``.
    """
    if not rows:
        return []
    n = len(rows)
    texts = {f"a{i}": "|".join(map(str, (r[i] for r in rows))) for i in range(len(columns) + 1)}
    kinds = [_PG_TYPES[type(rows[0][i])] for i in range(len(columns) + 1)]
    split = ", ".join(f"string_to_array(:a{i}, '|')" + ("" if kinds[i] == "text" else f"::{kinds[i]}[]")
                      for i in range(len(columns) + 1))
    names = ", ".join(columns)
    consts = "".join(f", :c_{k}" for k in constants)
    sql = f"""
        WITH x AS MATERIALIZED (
            SELECT x.n, p.id AS parent_id, {', '.join('x.' + c for c in columns)}{''.join(', p.' + c for c in parent_columns)}
            FROM (SELECT * FROM unnest({split}) WITH ORDINALITY AS x(k, {names}, n) ORDER BY k) AS x
            CROSS JOIN LATERAL (SELECT {', '.join(('id', *parent_columns))} FROM {parent}
                                WHERE {parent_key} = x.k LIMIT 1) AS p),
        fresh AS MATERIALIZED (
            SELECT array_agg(v ORDER BY v) AS ids
            FROM (SELECT nextval((SELECT pg_get_serial_sequence('{table}', 'id'))::regclass) AS v
                  FROM generate_series(1, :n)) AS s),
        inserted AS (
            INSERT INTO {table} (id, {id_column}, {names}{''.join(', ' + k for k in constants)})
            SELECT fresh.ids[x.n], x.parent_id, {', '.join('x.' + c for c in columns)}{consts}
            FROM x CROSS JOIN fresh ORDER BY x.parent_id
            RETURNING id){also}
        SELECT count(*), string_agg(id::text, ',') FROM inserted"""
    params = texts | {"n": n} | {f"c_{k}": v for k, v in constants.items()} | (also_params or {})
    # the probes' estimated cost (8 a probe) passes jit_above_cost: compiling the statement took longer (0.2-0.8 s)
    # than running it; JIT is off for this statement only (a failure rolls the transaction back, and the setting)
    jit = session.scalar(text("SELECT current_setting('jit')"))
    session.execute(text("SELECT set_config('jit', 'off', true)"))
    count, ids = session.execute(text(sql), params).one()
    session.execute(text("SELECT set_config('jit', :was, true)"), {"was": jit})
    if count != n:
        missing = {r[0] for r in rows} - {r[0] for r in session.execute(
            text(f"SELECT {parent_key} FROM {parent} WHERE {parent_key} = ANY(string_to_array(:k, '|'))"),
            {"k": texts["a0"]})}
        raise RuntimeError(f"{table}: {n - count} keys not found in {parent} (first: {min(missing, default='?')})")
    return sorted(map(int, ids.split(","))) if ids else []
