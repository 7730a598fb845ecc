"""The state one push works on: inspections, sections and records loaded once, written once.

Handlers read and change this state in memory; ``finish`` writes what changed in a few bulk
statements, then the push's one audit entry, then the change rows (last: the change sequence's
lock is held from there to commit). On PostgreSQL the loading is one statement (``_prefetch_pg``'s, sent in the
device claim's: ``read_along``) and the writing one (``_finish_pg``: the rows' locks and writes, the push's audit
entry and change rows as one pending row, the figure facts' refresh locks), then ``commit`` sends the facts'
refresh with COMMIT in one round trip (psycopg's pipeline mode) and has the chainer (``backend.audit.chainer``)
link the pending row into the audit chain and number its changes; the push's transaction touches no global row.
SQLite keeps the ORM path.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, lazyload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from backend.actor import Actor
from backend.audit import chainer, services as audit
from backend.db import bulk_insert, bulk_update_json, loaded as db_loaded, psycopg_sql, raw_rows, row_reader, utcnow
from backend.directory.models import Item, Target
from backend.figures import facts
from backend.figures.facts import FigureFact
from backend.inspections.access import PEOPLE_OF_INSPECTION, Participation, PeopleRow, assemble, participation
from backend.inspections.fields import POINT_FIELDS, Catalogue, PointSpec, section_check
from backend.inspections.models import Conflict, Flag, Inspection, Record, Section, SectionAnswer, Signature
from backend.media import services as media
from backend.plans.models import Task, TaskItem
from sync import changes
from sync.engine import ReadAlong
from sync.fields import MergePlan, apply_plan

POINT_FIELD_NAMES = ("value", *POINT_FIELDS)


class SectionState:
    """A section as a flat path → value map with its revisions; new until first written."""

    def __init__(self, inspection_id: int, department_id: int, row: Section | None,
                 answers: dict[int, tuple[dict, dict]]):
        self.inspection_id, self.department_id, self.row = inspection_id, department_id, row
        self.values: dict[str, Any] = dict(row.data) if row else {}
        self.revs: dict[str, list] = dict(row.revs) if row else {}
        values, revs = self.values, self.revs
        self.rev = row.rev if row else 0
        self.status = row.status if row else "open"
        self.signed_hash = row.signed_hash if row else None
        self.stored_points = set(answers)
        for cp, (point_data, point_revs) in answers.items():
            prefix = f"points.{cp}."
            for f, v in point_data.items():
                values[prefix + f] = v
            for f, r in point_revs.items():
                revs[prefix + f] = r
        self.dirty_points: set[int] = set()
        self.dirty = False
        self.writer_id: int | None = None

    def apply(self, plan: MergePlan, client_id: str, user_id: int) -> dict[str, int]:
        if not plan.changes:
            return {}
        self.rev += 1
        out = apply_plan(self.values, self.revs, plan, self.rev, client_id)
        for path in plan.changes:
            if path.startswith("points."):
                self.dirty_points.add(int(path.split(".")[1]))
        self.dirty, self.writer_id = True, user_id
        return out

    def meta(self, source: dict) -> dict:
        return {k: v for k, v in source.items() if not k.startswith("points.")}

    def point_row(self, cp: int) -> tuple[dict, dict]:
        """A check point's answer and its revisions (``{field: value}``, ``{field: [rev, client]}``)."""
        prefix = f"points.{cp}."
        values, revs = self.values, self.revs
        data, point_revs = {}, {}
        for f in POINT_FIELD_NAMES:
            path = prefix + f
            if path in values:
                data[f] = values[path]
            if path in revs:
                point_revs[f] = revs[path]
        return data, point_revs


class RecordState:
    def __init__(self, inspection_id: int, row: Record | None):
        self.inspection_id, self.row = inspection_id, row
        self.values: dict[str, Any] = dict(row.data) if row else {}
        self.revs: dict[str, list] = dict(row.revs) if row else {}
        self.rev = row.rev if row else 0
        self.state = row.state if row else "draft"
        self.content_hash = row.content_hash if row else None
        self.submitted_by: int | None = row.submitted_by if row else None
        self.submitted_at = row.submitted_at if row else None
        self.dirty = False

    def apply(self, plan: MergePlan, client_id: str, user_id: int | None = None) -> dict[str, int]:
        if not plan.changes:
            return {}
        self.rev += 1
        self.dirty = True
        return apply_plan(self.values, self.revs, plan, self.rev, client_id)


@dataclasses.dataclass
class InspectionState:
    inspection: Inspection
    loaded_task: Task | None                 # None: made on first use (``task``) from ``unmade``
    part: Participation
    sections: dict[int, SectionState] = dataclasses.field(default_factory=dict)
    record: RecordState | None = None
    signatures: list[Signature] | None = None
    changed: bool = False
    fact_from_phone: bool | None = None      # its figure fact's from_phone as loaded (None: no fact)
    task_created_at: dt.datetime | None = None
    # PostgreSQL: (session, the task's values, the business's values or None) as read, their ORM objects made on
    # first use: a section's push uses neither (its catalogue is the task id's), a signature or a submit both
    unmade: tuple | None = None

    @property
    def task(self) -> Task:
        if self.unmade is not None:
            self.make_objects()
        return self.loaded_task

    @property
    def target(self) -> Target | None:
        """The inspection's business (what a push reads of it: ``_TARGET_COLUMNS``)."""
        if self.unmade is not None:
            self.make_objects()
        return self.inspection.target

    def make_objects(self) -> None:
        """The task's and the business's ORM objects made from what was read (``inspection.task`` and
        ``inspection.target`` then load without a statement)."""
        if self.unmade is None:
            return
        session, task, target = self.unmade
        self.unmade = None
        self.loaded_task = db_loaded(session, Task, task)
        if "target" not in self.inspection.__dict__:
            set_committed_value(self.inspection, "target",
                                db_loaded(session, Target, target) if target is not None else None)


class FieldBatch:
    """Everything one push reads and writes about inspections."""

    writes_sync_record = True      # sync.engine hands ``sync_record`` over (PostgreSQL: one statement with ours)

    def __init__(self, session: Session, actor: Actor, settings: dict | None = None):
        self.session, self.actor, self.settings = session, actor, settings or {}
        self.inspections: dict[int, InspectionState | None] = {}
        self.catalogues: dict[tuple[int, int], Catalogue] = {}
        self.checkers: dict[tuple[int, int], Any] = {}
        self.new_signatures: list[Signature] = []
        self.new_conflicts: list[Conflict] = []
        self.new_flags: list[Flag] = []
        self.media: dict[int, set[str]] = {}
        self.resolutions: list[dict] = []          # conflicts resolved, for the push's audit entry
        self.photo_flags_seen: dict[int, set] = {}  # photo_checks: (path, code, photo id) flagged per inspection
        self.sync_record = None                    # PostgreSQL: the push's own record, written by ``finish``
        self.defer_final = False                   # PostgreSQL: committed by ``commit`` (the chainer's run after it)
        self.final: Pending | None = None          # what ``_finish_pg`` left to ``commit``

    # --- loading --------------------------------------------------------------------------------

    def prefetch(self, inspection_ids: list[int]) -> None:
        """Load several inspections (and their sections and records) in a few queries."""
        wanted = [i for i in dict.fromkeys(inspection_ids) if i not in self.inspections]
        if not wanted:
            return
        if self.session.get_bind().dialect.name == "postgresql":
            return self._prefetch_pg(wanted)
        # one query: the inspection, its task, its record, its sections and their answers (a row per answer)
        loaded = self.session.execute(
            select(Inspection, Task, Record, Section, SectionAnswer.check_point_id, SectionAnswer.data,
                   SectionAnswer.revs, FigureFact.from_phone)
            .join(Task, Task.id == Inspection.task_id)
            .outerjoin(FigureFact, FigureFact.inspection_id == Inspection.id)
            .outerjoin(Record, Record.inspection_id == Inspection.id)
            .outerjoin(Section, Section.inspection_id == Inspection.id)
            .outerjoin(SectionAnswer, SectionAnswer.section_id == Section.id)
            .where(Inspection.id.in_(wanted)).options(lazyload(Inspection.task))).all()
        rows = list({row.id: row for row, *_ in loaded}.values())
        parts = participation(self.session, rows)
        for iid in wanted:
            self.inspections[iid] = None
        sections: dict[int, Section] = {}
        answers: dict[int, dict] = {}
        for row, task, record, section, cp, data, revs, from_phone in loaded:
            if self.inspections[row.id] is None:
                self.inspections[row.id] = state = InspectionState(row, task, parts[row.id],
                                                                   fact_from_phone=from_phone,
                                                                   task_created_at=task.created_at)
                if record is not None:
                    state.record = RecordState(row.id, record)
            if section is not None:
                sections[section.id] = section
                if cp is not None:
                    answers.setdefault(section.id, {})[cp] = (data, revs)
        for s in sections.values():
            self.inspections[s.inspection_id].sections[s.department_id] = SectionState(
                s.inspection_id, s.department_id, s, answers.get(s.id, {}))

    def _prefetch_pg(self, wanted: list[int]) -> None:
        """PostgreSQL: one statement, a row per section (not per answer): the inspection, its task, its record,
        the section, its answers as one JSON array, the inspection's participation (``PEOPLE_OF_INSPECTION``),
        its figure fact's ``from_phone`` and its business. Read on the raw psycopg connection and made into the
        objects the ORM would have loaded (``backend.db.loaded``: ~4× less CPU than the ORM's loading); the task's
        and the business's when first used (``InspectionState.task``, ``.target``: a section's push uses neither).
        ``sync.engine`` sends it in the client's claim instead (``read_along``)."""
        sql, _parts = _prefetch_raw(len(wanted))
        self._take_pg(wanted, raw_rows(self.session, sql, {f"w{n}": iid for n, iid in enumerate(wanted)}))

    def read_along(self, mutations) -> ReadAlong | None:
        """PostgreSQL: ``_prefetch_pg``'s read of what the mutations name, for ``sync.engine`` to send in the
        client's claim (one statement, one round trip: docs/decisions.md, "The claim reads what a push names")."""
        if self.session.get_bind().dialect.name != "postgresql":
            return None
        wanted = [i for i in dict.fromkeys(_named(mutations)) if i not in self.inspections]
        if not wanted:
            return None
        sql, _parts = _prefetch_raw(len(wanted))
        return ReadAlong(sql, {f"w{n}": iid for n, iid in enumerate(wanted)},
                         lambda rows: self._take_pg(wanted, rows))

    def _take_pg(self, wanted: list[int], loaded: list[tuple]) -> None:
        """``_prefetch_raw``'s rows made into the push's state (a row whose inspection is null: none, the claim's
        read finding nothing)."""
        session = self.session
        _sql, parts = _prefetch_raw(len(wanted))
        for iid in wanted:
            self.inspections[iid] = None
        (ri, i_read), (rt, t_read), (rr, r_read), (rs, s_read), (rg, g_read) = parts
        for row in loaded:
            iid = row[ri.start]
            if iid is None:
                continue
            state = self.inspections[iid]
            if state is None:
                inspection = db_loaded(session, Inspection, i_read(row[ri]))
                task = t_read(row[rt])
                target = g_read(row[rg]) if row[rg.start] is not None else None
                people = row[rs.stop + 1]
                part = assemble([inspection], [PeopleRow(**p) for p in people or ()])[iid]
                self.inspections[iid] = state = InspectionState(inspection, None, part,
                                                                fact_from_phone=row[rs.stop + 2],
                                                                task_created_at=task["created_at"],
                                                                unmade=(session, task, target))
                if row[rr.start] is not None:
                    state.record = RecordState(iid, db_loaded(session, Record, r_read(row[rr])))
            if row[rs.start] is not None:
                section = db_loaded(session, Section, s_read(row[rs]))
                state.sections[section.department_id] = SectionState(
                    section.inspection_id, section.department_id, section,
                    {cp: (data, revs) for cp, data, revs in row[rs.stop] or ()})

    def inspection(self, inspection_id: int) -> InspectionState | None:
        if inspection_id not in self.inspections:
            self.prefetch([inspection_id])
        return self.inspections[inspection_id]

    def section(self, state: InspectionState, department_id: int) -> SectionState:
        if department_id not in state.sections:
            state.sections[department_id] = SectionState(state.inspection.id, department_id, None, {})
        return state.sections[department_id]

    def record(self, state: InspectionState) -> RecordState:
        if state.record is None:
            state.record = RecordState(state.inspection.id, None)
        return state.record

    def signatures(self, state: InspectionState) -> list[Signature]:
        if state.signatures is None:
            state.signatures = list(self.session.scalars(
                select(Signature).where(Signature.inspection_id == state.inspection.id)
                .order_by(Signature.created_at)))
        return state.signatures

    def live_signatures(self, state: InspectionState, scope: str, department_id: int | None = None
                        ) -> list[Signature]:
        """The signatures on the record (``scope="record"``), or on one department's section, not void."""
        return [s for s in self.signatures(state) if s.scope == scope and s.void_at is None
                and (department_id is None or s.department_id == department_id)]

    def catalogue(self, task_id: int, department_id: int) -> Catalogue:
        key = (task_id, department_id)
        if key not in self.catalogues:
            created_at = next((s.task_created_at for s in self.inspections.values()
                               if s is not None and s.inspection.task_id == task_id), None)
            self.catalogues[key] = cached_catalogue(self.session, task_id, department_id, created_at)
        return self.catalogues[key]

    def section_checker(self, task_id: int, department_id: int):
        """``path → check`` for one department's section, remembered (every section of a task has the same paths)."""
        key = (task_id, department_id)
        if key not in self.checkers:
            catalogue = self.catalogue(task_id, department_id)
            known = _known_checks(catalogue)

            def check(path: str):
                found = known.get(path)
                if found is None:
                    found = section_check(catalogue, path)
                    if len(known) < KNOWN_PATHS:     # a catalogue's own paths: a few hundred
                        known[path] = found
                return found
            self.checkers[key] = check
        return self.checkers[key]

    def prepare(self, mutations) -> None:
        """Load what the mutations about to be applied name (not those being replayed)."""
        self.prefetch(_named(mutations))

    def target_place(self, state: InspectionState) -> dict | None:
        t: Target = state.target
        if t.latitude is None or t.longitude is None:
            return None
        return {"latitude": t.latitude, "longitude": t.longitude, "datum": t.datum or "GCJ-02"}

    # --- recording ------------------------------------------------------------------------------

    def touched(self, state: InspectionState) -> None:
        state.changed = True

    def add_signature(self, state: InspectionState, signature: Signature) -> None:
        self.signatures(state).append(signature)
        self.new_signatures.append(signature)
        if signature.image_sha256:  # the file is in use: the clean-up keeps it
            self.add_media(state.inspection.id, {signature.image_sha256})
        self.touched(state)

    def add_media(self, inspection_id: int, sha256s) -> None:
        self.media.setdefault(inspection_id, set()).update(sha256s)

    # --- writing --------------------------------------------------------------------------------

    def finish(self, session: Session, outcome=None) -> None:
        if session.get_bind().dialect.name == "postgresql":
            return self._finish_pg(session, outcome)
        now = utcnow()
        changed = [s for s in self.inspections.values() if s is not None and s.changed]
        touched = sorted(state.inspection.id for state in changed)
        new_sections, answer_inserts, answer_updates = [], [], []
        for state in changed:
            for s in state.sections.values():
                if not s.dirty:
                    continue
                if s.row is None:
                    s.row = Section(inspection_id=s.inspection_id, department_id=s.department_id, created_at=now)
                    new_sections.append(s.row)
                s.row.data, s.row.revs = s.meta(s.values), s.meta(s.revs)
                s.row.rev, s.row.status, s.row.signed_hash, s.row.updated_at = s.rev, s.status, s.signed_hash, now
            _stage_record(session, state, now)
        if new_sections:
            session.add_all(new_sections)
            session.flush()
        for state in changed:
            for s in state.sections.values():
                for cp in s.dirty_points:
                    data, point_revs = s.point_row(cp)
                    row = {"section_id": s.row.id, "check_point_id": cp, "data": data, "revs": point_revs,
                           "updated_by": s.writer_id}
                    if cp in s.stored_points:
                        answer_updates.append(row)
                    else:
                        answer_inserts.append({**row, "updated_at": now, "first_at": now})
                        s.stored_points.add(cp)
                s.dirty_points.clear()
                s.dirty = False
        if touched:  # one statement for all: started when first written, changed now
            session.execute(update(Inspection).where(Inspection.id.in_(touched)).values(
                status=case((Inspection.status == "assigned", "in_progress"), else_=Inspection.status),
                started_at=func.coalesce(Inspection.started_at, now), updated_at=now)
                .execution_options(synchronize_session=False))
        if answer_inserts:
            bulk_insert(session, SectionAnswer, answer_inserts)
        if answer_updates:
            bulk_update_json(session, SectionAnswer, ("section_id", "check_point_id"), answer_updates,
                             {"section_id": "integer", "check_point_id": "integer", "data": "json", "revs": "json",
                              "updated_by": "integer"}, same={"updated_at": now})
        session.add_all(self.new_signatures)
        session.add_all(self.new_conflicts)
        session.add_all(self.new_flags)
        session.flush()
        self._write_media_refs(session)
        detail = self._detail(touched, outcome)
        audit.record(session, self.actor, "sync.push", "sync_client", detail.get("client_id"), detail=detail,
                     department_id=self.actor.department_id)
        changes.append(session, [changes.Change("inspection", iid, self.inspections[iid].inspection.task_id, "push")
                                 for iid in touched])

    def _detail(self, touched: list[int], outcome) -> dict:
        detail = {"inspections": touched[:200], "signatures": len(self.new_signatures),
                  "conflicts": len(self.new_conflicts), "flags": len(self.new_flags)}
        if self.resolutions:
            detail["resolutions"] = self.resolutions[:100]
        if outcome is not None:
            detail.update(outcome)
        return detail

    def _finish_pg(self, session: Session, outcome=None) -> None:
        """PostgreSQL: what ``finish`` writes, in one statement (besides what the ORM flushes for records,
        signatures, conflicts, flags and media, which a section's push has none of): the touched inspections' rows
        locked and compared with what was read (a push gone stale writes nothing and raises ``StaleRead``), the
        client's progress and its mutations' outcomes (``sync_record``), the sections, the inspections, the
        answers, the push's audit entry and change rows as one pending row (``chainer.PENDING_CTE``), and last the
        figure facts' refresh locks. No global row is touched: pushes commit in parallel, and ``commit`` has the
        chainer link the row into the chain after the commit (docs/decisions.md, "Pushes commit in parallel, the
        chainer links them"). A push that holds the audit head already, submits a record (its PDF jobs' audit
        entries follow the push's) or is not committed by ``commit`` (``defer_final`` unset) appends its entry and
        changes in its transaction instead, as ``finish`` does (``inline``)."""
        from backend.db import _json_dumps

        now = utcnow()
        changed = [s for s in self.inspections.values() if s is not None and s.changed]
        touched = sorted(state.inspection.id for state in changed)
        # each touched inspection's updated_at as read (every push that writes one moves it): compared under the
        # lock. Not those the ORM updates itself below (a record submitted changes its inspection's status): its
        # own UPDATE moves updated_at and takes the row's lock in the flush, before the write statement
        seen = {state.inspection.id: state.inspection.__dict__.get("updated_at") for state in changed
                if not session.is_modified(state.inspection, include_collections=False)}
        new_sections, section_updates, answer_inserts, answer_updates = [], [], [], []
        fact_ids: set[int] = set()      # inspections whose figure fact this push may change
        for state in changed:
            if state.inspection.status == "assigned":          # becomes in_progress
                fact_ids.add(state.inspection.id)
            for s in state.sections.values():
                if not s.dirty:
                    continue
                values = {"data": s.meta(s.values), "revs": s.meta(s.revs), "rev": s.rev, "status": s.status,
                          "signed_hash": s.signed_hash}
                if s.row is None:
                    new_sections.append({"inspection_id": s.inspection_id, "department_id": s.department_id,
                                         **values})
                    fact_ids.add(s.inspection_id)               # a fact counts the sections
                else:
                    section_updates.append({"id": s.row.id, **values})
                    for k, v in values.items():
                        set_committed_value(s.row, k, v)
                    set_committed_value(s.row, "updated_at", now)
                section_id = s.row.id if s.row is not None else None
                for cp in s.dirty_points:
                    data, point_revs = s.point_row(cp)
                    row = {"section_id": section_id, "inspection_id": s.inspection_id,
                           "department_id": s.department_id, "check_point_id": cp, "data": data,
                           "revs": point_revs, "updated_by": s.writer_id}
                    if cp in s.stored_points:
                        answer_updates.append(row)
                    else:
                        answer_inserts.append(row)
                        s.stored_points.add(cp)
                s.dirty_points.clear()
                s.dirty = False
            _stage_record(session, state, now)
        session.add_all(self.new_signatures)
        session.add_all(self.new_conflicts)
        session.add_all(self.new_flags)
        session.flush()                      # a section's push: nothing (no statement)
        self._write_media_refs(session)
        # the write: the touched inspections' rows locked first (``lock_i``) and their updated_at compared with
        # what was read (``stale_i``); the writes, each only when nothing went stale (which also makes each read
        # the lock first); the audit head's lock last (``audit_l``), after every write
        # (each id its own parameter, as the prefetch's: the generic plan of ``= ANY($1)``, or of a join with
        # ``json_to_recordset`` alone, scanned the whole table; ``id IN ($1, …)`` is an index lookup whatever the
        # plan: ``_ids_in``)
        ok = "(SELECT cardinality(ids) = 0 FROM stale_i)"
        params: dict = {"now": now, "seen": _json_dumps([{"id": i, "at": _aware(at)} for i, at in seen.items()])}
        touched_in = _ids_in("t", touched, params)
        ctes: list[str] = [
            f"lock_i AS (SELECT id, updated_at FROM inspection WHERE id IN ({touched_in}) ORDER BY id "
            "FOR NO KEY UPDATE)",
            "stale_i AS (SELECT COALESCE(array_agg(lock_i.id ORDER BY lock_i.id), '{}') AS ids FROM lock_i "
            "JOIN json_to_recordset(CAST(:seen AS json)) AS r(id integer, at timestamptz) ON r.id = lock_i.id "
            "WHERE lock_i.updated_at IS DISTINCT FROM r.at)"]
        written: list[str] = []          # the parts the head's lock waits for
        record_ = self.sync_record
        if record_ is not None:
            from sync import engine

            parts, more = engine.record_ctes(record_)
            ctes += parts
            written += engine.RECORD_PARTS
            params.update(more)
            fact_ids |= self._facts_of_writes(record_)
        elif touched:
            fact_ids |= set(touched)
        if new_sections:
            ctes.append("new_s AS (INSERT INTO inspection_section (inspection_id, department_id, data, revs, rev, "
                        "status, signed_hash, created_at, updated_at) SELECT v.inspection_id, v.department_id, "
                        "v.data, v.revs, v.rev, v.status, v.signed_hash, :now, :now FROM json_to_recordset("
                        "CAST(:new_sections AS json)) AS v(inspection_id integer, department_id integer, data json, "
                        f"revs json, rev integer, status varchar, signed_hash varchar) WHERE {ok} "
                        "RETURNING id, inspection_id, department_id)")
            params["new_sections"] = _json_dumps(new_sections)
            written.append("new_s")
        if section_updates:
            updated_in = _ids_in("u", [u["id"] for u in section_updates], params)
            ctes.append("upd_s AS (UPDATE inspection_section AS t SET data = v.data, revs = v.revs, rev = v.rev, "
                        "status = v.status, signed_hash = v.signed_hash, updated_at = :now FROM json_to_recordset("
                        "CAST(:section_updates AS json)) AS v(id integer, data json, revs json, rev integer, "
                        f"status varchar, signed_hash varchar) WHERE t.id IN ({updated_in}) AND t.id = v.id "
                        f"AND {ok} RETURNING 1)")
            params["section_updates"] = _json_dumps(section_updates)
            written.append("upd_s")
        if touched:  # started when first written, changed now
            ctes.append("upd_i AS (UPDATE inspection SET status = CASE WHEN status = 'assigned' THEN 'in_progress' "
                        "ELSE status END, started_at = COALESCE(started_at, :now), updated_at = :now "
                        f"WHERE id IN ({touched_in}) AND {ok} RETURNING 1)")
            written.append("upd_i")
        if answer_inserts:
            new_join = ("LEFT JOIN new_s ON new_s.inspection_id = v.inspection_id "
                        "AND new_s.department_id = v.department_id" if new_sections else "")
            section_id = "COALESCE(v.section_id, new_s.id)" if new_sections else "v.section_id"
            ctes.append(f"ins_a AS (INSERT INTO section_answer (section_id, check_point_id, data, revs, updated_by, "
                        f"updated_at, first_at) SELECT {section_id}, v.check_point_id, v.data, v.revs, v.updated_by, "
                        f":now, :now FROM json_to_recordset(CAST(:answer_inserts AS json)) AS v(section_id integer, "
                        f"inspection_id integer, department_id integer, check_point_id integer, data json, revs json, "
                        f"updated_by integer) {new_join} WHERE {ok} RETURNING 1)")
            params["answer_inserts"] = _json_dumps(answer_inserts)
            written.append("ins_a")
        if answer_updates:
            sections_in = _ids_in("a", sorted({a["section_id"] for a in answer_updates if a["section_id"] is not None}),
                                  params)
            ctes.append("upd_a AS (UPDATE section_answer AS t SET data = v.data, revs = v.revs, "
                        "updated_by = v.updated_by, updated_at = :now FROM json_to_recordset("
                        "CAST(:answer_updates AS json)) AS v(section_id integer, check_point_id integer, data json, "
                        f"revs json, updated_by integer) WHERE t.section_id IN ({sections_in}) "
                        f"AND t.section_id = v.section_id AND t.check_point_id = v.check_point_id AND {ok} RETURNING 1)")
            params["answer_updates"] = _json_dumps(answer_updates)
            written.append("upd_a")
        after = " AND ".join([ok, *(f"(SELECT count(*) FROM {w}) >= 0" for w in written)])
        new_ids = ("(SELECT json_agg(json_build_array(id, inspection_id, department_id)) FROM new_s)"
                   if new_sections else "NULL")
        detail = self._detail(touched, outcome)
        client_id = (outcome or {}).get("client_id")
        # the push's audit entry and change rows: one pending row, written with the rest, linked into the chain
        # after commit (``backend.audit.chainer``): this transaction touches no global row. Appended in the
        # transaction instead (``inline``, the heads held to commit) when it writes more audit entries after this
        # (a record submitted: its PDF jobs'), holds the audit head already, or is not committed by ``commit``
        inline = (not self.defer_final or session.info.get("audit_head_tx") is session.get_transaction()
                  or any(s.record is not None and s.record.dirty and s.record.state == "submitted" for s in changed))
        main = ["(SELECT ids FROM stale_i)", new_ids]
        noted = None
        if not inline:
            fields = chainer.pending(session, self.actor, "sync.push", "sync_client", client_id, detail=detail,
                                     department_id=self.actor.department_id, at=now,
                                     changes=[("inspection", iid, self.inspections[iid].inspection.task_id, "push")
                                              for iid in touched])
            ctes.append(chainer.PENDING_CTE.format(ok=ok))
            params.update(chainer.pending_params(fields))
            main.append("(SELECT id FROM chain_p)")
            # the caller commits right after (``commit``): the facts noted by this push's flushes are refreshed
            # with COMMIT in one round trip; a note of anything but an inspection is left to the refresh before
            # commit
            noted = facts.noted_inspections(session)
            if noted is not None:
                fact_ids |= noted
                if fact_ids:
                    # the figure facts' refresh locks, taken as their refresh would, after every write (a
                    # condition reading the writes, evaluated before the locks): the refresh is one statement then
                    ctes.append(facts.LOCK_CTE)
                    params.update(facts.lock_parts(session, fact_ids))
                    main.append(f"(SELECT n FROM fact_lock WHERE {after})")
        # on the raw psycopg connection: SQLAlchemy's execution of a text cost more than the statement here
        (got,) = raw_rows(session, psycopg_sql("WITH " + ", ".join(ctes) + " SELECT " + ", ".join(main)), params)
        stale, made = got[0], got[1]
        if stale:
            # another push changed one of these inspections between our read and our lock: what this push
            # merged into was stale (nothing of it was written), writing it would lose the other's values; it is
            # applied again from the start
            raise StaleRead(sorted(stale))
        if record_ is not None:
            engine.recorded(record_)
        if new_sections:      # what the statement wrote told to the objects
            ids = {(i, d): sid for sid, i, d in made or ()}
            for state in changed:
                for s in state.sections.values():
                    if s.row is None and (s.inspection_id, s.department_id) in ids:
                        s.row = Section(id=ids[(s.inspection_id, s.department_id)],
                                        inspection_id=s.inspection_id, department_id=s.department_id,
                                        data=s.meta(s.values), revs=s.meta(s.revs), rev=s.rev, status=s.status,
                                        signed_hash=s.signed_hash, created_at=now, updated_at=now)
        if inline:
            audit.record(session, self.actor, "sync.push", "sync_client", client_id, detail=detail,
                         department_id=self.actor.department_id)
            changes.append(session, [changes.Change("inspection", iid, self.inspections[iid].inspection.task_id,
                                                    "push") for iid in touched])
            facts.note(session, "inspection", sorted(fact_ids))
            return
        self.final = Pending(got[2], fields, sorted(fact_ids) if noted is not None else None)
        if noted is None:
            facts.note(session, "inspection", sorted(fact_ids))

    def send_final(self, session: Session) -> None:
        """For a caller that writes more audit entries in the push's transaction (a submitted record's PDF jobs,
        whose entries follow the push's): the push's pending row, if ``_finish_pg`` left one, is linked now, in
        this transaction (the audit head held from here to commit). ``_finish_pg`` appends in the transaction
        already when the push submits a record; this is the safety net."""
        pending, self.final = self.final, None
        if pending is not None:
            chainer.link_own(session, pending.id, pending.fields)
            if pending.fact_ids is not None:
                facts.note(session, "inspection", pending.fact_ids)

    def commit(self, session: Session) -> None:
        """Commit the push's transaction, then link its pending row into the chain (``chainer.after_commit``:
        its own short transaction) before the caller answers. When ``_finish_pg`` took the figure facts' refresh
        locks (PostgreSQL), their refresh and COMMIT are sent together and answered together (psycopg's pipeline
        mode), and the chainer's BEGIN and first statement with them (``chainer.commit_and_read``): one round trip.
        The same statements in the same order: an error in one skips the rest (COMMIT included), raised as
        SQLAlchemy raises it, and the transaction is rolled back by the caller. A session inside a savepoint (the
        tests' shared transaction) sends the statements the same way and leaves the commit to ``session.commit``;
        the chain's run follows in that same transaction."""
        pending, self.final = self.final, None
        if pending is None:
            session.commit()
            return
        fact_ids = pending.fact_ids
        session.flush()                       # nothing (``_finish_pg`` flushed); anything would go first
        noted = facts.noted_inspections(session)
        if fact_ids and (noted is None or not noted <= set(fact_ids)):
            facts.note(session, "inspection", fact_ids)   # noted since ``_finish_pg``: not expected; safe
            fact_ids, noted = None, None
        conn = session.connection()
        root = not conn.in_nested_transaction() and not isinstance(session.bind, Connection)
        if root and noted is not None and noted <= set(fact_ids or ()):
            # nothing left for the refresh before commit: COMMIT goes with the chainer's first statement
            held = set(facts.buckets(fact_ids)) if fact_ids else None

            def send(conn, raw):
                if fact_ids:
                    facts.refresh(conn, fact_ids, held=held)
                facts.forget_noted(session)   # refreshed here (or nothing noted)
                return raw.execute("COMMIT", prepare=False)
            session.info[chainer.COMMIT_FIRST] = send
            try:
                chainer.after_commit(session, pending.id)
            finally:
                send = session.info.pop(chainer.COMMIT_FIRST, None)
            if send is not None:              # the chain's run did not send it (replaced: a crash simulated)
                self._commit_pipelined(session, send)
            return
        if fact_ids:                          # inside a savepoint: the refresh alone pipelined, then the commit
            def refresh(conn, raw):
                facts.refresh(conn, fact_ids, held=set(facts.buckets(fact_ids)))
                facts.forget_noted(session)
            self._commit_pipelined(session, refresh)
        else:
            session.commit()
        chainer.after_commit(session, pending.id)

    @staticmethod
    def _commit_pipelined(session: Session, send) -> None:
        """``send``'s statements (the facts' refresh, COMMIT) in one pipeline, an error raised as SQLAlchemy would;
        then the ORM told (no round trip when ``send`` committed)."""
        import psycopg

        conn = session.connection()
        raw = conn.connection.driver_connection
        try:
            with raw.pipeline():
                send(conn, raw)
        except psycopg.Error as exc:      # answered at the pipeline's end: wrapped as SQLAlchemy would
            if conn.dialect.is_disconnect(exc, raw, None):
                conn.invalidate(exc)
            raise DBAPIError.instance("COMMIT", None, exc, psycopg.Error, dialect=conn.dialect) from exc
        session.commit()

    def _facts_of_writes(self, record_) -> set[int]:
        """The inspections whose figure fact the push's section writes may change (``from_phone``: a section's
        write from a phone, and none from the office): all but those whose fact says already what this write
        keeps saying (a phone's write where the fact has ``from_phone``; the office's where it has not)."""
        out: set[int] = set()
        kind = record_.client.kind
        for row in record_.rows:
            iid = row["inspection_id"]
            if iid is None or not (row["name"] or "").startswith("section.") or \
                    row["status"] not in ("applied", "conflict"):
                continue
            state = self.inspections.get(iid)
            known = None if state is None else state.fact_from_phone
            if known is None or known != (kind == "phone") or kind not in ("phone", "office"):
                out.add(iid)
        return out

    def _write_media_refs(self, session: Session) -> None:
        for inspection_id, hashes in self.media.items():
            media.add_references(session, sorted(hashes), inspection_id, self.actor)


def _ids_in(prefix: str, ids: list[int], params: dict) -> str:
    """``:p0, :p1, …`` for an ``IN (…)`` of these ids, each its own parameter (added to ``params``), ``NULL`` for
    none: one statement text a number of ids, whose generic plan looks each id up by its index (``= ANY($1)`` was
    planned as a scan of the table, the prefetch's lesson below; so was a join with ``json_to_recordset`` alone,
    whose 100 rows the planner guesses)."""
    for n, i in enumerate(ids):
        params[f"{prefix}{n}"] = i
    return ", ".join(f":{prefix}{n}" for n in range(len(ids))) or "NULL"


def _named(mutations) -> list[int]:
    """The inspections the mutations name (ids a database keeps)."""
    return [m.args["inspection_id"] for m in mutations if isinstance(m.args.get("inspection_id"), int)
            and not isinstance(m.args["inspection_id"], bool) and 0 < m.args["inspection_id"] < 2**31]


_PREFETCH: dict[int, tuple] = {}


def _prefetch_raw(count: int):
    """``_prefetch_pg``'s statement (psycopg's parameters) and its parts: for the inspection, the task, the record,
    the section and the business, the slice of a row holding their columns and the reader of those (after the
    section's: its answers, the participation, the fact's ``from_phone``). What a push reads of the task and the
    business, not their every column (the task's plan and lead department, the business's 20 columns): the rest
    loads on first use (a submit's follow-ups, the PDF). One statement a number of ids (``count``), each id its own
    parameter, as SQLAlchemy's expanding ``IN`` wrote them: prepared by psycopg after 5 runs, the generic plan of
    ``id = ANY($1)`` scanned the inspections (their heap bloated by the pushes' updates: 2.7 ms of PostgreSQL's
    CPU a push instead of 1.5); ``id IN ($1)`` is an index lookup whatever the plan."""
    if count not in _PREFETCH:
        tables = (("inspection", Inspection, None), ("task", Task, _TASK_COLUMNS),
                  ("inspection_record", Record, None), ("inspection_section", Section, None),
                  ("target", Target, _TARGET_COLUMNS))
        columns, parts, at = [], [], 0
        for table, cls, only in tables:
            names, read = row_reader(cls, None if only is None else [c.key for c in only])
            if table == "target":      # after the section's answers, the participation and the fact
                columns += [_ANSWERS_SQL, f"({PEOPLE_OF_INSPECTION})", "figure_fact.from_phone"]
                at += 3
            columns += [f"{table}.{n}" for n in names]
            parts.append((slice(at, at + len(names)), read))
            at += len(names)
        sql = (f"SELECT {', '.join(columns)} FROM inspection JOIN task ON task.id = inspection.task_id "
               "LEFT OUTER JOIN figure_fact ON figure_fact.inspection_id = inspection.id "
               "LEFT OUTER JOIN inspection_record ON inspection_record.inspection_id = inspection.id "
               "LEFT OUTER JOIN inspection_section ON inspection_section.inspection_id = inspection.id "
               "LEFT OUTER JOIN target ON target.id = inspection.target_id "
               f"WHERE inspection.id IN ({', '.join(f'%(w{n})s' for n in range(count))})")
        if len(_PREFETCH) > 1000:
            _PREFETCH.clear()
        _PREFETCH[count] = (sql, parts)
    return _PREFETCH[count]


_ANSWERS_SQL = ("(SELECT json_agg(json_build_array(a.check_point_id, a.data, a.revs)) FROM section_answer a "
                "WHERE a.section_id = inspection_section.id)")
_TARGET_COLUMNS = (Target.id, Target.code, Target.name, Target.latitude, Target.longitude, Target.datum)
_TASK_COLUMNS = (Task.id, Task.code, Task.name, Task.plan_id, Task.lead_department_id, Task.status, Task.start_date,
                 Task.end_date, Task.created_at, Task.updated_at)


def _stage_record(session: Session, state, now) -> None:
    """A changed merged record onto its ORM row (both paths: the flush writes it)."""
    record = state.record
    if record is None or not record.dirty:
        return
    if record.row is None:
        record.row = Record(inspection_id=state.inspection.id)
        session.add(record.row)
    record.row.data, record.row.revs, record.row.rev = dict(record.values), dict(record.revs), record.rev
    record.row.state, record.row.content_hash = record.state, record.content_hash
    record.row.submitted_by, record.row.submitted_at = record.submitted_by, record.submitted_at
    record.row.version = (record.row.version or 1) + 1
    record.row.updated_at = now


@dataclasses.dataclass
class Pending:
    """What ``_finish_pg`` leaves to ``commit``: the push's pending row (its id and content) and the inspections
    whose figure facts are refreshed with COMMIT (their locks taken; None: left to the refresh before commit)."""
    id: int
    fields: dict
    fact_ids: list[int] | None


class StaleRead(Exception):
    """PostgreSQL: an inspection this push read was changed by another transaction before this push locked it
    (``FieldBatch._finish_pg``); nothing of this push is kept, it is applied again (``syncing.push``)."""

    def __init__(self, inspection_ids: list[int]) -> None:
        super().__init__(f"inspections changed since read: {inspection_ids}")
        self.inspection_ids = inspection_ids


def _aware(value):
    """A timestamp as read, in UTC with its zone (compared by the write statement with the column's value)."""
    if value is not None and value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value


_CATALOGUES: dict[tuple, tuple[float, Catalogue]] = {}
CATALOGUE_SECONDS = 60.0


_CHECKS: dict[int, tuple[Catalogue, dict]] = {}
KNOWN_PATHS = 5000


def _known_checks(catalogue: Catalogue) -> dict:
    """The checks found so far for the paths of one catalogue (kept with it: a cached catalogue's pushes reuse
    them; a new catalogue starts afresh)."""
    hit = _CHECKS.get(id(catalogue))
    if hit is None or hit[0] is not catalogue:
        if len(_CHECKS) > 2000:
            _CHECKS.clear()
        hit = _CHECKS[id(catalogue)] = (catalogue, {})
    return hit[1]

def cached_catalogue(session: Session, task_id: int, department_id: int, created_at=None) -> Catalogue:
    """A task's checklist changes rarely and every push of the task needs it: kept a minute per process (a check
    point retired meanwhile is refused by the next push after that; signing checks against the stored rows)."""
    import time

    if created_at is None:
        return load_catalogue(session, task_id, department_id)
    key = (id(session.get_bind().engine), task_id, created_at, department_id)
    hit = _CATALOGUES.get(key)
    if hit is not None and time.monotonic() - hit[0] < CATALOGUE_SECONDS:
        return hit[1]
    catalogue = load_catalogue(session, task_id, department_id)
    if len(_CATALOGUES) > 2000:
        _CATALOGUES.clear()
    _CATALOGUES[key] = (time.monotonic(), catalogue)
    return catalogue


def load_catalogue(session: Session, task_id: int, department_id: int) -> Catalogue:
    """The items of a task one department checks, with their (current) check points."""
    items = list(session.scalars(
        select(Item).join(TaskItem, TaskItem.item_id == Item.id)
        .where(TaskItem.task_id == task_id, TaskItem.department_id == department_id)
        .options(selectinload(Item.check_points))))
    points = {cp.id: PointSpec(cp.id, item.id, cp.answer_type, tuple(cp.options or ()), cp.required)
              for item in items for cp in item.check_points if cp.retired_at is None}
    return Catalogue(department_id, frozenset(i.id for i in items), points, {i.id: i.name for i in items},
                     {cp.id: cp.text for item in items for cp in item.check_points if cp.retired_at is None},
                     {i.id: tuple(i.methods or ()) for i in items})
