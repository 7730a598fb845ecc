"""What plans and tasks share: vocabulary, input helpers, ratios and the items' ratio cap, readers."""
from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Callable, Iterable, Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.auth.rules import ensure_role
from backend.auth.roles import Role
from backend.directory.models import Department, Item
from backend.errors import Forbidden, InvalidInput, NotFound

MAX_ID = 2**31 - 1
RISK_STRATA = ("A", "B", "C", "D", "U")       # "U": targets without a risk class
RATIO_KEYS = RISK_STRATA + ("all",)
MAX_RATIO_TERM = 1_000_000                     # num, den: small integers, exact in any JSON reader
MAX_COUNT = 1_000_000_000                      # min, cap: counts of targets
PLAN_KINDS = {"department": "部门计划", "joint": "联合计划"}
# the level that set the plan and its tasks (抽查覆盖率 by level, docs/figures.md); the keys are figure_fact.level's
PLAN_LEVELS = {"province": "省级", "city": "市级", "county": "县级"}
STRATA_MODES = {"risk": "按信用风险分类分层", "all": "不分层"}
DEPT_ROLES = {"lead": "牵头部门", "participant": "参与部门"}

READ_ALL = frozenset({Role.SYSADMIN, Role.SUPERVISOR})
EDITORS = frozenset({Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER})
APPROVERS = frozenset({Role.SYSADMIN, Role.DEPT_ADMIN})
READERS = EDITORS | {Role.SUPERVISOR}


# --- small helpers ----------------------------------------------------------------------------

def _invalid(code: str, message: str, field: str | None = None, detail: Any = None) -> InvalidInput:
    errors = {field: detail if detail is not None else [message]} if field else None
    return InvalidInput(message, code=code, errors=errors)


def _text(value: Any, field: str, code: str, label: str, *, required: bool = True,
          max_len: int | None = None) -> str | None:
    if value is None:
        if required:
            raise _invalid(code, f"{label}不能为空", field)
        return None
    if not isinstance(value, str):
        raise _invalid(code, f"{label}应为文本", field)
    value = value.strip()
    if "\x00" in value:
        raise _invalid(code, f"{label}不能包含空字符", field)
    if not value:
        if required:
            raise _invalid(code, f"{label}不能为空", field)
        return None
    if max_len is not None and len(value) > max_len:
        raise _invalid(code, f"{label}长度不能超过 {max_len}", field)
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ids(values: Iterable[Any], field: str, code: str) -> list[int]:
    """Unique ids in order; refuses anything that is not a plausible row id."""
    out: list[int] = []
    for value in values or []:
        if not _is_int(value) or not 1 <= value <= MAX_ID:
            raise _invalid(code, f"{field} 中的编号 {value!r} 无效", field)
        if value not in out:
            out.append(value)
    return out


def _valid_id(value: Any) -> bool:
    return _is_int(value) and 1 <= value <= MAX_ID


def _lock(session: Session, model, row_id: int) -> None:
    """Take the row lock (PostgreSQL) before reading a row that this transaction will change."""
    session.execute(select(model.id).where(model.id == row_id).with_for_update())


def _next_code(session: Session, column, prefix: str) -> str:
    existing = session.scalars(select(column).where(column.startswith(prefix, autoescape=True))).all()
    numbers = [int(c[len(prefix):]) for c in existing if c[len(prefix):].isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:03d}"


def _dept_label(dept: Department | None) -> str:
    return f"{dept.name}（{dept.code}）" if dept is not None else "?"


def _departments(session: Session, ids: list[int], field: str, code: str) -> dict[int, Department]:
    rows = {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(ids)))} if ids else {}
    for dept_id in ids:
        dept = rows.get(dept_id)
        if dept is None:
            raise _invalid(code, f"部门 {dept_id} 不存在", field)
        if dept.retired_at is not None:
            raise _invalid(code, f"部门{_dept_label(dept)}已停用", field)
    return rows


def _sync_rows(rows: list, key: Callable[[Any], Any], wanted: Mapping, update: Callable[[Any, Any], None],
               create: Callable[[Any, Any], Any]) -> None:
    """Make a relationship's rows one per key of ``wanted``, by natural key: a row whose key is not
    wanted is removed, the others get ``update(row, value)``, a missing key ``create(key, value)``,
    appended in ``wanted``'s order. A key is never deleted and inserted again in one flush."""
    for row in list(rows):
        if key(row) in wanted:
            update(row, wanted[key(row)])
        else:
            rows.remove(row)
    have = {key(row) for row in rows}
    for k, value in wanted.items():
        if k not in have:
            rows.append(create(k, value))


# --- ratios (shared by plans and tasks) -------------------------------------------------------

def clean_ratio(value: Any, *, field: str, code: str) -> dict:
    """One stratum's ratio in DRAW.md's shape: {num, den, min?, cap?}, integers only."""
    if not isinstance(value, Mapping):
        raise _invalid(code, "抽取比例应为对象 {num, den, min, cap}", field)
    unknown = set(value) - {"num", "den", "min", "cap"}
    if unknown:
        raise _invalid(code, f"抽取比例含不允许的字段：{'、'.join(sorted(map(str, unknown)))}", field)
    num, den, low, cap = value.get("num"), value.get("den"), value.get("min"), value.get("cap")
    if not _is_int(num) or not 0 <= num <= MAX_RATIO_TERM:
        raise _invalid(code, f"抽取比例的分子应为 0 到 {MAX_RATIO_TERM} 的整数", field)
    if not _is_int(den) or not 1 <= den <= MAX_RATIO_TERM:
        raise _invalid(code, f"抽取比例的分母应为 1 到 {MAX_RATIO_TERM} 的整数", field)
    if num > den:
        raise _invalid(code, f"抽取比例 {num}/{den} 不能大于 1", field)
    if low is not None and (not _is_int(low) or not 0 <= low <= MAX_COUNT):
        raise _invalid(code, "最少抽取数应为不小于 0 的整数", field)
    if cap is not None and (not _is_int(cap) or not 1 <= cap <= MAX_COUNT):
        raise _invalid(code, "最多抽取数应为不小于 1 的整数", field)
    if low is not None and cap is not None and low > cap:
        raise _invalid(code, f"最少抽取数 {low} 不能大于最多抽取数 {cap}", field)
    out = {"num": num, "den": den}
    if low is not None:
        out["min"] = low
    if cap is not None:
        out["cap"] = cap
    return out


def clean_ratio_rules(value: Any, *, field: str = "ratio_rules", code: str = "plan.bad_ratio",
                      keys: Iterable[str] = RATIO_KEYS) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _invalid(code, "抽取比例应为按分层给出的对象", field)
    allowed = tuple(keys)
    out = {}
    for key in sorted(value, key=str):
        if key not in allowed:
            raise _invalid(code, f"分层 {key} 无效，应为 {'/'.join(allowed)} 之一", field)
        out[key] = clean_ratio(value[key], field=f"{field}.{key}", code=code)
    return out


def cap_units(cap_percent: Any) -> int:
    """An item's ratio cap in thousandths of a percent, exactly (Numeric(6, 3))."""
    try:
        value = Decimal(str(cap_percent)) if not isinstance(cap_percent, Decimal) else cap_percent
        return int((value * 1000).quantize(Decimal(1), rounding=ROUND_HALF_EVEN))
    except (InvalidOperation, ValueError) as exc:  # pragma: no cover - the column holds numbers
        raise InvalidInput(f"事项的抽查比例上限 {cap_percent!r} 无效", code="task.bad_item_cap") from exc


def ratio_within_cap(num: int, den: int, cap_percent: Any) -> bool:
    """num/den ≤ cap% in integers: num·100·1000 ≤ cap·1000·den."""
    return num * 100 * 1000 <= cap_units(cap_percent) * den


def _percent_text(cap_percent: Any) -> str:
    text = format(Decimal(cap_units(cap_percent)) / 1000, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text



def cap_violations(strata: Mapping, items: Iterable[Item]) -> list[dict]:
    """Every (general item, stratum) whose ratio num/den exceeds the item's cap: tightest cap first,
    then by item code and stratum. Key items have no cap."""
    capped = sorted((i for i in items if i.kind == "general" and i.ratio_cap_percent is not None),
                    key=lambda i: (cap_units(i.ratio_cap_percent), i.code))
    out = []
    for item in capped:
        for key in sorted(strata):
            ratio = strata[key]
            if not ratio_within_cap(ratio["num"], ratio["den"], item.ratio_cap_percent):
                out.append({"item": item.code, "name": item.name, "cap_percent": _percent_text(item.ratio_cap_percent),
                            "stratum": key, "num": ratio["num"], "den": ratio["den"]})
    return out


def check_cap(strata: Mapping, items: Iterable[Item]) -> None:
    """A task's strata within the smallest cap of its general items (``task.ratio_above_cap``)."""
    found = cap_violations(strata, items)
    if found:
        v = found[0]
        raise InvalidInput(
            f"一般检查事项「{v['name']}」（{v['item']}）的抽查比例上限为 {v['cap_percent']}%，"
            f"分层 {v['stratum']} 的比例 {v['num']}/{v['den']} 超过了上限",
            code="task.ratio_above_cap", errors={f"strata.{v['stratum']}": [f"不能超过 {v['cap_percent']}%"]},
            details={"item": v["item"], "cap_percent": v["cap_percent"], "stratum": v["stratum"]})


# --- reading ---------------------------------------------------------------------------------

def _ensure_reader(actor: Actor, department_ids: set[int], what: str) -> None:
    """Sysadmins and supervisors read all; planners and dept admins what their department leads or joins."""
    ensure_role(actor, READERS)
    if actor.role in READ_ALL:
        return
    if actor.department_id is None or actor.department_id not in department_ids:
        raise Forbidden(f"只能查看本部门牵头或参与的{what}", code="forbidden.department")


def _department_scope(actor: Actor, requested: int | None, what: str) -> int | None:
    """The department a staff list is limited to: the one asked for (None: all) for sysadmins and
    supervisors; planners and dept admins their own, and no other."""
    ensure_role(actor, READERS)
    if actor.role in READ_ALL:
        return requested
    if requested is not None and requested != actor.department_id:
        raise Forbidden(f"只能查看本部门牵头或参与的{what}", code="forbidden.department")
    if actor.department_id is None:
        raise Forbidden(f"账号未归属部门，不能查看{what}", code="forbidden.department")
    return actor.department_id


def _code_of(dept: Department | None) -> str | None:
    return dept.code if dept is not None else None


def _get(session: Session, model, row_id: Any, lock: bool, message: str, code: str):
    """A row by id (row-locked when asked), or 404 with the given message."""
    if not _valid_id(row_id):
        raise NotFound(message, code=code)
    if lock:
        _lock(session, model, row_id)
    row = session.get(model, row_id, populate_existing=lock)
    if row is None:
        raise NotFound(message, code=code)
    return row
