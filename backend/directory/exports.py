"""Exports of the lists: the records of a list, filtered and scoped like its list endpoint, read in
batches by the natural key and written through ``writers.py`` in the import's own columns (an export
can be imported again).

No Flask here.
"""
from __future__ import annotations

from typing import BinaryIO, Callable, Iterator

from backend.directory import rules
from backend.directory.specs import spec_for
from backend.directory.writers import write_table


EXPORT_BATCH = 2000


def _query_for(actor, kind: str, filters: dict):
    """The list's own query (same filters and department scope as the list endpoints)."""
    from backend.directory import departments, experts, inspectors, items, regions, targets

    if kind == "targets":
        return targets.targets_query(actor, filters)
    if kind == "inspectors":
        return inspectors.inspectors_query(actor, filters)
    if kind == "experts":
        return experts.experts_query(actor, filters)
    if kind == "items":
        return items.items_query(filters)
    if kind == "departments":
        return departments.departments_query(filters)
    return regions.regions_query(filters)


def _export_source(kind: str):
    """(model, natural key column that orders and pages the export, selected columns) of a list."""
    from backend.directory.models import Department, Expert, Inspector, Item, Region, Target

    if kind == "targets":
        cols = (Target.id, Target.code, Target.uscc, Target.reg_no, Target.name, Target.type, Target.address,
                Target.region_code, Target.industry_code, Target.risk_class, Target.tags_text, Target.longitude,
                Target.latitude, Target.datum, Target.status, Target.legal_rep, Target.phone, Target.department_id)
        return Target, Target.code, cols
    if kind == "inspectors":
        cols = (Inspector.id, Inspector.cert_no, Inspector.name, Inspector.department_id, Inspector.position,
                Inspector.region_code, Inspector.phone, Inspector.qualifications, Inspector.expertise_text,
                Inspector.status)
        return Inspector, Inspector.cert_no, cols
    if kind == "experts":
        cols = (Expert.id, Expert.code, Expert.name, Expert.organization, Expert.title, Expert.fields_text,
                Expert.phone, Expert.department_id, Expert.status)
        return Expert, Expert.code, cols
    if kind == "items":
        cols = (Item.id, Item.code, Item.category, Item.name, Item.object_types, Item.kind, Item.methods,
                Item.legal_basis, Item.department_id, Item.ratio_cap_percent, Item.frequency, Item.remark)
        return Item, Item.code, cols
    if kind == "departments":
        cols = (Department.id, Department.code, Department.name, Department.short_name, Department.region_code)
        return Department, Department.code, cols
    cols = (Region.code, Region.name, Region.level, Region.parent_code)
    return Region, Region.code, cols


def export_count(session, actor, kind: str, filters: dict) -> int:
    from sqlalchemy import func, select

    stmt = _query_for(actor, kind, filters)
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def export_records(session, actor, kind: str, filters: dict, batch: int = EXPORT_BATCH) -> Iterator[dict]:
    """Records of the list (the import's field names), read in batches by the natural key."""
    from sqlalchemy import select

    from backend.directory.models import CheckPoint, Department, InspectorConflict, Target

    base = _query_for(actor, kind, filters)
    model, key, cols = _export_source(kind)
    where = base.whereclause
    dept_codes = dict(session.execute(select(Department.id, Department.code)).all()) \
        if kind in ("targets", "inspectors", "experts", "items") else {}
    last = None
    while True:
        stmt = select(*cols)
        if where is not None:
            stmt = stmt.where(where)
        if last is not None:
            stmt = stmt.where(key > last)
        rows = session.execute(stmt.order_by(key).limit(batch)).mappings().all()
        if not rows:
            return
        last = rows[-1][key.key]
        children: dict[int, list] = {}
        if kind == "items":
            ids = [r["id"] for r in rows]
            for item_id, text, answer_type, options in session.execute(
                    select(CheckPoint.item_id, CheckPoint.text, CheckPoint.answer_type, CheckPoint.options)
                    .where(CheckPoint.item_id.in_(ids), CheckPoint.retired_at.is_(None))
                    .order_by(CheckPoint.item_id, CheckPoint.seq)):
                children.setdefault(item_id, []).append((text, answer_type, options))
        elif kind == "inspectors":
            ids = [r["id"] for r in rows]
            for inspector_id, code, reason in session.execute(
                    select(InspectorConflict.inspector_id, Target.code, InspectorConflict.reason)
                    .join(Target, Target.id == InspectorConflict.target_id)
                    .where(InspectorConflict.inspector_id.in_(ids), InspectorConflict.retired_at.is_(None))
                    .order_by(InspectorConflict.inspector_id, Target.code)):
                children.setdefault(inspector_id, []).append((code, reason))
        for r in rows:
            rec = dict(r)
            if "department_id" in rec:
                rec["department"] = dept_codes.get(rec["department_id"])
            if kind == "targets":
                rec["tags"] = rules.tags_from_text(rec["tags_text"])
            elif kind == "inspectors":
                rec["expertise"] = rules.tags_from_text(rec["expertise_text"])
                rec["conflicts"] = children.get(rec["id"], [])
            elif kind == "experts":
                rec["fields"] = rules.tags_from_text(rec["fields_text"])
            elif kind == "items":
                rec["check_points"] = children.get(rec["id"], [])
            yield rec


def export_rows(session, actor, kind: str, filters: dict,
                progress: Callable[[int], None] | None = None) -> Iterator[list[str]]:
    spec = spec_for(kind)
    formatters = [(c.field, c.fmt) for c in spec.columns]
    for n, rec in enumerate(export_records(session, actor, kind, filters), start=1):
        yield [fmt(rec.get(field)) for field, fmt in formatters]
        if progress is not None and n % EXPORT_BATCH == 0:
            progress(n)


def export_to(out: BinaryIO, session, actor, kind: str, fmt: str, filters: dict | None = None,
              progress: Callable[[int], None] | None = None) -> int:
    """Write the list (filtered and scoped like the list endpoint) to ``out``; the number of rows."""
    spec = spec_for(kind, "export.unknown_list")
    return write_table(out, fmt, spec, export_rows(session, actor, kind, filters or {}, progress))


def content_disposition(file_name: str, fallback: str) -> str:
    """``attachment`` with an ASCII fallback name and the real (Chinese) name per RFC 5987/6266."""
    from urllib.parse import quote

    return f'attachment; filename="{fallback}"; filename*=UTF-8\'\'{quote(file_name, safe="")}'
