"""Regions (行政区划): written by the system admin only, read by everyone. No Flask here."""
from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.rules import ensure_role
from backend.auth.roles import Role
from backend.db import flush_unique
from backend.directory import rules
from backend.directory.common import (active_region, apply_keys, check_enum, ensure_not_retired, get_row, invalid, like,
                                      record_update, region_filter, retire_or_restore, retired_suffix, when)
from backend.directory.models import Region
from backend.errors import Conflict, NotFound


def region_snapshot(region: Region) -> dict:
    return {"code": region.code, "name": region.name, "level": region.level, "parent_code": region.parent_code,
            "retired_at": when(region.retired_at)}


def get_region(session: Session, code: str) -> Region:
    if not isinstance(code, str) or not rules.REGION_CODE_RE.match(code):
        raise NotFound("行政区划不存在", code="region.not_found")
    return get_row(session, Region, code, "行政区划", "region.not_found")


def regions_query(filters: dict):
    stmt = select(Region)
    if not filters.get("include_retired"):
        stmt = stmt.where(Region.retired_at.is_(None))
    if filters.get("q"):
        stmt = stmt.where(or_(Region.code.startswith(filters["q"], autoescape=True), like(Region.name, filters["q"])))
    if filters.get("parent_code"):
        stmt = stmt.where(Region.parent_code == filters["parent_code"])
    if filters.get("prefix"):
        stmt = stmt.where(region_filter(Region.code, filters["prefix"]))
    if filters.get("level"):
        stmt = stmt.where(Region.level == filters["level"])
    return stmt.order_by(Region.code)


def _check_region_parent(session: Session, code: str, parent_code: str | None) -> None:
    if parent_code is None:
        return
    parent = active_region(session, parent_code, "region", "parent_code")
    if parent.code == code or len(parent.code) > len(code) or not code.startswith(rules.region_prefix(parent.code)):
        raise invalid("region.bad_parent", "parent_code", f"“{parent.name}”（{parent.code}）不是 {code} 的上级区划")


def create_region(session: Session, actor: Actor, data: dict) -> Region:
    ensure_role(actor, (Role.SYSADMIN,))
    code = data["code"]
    if not rules.REGION_CODE_RE.match(code):
        raise invalid("region.bad_code", "code", "行政区划代码应为 6 位或 9 位数字")
    existing = session.get(Region, code)
    if existing is not None:
        raise Conflict(f"行政区划代码 {code} 已存在：“{existing.name}”{retired_suffix(existing)}",
                       code="region.duplicate_code", details={"existing_code": existing.code})
    level = data.get("level") or rules.region_level_for(code)
    check_enum(level, rules.REGION_LEVELS, "level", "级别", "region")
    _check_region_parent(session, code, data.get("parent_code"))
    region = Region(code=code, name=data["name"], level=level, parent_code=data.get("parent_code"))
    session.add(region)
    flush_unique(session, f"行政区划代码 {code} 已存在", "region.duplicate_code")
    audit.record(session, actor, "region.create", "region", region.code, after=region_snapshot(region))
    session.commit()
    return region


def update_region(session: Session, actor: Actor, code: str, data: dict) -> Region:
    ensure_role(actor, (Role.SYSADMIN,))
    region = get_region(session, code)
    ensure_not_retired(region, "行政区划", "region.retired")
    before = region_snapshot(region)
    check_enum(data.get("level"), rules.REGION_LEVELS, "level", "级别", "region")
    if "parent_code" in data:
        _check_region_parent(session, region.code, data["parent_code"])
    apply_keys(region, data, ("name", "level", "parent_code"))
    record_update(session, actor, "region", region.code, before, region_snapshot(region))
    return region


def set_region_retired(session: Session, actor: Actor, code: str, retired: bool, reason: str | None = None) -> Region:
    ensure_role(actor, (Role.SYSADMIN,))
    region = get_region(session, code)
    return retire_or_restore(session, actor, region, retired, reason, entity="region", entity_id=region.code,
                             snapshot=region_snapshot, department_id=None)
