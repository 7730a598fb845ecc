"""Annual plans (年度抽查计划). No Flask here.

Plans: draft → approved → published. A published plan is public; a change after publishing
(调整) keeps the previous state as a ``PlanVersion`` with the reason, and bumps ``version``.
Approving, publishing and adjusting a published plan check its ratios against the ratio cap
of every general item in it (``plan.ratio_above_cap``, naming the item).

Tasks are in ``backend.plans.tasks``, what both share in ``backend.plans.common``; both are
re-exported here so that ``from backend.plans import services`` reaches everything.

Every change is audited with snapshots before and after, under the lead department.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.rules import ensure_department, ensure_role
from backend.db import flush_unique, utcnow
from backend.directory.models import Department, Item
from backend.errors import Conflict, InvalidInput, NotFound
from backend.plans.common import *  # noqa: F401,F403  (re-exported)
from backend.plans.common import (APPROVERS, EDITORS, PLAN_KINDS, PLAN_LEVELS, _code_of, _department_scope, _departments,
                                  _dept_label, _ensure_reader, _get, _ids, _invalid, _is_int, _next_code, _sync_rows,
                                  _text, _valid_id, cap_violations, clean_ratio_rules)
from backend.plans.models import PLAN_STATUSES, Plan, PlanBatch, PlanDepartment, PlanItem, PlanVersion, Task
from backend.plans.tasks import *  # noqa: F401,F403  (re-exported)
from backend.plans.tasks import TASK_EDITABLE, TASK_READ_ONLY_REASONS, _apply_task, _task_content  # noqa: F401


def plan_department_ids(plan: Plan) -> set[int]:
    return {row.department_id for row in plan.departments} | {plan.lead_department_id}


def ensure_plan_reader(actor: Actor, plan: Plan) -> None:
    _ensure_reader(actor, plan_department_ids(plan), "计划")


def ensure_plan_editor(actor: Actor, plan: Plan) -> None:
    ensure_role(actor, EDITORS)
    ensure_department(actor, plan.lead_department_id, "计划（仅牵头部门可修改）")


def ensure_plan_approver(actor: Actor, plan: Plan) -> None:
    ensure_role(actor, APPROVERS)
    ensure_department(actor, plan.lead_department_id, "计划（仅牵头部门可审批和公布）")


def plan_snapshot(plan: Plan) -> dict:
    """The plan as people read it (codes and names, no row ids): the audit and PlanVersion form."""
    return {
        "code": plan.code, "year": plan.year, "name": plan.name, "kind": plan.kind, "level": plan.level or "county",
        "lead": plan.lead_department.code if plan.lead_department else None,
        "departments": sorted(({"code": r.department.code, "name": r.department.name, "role": r.role}
                               for r in plan.departments), key=lambda d: (d["role"] != "lead", d["code"])),
        "items": sorted(({"code": r.item.code, "name": r.item.name, "kind": r.item.kind,
                          "department": _code_of(r.item.department)} for r in plan.items),
                        key=lambda i: i["code"]),
        "batches": [{"seq": b.seq, "name": b.name, "months": list(b.months or []),
                     "planned_count": b.planned_count} for b in sorted(plan.batches, key=lambda b: b.seq)],
        "ratio_rules": copy.deepcopy(plan.ratio_rules or {}),
        "description": plan.description,
        "status": plan.status, "version": plan.version,
    }


def get_plan(session: Session, plan_id: Any, *, lock: bool = False) -> Plan:
    return _get(session, Plan, plan_id, lock, "计划不存在", "plan.not_found")


def read_plan(session: Session, actor: Actor, plan_id: Any) -> Plan:
    plan = get_plan(session, plan_id)
    ensure_plan_reader(actor, plan)
    return plan


def plans_query(actor: Actor, args: Mapping):
    """Staff list: everything for sysadmins and supervisors, else plans the department leads or joins."""
    stmt = select(Plan).options(selectinload(Plan.departments), selectinload(Plan.items),
                                selectinload(Plan.batches))
    department_id = _department_scope(actor, args.get("department_id"), "计划")
    if department_id is not None:
        stmt = stmt.where(_plan_has_department(department_id))
    if not args.get("include_retired"):
        stmt = stmt.where(Plan.retired_at.is_(None))
    return _plan_filters(stmt, args).order_by(Plan.year.desc(), Plan.id.desc())


def public_plans_query(args: Mapping):
    stmt = (select(Plan).options(selectinload(Plan.departments), selectinload(Plan.items),
                                 selectinload(Plan.batches))
            .where(Plan.status == "published", Plan.retired_at.is_(None)))
    if args.get("department_id") is not None:
        stmt = stmt.where(_plan_has_department(args["department_id"]))
    return _plan_filters(stmt, {k: v for k, v in args.items() if k != "status"}).order_by(
        Plan.year.desc(), Plan.id.desc())


def _plan_has_department(department_id: int):
    return or_(Plan.lead_department_id == department_id,
               exists().where(PlanDepartment.plan_id == Plan.id, PlanDepartment.department_id == department_id))


def _plan_filters(stmt, args: Mapping):
    if args.get("year") is not None:
        stmt = stmt.where(Plan.year == args["year"])
    if args.get("status"):
        stmt = stmt.where(Plan.status == args["status"])
    if args.get("kind"):
        stmt = stmt.where(Plan.kind == args["kind"])
    q = (args.get("q") or "").strip()
    if q:
        stmt = stmt.where(or_(Plan.name.icontains(q, autoescape=True), Plan.code.icontains(q, autoescape=True)))
    return stmt


def get_public_plan(session: Session, code: Any) -> Plan:
    plan = None
    if isinstance(code, str) and 0 < len(code) <= 32 and "\x00" not in code:
        plan = session.scalar(select(Plan).where(Plan.code == code))
    if plan is None or plan.status != "published" or plan.retired_at is not None:
        raise NotFound("计划不存在或尚未公布", code="plan.not_found")
    return plan


def plan_versions(plan: Plan) -> list[PlanVersion]:
    return sorted(plan.versions, key=lambda v: v.version)


def _plan_code(session: Session, data: Mapping, year: int, lead: Department) -> str:
    code = data.get("code")
    if code is None:
        return _next_code(session, Plan.code, f"JH-{year}-{lead.code}-")
    code = _text(code, "code", "plan.bad_code", "计划编号", max_len=32)
    if session.scalar(select(Plan.id).where(Plan.code == code)) is not None:
        raise Conflict(f"计划编号 {code} 已被使用", code="plan.code_taken")
    return code


def create_plan(session: Session, actor: Actor, data: Mapping) -> Plan:
    ensure_role(actor, EDITORS)
    lead_id = data.get("lead_department_id")
    if lead_id is None:
        lead_id = actor.department_id
    if lead_id is None:
        raise _invalid("plan.lead_required", "请指定牵头部门", "lead_department_id")
    if not _valid_id(lead_id):
        raise _invalid("plan.bad_department", "牵头部门编号无效", "lead_department_id")
    ensure_department(actor, lead_id, "计划（只能以本部门为牵头部门）")
    lead = _departments(session, [lead_id], "lead_department_id", "plan.bad_department")[lead_id]
    year = data.get("year")
    if not _is_int(year) or not 2000 <= year <= 2100:
        raise _invalid("plan.bad_year", "年度应为 2000 至 2100 之间的整数", "year")
    plan = Plan(year=year, name=_text(data.get("name"), "name", "plan.name_required", "计划名称", max_len=200),
                kind=data.get("kind") or "department", lead_department_id=lead.id, lead_department=lead,
                description=_text(data.get("description"), "description", "plan.bad_description", "说明",
                                  required=False),
                ratio_rules={}, status="draft", version=1, created_by=actor.user_id)
    _apply_plan(session, plan, data, lead=lead, new=True)
    plan.code = _plan_code(session, data, year, lead)
    session.add(plan)
    flush_unique(session, "计划编号已被占用，请重试", "plan.code_taken")
    audit.record(session, actor, "plan.create", "plan", plan.id, after=plan_snapshot(plan),
                 department_id=plan.lead_department_id)
    session.commit()
    return plan


def update_plan(session: Session, actor: Actor, plan_id: Any, data: Mapping) -> Plan:
    """Drafts change freely; approved plans are refused; published ones need a reason and are versioned."""
    plan = get_plan(session, plan_id, lock=True)
    ensure_plan_editor(actor, plan)
    _ensure_not_retired(plan)
    if plan.status == "approved":
        raise Conflict("计划已审批，不能直接修改；如需修改，请先退回草稿（撤回审批）", code="plan.approved_locked")
    published = plan.status == "published"
    reason = _text(data.get("reason"), "reason", "plan.reason_required", "调整说明", required=published)
    if published:
        for key, label in (("code", "计划编号"), ("year", "年度"), ("lead_department_id", "牵头部门")):
            if key in data and data[key] != getattr(plan, key):
                raise Conflict(f"计划已公布，{label}不能修改", code="plan.published_field_locked")
    before = plan_snapshot(plan)
    lead = plan.lead_department
    if "lead_department_id" in data and data["lead_department_id"] != plan.lead_department_id:
        new_lead = data["lead_department_id"]
        if not _valid_id(new_lead):
            raise _invalid("plan.bad_department", "牵头部门编号无效", "lead_department_id")
        ensure_department(actor, new_lead, "计划（只能以本部门为牵头部门）")
        lead = _departments(session, [new_lead], "lead_department_id", "plan.bad_department")[new_lead]
        plan.lead_department_id, plan.lead_department = lead.id, lead
    if "year" in data:
        if not _is_int(data["year"]) or not 2000 <= data["year"] <= 2100:
            raise _invalid("plan.bad_year", "年度应为 2000 至 2100 之间的整数", "year")
        plan.year = data["year"]
    if "code" in data and data["code"] != plan.code:
        code = _text(data["code"], "code", "plan.bad_code", "计划编号", max_len=32)
        if session.scalar(select(Plan.id).where(Plan.code == code, Plan.id != plan.id)) is not None:
            raise Conflict(f"计划编号 {code} 已被使用", code="plan.code_taken")
        plan.code = code
    if "name" in data:
        plan.name = _text(data["name"], "name", "plan.name_required", "计划名称", max_len=200)
    if "description" in data:
        plan.description = _text(data["description"], "description", "plan.bad_description", "说明",
                                 required=False)
    _apply_plan(session, plan, data, lead=lead, new=False)
    if published:
        try:
            _ensure_within_caps(plan)   # a published plan stays one that tasks can be made from
        except InvalidInput:
            session.rollback()
            raise
    after = plan_snapshot(plan)
    if after == before:
        session.rollback()  # nothing changed: no version, no audit entry
        return get_plan(session, plan.id)
    if published:
        session.add(PlanVersion(plan_id=plan.id, version=plan.version, snapshot=before, reason=reason,
                                changed_by=actor.user_id, changed_at=utcnow()))
        plan.version += 1
        after["version"] = plan.version
    flush_unique(session, "计划编号已被占用", "plan.code_taken")
    audit.record(session, actor, "plan.adjust" if published else "plan.update", "plan", plan.id,
                 before=before, after=after, detail={"reason": reason} if published else None,
                 department_id=plan.lead_department_id)
    session.commit()
    return plan


def _apply_plan(session: Session, plan: Plan, data: Mapping, *, lead: Department, new: bool) -> None:
    """Validate the plan's final state (kind, departments, items, batches, ratios) and sync its rows."""
    kind = data.get("kind", plan.kind) or "department"
    if kind not in PLAN_KINDS:
        raise _invalid("plan.bad_kind", "计划类型应为 department（部门计划）或 joint（联合计划）", "kind")
    plan.kind = kind
    if "level" in data or new:
        level = data.get("level", "county")
        if level not in PLAN_LEVELS:
            raise _invalid("plan.bad_level", "计划层级应为 province（省级）、city（市级）或 county（县级）：下达该计划的层级",
                           "level")
        plan.level = level
    if "participant_department_ids" in data:
        participants = _ids(data["participant_department_ids"], "participant_department_ids",
                            "plan.bad_department")
    else:
        participants = [r.department_id for r in plan.departments
                        if r.role == "participant" and r.department_id != lead.id]
    if lead.id in participants:
        raise _invalid("plan.bad_department", "牵头部门不能同时作为参与部门", "participant_department_ids")
    if kind == "department" and participants:
        raise _invalid("plan.participants_not_allowed", "部门计划不能有参与部门；多部门联合抽查请选择联合计划",
                       "participant_department_ids")
    if kind == "joint" and not participants:
        raise _invalid("plan.participants_required", "联合计划至少需要一个参与部门", "participant_department_ids")
    depts = _departments(session, participants, "participant_department_ids", "plan.bad_department")
    depts[lead.id] = lead
    wanted_roles = {lead.id: "lead", **{d: "participant" for d in participants}}

    if "item_ids" in data:
        item_ids = _ids(data["item_ids"], "item_ids", "plan.bad_item")
    else:
        item_ids = [r.item_id for r in plan.items]
    items = {i.id: i for i in session.scalars(select(Item).where(Item.id.in_(item_ids)))} if item_ids else {}
    for item_id in item_ids:
        item = items.get(item_id)
        if item is None:
            raise _invalid("plan.item_not_found", f"抽查事项 {item_id} 不存在", "item_ids")
        if item.retired_at is not None and item_id not in {r.item_id for r in plan.items}:
            raise _invalid("plan.item_retired", f"抽查事项「{item.name}」（{item.code}）已停用，不能列入计划",
                           "item_ids")
        if item.department_id not in wanted_roles:
            raise _invalid("plan.item_department",
                           f"抽查事项「{item.name}」（{item.code}）的检查主体是{_dept_label(item.department)}，"
                           "该部门不是本计划的牵头或参与部门", "item_ids")

    batches = None
    if "batches" in data:
        batches = _clean_batches(data["batches"])
    if "ratio_rules" in data:
        plan.ratio_rules = clean_ratio_rules(data["ratio_rules"])

    if not new:
        _ensure_plan_rows_unused(session, plan, set(wanted_roles), set(item_ids),
                                 None if batches is None else {b["seq"] for b in batches})
    _sync_rows(plan.departments, lambda r: r.department_id, wanted_roles,
               update=lambda row, role: setattr(row, "role", role),
               create=lambda dept_id, role: PlanDepartment(department_id=dept_id, department=depts[dept_id],
                                                           role=role))
    _sync_rows(plan.items, lambda r: r.item_id, {item_id: items[item_id] for item_id in item_ids},
               update=lambda row, item: setattr(row, "department_id", item.department_id),
               create=lambda item_id, item: PlanItem(item_id=item.id, item=item, department_id=item.department_id))
    if batches is not None:
        _sync_rows(plan.batches, lambda r: r.seq, {b["seq"]: b for b in batches}, update=_set_batch,
                   create=lambda seq, b: PlanBatch(seq=seq, name=b["name"], months=b["months"],
                                                   planned_count=b["planned_count"]))
        plan.batches.sort(key=lambda r: r.seq)


def _set_batch(row: PlanBatch, b: dict) -> None:
    row.name, row.months, row.planned_count = b["name"], b["months"], b["planned_count"]


def _clean_batches(value: Any) -> list[dict]:
    if not isinstance(value, (list, tuple)):
        raise _invalid("plan.bad_batch", "批次应为列表", "batches")
    out, seen = [], set()
    for i, b in enumerate(value):
        field = f"batches.{i}"
        if not isinstance(b, Mapping):
            raise _invalid("plan.bad_batch", f"第 {i + 1} 个批次格式有误", field)
        seq = b.get("seq")
        if not _is_int(seq) or not 1 <= seq <= 1000:
            raise _invalid("plan.bad_batch", f"第 {i + 1} 个批次的序号应为 1 至 1000 的整数", field)
        if seq in seen:
            raise _invalid("plan.batch_seq_duplicate", f"批次序号 {seq} 重复", field)
        seen.add(seq)
        name = _text(b.get("name"), field, "plan.bad_batch", f"第 {seq} 批次的名称", max_len=100)
        months = b.get("months")
        if not isinstance(months, (list, tuple)) or not months:
            raise _invalid("plan.bad_batch", f"第 {seq} 批次至少要有一个月份", field)
        if any(not _is_int(m) or not 1 <= m <= 12 for m in months):
            raise _invalid("plan.bad_batch", f"第 {seq} 批次的月份应为 1 至 12", field)
        count = b.get("planned_count")
        if count is not None and (not _is_int(count) or not 0 <= count <= MAX_COUNT):  # noqa: F405
            raise _invalid("plan.bad_batch", f"第 {seq} 批次的计划抽查数不能小于 0", field)
        out.append({"seq": seq, "name": name, "months": sorted(set(months)), "planned_count": count})
    return sorted(out, key=lambda b: b["seq"])


def _ensure_plan_rows_unused(session: Session, plan: Plan, dept_ids: set[int], item_ids: set[int],
                             batch_seqs: set[int] | None) -> None:
    """A department, item or batch that a task of the plan uses cannot be taken out of it."""
    tasks = session.scalars(select(Task).where(Task.plan_id == plan.id)).all()
    if not tasks:
        return
    live = [t for t in tasks if t.status != "cancelled"]
    for task in live:
        for row in task.departments:
            if row.department_id not in dept_ids:
                raise Conflict(f"部门{_dept_label(row.department)}参与了任务 {task.code}，不能从计划中移除",
                               code="plan.department_in_use")
        for row in task.items:
            if row.item_id not in item_ids:
                raise Conflict(f"抽查事项「{row.item.name}」（{row.item.code}）已用于任务 {task.code}，不能从计划中移除",
                               code="plan.item_in_use")
    if batch_seqs is not None:
        used = {t.batch_id: t for t in tasks if t.batch_id is not None}  # cancelled tasks still point at it
        for row in plan.batches:
            if row.seq not in batch_seqs and row.id in used:
                raise Conflict(f"第 {row.seq} 批次（{row.name}）已用于任务 {used[row.id].code}，不能删除",
                               code="plan.batch_in_use")


def _ensure_not_retired(plan: Plan) -> None:
    if plan.retired_at is not None:
        raise Conflict("计划已停用", code="plan.retired")


def _transition(session: Session, actor: Actor, plan: Plan, action: str, to: str, **fields) -> Plan:
    before = plan_snapshot(plan)
    plan.status = to
    for key, value in fields.items():
        setattr(plan, key, value)
    audit.record(session, actor, action, "plan", plan.id, before=before, after=plan_snapshot(plan),
                 department_id=plan.lead_department_id)
    session.commit()
    return plan


def approve_plan(session: Session, actor: Actor, plan_id: Any) -> Plan:
    plan = get_plan(session, plan_id, lock=True)
    ensure_plan_approver(actor, plan)
    _ensure_not_retired(plan)
    if plan.status != "draft":
        raise Conflict(f"只有草稿状态的计划可以审批（当前：{PLAN_STATUSES.get(plan.status, plan.status)}）",
                       code="plan.bad_status")
    _ensure_complete(plan)
    return _transition(session, actor, plan, "plan.approve", "approved", approved_by=actor.user_id,
                       approved_at=utcnow())


def reopen_plan(session: Session, actor: Actor, plan_id: Any, reason: str | None = None) -> Plan:
    """Approved but not yet published: return it to draft so that it can be edited again."""
    plan = get_plan(session, plan_id, lock=True)
    ensure_plan_approver(actor, plan)
    _ensure_not_retired(plan)
    if plan.status != "approved":
        raise Conflict("只有已审批、尚未公布的计划可以退回草稿", code="plan.bad_status")
    reason = _text(reason, "reason", "plan.bad_reason", "退回理由", required=False)
    before = plan_snapshot(plan)
    plan.status, plan.approved_by, plan.approved_at = "draft", None, None
    audit.record(session, actor, "plan.reopen", "plan", plan.id, before=before, after=plan_snapshot(plan),
                 detail={"reason": reason} if reason else None, department_id=plan.lead_department_id)
    session.commit()
    return plan


def publish_plan(session: Session, actor: Actor, plan_id: Any) -> Plan:
    plan = get_plan(session, plan_id, lock=True)
    ensure_plan_approver(actor, plan)
    _ensure_not_retired(plan)
    if plan.status != "approved":
        raise Conflict(f"只有已审批的计划可以公布（当前：{PLAN_STATUSES.get(plan.status, plan.status)}）",
                       code="plan.bad_status")
    _ensure_complete(plan)
    return _transition(session, actor, plan, "plan.publish", "published", published_at=utcnow())


def _ensure_complete(plan: Plan) -> None:
    if not plan.items:
        raise Conflict("计划还没有抽查事项，不能审批或公布", code="plan.no_items")
    for row in plan.items:
        if row.item.retired_at is not None:
            raise Conflict(f"抽查事项「{row.item.name}」（{row.item.code}）已停用，请先从计划中移除",
                           code="plan.item_retired")
    _ensure_within_caps(plan)


MAX_NAMED = 5   # violations spelled out in the message; all of them are in details


def _ensure_within_caps(plan: Plan) -> None:
    """The plan's own ratios within the cap of every general item in it, each offending item named.

    Strata the plan leaves to the configured defaults are checked when a task takes them
    (``task.ratio_above_cap``): a task may set its own ratios.
    """
    found = cap_violations(plan.ratio_rules or {}, [row.item for row in plan.items])
    if not found:
        return
    parts = [f"一般检查事项「{v['name']}」（{v['item']}）的抽查比例上限为 {v['cap_percent']}%，"
             f"分层 {v['stratum']} 的比例 {v['num']}/{v['den']} 超过了上限" for v in found[:MAX_NAMED]]
    more = f"；另有 {len(found) - MAX_NAMED} 处" if len(found) > MAX_NAMED else ""
    errors: dict[str, list[str]] = {}
    for v in found:
        errors.setdefault(f"ratio_rules.{v['stratum']}", []).append(
            f"不能超过 {v['cap_percent']}%（事项「{v['name']}」（{v['item']}））")
    raise InvalidInput("计划的抽取比例超过了事项的抽查比例上限：" + "；".join(parts) + more
                       + "。请调低比例或调整事项后再审批、公布",
                       code="plan.ratio_above_cap", errors=errors, details={"violations": found})


def retire_plan(session: Session, actor: Actor, plan_id: Any, reason: str | None = None) -> Plan:
    """Drafts are retired, never deleted; approved and published plans stay."""
    plan = get_plan(session, plan_id, lock=True)
    ensure_plan_editor(actor, plan)
    _ensure_not_retired(plan)
    if plan.status != "draft":
        raise Conflict("只有草稿状态的计划可以停用", code="plan.bad_status")
    reason = _text(reason, "reason", "plan.bad_reason", "停用理由", required=False)
    before = plan_snapshot(plan)
    plan.retired_at, plan.retire_reason = utcnow(), reason
    after = plan_snapshot(plan) | {"retired": True}
    audit.record(session, actor, "plan.retire", "plan", plan.id, before=before, after=after,
                 detail={"reason": reason} if reason else None, department_id=plan.lead_department_id)
    session.commit()
    return plan
