"""Experts' declared conflicts of interest (回避), kept like the inspectors' (no Flask here).

An expert attached to a task's group takes no part in inspecting a target they declared a
conflict with; the draw freezes these declarations with the lists and publishes the
recusals (``backend.draws.experts``). Read by whoever may read the expert; written by the
system admin or the admin of the expert's department; never deleted, retired.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from backend.actor import Actor
from backend.audit import services as audit
from backend.db import utcnow
from backend.directory.models import ExpertConflict, Target
from backend.directory.services import (MAX_ID, _ensure_department_writer, _ensure_not_retired, _flush, _get,
                                        _invalid, _load_expert, _set_retired, _when, get_expert)
from backend.errors import Conflict, NotFound


def expert_conflict_snapshot(conflict: ExpertConflict) -> dict:
    return {"id": conflict.id, "expert_id": conflict.expert_id, "target_id": conflict.target_id,
            "reason": conflict.reason, "declared_at": _when(conflict.declared_at),
            "retired_at": _when(conflict.retired_at)}


def expert_conflicts(session: Session, actor: Actor, expert_id: int, include_retired: bool = False
                     ) -> list[ExpertConflict]:
    expert = get_expert(session, actor, expert_id)
    stmt = (select(ExpertConflict).options(joinedload(ExpertConflict.target))
            .where(ExpertConflict.expert_id == expert.id))
    if not include_retired:
        stmt = stmt.where(ExpertConflict.retired_at.is_(None))
    return list(session.scalars(stmt.order_by(ExpertConflict.id)).unique())


def declare_expert_conflict(session: Session, actor: Actor, expert_id: int, data: dict) -> ExpertConflict:
    """Record that the expert must not take part in inspecting a target. A retired one is restored."""
    expert = _load_expert(session, expert_id)
    _ensure_department_writer(actor, expert.department_id, "专家")
    _ensure_not_retired(expert, "专家", "expert.retired")
    if data.get("target_id") is not None:
        target = session.get(Target, data["target_id"]) if 0 < data["target_id"] <= MAX_ID else None
        field = "target_id"
    elif data.get("target_code"):
        target = session.scalar(select(Target).where(Target.code == data["target_code"].strip().upper()))
        field = "target_code"
    else:
        raise _invalid("conflict.target_required", "target_id", "请指定检查对象（target_id 或 target_code）")
    if target is None:
        raise _invalid("conflict.unknown_target", field, "检查对象不存在")
    existing = session.scalar(select(ExpertConflict).where(ExpertConflict.expert_id == expert.id,
                                                           ExpertConflict.target_id == target.id))
    if existing is not None and existing.retired_at is None:
        raise Conflict(f"已申报过与“{target.name}”的利害关系", code="conflict.duplicate",
                       details={"existing_id": existing.id})
    before = expert_conflict_snapshot(existing) if existing is not None else None
    if existing is None:
        conflict = ExpertConflict(expert_id=expert.id, target_id=target.id, reason=data["reason"])
        session.add(conflict)
    else:
        conflict = existing
        conflict.reason, conflict.retired_at, conflict.declared_at = data["reason"], None, utcnow()
    _flush(session, f"已申报过与“{target.name}”的利害关系", "conflict.duplicate")
    audit.record(session, actor, "expert_conflict.declare", "expert_conflict", conflict.id, before=before,
                 after=expert_conflict_snapshot(conflict), detail={"expert_code": expert.code,
                                                                   "target_code": target.code},
                 department_id=expert.department_id)
    session.commit()
    return conflict


def set_expert_conflict_retired(session: Session, actor: Actor, expert_id: int, conflict_id: int, retired: bool,
                                reason: str | None = None) -> ExpertConflict:
    expert = _load_expert(session, expert_id)
    _ensure_department_writer(actor, expert.department_id, "专家")
    conflict = _get(session, ExpertConflict, conflict_id, "利害关系申报", "conflict.not_found")
    if conflict.expert_id != expert.id:
        raise NotFound("利害关系申报不存在", code="conflict.not_found")
    return _set_retired(session, actor, conflict, retired, reason, entity="expert_conflict",
                        entity_id=conflict.id, snapshot=expert_conflict_snapshot,
                        department_id=expert.department_id)
