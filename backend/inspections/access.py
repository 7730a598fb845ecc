"""Who takes part in an inspection, in which department, and who leads it.

The group's members inspect every target of the group, except where a member was recused for a
target (回避): then the stand-in drawn from the department's reserve inspects it instead. The
group's leader leads each inspection, unless recused there, when the lead department's stand-in
leads it.

A conflict of interest declared after the draw (``inspector_conflict``, not retired) recuses the officer
from that business at once, while its inspection is not completed, wherever participation is read: they
leave the inspection (their phone gets a ``recused`` tombstone naming the declaration, their pushes about
it are refused with ``sync.recused``). No stand-in is drawn after the draw (the published draw is not
changed): the other officers of the department carry on. A recused leader is followed by the next officer
of the lead department in the group.
"""
from __future__ import annotations

import dataclasses
from typing import NamedTuple

from sqlalchemy import bindparam, literal_column, null, or_, select, union_all
from sqlalchemy.orm import Session

from backend.auth.models import User
from backend.directory.models import Department, Inspector, InspectorConflict
from backend.draws.models import GroupMember, InspectionGroup
from backend.inspections.models import Inspection, InspectionMember
from sync import changes

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
    # recusals declared after the draw: inspector id → the declaration (its reason), for the refusal's text
    declared: dict[int, str] = dataclasses.field(default_factory=dict)

    def of(self, inspector_id: int | None) -> Participant | None:
        return next((p for p in self.participants if p.inspector_id == inspector_id), None)

    def by_user(self, user_id: int) -> Participant | None:
        return next((p for p in self.participants if p.user_id == user_id), None)

    def departments(self) -> list[int]:
        return sorted({p.department_id for p in self.participants})

    def of_department(self, department_id: int) -> list[Participant]:
        return [p for p in self.participants if p.department_id == department_id]


def involved_inspections(inspector_id=None):
    """A select of the ids of every inspection this officer is or was part of (any status); without an id, of the
    officer bound as ``inspector_id`` (``CHANGES``)."""
    inspector_id = bindparam("inspector_id") if inspector_id is None else inspector_id
    member_of = select(GroupMember.group_id).where(GroupMember.inspector_id == inspector_id)
    substitute = select(InspectionMember.inspection_id).where(InspectionMember.in_inspector_id == inspector_id)
    return select(Inspection.id).where(or_(Inspection.group_id.in_(member_of), Inspection.id.in_(substitute)))


def involved_tasks(inspector_id=None):
    inspector_id = bindparam("inspector_id") if inspector_id is None else inspector_id
    member_of = select(GroupMember.group_id).where(GroupMember.inspector_id == inspector_id)
    return select(InspectionGroup.task_id).where(InspectionGroup.id.in_(member_of))


# what changed for an officer (bound as ``inspector_id``): a pull's statements, built once
CHANGES = changes.ChangeQuery(involved_inspections(), involved_tasks())


class _Member(NamedTuple):
    group_id: int
    inspector_id: int
    position: int
    leader_id: int | None
    name: str
    cert_no: str
    department_id: int
    code: str
    department_name: str
    user_id: int | None


class _Override(NamedTuple):
    inspection_id: int
    out_inspector_id: int
    inspector_id: int
    name: str
    cert_no: str
    department_id: int
    code: str
    department_name: str
    user_id: int | None


def _people(stmt):
    """Add to a select of inspector ids the person, their department and their active account."""
    return (stmt.add_columns(Inspector.name, Inspector.cert_no, Inspector.department_id, Department.code,
                             Department.name.label("department_name"), User.id.label("user_id"))
            .join(Department, Department.id == Inspector.department_id)
            .outerjoin(User, (User.inspector_id == Inspector.id) & (User.status == "active")))


def _participation_query():
    """``participation``'s statement, built once (its groups, inspections and businesses bound as lists)."""
    group_ids, ids, targets = (bindparam(n, expanding=True) for n in ("groups", "ids", "targets"))
    members_q = _people(
        select(literal_column("'m'").label("kind"), GroupMember.group_id.label("key"), GroupMember.inspector_id,
               GroupMember.position, InspectionGroup.leader_id.label("other"), null().label("reason"))
        .join(InspectionGroup, InspectionGroup.id == GroupMember.group_id)
        .join(Inspector, Inspector.id == GroupMember.inspector_id)).where(GroupMember.group_id.in_(group_ids))
    overrides_q = _people(
        select(literal_column("'o'"), InspectionMember.inspection_id, InspectionMember.in_inspector_id, null(),
               InspectionMember.out_inspector_id, null())
        .join(Inspector, Inspector.id == InspectionMember.in_inspector_id)).where(
        InspectionMember.inspection_id.in_(ids))
    people = union_all(select(GroupMember.inspector_id).where(GroupMember.group_id.in_(group_ids)),
                       select(InspectionMember.in_inspector_id).where(InspectionMember.inspection_id.in_(ids)))
    conflicts_q = select(literal_column("'c'"), InspectorConflict.target_id, InspectorConflict.inspector_id, null(),
                         null(), InspectorConflict.reason, null(), null(), null(), null(), null(), null()).where(
        InspectorConflict.target_id.in_(targets),
        InspectorConflict.inspector_id.in_(people), InspectorConflict.retired_at.is_(None))
    return union_all(members_q, overrides_q, conflicts_q)


_PARTICIPATION = _participation_query()


def participation(session: Session, inspections: list[Inspection]) -> dict[int, Participation]:
    """Participation of several inspections in one query: the groups' members, the stand-ins and the conflicts of
    interest declared by any of them with these businesses (``kind`` m, o, c)."""
    if not inspections:
        return {}
    params = {"groups": sorted({i.group_id for i in inspections}), "ids": [i.id for i in inspections],
              "targets": sorted({i.target_id for i in inspections})}
    rows = session.execute(_PARTICIPATION, params).all()
    return assemble(inspections, rows)


class PeopleRow(NamedTuple):
    """A row of ``participation``'s query (``PEOPLE_OF_INSPECTION``'s arrays)."""
    kind: str
    key: int
    inspector_id: int
    position: int | None
    other: int | None
    reason: str | None
    name: str | None
    cert_no: str | None
    department_id: int | None
    code: str | None
    department_name: str | None
    user_id: int | None


# PostgreSQL: ``participation``'s query for the one inspection of the enclosing query's row (``inspection``), as
# a JSON array of objects (``PeopleRow``'s fields), to be a column of a select of inspections (one statement for both)
_PERSON = ("i.name, i.cert_no, i.department_id, d.code, d.name AS department_name, u.id AS user_id FROM {join} "
           "JOIN department d ON d.id = i.department_id "
           "LEFT JOIN user_account u ON u.inspector_id = i.id AND u.status = 'active'")
PEOPLE_OF_INSPECTION = (
    "(SELECT json_agg(p) FROM ("
    "SELECT 'm' AS kind, gm.group_id AS key, gm.inspector_id, gm.position, ig.leader_id AS other, NULL AS reason, "
    + _PERSON.format(join="group_member gm JOIN inspection_group ig ON ig.id = gm.group_id "
                          "JOIN inspector i ON i.id = gm.inspector_id") +
    " WHERE gm.group_id = inspection.group_id "
    "UNION ALL SELECT 'o', om.inspection_id, om.in_inspector_id, NULL, om.out_inspector_id, NULL, "
    + _PERSON.format(join="inspection_member_override om JOIN inspector i ON i.id = om.in_inspector_id") +
    " WHERE om.inspection_id = inspection.id "
    "UNION ALL SELECT 'c', c.target_id, c.inspector_id, NULL, NULL, c.reason, NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM inspector_conflict c WHERE c.target_id = inspection.target_id AND c.retired_at IS NULL AND c.inspector_id IN "
    "(SELECT gm2.inspector_id FROM group_member gm2 WHERE gm2.group_id = inspection.group_id UNION ALL "
    "SELECT om2.in_inspector_id FROM inspection_member_override om2 WHERE om2.inspection_id = inspection.id)"
    ") AS p)")


def assemble(inspections: list[Inspection], rows) -> dict[int, Participation]:
    """Participation of these inspections from the rows of ``participation``'s query (or ``PEOPLE_OF_INSPECTION``'s,
    as ``PeopleRow``)."""
    members = [r for r in rows if r.kind == "m"]
    overrides = [_Override(r.key, r.other, r.inspector_id, r.name, r.cert_no, r.department_id, r.code,
                           r.department_name, r.user_id) for r in rows if r.kind == "o"]
    declared = {(r.inspector_id, r.key): r.reason for r in rows if r.kind == "c"}
    members = [_Member(r.key, r.inspector_id, r.position, r.other, r.name, r.cert_no, r.department_id, r.code,
                       r.department_name, r.user_id) for r in members]
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
        late = {i: reason for (i, target), reason in declared.items() if target == inspection.target_id
                and inspection.status in ACTIVE and any(p.inspector_id == i for p in chosen)}
        if late:
            lead_department = next((p.department_id for p in chosen if p.inspector_id == leader), None)
            chosen = [p for p in chosen if p.inspector_id not in late]
            recused |= set(late)
            if leader in late:
                leader = next((p.inspector_id for p in chosen if p.department_id == lead_department), leader)
        participants = tuple(Participant(p.inspector_id, p.department_id, p.code, p.department_name, p.cert_no,
                                         p.name, p.user_id, p.inspector_id == leader) for p in chosen)
        out[inspection.id] = Participation(participants, frozenset(recused), leader, late)
    return out


def announce_declarations(session: Session, pairs) -> None:
    """A conflict of interest was declared, or withdrawn, after the draw: the drawn inspections of that business
    the officer takes part in change (they leave it, or come back), so the phones pull them again. Call it last,
    just before the commit (``sync.changes.append``)."""
    from sync import changes

    by_target: dict[int, set[int]] = {}
    for inspector_id, target_id in pairs:
        by_target.setdefault(target_id, set()).add(inspector_id)
    found: list[tuple[int, int]] = []
    for target_id, inspector_ids in by_target.items():
        member_of = select(GroupMember.group_id).where(GroupMember.inspector_id.in_(inspector_ids))
        substitute = select(InspectionMember.inspection_id).where(InspectionMember.in_inspector_id.in_(inspector_ids))
        found += session.execute(select(Inspection.id, Inspection.task_id).where(
            Inspection.target_id == target_id, Inspection.status.in_(ACTIVE),
            or_(Inspection.group_id.in_(member_of), Inspection.id.in_(substitute)))).all()
    changes.append(session, [changes.Change("inspection", iid, task_id, "recusal") for iid, task_id in found])
