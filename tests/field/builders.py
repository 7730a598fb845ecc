"""Inspections at a given stage of the lead's merge, built row by row (for tests that need the state, not the path)."""
from __future__ import annotations

import uuid

from sqlalchemy import select

from backend.actor import Actor
from backend.draws.models import GroupMember, InspectionGroup
from backend.inspections.access import participation
from backend.inspections.batch import FieldBatch
from backend.inspections.handlers import current_record_hash
from backend.inspections.models import Conflict, Inspection, Record, Section, Signature
from sync.canonical import section_hash

RECORD = {"arrived_at": "2026-04-08T09:00:00+08:00", "departed_at": "2026-04-08T10:00:00+08:00",
          "representative": {"name": "王经理"}, "result_categories": ["no_problem"]}


def _signature(inspection_id: int, scope: str, p, content_hash: str, department_id=None, role="officer") -> Signature:
    return Signature(id=str(uuid.uuid4()), inspection_id=inspection_id, scope=scope, department_id=department_id,
                     role=role, signer_user_id=p.user_id if p else None, signer_inspector_id=p.inspector_id if p else None,
                     signer_name=p.name if p else "代表", signer_cert_no=p.cert_no if p else None,
                     content_hash=content_hash, strokes=[{"points": [[0, 0, 0]]}])


def led_inspection(session, inspection_id: int, lead_inspector, stage: str, record: dict | None = None) -> dict:
    """Make ``lead_inspector`` the lead of the inspection's group and bring it to ``stage``:
    ``draft`` (nothing yet), ``conflict`` (an open conflict on the record), ``finalizable`` (every section
    signed, the record complete), ``submittable`` (finalised and signed by everyone) or ``submitted``
    (then submitted: the inspection completed, its publication clock started; no PDF yet). ``record``: fields
    of the merged record besides (or instead of) ``RECORD``'s."""
    inspection = session.get(Inspection, inspection_id)
    group = session.get(InspectionGroup, inspection.group_id)
    if not any(m.inspector_id == lead_inspector.id for m in group.members):
        session.add(GroupMember(group_id=group.id, inspector_id=lead_inspector.id,
                                department_id=lead_inspector.department_id, position=99))
    group.leader_id = lead_inspector.id
    session.flush()
    out = {"inspection": inspection_id}
    if stage == "conflict":
        conflict = Conflict(inspection_id=inspection_id, scope="record", path="opinion", base_rev=0,
                            server_value="甲", server_rev=1, client_value="乙")
        session.add(Conflict(inspection_id=inspection_id, scope="record", path="note", base_rev=0, server_value=None,
                             server_rev=0, client_value=None, status="resolved"))
        session.add(conflict)
        session.add(Record(inspection_id=inspection_id, data={"opinion": "甲"}, revs={"opinion": [1, None]}, rev=1))
        session.flush()
        out["conflict"] = conflict.id
    if stage in ("finalizable", "submittable", "submitted"):
        part = participation(session, [inspection])[inspection_id]
        for dept_id in part.departments():
            code = part.of_department(dept_id)[0].department_code
            h = section_hash(inspection_id, code, {})
            session.add(Section(inspection_id=inspection_id, department_id=dept_id, data={}, revs={}, rev=1,
                                status="signed", signed_hash=h))
            for p in part.of_department(dept_id):
                session.add(_signature(inspection_id, "section", p, h, dept_id))
        content = {**RECORD, **(record or {})}
        session.add(Record(inspection_id=inspection_id, data=content, revs={k: [1, None] for k in content}, rev=1))
        session.flush()
        if stage in ("submittable", "submitted"):
            batch = FieldBatch(session, Actor.system())
            state = batch.inspection(inspection_id)
            h = current_record_hash(batch, state)
            record = session.get(Record, inspection_id)
            record.state, record.content_hash = "signing", h
            for p in part.participants:
                session.add(_signature(inspection_id, "record", p, h))
            session.add(_signature(inspection_id, "record", None, h, role="representative"))
            session.flush()
        if stage == "submitted":
            from backend.inspections import deadlines

            session.get(Record, inspection_id).state = "submitted"
            deadlines.complete(session, inspection, user_id=None)
            session.flush()
    return out


def first_inspection(session, task_id: int) -> int:
    return session.scalars(select(Inspection.id).where(Inspection.task_id == task_id).order_by(Inspection.id)).first()
