"""The lists (一单两库): regions, departments, items with check points, targets, inspectors, experts.

No Flask here. Every function takes a ``Session`` and, where it changes or scopes something,
an ``Actor``; every change is audited with before/after snapshots and committed. Nothing
referenced is ever deleted: rows are retired (``retired_at``) and may be restored.

Access rules (docs/architecture.md) are checked again here so that the CLI, jobs and imports
calling these services obey them too:

* regions, departments: written by the system admin only;
* items: system admin, or the department admin of the item's department (检查主体);
* targets: read by every staff role; written by the system admin or the admin of the
  department that maintains the target;
* inspectors, experts: system admin and supervisor read all, department admin and planner only
  their own department; written by the system admin or the admin of that department.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import String, cast, func, or_, select
from sqlalchemy.orm import Session, joinedload

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.rules import ensure_role
from backend.auth.roles import Role
from backend.db import flush_unique, utcnow
from backend.directory import rules
from backend.directory.models import (CheckPoint, Department, Expert, Inspector, InspectorConflict, Item, Region,
                                      Target, TargetItemHistory)
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound

MAX_ID = 2**31 - 1
TAGS_MAX = 500  # length of the stored ",a,b," text columns
DIRECTORY_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_.\-]{0,31}$")
CHOICE_TYPES = {"choice", "multi"}
ALL_DEPARTMENTS = (Role.SYSADMIN, Role.SUPERVISOR)


# --- snapshots (what the audit log digests) -------------------------------------------------------

def _when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.timezone.utc).isoformat()


def _percent(value) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.001")))


def region_snapshot(region: Region) -> dict:
    return {"code": region.code, "name": region.name, "level": region.level, "parent_code": region.parent_code,
            "retired_at": _when(region.retired_at)}


def department_snapshot(dept: Department) -> dict:
    return {"id": dept.id, "code": dept.code, "name": dept.name, "short_name": dept.short_name,
            "region_code": dept.region_code, "retired_at": _when(dept.retired_at)}


def check_point_snapshot(cp: CheckPoint) -> dict:
    return {"id": cp.id, "item_id": cp.item_id, "seq": cp.seq, "text": cp.text, "answer_type": cp.answer_type,
            "options": list(cp.options) if cp.options is not None else None, "required": bool(cp.required),
            "guidance": cp.guidance, "retired_at": _when(cp.retired_at)}


def item_snapshot(item: Item) -> dict:
    return {"id": item.id, "code": item.code, "category": item.category, "name": item.name,
            "object_types": list(item.object_types or []), "kind": item.kind, "methods": list(item.methods or []),
            "legal_basis": item.legal_basis, "department_id": item.department_id,
            "ratio_cap_percent": _percent(item.ratio_cap_percent), "frequency": item.frequency,
            "remark": item.remark, "required_qualifications": list(item.required_qualifications or []),
            "retired_at": _when(item.retired_at),
            "check_points": [check_point_snapshot(cp) for cp in item.check_points]}


def target_snapshot(target: Target) -> dict:
    return {"id": target.id, "code": target.code, "uscc": target.uscc, "reg_no": target.reg_no,
            "name": target.name, "type": target.type, "address": target.address,
            "region_code": target.region_code, "industry_code": target.industry_code,
            "risk_class": target.risk_class, "tags": target.tags, "latitude": target.latitude,
            "longitude": target.longitude, "datum": target.datum, "status": target.status,
            "legal_rep": target.legal_rep, "phone": target.phone, "department_id": target.department_id,
            "retired_at": _when(target.retired_at)}


def inspector_snapshot(inspector: Inspector) -> dict:
    return {"id": inspector.id, "department_id": inspector.department_id, "cert_no": inspector.cert_no,
            "name": inspector.name, "phone": inspector.phone, "region_code": inspector.region_code,
            "position": inspector.position, "qualifications": list(inspector.qualifications or []),
            "expertise": inspector.expertise, "status": inspector.status,
            "retired_at": _when(inspector.retired_at)}


def expert_snapshot(expert: Expert) -> dict:
    return {"id": expert.id, "code": expert.code, "name": expert.name, "organization": expert.organization,
            "title": expert.title, "fields": expert.fields, "phone": expert.phone,
            "department_id": expert.department_id, "status": expert.status,
            "retired_at": _when(expert.retired_at)}


# --- shared helpers -------------------------------------------------------------------------------

def _get(session: Session, model, key, what: str, code: str, **options):
    if key is None or (isinstance(key, int) and not 0 < key <= MAX_ID):
        raise NotFound(f"{what}不存在", code=code)
    obj = session.get(model, key, **options)
    if obj is None:
        raise NotFound(f"{what}不存在", code=code)
    return obj


def _invalid(code: str, field: str, message: str) -> InvalidInput:
    return InvalidInput(message, code=code, errors={field: [message]})


def _retired_suffix(obj) -> str:
    return "（已停用）" if obj.retired_at is not None else ""


def _ensure_not_retired(obj, what: str, code: str) -> None:
    if obj.retired_at is not None:
        raise Conflict(f"该{what}已停用，不能修改；如需修改请先恢复", code=code)


def _ensure_department_writer(actor: Actor, department_id: int | None, what: str) -> None:
    """System admin anywhere; a department admin only in their own department."""
    ensure_role(actor, (Role.SYSADMIN, Role.DEPT_ADMIN))
    if actor.role == Role.SYSADMIN:
        return
    if department_id is None or department_id != actor.department_id:
        raise Forbidden(f"只能维护本部门的{what}", code="forbidden.department")


def _ensure_department_reader(actor: Actor, department_id: int | None, what: str) -> None:
    """System admin and supervisor read every department; department admin and planner their own."""
    ensure_role(actor, (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PLANNER))
    if actor.role in ALL_DEPARTMENTS:
        return
    if department_id is None or department_id != actor.department_id:
        raise Forbidden(f"只能查看本部门的{what}", code="forbidden.department")


def _department_scope(actor: Actor, requested: int | None, what: str) -> int | None:
    """The department a list is limited to; None means all (system admin, supervisor)."""
    ensure_role(actor, (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PLANNER))
    if actor.role in ALL_DEPARTMENTS:
        return requested
    if requested is not None and requested != actor.department_id:
        raise Forbidden(f"只能查看本部门的{what}", code="forbidden.department")
    return actor.department_id


def _writable_department(session: Session, actor: Actor, department_id: int | None, domain: str,
                         what: str) -> Department:
    """The department a new row belongs to: given by a system admin, the admin's own otherwise."""
    if department_id is None:
        if actor.role != Role.SYSADMIN:
            department_id = actor.department_id
        if department_id is None:
            raise _invalid(f"{domain}.department_required", "department_id", "请选择所属部门")
    _ensure_department_writer(actor, department_id, what)
    return _active_department(session, department_id, domain)


def _active_department(session: Session, department_id: int, domain: str) -> Department:
    dept = session.get(Department, department_id) if 0 < department_id <= MAX_ID else None
    if dept is None:
        raise _invalid(f"{domain}.unknown_department", "department_id", "部门不存在")
    if dept.retired_at is not None:
        raise _invalid(f"{domain}.retired_department", "department_id", f"部门“{dept.name}”已停用")
    return dept


def _active_region(session: Session, code: str | None, domain: str, field: str = "region_code") -> Region | None:
    if code is None:
        return None
    region = session.get(Region, code) if rules.REGION_CODE_RE.match(code) else None
    if region is None:
        raise _invalid(f"{domain}.unknown_region", field, f"行政区划代码 {code} 不存在")
    if region.retired_at is not None:
        raise _invalid(f"{domain}.retired_region", field, f"行政区划“{region.name}”已停用")
    return region


def _check_enum(value, mapping, field: str, label: str, domain: str) -> None:
    if value is not None and value not in mapping:
        raise _invalid(f"{domain}.bad_{field}", field, f"{label}必须是：{'、'.join(mapping)}")


def _tags_text(tags, field: str, domain: str) -> str:
    text = rules.tags_text(rules.split_tags(tags))
    if len(text) > TAGS_MAX:
        raise _invalid(f"{domain}.too_many_tags", field, f"标签总长度不能超过 {TAGS_MAX} 个字符")
    return text


def _like(column, text: str):
    return column.icontains(text, autoescape=True)


def _json_list_contains(column, value: str, whole: bool = True):
    """A JSON list of strings holds ``value`` (as a whole element, or as part of one).

    Portable over SQLite and PostgreSQL: the JSON text is searched, in both the plain and the
    ``\\uXXXX``-escaped spelling (SQLAlchemy's default serializer escapes non-ASCII).
    """
    escaped = json.dumps(value)[1:-1]
    if whole:
        value, escaped = f'"{value}"', f'"{escaped}"'
    text = cast(column, String)
    return or_(text.contains(value, autoescape=True), text.contains(escaped, autoescape=True))


def _region_filter(column, value: str):
    return column.startswith(rules.region_prefix(value), autoescape=True)


def _set_retired(session: Session, actor: Actor, obj, retired: bool, reason: str | None, *, entity: str,
                 entity_id, snapshot: Callable[[Any], dict], department_id: int | None,
                 before_commit: Callable[[], None] | None = None):
    """Retire or restore ``obj``; asking for the state it already has changes nothing."""
    if (obj.retired_at is not None) == bool(retired):
        return obj
    before = snapshot(obj)
    obj.retired_at = utcnow() if retired else None
    audit.record(session, actor, f"{entity}.{'retire' if retired else 'unretire'}", entity, entity_id,
                 before=before, after=snapshot(obj), detail={"reason": reason}, department_id=department_id)
    if before_commit is not None:
        before_commit()
    session.commit()
    return obj


def _apply(obj, data: dict, keys) -> None:
    for key in keys:
        if key in data:
            setattr(obj, key, data[key])


# --- regions ---------------------------------------------------------------------------------------

def get_region(session: Session, code: str) -> Region:
    if not isinstance(code, str) or not rules.REGION_CODE_RE.match(code):
        raise NotFound("行政区划不存在", code="region.not_found")
    return _get(session, Region, code, "行政区划", "region.not_found")


def regions_query(filters: dict):
    stmt = select(Region)
    if not filters.get("include_retired"):
        stmt = stmt.where(Region.retired_at.is_(None))
    if filters.get("q"):
        stmt = stmt.where(or_(Region.code.startswith(filters["q"], autoescape=True), _like(Region.name, filters["q"])))
    if filters.get("parent_code"):
        stmt = stmt.where(Region.parent_code == filters["parent_code"])
    if filters.get("prefix"):
        stmt = stmt.where(_region_filter(Region.code, filters["prefix"]))
    if filters.get("level"):
        stmt = stmt.where(Region.level == filters["level"])
    return stmt.order_by(Region.code)


def _check_region_parent(session: Session, code: str, parent_code: str | None) -> None:
    if parent_code is None:
        return
    parent = _active_region(session, parent_code, "region", "parent_code")
    if parent.code == code or len(parent.code) > len(code) or not code.startswith(rules.region_prefix(parent.code)):
        raise _invalid("region.bad_parent", "parent_code", f"“{parent.name}”（{parent.code}）不是 {code} 的上级区划")


def create_region(session: Session, actor: Actor, data: dict) -> Region:
    ensure_role(actor, (Role.SYSADMIN,))
    code = data["code"]
    if not rules.REGION_CODE_RE.match(code):
        raise _invalid("region.bad_code", "code", "行政区划代码应为 6 位或 9 位数字")
    existing = session.get(Region, code)
    if existing is not None:
        raise Conflict(f"行政区划代码 {code} 已存在：“{existing.name}”{_retired_suffix(existing)}",
                       code="region.duplicate_code", details={"existing_code": existing.code})
    level = data.get("level") or rules.region_level_for(code)
    _check_enum(level, rules.REGION_LEVELS, "level", "级别", "region")
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
    _ensure_not_retired(region, "行政区划", "region.retired")
    before = region_snapshot(region)
    _check_enum(data.get("level"), rules.REGION_LEVELS, "level", "级别", "region")
    if "parent_code" in data:
        _check_region_parent(session, region.code, data["parent_code"])
    _apply(region, data, ("name", "level", "parent_code"))
    after = region_snapshot(region)
    if after != before:
        audit.record(session, actor, "region.update", "region", region.code, before=before, after=after)
        session.commit()
    return region


def set_region_retired(session: Session, actor: Actor, code: str, retired: bool, reason: str | None = None) -> Region:
    ensure_role(actor, (Role.SYSADMIN,))
    region = get_region(session, code)
    return _set_retired(session, actor, region, retired, reason, entity="region", entity_id=region.code,
                        snapshot=region_snapshot, department_id=None)


# --- departments -----------------------------------------------------------------------------------

def get_department(session: Session, department_id: int) -> Department:
    return _get(session, Department, department_id, "部门", "department.not_found")


def departments_query(filters: dict):
    stmt = select(Department)
    if not filters.get("include_retired"):
        stmt = stmt.where(Department.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(or_(_like(Department.code, q), _like(Department.name, q), _like(Department.short_name, q)))
    if filters.get("region"):
        stmt = stmt.where(_region_filter(Department.region_code, filters["region"]))
    return stmt.order_by(Department.code, Department.id)


def _check_department_unique(session: Session, code: str | None, name: str | None, exclude_id: int | None) -> None:
    for column, value, label, err in ((Department.code, code, "部门代码", "department.duplicate_code"),
                                      (Department.name, name, "部门名称", "department.duplicate_name")):
        if value is None:
            continue
        stmt = select(Department).where(column == value)
        if exclude_id is not None:
            stmt = stmt.where(Department.id != exclude_id)
        existing = session.scalar(stmt)
        if existing is not None:
            raise Conflict(f"{label}“{value}”已被“{existing.name}”（{existing.code}）使用{_retired_suffix(existing)}",
                           code=err, details={"existing_id": existing.id})


def create_department(session: Session, actor: Actor, data: dict) -> Department:
    ensure_role(actor, (Role.SYSADMIN,))
    code = data["code"].upper()
    if not rules.DEPT_CODE_RE.match(code):
        raise _invalid("department.bad_code", "code", "部门代码应以大写字母开头，由大写字母、数字和下划线组成，2–16 位")
    _check_department_unique(session, code, data["name"], None)
    _active_region(session, data.get("region_code"), "department")
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
    _ensure_not_retired(dept, "部门", "department.retired")
    before = department_snapshot(dept)
    _check_department_unique(session, None, data.get("name"), dept.id)
    if data.get("region_code") is not None:
        _active_region(session, data["region_code"], "department")
    _apply(dept, data, ("name", "short_name", "region_code"))
    flush_unique(session, "部门名称已存在", "department.duplicate_name")
    after = department_snapshot(dept)
    if after != before:
        audit.record(session, actor, "department.update", "department", dept.id, before=before, after=after,
                     department_id=dept.id)
        session.commit()
    return dept


def set_department_retired(session: Session, actor: Actor, department_id: int, retired: bool,
                           reason: str | None = None) -> Department:
    ensure_role(actor, (Role.SYSADMIN,))
    dept = get_department(session, department_id)
    return _set_retired(session, actor, dept, retired, reason, entity="department", entity_id=dept.id,
                        snapshot=department_snapshot, department_id=dept.id)


# --- items and check points ------------------------------------------------------------------------

ITEM_KEYS = ("code", "category", "name", "object_types", "kind", "methods", "legal_basis", "department_id",
             "ratio_cap_percent", "frequency", "remark", "required_qualifications")
CHECK_POINT_KEYS = ("seq", "text", "answer_type", "options", "required", "guidance")


def get_item(session: Session, item_id: int) -> Item:
    return _get(session, Item, item_id, "抽查事项", "item.not_found")


def items_query(filters: dict):
    stmt = select(Item)
    if not filters.get("include_retired"):
        stmt = stmt.where(Item.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(or_(_like(Item.code, q), _like(Item.name, q), _like(Item.category, q),
                              _like(Item.legal_basis, q)))
    if filters.get("department_id") is not None:
        stmt = stmt.where(Item.department_id == filters["department_id"])
    if filters.get("category"):
        stmt = stmt.where(Item.category == filters["category"])
    if filters.get("kind"):
        stmt = stmt.where(Item.kind == filters["kind"])
    if filters.get("method"):
        stmt = stmt.where(_json_list_contains(Item.methods, filters["method"]))
    if filters.get("object_type"):
        stmt = stmt.where(_json_list_contains(Item.object_types, filters["object_type"]))
    return stmt.order_by(Item.code, Item.id)


def _check_item_rules(values: dict) -> None:
    """Rules across fields, on the item as it will be after the change."""
    _check_enum(values["kind"], rules.ITEM_KINDS, "kind", "事项类型", "item")
    if not values["methods"]:
        raise _invalid("item.methods_required", "methods", "至少选择一种检查方式")
    for method in values["methods"]:
        _check_enum(method, rules.METHODS, "methods", "检查方式", "item")
    if not values["object_types"]:
        raise _invalid("item.object_types_required", "object_types", "至少选择一类检查对象")
    for kind in values["object_types"]:
        _check_enum(kind, rules.TARGET_TYPES, "object_types", "检查对象类型", "item")
    cap = values.get("ratio_cap_percent")
    if cap is not None:
        if values["kind"] == "key":
            raise _invalid("item.ratio_cap_on_key", "ratio_cap_percent", "重点检查事项不设抽查比例上限")
        if not Decimal(0) < Decimal(cap) <= Decimal(100):
            raise _invalid("item.bad_ratio_cap", "ratio_cap_percent", "抽查比例上限应大于 0 且不超过 100")


def _check_item_code(session: Session, code: str, exclude_id: int | None) -> None:
    stmt = select(Item).where(Item.code == code)
    if exclude_id is not None:
        stmt = stmt.where(Item.id != exclude_id)
    existing = session.scalar(stmt)
    if existing is not None:
        raise Conflict(f"事项编码 {code} 已被“{existing.name}”使用{_retired_suffix(existing)}",
                       code="item.duplicate_code", details={"existing_id": existing.id, "existing_name": existing.name})


def _check_point_rules(values: dict) -> None:
    _check_enum(values["answer_type"], rules.ANSWER_TYPES, "answer_type", "作答方式", "check_point")
    options = values.get("options")
    if values["answer_type"] in CHOICE_TYPES:
        if not options or len(options) < 2:
            raise _invalid("check_point.options_required", "options", "单选、多选题至少需要两个选项")
        if len(set(options)) != len(options):
            raise _invalid("check_point.duplicate_options", "options", "选项不能重复")
    elif options:
        raise _invalid("check_point.options_not_allowed", "options", "只有单选、多选题可以设置选项")


def _ensure_item_writer(actor: Actor, item: Item) -> None:
    _ensure_department_writer(actor, item.department_id, "抽查事项")


def create_item(session: Session, actor: Actor, data: dict) -> Item:
    dept = _writable_department(session, actor, data.get("department_id"), "item", "抽查事项")
    values = {key: data.get(key) for key in ITEM_KEYS}
    values.update(department_id=dept.id, object_types=list(data.get("object_types") or []),
                  methods=list(data.get("methods") or []), legal_basis=data.get("legal_basis") or "",
                  required_qualifications=list(data.get("required_qualifications") or []))
    _check_item_rules(values)
    _check_item_code(session, values["code"], None)
    item = Item(**values)
    seqs = set()
    for n, cp_data in enumerate(data.get("check_points") or [], start=1):
        cp_values = {key: cp_data.get(key) for key in CHECK_POINT_KEYS}
        cp_values["seq"] = cp_values["seq"] or max(seqs | {0}) + 1
        cp_values["answer_type"] = cp_values["answer_type"] or "compliance"
        cp_values["required"] = True if cp_values["required"] is None else cp_values["required"]
        if cp_values["seq"] in seqs:
            raise InvalidInput(f"检查内容序号 {cp_values['seq']} 重复", code="check_point.duplicate_seq",
                               errors={"check_points": {str(n - 1): {"seq": ["序号重复"]}}})
        try:
            _check_point_rules(cp_values)
        except InvalidInput as err:
            err.errors = {"check_points": {str(n - 1): err.errors}}
            raise
        seqs.add(cp_values["seq"])
        item.check_points.append(CheckPoint(**cp_values))
    session.add(item)
    flush_unique(session, f"事项编码 {values['code']} 已存在", "item.duplicate_code")
    audit.record(session, actor, "item.create", "item", item.id, after=item_snapshot(item),
                 department_id=item.department_id)
    session.commit()
    return item


def update_item(session: Session, actor: Actor, item_id: int, data: dict) -> Item:
    item = get_item(session, item_id)
    _ensure_item_writer(actor, item)
    _ensure_not_retired(item, "抽查事项", "item.retired")
    if data.get("department_id") not in (None, item.department_id):
        _ensure_department_writer(actor, data["department_id"], "抽查事项")
        _active_department(session, data["department_id"], "item")
    data = {k: v for k, v in data.items() if not (k == "department_id" and v is None)}
    before = item_snapshot(item)
    values = {key: data.get(key, getattr(item, key)) for key in ITEM_KEYS}
    values["object_types"] = list(values["object_types"] or [])
    values["methods"] = list(values["methods"] or [])
    values["required_qualifications"] = list(values["required_qualifications"] or [])
    _check_item_rules(values)
    if "code" in data:
        _check_item_code(session, data["code"], item.id)
    for key in ITEM_KEYS:
        if key in data:
            setattr(item, key, values[key])
    flush_unique(session, "事项编码已存在", "item.duplicate_code")
    if "department_id" in data:
        session.expire(item, ["department"])
    after = item_snapshot(item)
    if after != before:
        audit.record(session, actor, "item.update", "item", item.id, before=before, after=after,
                     department_id=item.department_id)
        session.commit()
    return item


def set_item_retired(session: Session, actor: Actor, item_id: int, retired: bool, reason: str | None = None) -> Item:
    item = get_item(session, item_id)
    _ensure_item_writer(actor, item)
    return _set_retired(session, actor, item, retired, reason, entity="item", entity_id=item.id,
                        snapshot=item_snapshot, department_id=item.department_id)


def check_points(session: Session, item_id: int, include_retired: bool = False) -> list[CheckPoint]:
    item = get_item(session, item_id)
    stmt = select(CheckPoint).where(CheckPoint.item_id == item.id)
    if not include_retired:
        stmt = stmt.where(CheckPoint.retired_at.is_(None))
    return list(session.scalars(stmt.order_by(CheckPoint.seq, CheckPoint.id)))


def _get_check_point(session: Session, item: Item, check_point_id: int) -> CheckPoint:
    cp = _get(session, CheckPoint, check_point_id, "检查内容", "check_point.not_found")
    if cp.item_id != item.id:
        raise NotFound("检查内容不存在", code="check_point.not_found")
    return cp


def _check_seq_free(session: Session, item: Item, seq: int, exclude_id: int | None) -> None:
    stmt = select(CheckPoint).where(CheckPoint.item_id == item.id, CheckPoint.seq == seq)
    if exclude_id is not None:
        stmt = stmt.where(CheckPoint.id != exclude_id)
    existing = session.scalar(stmt)
    if existing is not None:
        raise Conflict(f"序号 {seq} 已被检查内容“{existing.text[:30]}”使用{_retired_suffix(existing)}",
                       code="check_point.duplicate_seq", details={"existing_id": existing.id})


def add_check_point(session: Session, actor: Actor, item_id: int, data: dict) -> CheckPoint:
    item = get_item(session, item_id)
    _ensure_item_writer(actor, item)
    _ensure_not_retired(item, "抽查事项", "item.retired")
    values = {key: data.get(key) for key in CHECK_POINT_KEYS}
    values["answer_type"] = values["answer_type"] or "compliance"
    values["required"] = True if values["required"] is None else values["required"]
    if values["seq"] is None:
        values["seq"] = (session.scalar(select(func.max(CheckPoint.seq)).where(CheckPoint.item_id == item.id)) or 0) + 1
    else:
        _check_seq_free(session, item, values["seq"], None)
    _check_point_rules(values)
    cp = CheckPoint(item_id=item.id, **values)
    session.add(cp)
    flush_unique(session, f"序号 {values['seq']} 已被使用", "check_point.duplicate_seq")
    audit.record(session, actor, "check_point.create", "check_point", cp.id, after=check_point_snapshot(cp),
                 detail={"item_id": item.id}, department_id=item.department_id)
    session.commit()
    return cp


def update_check_point(session: Session, actor: Actor, item_id: int, check_point_id: int, data: dict) -> CheckPoint:
    item = get_item(session, item_id)
    _ensure_item_writer(actor, item)
    _ensure_not_retired(item, "抽查事项", "item.retired")
    cp = _get_check_point(session, item, check_point_id)
    _ensure_not_retired(cp, "检查内容", "check_point.retired")
    before = check_point_snapshot(cp)
    values = {key: data[key] if key in data else getattr(cp, key) for key in CHECK_POINT_KEYS}
    if "answer_type" in data and data["answer_type"] not in CHOICE_TYPES and "options" not in data:
        values["options"] = None  # options of a former choice question go with it
    _check_point_rules(values)
    if data.get("seq") not in (None, cp.seq):
        _check_seq_free(session, item, data["seq"], cp.id)
    for key in CHECK_POINT_KEYS:
        if key == "seq" and values["seq"] is None:
            continue
        if key == "required" and values["required"] is None:
            continue
        setattr(cp, key, values[key])
    flush_unique(session, "序号已被使用", "check_point.duplicate_seq")
    after = check_point_snapshot(cp)
    if after != before:
        audit.record(session, actor, "check_point.update", "check_point", cp.id, before=before, after=after,
                     detail={"item_id": item.id}, department_id=item.department_id)
        session.commit()
    return cp


def set_check_point_retired(session: Session, actor: Actor, item_id: int, check_point_id: int, retired: bool,
                            reason: str | None = None) -> CheckPoint:
    item = get_item(session, item_id)
    _ensure_item_writer(actor, item)
    cp = _get_check_point(session, item, check_point_id)
    return _set_retired(session, actor, cp, retired, reason, entity="check_point", entity_id=cp.id,
                        snapshot=check_point_snapshot, department_id=item.department_id)


# --- targets ---------------------------------------------------------------------------------------

TARGET_KEYS = ("uscc", "reg_no", "code", "name", "type", "address", "region_code", "industry_code", "risk_class",
               "latitude", "longitude", "datum", "status", "legal_rep", "phone", "department_id")
STAFF_READERS = (Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.SUPERVISOR)


def get_target(session: Session, actor: Actor, target_id: int) -> Target:
    ensure_role(actor, STAFF_READERS)
    return _get(session, Target, target_id, "检查对象", "target.not_found")


def targets_query(actor: Actor, filters: dict):
    ensure_role(actor, STAFF_READERS)
    stmt = select(Target)
    if not filters.get("include_retired"):
        stmt = stmt.where(Target.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(or_(_like(Target.name, q), _like(Target.code, q), _like(Target.uscc, q),
                              _like(Target.reg_no, q), _like(Target.address, q), _like(Target.legal_rep, q)))
    if filters.get("department_id") is not None:
        stmt = stmt.where(Target.department_id == filters["department_id"])
    if filters.get("region"):
        stmt = stmt.where(_region_filter(Target.region_code, filters["region"]))
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
    _check_enum(values["type"], rules.TARGET_TYPES, "type", "对象类型", "target")
    _check_enum(values["status"], rules.TARGET_STATUSES, "status", "状态", "target")
    _check_enum(values["risk_class"], rules.RISK_CLASSES, "risk_class", "信用风险分类", "target")
    _check_enum(values["datum"], dict.fromkeys(rules.DATUMS), "datum", "坐标系", "target")
    for key in ("uscc", "reg_no", "code", "industry_code"):
        if values.get(key) is not None:
            values[key] = values[key].strip().upper() or None
    if values["uscc"] is not None:
        problem = rules.uscc_problem(values["uscc"])
        if problem:
            raise _invalid("target.bad_uscc", "uscc", problem)
    if values["reg_no"] is not None:
        problem = rules.reg_no_problem(values["reg_no"])
        if problem:
            raise _invalid("target.bad_reg_no", "reg_no", problem)
    if values["type"] in rules.REGISTERED_TYPES:
        derived = values["uscc"] or values["reg_no"]
        if derived is None:
            raise _invalid("target.identifier_required", "uscc",
                           "企业、个体工商户、农民专业合作社和分支机构须填写统一社会信用代码，无统一社会信用代码的填写 15 位注册号")
        if given.get("code") is not None and given["code"].strip().upper() != derived:
            raise _invalid("target.code_mismatch", "code",
                           "登记主体的代码即其统一社会信用代码（没有的取注册号），不能另填")
        values["code"] = derived
    else:
        if values["uscc"] is not None or values["reg_no"] is not None:
            field = "uscc" if values["uscc"] is not None else "reg_no"
            raise _invalid("target.identifier_not_allowed", field,
                           "产品、项目、活动类检查对象使用名录代码，不填统一社会信用代码或注册号")
        if not values.get("code"):
            raise _invalid("target.code_required", "code", "产品、项目、活动类检查对象须填写名录代码")
        if not DIRECTORY_CODE_RE.match(values["code"]):
            raise _invalid("target.bad_code", "code", "名录代码由字母、数字、点、下划线和连字符组成，不超过 32 位")
    if values["industry_code"] is not None and not rules.INDUSTRY_RE.match(values["industry_code"]):
        raise _invalid("target.bad_industry_code", "industry_code", "行业代码应为国民经济行业分类代码，如 C1311、F52")
    lat, lon = values["latitude"], values["longitude"]
    if (lat is None) != (lon is None):
        field = "longitude" if lon is None else "latitude"
        raise _invalid("target.bad_location", field, "经度和纬度须同时填写或同时不填")
    if lat is None:
        values["datum"] = None
    else:
        if not (3 <= lat <= 54):
            raise _invalid("target.bad_location", "latitude", "纬度应在 3 与 54 之间（中国境内）")
        if not (73 <= lon <= 136):
            raise _invalid("target.bad_location", "longitude", "经度应在 73 与 136 之间（中国境内）")
        if values["datum"] is None:
            raise _invalid("target.datum_required", "datum", "填写经纬度时须注明坐标系（WGS-84 或 GCJ-02）")


def _check_target_unique(session: Session, values: dict, exclude_id: int | None) -> None:
    keys = {v for v in (values["code"], values["uscc"], values["reg_no"]) if v}
    stmt = select(Target).where(or_(Target.code.in_(keys), Target.uscc.in_(keys), Target.reg_no.in_(keys)))
    if exclude_id is not None:
        stmt = stmt.where(Target.id != exclude_id)
    existing = session.scalars(stmt.order_by(Target.id).limit(1)).first()
    if existing is not None:
        clash = next(k for k in (values["code"], values["uscc"], values["reg_no"])
                     if k and k in (existing.code, existing.uscc, existing.reg_no))
        raise Conflict(f"代码 {clash} 已登记为检查对象“{existing.name}”{_retired_suffix(existing)}",
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
        _active_department(session, department_id, "target")
    values = {key: data.get(key) for key in TARGET_KEYS}
    values.update(department_id=department_id, status=data.get("status") or "active")
    _normalize_target(values, data)
    _active_region(session, values["region_code"], "target")
    _check_target_unique(session, values, None)
    target = Target(**values, tags_text=_tags_text(data.get("tags"), "tags", "target"))
    session.add(target)
    flush_unique(session, f"代码 {values['code']} 已登记", "target.duplicate_code")
    audit.record(session, actor, "target.create", "target", target.id, after=target_snapshot(target),
                 department_id=target.department_id)
    session.commit()
    return target


def update_target(session: Session, actor: Actor, target_id: int, data: dict) -> Target:
    target = get_target(session, actor, target_id)
    _ensure_target_writer(actor, target.department_id)
    _ensure_not_retired(target, "检查对象", "target.retired")
    if "department_id" in data and data["department_id"] != target.department_id:
        if actor.role != Role.SYSADMIN:
            raise Forbidden("只有系统管理员可以变更检查对象的维护部门", code="forbidden.department")
        if data["department_id"] is not None:
            _active_department(session, data["department_id"], "target")
    before = target_snapshot(target)
    values = {key: data[key] if key in data else getattr(target, key) for key in TARGET_KEYS}
    if data.get("type") is not None and values["type"] not in rules.REGISTERED_TYPES and "code" not in data \
            and target.type in rules.REGISTERED_TYPES:
        values["code"] = None  # a business code is not a directory code
    _normalize_target(values, data)
    if "region_code" in data and data["region_code"] != target.region_code:
        _active_region(session, values["region_code"], "target")
    _check_target_unique(session, values, target.id)
    for key in TARGET_KEYS:
        setattr(target, key, values[key])
    if "tags" in data:
        target.tags_text = _tags_text(data["tags"], "tags", "target")
    flush_unique(session, "代码已被其他检查对象使用", "target.duplicate_code")
    after = target_snapshot(target)
    if after != before:
        audit.record(session, actor, "target.update", "target", target.id, before=before, after=after,
                     department_id=target.department_id)
        session.commit()
    return target


def set_target_retired(session: Session, actor: Actor, target_id: int, retired: bool,
                       reason: str | None = None) -> Target:
    target = get_target(session, actor, target_id)
    _ensure_target_writer(actor, target.department_id)
    return _set_retired(session, actor, target, retired, reason, entity="target", entity_id=target.id,
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


# --- inspectors ------------------------------------------------------------------------------------

INSPECTOR_KEYS = ("department_id", "cert_no", "name", "phone", "region_code", "position", "qualifications",
                  "status")


def normalize_cert_no(cert_no: str) -> str:
    return re.sub(r"\s+", "", cert_no).upper()


def _load_inspector(session: Session, inspector_id: int) -> Inspector:
    return _get(session, Inspector, inspector_id, "执法检查人员", "inspector.not_found")


def get_inspector(session: Session, actor: Actor, inspector_id: int) -> Inspector:
    inspector = _load_inspector(session, inspector_id)
    _ensure_department_reader(actor, inspector.department_id, "执法检查人员")
    return inspector


def my_inspector(session: Session, actor: Actor) -> Inspector:
    """The roster entry of the logged-in inspector."""
    if actor.inspector_id is None:
        raise NotFound("当前账号未关联执法检查人员名录", code="inspector.not_linked")
    return _load_inspector(session, actor.inspector_id)


def inspectors_query(actor: Actor, filters: dict):
    department_id = _department_scope(actor, filters.get("department_id"), "执法检查人员")
    stmt = select(Inspector)
    if department_id is not None:
        stmt = stmt.where(Inspector.department_id == department_id)
    if not filters.get("include_retired"):
        stmt = stmt.where(Inspector.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(or_(_like(Inspector.name, q), _like(Inspector.cert_no, q), _like(Inspector.phone, q),
                              _like(Inspector.position, q)))
    if filters.get("status"):
        stmt = stmt.where(Inspector.status.in_(filters["status"]))
    if filters.get("expertise"):
        stmt = stmt.where(Inspector.expertise_text.contains(f",{filters['expertise']},", autoescape=True))
    if filters.get("qualification"):
        stmt = stmt.where(_json_list_contains(Inspector.qualifications, filters["qualification"], whole=False))
    if filters.get("region"):
        stmt = stmt.where(_region_filter(Inspector.region_code, filters["region"]))
    return stmt.order_by(Inspector.department_id, Inspector.cert_no, Inspector.id)


def _check_cert_no(session: Session, cert_no: str, exclude_id: int | None) -> None:
    stmt = select(Inspector).where(Inspector.cert_no == cert_no)
    if exclude_id is not None:
        stmt = stmt.where(Inspector.id != exclude_id)
    existing = session.scalar(stmt)
    if existing is not None:
        raise Conflict(f"执法证号 {cert_no} 已登记为“{existing.name}”（{existing.department.name}）"
                       f"{_retired_suffix(existing)}，同一人不能重复录入",
                       code="inspector.duplicate_cert_no",
                       details={"existing_id": existing.id, "existing_name": existing.name,
                                "existing_department_id": existing.department_id})


def _check_inspector_values(values: dict) -> None:
    _check_enum(values["status"], rules.INSPECTOR_STATUSES, "status", "状态", "inspector")
    if not values["cert_no"]:
        raise _invalid("inspector.cert_no_required", "cert_no", "必填项")


def create_inspector(session: Session, actor: Actor, data: dict) -> Inspector:
    dept = _writable_department(session, actor, data.get("department_id"), "inspector", "执法检查人员")
    values = {key: data.get(key) for key in INSPECTOR_KEYS}
    values.update(department_id=dept.id, cert_no=normalize_cert_no(data["cert_no"]),
                  qualifications=list(data.get("qualifications") or []), status=data.get("status") or "active")
    _check_inspector_values(values)
    _active_region(session, values["region_code"], "inspector")
    _check_cert_no(session, values["cert_no"], None)
    inspector = Inspector(**values, expertise_text=_tags_text(data.get("expertise"), "expertise", "inspector"))
    session.add(inspector)
    flush_unique(session, f"执法证号 {values['cert_no']} 已登记", "inspector.duplicate_cert_no")
    audit.record(session, actor, "inspector.create", "inspector", inspector.id, after=inspector_snapshot(inspector),
                 department_id=inspector.department_id)
    session.commit()
    return inspector


def update_inspector(session: Session, actor: Actor, inspector_id: int, data: dict) -> Inspector:
    inspector = _load_inspector(session, inspector_id)
    _ensure_department_writer(actor, inspector.department_id, "执法检查人员")
    _ensure_not_retired(inspector, "执法检查人员", "inspector.retired")
    data = {k: v for k, v in data.items() if not (k == "department_id" and v is None)}
    if data.get("department_id") not in (None, inspector.department_id):
        _ensure_department_writer(actor, data["department_id"], "执法检查人员")
        _active_department(session, data["department_id"], "inspector")
    before = inspector_snapshot(inspector)
    values = {key: data[key] if key in data else getattr(inspector, key) for key in INSPECTOR_KEYS}
    values["cert_no"] = normalize_cert_no(values["cert_no"] or "")
    values["qualifications"] = list(values["qualifications"] or [])
    _check_inspector_values(values)
    if "region_code" in data and data["region_code"] != inspector.region_code:
        _active_region(session, values["region_code"], "inspector")
    if values["cert_no"] != inspector.cert_no:
        _check_cert_no(session, values["cert_no"], inspector.id)
    for key in INSPECTOR_KEYS:
        setattr(inspector, key, values[key])
    if "expertise" in data:
        inspector.expertise_text = _tags_text(data["expertise"], "expertise", "inspector")
    flush_unique(session, "执法证号已被登记", "inspector.duplicate_cert_no")
    if "department_id" in data:
        session.expire(inspector, ["department"])
    after = inspector_snapshot(inspector)
    if after != before:
        audit.record(session, actor, "inspector.update", "inspector", inspector.id, before=before, after=after,
                     department_id=inspector.department_id)
        session.commit()
    return inspector


def set_inspector_retired(session: Session, actor: Actor, inspector_id: int, retired: bool,
                          reason: str | None = None) -> Inspector:
    inspector = _load_inspector(session, inspector_id)
    _ensure_department_writer(actor, inspector.department_id, "执法检查人员")
    return _set_retired(session, actor, inspector, retired, reason, entity="inspector", entity_id=inspector.id,
                        snapshot=inspector_snapshot, department_id=inspector.department_id)


# --- experts ---------------------------------------------------------------------------------------

EXPERT_KEYS = ("code", "name", "organization", "title", "phone", "department_id", "status")


def _load_expert(session: Session, expert_id: int) -> Expert:
    return _get(session, Expert, expert_id, "专家", "expert.not_found")


def get_expert(session: Session, actor: Actor, expert_id: int) -> Expert:
    expert = _load_expert(session, expert_id)
    _ensure_department_reader(actor, expert.department_id, "专家")
    return expert


def experts_query(actor: Actor, filters: dict):
    department_id = _department_scope(actor, filters.get("department_id"), "专家")
    stmt = select(Expert)
    if department_id is not None:
        stmt = stmt.where(Expert.department_id == department_id)
    if not filters.get("include_retired"):
        stmt = stmt.where(Expert.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(or_(_like(Expert.code, q), _like(Expert.name, q), _like(Expert.organization, q),
                              _like(Expert.title, q)))
    if filters.get("status"):
        stmt = stmt.where(Expert.status.in_(filters["status"]))
    if filters.get("field"):
        stmt = stmt.where(Expert.fields_text.contains(f",{filters['field']},", autoescape=True))
    return stmt.order_by(Expert.code, Expert.id)


def _check_expert_code(session: Session, code: str, exclude_id: int | None) -> None:
    if not DIRECTORY_CODE_RE.match(code):
        raise _invalid("expert.bad_code", "code", "专家编号由字母、数字、点、下划线和连字符组成，不超过 32 位")
    stmt = select(Expert).where(Expert.code == code)
    if exclude_id is not None:
        stmt = stmt.where(Expert.id != exclude_id)
    existing = session.scalar(stmt)
    if existing is not None:
        raise Conflict(f"专家编号 {code} 已登记为“{existing.name}”{_retired_suffix(existing)}",
                       code="expert.duplicate_code", details={"existing_id": existing.id,
                                                              "existing_name": existing.name})


def create_expert(session: Session, actor: Actor, data: dict) -> Expert:
    dept = _writable_department(session, actor, data.get("department_id"), "expert", "专家")
    values = {key: data.get(key) for key in EXPERT_KEYS}
    values.update(department_id=dept.id, code=data["code"].strip().upper(), status=data.get("status") or "active")
    _check_enum(values["status"], rules.EXPERT_STATUSES, "status", "状态", "expert")
    _check_expert_code(session, values["code"], None)
    expert = Expert(**values, fields_text=_tags_text(data.get("fields"), "fields", "expert"))
    session.add(expert)
    flush_unique(session, f"专家编号 {values['code']} 已登记", "expert.duplicate_code")
    audit.record(session, actor, "expert.create", "expert", expert.id, after=expert_snapshot(expert),
                 department_id=expert.department_id)
    session.commit()
    return expert


def update_expert(session: Session, actor: Actor, expert_id: int, data: dict) -> Expert:
    expert = _load_expert(session, expert_id)
    _ensure_department_writer(actor, expert.department_id, "专家")
    _ensure_not_retired(expert, "专家", "expert.retired")
    data = {k: v for k, v in data.items() if not (k == "department_id" and v is None)}
    if data.get("department_id") not in (None, expert.department_id):
        _ensure_department_writer(actor, data["department_id"], "专家")
        _active_department(session, data["department_id"], "expert")
    before = expert_snapshot(expert)
    values = {key: data[key] if key in data else getattr(expert, key) for key in EXPERT_KEYS}
    values["code"] = (values["code"] or "").strip().upper()
    _check_enum(values["status"], rules.EXPERT_STATUSES, "status", "状态", "expert")
    if values["code"] != expert.code:
        _check_expert_code(session, values["code"], expert.id)
    for key in EXPERT_KEYS:
        setattr(expert, key, values[key])
    if "fields" in data:
        expert.fields_text = _tags_text(data["fields"], "fields", "expert")
    flush_unique(session, "专家编号已被登记", "expert.duplicate_code")
    if "department_id" in data:
        session.expire(expert, ["department"])
    after = expert_snapshot(expert)
    if after != before:
        audit.record(session, actor, "expert.update", "expert", expert.id, before=before, after=after,
                     department_id=expert.department_id)
        session.commit()
    return expert


def set_expert_retired(session: Session, actor: Actor, expert_id: int, retired: bool,
                       reason: str | None = None) -> Expert:
    expert = _load_expert(session, expert_id)
    _ensure_department_writer(actor, expert.department_id, "专家")
    return _set_retired(session, actor, expert, retired, reason, entity="expert", entity_id=expert.id,
                        snapshot=expert_snapshot, department_id=expert.department_id)
