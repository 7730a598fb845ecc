"""Declared conflicts of interest (回避) of inspectors and of experts, one set of rules (no Flask here).

An inspector must not inspect a target they declared a conflict with (the draw replaces them,
``backend.draws.eligibility``); an expert attached to a task's group takes no part in inspecting
it (the draw freezes these declarations with the lists and publishes the recusals,
``backend.draws.experts``). Read by whoever may read the person; written by the system admin or
the admin of the person's department; never deleted, retired (and restored by declaring again).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from backend.actor import Actor
from backend.audit import services as audit
from backend.db import flush_unique, utcnow
from backend.directory.models import ExpertConflict, InspectorConflict, Target
from backend.directory.common import (MAX_ID, ensure_department_reader, ensure_department_writer, ensure_not_retired,
                                      get_row, invalid, retire_or_restore, when)
from backend.directory.experts import load_expert
from backend.directory.inspectors import load_inspector
from backend.errors import Conflict, NotFound


@dataclasses.dataclass(frozen=True)
class Kind:
    """Whose declarations these are. ``owner`` names the person's model in the rest: the declaration's
    column ``<owner>_id``, the audit entity ``<owner>_conflict``, the error code ``<owner>.retired``."""

    model: type                                   # InspectorConflict, ExpertConflict
    owner: str                                    # "inspector", "expert"
    what: str                                     # the person in messages
    load: Callable[[Session, int], Any]           # the person by id (404 when there is none)
    detail: Callable[[Any], dict] = lambda owner: {}   # what the audit entry says of the person

    @property
    def column(self) -> str:
        return f"{self.owner}_id"

    @property
    def entity(self) -> str:
        return f"{self.owner}_conflict"

    def snapshot(self, conflict) -> dict:
        """A declaration as the audit log keeps it."""
        return {"id": conflict.id, self.column: getattr(conflict, self.column), "target_id": conflict.target_id,
                "reason": conflict.reason, "declared_at": when(conflict.declared_at),
                "retired_at": when(conflict.retired_at)}


INSPECTORS = Kind(InspectorConflict, "inspector", "执法检查人员", load_inspector)
EXPERTS = Kind(ExpertConflict, "expert", "专家", load_expert, detail=lambda expert: {"expert_code": expert.code})


def listed(session: Session, actor: Actor, kind: Kind, owner_id: int, include_retired: bool = False) -> list:
    """The person's declarations, oldest first; retired ones only when asked."""
    owner = kind.load(session, owner_id)
    ensure_department_reader(actor, owner.department_id, kind.what)
    model = kind.model
    stmt = select(model).options(joinedload(model.target)).where(getattr(model, kind.column) == owner.id)
    if not include_retired:
        stmt = stmt.where(model.retired_at.is_(None))
    return list(session.scalars(stmt.order_by(model.id)).unique())


def _target(session: Session, data: dict) -> Target:
    """The target a declaration names, by ``target_id`` or by ``target_code``."""
    if data.get("target_id") is not None:
        target = session.get(Target, data["target_id"]) if 0 < data["target_id"] <= MAX_ID else None
        field = "target_id"
    elif data.get("target_code"):
        target = session.scalar(select(Target).where(Target.code == data["target_code"].strip().upper()))
        field = "target_code"
    else:
        raise invalid("conflict.target_required", "target_id", "请指定检查对象（target_id 或 target_code）")
    if target is None:
        raise invalid("conflict.unknown_target", field, "检查对象不存在")
    return target


def declare(session: Session, actor: Actor, kind: Kind, owner_id: int, data: dict):
    """Record that the person must not take part in inspecting a target. A retired declaration is restored."""
    owner = kind.load(session, owner_id)
    ensure_department_writer(actor, owner.department_id, kind.what)
    ensure_not_retired(owner, kind.what, f"{kind.owner}.retired")
    target = _target(session, data)
    model = kind.model
    existing = session.scalar(select(model).where(getattr(model, kind.column) == owner.id,
                                                  model.target_id == target.id))
    if existing is not None and existing.retired_at is None:
        raise Conflict(f"已申报过与“{target.name}”的利害关系", code="conflict.duplicate",
                       details={"existing_id": existing.id})
    before = kind.snapshot(existing) if existing is not None else None
    if existing is None:
        conflict = model(**{kind.column: owner.id}, target_id=target.id, reason=data["reason"])
        session.add(conflict)
    else:
        conflict = existing
        conflict.reason, conflict.retired_at, conflict.declared_at = data["reason"], None, utcnow()
    flush_unique(session, f"已申报过与“{target.name}”的利害关系", "conflict.duplicate")
    audit.record(session, actor, f"{kind.entity}.declare", kind.entity, conflict.id, before=before,
                 after=kind.snapshot(conflict), detail={**kind.detail(owner), "target_code": target.code},
                 department_id=owner.department_id)
    _announce(session, kind, conflict)
    session.commit()
    return conflict


def _announce(session: Session, kind: Kind, conflict) -> None:
    """An inspector's declaration made or withdrawn after the draw recuses them (or brings them back) at once
    (``backend.inspections.access``): the inspections concerned go to the phones again."""
    if kind is INSPECTORS:
        from backend.inspections.access import announce_declarations

        announce_declarations(session, [(conflict.inspector_id, conflict.target_id)])


def set_retired(session: Session, actor: Actor, kind: Kind, owner_id: int, conflict_id: int, retired: bool,
                reason: str | None = None):
    owner = kind.load(session, owner_id)
    ensure_department_writer(actor, owner.department_id, kind.what)
    conflict = get_row(session, kind.model, conflict_id, "利害关系申报", "conflict.not_found")
    if getattr(conflict, kind.column) != owner.id:
        raise NotFound("利害关系申报不存在", code="conflict.not_found")
    return retire_or_restore(session, actor, conflict, retired, reason, entity=kind.entity, entity_id=conflict.id,
                             snapshot=kind.snapshot, department_id=owner.department_id,
                             before_commit=lambda: _announce(session, kind, conflict))
