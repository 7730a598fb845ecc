"""The one rule of what the public sees of an inspection: a whitelist that builds the public document.

Nothing is copied from the record as a whole: each public value is picked by name from a ``Source`` the
service fills from the models, so a field added to the record, a section or an account later can never
reach the public by accident. The record's personal data — officers' names, certificate, phone and ID
numbers, the representative's name, phone and ID number, signatures and their images, GPS fixes, photos and
attachments (unless the publisher ticks a photo: then its copy without metadata, never the original), the
officers' free text (problems found, notes, the lead's opinion) — is not in ``Source`` at
all. ``PUBLIC_FIELDS`` lists every path of the document; ``public_document`` refuses to answer a document
holding any other (a test lists them again and fails on a new one).

The document is what the public API answers as ``content`` and what the publisher's preview shows, byte for
byte (``document_sha256`` is the SHA-256 of its canonical JSON).
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from backend.inspections.rules import METHODS, RESULT_CATEGORIES
from backend.publication.models import RESULT_KINDS
from sync.canonical import canonical_json, sha256_hex

TASK_TYPES = {"directed": "定向抽查", "undirected": "不定向抽查"}
AUTHORITY_ROLES = {"lead": "牵头部门", "participant": "参与部门"}

# every path of a public document ([] marks the elements of a list); nothing else is ever published
PUBLIC_FIELDS = frozenset({
    "kind", "kind_label",
    "plan.code", "plan.name",
    "task.code", "task.name", "task.type", "task.type_label", "task.joint", "task.joint_label",
    "authorities[].code", "authorities[].name", "authorities[].role", "authorities[].role_label",
    "publisher.code", "publisher.name",
    "business.name", "business.uscc", "business.reg_no",
    "items[].code", "items[].name", "items[].department", "items[].methods[].code", "items[].methods[].label",
    "completed_on",
    "result_categories[].code", "result_categories[].label",
    "remarks",
    "record_hash",
    "photos[].sha256", "photos[].url",
})
PUBLIC_PHOTO_URL = "/api/public/photos/{}"


@dataclasses.dataclass(frozen=True)
class Department:
    code: str
    name: str


@dataclasses.dataclass(frozen=True)
class CheckedItem:
    code: str
    name: str
    department: str           # the subject department's name (检查主体)
    methods: tuple[str, ...]  # method codes as recorded (items.<id>.method)


@dataclasses.dataclass(frozen=True)
class Source:
    """What may be published, gathered by the service; nothing personal has a place here."""

    kind: str                             # record | department
    plan_code: str
    plan_name: str
    task_code: str
    task_name: str
    directed: bool                        # the task has 定向 filters
    joint: bool                           # more than one department takes part
    authorities: tuple[tuple[Department, str], ...]   # (department, lead | participant)
    publisher: Department
    business_name: str
    uscc: str | None
    reg_no: str | None
    items: tuple[CheckedItem, ...]
    completed_on: dt.date
    categories: tuple[str, ...]           # result category codes, in the vocabulary's order
    remarks: str | None                   # written by the publisher for the public
    record_hash: str | None
    photos: tuple[str, ...] = ()          # public copies (no metadata) of the photos the publisher ticked


class UnpublishableField(Exception):
    """A document held a path outside ``PUBLIC_FIELDS`` (a programming error, never shown to the public)."""


def field_paths(value, prefix: str = "") -> set[str]:
    """Every leaf path of a JSON value, lists as ``[]`` (``items[].methods[].code``)."""
    if isinstance(value, dict):
        out: set[str] = set()
        for key, inner in value.items():
            path = f"{prefix}.{key}" if prefix else key
            out |= field_paths(inner, path) if isinstance(inner, (dict, list)) and inner else \
                set() if isinstance(inner, list) else {path}
        return out
    if isinstance(value, list):
        out = set()
        for inner in value:
            out |= field_paths(inner, prefix + "[]")
        return out
    return {prefix} if prefix else set()


def _category_order(codes) -> list[str]:
    order = list(RESULT_CATEGORIES)
    return sorted(set(codes), key=lambda c: order.index(c) if c in order else len(order))


def public_document(src: Source) -> dict:
    """The public text of a result, built field by field from ``src``."""
    doc = {
        "kind": src.kind,
        "kind_label": RESULT_KINDS[src.kind],
        "plan": {"code": src.plan_code, "name": src.plan_name},
        "task": {"code": src.task_code, "name": src.task_name,
                 "type": "directed" if src.directed else "undirected",
                 "type_label": TASK_TYPES["directed" if src.directed else "undirected"],
                 "joint": src.joint, "joint_label": "联合抽查" if src.joint else "单部门抽查"},
        "authorities": [{"code": d.code, "name": d.name, "role": role, "role_label": AUTHORITY_ROLES[role]}
                        for d, role in src.authorities],
        "publisher": {"code": src.publisher.code, "name": src.publisher.name},
        "business": {"name": src.business_name, "uscc": src.uscc, "reg_no": src.reg_no},
        "items": [{"code": i.code, "name": i.name, "department": i.department,
                   "methods": [{"code": m, "label": METHODS.get(m, m)} for m in i.methods]} for i in src.items],
        "completed_on": src.completed_on.isoformat(),
        "result_categories": [{"code": c, "label": RESULT_CATEGORIES[c]} for c in _category_order(src.categories)],
        "remarks": src.remarks or None,
        "record_hash": src.record_hash,
    }
    if src.photos:     # only when the publisher ticked some: a document without photos says nothing of them
        doc["photos"] = [{"sha256": p, "url": PUBLIC_PHOTO_URL.format(p)} for p in src.photos]
    extra = field_paths(doc) - PUBLIC_FIELDS
    if extra:
        raise UnpublishableField(sorted(extra))
    return doc


def document_sha256(doc: dict) -> str:
    return sha256_hex(canonical_json(doc))


# --- penalty decisions (行政处罚决定), published apart ------------------------------------------------------

PENALTY_PUBLIC_FIELDS = frozenset({
    "decision_no", "decided_on", "authority.code", "authority.name",
    "business.name", "business.uscc", "business.reg_no",
    "task.code", "task.name", "summary", "inspection_record_hash",
})


@dataclasses.dataclass(frozen=True)
class PenaltySource:
    """What may be published of a penalty decision: the decision's own public data, never its parties' persons."""
    decision_no: str
    decided_on: dt.date
    authority: Department
    business_name: str
    uscc: str | None
    reg_no: str | None
    task_code: str
    task_name: str
    summary: str                          # written by the publisher for the public
    record_hash: str | None


def penalty_document(src: PenaltySource) -> dict:
    doc = {
        "decision_no": src.decision_no,
        "decided_on": src.decided_on.isoformat(),
        "authority": {"code": src.authority.code, "name": src.authority.name},
        "business": {"name": src.business_name, "uscc": src.uscc, "reg_no": src.reg_no},
        "task": {"code": src.task_code, "name": src.task_name},
        "summary": src.summary,
        "inspection_record_hash": src.record_hash,
    }
    extra = field_paths(doc) - PENALTY_PUBLIC_FIELDS
    if extra:
        raise UnpublishableField(sorted(extra))
    return doc
