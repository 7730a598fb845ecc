"""Assignments: who sees which inspection. Later issues add the inspection record itself."""
from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.actor import Actor
from backend.directory.models import InspectorConflict
from backend.draws.models import GroupMember, InspectionGroup
from backend.errors import Forbidden
from backend.inspections.models import Inspection, InspectionMember

ACTIVE = ("assigned", "in_progress", "completed")


def my_inspections_query(actor: Actor, status: str | None = None, task_id: int | None = None):
    """The inspections an officer is assigned to: their groups' targets, minus recusals (at the draw, or a
    conflict declared since: ``access.py``), plus substitutions; of one task if ``task_id`` is given."""
    me = actor.inspector_id
    if me is None:
        raise Forbidden("当前账号未关联执法检查人员，没有检查任务", code="forbidden.not_inspector")
    member_of = select(GroupMember.group_id).where(GroupMember.inspector_id == me)
    recused = select(InspectionMember.inspection_id).where(InspectionMember.out_inspector_id == me)
    substitute = select(InspectionMember.inspection_id).where(InspectionMember.in_inspector_id == me)
    declared = select(InspectorConflict.target_id).where(InspectorConflict.inspector_id == me,
                                                         InspectorConflict.retired_at.is_(None))
    stmt = (select(Inspection)
            .where(Inspection.status.in_((status,) if status else ACTIVE), Inspection.target_id.not_in(declared),
                   or_(and_(Inspection.group_id.in_(member_of), Inspection.id.not_in(recused)),
                       Inspection.id.in_(substitute)))
            .order_by(Inspection.task_id, Inspection.group_id, Inspection.position))
    if task_id is not None:
        stmt = stmt.where(Inspection.task_id == task_id)
    return stmt


def group_of(session: Session, inspection: Inspection) -> InspectionGroup:
    return session.scalar(select(InspectionGroup).options(selectinload(InspectionGroup.members))
                          .where(InspectionGroup.id == inspection.group_id))
