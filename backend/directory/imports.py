"""Import of the lists from CSV/XLSX: every row validated, all rows applied or none.

How an import runs (``import_file``):

* the file is streamed row by row; each cell is cleaned by its column's parser (``io.py``), then
  the row is checked against compact state loaded once (natural key → id, department codes,
  region codes) and against the keys already seen in the file (duplicates name both rows);
* valid rows are written optimistically in chunks of ~2,000 rows (SQLAlchemy Core ``insert`` /
  ``update`` executemany; on PostgreSQL ``COPY``, see ``BulkWriter``) inside ONE transaction,
  never one ORM object per row; at the first bad row writing
  stops, checking goes on to the end so that every bad row is reported (up to
  ``max_errors``, all of them counted), and the transaction is rolled back: nothing changes;
* a row whose natural key exists updates it; columns absent from the file are left alone;
  a row equal to what is stored is counted as unchanged and not written;
* one audit entry (``<list>.import``) with the file name, its SHA-256 and the counts is written
  in the same transaction.

``strategy="two_pass"`` validates the whole file first and writes in a second pass; the
optimistic single pass is the default because it reads and checks the file once: 7.5 s against
12.7 s for 100,000 new targets on PostgreSQL (bench/import.py), and a bad file costs the same
either way (nothing is kept).

No Flask here.
"""
from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.roles import Role
from backend.db import analyze, utcnow
from backend.directory import io, rules
from backend.directory.models import (CheckPoint, Department, Expert, Inspector, InspectorConflict, Item, Region,
                                      Target)
from backend.errors import Conflict, DomainError, Forbidden

CHUNK = 2000
PROGRESS_EVERY = 2000

Progress = Callable[..., None]  # (done, total, message, force=False)


class _Invalid:
    """A cell that did not parse (its problem is already recorded)."""

    def __repr__(self):
        return "INVALID"


INVALID = _Invalid()
KEEP = object()  # update: leave the stored value as it is


def ok(value) -> bool:
    return value is not None and value is not INVALID


def _write_errors() -> tuple:
    """Database errors a write can meet when someone else changes the list at the same time."""
    errors: list = [IntegrityError, DataError]
    try:  # COPY goes through psycopg directly, so its errors are not wrapped by SQLAlchemy
        import psycopg

        errors += [psycopg.errors.IntegrityError, psycopg.errors.DataError]
    except ImportError:  # pragma: no cover - SQLite-only installs
        pass
    return tuple(errors)


WRITE_ERRORS = _write_errors()


class BadRows(DomainError):
    status = 422
    code = "import.bad_rows"


# --- bulk writes ----------------------------------------------------------------------------------

COPY_MIN_ROWS = 200  # below this, plain executemany is as quick


class BulkWriter:
    """Chunked INSERT / UPDATE by primary key inside the session's transaction.

    Portable path: SQLAlchemy Core ``insert()`` / ``update()`` executemany. On PostgreSQL, chunks of
    ``COPY_MIN_ROWS`` rows or more go through ``COPY … FROM STDIN`` instead (into the table for
    inserts; into a temporary table followed by one ``UPDATE … FROM`` for updates). Same
    transaction, same all-or-nothing. bench/import.py, 100,000 new targets on PostgreSQL: the whole
    import took 7.5 s with COPY against 13.7 s with executemany only.
    """

    def __init__(self, session: Session, use_copy: bool = True):
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.use_copy = use_copy and self.dialect == "postgresql"
        self._temp: dict[tuple, str] = {}

    def _driver(self):
        return self.session.connection().connection.driver_connection

    def _copy(self, cursor, table_name: str, table, columns: list[str], rows: list[dict]) -> None:
        from psycopg.types.json import Json

        from sqlalchemy import JSON

        quote = self.session.get_bind().dialect.identifier_preparer.quote
        json_cols = {c for c in columns if c in table.c and isinstance(table.c[c].type, JSON)}
        target = ", ".join(quote(c) for c in columns)
        with cursor.copy(f"COPY {quote(table_name)} ({target}) FROM STDIN") as copy:
            if json_cols:
                for row in rows:
                    copy.write_row([Json(row[c]) if c in json_cols and row[c] is not None else row[c]
                                    for c in columns])
            else:
                for row in rows:
                    copy.write_row([row[c] for c in columns])

    def insert(self, table, rows: list[dict]) -> None:
        if not rows:
            return
        if self.use_copy and len(rows) >= COPY_MIN_ROWS:
            with self._driver().cursor() as cur:
                self._copy(cur, table.name, table, list(rows[0]), rows)
            return
        self.session.execute(insert(table), rows)

    def update(self, table, pk: str, rows: list[dict]) -> None:
        """``rows`` hold ``_pk`` and the same columns each."""
        if not rows:
            return
        columns = [c for c in rows[0] if c != "_pk"]
        if not (self.use_copy and len(rows) >= COPY_MIN_ROWS):
            self.session.execute(update(table).where(table.c[pk] == bindparam("_pk")), rows)
            return
        quote = self.session.get_bind().dialect.identifier_preparer.quote
        key = (table.name, tuple(columns))
        with self._driver().cursor() as cur:
            temp = self._temp.get(key)
            if temp is None:
                temp = self._temp[key] = f"ss_import_{table.name}_{len(self._temp)}_{id(self) % 100000}"
                cur.execute(f"CREATE TEMP TABLE {quote(temp)} ON COMMIT DROP AS SELECT {quote(pk)} AS _pk, "
                            + ", ".join(quote(c) for c in columns) + f" FROM {quote(table.name)} WITH NO DATA")
            else:
                cur.execute(f"TRUNCATE {quote(temp)}")
            self._copy(cur, temp, table, ["_pk", *columns], rows)
            cur.execute(f"UPDATE {quote(table.name)} AS t SET "
                        + ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns)
                        + f" FROM {quote(temp)} AS s WHERE t.{quote(pk)} = s._pk")


# --- access ---------------------------------------------------------------------------------------

def ensure_can_import(actor: Actor, kind: str) -> None:
    spec = io.spec_for(kind)
    if kind in ("departments", "regions"):
        if actor.role != Role.SYSADMIN:
            raise Forbidden(f"只有系统管理员可以导入{spec.title}", code="forbidden.role")
        return
    if actor.role not in (Role.SYSADMIN, Role.DEPT_ADMIN):
        label = Role(actor.role).label if actor.role in {r.value for r in Role} else str(actor.role)
        raise Forbidden(f"当前角色（{label}）无权导入{spec.title}", code="forbidden.role")
    if actor.role == Role.DEPT_ADMIN and actor.department_id is None:
        raise Forbidden("部门管理员账号未关联部门，不能导入", code="forbidden.department")


# --- importers -------------------------------------------------------------------------------------

class Importer:
    """One list's rules. ``check`` validates a row against compact state; ``flush`` writes a chunk."""

    kind = ""
    table = None
    what = ""                       # 检查对象 … (messages)
    field_columns: dict[str, str] = {}   # record field → table column it sets (None: not a column)
    defaults: dict[str, Any] = {}        # column defaults for new rows
    timestamps = True
    pk = "id"
    children: tuple = ()                 # other tables an import of this list writes

    @property
    def tables(self) -> tuple[str, ...]:
        """The tables this import may have written (analysed afterwards)."""
        return (self.table.name, *(t.name for t in self.children))

    def __init__(self, session: Session, actor: Actor, present: set[str], default_department_id: int | None,
                 use_copy: bool = True):
        self.session = session
        self.bulk = BulkWriter(session, use_copy)
        self.actor = actor
        self.present = present
        self.default_department_id = default_department_id
        self.sysadmin = actor.role == Role.SYSADMIN
        self.now = utcnow()
        self.seen: dict[str, int] = {}
        self.created = self.updated = self.unchanged = 0
        self._not_null_defaults = [(c, d) for c, d in self.defaults.items() if d is not None]
        self.update_columns = self._update_columns()

    def _update_columns(self) -> list[str]:
        cols: list[str] = []
        for field in self.present:
            col = self.field_columns.get(field)
            if col and col not in cols:
                cols.append(col)
        return sorted(cols)

    # state loaded once ---------------------------------------------------------------------------
    def prepare(self) -> None:
        pass

    def _load_departments(self) -> None:
        self.dept_ref: dict[str, int] = {}
        self.dept_retired: set[int] = set()
        self.dept_name: dict[int, str] = {}
        for dept_id, code, name, retired_at in self.session.execute(
                select(Department.id, Department.code, Department.name, Department.retired_at)):
            self.dept_ref[code] = dept_id
            self.dept_ref[code.upper()] = dept_id
            self.dept_ref[name] = dept_id
            self.dept_name[dept_id] = name
            if retired_at is not None:
                self.dept_retired.add(dept_id)

    def _load_regions(self) -> None:
        self.regions: set[str] = set()
        self.regions_retired: dict[str, str] = {}
        for code, name, retired_at in self.session.execute(select(Region.code, Region.name, Region.retired_at)):
            if retired_at is None:
                self.regions.add(code)
            else:
                self.regions_retired[code] = name

    # row helpers -----------------------------------------------------------------------------------
    def _check_region(self, rec: dict, problems: list, field: str = "region_code", header: str = "行政区划代码") -> None:
        code = rec.get(field)
        if not ok(code) or code in self.regions:
            return
        if code in self.regions_retired:
            problems.append((header, f"行政区划“{self.regions_retired[code]}”（{code}）已停用"))
        else:
            problems.append((header, f"行政区划代码 {code} 不存在，请先在系统中登记"))

    def _dup(self, rowno: int, keys: list[tuple[str, str]], problems: list) -> None:
        """Duplicates within the file: the later row names the earlier one."""
        for header, key in keys:
            first = self.seen.get(key)
            if first is not None:
                problems.append((header, f"{header} {key} 与第 {first} 行重复"))
                break
        for _, key in keys:
            self.seen.setdefault(key, rowno)

    def _department(self, rec: dict, problems: list, *, existing_owner, header: str, required: bool) -> None:
        """Resolve the department cell into ``department_id`` (KEEP on update when not given)."""
        ref = rec.get("department")
        dept_id = None
        if ok(ref):
            dept_id = self.dept_ref.get(ref) or self.dept_ref.get(ref.upper())
            if dept_id is None:
                problems.append((header, f"部门“{ref}”不存在（请填写部门代码或全称）"))
                ref = INVALID
            elif dept_id in self.dept_retired:
                problems.append((header, f"部门“{self.dept_name[dept_id]}”已停用"))
        is_new = existing_owner is None
        if not self.sysadmin:
            own = self.actor.department_id
            if dept_id is not None and dept_id != own:
                problems.append((header, f"只能导入本部门的{self.what}（本行为“{self.dept_name.get(dept_id, ref)}”）"))
            if not is_new and existing_owner[0] != own:
                if existing_owner[0] is None:
                    problems.append((None, f"该{self.what}未指定部门，只有系统管理员可以通过导入修改"))
                else:
                    problems.append((None, f"该{self.what}属于其他部门（{self.dept_name.get(existing_owner[0])}），"
                                           "不能通过本部门导入修改"))
            rec["department_id"] = own
            return
        if dept_id is None and ref is INVALID:
            rec["department_id"] = INVALID
        elif dept_id is not None:
            rec["department_id"] = dept_id
        elif is_new:
            rec["department_id"] = self.default_department_id
            if required and self.default_department_id is None:
                problems.append((header, f"不能为空，请填写{self.what}所属的部门（部门代码或全称）"))
        else:
            rec["department_id"] = KEEP

    def check(self, rowno: int, rec: dict, problems: list) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    # writing -----------------------------------------------------------------------------------------
    def insert_values(self, rec: dict) -> dict:
        get = rec.get
        values = {col: get(col, default) for col, default in self.defaults.items()}
        for col, default in self._not_null_defaults:
            if values[col] is None:
                values[col] = default
        if self.timestamps:
            values["created_at"] = values["updated_at"] = self.now
        return values

    def _pk_in(self, column, keys: list):
        """``column IN keys``; on PostgreSQL ``= ANY(array)``: one parameter instead of 2,000."""
        if self.bulk.dialect == "postgresql":
            from sqlalchemy import any_
            from sqlalchemy.dialects.postgresql import ARRAY

            return column == any_(bindparam(None, keys, type_=ARRAY(column.type)))
        return column.in_(keys)

    def _compare(self, old: list[dict]) -> list[dict]:
        """The updates that change something, as executemany parameters (``_pk`` and the columns)."""
        cols = self.update_columns
        if not cols or not old:
            return []
        table = self.table
        pk = table.c[self.pk]
        current = {row[0]: row for row in self.session.execute(
            select(pk, *[table.c[c] for c in cols]).where(self._pk_in(pk, [r["_id"] for r in old]))).all()}
        changes = []
        for rec in old:
            cur = current.get(rec["_id"])
            if cur is None:
                raise Conflict(f"导入期间有{self.what}被删除，请重试", code="import.conflict")
            values = {"_pk": rec["_id"]}
            changed = False
            for i, col in enumerate(cols, start=1):
                new = rec.get(col, KEEP)
                if new is KEEP:
                    new = cur[i]
                elif new != cur[i]:
                    changed = True
                values[col] = new
            if changed:
                if self.timestamps:
                    values["updated_at"] = self.now
                changes.append(values)
        return changes

    def flush(self, rows: list[dict], write: bool) -> None:
        new = [r for r in rows if r["_id"] is None]
        old = [r for r in rows if r["_id"] is not None]
        changes = self._compare(old)
        children_changed = self.sync_children(new, old, write)
        if write:
            self.bulk.update(self.table, self.pk, changes)
        changed_ids = {c["_pk"] for c in changes} | children_changed
        self.created += len(new)
        self.updated += len(changed_ids)
        self.unchanged += len(old) - len(changed_ids)

    def _insert(self, new: list[dict], write: bool, returning: bool = False) -> None:
        if not new or not write:
            return
        table = self.table
        values = [self.insert_values(r) for r in new]
        if returning:
            result = self.session.execute(insert(table).returning(table.c.id, sort_by_parameter_order=True), values)
            for rec, (new_id,) in zip(new, result):
                rec["_new_id"] = new_id
        else:
            self.bulk.insert(table, values)

    def sync_children(self, new: list[dict], old: list[dict], write: bool) -> set:
        """Insert the new rows (and their child rows); the ids of old rows whose children changed."""
        self._insert(new, write)
        return set()

    def finish(self, write: bool, problems: list) -> None:
        pass


class TargetImporter(Importer):
    kind = "targets"
    table = Target.__table__
    what = "检查对象"
    field_columns = {"uscc": "uscc", "reg_no": "reg_no", "code": "code", "name": "name", "type": "type",
                     "address": "address", "region_code": "region_code", "industry_code": "industry_code",
                     "risk_class": "risk_class", "tags": "tags_text", "latitude": "latitude",
                     "longitude": "longitude", "datum": "datum", "status": "status", "legal_rep": "legal_rep",
                     "phone": "phone", "department": "department_id"}
    defaults = {"code": None, "uscc": None, "reg_no": None, "name": None, "type": None, "address": None,
                "region_code": None, "industry_code": None, "risk_class": None, "tags_text": "", "latitude": None,
                "longitude": None, "datum": None, "status": "active", "legal_rep": None, "phone": None,
                "department_id": None}

    def _update_columns(self) -> list[str]:
        cols = set(super()._update_columns())
        cols.add("code")  # a business's code follows its USCC (or registration number)
        if "latitude" in self.present or "longitude" in self.present:
            cols.update(("latitude", "longitude", "datum"))
        return sorted(cols)

    def prepare(self) -> None:
        self._load_departments()
        self._load_regions()
        keys: dict[str, int] = {}
        owner: dict[int, tuple] = {}
        retired: set[int] = set()
        stmt = select(Target.id, Target.code, Target.uscc, Target.reg_no, Target.department_id, Target.retired_at)
        for target_id, code, uscc, reg_no, dept_id, retired_at in self.session.execute(stmt):
            keys[code] = target_id
            if uscc:
                keys[uscc] = target_id
            if reg_no:
                keys[reg_no] = target_id
            if not self.sysadmin:
                owner[target_id] = (dept_id,)
            if retired_at is not None:
                retired.add(target_id)
        self.keys, self.owner, self.retired = keys, owner, retired

    def check(self, rowno: int, rec: dict, problems: list) -> None:
        type_ = rec.get("type")
        uscc, reg_no, code = rec.get("uscc"), rec.get("reg_no"), rec.get("code")
        if ok(type_):
            if type_ in rules.REGISTERED_TYPES:
                derived = uscc if ok(uscc) else (reg_no if ok(reg_no) else None)
                if derived is None and uscc is not INVALID and reg_no is not INVALID:
                    problems.append(("统一社会信用代码", "企业、个体工商户、农民专业合作社和分支机构须填写统一社会信用代码，"
                                                 "没有的填写 15 位注册号"))
                elif ok(code) and derived is not None and code != derived:
                    problems.append(("对象编码", f"登记主体的对象编码即其统一社会信用代码（没有的取注册号），"
                                              f"应为 {derived} 或留空"))
                if derived is not None:
                    rec["code"] = code = derived
            else:
                if ok(uscc) or ok(reg_no):
                    problems.append(("对象类型", "产品、项目、活动类检查对象使用对象编码，不填统一社会信用代码或注册号"))
                if code is None:
                    problems.append(("对象编码", "产品、项目、活动类检查对象须填写对象编码"))
        keys = []
        if uscc is not None and uscc is not INVALID:
            keys.append(("统一社会信用代码", uscc))
        if reg_no is not None and reg_no is not INVALID:
            keys.append(("注册号", reg_no))
        if code is not None and code is not INVALID and code != uscc and code != reg_no:
            keys.append(("对象编码", code))
        target_id = None
        if keys:
            self._dup(rowno, keys, problems)
            get = self.keys.get
            if len(keys) == 1:
                target_id = get(keys[0][1])
            else:
                ids = {get(k) for _, k in keys} - {None}
                if len(ids) > 1:
                    problems.append((None, "统一社会信用代码、注册号、对象编码分别对应名录中不同的检查对象，请核对"))
                elif ids:
                    target_id = ids.pop()
        if target_id is not None and target_id in self.retired:
            problems.append((None, "该检查对象已停用，不能通过导入修改；如需修改请先在系统中恢复"))
        rec["_id"] = target_id
        owner = None if target_id is None else (self.owner.get(target_id, (None,)) if not self.sysadmin else (None,))
        self._department(rec, problems, existing_owner=owner, header="维护部门", required=False)
        self._check_region(rec, problems)
        lat, lon = rec.get("latitude"), rec.get("longitude")
        if "latitude" in self.present or "longitude" in self.present:
            if lat is None and lon is None:
                rec["datum"] = None
                rec["latitude"] = rec["longitude"] = None
            elif lat is None or lon is None:
                if lat is not INVALID and lon is not INVALID:
                    problems.append(("经度" if lon is None else "纬度", "经度和纬度须同时填写或同时不填"))
            elif ok(lat) and ok(lon) and rec.get("datum") is None:
                problems.append(("坐标系", "填写经纬度时须注明坐标系（WGS-84 或 GCJ-02）"))
        if "tags" in self.present:
            tags = rec.get("tags")
            rec["tags_text"] = rules.tags_text(tags) if ok(tags) else ("" if tags is None else INVALID)
        if rec.get("status") is None:
            rec["status"] = "active" if target_id is None else KEEP


class InspectorImporter(Importer):
    kind = "inspectors"
    table = Inspector.__table__
    children = (InspectorConflict.__table__,)
    what = "执法检查人员"
    field_columns = {"cert_no": "cert_no", "name": "name", "department": "department_id", "position": "position",
                     "region_code": "region_code", "phone": "phone", "qualifications": "qualifications",
                     "expertise": "expertise_text", "status": "status"}
    defaults = {"cert_no": None, "name": None, "department_id": None, "position": None, "region_code": None,
                "phone": None, "qualifications": [], "expertise_text": "", "status": "active"}

    def prepare(self) -> None:
        self.declared: set[tuple[int, int]] = set()   # (inspector, target) whose conflict changed
        self._load_departments()
        self._load_regions()
        self.keys: dict[str, int] = {}
        self.owner: dict[int, tuple] = {}
        self.retired: set[int] = set()
        for ins_id, cert_no, dept_id, retired_at in self.session.execute(
                select(Inspector.id, Inspector.cert_no, Inspector.department_id, Inspector.retired_at)):
            self.keys[cert_no] = ins_id
            self.owner[ins_id] = (dept_id,)
            if retired_at is not None:
                self.retired.add(ins_id)
        self.targets: dict[str, int] | None = None

    def _target_keys(self) -> dict[str, int]:
        if self.targets is None:
            self.targets = {}
            for target_id, code, uscc, reg_no, _retired_at in self.session.execute(
                    select(Target.id, Target.code, Target.uscc, Target.reg_no, Target.retired_at)):
                for key in (code, uscc, reg_no):
                    if key:
                        self.targets[key] = target_id
        return self.targets

    def check(self, rowno: int, rec: dict, problems: list) -> None:
        cert_no = rec.get("cert_no")
        ins_id = None
        if ok(cert_no):
            self._dup(rowno, [("执法证号", cert_no)], problems)
            ins_id = self.keys.get(cert_no)
            if ins_id in self.retired:
                problems.append((None, "该执法检查人员已停用，不能通过导入修改；如需修改请先在系统中恢复"))
        rec["_id"] = ins_id
        self._department(rec, problems, existing_owner=None if ins_id is None else self.owner[ins_id],
                         header="所属部门", required=True)
        self._check_region(rec, problems)
        if "expertise" in self.present:
            tags = rec.get("expertise")
            rec["expertise_text"] = rules.tags_text(tags) if ok(tags) else ("" if tags is None else INVALID)
        if "qualifications" in self.present and rec.get("qualifications") is None:
            rec["qualifications"] = []
        if rec.get("status") is None:
            rec["status"] = "active" if ins_id is None else KEEP
        conflicts = rec.get("conflicts")
        if ok(conflicts):
            targets = self._target_keys()
            resolved: dict[int, str | None] = {}
            for code, reason in conflicts:
                target_id = targets.get(code)
                if target_id is None:
                    problems.append(("回避对象", f"回避对象 {code} 不在检查对象名录库中"))
                else:
                    resolved.setdefault(target_id, reason)
            rec["_conflicts"] = resolved
        elif "conflicts" in self.present and conflicts is None:
            rec["_conflicts"] = {}

    def sync_children(self, new: list[dict], old: list[dict], write: bool) -> set:
        self._insert(new, write, returning="conflicts" in self.present)
        if "conflicts" not in self.present:
            return set()
        changed: set[int] = set()
        existing: dict[int, dict[int, tuple]] = {}
        if old:
            for cid, ins_id, target_id, reason, retired_at in self.session.execute(
                    select(InspectorConflict.id, InspectorConflict.inspector_id, InspectorConflict.target_id,
                           InspectorConflict.reason, InspectorConflict.retired_at)
                    .where(self._pk_in(InspectorConflict.inspector_id, [r["_id"] for r in old]))):
                existing.setdefault(ins_id, {})[target_id] = (cid, reason, retired_at)
        inserts, updates = [], []
        for rec in new + old:
            ins_id = rec["_id"] if rec["_id"] is not None else rec.get("_new_id")
            wanted = rec.get("_conflicts", {})
            have = existing.get(rec["_id"], {}) if rec["_id"] is not None else {}
            for target_id, reason in wanted.items():
                current = have.get(target_id)
                if current is None:
                    inserts.append({"inspector_id": ins_id, "target_id": target_id,
                                    "reason": reason or io.CONFLICT_DEFAULT_REASON, "declared_at": self.now,
                                    "retired_at": None})
                    changed.add(rec["_id"])
                    self.declared.add((ins_id, target_id))
                else:
                    cid, old_reason, retired_at = current
                    new_reason = reason or old_reason
                    if retired_at is not None or new_reason != old_reason:
                        updates.append({"_pk": cid, "reason": new_reason, "retired_at": None,
                                        "declared_at": self.now if retired_at is not None else KEEP})
                        changed.add(rec["_id"])
                        self.declared.add((ins_id, target_id))
            for target_id, (cid, old_reason, retired_at) in have.items():
                if target_id not in wanted and retired_at is None:
                    updates.append({"_pk": cid, "reason": old_reason, "retired_at": self.now, "declared_at": KEEP})
                    changed.add(rec["_id"])
                    self.declared.add((ins_id, target_id))
        if write:
            table = InspectorConflict.__table__
            self.bulk.insert(table, inserts)
            reactivated = [u for u in updates if u["declared_at"] is not KEEP]
            others = [{k: v for k, v in u.items() if k != "declared_at"} for u in updates if u["declared_at"] is KEEP]
            self.bulk.update(table, "id", reactivated)
            self.bulk.update(table, "id", others)
        changed.discard(None)
        return changed


class ExpertImporter(Importer):
    kind = "experts"
    table = Expert.__table__
    what = "专家"
    field_columns = {"code": "code", "name": "name", "organization": "organization", "title": "title",
                     "fields": "fields_text", "phone": "phone", "department": "department_id", "status": "status"}
    defaults = {"code": None, "name": None, "organization": None, "title": None, "fields_text": "", "phone": None,
                "department_id": None, "status": "active"}

    def prepare(self) -> None:
        self._load_departments()
        self.keys: dict[str, int] = {}
        self.owner: dict[int, tuple] = {}
        self.retired: set[int] = set()
        for ex_id, code, dept_id, retired_at in self.session.execute(
                select(Expert.id, Expert.code, Expert.department_id, Expert.retired_at)):
            self.keys[code] = ex_id
            self.owner[ex_id] = (dept_id,)
            if retired_at is not None:
                self.retired.add(ex_id)

    def check(self, rowno: int, rec: dict, problems: list) -> None:
        code = rec.get("code")
        ex_id = None
        if ok(code):
            self._dup(rowno, [("专家编号", code)], problems)
            ex_id = self.keys.get(code)
            if ex_id in self.retired:
                problems.append((None, "该专家已停用，不能通过导入修改；如需修改请先在系统中恢复"))
        rec["_id"] = ex_id
        self._department(rec, problems, existing_owner=None if ex_id is None else self.owner[ex_id],
                         header="所属部门", required=True)
        if "fields" in self.present:
            tags = rec.get("fields")
            rec["fields_text"] = rules.tags_text(tags) if ok(tags) else ("" if tags is None else INVALID)
        if rec.get("status") is None:
            rec["status"] = "active" if ex_id is None else KEEP


class ItemImporter(Importer):
    kind = "items"
    table = Item.__table__
    children = (CheckPoint.__table__,)
    what = "抽查事项"
    field_columns = {"code": "code", "category": "category", "name": "name", "object_types": "object_types",
                     "kind": "kind", "methods": "methods", "legal_basis": "legal_basis",
                     "department": "department_id", "ratio_cap_percent": "ratio_cap_percent",
                     "frequency": "frequency", "remark": "remark"}
    defaults = {"code": None, "category": None, "name": None, "object_types": [], "kind": None, "methods": [],
                "legal_basis": "", "department_id": None, "ratio_cap_percent": None, "frequency": None,
                "remark": None}

    def prepare(self) -> None:
        self._load_departments()
        self.keys: dict[str, int] = {}
        self.owner: dict[int, tuple] = {}
        self.retired: set[int] = set()
        for item_id, code, dept_id, retired_at in self.session.execute(
                select(Item.id, Item.code, Item.department_id, Item.retired_at)):
            self.keys[code] = item_id
            self.owner[item_id] = (dept_id,)
            if retired_at is not None:
                self.retired.add(item_id)

    def check(self, rowno: int, rec: dict, problems: list) -> None:
        code = rec.get("code")
        item_id = None
        if ok(code):
            self._dup(rowno, [("事项编码", code)], problems)
            item_id = self.keys.get(code)
            if item_id in self.retired:
                problems.append((None, "该抽查事项已停用，不能通过导入修改；如需修改请先在系统中恢复"))
        rec["_id"] = item_id
        self._department(rec, problems, existing_owner=None if item_id is None else self.owner[item_id],
                         header="检查主体", required=True)
        if rec.get("kind") == "key" and ok(rec.get("ratio_cap_percent")):
            problems.append(("抽查比例上限（%）", "重点检查事项不设抽查比例上限，请留空"))
        if "legal_basis" in self.present and rec.get("legal_basis") is None:
            rec["legal_basis"] = ""

    def sync_children(self, new: list[dict], old: list[dict], write: bool) -> set:
        self._insert(new, write, returning="check_points" in self.present)
        if "check_points" not in self.present:
            return set()
        changed: set[int] = set()
        existing: dict[int, dict[int, tuple]] = {}
        if old:
            for cp_id, item_id, seq, text, answer_type, options, retired_at in self.session.execute(
                    select(CheckPoint.id, CheckPoint.item_id, CheckPoint.seq, CheckPoint.text, CheckPoint.answer_type,
                           CheckPoint.options, CheckPoint.retired_at)
                    .where(self._pk_in(CheckPoint.item_id, [r["_id"] for r in old]))):
                existing.setdefault(item_id, {})[seq] = (cp_id, text, answer_type, options, retired_at)
        inserts, updates = [], []
        for rec in new + old:
            item_id = rec["_id"] if rec["_id"] is not None else rec.get("_new_id")
            points = rec.get("check_points")
            points = points if ok(points) else []
            have = existing.get(rec["_id"], {}) if rec["_id"] is not None else {}
            for seq, (text, answer_type, options) in enumerate(points, start=1):
                current = have.get(seq)
                if current is None:
                    inserts.append({"item_id": item_id, "seq": seq, "text": text, "answer_type": answer_type,
                                    "options": options, "required": True, "guidance": None, "retired_at": None})
                    changed.add(rec["_id"])
                elif current[1:] != (text, answer_type, options, None):
                    updates.append({"_pk": current[0], "text": text, "answer_type": answer_type, "options": options,
                                    "retired_at": None})
                    changed.add(rec["_id"])
            for seq, (cp_id, text, answer_type, options, retired_at) in have.items():
                if seq > len(points) and retired_at is None:
                    updates.append({"_pk": cp_id, "text": text, "answer_type": answer_type, "options": options,
                                    "retired_at": self.now})
                    changed.add(rec["_id"])
        if write:
            table = CheckPoint.__table__
            self.bulk.insert(table, inserts)
            self.bulk.update(table, "id", updates)
        changed.discard(None)
        return changed


class DepartmentImporter(Importer):
    kind = "departments"
    table = Department.__table__
    what = "部门"
    field_columns = {"code": "code", "name": "name", "short_name": "short_name", "region_code": "region_code"}
    defaults = {"code": None, "name": None, "short_name": None, "region_code": None}

    def prepare(self) -> None:
        self._load_regions()
        self.keys: dict[str, int] = {}
        self.names: dict[str, tuple[int, str]] = {}
        self.retired: set[int] = set()
        for dept_id, code, name, retired_at in self.session.execute(
                select(Department.id, Department.code, Department.name, Department.retired_at)):
            self.keys[code] = dept_id
            self.names[name] = (dept_id, code)
            if retired_at is not None:
                self.retired.add(dept_id)
        self.seen_names: dict[str, int] = {}

    def check(self, rowno: int, rec: dict, problems: list) -> None:
        code, name = rec.get("code"), rec.get("name")
        dept_id = None
        if ok(code):
            self._dup(rowno, [("部门代码", code)], problems)
            dept_id = self.keys.get(code)
            if dept_id in self.retired:
                problems.append((None, "该部门已停用，不能通过导入修改；如需修改请先在系统中恢复"))
        if ok(name):
            first = self.seen_names.setdefault(name, rowno)
            if first != rowno:
                problems.append(("部门名称", f"部门名称“{name}”与第 {first} 行重复"))
            other = self.names.get(name)
            if other is not None and other[0] != dept_id:
                problems.append(("部门名称", f"部门名称“{name}”已被部门 {other[1]} 使用"))
        rec["_id"] = dept_id
        self._check_region(rec, problems)


class RegionImporter(Importer):
    """Regions are few (a county's towns, a province's counties): rows are kept and written at the end,
    parents before children, so that a parent may come anywhere in the file."""

    kind = "regions"
    table = Region.__table__
    what = "行政区划"
    field_columns = {"name": "name", "level": "level", "parent_code": "parent_code"}
    defaults = {"code": None, "name": None, "level": None, "parent_code": None}
    timestamps = False
    pk = "code"

    def prepare(self) -> None:
        self._load_regions()
        self.rows: list[tuple[int, dict]] = []

    def check(self, rowno: int, rec: dict, problems: list) -> None:
        code = rec.get("code")
        if ok(code):
            self._dup(rowno, [("区划代码", code)], problems)
            if code in self.regions_retired:
                problems.append((None, "该行政区划已停用，不能通过导入修改；如需修改请先在系统中恢复"))
            rec["_id"] = code if (code in self.regions or code in self.regions_retired) else None
            if rec.get("level") is None:
                rec["level"] = rules.region_level_for(code) if rec["_id"] is None else KEEP
            elif ok(rec["level"]) and (rec["level"] == "town") != (len(code) == 9):
                problems.append(("级别", "9 位代码为乡镇/街道，6 位代码为县级及以上"))
        else:
            rec["_id"] = None
        parent = rec.get("parent_code")
        if ok(parent) and ok(code):
            if parent == code or len(parent) > len(code) or not code.startswith(rules.region_prefix(parent)):
                problems.append(("上级区划代码", f"{parent} 不是 {code} 的上级区划"))
        if not problems:
            self.rows.append((rowno, rec))

    def flush(self, rows: list[dict], write: bool) -> None:
        pass  # everything is written in finish()

    def finish(self, write: bool, problems: list) -> None:
        in_file = {rec["code"] for _, rec in self.rows}
        for rowno, rec in self.rows:
            parent = rec.get("parent_code")
            if ok(parent) and parent not in self.regions and parent not in in_file:
                reason = (f"上级区划 {parent} 已停用" if parent in self.regions_retired
                          else f"上级区划代码 {parent} 不存在（系统和本文件中都没有）")
                problems.append((rowno, [("上级区划代码", reason)]))
        if problems:
            return
        ordered = sorted((rec for _, rec in self.rows), key=lambda r: (len(rules.region_prefix(r["code"])), r["code"]))
        for start in range(0, len(ordered), CHUNK):
            Importer.flush(self, ordered[start:start + CHUNK], write)


IMPORTERS: dict[str, type[Importer]] = {cls.kind: cls for cls in (
    TargetImporter, InspectorImporter, ExpertImporter, ItemImporter, DepartmentImporter, RegionImporter)}


# --- the import -----------------------------------------------------------------------------------------

def _phrase(header: str | None, reason: str) -> str:
    if header is None or reason.startswith(header):
        return reason
    return f"{header}：{reason}"


def _row_error(rowno: int, problems: list) -> dict:
    text = "；".join(_phrase(h, r) for h, r in problems)
    return {"row": rowno, "message": f"第 {rowno} 行：{text}",
            "problems": [{"column": h, "reason": r} for h, r in problems]}


class _Scan:
    """One pass over the file."""

    def __init__(self, importer: Importer, columns, *, write: bool, compare: bool, chunk_size: int,
                 max_errors: int, progress: Progress | None, estimate: int | None, label: str):
        self.importer, self.columns = importer, columns
        self.write, self.compare, self.chunk_size = write, compare, chunk_size
        self.max_errors, self.progress, self.estimate, self.label = max_errors, progress, estimate, label
        self.errors: list[dict] = []
        self.error_count = 0
        self.rows = 0

    def add_error(self, rowno: int, problems: list) -> None:
        self.error_count += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(_row_error(rowno, problems))

    def run(self, table: io.Table) -> None:
        importer = self.importer
        cols = [(idx, col.field, col.parse, col.required, col.header) for idx, col in self.columns]
        idxs = [c[0] for c in cols]
        width = max(idxs) + 1
        chunk: list[dict] = []
        progress_every = PROGRESS_EVERY
        for rowno, values in table.rows():
            if len(values) < width:
                values = values + [None] * (width - len(values))
            get = values.__getitem__
            if not any(map(get, idxs)):
                continue  # a blank row
            self.rows += 1
            rec: dict[str, Any] = {}
            problems: list = []
            for idx, field, parse, required, header in cols:
                value = values[idx]
                if value is None:
                    if required:
                        problems.append((header, "不能为空"))
                        rec[field] = INVALID
                    else:
                        rec[field] = None
                    continue
                if "\x00" in value:  # PostgreSQL text cannot hold NUL
                    problems.append((header, "含有不可见的控制字符（NUL），请删除后重试"))
                    rec[field] = INVALID
                    continue
                try:
                    rec[field] = parse(value)
                except io.CellError as err:
                    problems.append((header, err.reason))
                    rec[field] = INVALID
            importer.check(rowno, rec, problems)
            if problems:
                self.add_error(rowno, problems)
                chunk = []
            elif self.error_count == 0 and (self.write or self.compare):
                chunk.append(rec)
                if len(chunk) >= self.chunk_size:
                    importer.flush(chunk, self.write)
                    chunk = []
            if self.progress is not None and self.rows % progress_every == 0:
                total = max(self.estimate or 0, self.rows)
                self.progress(self.rows, total, f"{self.label}：已处理 {self.rows} 行"
                              + (f"，发现 {self.error_count} 行有误" if self.error_count else ""))
        if chunk and self.error_count == 0:
            importer.flush(chunk, self.write)
        late: list = []
        importer.finish(self.write and self.error_count == 0, late)
        for rowno, problems in late:
            self.add_error(rowno, problems)


def import_file(session: Session, actor: Actor, kind: str, path: str | Path, *, file_name: str,
                fmt: str | None = None, sha256: str | None = None, dry_run: bool = False,
                default_department_id: int | None = None, progress: Progress | None = None,
                max_errors: int = 500, chunk_size: int = CHUNK, strategy: str = "optimistic",
                use_copy: bool = True, limits: io.Limits | None = None) -> dict:
    """Import ``path`` into the list ``kind``; all rows or none. Returns the counts.

    Raises ``BadRows`` (``import.bad_rows``, details hold the numbered rows and reasons) when any row
    is wrong, ``io.FileProblem`` for a file that cannot be read, whose header is wrong or that goes
    beyond ``limits`` (``readers.Limits``: unpacked size, rows, cell length…).
    On PostgreSQL the written tables are analysed after the commit (``backend.db.analyze``).
    """
    from backend.media.storage import file_sha256

    spec = io.spec_for(kind)
    ensure_can_import(actor, kind)
    fmt = fmt or io.format_of(file_name)
    sha256 = sha256 or file_sha256(path)
    if default_department_id is not None and actor.role != Role.SYSADMIN \
            and default_department_id != actor.department_id:
        raise Forbidden("只能导入到本部门", code="forbidden.department")
    started = time.monotonic()
    summary = {"list": kind, "list_title": spec.title, "file_name": file_name, "sha256": sha256,
               "dry_run": bool(dry_run)}

    def report(done, total, message, force=False):
        if progress is not None:
            progress(done, total, message, force=force)

    def one_pass(write: bool, compare: bool, label: str) -> tuple[_Scan, Importer]:
        with io.open_table(path, fmt, limits) as table:
            columns = spec.resolve(table.headers)
            importer = IMPORTERS[kind](session, actor, {c.field for _, c in columns}, default_department_id,
                                       use_copy=use_copy)
            importer.prepare()
            scan = _Scan(importer, columns, write=write, compare=compare, chunk_size=chunk_size,
                         max_errors=max_errors, progress=progress, estimate=table.estimated_rows, label=label)
            scan.run(table)
        return scan, importer

    try:
        if strategy == "two_pass" and not dry_run:
            scan, importer = one_pass(False, False, "校验")
            if scan.error_count == 0 and scan.rows:
                session.rollback()  # the checking transaction read nothing it needs to keep
                scan, importer = one_pass(True, True, "写入")
        else:
            scan, importer = one_pass(not dry_run, True, "校验" if dry_run else "校验并写入")
    except WRITE_ERRORS as exc:
        session.rollback()
        raise Conflict("写入时与数据库中的数据冲突（可能有人正在同时修改名录），未导入任何数据，请稍后重试",
                       code="import.conflict",
                       details={**summary, "reason": type(getattr(exc, "orig", exc)).__name__}) from None
    except BaseException:
        session.rollback()
        raise

    summary["rows"] = scan.rows
    if scan.error_count:
        session.rollback()
        report(scan.rows, scan.rows, f"校验未通过：{scan.error_count} 行有误，未导入任何数据", force=True)
        shown = len(scan.errors)
        more = f"（只列出前 {shown} 行）" if shown < scan.error_count else ""
        raise BadRows(f"{spec.title}导入失败：共 {scan.rows} 行，其中 {scan.error_count} 行有误{more}，未导入任何数据",
                      details={**summary, "error_count": scan.error_count, "errors_shown": shown,
                               "errors": scan.errors})
    if scan.rows == 0:
        session.rollback()
        raise io.FileProblem("文件中没有数据行（第 1 行为表头，数据从第 2 行开始）", code="import.no_rows")
    summary.update(created=importer.created, updated=importer.updated, unchanged=importer.unchanged)
    if dry_run:
        session.rollback()
        summary["seconds"] = round(time.monotonic() - started, 3)
        report(scan.rows, scan.rows, f"校验通过：共 {scan.rows} 行（未写入）", force=True)
        return summary
    touched = getattr(importer, "declared", None)
    if touched:   # conflicts of interest declared or withdrawn: the drawn inspections they concern go to the phones
        from backend.inspections.access import announce_declarations

        announce_declarations(session, touched)
    audit.record(session, actor, f"{kind}.import", kind, None,
                 detail={"file_name": file_name, "sha256": sha256, "format": fmt, "rows": scan.rows,
                         "created": importer.created, "updated": importer.updated,
                         "unchanged": importer.unchanged},
                 department_id=actor.department_id if actor.role != Role.SYSADMIN else default_department_id)
    try:
        session.commit()
    except WRITE_ERRORS as exc:
        session.rollback()
        raise Conflict("写入时与数据库中的数据冲突（可能有人正在同时修改名录），未导入任何数据，请稍后重试",
                       code="import.conflict",
                       details={**summary, "reason": type(getattr(exc, "orig", exc)).__name__}) from None
    analyze(session, *importer.tables)  # autovacuum may be off: the planner needs statistics now
    summary["seconds"] = round(time.monotonic() - started, 3)
    report(scan.rows, scan.rows, f"导入完成：新增 {importer.created} 条，更新 {importer.updated} 条，"
                                 f"未变 {importer.unchanged} 条", force=True)
    return summary


def department_id_for(session: Session, code: str | None) -> int | None:
    """A department's id from its code (CLI ``--department``, the upload form); None for None."""
    if not code:
        return None
    row = session.execute(select(Department.id, Department.name, Department.retired_at)
                          .where(Department.code == code.strip().upper())).first()
    if row is None:
        row = session.execute(select(Department.id, Department.name, Department.retired_at)
                              .where(Department.name == code.strip())).first()
    if row is None:
        raise DomainError(f"部门“{code}”不存在", code="import.unknown_department", status=422)
    if row.retired_at is not None:
        raise DomainError(f"部门“{row.name}”已停用", code="import.retired_department", status=422)
    return row.id
