"""What a phone pulls: an inspection as one document, cut to what its reader may see; a task's checklist.

An officer sees their own department's section; the team lead sees every section as it arrives,
every conflict and flag, and the record; once the lead has finalised the record for signing, every
member sees all of it (they sign it). Nothing else: another group's inspections never appear.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from backend.actor import Actor
from backend.directory.models import Department, Item, Target
from backend.directory.rules import METHODS, RISK_CLASSES, TARGET_TYPES
from backend.draws.models import InspectionGroup
from backend.inspections import deadlines
from backend.inspections.access import GONE_REASONS, Participation, participation
from backend.inspections.checks import flags_of
from backend.inspections.fields import media_hashes
from sync.canonical import record_hash, section_hash
from backend.inspections.models import (INSPECTION_STATUSES, Conflict, Inspection, Record, Section, SectionAnswer,
                                        Signature)
from backend.inspections.rules import RECORD_STATES, RESULT_CATEGORIES, SECTION_STATUSES
from backend.plans.models import Task

RECENT_RESULTS = 3
RESOLVED_SHOWN = 50    # resolved conflicts an inspection carries (the most recent); open ones all
MEDIA_CHUNK = 5000     # hashes looked up in one statement (bind parameters are limited)


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
    inspections = list(session.scalars(select(Inspection).where(Inspection.id.in_(inspection_ids))
                                       .order_by(Inspection.id)))
    parts = participation(session, inspections)
    ids = [i.id for i in inspections]
    sections = _sections(session, ids)
    records = {r.inspection_id: r for r in session.scalars(select(Record).where(Record.inspection_id.in_(ids)))}
    signatures: dict[int, list[Signature]] = {}
    for s in session.scalars(select(Signature).where(Signature.inspection_id.in_(ids)).order_by(Signature.created_at)):
        signatures.setdefault(s.inspection_id, []).append(s)
    conflicts: dict[int, list[Conflict]] = {}
    for c in session.scalars(select(Conflict).where(Conflict.inspection_id.in_(ids)).order_by(Conflict.id)):
        conflicts.setdefault(c.inspection_id, []).append(c)
    flags = flags_of(session, ids)
    groups = {g.id: g for g in session.scalars(select(InspectionGroup).where(
        InspectionGroup.id.in_({i.group_id for i in inspections})))}
    recent = _recent_results(session, {i.target_id for i in inspections}, ids)
    task_codes = dict(session.execute(select(Task.id, Task.code).where(
        Task.id.in_({i.task_id for i in inspections}))).all())
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
        record = records.get(inspection.id)
        state = record.state if record else "draft"
        sees_all = lead_view or me.is_lead or state != "draft"
        mine = [s for s in sections.get(inspection.id, []) if sees_all or s["department_id"] == me.department_id]
        doc = {
            "id": inspection.id, "status": inspection.status, "status_label": INSPECTION_STATUSES[inspection.status],
            "task_id": inspection.task_id, "stratum": inspection.stratum, "position": inspection.position,
            "started_at": _iso(inspection.started_at), "completed_at": _iso(inspection.completed_at),
            "target": _target_card(inspection.target, recent.get(inspection.target_id, [])),
            "group": _group(groups[inspection.group_id], part),
            "me": None if me is None else {"inspector_id": me.inspector_id, "department_id": me.department_id,
                                           "is_lead": me.is_lead},
            "sections": mine,
            "signatures": [_signature(s) for s in signatures.get(inspection.id, [])
                           if sees_all or s.scope == "record" or s.department_id == me.department_id],
            "record": (_record(record, _draft_hash(inspection, task_codes[inspection.task_id], part,
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


def _reinspections(session: Session, inspections: list[Inspection]) -> dict[int, dict]:
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


def _sections(session: Session, ids: list[int]) -> dict[int, list[dict]]:
    rows = list(session.scalars(select(Section).where(Section.inspection_id.in_(ids)).order_by(Section.id)))
    if not rows:
        return {}
    codes = dict(session.execute(select(Department.id, Department.code)
                                 .where(Department.id.in_({r.department_id for r in rows}))).all())
    answers: dict[int, list] = {}
    for a in session.scalars(select(SectionAnswer).where(SectionAnswer.section_id.in_([r.id for r in rows]))):
        answers.setdefault(a.section_id, []).append(a)
    out: dict[int, list[dict]] = {}
    for r in rows:
        values, revs, arrived = dict(r.data), {k: v[0] for k, v in r.revs.items()}, {}
        for a in answers.get(r.id, []):
            for f, v in a.data.items():
                values[f"points.{a.check_point_id}.{f}"] = v
            for f, v in a.revs.items():
                revs[f"points.{a.check_point_id}.{f}"] = v[0]
            arrived[str(a.check_point_id)] = {"first_at": _iso(a.first_at), "updated_at": _iso(a.updated_at)}
        out.setdefault(r.inspection_id, []).append({
            "department_id": r.department_id, "department_code": codes[r.department_id], "status": r.status,
            "status_label": SECTION_STATUSES[r.status], "rev": r.rev, "content": values, "revs": revs,
            "content_hash": section_hash(r.inspection_id, codes[r.department_id], values),
            "signed_hash": r.signed_hash, "server_times": arrived, "updated_at": _iso(r.updated_at)})
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


def _record(record: Record | None, draft_hash: str) -> dict:
    """``content_hash``: a draft's is the hash it would be finalised with now (§5.1); from finalisation on, the
    hash fixed for signing."""
    if record is None:
        return {"state": "draft", "state_label": RECORD_STATES["draft"], "rev": 0, "version": 0, "content": {},
                "revs": {}, "content_hash": draft_hash, "submitted_at": None, "pdf_sha256": None}
    return {"state": record.state, "state_label": RECORD_STATES[record.state], "rev": record.rev,
            "version": record.version, "content": record.data, "revs": {k: v[0] for k, v in record.revs.items()},
            "content_hash": draft_hash if record.state == "draft" else record.content_hash,
            "submitted_at": _iso(record.submitted_at), "pdf_sha256": record.pdf_sha256}


def _draft_hash(inspection: Inspection, task_code: str, part: Participation, sections: list[dict],
                record: Record | None) -> str:
    """The record's hash as it stands (``handlers.current_record_hash``, from what was read here)."""
    signed: dict[str, str | None] = {}
    for p in part.participants:
        if p.department_code not in signed:
            s = next((x for x in sections if x["department_id"] == p.department_id), None)
            signed[p.department_code] = s["signed_hash"] if s is not None and s["status"] == "signed" else None
    return record_hash(inspection.id, task_code, inspection.target.code, signed, record.data if record else {})


def _visible_conflicts(conflicts: list[Conflict]) -> list[Conflict]:
    """Every open conflict, and the most recently resolved ones (their history is in the audit log)."""
    resolved = [c for c in conflicts if c.status != "open"]
    keep = {c.id for c in sorted(resolved, key=lambda c: (c.resolved_at or c.created_at, c.id))[-RESOLVED_SHOWN:]}
    return [c for c in conflicts if c.status == "open" or c.id in keep]


def _signature(s: Signature) -> dict:
    return {"id": s.id, "scope": s.scope, "department_id": s.department_id, "role": s.role,
            "signer_user_id": s.signer_user_id, "signer_inspector_id": s.signer_inspector_id,
            "signer_name": s.signer_name, "signer_cert_no": s.signer_cert_no, "signer_detail": s.signer_detail,
            "content_hash": s.content_hash, "image_sha256": s.image_sha256, "via": s.via,
            "device_time": _iso(s.device_time), "server_time": _iso(s.created_at), "void": s.void_at is not None,
            "void_reason": s.void_reason}


def _conflict(c: Conflict) -> dict:
    return {"id": c.id, "scope": c.scope, "department_id": c.department_id, "path": c.path, "base_rev": c.base_rev,
            "server_value": c.server_value, "server_rev": c.server_rev, "client_value": c.client_value,
            "client_user_id": c.client_user_id, "device_time": _iso(c.device_time), "created_at": _iso(c.created_at),
            "status": c.status, "choice": c.choice, "resolved_at": _iso(c.resolved_at)}


def _current_rev(f, sections: list[dict], record: Record | None) -> int | None:
    if f.department_id is None:
        return (record.revs.get(f.path) or [None])[0] if record is not None else None
    section = next((s for s in sections if s["department_id"] == f.department_id), None)
    return section["revs"].get(f.path) if section else None


def _flag(f, current_rev: int | None) -> dict:
    """``current``: the flagged value is still the one in the record (a later fix does not erase the flag)."""
    return {"id": f.id, "department_id": f.department_id, "path": f.path, "code": f.code, "message": f.message,
            "detail": f.detail, "rev": f.rev, "current": f.rev is None or f.rev == current_rev,
            "created_at": _iso(f.created_at)}


def _group(group: InspectionGroup, part: Participation) -> dict:
    return {"id": group.id, "number": group.number,
            "members": [{"inspector_id": p.inspector_id, "name": p.name, "cert_no": p.cert_no,
                         "department_id": p.department_id, "department_code": p.department_code,
                         "department_name": p.department_name, "is_lead": p.is_lead, "user_id": p.user_id}
                        for p in part.participants]}


def _target_card(t: Target, recent: list[dict]) -> dict:
    return {"id": t.id, "code": t.code, "name": t.name, "uscc": t.uscc, "reg_no": t.reg_no, "type": t.type,
            "type_label": TARGET_TYPES.get(t.type, t.type), "address": t.address, "region_code": t.region_code,
            "location": (None if t.latitude is None or t.longitude is None else
                         {"lat": t.latitude, "lon": t.longitude, "datum": t.datum or "GCJ-02"}),
            "contact": {"legal_rep": t.legal_rep, "phone": t.phone}, "risk_class": t.risk_class,
            "risk_label": RISK_CLASSES.get(t.risk_class or "", "未分类"), "status": t.status,
            "recent_results": recent}


def _recent_results(session: Session, target_ids: set[int], exclude: list[int]) -> dict[int, list[dict]]:
    rows = session.execute(
        select(Inspection.target_id, Inspection.completed_on, Task.code, Task.name, Record.data)
        .join(Task, Task.id == Inspection.task_id).join(Record, Record.inspection_id == Inspection.id)
        .where(Inspection.target_id.in_(target_ids), Inspection.status == "completed", Inspection.id.not_in(exclude))
        .order_by(Inspection.target_id, Inspection.completed_at.desc())).all()
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
    tasks = list(session.scalars(select(Task).where(Task.id.in_(task_ids))
                                 .options(selectinload(Task.departments), selectinload(Task.items))
                                 .order_by(Task.id)))
    item_ids = {ti.item_id for t in tasks for ti in t.items}
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(item_ids))
                                              .options(selectinload(Item.check_points)))}
    out = []
    for t in tasks:
        departments = []
        for td in sorted(t.departments, key=lambda d: (d.role != "lead", d.department.code)):
            mine = [items[ti.item_id] for ti in sorted(t.items, key=lambda x: x.item_id)
                    if ti.department_id == td.department_id]
            departments.append({"id": td.department_id, "code": td.department.code, "name": td.department.name,
                                "role": td.role, "items": [_item(i) for i in mine]})
        out.append({"type": "task", "id": t.id, "op": "put", "data": {
            "id": t.id, "code": t.code, "name": t.name, "status": t.status, "start_date": _iso(t.start_date),
            "end_date": _iso(t.end_date), "draw_date": _iso(t.draw_date),
            "lead_department_id": t.lead_department_id, "departments": departments,
            "verify_url": f"/draw/verify.html?task={t.code}"}})
    return out


def _item(i: Item) -> dict[str, Any]:
    return {"id": i.id, "code": i.code, "category": i.category, "name": i.name, "kind": i.kind,
            "methods": [{"code": m, "label": METHODS.get(m, m)} for m in i.methods], "legal_basis": i.legal_basis,
            "check_points": [{"id": cp.id, "seq": cp.seq, "text": cp.text, "answer_type": cp.answer_type,
                              "options": cp.options, "required": cp.required, "guidance": cp.guidance}
                             for cp in i.check_points if cp.retired_at is None]}
