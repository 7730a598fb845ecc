"""A draw's assignments saved, and the officers' phones told (the last part of ``services.seed_and_draw``).

The groups, their members and one inspection per drawn target, written in few statements. On PostgreSQL
``Saver`` sends the groups and members, and locks the drawn businesses, while the targets are ranked (a
thread on the draw's own connection and transaction) and inserts each stratum's figure facts under inspection ids
drawn from the sequence then; then it inserts the inspections with those ids in one ``INSERT … SELECT``
(docs/decisions.md, "The draw's save" and "Facts sent during the ranking"); elsewhere the ids are looked up in chunks
and the rows inserted in bulk at the end. ``announce_inspections`` appends the inspections to the phones'
change sequence.
"""
from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor

import orjson
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
    inspections' ids in the order of their positions (PostgreSQL, where they are known without reading them
    back), or None."""
    with Saver(session, task, draw, overlap=False) as saver:
        return saver.finish(result)


class Saver:
    """A draw's rows written while the draw is computed (PostgreSQL; elsewhere ``finish`` does it all).

    ``algorithm.draw`` hands over the groups' members and leaders before it ranks any target
    (``crew``), then each stratum's selection as soon as it is ranked (``selected``). Meanwhile a thread
    sends, through the draw's own connection and transaction, the groups and their members, and probes
    the selected businesses by code, locking each one (``FOR KEY SHARE``, the lock the foreign key of
    ``inspection.target_id`` takes; taken again by our own transaction it costs nothing, so the check
    writes no page and no WAL), and inserts their figure facts, each under a new inspection id from the
    sequence. The server does this on the other core while Python ranks the rest. ``finish`` then inserts
    the inspections with the ids already known: the only statement left for after the ranking. Inspection
    ids thus follow the order the strata were ranked in (and the codes within one), not the groups' order:
    nothing reads a draw's inspections in id order for a meaning (the groups by ``position``). One
    transaction: nothing is kept unless the draw commits.

    ``overlap`` False (or forked rankers: no fork while a thread holds the connection) sends the same
    statements in this thread, in the same order. Use as a context manager: leaving it waits for the
    thread, so that the session can be rolled back or used again.
    """

    def __init__(self, session: Session, task: Task, draw: Draw, *, overlap: bool = True) -> None:
        self.session, self.task, self.draw = session, task, draw
        self.pg = session.get_bind().dialect.name == "postgresql"
        self.group_ids: list[int] | None = None
        # code -> (id, region code, inspection id, stratum)
        self.targets: dict[str, tuple[int, str | None, int, str]] = {}
        self._pool: ThreadPoolExecutor | None = None
        self._sent: list = []
        if not self.pg:
            return
        session.flush()
        # what the thread needs of the ORM objects, read here: the thread touches no ORM object nor the session
        self.draw_id, self.task_id, self.depts = draw.id, task.id, list(draw.plan["members"])
        self.conn = session.connection()
        # the probes' estimated cost (8 a probe) passes jit_above_cost: compiling the statements took longer
        # (0.2-0.8 s) than running them; JIT is off until ``finish`` (a failure rolls the setting back too)
        self.jit = self.conn.scalar(text("SELECT current_setting('jit')"))
        self.conn.execute(text("SELECT set_config('jit', 'off', true)"))
        self.facts = {"task_id": task.id, "plan_id": task.plan_id, "end_date": task.end_date, "status": "assigned",
                      "level": self.conn.scalar(select(func.coalesce(Plan.level, "county"))
                                                .where(Plan.id == task.plan_id))}
        if overlap:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="draw-save")

    def __enter__(self) -> Saver:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Wait for the thread (its errors are ``wait``'s to raise)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def _send(self, fn, *args) -> None:
        if self._pool is None:
            fn(*args)
        else:
            self._sent.append(self._pool.submit(fn, *args))

    def crew(self, crew: algorithm.Crew) -> None:
        """``algorithm.draw``'s ``on_crew``."""
        if self.pg:
            self._send(self._save_crew, crew.members, crew.leaders)

    def selected(self, stratum: str, codes: list[str]) -> None:
        """``algorithm.draw``'s ``on_selected``."""
        if self.pg:
            self._send(self._lock_targets, codes, stratum)

    def wait(self) -> None:
        """Everything sent is done; its first error raised. Call before the session is used again."""
        self.close()
        sent, self._sent = self._sent, []
        for future in sent:
            future.result()

    def _save_crew(self, members: list[dict[str, list[str]]], leaders: list[str]) -> None:
        """The groups (numbered in order) and their members as drawn."""
        self.group_ids = _pg_insert_keyed(self.conn, "inspection_group", "inspector", "cert_no", "leader_id",
                                          [(leader, n) for n, leader in enumerate(leaders)], ("number",),
                                          {"draw_id": self.draw_id, "task_id": self.task_id})
        dept_ids = dict(self.conn.execute(select(Department.code, Department.id)
                                          .where(Department.code.in_(self.depts))).all())
        rows = [(cert, self.group_ids[n], dept_ids[d], pos) for n, group in enumerate(members)
                for d, certs in group.items() for pos, cert in enumerate(certs)]
        _pg_insert_keyed(self.conn, "group_member", "inspector", "cert_no", "inspector_id", rows,
                         ("group_id", "department_id", "position"), {})

    def _lock_targets(self, codes: list[str], stratum: str) -> None:
        """The businesses of these codes (drawn in ``stratum``): their ids and regions, each row locked as the
        foreign key would; and their inspections' facts, under new inspection ids."""
        if not codes:
            return
        codes = sorted(codes)   # the unique index's pages in order
        found = self.conn.scalar(text(_LOCK_TARGETS), {"codes": "|".join(codes), "stratum": stratum, **self.facts})
        found = orjson.loads(found) if found else []
        if len(found) != len(codes):
            _missing(self.conn, "inspection", "target", "code", codes, len(found))
        self.targets.update(zip(codes, map(tuple, found)))

    def finish(self, result: algorithm.DrawResult) -> list[int] | None:
        """The inspections (and what is left to send): their ids in the order of their positions (the groups in
        turn) on PostgreSQL, else None."""
        self.wait()
        if not self.pg:
            return _save_elsewhere(self.session, self.task, self.draw, result)
        session, draw = self.session, self.draw
        if self.group_ids is None:
            self._save_crew([g.members for g in result.groups], [g.leader for g in result.groups])
        for stratum, codes in result.selected.items():
            self._lock_targets([c for c in codes if c not in self.targets], stratum)
        ids = _pg_insert_inspections(self.conn, draw, by_position(result.groups), self.group_ids, self.targets)
        self.conn.execute(text("SELECT set_config('jit', :was, true)"), {"was": self.jit})
        if result.replacements:
            _save_replacements(session, draw, result, {code: t[2] for code, t in self.targets.items()})
        return ids


def by_position(groups: list[algorithm.Group]) -> list[str]:
    """The drawn targets in the order of their inspections' positions: step 4 deals them out to the groups in
    turn (group n takes positions n, n + N, n + 2N, … of the N groups), so this is that order again."""
    return [code for turn in itertools.zip_longest(*(g.targets for g in groups)) for code in turn if code is not None]


# each selected business's id and region, in the order of the codes given, its row locked as the foreign key of
# inspection.target_id locks it (probes of uq_target_code, in code order; see _pg_insert_keyed for the LIMIT); and
# its inspection's id, new from the sequence, under which its figures' fact is inserted now (see _INSERT_INSPECTIONS);
# and the stratum again, kept with them for the inspections' statement
_LOCK_TARGETS = f"""
    WITH p AS MATERIALIZED (
        SELECT x.n, p.id, p.region_code,
               nextval((SELECT pg_get_serial_sequence('inspection', 'id'))::regclass) AS inspection_id
        FROM unnest(string_to_array(:codes, '|')) WITH ORDINALITY AS x(k, n)
        CROSS JOIN LATERAL (SELECT id, region_code FROM target WHERE code = x.k LIMIT 1 FOR KEY SHARE) AS p),
    facts AS (
        INSERT INTO figure_fact ({', '.join(facts.COLUMNS)})
        SELECT p.inspection_id, :task_id, :plan_id, CAST(:end_date AS date), :level, p.id, p.region_code,
               :stratum, :status, false, false, false, false, false, false, false, 0, NULL, NULL, NULL
        FROM p)
    SELECT json_agg(json_build_array(p.id, p.region_code, p.inspection_id, CAST(:stratum AS text)) ORDER BY p.n)::text
    FROM p"""


def _missing(conn, table: str, parent: str, parent_key: str, keys: list[str], found: int) -> None:
    missing = set(keys) - {r[0] for r in conn.execute(
        text(f"SELECT {parent_key} FROM {parent} WHERE {parent_key} = ANY(string_to_array(:k, '|'))"),
        {"k": "|".join(keys)})}
    raise RuntimeError(f"{table}: {len(keys) - found} keys not found in {parent} (first: {min(missing, default='?')})")


def _pg_insert_inspections(conn, draw: Draw, codes: list[str], group_ids: list[int], targets: dict) -> list[int]:
    """One inspection per drawn target, ``codes`` in the order of their positions (``by_position``): position i,
    group ``group_ids[i % N]``; under the id its fact was inserted with, the businesses' ids and strata known
    (``Saver._lock_targets``). Returns the ids in the order of ``codes``; rows inserted in business id order (the
    foreign key's check and the indexes led by ``target_id`` walk in order). Only the ids, the businesses' ids and
    the strata travel, one text each: positions and groups follow from the order (the server numbers the rows)."""
    if not codes:
        return []
    now = utcnow()
    found = [targets[c] for c in codes]
    count = conn.scalar(text(_INSERT_INSPECTIONS), {
        "ids": "|".join([str(f[2]) for f in found]), "target_ids": "|".join([str(f[0]) for f in found]),
        "strata": "|".join([f[3] for f in found]), "group_ids": "|".join(map(str, group_ids)),
        "n_groups": len(group_ids), "task_id": draw.task_id, "draw_id": draw.id, "status": "assigned", "now": now,
    })
    if count != len(codes):
        raise RuntimeError(f"inspection: {count} rows inserted of {len(codes)}")
    return [f[2] for f in found]


# The figures' fact (backend/figures/facts.py) of an inspection just drawn, as ``facts.fact_select`` computes it
# for one: assigned, not a re-inspection, nothing submitted, published or exempt, no record, no section, no
# write from any client. Inserted by ``_LOCK_TARGETS`` as each stratum is ranked, from what the probe read (the
# business's region), under the inspection's id taken from the sequence then; the inspection follows here, after
# the ranking. The figures' tests compare the facts after a draw with a rebuild by ``fact_select``.
_INSERT_INSPECTIONS = """
    WITH x AS MATERIALIZED (
        SELECT x.id, x.target_id, x.stratum, CAST(x.n - 1 AS integer) AS position
        FROM unnest(string_to_array(:ids, '|')::integer[], string_to_array(:target_ids, '|')::integer[],
                    string_to_array(:strata, '|')) WITH ORDINALITY AS x(id, target_id, stratum, n)),
    g AS (SELECT string_to_array(:group_ids, '|')::integer[] AS ids),
    inserted AS (
        INSERT INTO inspection (id, target_id, group_id, stratum, position, task_id, draw_id, status, created_at,
                                updated_at)
        SELECT x.id, x.target_id, g.ids[x.position % CAST(:n_groups AS integer) + 1], x.stratum, x.position,
               :task_id, :draw_id, :status, :now, :now
        FROM x CROSS JOIN g ORDER BY x.target_id
        RETURNING 1)
    SELECT count(*) FROM inserted"""


def _save_replacements(session: Session, draw: Draw, result: algorithm.DrawResult,
                       inspection_of: dict[str, int]) -> None:
    """The recusal's replacements (step 6), each on its inspection."""
    certs = sorted({r.out for r in result.replacements} | {r.in_ for r in result.replacements})
    inspector_ids = _ids_by(session, Inspector.id, Inspector.cert_no, certs)
    dept_ids = dict(session.execute(select(Department.code, Department.id)
                                    .where(Department.code.in_(list(draw.plan["members"])))).all())
    session.execute(insert(InspectionMember), [
        {"inspection_id": inspection_of[r.target], "department_id": dept_ids[r.dept],
         "out_inspector_id": inspector_ids[r.out], "in_inspector_id": inspector_ids[r.in_]}
        for r in result.replacements])


def _save_elsewhere(session: Session, task: Task, draw: Draw, result: algorithm.DrawResult) -> None:
    """Not PostgreSQL (SQLite): the ids looked up in chunks, the rows inserted in bulk."""
    stratum_of = {code: s for s, codes in result.selected.items() for code in codes}
    few = sorted({g.leader for g in result.groups})
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
    _insert_keyed(session, Inspection, "target", "code", "target_id", inspections, ("group_id", "stratum", "position"),
                  {"task_id": task.id, "draw_id": draw.id, "status": "assigned", "created_at": now, "updated_at": now})
    facts.note(session, "draw", [draw.id])   # inserted by SQL the ORM does not see: their facts
    if result.replacements:
        target_ids = _ids_by(session, Target.id, Target.code, sorted({r.target for r in result.replacements}))
        by_target = dict(session.execute(
            select(Inspection.target_id, Inspection.id).where(Inspection.draw_id == draw.id,
                                                              Inspection.target_id.in_(list(target_ids.values())))
        ).all())
        _save_replacements(session, draw, result, {code: by_target[i] for code, i in target_ids.items()})
    return None


_PG_TYPES = {int: "bigint", str: "text"}


def _insert_keyed(session: Session, model, parent: str, parent_key: str, id_column: str, rows: list[tuple],
                  columns: tuple[str, ...], constants: dict) -> None:
    """Not PostgreSQL: insert rows given as (parent key, *columns), each key (a code) turned into the parent's
    id, looked up in chunks; then the rows inserted in bulk."""
    if not rows:
        return
    parent_model = {"target": Target, "inspector": Inspector}[parent]
    ids = _ids_by(session, parent_model.id, getattr(parent_model, parent_key), sorted({r[0] for r in rows}))
    bulk_insert(session, model, [{id_column: ids[r[0]], **dict(zip(columns, r[1:])), **constants} for r in rows])


def _pg_insert_keyed(conn, table: str, parent: str, parent_key: str, id_column: str, rows: list[tuple],
                     columns: tuple[str, ...], constants: dict) -> list[int]:
    """PostgreSQL: insert rows given as (parent key, *columns), each key (a code) turned into the parent's id,
    in one statement; returns the new rows' ids in the order of ``rows``.

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
    The caller turns JIT off (``Saver``): 30,000 probes are estimated past ``jit_above_cost``.
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
            SELECT x.n, p.id AS parent_id, {', '.join('x.' + c for c in columns)}
            FROM (SELECT * FROM unnest({split}) WITH ORDINALITY AS x(k, {names}, n) ORDER BY k) AS x
            CROSS JOIN LATERAL (SELECT id FROM {parent} WHERE {parent_key} = x.k LIMIT 1) AS p),
        fresh AS MATERIALIZED (
            SELECT array_agg(v ORDER BY v) AS ids
            FROM (SELECT nextval((SELECT pg_get_serial_sequence('{table}', 'id'))::regclass) AS v
                  FROM generate_series(1, :n)) AS s),
        inserted AS (
            INSERT INTO {table} (id, {id_column}, {names}{''.join(', ' + k for k in constants)})
            SELECT fresh.ids[x.n], x.parent_id, {', '.join('x.' + c for c in columns)}{consts}
            FROM x CROSS JOIN fresh ORDER BY x.parent_id
            RETURNING id)
        SELECT count(*), string_agg(id::text, ',') FROM inserted"""
    params = texts | {"n": n} | {f"c_{k}": v for k, v in constants.items()}
    count, ids = conn.execute(text(sql), params).one()
    if count != n:
        _missing(conn, table, parent, parent_key, sorted({r[0] for r in rows}), count)
    return sorted(map(int, ids.split(","))) if ids else []
