"""What the services of the lists share: access checks, lookups, filters, retiring. No Flask here.

Every service takes a ``Session`` and, where it changes or scopes something, an ``Actor``; every
change is audited with before/after snapshots and committed. Nothing referenced is ever deleted:
rows are retired (``retired_at``) and may be restored.

Access rules (docs/architecture.md) are checked again in the services so that the CLI, jobs and
imports calling them obey them too:

* regions, departments (``regions.py``): written by the system admin only;
* items (``items.py``): system admin, or the department admin of the item's department (检查主体);
* targets (``targets.py``): read by every staff role; written by the system admin or the admin of the
  department that maintains the target;
* inspectors, experts (``people.py``): system admin and supervisor read all, department admin and planner
  only their own department; written by the system admin or the admin of that department.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any, Callable

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.rules import ensure_role
from backend.auth.roles import Role
from backend.db import utcnow
from backend.directory import rules
from backend.directory.models import Department, Region
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound

MAX_ID = 2**31 - 1
ALL_DEPARTMENTS = (Role.SYSADMIN, Role.SUPERVISOR)


# --- snapshots (what the audit log digests) -------------------------------------------------------

def when(value: dt.datetime | None) -> str | None:
    return None if value is None else value.astimezone(dt.timezone.utc).isoformat()


def percent(value) -> str | None:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.001")))


# --- lookups and checks -------------------------------------------------------------------------

def get_row(session: Session, model, key, what: str, code: str, **options):
    if key is None or (isinstance(key, int) and not 0 < key <= MAX_ID):
        raise NotFound(f"{what}不存在", code=code)
    obj = session.get(model, key, **options)
    if obj is None:
        raise NotFound(f"{what}不存在", code=code)
    return obj


def invalid(code: str, field: str, message: str) -> InvalidInput:
    return InvalidInput(message, code=code, errors={field: [message]})


def retired_suffix(obj) -> str:
    return "（已停用）" if obj.retired_at is not None else ""


def holder(session: Session, model, *where, exclude_id: int | None = None):
    """The row of ``model`` that already holds a value meant to be unique (``where``), other than
    ``exclude_id``; None when the value is free."""
    stmt = select(model).where(*where)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    return session.scalar(stmt)


def ensure_not_retired(obj, what: str, code: str) -> None:
    if obj.retired_at is not None:
        raise Conflict(f"该{what}已停用，不能修改；如需修改请先恢复", code=code)


def ensure_department_writer(actor: Actor, department_id: int | None, what: str) -> None:
    """System admin anywhere; a department admin only in their own department."""
    ensure_role(actor, (Role.SYSADMIN, Role.DEPT_ADMIN))
    if actor.role == Role.SYSADMIN:
        return
    if department_id is None or department_id != actor.department_id:
        raise Forbidden(f"只能维护本部门的{what}", code="forbidden.department")


def ensure_department_reader(actor: Actor, department_id: int | None, what: str) -> None:
    """System admin and supervisor read every department; department admin and planner their own."""
    ensure_role(actor, (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PLANNER))
    if actor.role in ALL_DEPARTMENTS:
        return
    if department_id is None or department_id != actor.department_id:
        raise Forbidden(f"只能查看本部门的{what}", code="forbidden.department")


def read_scope(actor: Actor, requested: int | None, what: str) -> int | None:
    """The department a list is limited to; None means all (system admin, supervisor)."""
    ensure_role(actor, (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PLANNER))
    if actor.role in ALL_DEPARTMENTS:
        return requested
    if requested is not None and requested != actor.department_id:
        raise Forbidden(f"只能查看本部门的{what}", code="forbidden.department")
    return actor.department_id


def writable_department(session: Session, actor: Actor, department_id: int | None, domain: str,
                        what: str) -> Department:
    """The department a new row belongs to: given by a system admin, the admin's own otherwise."""
    if department_id is None:
        if actor.role != Role.SYSADMIN:
            department_id = actor.department_id
        if department_id is None:
            raise invalid(f"{domain}.department_required", "department_id", "请选择所属部门")
    ensure_department_writer(actor, department_id, what)
    return active_department(session, department_id, domain)


def active_department(session: Session, department_id: int, domain: str) -> Department:
    dept = session.get(Department, department_id) if 0 < department_id <= MAX_ID else None
    if dept is None:
        raise invalid(f"{domain}.unknown_department", "department_id", "部门不存在")
    if dept.retired_at is not None:
        raise invalid(f"{domain}.retired_department", "department_id", f"部门“{dept.name}”已停用")
    return dept


def department_move(session: Session, actor: Actor, obj, data: dict, domain: str, what: str) -> dict:
    """``data`` of an update without a ``department_id`` of None (the row keeps its department); a move to
    another department is checked: the actor may write there and the department is active."""
    data = {k: v for k, v in data.items() if not (k == "department_id" and v is None)}
    if data.get("department_id") not in (None, obj.department_id):
        ensure_department_writer(actor, data["department_id"], what)
        active_department(session, data["department_id"], domain)
    return data


def active_region(session: Session, code: str | None, domain: str, field: str = "region_code") -> Region | None:
    if code is None:
        return None
    region = session.get(Region, code) if rules.REGION_CODE_RE.match(code) else None
    if region is None:
        raise invalid(f"{domain}.unknown_region", field, f"行政区划代码 {code} 不存在")
    if region.retired_at is not None:
        raise invalid(f"{domain}.retired_region", field, f"行政区划“{region.name}”已停用")
    return region


def check_enum(value, mapping, field: str, label: str, domain: str) -> None:
    if value is not None and value not in mapping:
        raise invalid(f"{domain}.bad_{field}", field, f"{label}必须是：{'、'.join(mapping)}")


def stored_tags(tags, field: str, domain: str) -> str:
    text = rules.tags_text(rules.split_tags(tags))
    if len(text) > rules.TAGS_MAX:
        raise invalid(f"{domain}.too_many_tags", field, f"标签总长度不能超过 {rules.TAGS_MAX} 个字符")
    return text


def like(column, text: str):
    return column.icontains(text, autoescape=True)


# A search of eight or more letters and digits is taken for the start of a code (a USCC, a registration number):
# identifiers match it from their start, through their b-tree index, while names and addresses still match it
# anywhere. A code's middle would need the trigram index, whose lists for digit trigrams span most of the table
# (2 s for one USCC at 1,000,000 targets; docs/decisions.md).
IDENTIFIER_START = re.compile(r"[0-9A-Za-z]{8,}")
_CODE_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _after_prefix(prefix: str) -> str | None:
    """The least string of the alphabet above every string starting with ``prefix`` (None: there is none); digits
    before letters, as every collation in use orders them, so the range holds on C and on en_US alike."""
    chars = list(prefix)
    while chars:
        i = _CODE_ALPHABET.index(chars[-1])
        if i + 1 < len(_CODE_ALPHABET):
            chars[-1] = _CODE_ALPHABET[i + 1]
            return "".join(chars)
        chars.pop()
    return None


def identifier_starts(column, text: str):
    """``column`` (an upper-case identifier) starts with ``text`` (``IDENTIFIER_START``): a range the column's
    b-tree index answers on any collation (LIKE 'x%' uses it only under the C collation, and it would send
    PostgreSQL to the slow trigram index too), and the comparison of the first characters that keeps it exact."""
    prefix = text.upper()
    clause = and_(column >= prefix, func.substr(column, 1, len(prefix)) == prefix)
    upper = _after_prefix(prefix)
    return and_(clause, column < upper) if upper else clause


def text_search(text: str, identifiers: tuple, words: tuple):
    """A list's ``q``: part of any of ``words`` (names, addresses), or part of an identifier — its start when the
    search looks like the start of a code (``IDENTIFIER_START``)."""
    if IDENTIFIER_START.fullmatch(text):
        return or_(*[identifier_starts(c, text) for c in identifiers], *[like(c, text) for c in words])
    return or_(*[like(c, text) for c in identifiers + words])


def json_list_contains(column, value: str, whole: bool = True):
    """A JSON list of strings holds ``value`` (as a whole element, or as part of one).

    Portable over SQLite and PostgreSQL: the JSON text is searched, in both the plain and the
    ``\\uXXXX``-escaped spelling (SQLAlchemy's default serializer escapes non-ASCII).
    """
    escaped = json.dumps(value)[1:-1]
    if whole:
        value, escaped = f'"{value}"', f'"{escaped}"'
    text = cast(column, String)
    return or_(text.contains(value, autoescape=True), text.contains(escaped, autoescape=True))


def region_filter(column, value: str):
    return column.startswith(rules.region_prefix(value), autoescape=True)


def retire_or_restore(session: Session, actor: Actor, obj, retired: bool, reason: str | None, *, entity: str,
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


def record_update(session: Session, actor: Actor, entity: str, entity_id, before: dict, after: dict,
                  **audit_args) -> None:
    """Audit (``<entity>.update``) and commit a change, when the snapshots show one."""
    if after != before:
        audit.record(session, actor, f"{entity}.update", entity, entity_id, before=before, after=after, **audit_args)
        session.commit()


def apply_keys(obj, data: dict, keys) -> None:
    """Set the attributes of ``obj`` named in ``keys`` that ``data`` holds."""
    for key in keys:
        if key in data:
            setattr(obj, key, data[key])
