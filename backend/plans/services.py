"""Annual plans (年度抽查计划) and tasks (抽查任务). No Flask here.

Plans: draft → approved → published. A published plan is public; a change after publishing
(调整) keeps the previous state as a ``PlanVersion`` with the reason, and bumps ``version``.

Tasks: draft → consulting (会审) → confirmed, or declined by a participating department;
editing after sending returns the task to draft; sending again resets every decision to
pending. Only confirmed tasks are drawn (``ensure_drawable``). ``committed`` and ``drawn``
belong to the draw service; after them, and after ``cancelled``, a task is read-only.

Every change is audited with snapshots before and after, under the lead department.
"""
from __future__ import annotations

import copy
import datetime as dt
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Iterable, Mapping

from sqlalchemy import exists, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.rules import ensure_department, ensure_role
from backend.auth.roles import Role
from backend.db import utcnow
from backend.directory import rules
from backend.directory.models import Department, Item
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.plans.models import (PLAN_STATUSES, TASK_DEPT_STATUSES, TASK_STATUSES, Plan, PlanBatch,
                                  PlanDepartment, PlanItem, PlanVersion, Task, TaskDepartment, TaskItem)

MAX_ID = 2**31 - 1
RISK_STRATA = ("A", "B", "C", "D", "U")       # "U": targets without a risk class
RATIO_KEYS = RISK_STRATA + ("all",)
MAX_RATIO_TERM = 1_000_000                     # num, den: small integers, exact in any JSON reader
MAX_COUNT = 1_000_000_000                      # min, cap: counts of targets
PLAN_KINDS = {"department": "部门计划", "joint": "联合计划"}
STRATA_MODES = {"risk": "按信用风险分类分层", "all": "不分层"}
DEPT_ROLES = {"lead": "牵头部门", "participant": "参与部门"}

READ_ALL = frozenset({Role.SYSADMIN, Role.SUPERVISOR})
EDITORS = frozenset({Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER})
APPROVERS = frozenset({Role.SYSADMIN, Role.DEPT_ADMIN})
READERS = EDITORS | {Role.SUPERVISOR}

TASK_EDITABLE = frozenset({"draft", "consulting", "declined", "confirmed"})
TASK_READ_ONLY_REASONS = {
    "committed": "任务已冻结抽取名单，不能再修改",
    "drawn": "任务已完成摇号抽取，不能再修改",
    "cancelled": "任务已撤销，不能再修改",
}


# --- small helpers ----------------------------------------------------------------------------

def _invalid(code: str, message: str, field: str | None = None, detail: Any = None) -> InvalidInput:
    errors = {field: detail if detail is not None else [message]} if field else None
    return InvalidInput(message, code=code, errors=errors)


def _text(value: Any, field: str, code: str, label: str, *, required: bool = True,
          max_len: int | None = None) -> str | None:
    if value is None:
        if required:
            raise _invalid(code, f"{label}不能为空", field)
        return None
    if not isinstance(value, str):
        raise _invalid(code, f"{label}应为文本", field)
    value = value.strip()
    if "\x00" in value:
        raise _invalid(code, f"{label}不能包含空字符", field)
    if not value:
        if required:
            raise _invalid(code, f"{label}不能为空", field)
        return None
    if max_len is not None and len(value) > max_len:
        raise _invalid(code, f"{label}长度不能超过 {max_len}", field)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ids(values: Iterable[Any], field: str, code: str) -> list[int]:
    """Unique ids in order; refuses anything that is not a plausible row id."""
    out: list[int] = []
    for value in values or []:
        if not _is_int(value) or not 1 <= value <= MAX_ID:
            raise _invalid(code, f"{field} 中的编号 {value!r} 无效", field)
        if value not in out:
            out.append(value)
    return out


def _valid_id(value: Any) -> bool:
    return _is_int(value) and 1 <= value <= MAX_ID


def _lock(session: Session, model, row_id: int) -> None:
    """Take the row lock (PostgreSQL) before reading a row that this transaction will change."""
    session.execute(select(model.id).where(model.id == row_id).with_for_update())


def _flush_unique(session: Session, code: str, message: str) -> None:
    """Flush; a unique violation (two requests took the same code) becomes a 409, not a 500."""
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(message, code=code) from exc


def _next_code(session: Session, column, prefix: str) -> str:
    existing = session.scalars(select(column).where(column.startswith(prefix, autoescape=True))).all()
    numbers = [int(c[len(prefix):]) for c in existing if c[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def _dept_label(dept: Department | None) -> str:
    return f"{dept.name}（{dept.code}）" if dept is not None else "?"


def _departments(session: Session, ids: list[int], field: str, code: str) -> dict[int, Department]:
    rows = {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(ids)))} if ids else {}
    for dept_id in ids:
        dept = rows.get(dept_id)
        if dept is None:
            raise _invalid(code, f"部门 {dept_id} 不存在", field)
        if dept.retired_at is not None:
            raise _invalid(code, f"部门{_dept_label(dept)}已停用", field)
    return rows


# --- ratios (shared by plans and tasks) -------------------------------------------------------

def clean_ratio(value: Any, *, field: str, code: str) -> dict:
    """One stratum's ratio in DRAW.md's shape: {num, den, min?, cap?}, integers only."""
    if not isinstance(value, Mapping):
        raise _invalid(code, "抽取比例应为对象 {num, den, min, cap}", field)
    unknown = set(value) - {"num", "den", "min", "cap"}
    if unknown:
        raise _invalid(code, f"抽取比例含不允许的字段：{'、'.join(sorted(map(str, unknown)))}", field)
    num, den, low, cap = value.get("num"), value.get("den"), value.get("min"), value.get("cap")
    if not _is_int(num) or not 0 <= num <= MAX_RATIO_TERM:
        raise _invalid(code, f"抽取比例的分子应为 0 到 {MAX_RATIO_TERM} 的整数", field)
    if not _is_int(den) or not 1 <= den <= MAX_RATIO_TERM:
        raise _invalid(code, f"抽取比例的分母应为 1 到 {MAX_RATIO_TERM} 的整数", field)
    if num > den:
        raise _invalid(code, f"抽取比例 {num}/{den} 不能大于 1", field)
    if low is not None and (not _is_int(low) or not 0 <= low <= MAX_COUNT):
        raise _invalid(code, "最少抽取数应为不小于 0 的整数", field)
    if cap is not None and (not _is_int(cap) or not 1 <= cap <= MAX_COUNT):
        raise _invalid(code, "最多抽取数应为不小于 1 的整数", field)
    if low is not None and cap is not None and low > cap:
        raise _invalid(code, f"最少抽取数 {low} 不能大于最多抽取数 {cap}", field)
    out = {"num": num, "den": den}
    if low is not None:
        out["min"] = low
    if cap is not None:
        out["cap"] = cap
    return out


def clean_ratio_rules(value: Any, *, field: str = "ratio_rules", code: str = "plan.bad_ratio",
                      keys: Iterable[str] = RATIO_KEYS) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid(code, "抽取比例应为按分层给出的对象", field)
    allowed = tuple(keys)
    out = {}
    for key in sorted(value, key=str):
        if key not in allowed:
            raise _invalid(code, f"分层 {key} 无效，应为 {'/'.join(allowed)} 之一", field)
        out[key] = clean_ratio(value[key], field=f"{field}.{key}", code=code)
    return out


def cap_units(cap_percent: Any) -> int:
    """An item's ratio cap in thousandths of a percent, exactly (Numeric(6, 3))."""
    try:
        value = Decimal(str(cap_percent)) if not isinstance(cap_percent, Decimal) else cap_percent
        return int((value * 1000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except (InvalidOperation, ValueError) as exc:  # pragma: no cover - the column holds numbers
        raise InvalidInput(f"事项的抽查比例上限 {cap_percent!r} 无效", code="task.bad_item_cap") from exc


def ratio_within_cap(num: int, den: int, cap_percent: Any) -> bool:
    """num/den ≤ cap% in integers: num·100·1000 ≤ cap·1000·den."""
    return num * 100 * 1000 <= cap_units(cap_percent) * den


def _percent_text(cap_percent: Any) -> str:
    text = format(Decimal(cap_units(cap_percent)) / 1000, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


# =============================================================================================
# Plans
# =============================================================================================

def plan_department_ids(plan: Plan) -> set[int]:
    return {row.department_id for row in plan.departments} | {plan.lead_department_id}


def _ensure_reader(actor: Actor, department_ids: set[int], what: str) -> None:
    """Sysadmins and supervisors read all; planners and dept admins what their department leads or joins."""
    ensure_role(actor, READERS)
    if actor.role in READ_ALL:
        return
    if actor.department_id is None or actor.department_id not in department_ids:
        raise Forbidden(f"只能查看本部门牵头或参与的{what}", code="forbidden.department")


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
        "code": plan.code, "year": plan.year, "name": plan.name, "kind": plan.kind,
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


def _code_of(dept: Department | None) -> str | None:
    return dept.code if dept is not None else None


def _get(session: Session, model, row_id: Any, lock: bool, message: str, code: str):
    """A row by id (row-locked when asked), or 404 with the given message."""
    if not _valid_id(row_id):
        raise NotFound(message, code=code)
    if lock:
        _lock(session, model, row_id)
    row = session.get(model, row_id, populate_existing=lock)
    if row is None:
        raise NotFound(message, code=code)
    return row


def get_plan(session: Session, plan_id: Any, *, lock: bool = False) -> Plan:
    return _get(session, Plan, plan_id, lock, "计划不存在", "plan.not_found")


def read_plan(session: Session, actor: Actor, plan_id: Any) -> Plan:
    plan = get_plan(session, plan_id)
    ensure_plan_reader(actor, plan)
    return plan


def plans_query(actor: Actor, args: Mapping):
    """Staff list: everything for sysadmins and supervisors, else plans the department leads or joins."""
    ensure_role(actor, READERS)
    stmt = select(Plan).options(selectinload(Plan.departments), selectinload(Plan.items),
                                selectinload(Plan.batches))
    requested = args.get("department_id")
    if actor.role in READ_ALL:
        department_id = requested
    else:
        if requested is not None and requested != actor.department_id:
            raise Forbidden("只能查看本部门牵头或参与的计划", code="forbidden.department")
        department_id = actor.department_id
        if department_id is None:
            raise Forbidden("账号未归属部门，不能查看计划", code="forbidden.department")
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
    _flush_unique(session, "plan.code_taken", "计划编号已被占用，请重试")
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
    after = plan_snapshot(plan)
    if after == before:
        session.rollback()  # nothing changed: no version, no audit entry
        return get_plan(session, plan.id)
    if published:
        session.add(PlanVersion(plan_id=plan.id, version=plan.version, snapshot=before, reason=reason,
                                changed_by=actor.user_id, changed_at=utcnow()))
        plan.version += 1
        after["version"] = plan.version
    _flush_unique(session, "plan.code_taken", "计划编号已被占用")
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
    # sync rows by their natural keys (never delete and re-insert one key in a flush)
    for row in list(plan.departments):
        if row.department_id not in wanted_roles:
            plan.departments.remove(row)
        else:
            row.role = wanted_roles[row.department_id]
    have = {r.department_id for r in plan.departments}
    for dept_id, role in wanted_roles.items():
        if dept_id not in have:
            plan.departments.append(PlanDepartment(department_id=dept_id, department=depts[dept_id], role=role))
    for row in list(plan.items):
        if row.item_id not in items:
            plan.items.remove(row)
        else:
            row.department_id = items[row.item_id].department_id
    have = {r.item_id for r in plan.items}
    for item_id in item_ids:
        if item_id not in have:
            item = items[item_id]
            plan.items.append(PlanItem(item_id=item.id, item=item, department_id=item.department_id))
    if batches is not None:
        by_seq = {b["seq"]: b for b in batches}
        for row in list(plan.batches):
            if row.seq not in by_seq:
                plan.batches.remove(row)
        have = {r.seq: r for r in plan.batches}
        for seq, b in by_seq.items():
            row = have.get(seq)
            if row is None:
                plan.batches.append(PlanBatch(seq=seq, name=b["name"], months=b["months"],
                                              planned_count=b["planned_count"]))
            else:
                row.name, row.months, row.planned_count = b["name"], b["months"], b["planned_count"]
        plan.batches.sort(key=lambda r: r.seq)


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
        if count is not None and (not _is_int(count) or not 0 <= count <= MAX_COUNT):
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


# =============================================================================================
# Tasks
# =============================================================================================

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
    ensure_role(actor, READERS)
    stmt = select(Task).options(selectinload(Task.departments), selectinload(Task.items))
    requested = args.get("department_id")
    if actor.role in READ_ALL:
        department_id = requested
    else:
        if requested is not None and requested != actor.department_id:
            raise Forbidden("只能查看本部门牵头或参与的任务", code="forbidden.department")
        department_id = actor.department_id
        if department_id is None:
            raise Forbidden("账号未归属部门，不能查看任务", code="forbidden.department")
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
    _flush_unique(session, "task.code_taken", "任务编号已被占用，请重试")
    audit.record(session, actor, "task.create", "task", task.id, after=task_snapshot(task),
                 department_id=task.lead_department_id)
    session.commit()
    return task


def _ensure_task_editable(task: Task) -> None:
    if task.status in TASK_READ_ONLY_REASONS:
        raise Conflict(TASK_READ_ONLY_REASONS[task.status], code="task.read_only")
    if task.status not in TASK_EDITABLE:  # pragma: no cover - unknown status written elsewhere
        raise Conflict(f"任务当前状态（{task.status}）不允许修改", code="task.read_only")


def update_task(session: Session, actor: Actor, task_id: Any, data: Mapping, default_ratios: Mapping) -> Task:
    """Edit a task; after it was sent, an edit returns it to draft (the 会审 starts again on send)."""
    task = get_task(session, task_id, lock=True)
    ensure_task_editor(actor, task)
    _ensure_task_editable(task)
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

    # sync rows by their natural keys
    for row in list(task.departments):
        if row.department_id not in wanted:
            task.departments.remove(row)
        else:
            row.members_per_group = wanted[row.department_id]
    have = {r.department_id for r in task.departments}
    for dept_id, m in wanted.items():
        if dept_id not in have:
            lead = dept_id == plan.lead_department_id
            task.departments.append(TaskDepartment(
                department_id=dept_id, department=plan_depts[dept_id], role="lead" if lead else "participant",
                members_per_group=m, status="confirmed" if lead else "pending"))
    for row in list(task.items):
        if row.item_id not in item_ids:
            task.items.remove(row)
        else:
            row.department_id = plan_items[row.item_id].department_id
    have = {r.item_id for r in task.items}
    for item_id in item_ids:
        if item_id not in have:
            row = plan_items[item_id]
            task.items.append(TaskItem(item_id=item_id, item=row.item, department_id=row.department_id))


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


def check_cap(strata: Mapping, items: Iterable[Item]) -> None:
    """General items' ratio cap: every stratum's num/den ≤ the smallest cap; key items have none."""
    capped = [i for i in items if i.kind == "general" and i.ratio_cap_percent is not None]
    if not capped:
        return
    tightest = min(capped, key=lambda i: (cap_units(i.ratio_cap_percent), i.code))
    for key in sorted(strata):
        ratio = strata[key]
        if not ratio_within_cap(ratio["num"], ratio["den"], tightest.ratio_cap_percent):
            cap = _percent_text(tightest.ratio_cap_percent)
            raise InvalidInput(
                f"一般检查事项「{tightest.name}」（{tightest.code}）的抽查比例上限为 {cap}%，"
                f"分层 {key} 的比例 {ratio['num']}/{ratio['den']} 超过了上限",
                code="task.ratio_above_cap", errors={f"strata.{key}": [f"不能超过 {cap}%"]},
                details={"item": tightest.code, "cap_percent": cap, "stratum": key})


def send_task(session: Session, actor: Actor, task_id: Any) -> Task:
    """To the participating departments for 会审: all pending; with none, confirmed at once."""
    task = get_task(session, task_id, lock=True)
    ensure_task_editor(actor, task)
    _ensure_task_editable(task)
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
        raise Conflict("任务已冻结名单或已抽取，不能撤销", code="task.read_only")
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

