"""What a phone pulls: an inspection as one document, cut to what its reader may see; a task's checklist.

An officer sees their own department's section; the team lead sees every section as it arrives,
every conflict and flag, and the record; once the lead has finalised the record for signing, every
member sees all of it (they sign it). Nothing else: another group's inspections never appear.
"""
from __future__ import annotations

import datetime as dt
from typing import Any, NamedTuple

from sqlalchemy import bindparam, literal_column, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.db import dialect_of, raw_rows
from backend.directory.models import CheckPoint, Department, Item, Target
from backend.directory.rules import METHODS, RISK_CLASSES, TARGET_TYPES
from backend.draws.models import InspectionGroup
from backend.inspections import deadlines
from backend.inspections.access import (GONE_REASONS, PEOPLE_OF_INSPECTION, Participation, PeopleRow, assemble,
                                        participation)
from backend.inspections.checks import flags_of
from backend.inspections.fields import media_hashes
from sync.canonical import record_hash, section_hash
from backend.inspections.models import (INSPECTION_STATUSES, Conflict, Inspection, Record, Section, SectionAnswer,
                                        Signature)
from backend.inspections.rules import RECORD_STATES, RESULT_CATEGORIES, SECTION_STATUSES
from backend.plans.models import Task, TaskDepartment, TaskItem

RECENT_RESULTS = 3
RESOLVED_SHOWN = 50    # resolved conflicts an inspection carries (the most recent); open ones all
MEDIA_CHUNK = 5000     # hashes looked up in one statement (bind parameters are limited)

# The statements a pull sends for its sections and its tasks' checklists: columns, not ORM objects (nothing here
# is changed nor needs the identity map), built once (each pull only binds its ids: SQLAlchemy's compiled cache
# is hit without building and coercing a new statement every time).
_IDS = bindparam("ids", expanding=True)


class InspectionRow(NamedTuple):
    """What a pull reads of an inspection (``_INSPECTIONS``' columns, in order): its own columns that a document,
    the participation and the deadline use, its task's code, its group's number, then its business and its record
    (the last ``len(TargetRow._fields) + len(RecordRow._fields)`` columns, made into those two)."""
    id: int
    status: str
    task_id: int
    group_id: int
    target_id: int
    stratum: str
    position: int
    started_at: dt.datetime | None
    completed_at: dt.datetime | None
    completed_on: dt.date | None
    publication_due_on: dt.date | None
    due_provisional: bool
    clock_start: str | None
    clock_start_on: dt.date | None
    published_at: dt.datetime | None
    publication_exempt_at: dt.datetime | None
    followup_id: int | None
    task_code: str | None
    group_number: int | None
    target: "TargetRow"
    record: "RecordRow | None"


class TargetRow(NamedTuple):
    """The columns of a business its card shows (``_target_card``)."""
    id: int
    code: str
    name: str
    uscc: str | None
    reg_no: str | None
    type: str
    address: str | None
    region_code: str | None
    latitude: float | None
    longitude: float | None
    datum: str | None
    legal_rep: str | None
    phone: str | None
    risk_class: str | None
    status: str


class RecordRow(NamedTuple):
    """The columns of an inspection's record a pull sends (``_record``, ``_draft_hash``, ``_current_rev``)."""
    inspection_id: int
    data: dict
    revs: dict
    rev: int
    state: str
    content_hash: str | None
    version: int
    submitted_at: dt.datetime | None
    pdf_sha256: str | None


_OWN = len(InspectionRow._fields) - 2
_TARGET_END = _OWN + len(TargetRow._fields)
# the inspections with their task's code, their group's number, their business and their record: one statement of
# columns (no ORM object: a pull changes none of them; the ORM's joined task brought its plan and two departments)
_INSPECTIONS = (select(*(getattr(Inspection, f) for f in InspectionRow._fields[:_OWN - 2]), Task.code,
                       InspectionGroup.number, *(getattr(Target, f) for f in TargetRow._fields),
                       *(getattr(Record, f) for f in RecordRow._fields))
                .outerjoin(Task, Task.id == Inspection.task_id)
                .outerjoin(InspectionGroup, InspectionGroup.id == Inspection.group_id)
                .outerjoin(Target, Target.id == Inspection.target_id)
                .outerjoin(Record, Record.inspection_id == Inspection.id)
                .where(Inspection.id.in_(_IDS)).order_by(Inspection.id))
# PostgreSQL: each inspection's participation with it (``PEOPLE_OF_INSPECTION``, as a push reads it): one statement less
_INSPECTIONS_PG = _INSPECTIONS.add_columns(literal_column(f"({PEOPLE_OF_INSPECTION})"))
_SIGNATURES = (select(*(c for c in Signature.__table__.c if c.key not in ("strokes", "client_id", "mutation_id")))
               .where(Signature.inspection_id.in_(_IDS)).order_by(Signature.created_at))
_CONFLICTS = select(*Conflict.__table__.c).where(Conflict.inspection_id.in_(_IDS)).order_by(Conflict.id)
_SECTIONS = (select(Section.id, Section.inspection_id, Section.department_id, Section.data, Section.revs, Section.rev,
                    Section.status, Section.signed_hash, Section.updated_at, Department.code)
             .join(Department, Department.id == Section.department_id)
             .where(Section.inspection_id.in_(_IDS)).order_by(Section.id))
# the answers by section and check point: the order of a section's ``content``, ``revs`` and ``server_times`` the same
# on every pull and every database (it was the order the database gave them, which a plan could change)
_ANSWERS = (select(SectionAnswer.section_id, SectionAnswer.check_point_id, SectionAnswer.data, SectionAnswer.revs,
                   SectionAnswer.first_at, SectionAnswer.updated_at)
            .where(SectionAnswer.section_id.in_(_IDS))
            .order_by(SectionAnswer.section_id, SectionAnswer.check_point_id))
_TASKS = (select(Task.id, Task.code, Task.name, Task.status, Task.start_date, Task.end_date, Task.draw_date,
                 Task.lead_department_id).where(Task.id.in_(_IDS)).order_by(Task.id))
_TASK_DEPARTMENTS = (select(TaskDepartment.task_id, TaskDepartment.department_id, TaskDepartment.role, Department.code,
                            Department.name)
                     .join(Department, Department.id == TaskDepartment.department_id)
                     .where(TaskDepartment.task_id.in_(_IDS)).order_by(TaskDepartment.id))
_TASK_ITEMS = (select(TaskItem.task_id, TaskItem.department_id, Item.id, Item.code, Item.category, Item.name,
                      Item.kind, Item.methods, Item.legal_basis)
               .join(Item, Item.id == TaskItem.item_id)
               .where(TaskItem.task_id.in_(_IDS)).order_by(TaskItem.id))
_CHECK_POINTS = (select(CheckPoint.item_id, CheckPoint.id, CheckPoint.seq, CheckPoint.text, CheckPoint.answer_type,
                        CheckPoint.options, CheckPoint.required, CheckPoint.guidance)
                 .where(CheckPoint.item_id.in_(_IDS), CheckPoint.retired_at.is_(None))
                 .order_by(CheckPoint.item_id, CheckPoint.seq))


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    return value.isoformat()


def tombstone(inspection_id: int, code: str, reason: str) -> dict:
    return {"type": "inspection", "id": inspection_id, "op": "del", "reason_code": code, "reason": reason}


def inspection_changes(session: Session, actor: Actor, inspection_ids: list[int], *,
                       lead_view: bool = False) -> list[dict]:
    """One change per inspection: ``put`` with its document, or ``del`` with the reason it left the phone.

    ``lead_view`` (office screens of staff allowed to read the whole record) shows every part.
    """
    if not inspection_ids:
        return []
    inspections, parts = read_inspections(session, inspection_ids)
    ids = [i.id for i in inspections]
    sections = _sections(session, ids)
    signatures: dict[int, list] = {}
    for s in session.execute(_SIGNATURES, {"ids": ids}):
        signatures.setdefault(s.inspection_id, []).append(s)
    conflicts: dict[int, list] = {}
    for c in session.execute(_CONFLICTS, {"ids": ids}):
        conflicts.setdefault(c.inspection_id, []).append(c)
    flags = flags_of(session, ids)
    recent = _recent_results(session, {i.target_id for i in inspections}, ids)
    calendar = deadlines._calendar(session)
    reinspections = _reinspections(session, [i for i in inspections if i.followup_id is not None])
    out = []
    for inspection in inspections:
        part = parts[inspection.id]
        me = part.of(actor.inspector_id) if not lead_view else None
        if inspection.status in GONE_REASONS:
            out.append(tombstone(inspection.id, *GONE_REASONS[inspection.status]))
            continue
        if not lead_view and me is None:
            if actor.inspector_id in part.declared:
                out.append(tombstone(inspection.id, "recused", f"你已申报与该检查对象存在利害关系"
                                                               f"（{part.declared[actor.inspector_id]}），已回避该检查"))
            elif actor.inspector_id in part.recused:
                out.append(tombstone(inspection.id, "recused", "你已对该检查对象回避，由备选人员替你检查"))
            else:
                out.append(tombstone(inspection.id, "not_member", "你已不是该检查的检查组成员"))
            continue
        record = inspection.record
        state = record.state if record else "draft"
        sees_all = lead_view or me.is_lead or state != "draft"
        mine = [s for s in sections.get(inspection.id, []) if sees_all or s["department_id"] == me.department_id]
        doc = {
            "id": inspection.id, "status": inspection.status, "status_label": INSPECTION_STATUSES[inspection.status],
            "task_id": inspection.task_id, "stratum": inspection.stratum, "position": inspection.position,
            "started_at": _iso(inspection.started_at), "completed_at": _iso(inspection.completed_at),
            "target": _target_card(inspection.target, recent.get(inspection.target_id, [])),
            "group": _group(inspection, part),
            "me": None if me is None else {"inspector_id": me.inspector_id, "department_id": me.department_id,
                                           "is_lead": me.is_lead},
            "sections": mine,
            "signatures": [_signature(s) for s in signatures.get(inspection.id, [])
                           if sees_all or s.scope == "record" or s.department_id == me.department_id],
            "record": (_record(record, _draft_hash(inspection, inspection.task_code, part,
                                                   sections.get(inspection.id, []), record))
                       if (sees_all and (lead_view or me.is_lead or record is not None)) else None),
            "conflicts": [_conflict(c) for c in _visible_conflicts(conflicts.get(inspection.id, []))
                          if lead_view or me.is_lead or (c.scope == "section" and c.department_id == me.department_id)],
            "flags": [_flag(f, _current_rev(f, sections.get(inspection.id, []), record))
                      for f in flags.get(inspection.id, [])
                      if lead_view or me.is_lead or f.department_id == me.department_id],
            "deadline": deadlines.state_of(session, inspection, calendar=calendar),
            "reinspection": reinspections.get(inspection.id),
        }
        out.append({"type": "inspection", "id": inspection.id, "op": "put", "data": doc})
    _add_media(session, [change["data"] for change in out if change["op"] == "put"])
    return out


def read_inspections(session: Session, inspection_ids: list[int]) -> tuple[list[InspectionRow],
                                                                            dict[int, Participation]]:
    """These inspections (those that exist, by id) as rows (``InspectionRow``), with their business and their
    record, and their participation. PostgreSQL: one statement (the people of each inspection with it, as a push
    reads them); SQLite: ``participation``'s after."""
    postgres = dialect_of(session) == "postgresql"
    out, parts = [], {}
    for row in session.execute(_INSPECTIONS_PG if postgres else _INSPECTIONS, {"ids": list(inspection_ids)}):
        record = row[_TARGET_END:_TARGET_END + len(RecordRow._fields)]
        inspection = InspectionRow(*row[:_OWN], TargetRow(*row[_OWN:_TARGET_END]),
                                   RecordRow(*record) if record[0] is not None else None)
        out.append(inspection)
        if postgres:
            parts[inspection.id] = assemble([inspection], [PeopleRow(**p) for p in row[-1] or ()])[inspection.id]
    return out, (parts if postgres else participation(session, out))


def _reinspections(session: Session, inspections: list[InspectionRow]) -> dict[int, dict]:
    """For each re-inspection (复查): the follow-up it answers and what the first inspection found (the owner
    department's 不符合 check points, with their problem)."""
    from backend.followups.models import Followup

    if not inspections:
        return {}
    rows = {f.id: f for f in session.scalars(select(Followup).where(
        Followup.id.in_({i.followup_id for i in inspections})))}
    firsts = {i.id: i for i in session.scalars(select(Inspection).where(
        Inspection.id.in_({f.inspection_id for f in rows.values()})))}
    found: dict[tuple[int, int], list[dict]] = {}
    for section_row, answer in session.execute(
            select(Section, SectionAnswer).join(SectionAnswer, SectionAnswer.section_id == Section.id)
            .where(Section.inspection_id.in_(list(firsts)))
            .order_by(SectionAnswer.check_point_id)).all():
        if answer.data.get("result") == "fail":
            found.setdefault((section_row.inspection_id, section_row.department_id), []).append(
                {"check_point_id": answer.check_point_id, "problem": answer.data.get("problem")})
    out = {}
    for i in inspections:
        f = rows[i.followup_id]
        first = firsts.get(f.inspection_id)
        out[i.id] = {"followup_id": f.id, "inspection_id": f.inspection_id, "department_id": f.department_id,
                     "completed_on": _iso(first.completed_on) if first else None,
                     "due_on": _iso(f.due_on), "note": f.note, "state": f.state,
                     "problems": found.get((f.inspection_id, f.department_id), [])}
    return out


def _section_rows(session: Session, ids: list[int]) -> list[tuple]:
    """The sections of these inspections (``_SECTIONS``' columns), each with its answers last: a list of ``[check
    point, data, revs, first_at, updated_at]`` in check-point order, the two times as ``_iso`` writes them.
    SQLite: ``_SECTIONS`` and ``_ANSWERS``. PostgreSQL: one statement on the raw psycopg connection
    (``backend.db.raw_rows``), each id its own parameter as SQLAlchemy's expanding ``IN`` writes them (an index
    lookup whatever psycopg's prepared plan), the answers of a section one JSON array (``_ANSWERS_OF_SECTION``: one
    value for psycopg to load where there were five a check point, and no time to convert in Python)."""
    if dialect_of(session) != "postgresql":
        rows = session.execute(_SECTIONS, {"ids": ids}).all()
        answers: dict[int, list] = {}
        for sid, cp, data, revs, first_at, updated_at in (
                session.execute(_ANSWERS, {"ids": [r[0] for r in rows]}) if rows else ()):
            answers.setdefault(sid, []).append((cp, data, revs, _iso(first_at), _iso(updated_at)))
        return [(*r, answers.get(r[0], ())) for r in rows]
    rows = raw_rows(session, _raw_sql(_SECTIONS_PG, len(ids)), {f"p{n}": v for n, v in enumerate(ids)})
    return [(*r[:-1], [(cp, data, revs, _utc_text(first_at), _utc_text(updated_at))
                       for cp, data, revs, first_at, updated_at in r[-1] or ()]) for r in rows]


# a section's answers as one JSON array, in check-point order (the answers' key: an index scan, no sort); each time
# in UTC without a zone (``AT TIME ZONE 'UTC'``: whatever the session's zone), written as JSON writes a ``timestamp``
# (ISO 8601, trailing zeros of the fraction dropped) for ``_utc_text``
_ANSWERS_OF_SECTION = ("(SELECT json_agg(json_build_array(a.check_point_id, a.data, a.revs, a.first_at AT TIME ZONE "
                       "'UTC', a.updated_at AT TIME ZONE 'UTC') ORDER BY a.check_point_id) "
                       "FROM section_answer a WHERE a.section_id = s.id)")
_SECTIONS_PG = ("SELECT s.id, s.inspection_id, s.department_id, s.data, s.revs, s.rev, s.status, s.signed_hash, "
                "s.updated_at, d.code, " + _ANSWERS_OF_SECTION + " FROM inspection_section s "
                "JOIN department d ON d.id = s.department_id WHERE s.inspection_id IN ({}) ORDER BY s.id")
_RAW: dict[tuple[str, int], str] = {}


def _utc_text(text: str | None) -> str | None:
    """A UTC time as PostgreSQL's JSON writes a ``timestamp`` (``2026-04-08T01:30:00.12``) written as ``_iso``
    writes it (``2026-04-08T01:30:00.120000Z``: the fraction in six digits, none when it is zero)."""
    if text is None:
        return None
    n = len(text)
    if text[10:11] == "T" and (n == 19 or (20 < n <= 26 and text[19] == ".")):
        return text + "0" * (26 - n) + "Z" if n > 19 else text + "Z"
    return _iso(dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc))   # (not seen: a shape not above)


def _raw_sql(template: str, count: int) -> str:
    """``template`` with ``count`` parameters in its ``IN`` (one statement text a count: psycopg prepares each)."""
    key = (template, count)
    if key not in _RAW:
        if len(_RAW) > 1000:
            _RAW.clear()
        _RAW[key] = template.format(", ".join(f"%(p{n})s" for n in range(count)))
    return _RAW[key]


def _sections(session: Session, ids: list[int]) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for (_sid, inspection_id, department_id, data, section_revs, rev, status, signed_hash, updated_at, code,
         answers) in _section_rows(session, ids):
        values, revs, arrived = dict(data), {k: v[0] for k, v in section_revs.items()}, {}
        for cp, a_data, a_revs, first_at, a_updated_at in answers:
            for f, v in a_data.items():
                values[f"points.{cp}.{f}"] = v
            for f, v in a_revs.items():
                revs[f"points.{cp}.{f}"] = v[0]
            arrived[str(cp)] = {"first_at": first_at, "updated_at": a_updated_at}
        out.setdefault(inspection_id, []).append({
            "department_id": department_id, "department_code": code, "status": status,
            "status_label": SECTION_STATUSES[status], "rev": rev, "content": values, "revs": revs,
            "content_hash": section_hash(inspection_id, code, values),
            "signed_hash": signed_hash, "server_times": arrived, "updated_at": _iso(updated_at)})
    return out


def _named_media(doc: dict) -> set[str]:
    """The files the visible record names: photos, attachments, outcome photos, signature images."""
    wanted: set[str] = set()
    for s in doc["sections"]:
        wanted |= media_hashes([v for k, v in s["content"].items() if k.endswith((".photos", ".attachments"))
                                or k == "outcome"])
    if doc["record"]:
        wanted |= media_hashes([doc["record"]["content"].get("outcome")])
    wanted |= {s["image_sha256"] for s in doc["signatures"] if s["image_sha256"]}
    return wanted


def _add_media(session: Session, docs: list[dict]) -> None:
    """``doc["media"]``: what the server knows of each file the document names (whether it arrived, its EXIF
    fix and time), for all the documents in a few queries. A file counts for an inspection only through a
    bound reference (its writer sent the bytes or could already read it): a stored file named by someone
    who may not read it is ``null`` here, as one not arrived, and says nothing of itself."""
    from backend.media.models import Media, MediaRef

    named = [_named_media(doc) for doc in docs]
    wanted = sorted(set().union(*named))
    found, bound = {}, set()
    ids = [doc["id"] for doc in docs]
    for i in range(0, len(wanted), MEDIA_CHUNK):
        part = wanted[i:i + MEDIA_CHUNK]
        found.update((m.sha256, m) for m in session.scalars(select(Media).where(Media.sha256.in_(part))))
        bound.update((r.inspection_id, r.sha256) for r in session.execute(
            select(MediaRef.inspection_id, MediaRef.sha256).where(
                MediaRef.sha256.in_(part), MediaRef.inspection_id.in_(ids), MediaRef.bound.is_(True))))
    for doc, hashes in zip(docs, named):
        doc["media"] = {sha: (None if sha not in found or (doc["id"], sha) not in bound else {
            "status": found[sha].status, "kind": found[sha].kind, "exif_gps": found[sha].exif_gps,
            "exif_time": _iso(found[sha].exif_time), "thumb_sha256": found[sha].thumb_sha256})
            for sha in sorted(hashes)}


def _record(record: RecordRow | None, draft_hash: str) -> dict:
    """``content_hash``: a draft's is the hash it would be finalised with now (§5.1); from finalisation on, the
    hash fixed for signing."""
    if record is None:
        return {"state": "draft", "state_label": RECORD_STATES["draft"], "rev": 0, "version": 0, "content": {},
                "revs": {}, "content_hash": draft_hash, "submitted_at": None, "pdf_sha256": None}
    return {"state": record.state, "state_label": RECORD_STATES[record.state], "rev": record.rev,
            "version": record.version, "content": record.data, "revs": {k: v[0] for k, v in record.revs.items()},
            "content_hash": draft_hash if record.state == "draft" else record.content_hash,
            "submitted_at": _iso(record.submitted_at), "pdf_sha256": record.pdf_sha256}


def _draft_hash(inspection: InspectionRow, task_code: str, part: Participation, sections: list[dict],
                record: RecordRow | None) -> str:
    """The record's hash as it stands (``handlers.current_record_hash``, from what was read here)."""
    signed: dict[str, str | None] = {}
    for p in part.participants:
        if p.department_code not in signed:
            s = next((x for x in sections if x["department_id"] == p.department_id), None)
            signed[p.department_code] = s["signed_hash"] if s is not None and s["status"] == "signed" else None
    return record_hash(inspection.id, task_code, inspection.target.code, signed, record.data if record else {})


def _visible_conflicts(conflicts: list) -> list:
    """Every open conflict, and the most recently resolved ones (their history is in the audit log)."""
    resolved = [c for c in conflicts if c.status != "open"]
    keep = {c.id for c in sorted(resolved, key=lambda c: (c.resolved_at or c.created_at, c.id))[-RESOLVED_SHOWN:]}
    return [c for c in conflicts if c.status == "open" or c.id in keep]


def _signature(s) -> dict:
    return {"id": s.id, "scope": s.scope, "department_id": s.department_id, "role": s.role,
            "signer_user_id": s.signer_user_id, "signer_inspector_id": s.signer_inspector_id,
            "signer_name": s.signer_name, "signer_cert_no": s.signer_cert_no, "signer_detail": s.signer_detail,
            "content_hash": s.content_hash, "image_sha256": s.image_sha256, "via": s.via,
            "device_time": _iso(s.device_time), "server_time": _iso(s.created_at), "void": s.void_at is not None,
            "void_reason": s.void_reason}


def _conflict(c) -> dict:
    return {"id": c.id, "scope": c.scope, "department_id": c.department_id, "path": c.path, "base_rev": c.base_rev,
            "server_value": c.server_value, "server_rev": c.server_rev, "client_value": c.client_value,
            "client_user_id": c.client_user_id, "device_time": _iso(c.device_time), "created_at": _iso(c.created_at),
            "status": c.status, "choice": c.choice, "resolved_at": _iso(c.resolved_at)}


def _current_rev(f, sections: list[dict], record: RecordRow | None) -> int | None:
    if f.department_id is None:
        return (record.revs.get(f.path) or [None])[0] if record is not None else None
    section = next((s for s in sections if s["department_id"] == f.department_id), None)
    return section["revs"].get(f.path) if section else None


def _flag(f, current_rev: int | None) -> dict:
    """``current``: the flagged value is still the one in the record (a later fix does not erase the flag)."""
    return {"id": f.id, "department_id": f.department_id, "path": f.path, "code": f.code, "message": f.message,
            "detail": f.detail, "rev": f.rev, "current": f.rev is None or f.rev == current_rev,
            "created_at": _iso(f.created_at)}


def _group(inspection: InspectionRow, part: Participation) -> dict:
    if inspection.group_number is None:     # (groups are never deleted: as the group's lookup by id failed before)
        raise LookupError(f"inspection {inspection.id}: its group {inspection.group_id} is missing")
    return {"id": inspection.group_id, "number": inspection.group_number,
            "members": [{"inspector_id": p.inspector_id, "name": p.name, "cert_no": p.cert_no,
                         "department_id": p.department_id, "department_code": p.department_code,
                         "department_name": p.department_name, "is_lead": p.is_lead, "user_id": p.user_id}
                        for p in part.participants]}


def _target_card(t: TargetRow, recent: list[dict]) -> dict:
    return {"id": t.id, "code": t.code, "name": t.name, "uscc": t.uscc, "reg_no": t.reg_no, "type": t.type,
            "type_label": TARGET_TYPES.get(t.type, t.type), "address": t.address, "region_code": t.region_code,
            "location": (None if t.latitude is None or t.longitude is None else
                         {"lat": t.latitude, "lon": t.longitude, "datum": t.datum or "GCJ-02"}),
            "contact": {"legal_rep": t.legal_rep, "phone": t.phone}, "risk_class": t.risk_class,
            "risk_label": RISK_CLASSES.get(t.risk_class or "", "未分类"), "status": t.status,
            "recent_results": recent}


_RECENT = (select(Inspection.target_id, Inspection.completed_on, Task.code, Task.name, Record.data)
           .join(Task, Task.id == Inspection.task_id).join(Record, Record.inspection_id == Inspection.id)
           .where(Inspection.target_id.in_(bindparam("targets", expanding=True)), Inspection.status == "completed",
                  Inspection.id.not_in(bindparam("exclude", expanding=True)))
           .order_by(Inspection.target_id, Inspection.completed_at.desc()))


def _recent_results(session: Session, target_ids: set[int], exclude: list[int]) -> dict[int, list[dict]]:
    rows = session.execute(_RECENT, {"targets": sorted(target_ids), "exclude": list(exclude)}).all()
    out: dict[int, list[dict]] = {}
    for r in rows:
        bucket = out.setdefault(r.target_id, [])
        if len(bucket) < RECENT_RESULTS:
            cats = (r.data or {}).get("result_categories") or []
            bucket.append({"task_code": r.code, "task_name": r.name, "completed_on": _iso(r.completed_on),
                           "result_categories": cats, "labels": [RESULT_CATEGORIES.get(c, c) for c in cats]})
    return out


def task_changes(session: Session, task_ids: set[int]) -> list[dict]:
    """The checklist of each task: its departments, items, check points and legal basis (public facts)."""
    if not task_ids:
        return []
    ids = sorted(task_ids)
    tasks = session.execute(_TASKS, {"ids": ids}).all()
    departments: dict[int, list] = {}
    for row in session.execute(_TASK_DEPARTMENTS, {"ids": ids}):
        departments.setdefault(row.task_id, []).append(row)
    task_items: dict[int, list] = {}
    for row in session.execute(_TASK_ITEMS, {"ids": ids}):
        task_items.setdefault(row.task_id, []).append(row)
    points: dict[int, list[dict]] = {}
    item_ids = sorted({row.id for rows in task_items.values() for row in rows})
    for cp in (session.execute(_CHECK_POINTS, {"ids": item_ids}) if item_ids else ()):
        points.setdefault(cp.item_id, []).append(
            {"id": cp.id, "seq": cp.seq, "text": cp.text, "answer_type": cp.answer_type, "options": cp.options,
             "required": cp.required, "guidance": cp.guidance})
    out = []
    for t in tasks:
        mine = sorted(task_items.get(t.id, []), key=lambda x: x.id)
        listed = []
        for td in sorted(departments.get(t.id, []), key=lambda d: (d.role != "lead", d.code)):
            listed.append({"id": td.department_id, "code": td.code, "name": td.name, "role": td.role,
                           "items": [_item(i, points.get(i.id, [])) for i in mine
                                     if i.department_id == td.department_id]})
        out.append({"type": "task", "id": t.id, "op": "put", "data": {
            "id": t.id, "code": t.code, "name": t.name, "status": t.status, "start_date": _iso(t.start_date),
            "end_date": _iso(t.end_date), "draw_date": _iso(t.draw_date),
            "lead_department_id": t.lead_department_id, "departments": listed,
            "verify_url": f"/draw/verify.html?task={t.code}"}})
    return out


def _item(i, check_points: list[dict]) -> dict[str, Any]:
    """An item of a task's checklist (a row of ``_TASK_ITEMS``) and its check points in use (new dicts: a pull's
    answer is written after, but a caller may change what it got)."""
    return {"id": i.id, "code": i.code, "category": i.category, "name": i.name, "kind": i.kind,
            "methods": [{"code": m, "label": METHODS.get(m, m)} for m in i.methods], "legal_basis": i.legal_basis,
            "check_points": [dict(cp) for cp in check_points]}
