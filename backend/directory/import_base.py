"""What every list's importer shares (``Importer``): compact state loaded once (natural key → id,
departments, regions), the checks of a department or region cell and of duplicates within the file,
and the writing of a chunk: new rows inserted, existing rows compared with what is stored and only
the changed columns updated (``bulk.BulkWriter``). Each list's rules are in ``importers.py``.

No Flask here.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.auth.roles import Role
from backend.db import utcnow
from backend.directory import rules
from backend.directory.bulk import BulkWriter
from backend.directory.models import Department, Region
from backend.errors import Conflict

CHUNK = 2000


class _Invalid:
    """A cell that did not parse (its problem is already recorded)."""

    def __repr__(self):
        return "INVALID"


INVALID = _Invalid()
KEEP = object()  # update: leave the stored value as it is


def ok(value) -> bool:
    return value is not None and value is not INVALID


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

    def _load_keys(self, key_column) -> None:
        """Natural key → id, each row's department and the retired ids, for a list with one natural key
        and a department (inspectors, experts, items)."""
        model = key_column.class_
        self.keys: dict[str, int] = {}
        self.owner: dict[int, tuple] = {}
        self.retired: set[int] = set()
        for row_id, key, dept_id, retired_at in self.session.execute(
                select(model.id, key_column, model.department_id, model.retired_at)):
            self.keys[key] = row_id
            self.owner[row_id] = (dept_id,)
            if retired_at is not None:
                self.retired.add(row_id)

    def _refuse_retired(self, problems: list) -> None:
        problems.append((None, f"该{self.what}已停用，不能通过导入修改；如需修改请先在系统中恢复"))

    def _match(self, rowno: int, rec: dict, problems: list, field: str, header: str) -> int | None:
        """The id of the stored row the row's natural key (``field``) names, or None for a new row; sets
        ``rec["_id"]``. A key met before in the file, or a retired row, is a problem."""
        key = rec.get(field)
        row_id = None
        if ok(key):
            self._dup(rowno, [(header, key)], problems)
            row_id = self.keys.get(key)
            if row_id in self.retired:
                self._refuse_retired(problems)
        rec["_id"] = row_id
        return row_id

    def _tags(self, rec: dict, field: str, column: str) -> None:
        """A tags cell into its stored ",a,b," column, when the file has the column."""
        if field in self.present:
            tags = rec.get(field)
            rec[column] = rules.tags_text(tags) if ok(tags) else ("" if tags is None else INVALID)

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
            if self.table.name == "target":   # the figures: a business's region moves its inspections, and
                from backend.figures import facts   # the registered businesses per region are counted again

                facts.note(self.session, "target", [c["_pk"] for c in changes if "region_code" in c])
                facts.note(self.session, "region", ["*"])
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
