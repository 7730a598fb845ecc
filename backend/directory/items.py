"""Items (抽查事项清单) and their check points (检查内容). No Flask here.

Written by the system admin or the department admin of the item's department (检查主体).
"""
from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.db import flush_unique
from backend.directory import rules
from backend.directory.common import (check_enum, department_move, ensure_department_writer, ensure_not_retired,
                                      get_row, holder, invalid, json_list_contains, like, percent, record_update,
                                      retire_or_restore, retired_suffix, when, writable_department)
from backend.directory.models import CheckPoint, Item
from backend.errors import Conflict, InvalidInput, NotFound


# --- snapshots (what the audit log digests) -------------------------------------------------------

def check_point_snapshot(cp: CheckPoint) -> dict:
    return {"id": cp.id, "item_id": cp.item_id, "seq": cp.seq, "text": cp.text, "answer_type": cp.answer_type,
            "options": list(cp.options) if cp.options is not None else None, "required": bool(cp.required),
            "guidance": cp.guidance, "retired_at": when(cp.retired_at)}


def item_snapshot(item: Item) -> dict:
    return {"id": item.id, "code": item.code, "category": item.category, "name": item.name,
            "object_types": list(item.object_types or []), "kind": item.kind, "methods": list(item.methods or []),
            "legal_basis": item.legal_basis, "department_id": item.department_id,
            "ratio_cap_percent": percent(item.ratio_cap_percent), "frequency": item.frequency,
            "remark": item.remark, "required_qualifications": list(item.required_qualifications or []),
            "retired_at": when(item.retired_at),
            "check_points": [check_point_snapshot(cp) for cp in item.check_points]}


# --- items ----------------------------------------------------------------------------------------

ITEM_KEYS = ("code", "category", "name", "object_types", "kind", "methods", "legal_basis", "department_id",
             "ratio_cap_percent", "frequency", "remark", "required_qualifications")
CHECK_POINT_KEYS = ("seq", "text", "answer_type", "options", "required", "guidance")


def get_item(session: Session, item_id: int) -> Item:
    return get_row(session, Item, item_id, "抽查事项", "item.not_found")


def items_query(filters: dict):
    stmt = select(Item)
    if not filters.get("include_retired"):
        stmt = stmt.where(Item.retired_at.is_(None))
    if filters.get("q"):
        q = filters["q"]
        stmt = stmt.where(or_(like(Item.code, q), like(Item.name, q), like(Item.category, q),
                              like(Item.legal_basis, q)))
    if filters.get("department_id") is not None:
        stmt = stmt.where(Item.department_id == filters["department_id"])
    if filters.get("category"):
        stmt = stmt.where(Item.category == filters["category"])
    if filters.get("kind"):
        stmt = stmt.where(Item.kind == filters["kind"])
    if filters.get("method"):
        stmt = stmt.where(json_list_contains(Item.methods, filters["method"]))
    if filters.get("object_type"):
        stmt = stmt.where(json_list_contains(Item.object_types, filters["object_type"]))
    return stmt.order_by(Item.code, Item.id)


def _check_item_rules(values: dict) -> None:
    """Rules across fields, on the item as it will be after the change."""
    check_enum(values["kind"], rules.ITEM_KINDS, "kind", "事项类型", "item")
    if not values["methods"]:
        raise invalid("item.methods_required", "methods", "至少选择一种检查方式")
    for method in values["methods"]:
        check_enum(method, rules.METHODS, "methods", "检查方式", "item")
    if not values["object_types"]:
        raise invalid("item.object_types_required", "object_types", "至少选择一类检查对象")
    for kind in values["object_types"]:
        check_enum(kind, rules.TARGET_TYPES, "object_types", "检查对象类型", "item")
    cap = values.get("ratio_cap_percent")
    if cap is not None:
        if values["kind"] == "key":
            raise invalid("item.ratio_cap_on_key", "ratio_cap_percent", "重点检查事项不设抽查比例上限")
        if not Decimal(0) < Decimal(cap) <= Decimal(100):
            raise invalid("item.bad_ratio_cap", "ratio_cap_percent", "抽查比例上限应大于 0 且不超过 100")


def _check_item_code(session: Session, code: str, exclude_id: int | None) -> None:
    existing = holder(session, Item, Item.code == code, exclude_id=exclude_id)
    if existing is not None:
        raise Conflict(f"事项编码 {code} 已被“{existing.name}”使用{retired_suffix(existing)}",
                       code="item.duplicate_code", details={"existing_id": existing.id, "existing_name": existing.name})


def _check_point_rules(values: dict) -> None:
    check_enum(values["answer_type"], rules.ANSWER_TYPES, "answer_type", "作答方式", "check_point")
    options = values.get("options")
    if values["answer_type"] in rules.CHOICE_TYPES:
        if not options or len(options) < 2:
            raise invalid("check_point.options_required", "options", "单选、多选题至少需要两个选项")
        if len(set(options)) != len(options):
            raise invalid("check_point.duplicate_options", "options", "选项不能重复")
    elif options:
        raise invalid("check_point.options_not_allowed", "options", "只有单选、多选题可以设置选项")


def _ensure_item_writer(actor: Actor, item: Item) -> None:
    ensure_department_writer(actor, item.department_id, "抽查事项")


def create_item(session: Session, actor: Actor, data: dict) -> Item:
    dept = writable_department(session, actor, data.get("department_id"), "item", "抽查事项")
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
    ensure_not_retired(item, "抽查事项", "item.retired")
    data = department_move(session, actor, item, data, "item", "抽查事项")
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
    record_update(session, actor, "item", item.id, before, item_snapshot(item), department_id=item.department_id)
    return item


def set_item_retired(session: Session, actor: Actor, item_id: int, retired: bool, reason: str | None = None) -> Item:
    item = get_item(session, item_id)
    _ensure_item_writer(actor, item)
    return retire_or_restore(session, actor, item, retired, reason, entity="item", entity_id=item.id,
                             snapshot=item_snapshot, department_id=item.department_id)


# --- check points ---------------------------------------------------------------------------------

def check_points(session: Session, item_id: int, include_retired: bool = False) -> list[CheckPoint]:
    item = get_item(session, item_id)
    stmt = select(CheckPoint).where(CheckPoint.item_id == item.id)
    if not include_retired:
        stmt = stmt.where(CheckPoint.retired_at.is_(None))
    return list(session.scalars(stmt.order_by(CheckPoint.seq, CheckPoint.id)))


def _get_check_point(session: Session, item: Item, check_point_id: int) -> CheckPoint:
    cp = get_row(session, CheckPoint, check_point_id, "检查内容", "check_point.not_found")
    if cp.item_id != item.id:
        raise NotFound("检查内容不存在", code="check_point.not_found")
    return cp


def _check_seq_free(session: Session, item: Item, seq: int, exclude_id: int | None) -> None:
    existing = holder(session, CheckPoint, CheckPoint.item_id == item.id, CheckPoint.seq == seq, exclude_id=exclude_id)
    if existing is not None:
        raise Conflict(f"序号 {seq} 已被检查内容“{existing.text[:30]}”使用{retired_suffix(existing)}",
                       code="check_point.duplicate_seq", details={"existing_id": existing.id})


def add_check_point(session: Session, actor: Actor, item_id: int, data: dict) -> CheckPoint:
    item = get_item(session, item_id)
    _ensure_item_writer(actor, item)
    ensure_not_retired(item, "抽查事项", "item.retired")
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
    ensure_not_retired(item, "抽查事项", "item.retired")
    cp = _get_check_point(session, item, check_point_id)
    ensure_not_retired(cp, "检查内容", "check_point.retired")
    before = check_point_snapshot(cp)
    values = {key: data[key] if key in data else getattr(cp, key) for key in CHECK_POINT_KEYS}
    if "answer_type" in data and data["answer_type"] not in rules.CHOICE_TYPES and "options" not in data:
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
    record_update(session, actor, "check_point", cp.id, before, check_point_snapshot(cp), detail={"item_id": item.id},
                  department_id=item.department_id)
    return cp


def set_check_point_retired(session: Session, actor: Actor, item_id: int, check_point_id: int, retired: bool,
                            reason: str | None = None) -> CheckPoint:
    item = get_item(session, item_id)
    _ensure_item_writer(actor, item)
    cp = _get_check_point(session, item, check_point_id)
    return retire_or_restore(session, actor, cp, retired, reason, entity="check_point", entity_id=cp.id,
                             snapshot=check_point_snapshot, department_id=item.department_id)

