"""Experts (专家库). No Flask here.

The system admin and the supervisor read all of them, a department admin and a planner only their own
department's; written by the system admin or the admin of the expert's department. Their declared
conflicts of interest are in ``conflicts.py``.
"""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.db import flush_unique
from backend.directory import rules
from backend.directory.common import (check_enum, department_move, ensure_department_reader, ensure_department_writer,
                                      ensure_not_retired, get_row, holder, invalid, like, read_scope, record_update,
                                      retire_or_restore, retired_suffix, stored_tags, when, writable_department)
from backend.directory.models import Expert
from backend.errors import Conflict


def expert_snapshot(expert: Expert) -> dict:
    return {"id": expert.id, "code": expert.code, "name": expert.name, "organization": expert.organization,
            "title": expert.title, "fields": expert.fields, "phone": expert.phone,
            "department_id": expert.department_id, "status": expert.status,
            "retired_at": when(expert.retired_at)}


EXPERT_KEYS = ("code", "name", "organization", "title", "phone", "department_id", "status")


def load_expert(session: Session, expert_id: int) -> Expert:
    return get_row(session, Expert, expert_id, "专家", "expert.not_found")


def get_expert(session: Session, actor: Actor, expert_id: int) -> Expert:
    expert = load_expert(session, expert_id)
    ensure_department_reader(actor, expert.department_id, "专家")
    return expert


def experts_query(actor: Actor, filters: dict):
    department_id = read_scope(actor, filters.get("department_id"), "专家")
    stmt = select(Expert)
    if department_id is not None:
        stmt = stmt.where(Expert.department_id == department_id)
    if not filters.get("include_retired"):
        stmt = stmt.where(Expert.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(or_(like(Expert.code, q), like(Expert.name, q), like(Expert.organization, q),
                              like(Expert.title, q)))
    if filters.get("status"):
        stmt = stmt.where(Expert.status.in_(filters["status"]))
    if filters.get("field"):
        stmt = stmt.where(Expert.fields_text.contains(f",{filters['field']},", autoescape=True))
    return stmt.order_by(Expert.code, Expert.id)


def _check_expert_code(session: Session, code: str, exclude_id: int | None) -> None:
    if not rules.DIRECTORY_CODE_RE.match(code):
        raise invalid("expert.bad_code", "code", "专家编号由字母、数字、点、下划线和连字符组成，不超过 32 位")
    existing = holder(session, Expert, Expert.code == code, exclude_id=exclude_id)
    if existing is not None:
        raise Conflict(f"专家编号 {code} 已登记为“{existing.name}”{retired_suffix(existing)}",
                       code="expert.duplicate_code", details={"existing_id": existing.id,
                                                              "existing_name": existing.name})


def create_expert(session: Session, actor: Actor, data: dict) -> Expert:
    dept = writable_department(session, actor, data.get("department_id"), "expert", "专家")
    values = {key: data.get(key) for key in EXPERT_KEYS}
    values.update(department_id=dept.id, code=data["code"].strip().upper(), status=data.get("status") or "active")
    check_enum(values["status"], rules.EXPERT_STATUSES, "status", "状态", "expert")
    _check_expert_code(session, values["code"], None)
    expert = Expert(**values, fields_text=stored_tags(data.get("fields"), "fields", "expert"))
    session.add(expert)
    flush_unique(session, f"专家编号 {values['code']} 已登记", "expert.duplicate_code")
    audit.record(session, actor, "expert.create", "expert", expert.id, after=expert_snapshot(expert),
                 department_id=expert.department_id)
    session.commit()
    return expert


def update_expert(session: Session, actor: Actor, expert_id: int, data: dict) -> Expert:
    expert = load_expert(session, expert_id)
    ensure_department_writer(actor, expert.department_id, "专家")
    ensure_not_retired(expert, "专家", "expert.retired")
    data = department_move(session, actor, expert, data, "expert", "专家")
    before = expert_snapshot(expert)
    values = {key: data[key] if key in data else getattr(expert, key) for key in EXPERT_KEYS}
    values["code"] = (values["code"] or "").strip().upper()
    check_enum(values["status"], rules.EXPERT_STATUSES, "status", "状态", "expert")
    if values["code"] != expert.code:
        _check_expert_code(session, values["code"], expert.id)
    for key in EXPERT_KEYS:
        setattr(expert, key, values[key])
    if "fields" in data:
        expert.fields_text = stored_tags(data["fields"], "fields", "expert")
    flush_unique(session, "专家编号已被登记", "expert.duplicate_code")
    if "department_id" in data:
        session.expire(expert, ["department"])
    record_update(session, actor, "expert", expert.id, before, expert_snapshot(expert),
                  department_id=expert.department_id)
    return expert


def set_expert_retired(session: Session, actor: Actor, expert_id: int, retired: bool,
                       reason: str | None = None) -> Expert:
    expert = load_expert(session, expert_id)
    ensure_department_writer(actor, expert.department_id, "专家")
    return retire_or_restore(session, actor, expert, retired, reason, entity="expert", entity_id=expert.id,
                             snapshot=expert_snapshot, department_id=expert.department_id)
