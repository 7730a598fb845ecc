"""Whether a task's draw can run, and if not, why: the preview shows it, the commit enforces it.

``assess`` looks at the lists as they would be frozen now and returns ``can_draw``, the
``reasons`` it cannot (each ``{code, message, details}``, stable codes, Chinese messages) and
``warnings`` (it can run but might still fail). A commit refuses a task with any reason and
freezes nothing, so a task can no longer be committed in a state no seed can draw.

What the preview can foresee (reasons):

| code | when |
| --- | --- |
| task.not_confirmed | the task is not confirmed by every participating department (会审) |
| draw.already_committed | the task already has a commitment or a result |
| task.read_only | the task is cancelled |
| draw.invalid_plan | the plan object cannot be drawn (dsr/v1 validation) |
| task.ratio_above_cap | a ratio exceeds a general item's cap (an item changed after the task was made) |
| draw.too_few_inspectors | a department has fewer eligible inspectors than groups × members per group |
| draw.expert_group_missing | an expert is attached to a group number the draw will not have |
| draw.expert_unavailable | an attached expert was retired or suspended since |

What it cannot foresee, because it depends on the seed, is whether recusal (step 6) finds a
replacement for every conflict; ``draw.recusal_may_fail`` warns when a department's reserve
is not certainly large enough. A seed that fails leaves the draw ``failed`` and public; the
planner reopens the task (``services.reopen``) with a reason.
"""
from __future__ import annotations

from typing import Iterable, Mapping

from backend.draws import algorithm
from backend.draws.eligibility import Eligible, required_qualifications, split_by_prefix
from backend.errors import DomainError
from backend.plans import services as plans
from backend.plans.models import TASK_STATUSES, Task


def reason(code: str, message: str, **details) -> dict:
    return {"code": code, "message": message, "details": details}


def counts(plan: Mapping, eligible: Eligible) -> dict:
    """Eligible and excluded per stratum, k per stratum, groups, inspectors needed per department."""
    out = eligible.counts()
    k = {s: algorithm.stratum_size(out["targets"].get(s, 0), rule) for s, rule in sorted(plan["strata"].items())}
    total = sum(k.values())
    groups = -(-total // plan["group_load"]) if plan["group_load"] else 0
    out["selected"] = k
    out["groups"] = groups
    out["inspectors_needed"] = {d: groups * m for d, m in sorted(plan["members"].items())}
    return out


def _status_reasons(task: Task) -> list[dict]:
    if task.status == "confirmed":
        return []
    if task.status in ("committed", "drawn"):
        return [reason("draw.already_committed", "该任务已冻结名单或已摇号；如需重新抽取，请说明理由申请重新抽取",
                       status=task.status)]
    if task.status == "cancelled":
        return [reason("task.read_only", "任务已撤销", status=task.status)]
    try:
        plans.ensure_drawable(task)
    except DomainError as exc:  # names the departments that have not confirmed
        return [reason(exc.code, exc.message, **exc.details)]
    return [reason("task.not_confirmed", f"任务当前状态为「{TASK_STATUSES.get(task.status, task.status)}」，不能摇号")]


def assess(task: Task, plan: dict, eligible: Eligible, experts: Iterable = ()) -> dict:
    """The preview: counts, per-department availability, ``can_draw``, ``reasons``, ``warnings``."""
    out = counts(plan, eligible)
    reasons = _status_reasons(task)
    try:
        algorithm.validate_plan(plan)
    except algorithm.DrawError as exc:
        reasons.append(reason(exc.code, exc.message, **exc.details))
    for v in plans.cap_violations(task.strata or {}, [row.item for row in task.items])[:1]:
        reasons.append(reason("task.ratio_above_cap",
                              f"一般检查事项「{v['name']}」（{v['item']}）的抽查比例上限为 {v['cap_percent']}%，"
                              f"分层 {v['stratum']} 的比例 {v['num']}/{v['den']} 超过了上限", **v))

    groups = out["groups"]
    names = {row.department.code: row.department.name for row in task.departments}
    required = required_qualifications(task)
    departments = []
    for dept, m in sorted(plan["members"].items()):
        have, need = out["inspectors"].get(dept, 0), groups * m
        unqualified = out["unqualified"].get(dept, 0)
        departments.append({"code": dept, "name": names.get(dept, dept), "members_per_group": m,
                            "available": have, "needed": need, "unqualified": unqualified,
                            "required_qualifications": required.get(dept, [])})
        if m >= 1 and have < need:
            message = (f"部门{names.get(dept, '')}（{dept}）可抽取的检查人员不足：现有 {have} 人，"
                       f"需要 {need} 人（{groups} 个检查组 × 每组 {m} 人）")
            if unqualified:
                message += f"；另有 {unqualified} 人不具备所需执法资质（{'、'.join(required.get(dept, []))}）"
            reasons.append(reason("draw.too_few_inspectors", message + "。请增加人员、减少每组人数或调整每组检查对象数",
                                  dept=dept, have=have, need=need, groups=groups, members_per_group=m,
                                  unqualified=unqualified, required_qualifications=required.get(dept, [])))
    for row in experts:
        expert = row.expert
        if row.group_number >= groups:
            # groups as the screens count them: 第 1 组 is the record's group 0
            made = ("不会产生检查组" if groups == 0 else "只会产生 1 个检查组（第 1 组）" if groups == 1
                    else f"只会产生 {groups} 个检查组（第 1 至第 {groups} 组）")
            reasons.append(reason("draw.expert_group_missing",
                                  f"专家 {expert.name}（{expert.code}）选派到第 {row.group_number + 1} 组，"
                                  f"但按当前名录{made}",
                                  expert=expert.code, group=row.group_number, groups=groups))
        if expert.retired_at is not None or expert.status != "active":
            reasons.append(reason("draw.expert_unavailable",
                                  f"专家 {expert.name}（{expert.code}）已停用或暂停，请取消选派",
                                  expert=expert.code))
    out["departments"] = departments
    out["reasons"] = reasons
    out["warnings"] = _recusal_warnings(departments, eligible)
    out["can_draw"] = not reasons
    return out


def _recusal_warnings(departments: list[dict], eligible: Eligible) -> list[dict]:
    """Recusal is certain to find replacements in department d when its reserve R_d is at least
    C_d + X_d: C_d declared conflicts (each replacement uses a fresh reserve inspector) plus the
    most inspectors of d in conflict with one target (who cannot replace for it)."""
    if not eligible.conflicts:
        return []
    dept_of = {cert: dept for dept, certs in split_by_prefix(eligible.inspector_lines).items() for cert in certs}
    per_dept: dict[str, int] = {}
    per_target: dict[tuple[str, str], int] = {}
    for cert, target in eligible.conflicts:
        dept = dept_of.get(cert)
        if dept is None:
            continue
        per_dept[dept] = per_dept.get(dept, 0) + 1
        per_target[(dept, target)] = per_target.get((dept, target), 0) + 1
    warnings = []
    for d in departments:
        c = per_dept.get(d["code"], 0)
        if not c or not d["members_per_group"] or not d["needed"]:
            continue
        x = max(n for (dept, _), n in per_target.items() if dept == d["code"])
        reserve = max(d["available"] - d["needed"], 0)
        if reserve < c + x:
            warnings.append(reason(
                "draw.recusal_may_fail",
                f"部门{d['name']}（{d['code']}）有 {c} 条利害关系申报，备选人员 {reserve} 人：若被抽中的人员须回避，"
                "可能找不到替换人员，摇号将失败（失败的随机数同样公开；之后可说明理由重新开放任务）",
                dept=d["code"], conflicts=c, reserve=reserve))
    return warnings
