"""Departments (部门): written by the system admin only, read by everyone. No Flask here."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.rules import ensure_role
from backend.auth.roles import Role
from backend.db import flush_unique
from backend.directory import rules
from backend.directory.common import (active_region, apply_keys, ensure_not_retired, get_row, holder, invalid, like,
                                      record_update, region_filter, retire_or_restore, retired_suffix, when)
from backend.directory.models import Department
from backend.errors import Conflict


def department_snapshot(dept: Department) -> dict:
    return {"id": dept.id, "code": dept.code, "name": dept.name, "short_name": dept.short_name,
            "region_code": dept.region_code, "retired_at": when(dept.retired_at)}


def get_department(session: Session, department_id: int) -> Department:
    return get_row(session, Department, department_id, "部门", "department.not_found")


def departments_query(filters: dict):
    stmt = select(Department)
    if not filters.get("include_retired"):
        stmt = stmt.where(Department.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(or_(like(Department.code, q), like(Department.name, q), like(Department.short_name, q)))
    if filters.get("region"):
        stmt = stmt.where(region_filter(Department.region_code, filters["region"]))
    return stmt.order_by(Department.code, Department.id)


def _check_department_unique(session: Session, code: str | None, name: str | None, exclude_id: int | None) -> None:
    for column, value, label, err in ((Department.code, code, "部门代码", "department.duplicate_code"),
                                      (Department.name, name, "部门名称", "department.duplicate_name")):
        if value is None:
            continue
        existing = holder(session, Department, column == value, exclude_id=exclude_id)
        if existing is not None:
            raise Conflict(f"{label}“{value}”已被“{existing.name}”（{existing.code}）使用{retired_suffix(existing)}",
                           code=err, details={"existing_id": existing.id})


def create_department(session: Session, actor: Actor, data: dict) -> Department:
    ensure_role(actor, (Role.SYSADMIN,))
    code = data["code"].upper()
    if not rules.DEPT_CODE_RE.match(code):
        raise invalid("department.bad_code", "code", "部门代码应以大写字母开头，由大写字母、数字和下划线组成，2–16 位")
    _check_department_unique(session, code, data["name"], None)
    active_region(session, data.get("region_code"), "department")
    dept = Department(code=code, name=data["name"], short_name=data.get("short_name"),
                      region_code=data.get("region_code"))
    session.add(dept)
    flush_unique(session, "部门代码或名称已存在", "department.duplicate_code")
    audit.record(session, actor, "department.create", "department", dept.id, after=department_snapshot(dept),
                 department_id=dept.id)
    session.commit()
    return dept


def update_department(session: Session, actor: Actor, department_id: int, data: dict) -> Department:
    ensure_role(actor, (Role.SYSADMIN,))
    dept = get_department(session, department_id)
    ensure_not_retired(dept, "部门", "department.retired")
    before = department_snapshot(dept)
    _check_department_unique(session, None, data.get("name"), dept.id)
    if data.get("region_code") is not None:
        active_region(session, data["region_code"], "department")
    apply_keys(dept, data, ("name", "short_name", "region_code"))
    flush_unique(session, "部门名称已存在", "department.duplicate_name")
    record_update(session, actor, "department", dept.id, before, department_snapshot(dept), department_id=dept.id)
    return dept


def set_department_retired(session: Session, actor: Actor, department_id: int, retired: bool,
                           reason: str | None = None) -> Department:
    ensure_role(actor, (Role.SYSADMIN,))
    dept = get_department(session, department_id)
    return retire_or_restore(session, actor, dept, retired, reason, entity="department", entity_id=dept.id,
                             snapshot=department_snapshot, department_id=dept.id)
