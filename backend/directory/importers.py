"""Each list's importer: how a row of targets, inspectors (with their declared conflicts), experts,
items (with their check points), departments or regions is checked against what is stored and written.

No Flask here.
"""
from __future__ import annotations

from sqlalchemy import select

from backend.directory import rules
from backend.directory.cells import CONFLICT_DEFAULT_REASON
from backend.directory.import_base import CHUNK, INVALID, KEEP, Importer, ok
from backend.directory.models import CheckPoint, Department, Expert, Inspector, InspectorConflict, Item, Region, Target


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
            self._refuse_retired(problems)
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
        self._tags(rec, "tags", "tags_text")
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
        self._load_keys(Inspector.cert_no)
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
        ins_id = self._match(rowno, rec, problems, "cert_no", "执法证号")
        self._department(rec, problems, existing_owner=None if ins_id is None else self.owner[ins_id],
                         header="所属部门", required=True)
        self._check_region(rec, problems)
        self._tags(rec, "expertise", "expertise_text")
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
                                    "reason": reason or CONFLICT_DEFAULT_REASON, "declared_at": self.now,
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
        self._load_keys(Expert.code)

    def check(self, rowno: int, rec: dict, problems: list) -> None:
        ex_id = self._match(rowno, rec, problems, "code", "专家编号")
        self._department(rec, problems, existing_owner=None if ex_id is None else self.owner[ex_id],
                         header="所属部门", required=True)
        self._tags(rec, "fields", "fields_text")
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
        self._load_keys(Item.code)

    def check(self, rowno: int, rec: dict, problems: list) -> None:
        item_id = self._match(rowno, rec, problems, "code", "事项编码")
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
                self._refuse_retired(problems)
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
                self._refuse_retired(problems)
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
