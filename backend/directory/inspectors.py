"""Inspectors (执法检查人员名录库). No Flask here.

The system admin and the supervisor read all of them, a department admin and a planner only their own
department's; written by the system admin or the admin of the inspector's department. Their declared
conflicts of interest are in ``conflicts.py``.
"""
from __future__ import annotations

import re

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.db import flush_unique
from backend.directory import rules
from backend.directory.common import (active_region, check_enum, department_move, ensure_department_reader,
                                      ensure_department_writer, ensure_not_retired, get_row, holder, invalid,
                                      json_list_contains, like, read_scope, record_update, region_filter,
                                      retire_or_restore, retired_suffix, stored_tags, when, writable_department)
from backend.directory.models import Inspector
from backend.errors import Conflict, NotFound


def inspector_snapshot(inspector: Inspector) -> dict:
    return {"id": inspector.id, "department_id": inspector.department_id, "cert_no": inspector.cert_no,
            "name": inspector.name, "phone": inspector.phone, "region_code": inspector.region_code,
            "position": inspector.position, "qualifications": list(inspector.qualifications or []),
            "expertise": inspector.expertise, "status": inspector.status,
            "retired_at": when(inspector.retired_at)}


INSPECTOR_KEYS = ("department_id", "cert_no", "name", "phone", "region_code", "position", "qualifications",
                  "status")


def normalize_cert_no(cert_no: str) -> str:
    return re.sub(r"\s+", "", cert_no).upper()


def load_inspector(session: Session, inspector_id: int) -> Inspector:
    return get_row(session, Inspector, inspector_id, "执法检查人员", "inspector.not_found")


def get_inspector(session: Session, actor: Actor, inspector_id: int) -> Inspector:
    inspector = load_inspector(session, inspector_id)
    ensure_department_reader(actor, inspector.department_id, "执法检查人员")
    return inspector


def my_inspector(session: Session, actor: Actor) -> Inspector:
    """The roster entry of the logged-in inspector."""
    if actor.inspector_id is None:
        raise NotFound("当前账号未关联执法检查人员名录", code="inspector.not_linked")
    return load_inspector(session, actor.inspector_id)


def inspectors_query(actor: Actor, filters: dict):
    department_id = read_scope(actor, filters.get("department_id"), "执法检查人员")
    stmt = select(Inspector)
    if department_id is not None:
        stmt = stmt.where(Inspector.department_id == department_id)
    if not filters.get("include_retired"):
        stmt = stmt.where(Inspector.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(or_(like(Inspector.name, q), like(Inspector.cert_no, q), like(Inspector.phone, q),
                              like(Inspector.position, q)))
        stmt = stmt.execution_options(few_matches_first=True)
    if filters.get("status"):
        stmt = stmt.where(Inspector.status.in_(filters["status"]))
    if filters.get("expertise"):
        stmt = stmt.where(Inspector.expertise_text.contains(f",{filters['expertise']},", autoescape=True))
    if filters.get("qualification"):
        stmt = stmt.where(json_list_contains(Inspector.qualifications, filters["qualification"], whole=False))
    if filters.get("region"):
        stmt = stmt.where(region_filter(Inspector.region_code, filters["region"]))
    return stmt.order_by(Inspector.department_id, Inspector.cert_no, Inspector.id)


def _check_cert_no(session: Session, cert_no: str, exclude_id: int | None) -> None:
    existing = holder(session, Inspector, Inspector.cert_no == cert_no, exclude_id=exclude_id)
    if existing is not None:
        raise Conflict(f"执法证号 {cert_no} 已登记为“{existing.name}”（{existing.department.name}）"
                       f"{retired_suffix(existing)}，同一人不能重复录入",
                       code="inspector.duplicate_cert_no",
                       details={"existing_id": existing.id, "existing_name": existing.name,
                                "existing_department_id": existing.department_id})


def _check_inspector_values(values: dict) -> None:
    check_enum(values["status"], rules.INSPECTOR_STATUSES, "status", "状态", "inspector")
    if not values["cert_no"]:
        raise invalid("inspector.cert_no_required", "cert_no", "必填项")


def create_inspector(session: Session, actor: Actor, data: dict) -> Inspector:
    dept = writable_department(session, actor, data.get("department_id"), "inspector", "执法检查人员")
    values = {key: data.get(key) for key in INSPECTOR_KEYS}
    values.update(department_id=dept.id, cert_no=normalize_cert_no(data["cert_no"]),
                  qualifications=list(data.get("qualifications") or []), status=data.get("status") or "active")
    _check_inspector_values(values)
    active_region(session, values["region_code"], "inspector")
    _check_cert_no(session, values["cert_no"], None)
    inspector = Inspector(**values, expertise_text=stored_tags(data.get("expertise"), "expertise", "inspector"))
    session.add(inspector)
    flush_unique(session, f"执法证号 {values['cert_no']} 已登记", "inspector.duplicate_cert_no")
    audit.record(session, actor, "inspector.create", "inspector", inspector.id, after=inspector_snapshot(inspector),
                 department_id=inspector.department_id)
    session.commit()
    return inspector


def update_inspector(session: Session, actor: Actor, inspector_id: int, data: dict) -> Inspector:
    inspector = load_inspector(session, inspector_id)
    ensure_department_writer(actor, inspector.department_id, "执法检查人员")
    ensure_not_retired(inspector, "执法检查人员", "inspector.retired")
    data = department_move(session, actor, inspector, data, "inspector", "执法检查人员")
    before = inspector_snapshot(inspector)
    values = {key: data[key] if key in data else getattr(inspector, key) for key in INSPECTOR_KEYS}
    values["cert_no"] = normalize_cert_no(values["cert_no"] or "")
    values["qualifications"] = list(values["qualifications"] or [])
    _check_inspector_values(values)
    if "region_code" in data and data["region_code"] != inspector.region_code:
        active_region(session, values["region_code"], "inspector")
    if values["cert_no"] != inspector.cert_no:
        _check_cert_no(session, values["cert_no"], inspector.id)
    for key in INSPECTOR_KEYS:
        setattr(inspector, key, values[key])
    if "expertise" in data:
        inspector.expertise_text = stored_tags(data["expertise"], "expertise", "inspector")
    flush_unique(session, "执法证号已被登记", "inspector.duplicate_cert_no")
    if "department_id" in data:
        session.expire(inspector, ["department"])
    record_update(session, actor, "inspector", inspector.id, before, inspector_snapshot(inspector),
                  department_id=inspector.department_id)
    return inspector


def set_inspector_retired(session: Session, actor: Actor, inspector_id: int, retired: bool,
                          reason: str | None = None) -> Inspector:
    inspector = load_inspector(session, inspector_id)
    ensure_department_writer(actor, inspector.department_id, "执法检查人员")
    return retire_or_restore(session, actor, inspector, retired, reason, entity="inspector", entity_id=inspector.id,
                             snapshot=inspector_snapshot, department_id=inspector.department_id)
