"""复查 (re-inspection) of a 责令限期整改 follow-up as an inspection the phones push like any other.

* ``schedule``: the owner department's admin sends officers to re-inspect (``POST
  /api/v1/followups/<id>/reinspections``). Who goes: by default the officers of the owner department who
  inspected the business the first time (谁检查、谁复查: they know what was ordered; recusals declared since
  apply as anywhere, access.py); the admin may name others of the department instead (the first ones are
  away, or moved). The re-inspection is a new ``Inspection`` of the same task and business (``followup_id``
  set) with its own group (only those officers; the first named leads it), so it reaches their phones by the
  ordinary pull and is written, signed and submitted with the ordinary mutations (docs/sync.md). It is not
  drawn: it is left out of the draw's groups, of every figure and of the publication queue, and has no
  publication clock.
* ``on_submitted`` (called by ``record.submit`` of a re-inspection): the follow-up takes the ``reinspect``
  step: 已整改 (``rectified``, closed) when no check point of the re-inspection is 不符合, else 未整改
  (``unrectified``, then 移送). Its evidence is every photo the re-inspection's sections and record name; a
  re-inspection naming none cannot be submitted (``followup.evidence_required``), so nothing closes without
  evidence.
"""
from __future__ import annotations

from typing import Any, Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.roles import Role
from backend.db import utcnow
from backend.directory.models import Inspector
from backend.draws.models import GroupMember, InspectionGroup
from backend.errors import Conflict, Forbidden, InvalidInput, check_if_match
from backend.followups.models import FOLLOWUP_STATES, Followup, FollowupStep
from backend.followups.services import etag, get_followup, is_closed, snapshot
from backend.inspections.access import ACTIVE, participation
from backend.inspections.models import Inspection

SCHEDULERS = (Role.SYSADMIN, Role.DEPT_ADMIN)       # the owner department's admin assigns the officers
MAX_OFFICERS = 10


def open_reinspection(session: Session, followup_id: int) -> Inspection | None:
    """The follow-up's re-inspection not yet submitted (assigned or in progress), if any."""
    return session.scalar(select(Inspection).where(Inspection.followup_id == followup_id,
                                                   Inspection.status.in_(ACTIVE)).limit(1))


def _officers(session: Session, row: Followup, original: Inspection, values: Any) -> list[Inspector]:
    if values is None:
        part = participation(session, [original])[original.id]
        ids = [p.inspector_id for p in part.of_department(row.department_id)]
        if not ids:
            raise InvalidInput("首次检查中没有本部门的检查人员，请指定复查人员（inspector_ids）",
                               code="followup.no_officers", errors={"inspector_ids": ["请指定复查人员"]})
    else:
        if (not isinstance(values, list) or not 1 <= len(values) <= MAX_OFFICERS
                or any(not isinstance(v, int) or isinstance(v, bool) or not 0 < v < 2**31 for v in values)
                or len(set(values)) != len(values)):
            raise InvalidInput(f"复查人员应为 1 至 {MAX_OFFICERS} 名执法检查人员的编号，不重复",
                               code="validation_error", errors={"inspector_ids": ["须为检查人员编号的列表"]})
        ids = values
    found = {i.id: i for i in session.scalars(select(Inspector).where(Inspector.id.in_(ids)))}
    bad = [i for i in ids if i not in found or found[i].department_id != row.department_id
           or found[i].status != "active"]
    if bad:
        raise InvalidInput("复查人员须为负责部门在岗的执法检查人员", code="followup.bad_officers",
                           errors={"inspector_ids": [f"{i} 不是负责部门在岗的执法检查人员" for i in bad]})
    return [found[i] for i in ids]


def schedule(session: Session, actor: Actor, followup_id: Any, data: Mapping, if_match: str | None) -> Followup:
    """Send officers of the owner department to re-inspect: a new inspection on their phones (module doc)."""
    from sync import changes

    row = get_followup(session, followup_id, lock=True)
    if actor.role not in SCHEDULERS:
        raise Forbidden("复查人员由负责部门的部门管理员指派", code="forbidden.role")
    if actor.role != Role.SYSADMIN and actor.department_id != row.department_id:
        raise Forbidden("只能为本部门负责的后续处置指派复查", code="forbidden.department")
    check_if_match(if_match, etag(row), "followup", stale_details={"state": row.state},
                   required_details={"etag": etag(row)})
    if row.state != "ordered":
        now = FOLLOWUP_STATES.get(row.state, row.state)
        raise Conflict(f"当前状态为「{now}」{'，已办结' if is_closed(row) else ''}，不能安排复查",
                       code="followup.bad_state", details={"state": row.state, "allowed_from": ["ordered"]})
    pending = open_reinspection(session, row.id)
    if pending is not None:
        raise Conflict("该后续处置已安排复查，尚未提交", code="followup.reinspection_open",
                       details={"inspection_id": pending.id})
    original = session.get(Inspection, row.inspection_id)
    officers = _officers(session, row, original, data.get("inspector_ids"))
    first_group = session.get(InspectionGroup, original.group_id)
    # numbered below the drawn groups (0, 1, …): -1, -2, … in the draw (the draw's listing leaves them out)
    lowest = session.scalar(select(func.min(InspectionGroup.number)).where(InspectionGroup.draw_id == first_group.draw_id))
    group = InspectionGroup(draw_id=first_group.draw_id, task_id=row.task_id, number=min(lowest or 0, 0) - 1,
                            leader_id=officers[0].id)
    session.add(group)
    session.flush()
    for n, officer in enumerate(officers):
        session.add(GroupMember(group_id=group.id, inspector_id=officer.id, department_id=row.department_id,
                                position=n))
    now = utcnow()
    inspection = Inspection(task_id=row.task_id, draw_id=original.draw_id, group_id=group.id,
                            target_id=row.target_id, stratum=original.stratum, position=0, status="assigned",
                            followup_id=row.id, created_at=now, updated_at=now)
    session.add(inspection)
    session.flush()
    before = snapshot(row)
    detail = {"inspection_id": inspection.id,
              "officers": [{"inspector_id": o.id, "name": o.name, "cert_no": o.cert_no} for o in officers]}
    row.steps.append(FollowupStep(seq=len(row.steps) + 1, action="schedule", from_state=row.state,
                                  to_state=row.state, on_date=None, detail=detail, evidence=[],
                                  actor_id=actor.user_id, at=now))
    row.version, row.updated_at = row.version + 1, now
    audit.record(session, actor, "followup.schedule", "followup", row.id, before=before, after=snapshot(row),
                 detail=detail, department_id=row.department_id)
    changes.append_inspections(session, [inspection.id], row.task_id, "reinspection")
    session.commit()
    return row


# --- the submission of a re-inspection -------------------------------------------------------------

def photos_of(sections: list[dict], record: dict) -> list[str]:
    """The SHA-256 of every photo the re-inspection's sections (``values``) and record name, sorted."""
    from backend.inspections.fields import media_hashes

    out: set[str] = set()
    for values in [*sections, record]:
        out |= media_hashes([v for k, v in values.items() if k.endswith(".photos") or k == "outcome"])
    return sorted(out)


def found_problem(sections: list[dict]) -> bool:
    """A check point of the re-inspection answered 不符合 (then 未整改)."""
    return any(k.startswith("points.") and k.endswith(".result") and v == "fail"
               for values in sections for k, v in values.items())


def check_submittable(session: Session, inspection: Inspection, photos: list[str]) -> tuple[str, str] | None:
    """Why this re-inspection cannot be submitted (a refusal's code and message), or None."""
    row = session.get(Followup, inspection.followup_id)
    if row is None or row.state != "ordered":
        state = FOLLOWUP_STATES.get(row.state, row.state) if row else "不存在"
        return "followup.bad_state", f"该复查对应的后续处置当前为「{state}」，不能再以复查办结"
    if not photos:
        return ("followup.evidence_required", "复查须有照片作为证据（在检查内容或结论中拍照），没有证据不能提交复查")
    return None


def on_submitted(session: Session, actor: Actor, inspection: Inspection, *, failed: bool, photos: list[str],
                 findings: str | None) -> Followup:
    """The follow-up's ``reinspect`` step from its re-inspection (part of the push's transaction)."""
    row = session.get(Followup, inspection.followup_id)
    before = snapshot(row)
    to = "unrectified" if failed else "rectified"
    now = utcnow()
    detail = {"inspection_id": inspection.id, "outcome": to, "via": "phone"}
    if findings:
        detail["findings"] = findings
    row.steps.append(FollowupStep(seq=len(row.steps) + 1, action="reinspect", from_state=row.state, to_state=to,
                                  on_date=inspection.completed_on, detail=detail, evidence=photos,
                                  actor_id=actor.user_id, at=now))
    row.state, row.version, row.updated_at = to, row.version + 1, now
    if to == "rectified":
        row.closed_at = now
    audit.record(session, actor, "followup.reinspect", "followup", row.id, before=before, after=snapshot(row),
                 detail={"evidence": photos, "on_date": inspection.completed_on.isoformat(), **detail},
                 department_id=row.department_id)
    return row
