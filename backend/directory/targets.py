"""Targets (检查对象名录库): read by every staff role; written by the system admin or the admin of the
department that maintains the target. Also a target's inspection history and declared conflicts. No Flask here.
"""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session, joinedload

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.rules import ensure_role
from backend.auth.roles import Role
from backend.db import flush_unique
from backend.directory import rules
from backend.directory.common import (ALL_DEPARTMENTS, active_department, active_region, check_enum, ensure_not_retired,
                                      get_row, invalid, record_update, region_filter, retire_or_restore, retired_suffix,
                                      stored_tags, text_search, when)
from backend.directory.models import Inspector, InspectorConflict, Item, Target, TargetItemHistory
from backend.errors import Conflict, Forbidden


# --- snapshots (what the audit log digests) -------------------------------------------------------

def target_snapshot(target: Target) -> dict:
    return {"id": target.id, "code": target.code, "uscc": target.uscc, "reg_no": target.reg_no,
            "name": target.name, "type": target.type, "address": target.address,
            "region_code": target.region_code, "industry_code": target.industry_code,
            "risk_class": target.risk_class, "tags": target.tags, "latitude": target.latitude,
            "longitude": target.longitude, "datum": target.datum, "status": target.status,
            "legal_rep": target.legal_rep, "phone": target.phone, "department_id": target.department_id,
            "retired_at": when(target.retired_at)}


# --- targets --------------------------------------------------------------------------------------

TARGET_KEYS = ("uscc", "reg_no", "code", "name", "type", "address", "region_code", "industry_code", "risk_class",
               "latitude", "longitude", "datum", "status", "legal_rep", "phone", "department_id")
STAFF_READERS = (Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.SUPERVISOR)


def get_target(session: Session, actor: Actor, target_id: int) -> Target:
    ensure_role(actor, STAFF_READERS)
    return get_row(session, Target, target_id, "检查对象", "target.not_found")


def targets_query(actor: Actor, filters: dict):
    ensure_role(actor, STAFF_READERS)
    stmt = select(Target)
    if not filters.get("include_retired"):
        stmt = stmt.where(Target.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(text_search(q, (Target.code, Target.uscc, Target.reg_no),
                                      (Target.name, Target.address, Target.legal_rep)))
        stmt = stmt.execution_options(few_matches_first=True)
    if filters.get("department_id") is not None:
        stmt = stmt.where(Target.department_id == filters["department_id"])
    if filters.get("region"):
        stmt = stmt.where(region_filter(Target.region_code, filters["region"]))
    for key, column in (("type", Target.type), ("risk_class", Target.risk_class), ("status", Target.status)):
        if filters.get(key):
            stmt = stmt.where(column.in_(filters[key]))
    if filters.get("unclassified"):
        stmt = stmt.where(Target.risk_class.is_(None))
    if filters.get("tag"):
        stmt = stmt.where(Target.tags_text.contains(f",{filters['tag']},", autoescape=True))
    if filters.get("industry"):
        stmt = stmt.where(Target.industry_code.startswith(filters["industry"].upper(), autoescape=True))
    if filters.get("has_location") is not None:
        stmt = stmt.where(Target.latitude.is_not(None) if filters["has_location"] else Target.latitude.is_(None))
    return stmt.order_by(Target.code, Target.id)


def _normalize_target(values: dict, given: dict) -> None:
    """Check the target as it will be and derive its ``code``; ``given`` holds the fields sent."""
    check_enum(values["type"], rules.TARGET_TYPES, "type", "对象类型", "target")
    check_enum(values["status"], rules.TARGET_STATUSES, "status", "状态", "target")
    check_enum(values["risk_class"], rules.RISK_CLASSES, "risk_class", "信用风险分类", "target")
    check_enum(values["datum"], dict.fromkeys(rules.DATUMS), "datum", "坐标系", "target")
    for key in ("uscc", "reg_no", "code", "industry_code"):
        if values.get(key) is not None:
            values[key] = values[key].strip().upper() or None
    if values["uscc"] is not None:
        problem = rules.uscc_problem(values["uscc"])
        if problem:
            raise invalid("target.bad_uscc", "uscc", problem)
    if values["reg_no"] is not None:
        problem = rules.reg_no_problem(values["reg_no"])
        if problem:
            raise invalid("target.bad_reg_no", "reg_no", problem)
    if values["type"] in rules.REGISTERED_TYPES:
        derived = values["uscc"] or values["reg_no"]
        if derived is None:
            raise invalid("target.identifier_required", "uscc",
                          "企业、个体工商户、农民专业合作社和分支机构须填写统一社会信用代码，无统一社会信用代码的填写 15 位注册号")
        if given.get("code") is not None and given["code"].strip().upper() != derived:
            raise invalid("target.code_mismatch", "code",
                          "登记主体的代码即其统一社会信用代码（没有的取注册号），不能另填")
        values["code"] = derived
    else:
        if values["uscc"] is not None or values["reg_no"] is not None:
            field = "uscc" if values["uscc"] is not None else "reg_no"
            raise invalid("target.identifier_not_allowed", field,
                          "产品、项目、活动类检查对象使用名录代码，不填统一社会信用代码或注册号")
        if not values.get("code"):
            raise invalid("target.code_required", "code", "产品、项目、活动类检查对象须填写名录代码")
        if not rules.DIRECTORY_CODE_RE.match(values["code"]):
            raise invalid("target.bad_code", "code", "名录代码由字母、数字、点、下划线和连字符组成，不超过 32 位")
    if values["industry_code"] is not None and not rules.INDUSTRY_RE.match(values["industry_code"]):
        raise invalid("target.bad_industry_code", "industry_code", "行业代码应为国民经济行业分类代码，如 C1311、F52")
    lat, lon = values["latitude"], values["longitude"]
    if (lat is None) != (lon is None):
        field = "longitude" if lon is None else "latitude"
        raise invalid("target.bad_location", field, "经度和纬度须同时填写或同时不填")
    if lat is None:
        values["datum"] = None
    else:
        if not (3 <= lat <= 54):
            raise invalid("target.bad_location", "latitude", "纬度应在 3 与 54 之间（中国境内）")
        if not (73 <= lon <= 136):
            raise invalid("target.bad_location", "longitude", "经度应在 73 与 136 之间（中国境内）")
        if values["datum"] is None:
            raise invalid("target.datum_required", "datum", "填写经纬度时须注明坐标系（WGS-84 或 GCJ-02）")


def _check_target_unique(session: Session, values: dict, exclude_id: int | None) -> None:
    keys = {v for v in (values["code"], values["uscc"], values["reg_no"]) if v}
    stmt = select(Target).where(or_(Target.code.in_(keys), Target.uscc.in_(keys), Target.reg_no.in_(keys)))
    if exclude_id is not None:
        stmt = stmt.where(Target.id != exclude_id)
    existing = session.scalars(stmt.order_by(Target.id).limit(1)).first()
    if existing is not None:
        clash = next(k for k in (values["code"], values["uscc"], values["reg_no"])
                     if k and k in (existing.code, existing.uscc, existing.reg_no))
        raise Conflict(f"代码 {clash} 已登记为检查对象“{existing.name}”{retired_suffix(existing)}",
                       code="target.duplicate_code",
                       details={"existing_id": existing.id, "existing_name": existing.name,
                                "existing_code": existing.code})


def _ensure_target_writer(actor: Actor, department_id: int | None) -> None:
    ensure_role(actor, (Role.SYSADMIN, Role.DEPT_ADMIN))
    if actor.role == Role.SYSADMIN:
        return
    if department_id is None or department_id != actor.department_id:
        raise Forbidden("只能维护本部门负责维护的检查对象", code="forbidden.department")


def create_target(session: Session, actor: Actor, data: dict) -> Target:
    ensure_role(actor, (Role.SYSADMIN, Role.DEPT_ADMIN))
    department_id = data.get("department_id")
    if actor.role != Role.SYSADMIN:  # a department admin's targets are maintained by their department
        department_id = department_id or actor.department_id
        _ensure_target_writer(actor, department_id)
    if department_id is not None:
        active_department(session, department_id, "target")
    values = {key: data.get(key) for key in TARGET_KEYS}
    values.update(department_id=department_id, status=data.get("status") or "active")
    _normalize_target(values, data)
    active_region(session, values["region_code"], "target")
    _check_target_unique(session, values, None)
    target = Target(**values, tags_text=stored_tags(data.get("tags"), "tags", "target"))
    session.add(target)
    flush_unique(session, f"代码 {values['code']} 已登记", "target.duplicate_code")
    audit.record(session, actor, "target.create", "target", target.id, after=target_snapshot(target),
                 department_id=target.department_id)
    session.commit()
    return target


def update_target(session: Session, actor: Actor, target_id: int, data: dict) -> Target:
    target = get_target(session, actor, target_id)
    _ensure_target_writer(actor, target.department_id)
    ensure_not_retired(target, "检查对象", "target.retired")
    if "department_id" in data and data["department_id"] != target.department_id:
        if actor.role != Role.SYSADMIN:
            raise Forbidden("只有系统管理员可以变更检查对象的维护部门", code="forbidden.department")
        if data["department_id"] is not None:
            active_department(session, data["department_id"], "target")
    before = target_snapshot(target)
    values = {key: data[key] if key in data else getattr(target, key) for key in TARGET_KEYS}
    if data.get("type") is not None and values["type"] not in rules.REGISTERED_TYPES and "code" not in data \
            and target.type in rules.REGISTERED_TYPES:
        values["code"] = None  # a business code is not a directory code
    _normalize_target(values, data)
    if "region_code" in data and data["region_code"] != target.region_code:
        active_region(session, values["region_code"], "target")
    _check_target_unique(session, values, target.id)
    for key in TARGET_KEYS:
        setattr(target, key, values[key])
    if "tags" in data:
        target.tags_text = stored_tags(data["tags"], "tags", "target")
    flush_unique(session, "代码已被其他检查对象使用", "target.duplicate_code")
    record_update(session, actor, "target", target.id, before, target_snapshot(target),
                  department_id=target.department_id)
    return target


def set_target_retired(session: Session, actor: Actor, target_id: int, retired: bool,
                       reason: str | None = None) -> Target:
    target = get_target(session, actor, target_id)
    _ensure_target_writer(actor, target.department_id)
    return retire_or_restore(session, actor, target, retired, reason, entity="target", entity_id=target.id,
                             snapshot=target_snapshot, department_id=target.department_id)


def target_history(session: Session, actor: Actor, target_id: int) -> list[dict]:
    """The last inspection of the target for each item, newest first."""
    target = get_target(session, actor, target_id)
    rows = session.execute(
        select(TargetItemHistory, Item).join(Item, Item.id == TargetItemHistory.item_id)
        .where(TargetItemHistory.target_id == target.id)
        .order_by(TargetItemHistory.last_inspected_on.desc(), Item.code)).all()
    return [{"item_id": item.id, "item_code": item.code, "item_name": item.name, "item_category": item.category,
             "item_kind": item.kind, "department_id": item.department_id,
             "department_name": item.department.name if item.department else None,
             "last_inspected_on": history.last_inspected_on, "source": history.source}
            for history, item in rows]


def target_conflicts(session: Session, actor: Actor, target_id: int, include_retired: bool = False
                     ) -> list[InspectorConflict]:
    """Inspectors who declared an interest in the target (own department's only, below supervisor level)."""
    target = get_target(session, actor, target_id)
    stmt = (select(InspectorConflict).join(Inspector, Inspector.id == InspectorConflict.inspector_id)
            .options(joinedload(InspectorConflict.inspector))
            .where(InspectorConflict.target_id == target.id))
    if actor.role not in ALL_DEPARTMENTS:
        stmt = stmt.where(Inspector.department_id == actor.department_id)
    if not include_retired:
        stmt = stmt.where(InspectorConflict.retired_at.is_(None))
    return list(session.scalars(stmt.order_by(InspectorConflict.id)).unique())

