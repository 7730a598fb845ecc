"""Experts (专家名录库) attached to a task's groups by the lead department (需要请专家参与的，可从专家名录库中选派).

Experts are appointed, not drawn. So that nobody can pick an expert for a business once the
businesses are known, they are attached to groups by number *before* the commitment, and the
draw's plan object names them (``plan.experts``: ``[{"group": g, "id": "<expert code>"}]``,
sorted by group, then code; absent when a task has none). dsr/v1 allows extra fields in the
plan and hashes them with it, so the attachment is committed like the lists, and every
verifier keeps matching.

Conflicts of interest are checked as for inspectors: an expert's declared conflicts with the
eligible targets are frozen with the lists (``expert_conflicts``) and published. After the
seed, an expert takes no part in inspecting a target of their group they declared a conflict
with, also one brought in later from the reserve; these recusals follow from the committed
facts and the result, and are published with the record (``expert_recusals``).
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.db import utcnow
from backend.directory.models import Expert, ExpertConflict, Target
from backend.draws.models import Draw, TaskExpert
from backend.errors import InvalidInput
from backend.plans import services as plans
from backend.plans.models import Task

MAX_GROUP = 100_000
MAX_ATTACHED = 200


def attached(session: Session, task: Task) -> list[TaskExpert]:
    return list(session.scalars(select(TaskExpert).join(Expert, Expert.id == TaskExpert.expert_id)
                                .where(TaskExpert.task_id == task.id)
                                .order_by(TaskExpert.group_number, Expert.code)))


def plan_entries(rows: Iterable[TaskExpert]) -> list[dict]:
    """The ``experts`` field of the draw's plan object."""
    return sorted(({"group": r.group_number, "id": r.expert.code} for r in rows), key=lambda e: (e["group"], e["id"]))


def draw_plan(session: Session, task: Task) -> dict:
    """DRAW.md's plan object of the task, with the attached experts when there are any."""
    plan = plans.draw_plan_object(task)
    entries = plan_entries(attached(session, task))
    if entries:
        plan["experts"] = entries
    return plan


def snapshot(rows: Iterable[TaskExpert]) -> list[dict]:
    return [{"group": e["group"], "expert": e["id"]} for e in plan_entries(rows)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _invalid(code: str, message: str, field: str = "experts") -> InvalidInput:
    return InvalidInput(message, code=code, errors={field: [message]})


def set_experts(session: Session, actor: Actor, task_id: Any, entries: list[Mapping]) -> list[TaskExpert]:
    """Replace the task's attached experts (lead department; not while a commitment awaits its seed).

    Each entry: ``{expert_id, group}``. The expert must be active, not retired, and kept by one
    of the task's departments; an expert may serve several groups, once each. Does not reset
    the 会审: who advises a group is the lead department's call, and it is public in the record.
    A draw's experts are those its plan names: on a drawn task a change applies to a re-draw
    only (so that a re-draw with fewer groups is not stuck on an expert of a group that is gone).
    """
    task = plans.get_task(session, task_id, lock=True)
    plans.ensure_task_editor(actor, task)
    if task.status != "drawn":
        # committed: the pending commitment names the experts already (reopen the task first)
        plans.ensure_task_editable(task)
    if not isinstance(entries, (list, tuple)):
        raise _invalid("task.bad_expert", "专家应为列表")
    if len(entries) > MAX_ATTACHED:
        raise _invalid("task.bad_expert", f"一个任务最多选派 {MAX_ATTACHED} 人次专家")
    wanted: list[tuple[int, int]] = []
    for i, entry in enumerate(entries):
        field = f"experts.{i}"
        expert_id = entry.get("expert_id") if isinstance(entry, Mapping) else None
        group = entry.get("group") if isinstance(entry, Mapping) else None
        if not _is_int(expert_id) or not 1 <= expert_id <= plans.MAX_ID:
            raise _invalid("task.bad_expert", f"第 {i + 1} 项的专家编号无效", field)
        if not _is_int(group) or not 0 <= group < MAX_GROUP:
            raise _invalid("task.bad_expert_group", f"第 {i + 1} 项的检查组 group 应为从 0 开始的整数（0 即第 1 组）", field)
        if (expert_id, group) in wanted:
            raise _invalid("task.expert_duplicate", f"第 {i + 1} 项重复：同一专家在同一检查组只能选派一次", field)
        wanted.append((expert_id, group))
    experts = {e.id: e for e in session.scalars(select(Expert).where(Expert.id.in_([e for e, _ in wanted])))}
    departments = plans.task_department_ids(task)
    current = attached(session, task)
    for i, (expert_id, _) in enumerate(wanted):
        expert = experts.get(expert_id)
        field = f"experts.{i}"
        if expert is None:
            raise _invalid("task.expert_not_found", f"专家 {expert_id} 不存在", field)
        if expert.retired_at is not None or expert.status != "active":
            raise _invalid("task.expert_unavailable", f"专家 {expert.name}（{expert.code}）已停用或暂停，不能选派", field)
        if expert.department_id not in departments:
            raise _invalid("task.expert_department",
                           f"专家 {expert.name}（{expert.code}）不在本任务牵头或参与部门的专家库中", field)
    before = snapshot(current)
    keep = {(r.expert_id, r.group_number): r for r in current}
    for row in current:
        if (row.expert_id, row.group_number) not in wanted:
            session.delete(row)
    for expert_id, group in wanted:
        if (expert_id, group) not in keep:
            session.add(TaskExpert(task_id=task.id, expert_id=expert_id, expert=experts[expert_id],
                                   group_number=group, attached_by=actor.user_id, attached_at=utcnow()))
    session.flush()
    rows = attached(session, task)
    after = snapshot(rows)
    if after != before:
        audit.record(session, actor, "task.experts", "task", task.id, before={"experts": before},
                     after={"experts": after}, department_id=task.lead_department_id)
    session.commit()
    return rows


def frozen_conflicts(session: Session, codes: list[str], target_lines: list[str]) -> list[str]:
    """Sorted "expert|target" lines: declared conflicts of the attached experts with eligible targets."""
    if not codes:
        return []
    from backend.draws.eligibility import contains_line, count_prefixes

    strata = list(count_prefixes(target_lines))   # the keys only: no value copied (0.4 s at a million)
    rows = session.execute(
        select(Expert.code, Target.code).select_from(ExpertConflict)
        .join(Expert, Expert.id == ExpertConflict.expert_id).join(Target, Target.id == ExpertConflict.target_id)
        .where(ExpertConflict.retired_at.is_(None), Expert.code.in_(codes))).all()
    return sorted({f"{expert}|{target}" for expert, target in rows
                   if any(contains_line(target_lines, f"{s}|{target}") for s in strata)})


def recusals(plan: Mapping, result: Mapping | None, conflicts: Iterable[tuple[str, str]],
             replaced_in: Iterable[tuple[int, str]] = ()) -> list[dict]:
    """Who steps aside where: each attached expert, for each target of their group (as drawn, then
    those brought in from the reserve, in order) they declared a conflict with."""
    if not result or not plan.get("experts"):
        return []
    conflicted = set(conflicts)
    targets = {g: list(group["targets"]) for g, group in enumerate(result["groups"])}
    for group, code in replaced_in:
        targets.setdefault(group, []).append(code)
    out = []
    for entry in plan["experts"]:
        for code in targets.get(entry["group"], []):
            if (entry["id"], code) in conflicted:
                out.append({"group": entry["group"], "expert": entry["id"], "target": code})
    return out


def draw_recusals(session: Session, draw: Draw) -> list[dict]:
    """``recusals`` of a stored draw, with the targets its replacements brought in."""
    from backend.draws import lists
    from backend.draws.models import InspectionGroup
    from backend.inspections.models import Inspection

    if not draw.result or not draw.plan.get("experts"):
        return []
    conflicts = lists.pairs(lists.load(session, draw.id, "expert_conflicts"))
    replaced = session.execute(
        select(InspectionGroup.number, Target.code).select_from(Inspection)
        .join(InspectionGroup, InspectionGroup.id == Inspection.group_id)
        .join(Target, Target.id == Inspection.target_id)
        .where(Inspection.draw_id == draw.id, Inspection.id.in_(_replacement_ids(session, draw)))
        .order_by(Inspection.id)).all()
    return recusals(draw.plan, draw.result, conflicts, [(g, c) for g, c in replaced])


def _replacement_ids(session: Session, draw: Draw):
    """Inspections brought in from the reserve: those whose target is not among the drawn ones."""
    from backend.draws.models import TargetReplacement
    from backend.inspections.models import Inspection

    brought_in = select(Target.id).join(TargetReplacement, TargetReplacement.in_code == Target.code).where(
        TargetReplacement.draw_id == draw.id)
    return select(Inspection.id).where(Inspection.draw_id == draw.id, Inspection.target_id.in_(brought_in))


def task_experts(session: Session, actor: Actor, task_id: Any) -> dict:
    """The task's attached experts and, once drawn, their recusals."""
    task = plans.read_task(session, actor, task_id)
    from backend.draws.services import current_draw

    draw = current_draw(session, task, ("drawn",))
    committed = current_draw(session, task, ("committed", "drawn", "failed"))
    return {"task": task.code, "experts": attached(session, task),
            "committed": list((committed.plan or {}).get("experts", [])) if committed else None,
            "recusals": draw_recusals(session, draw) if draw else []}
