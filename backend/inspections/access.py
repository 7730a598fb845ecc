"""Who takes part in an inspection, in which department, and who leads it.

The group's members inspect every target of the group, except where a member was recused for a
target (回避): then the stand-in drawn from the department's reserve inspects it instead. The
group's leader leads each inspection, unless recused there, when the lead department's stand-in
leads it.
"""
from __future__ import annotations

import dataclasses

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.directory.models import Department, Inspector
from backend.draws.models import GroupMember, InspectionGroup
from backend.inspections.models import Inspection, InspectionMember

ACTIVE = ("assigned", "in_progress")
GONE_REASONS = {
    "replaced": ("replaced", "该检查对象已从备选名单替换，本检查已取消"),
    "superseded": ("superseded", "该任务已重新抽取，本检查已取消"),
}


@dataclasses.dataclass(frozen=True)
class Participant:
    inspector_id: int
    department_id: int
    department_code: str
    department_name: str
    cert_no: str
    name: str
    user_id: int | None
    is_lead: bool


@dataclasses.dataclass(frozen=True)
class Participation:
    """An inspection's active participants, and who was recused."""

    participants: tuple[Participant, ...]
    recused: frozenset[int]
    leader_id: int

    def of(self, inspector_id: int | None) -> Participant | None:
        return next((p for p in self.participants if p.inspector_id == inspector_id), None)

    def by_user(self, user_id: int) -> Participant | None:
        return next((p for p in self.participants if p.user_id == user_id), None)

    def departments(self) -> list[int]:
        return sorted({p.department_id for p in self.participants})

    def of_department(self, department_id: int) -> list[Participant]:
        return [p for p in self.participants if p.department_id == department_id]


def involved_inspections(inspector_id: int):
    """A select of the ids of every inspection this officer is or was part of (any status)."""
    member_of = select(GroupMember.group_id).where(GroupMember.inspector_id == inspector_id)
    substitute = select(InspectionMember.inspection_id).where(InspectionMember.in_inspector_id == inspector_id)
    return select(Inspection.id).where(or_(Inspection.group_id.in_(member_of), Inspection.id.in_(substitute)))


def involved_tasks(inspector_id: int):
    member_of = select(GroupMember.group_id).where(GroupMember.inspector_id == inspector_id)
    return select(InspectionGroup.task_id).where(InspectionGroup.id.in_(member_of))


def _people(stmt):
    """Add to a select of inspector ids the person, their department and their active account."""
    return (stmt.add_columns(Inspector.name, Inspector.cert_no, Inspector.department_id, Department.code,
                             Department.name.label("department_name"), User.id.label("user_id"))
            .join(Department, Department.id == Inspector.department_id)
            .outerjoin(User, (User.inspector_id == Inspector.id) & (User.status == "active")))


def participation(session: Session, inspections: list[Inspection]) -> dict[int, Participation]:
    """Participation of several inspections in two queries (the groups' members, the recusals)."""
    if not inspections:
        return {}
    group_ids = sorted({i.group_id for i in inspections})
    ids = [i.id for i in inspections]
    members = session.execute(_people(
        select(GroupMember.group_id, GroupMember.inspector_id, GroupMember.position, InspectionGroup.leader_id)
        .join(InspectionGroup, InspectionGroup.id == GroupMember.group_id)
        .join(Inspector, Inspector.id == GroupMember.inspector_id))
        .where(GroupMember.group_id.in_(group_ids))).all()
    overrides = session.execute(_people(
        select(InspectionMember.inspection_id, InspectionMember.out_inspector_id,
               InspectionMember.in_inspector_id.label("inspector_id"))
        .join(Inspector, Inspector.id == InspectionMember.in_inspector_id))
        .where(InspectionMember.inspection_id.in_(ids))).all()
    by_group: dict[int, list] = {}
    leaders: dict[int, int] = {}
    for m in sorted(members, key=lambda m: (m.group_id, m.department_id, m.position)):
        by_group.setdefault(m.group_id, []).append(m)
        leaders[m.group_id] = m.leader_id
    out = {}
    for inspection in inspections:
        mine = [o for o in overrides if o.inspection_id == inspection.id]
        recused = {o.out_inspector_id for o in mine}
        stand_in = {o.out_inspector_id: o.inspector_id for o in mine}
        leader = leaders.get(inspection.group_id)
        if leader in recused:
            leader = stand_in[leader]
        chosen = [m for m in by_group.get(inspection.group_id, []) if m.inspector_id not in recused] + mine
        participants = tuple(Participant(p.inspector_id, p.department_id, p.code, p.department_name, p.cert_no,
                                         p.name, p.user_id, p.inspector_id == leader) for p in chosen)
        out[inspection.id] = Participation(participants, frozenset(recused), leader)
    return out
