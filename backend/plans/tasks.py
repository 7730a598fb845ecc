"""Tasks (抽查任务). No Flask here.

Tasks: draft → consulting (会审) → confirmed, or declined by a participating department;
editing after sending returns the task to draft; sending again resets every decision to
pending. Only confirmed tasks are drawn (``ensure_drawable``). ``committed`` and ``drawn``
belong to the draw service; after them, and after ``cancelled``, a task is read-only. A
committed task whose draw did not complete is reopened by the draw service
(``backend.draws.services.reopen``), which returns it to ``confirmed``.

Every change is audited with snapshots before and after, under the lead department.
"""
from __future__ import annotations

import copy
import datetime as dt
from typing import Any, Mapping

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.rules import ensure_department, ensure_role
from backend.db import flush_unique, utcnow
from backend.directory import rules
from backend.directory.models import Item
from backend.errors import Conflict, Forbidden
from backend.plans.common import (EDITORS, RISK_STRATA, STRATA_MODES, _code_of, _department_scope, _dept_label,
                                  _ensure_reader, _get, _ids, _invalid, _is_int, _next_code, _sync_rows, _text,
                                  _valid_id, check_cap, clean_ratio, clean_ratio_rules)
from backend.plans.models import TASK_DEPT_STATUSES, TASK_STATUSES, Plan, Task, TaskDepartment, TaskItem

TASK_EDITABLE = frozenset({"draft", "consulting", "declined", "confirmed"})
TASK_READ_ONLY_REASONS = {
    "committed": "任务已冻结抽取名单，不能再修改；如摇号无法进行或未能完成，可说明理由重新开放任务（draw/reopen）",
    "drawn": "任务已完成摇号抽取，不能再修改",
    "cancelled": "任务已撤销，不能再修改",
}



def task_department_ids(task: Task) -> set[int]:
    return {row.department_id for row in task.departments} | {task.lead_department_id}


def ensure_task_reader(actor: Actor, task: Task) -> None:
    _ensure_reader(actor, task_department_ids(task), "任务")


def ensure_task_editor(actor: Actor, task: Task) -> None:
    ensure_role(actor, EDITORS)
    ensure_department(actor, task.lead_department_id, "任务（仅牵头部门可修改）")


def task_snapshot(task: Task) -> dict:
    """The task as the audit log keeps it (codes, not row ids)."""
    return _task_content(task) | {
        "status": task.status,
        "decisions": {r.department.code: {"status": r.status, "reason": r.reason}
                      for r in sorted(task.departments, key=lambda r: r.department.code) if r.role != "lead"},
    }


def _task_content(task: Task) -> dict:
    """What the lead department sets (a change to it resets the 会审)."""
    return {
        "code": task.code, "name": task.name,
        "plan": task.plan.code if task.plan else None,
        "batch": next((b.seq for b in (task.plan.batches if task.plan else []) if b.id == task.batch_id), None),
        "lead": task.lead_department.code if task.lead_department else None,
        "departments": [{"code": r.department.code, "role": r.role, "members_per_group": r.members_per_group}
                        for r in sorted(task.departments, key=lambda r: (r.role != "lead", r.department.code))],
        "items": sorted(({"code": r.item.code, "department": _code_of(r.item.department)} for r in task.items),
                        key=lambda i: i["code"]),
        "filters": copy.deepcopy(task.filters or {}),
        "strata_mode": task.strata_mode, "strata": copy.deepcopy(task.strata or {}),
        "exclusions": copy.deepcopy(task.exclusions or {}),
        "group_load": task.group_load, "methods": list(task.methods or []),
        "start_date": task.start_date, "end_date": task.end_date, "draw_date": task.draw_date,
        "description": task.description,
    }


def draw_plan_object(task: Task) -> dict:
    """DRAW.md's ``plan`` object for this task, exactly: strata, lead, members (m ≥ 1), group_load."""
    members = {r.department.code: r.members_per_group
               for r in sorted(task.departments, key=lambda r: r.department.code) if r.members_per_group >= 1}
    return {"strata": copy.deepcopy(task.strata), "lead": task.lead_department.code, "members": members,
            "group_load": task.group_load}


def ensure_drawable(task: Task) -> None:
    """Only a confirmed task may be drawn; otherwise name the departments that have not confirmed."""
    if task.status == "confirmed":
        return
    waiting = [r for r in sorted(task.departments, key=lambda r: r.department.code)
               if r.role != "lead" and (r.status != "confirmed" or task.status == "draft")]
    names = "、".join(_dept_label(r.department) for r in waiting)
    status_text = TASK_STATUSES.get(task.status, task.status)
    if task.status == "draft":
        message = "任务尚未发送会审，不能摇号" + (f"；需确认的部门：{names}" if names else "")
    elif task.status in ("consulting", "declined"):
        message = f"任务尚未会审通过（{status_text}），以下部门未确认：{names}"
    else:
        message = f"任务当前状态为「{status_text}」，不能摇号"
    raise Conflict(message, code="task.not_confirmed",
                   details={"status": task.status, "departments": [r.department.code for r in waiting]})


def get_task(session: Session, task_id: Any, *, lock: bool = False) -> Task:
    return _get(session, Task, task_id, lock, "任务不存在", "task.not_found")


def read_task(session: Session, actor: Actor, task_id: Any) -> Task:
    task = get_task(session, task_id)
    ensure_task_reader(actor, task)
    return task


def tasks_query(actor: Actor, args: Mapping):
    stmt = select(Task).options(selectinload(Task.departments), selectinload(Task.items))
    department_id = _department_scope(actor, args.get("department_id"), "任务")
    if department_id is not None:
        stmt = stmt.where(or_(Task.lead_department_id == department_id,
                              exists().where(TaskDepartment.task_id == Task.id,
                                             TaskDepartment.department_id == department_id)))
    if args.get("year") is not None:
        stmt = stmt.where(Task.plan_id.in_(select(Plan.id).where(Plan.year == args["year"])))
    if args.get("plan_id") is not None:
        stmt = stmt.where(Task.plan_id == args["plan_id"])
    if args.get("status"):
        stmt = stmt.where(Task.status == args["status"])
    q = (args.get("q") or "").strip()
    if q:
        stmt = stmt.where(or_(Task.name.icontains(q, autoescape=True), Task.code.icontains(q, autoescape=True)))
    if args.get("decision"):
        # the 会审 inbox: tasks a department takes part in (not leads) and where its decision stands
        deciding = department_id if department_id is not None else actor.department_id
        if deciding is None:
            raise _invalid("task.decision_needs_department", "按会审结果筛选时须指定部门（department_id）", "department_id")
        stmt = stmt.where(exists().where(TaskDepartment.task_id == Task.id, TaskDepartment.department_id == deciding,
                                         TaskDepartment.role == "participant",
                                         TaskDepartment.status == args["decision"]))
    return stmt.order_by(Task.id.desc())


def create_task(session: Session, actor: Actor, data: Mapping, default_ratios: Mapping) -> Task:
    """A task of a published plan, by its lead department. ``default_ratios``: the RISK_RATIOS setting."""
    ensure_role(actor, EDITORS)
    plan_id = data.get("plan_id")
    if not _valid_id(plan_id):
        raise _invalid("task.plan_required", "请指定计划", "plan_id")
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise _invalid("task.plan_not_found", f"计划 {plan_id} 不存在", "plan_id")
    ensure_department(actor, plan.lead_department_id, "任务（只有计划的牵头部门可以创建任务）")
    if plan.retired_at is not None or plan.status != "published":
        raise Conflict("只能从已公布的计划创建任务", code="task.plan_not_published")
    task = Task(plan_id=plan.id, plan=plan, lead_department_id=plan.lead_department_id,
                lead_department=plan.lead_department, status="draft", filters={}, strata={}, exclusions={},
                strata_mode="risk", group_load=5, methods=[], draw_seq=0, created_by=actor.user_id)
    _apply_task(session, task, data, default_ratios, new=True)
    code = data.get("code")
    if code is None:
        task.code = _next_code(session, Task.code, f"SS-{plan.year}-")
    else:
        task.code = _text(code, "code", "task.bad_code", "任务编号", max_len=32)
        if session.scalar(select(Task.id).where(Task.code == task.code)) is not None:
            raise Conflict(f"任务编号 {task.code} 已被使用", code="task.code_taken")
    session.add(task)
    flush_unique(session, "任务编号已被占用，请重试", "task.code_taken")
    audit.record(session, actor, "task.create", "task", task.id, after=task_snapshot(task),
                 department_id=task.lead_department_id)
    session.commit()
    return task


def ensure_task_editable(task: Task) -> None:
    """Draft, consulting, declined or confirmed; otherwise 409 ``task.read_only`` with the reason."""
    if task.status in TASK_READ_ONLY_REASONS:
        raise Conflict(TASK_READ_ONLY_REASONS[task.status], code="task.read_only")
    if task.status not in TASK_EDITABLE:  # pragma: no cover - unknown status written elsewhere
        raise Conflict(f"任务当前状态（{task.status}）不允许修改", code="task.read_only")


def update_task(session: Session, actor: Actor, task_id: Any, data: Mapping, default_ratios: Mapping) -> Task:
    """Edit a task; after it was sent, an edit returns it to draft (the 会审 starts again on send)."""
    task = get_task(session, task_id, lock=True)
    ensure_task_editor(actor, task)
    ensure_task_editable(task)
    if "code" in data and data["code"] != task.code:
        raise Conflict("任务编号创建后不能修改", code="task.code_locked")
    if "plan_id" in data and data["plan_id"] != task.plan_id:
        raise Conflict("任务所属计划不能修改", code="task.plan_locked")
    before = task_snapshot(task)
    content = _task_content(task)
    _apply_task(session, task, data, default_ratios, new=False)
    if _task_content(task) == content:
        session.rollback()
        return get_task(session, task.id)
    reset = task.status != "draft"
    task.status = "draft"
    audit.record(session, actor, "task.update", "task", task.id, before=before, after=task_snapshot(task),
                 detail={"reset_to_draft": True} if reset else None, department_id=task.lead_department_id)
    session.commit()
    return task


def _apply_task(session: Session, task: Task, data: Mapping, default_ratios: Mapping, *, new: bool) -> None:
    plan = task.plan
    if "name" in data or new:
        task.name = _text(data.get("name"), "name", "task.name_required", "任务名称", max_len=200)
    if "description" in data:
        task.description = _text(data["description"], "description", "task.bad_description", "说明",
                                 required=False)
    if "batch_id" in data:
        batch_id = data["batch_id"]
        if batch_id is not None and not any(b.id == batch_id for b in plan.batches):
            raise _invalid("task.bad_batch", f"批次 {batch_id} 不属于计划 {plan.code}", "batch_id")
        task.batch_id = batch_id

    # departments: the lead always, participants ⊆ the plan's departments
    plan_depts = {r.department_id: r.department for r in plan.departments}
    plan_depts.setdefault(plan.lead_department_id, plan.lead_department)
    current = {r.department_id: r.members_per_group for r in task.departments}
    if "departments" in data or new:
        wanted: dict[int, int] = {}
        entries = data.get("departments") or []
        if not isinstance(entries, (list, tuple)):
            raise _invalid("task.bad_department", "参与部门应为列表", "departments")
        for i, entry in enumerate(entries):
            field = f"departments.{i}"
            if not isinstance(entry, Mapping):
                raise _invalid("task.bad_department", f"第 {i + 1} 个部门格式有误", field)
            dept_id, m = entry.get("department_id"), entry.get("members_per_group", 1)
            if not _valid_id(dept_id):
                raise _invalid("task.bad_department", f"第 {i + 1} 个部门的编号无效", field)
            if dept_id in wanted:
                raise _invalid("task.department_duplicate", f"部门{_dept_label(plan_depts.get(dept_id))}重复", field)
            if dept_id not in plan_depts:
                raise _invalid("task.department_not_in_plan",
                               f"部门 {dept_id} 不是计划 {plan.code} 的牵头或参与部门", field)
            if plan_depts[dept_id].retired_at is not None:
                raise _invalid("task.bad_department", f"部门{_dept_label(plan_depts[dept_id])}已停用", field)
            if not _is_int(m) or not 0 <= m <= 50:
                raise _invalid("task.bad_members", "每组人数应为 0 至 50 的整数", field)
            wanted[dept_id] = m
        if plan.lead_department_id not in wanted:
            wanted = {plan.lead_department_id: current.get(plan.lead_department_id, 2), **wanted}
    else:
        wanted = dict(current)
    lead_m = wanted[plan.lead_department_id]
    if lead_m < 1:
        raise _invalid("task.lead_members", "牵头部门每组至少要有 1 名检查人员（组长从牵头部门产生）", "departments")
    total = sum(wanted.values())
    if total < 2:
        raise _invalid("task.group_too_small", f"每个检查组至少要有两名执法检查人员（当前每组 {total} 人）",
                       "departments")

    # items: each a plan item of one of the task's departments
    plan_items = {r.item_id: r for r in plan.items}
    if "item_ids" in data or new:
        item_ids = _ids(data.get("item_ids") or [], "item_ids", "task.bad_item")
    else:
        item_ids = [r.item_id for r in task.items]
    already = {r.item_id for r in task.items}
    if not item_ids:
        raise _invalid("task.items_required", "任务至少要有一个抽查事项", "item_ids")
    for item_id in item_ids:
        row = plan_items.get(item_id)
        if row is None:
            raise _invalid("task.item_not_in_plan", f"抽查事项 {item_id} 不在计划 {plan.code} 中", "item_ids")
        if item_id not in already and row.item.retired_at is not None:
            raise _invalid("task.item_retired", f"抽查事项「{row.item.name}」（{row.item.code}）已停用", "item_ids")
        if row.department_id not in wanted:
            raise _invalid("task.item_department",
                           f"抽查事项「{row.item.name}」（{row.item.code}）属于{_dept_label(plan_depts.get(row.department_id))}，"
                           "该部门未参与本任务", "item_ids")
    with_items = {plan_items[i].department_id for i in item_ids}
    for dept_id, m in wanted.items():
        if dept_id != plan.lead_department_id and m == 0 and dept_id not in with_items:
            raise _invalid("task.department_idle",
                           f"部门{_dept_label(plan_depts[dept_id])}在本任务中既没有抽查事项也没有检查人员",
                           "departments")

    # filters (定向) and strata
    if "filters" in data or new:
        task.filters = clean_filters(data.get("filters"))
    if "strata_mode" in data or new:
        mode = data.get("strata_mode") or "risk"
        if mode not in STRATA_MODES:
            raise _invalid("task.bad_strata_mode", "分层方式应为 risk（按信用风险分类）或 all（不分层）", "strata_mode")
        task.strata_mode = mode
    given = data.get("strata") if "strata" in data else None
    task.strata = _strata(task, plan, given, task.strata if not new else {}, default_ratios)
    if "exclusions" in data or new:
        task.exclusions = clean_exclusions(data.get("exclusions"))
    if "group_load" in data or new:
        load = data.get("group_load", 5)
        if not _is_int(load) or not 1 <= load <= 10_000:
            raise _invalid("task.bad_group_load", "每组检查对象数应为不小于 1 的整数", "group_load")
        task.group_load = load
    if "methods" in data or new:
        task.methods = clean_methods(data.get("methods"), [plan_items[i].item for i in item_ids])
    for key in ("start_date", "end_date", "draw_date"):
        if key in data:
            value = data[key]
            if value is not None and not isinstance(value, dt.date):
                raise _invalid("task.bad_date", "日期格式有误", key)
            setattr(task, key, value)
    if task.start_date and task.end_date and task.end_date < task.start_date:
        raise _invalid("task.bad_dates", "结束日期不能早于开始日期", "end_date")
    if task.draw_date and task.end_date and task.draw_date > task.end_date:
        raise _invalid("task.bad_dates", "摇号日期不能晚于结束日期", "draw_date")

    # the ratio cap of general items (key items have none)
    check_cap(task.strata, [plan_items[i].item for i in item_ids])

    def new_department(dept_id: int, m: int) -> TaskDepartment:
        lead = dept_id == plan.lead_department_id
        return TaskDepartment(department_id=dept_id, department=plan_depts[dept_id],
                              role="lead" if lead else "participant", members_per_group=m,
                              status="confirmed" if lead else "pending")

    _sync_rows(task.departments, lambda r: r.department_id, wanted,
               update=lambda row, m: setattr(row, "members_per_group", m), create=new_department)
    _sync_rows(task.items, lambda r: r.item_id, {item_id: plan_items[item_id] for item_id in item_ids},
               update=lambda row, p: setattr(row, "department_id", p.department_id),
               create=lambda item_id, p: TaskItem(item_id=item_id, item=p.item, department_id=p.department_id))


def clean_filters(value: Any) -> dict:
    """定向 filters, checked against the lists' vocabulary; empty lists dropped ({} = 不定向)."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid("task.bad_filter", "筛选条件应为对象", "filters")
    checks = {
        "regions": (lambda v: isinstance(v, str) and v.isascii() and v.isdigit() and 2 <= len(v) <= 12,
                    "行政区划代码前缀应为 2 至 12 位数字"),
        "industries": (lambda v: isinstance(v, str) and bool(rules.INDUSTRY_RE.match(v)),
                       "行业代码应为门类字母加 0、2、3 或 4 位数字，如 F、F52、F5211"),
        "types": (lambda v: v in rules.TARGET_TYPES,
                  "对象类型应为：" + "、".join(f"{k}（{v}）" for k, v in rules.TARGET_TYPES.items())),
        "risk_classes": (lambda v: v in rules.RISK_CLASSES, "信用风险分类应为 A、B、C、D"),
        "tags": (lambda v: isinstance(v, str) and 0 < len(v.strip()) <= 32 and not any(c in v for c in ",\x00"),
                 "标签应为 1 至 32 个字符且不含逗号"),
    }
    unknown = set(value) - set(checks)
    if unknown:
        raise _invalid("task.bad_filter", f"不支持的筛选条件：{'、'.join(sorted(map(str, unknown)))}", "filters")
    out = {}
    for key, (ok, message) in checks.items():
        values = value.get(key)
        if values is None:
            continue
        if not isinstance(values, (list, tuple)):
            raise _invalid("task.bad_filter", f"筛选条件 {key} 应为列表", f"filters.{key}")
        clean: list[str] = []
        for v in values:
            if not isinstance(v, str) or not ok(v):
                raise _invalid("task.bad_filter", f"{message}（{v!r}）", f"filters.{key}")
            v = v.strip()
            if v not in clean:
                clean.append(v)
        if clean:
            out[key] = sorted(clean)
    return out


def clean_exclusions(value: Any) -> dict:
    if value is None:
        value = {}
    if not isinstance(value, Mapping):
        raise _invalid("task.bad_exclusions", "排除规则应为对象", "exclusions")
    unknown = set(value) - {"inspected_this_year", "a_class_exempt"}
    if unknown:
        raise _invalid("task.bad_exclusions", f"不支持的排除规则：{'、'.join(sorted(map(str, unknown)))}",
                       "exclusions")
    out = {}
    for key in ("inspected_this_year", "a_class_exempt"):
        v = value.get(key, True)
        if not isinstance(v, bool):
            raise _invalid("task.bad_exclusions", f"排除规则 {key} 应为是/否", f"exclusions.{key}")
        out[key] = v
    return out


def clean_methods(value: Any, items: list[Item]) -> list[str]:
    """Methods ⊆ rules.METHODS; not given: the items' own methods that are in the vocabulary."""
    if value is None:
        found = {m for item in items for m in (item.methods or []) if m in rules.METHODS}
        return [m for m in rules.METHODS if m in found]
    if not isinstance(value, (list, tuple)):
        raise _invalid("task.bad_method", "检查方式应为列表", "methods")
    for m in value:
        if m not in rules.METHODS:
            raise _invalid("task.bad_method", f"检查方式 {m!r} 无效，应为："
                           + "、".join(f"{k}（{v}）" for k, v in rules.METHODS.items()), "methods")
    return [m for m in rules.METHODS if m in set(value)]


def strata_keys(mode: str, filters: Mapping) -> list[str]:
    """The task's strata: "all", or the risk classes the filters allow (plus "U" when unfiltered)."""
    if mode == "all":
        return ["all"]
    wanted = filters.get("risk_classes")
    return sorted(wanted) if wanted else list(RISK_STRATA)


def _strata(task: Task, plan: Plan, given: Any, previous: Mapping, default_ratios: Mapping) -> dict:
    keys = strata_keys(task.strata_mode, task.filters or {})
    given = clean_ratio_rules(given, field="strata", code="task.bad_ratio") if given is not None else {}
    extra = set(given) - set(keys)
    if extra:
        raise _invalid("task.bad_stratum", f"分层 {'、'.join(sorted(extra))} 不在本任务的分层（{'/'.join(keys)}）中",
                       "strata")
    out = {}
    for key in keys:
        if key in given:
            out[key] = given[key]
        elif key in (previous or {}):
            out[key] = dict(previous[key])
        else:
            out[key] = _default_ratio(key, plan, default_ratios)
    return out


def _default_ratio(key: str, plan: Plan, default_ratios: Mapping) -> dict:
    """The plan's rule for the stratum, else the configured default; "all" falls back to "U"
    (the ratio for targets whose risk class is not used)."""
    rules_ = plan.ratio_rules or {}
    for source in (rules_, default_ratios or {}):
        if key in source:
            return clean_ratio(source[key], field=f"strata.{key}", code="task.bad_ratio")
    if key == "all":
        for source in (rules_, default_ratios or {}):
            if "U" in source:
                return clean_ratio(source["U"], field="strata.all", code="task.bad_ratio")
    raise _invalid("task.strata_required", f"分层 {key} 没有默认抽取比例，请填写", f"strata.{key}")


def send_task(session: Session, actor: Actor, task_id: Any) -> Task:
    """To the participating departments for 会审: all pending; with none, confirmed at once."""
    task = get_task(session, task_id, lock=True)
    ensure_task_editor(actor, task)
    ensure_task_editable(task)
    if task.status not in ("draft", "declined"):
        raise Conflict(f"任务当前状态为「{TASK_STATUSES.get(task.status, task.status)}」，不能发送会审",
                       code="task.bad_status")
    if task.plan.status != "published" or task.plan.retired_at is not None:
        raise Conflict("任务所属计划未公布或已停用", code="task.plan_not_published")
    for row in task.items:
        if row.item.retired_at is not None:
            raise Conflict(f"抽查事项「{row.item.name}」（{row.item.code}）已停用，请先从任务中移除",
                           code="task.item_retired")
    before = task_snapshot(task)
    participants = [r for r in task.departments if r.role != "lead"]
    for row in task.departments:
        if row.role == "lead":
            row.status, row.decided_by, row.decided_at, row.reason = "confirmed", actor.user_id, utcnow(), None
        else:
            row.status, row.decided_by, row.decided_at, row.reason = "pending", None, None, None
    task.status = "consulting" if participants else "confirmed"
    audit.record(session, actor, "task.send", "task", task.id, before=before, after=task_snapshot(task),
                 department_id=task.lead_department_id)
    session.commit()
    return task


def decide_task(session: Session, actor: Actor, task_id: Any, data: Mapping) -> Task:
    """A participating department confirms (会审同意) or declines with a reason."""
    ensure_role(actor, EDITORS)
    task = get_task(session, task_id, lock=True)
    department_id = data.get("department_id")
    if department_id is None:
        department_id = actor.department_id
    if department_id is None:
        raise _invalid("task.department_required", "请指定作出会审意见的部门", "department_id")
    ensure_department(actor, department_id, "会审意见（只能代表本部门）")
    row = next((r for r in task.departments if r.department_id == department_id and r.role != "lead"), None)
    if row is None:
        raise Forbidden("本部门不是该任务的参与部门，不能会审", code="forbidden.department")
    if task.status != "consulting":
        raise Conflict(f"任务当前状态为「{TASK_STATUSES.get(task.status, task.status)}」，不在会审中",
                       code="task.not_consulting")
    if row.status != "pending":
        raise Conflict(f"本部门已{TASK_DEPT_STATUSES.get(row.status, row.status)}，不能重复会审",
                       code="task.already_decided")
    decision = data.get("decision")
    if decision not in ("confirm", "decline"):
        raise _invalid("task.bad_decision", "会审意见应为 confirm（确认）或 decline（退回）", "decision")
    reason = _text(data.get("reason"), "reason", "task.reason_required", "退回理由",
                   required=decision == "decline")
    before = task_snapshot(task)
    row.status = "confirmed" if decision == "confirm" else "declined"
    row.decided_by, row.decided_at, row.reason = actor.user_id, utcnow(), reason
    if decision == "decline":
        task.status = "declined"
    elif all(r.status == "confirmed" for r in task.departments if r.role != "lead"):
        task.status = "confirmed"
    audit.record(session, actor, f"task.{decision}", "task", task.id, before=before, after=task_snapshot(task),
                 detail={"department": row.department.code, "reason": reason},
                 department_id=task.lead_department_id)
    session.commit()
    return task


def cancel_task(session: Session, actor: Actor, task_id: Any, reason: Any) -> Task:
    """Before any draw only; the reason goes to the audit log."""
    task = get_task(session, task_id, lock=True)
    ensure_task_editor(actor, task)
    if task.status in ("committed", "drawn"):
        raise Conflict("任务已冻结名单或已抽取，不能撤销" + ("；如摇号无法进行或未能完成，可先说明理由重新开放任务"
                                                            if task.status == "committed" else ""),
                       code="task.read_only")
    if task.status == "cancelled":
        raise Conflict("任务已撤销", code="task.read_only")
    reason = _text(reason, "reason", "task.reason_required", "撤销理由", max_len=2000)
    before = task_snapshot(task)
    task.status = "cancelled"
    task.cancel_reason, task.cancelled_at, task.cancelled_by = reason, utcnow(), actor.user_id
    audit.record(session, actor, "task.cancel", "task", task.id, before=before, after=task_snapshot(task),
                 detail={"reason": reason}, department_id=task.lead_department_id)
    session.commit()
    return task
