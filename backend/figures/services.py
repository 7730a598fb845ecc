"""The supervisors' figures (issue 12 §5): counts over inspections, each a numerator over a denominator, with
the list of inspections behind every number. Definitions in words: docs/figures.md. No Flask here.

One population for every figure: the inspections drawn (assigned, in progress or completed; not replaced
nor superseded) in tasks whose end date falls in the period, narrowed by department (tasks it takes part
in), region (the business's region code, by prefix), task and plan. 未公示即未检查: an inspection is *done*
only when submitted **and** published (or approved 不适合公开); a submitted but unpublished inspection counts
as not done in every figure.
"""
from __future__ import annotations

import calendar as _calendar
import dataclasses
import datetime as dt
import re

from sqlalchemy import Date, and_, case, func, literal_column, or_, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from backend.actor import Actor
from backend.auth.roles import Role
from backend.auth.rules import department_scope, ensure_role
from backend.directory.models import Target
from backend.directory.rules import region_prefix
from backend.errors import InvalidInput, NotFound
from backend.inspections.models import Inspection, Record, Section
from backend.plans.models import Task, TaskDepartment
from sync.models import SyncClient, SyncMutation

READERS = (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN)
DRAWN = ("assigned", "in_progress", "completed")
# the strata a business is drawn in: its risk class (U: not classified), or "all" in a task drawn in one stratum
RISK_CLASSES = ("A", "B", "C", "D", "U", "all")
# the result categories that say a problem was found (docs/figures.md, 问题发现率)
PROBLEM_CATEGORIES = ("pending_followup", "unpublished_info", "false_info", "unreachable", "other_violation",
                      "corrected")
PARTS = ("numerator", "denominator", "missing")
# the expression the GIN index of migration 0014 (and Record's table args) covers
RECORD_CATEGORIES = "CAST(inspection_record.data AS jsonb) -> 'result_categories'"


@dataclasses.dataclass(frozen=True)
class Figure:
    key: str
    label: str
    numerator: str        # what the numerator counts (Chinese, for the table and the export)
    denominator: str
    target: float | None  # the seeds' target rate, if any
    items: bool = True    # whether the numbers open a list of inspections


FIGURES = {f.key: f for f in (
    Figure("completion", "抽查完成率", "已完成（已公示或经批准不公开）的检查", "抽取的检查", None),
    Figure("on_time_completion", "按时完成率", "在任务截止日前完成且已公示的检查", "抽取的检查", 1.0),
    Figure("publication", "结果公示率", "已公示或经批准不适合公开的检查", "已提交的检查", 1.0),
    Figure("on_time_publication", "按时公示率", "在公示期限内公示或经批准不公开的检查", "已提交的检查", 1.0),
    Figure("followup", "后续处置率", "已办结的后续处置", "到期的后续处置", 1.0, items=False),
    Figure("coverage", "抽查覆盖率", "本期检查完成的不同企业", "区域内登记的企业", 0.03),
    Figure("mobile", "掌上执法率", "各部门检查内容均由手机录入的检查", "已完成的检查", 0.9),
    Figure("joint", "进一次门、查多项事", "各次检查参加的部门数之和", "已完成的检查（进门次数）", None),
    Figure("risk_ratio", "风险分类应用率", "按风险等级设定不同抽查比例的任务", "任务", 0.9, items=False),
    Figure("problem_found", "问题发现率", "发现问题的已完成检查", "已完成的检查", None),
)}


# --- the period and the filters -----------------------------------------------------------------------------

PERIOD_RE = re.compile(r"^(\d{4})(?:-(?:(0[1-9]|1[0-2])|Q([1-4])))?$")


@dataclasses.dataclass(frozen=True)
class Period:
    text: str
    first: dt.date
    last: dt.date

    def months(self) -> list[Period]:
        out, day = [], self.first
        while day <= self.last:
            out.append(parse_period(f"{day.year}-{day.month:02d}"))
            day = dt.date(day.year + day.month // 12, day.month % 12 + 1, 1)
        return out


def parse_period(text: str | None, today: dt.date | None = None) -> Period:
    """``2026`` (a year), ``2026-Q2`` (a quarter), ``2026-05`` (a month); none: the current year."""
    if text is None:
        text = str((today or dt.date.today()).year)
    m = PERIOD_RE.match(text.strip()) if isinstance(text, str) else None
    if m is None or not 2000 <= int(m.group(1)) <= 2100:
        raise InvalidInput("统计期间应为年（2026）、季度（2026-Q2）或月份（2026-05）", code="figures.bad_period",
                           details={"field": "period"})
    year = int(m.group(1))
    if m.group(2):
        month = int(m.group(2))
        return Period(text, dt.date(year, month, 1), dt.date(year, month, _calendar.monthrange(year, month)[1]))
    if m.group(3):
        q = int(m.group(3))
        first_month, last_month = 3 * q - 2, 3 * q
        return Period(text, dt.date(year, first_month, 1),
                      dt.date(year, last_month, _calendar.monthrange(year, last_month)[1]))
    return Period(text, dt.date(year, 1, 1), dt.date(year, 12, 31))


@dataclasses.dataclass(frozen=True)
class Scope:
    period: Period
    department_id: int | None = None
    region: str | None = None
    task_id: int | None = None
    plan_id: int | None = None

    def with_period(self, period: Period) -> Scope:
        return dataclasses.replace(self, period=period)

    def to_dict(self) -> dict:
        return {"period": self.period.text, "from_": self.period.first, "to": self.period.last,
                "department_id": self.department_id, "region": self.region, "task_id": self.task_id,
                "plan_id": self.plan_id}


REGION_RE = re.compile(r"^\d{6}(\d{3})?$")


def scope_of(actor: Actor, args: dict) -> Scope:
    """The filters, checked, with the actor's department scope applied (department admins: their own)."""
    ensure_role(actor, READERS)
    department_id = department_scope(actor, args.get("department_id"))
    region = args.get("region")
    if region is not None and not REGION_RE.match(region):
        raise InvalidInput("行政区划代码应为 6 位或 9 位数字", code="figures.bad_region", details={"field": "region"})
    return Scope(parse_period(args.get("period")), department_id, region, args.get("task_id"), args.get("plan_id"))


# --- SQL pieces ---------------------------------------------------------------------------------------------

class shanghai_date(FunctionElement):
    """The Beijing-time calendar date of a UTC timestamp column."""

    type = Date()
    inherit_cache = True


@compiles(shanghai_date)
def _shanghai_date_default(element, compiler, **kw):
    return "date(%s, '+8 hours')" % compiler.process(list(element.clauses)[0], **kw)


@compiles(shanghai_date, "postgresql")
def _shanghai_date_pg(element, compiler, **kw):
    return "CAST((%s AT TIME ZONE 'Asia/Shanghai') AS DATE)" % compiler.process(list(element.clauses)[0], **kw)


def _problems(dialect: str):
    """The records whose result categories say a problem was found. On PostgreSQL found through the GIN index
    on the categories (migration 0014)."""
    codes = ", ".join(f"'{c}'" for c in PROBLEM_CATEGORIES)   # constants, not input
    if dialect == "postgresql":
        cond = literal_column(f"({RECORD_CATEGORIES}) ?| ARRAY[{codes}]")
    else:
        cond = literal_column("EXISTS (SELECT 1 FROM json_each(inspection_record.data, '$.result_categories') "
                              f"WHERE json_each.value IN ({codes}))")
    return select(Record.inspection_id).where(cond).subquery("problems")


def _section_writes(kind: str):
    """A section write of the inspection came from a client of ``kind`` (an index probe per inspection)."""
    return (select(SyncMutation.mutation_id)
            .join(SyncClient, SyncClient.id == SyncMutation.client_id)
            .where(SyncMutation.inspection_id == Inspection.id, SyncMutation.name.like("section.%"),
                   SyncMutation.status.in_(("applied", "conflict")), SyncClient.kind == kind)
            .exists())


SUBMITTED = Inspection.status == "completed"
PUBLISHED_OR_EXEMPT = or_(Inspection.published_at.is_not(None), Inspection.publication_exempt_at.is_not(None))
DONE = and_(SUBMITTED, PUBLISHED_OR_EXEMPT)


@dataclasses.dataclass
class Conditions:
    """Each figure's (numerator, denominator) as conditions on one row of the population (None: every row),
    and the sets (id subqueries) a figure's conditions need joined, each computed once per query."""

    by_figure: dict[str, tuple]
    needs: dict[str, list]

    def __getitem__(self, key: str) -> tuple:
        return self.by_figure[key]

    def join(self, stmt, keys):
        done = set()
        for key in keys:
            for sub in self.needs.get(key, ()):
                if sub.name not in done:
                    done.add(sub.name)
                    stmt = stmt.outerjoin(sub, sub.c.inspection_id == Inspection.id)
        return stmt


def conditions(dialect: str) -> Conditions:
    problems = _problems(dialect)
    on_time_completion = and_(DONE, Inspection.completed_on <= Task.end_date)
    on_time_publication = and_(SUBMITTED, or_(
        Inspection.publication_exempt_at.is_not(None),
        and_(Inspection.published_at.is_not(None),
             shanghai_date(Inspection.published_at) <= Inspection.publication_due_on)))
    return Conditions({
        "completion": (DONE, None),
        "on_time_completion": (on_time_completion, None),
        "publication": (and_(SUBMITTED, PUBLISHED_OR_EXEMPT), SUBMITTED),
        "on_time_publication": (on_time_publication, SUBMITTED),
        "coverage": (DONE, None),
        "mobile": (and_(DONE, _section_writes("phone"), ~_section_writes("office")), DONE),
        "joint": (DONE, DONE),
        "problem_found": (and_(DONE, problems.c.inspection_id.is_not(None)), DONE),
    }, {"problem_found": [problems]})


def population(scope: Scope, *, columns=None):
    """The inspections every figure counts (see the module's docstring)."""
    stmt = (select(*(columns or (Inspection.id,)))
            .select_from(Inspection)
            .join(Task, Task.id == Inspection.task_id)
            .where(Inspection.status.in_(DRAWN), Task.end_date >= scope.period.first,
                   Task.end_date <= scope.period.last))
    if scope.department_id is not None:
        stmt = stmt.where(Inspection.task_id.in_(select(TaskDepartment.task_id)
                                                 .where(TaskDepartment.department_id == scope.department_id)))
    if scope.region:   # the business is joined only for a region (a million rows otherwise)
        stmt = stmt.join(Target, Target.id == Inspection.target_id).where(in_region(Target.region_code, scope.region))
    if scope.task_id is not None:
        stmt = stmt.where(Inspection.task_id == scope.task_id)
    if scope.plan_id is not None:
        stmt = stmt.where(Task.plan_id == scope.plan_id)
    return stmt


def in_region(column, region: str):
    """``column`` lies under ``region`` (a county's code takes in its towns): the code prefix, and the same
    as a range on the code, which a B-tree index on the column serves (a LIKE may not, by collation)."""
    prefix = region_prefix(region)
    if set(prefix) == {"9"}:      # no code above it of the same length
        return and_(column >= prefix, column.startswith(prefix, autoescape=True))
    upper = str(int(prefix) + 1).zfill(len(prefix))
    return and_(column >= prefix, column < upper, column.startswith(prefix, autoescape=True))


def _tasks(session: Session, scope: Scope) -> list[Task]:
    """The drawn tasks of the scope (风险分类应用率): end date in the period, of the department and plan, with
    an inspection in the region when a region is asked."""
    stmt = select(Task).where(Task.status == "drawn", Task.end_date >= scope.period.first,
                              Task.end_date <= scope.period.last)
    if scope.department_id is not None:
        stmt = stmt.where(Task.id.in_(select(TaskDepartment.task_id)
                                      .where(TaskDepartment.department_id == scope.department_id)))
    if scope.task_id is not None:
        stmt = stmt.where(Task.id == scope.task_id)
    if scope.plan_id is not None:
        stmt = stmt.where(Task.plan_id == scope.plan_id)
    if scope.region:
        stmt = stmt.where(Task.id.in_(select(Inspection.task_id).join(Target, Target.id == Inspection.target_id)
                                      .where(in_region(Target.region_code, scope.region))))
    return list(session.scalars(stmt.order_by(Task.id)))


def ratios_differ(task: Task) -> bool:
    """Whether a task samples the risk classes at different ratios (风险分类应用)."""
    if task.strata_mode != "risk":
        return False
    ratios = set()
    for name, rule in (task.strata or {}).items():
        if name in ("A", "B", "C", "D") and isinstance(rule, dict) and rule.get("den"):
            ratios.add((rule.get("num") or 0) / rule["den"])
    return len(ratios) > 1


# --- the figures ----------------------------------------------------------------------------------------

def _rate(numerator, denominator) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def _figure(key: str, numerator, denominator, **extra) -> dict:
    f = FIGURES[key]
    return {"key": key, "label": f.label, "numerator": numerator, "denominator": denominator,
            "rate": _rate(numerator, denominator) if numerator is not None else None, "target": f.target,
            "available": numerator is not None, "numerator_label": f.numerator, "denominator_label": f.denominator,
            "definition": f"docs/figures.md#{key}", **extra}


def followup_counts(session: Session, scope: Scope, inspections) -> tuple[int, int]:
    """(closed, due) follow-ups of the population (docs/figures.md#followup), due as of today in Beijing."""
    from backend.followups.figures import counts
    from backend.inspections.deadlines import today_shanghai

    return counts(session, inspections, today_shanghai())


def registered_businesses(session: Session, scope: Scope) -> int:
    """Businesses registered (存续) in the region: the coverage's denominator."""
    stmt = select(func.count()).select_from(Target).where(Target.status == "active")
    if scope.region:
        stmt = stmt.where(in_region(Target.region_code, scope.region))
    return session.scalar(stmt) or 0


def _no_jit(session: Session) -> None:
    """PostgreSQL's JIT compiles these aggregates for seconds (the planner's estimate of the per-row EXISTS is
    large) to save milliseconds: off for this transaction (bench/figures.py shows it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _month_key(by_month: bool):
    if not by_month:
        return []
    return [func.extract("year", Task.end_date).label("y"), func.extract("month", Task.end_date).label("m")]


def _key(row, by_month: bool) -> str | None:
    return f"{int(row['y'])}-{int(row['m']):02d}" if by_month else None


def _counts(session: Session, scope: Scope, *, by_month: bool = False) -> dict[str | None, dict]:
    """One pass over the population (grouped by month of the task's end date for a series): every count the
    figures need. Keyed by month ("2026-05"), or None for the whole scope."""
    _no_jit(session)
    conds = conditions(session.get_bind().dialect.name)
    risk = Inspection.stratum     # the class the business was drawn in (or "all")
    sections = (select(func.count()).select_from(Section).where(Section.inspection_id == Inspection.id)
                .scalar_subquery())      # one index probe per done inspection (its departments)
    months = _month_key(by_month)
    cols = [*months, func.count().label("drawn")]
    for key, (num, den) in conds.by_figure.items():
        if key in ("coverage", "joint"):
            continue
        cols.append(func.sum(case((num, 1), else_=0)).label(f"{key}_n"))
        if den is not None:
            cols.append(func.sum(case((den, 1), else_=0)).label(f"{key}_d"))
    cols.append(func.sum(case((DONE, sections), else_=0)).label("departments"))
    cols.append(func.count(func.distinct(case((DONE, Inspection.target_id)))).label("businesses"))
    problem_n, problem_d = conds["problem_found"]
    for n, stratum in enumerate(RISK_CLASSES):    # 问题发现率 by the stratum drawn in, in the same pass
        cols.append(func.sum(case((and_(problem_n, risk == stratum), 1), else_=0)).label(f"risk{n}_n"))
        cols.append(func.sum(case((and_(problem_d, risk == stratum), 1), else_=0)).label(f"risk{n}_d"))
    out: dict[str | None, dict] = {}
    stmt = conds.join(population(scope, columns=cols), conds.needs)
    if months:
        stmt = stmt.group_by(*months)
    for r in session.execute(stmt).mappings():
        values = {k: int(v or 0) for k, v in r.items() if k not in ("y", "m")}
        if not values["drawn"]:
            continue
        by_risk = {stratum: {"problem_found_n": values.pop(f"risk{n}_n"), "problem_found_d": values.pop(f"risk{n}_d")}
                   for n, stratum in enumerate(RISK_CLASSES)}
        out[_key(r, by_month)] = {"total": values,
                                  "by_risk": {k: v for k, v in by_risk.items() if v["problem_found_d"]}}
    return out


EMPTY = {"total": {}, "by_risk": {}}


def _assemble(c: dict, registered: int, tasks: list[Task], follow: tuple[int, int] | None) -> list[dict]:
    t = c["total"]

    def g(name):
        return t.get(name, 0)

    out = [
        _figure("completion", g("completion_n"), g("drawn")),
        _figure("on_time_completion", g("on_time_completion_n"), g("drawn")),
        _figure("publication", g("publication_n"), g("publication_d")),
        _figure("on_time_publication", g("on_time_publication_n"), g("on_time_publication_d")),
        _figure("followup", *(follow if follow is not None else (None, None))),
        _figure("coverage", g("businesses"), registered),
        _figure("mobile", g("mobile_n"), g("mobile_d")),
    ]
    visits, departments = g("completion_n"), g("departments")   # a done inspection is one visit
    out.append(_figure("joint", departments, visits, spared_visits=departments - visits))
    out.append(_figure("risk_ratio", sum(1 for task in tasks if ratios_differ(task)), len(tasks)))
    by_risk = [{"risk_class": r, "numerator": c["by_risk"][r]["problem_found_n"],
                "denominator": c["by_risk"][r]["problem_found_d"],
                "rate": _rate(c["by_risk"][r]["problem_found_n"], c["by_risk"][r]["problem_found_d"])}
               for r in RISK_CLASSES if r in c["by_risk"]]
    out.append(_figure("problem_found", g("problem_found_n"), g("problem_found_d"), by_risk_class=by_risk))
    return out


def figures(session: Session, scope: Scope) -> list[dict]:
    """Every figure of the scope, in the order of ``FIGURES``."""
    c = _counts(session, scope).get(None, EMPTY)
    return _assemble(c, registered_businesses(session, scope), _tasks(session, scope),
                     followup_counts(session, scope, population(scope)))


def check_figure(key: str) -> Figure:
    if key not in FIGURES:
        raise NotFound(f"没有名为 {key} 的统计指标", code="figures.unknown_figure",
                       details={"figures": list(FIGURES)})
    return FIGURES[key]


def series(session: Session, scope: Scope, key: str) -> list[dict]:
    """The figure month by month over the scope's period (a year: 12 points), from one grouped pass."""
    check_figure(key)
    counts = _counts(session, scope, by_month=True)
    registered = registered_businesses(session, scope)
    tasks = _tasks(session, scope)
    out = []
    for month in scope.period.months():
        monthly = scope.with_period(month)
        in_month = [t for t in tasks if month.first <= t.end_date <= month.last]
        follow = followup_counts(session, monthly, population(monthly)) if key == "followup" else None
        row = next(f for f in _assemble(counts.get(month.text, EMPTY), registered, in_month, follow)
                   if f["key"] == key)
        out.append({"period": month.text, **row})
    return out


# --- the lists behind the numbers -------------------------------------------------------------------------

def items_query(session: Session, scope: Scope, key: str, part: str):
    """The inspections behind a figure's numerator, denominator, or those missing (in the denominator, not
    in the numerator), ordered by the publication deadline then id."""
    figure = check_figure(key)
    if part not in PARTS:
        raise InvalidInput("part 应为 numerator、denominator 或 missing", code="figures.bad_part",
                           details={"field": "part"})
    if not figure.items or (key == "coverage" and part != "numerator"):
        raise InvalidInput(f"“{figure.label}”的{'分母' if key == 'coverage' else '数字'}不是检查记录，没有检查清单",
                           code="figures.no_items", details={"figure": key, "part": part})
    _no_jit(session)
    conds = conditions(session.get_bind().dialect.name)
    num, den = conds[key]
    stmt = conds.join(population(scope, columns=(Inspection,)), [key])
    if part == "numerator":
        stmt = stmt.where(num)
    elif part == "denominator":
        stmt = stmt.where(den) if den is not None else stmt
    else:
        stmt = stmt.where(~num) if den is None else stmt.where(den, ~num)
    return stmt.order_by(Inspection.publication_due_on, Inspection.id)


def item_rows(session: Session, inspections: list[Inspection]) -> list[dict]:
    from backend.inspections.deadlines import today_shanghai

    today = today_shanghai()
    out = []
    for i in inspections:
        task = i.task
        state = ("exempt" if i.publication_exempt_at else "published" if i.published_at
                 else "overdue" if i.publication_due_on and i.publication_due_on < today
                 else "unpublished" if i.status == "completed" else "open")
        out.append({
            "id": i.id, "status": i.status, "task_id": i.task_id, "task_code": task.code, "task_name": task.name,
            "task_end_date": task.end_date, "target_id": i.target_id, "target_code": i.target.code,
            "target_name": i.target.name, "region_code": i.target.region_code, "risk_class": i.target.risk_class,
            "completed_on": i.completed_on, "publication_due_on": i.publication_due_on,
            "published_at": i.published_at, "publication_exempt_at": i.publication_exempt_at,
            "publication_state": state,
            "record_url": f"/api/v1/inspections/{i.id}",
            "pdf_url": f"/api/v1/inspections/{i.id}/record.pdf" if i.status == "completed" else None})
    return out


# --- the table as a file ----------------------------------------------------------------------------------

TABLE_HEADERS = ["指标", "分子", "分母", "比率", "目标", "分子口径", "分母口径", "统计期间", "定义"]


def table_rows(scope: Scope, rows: list[dict]) -> list[list[str]]:
    def pct(v):
        return "" if v is None else f"{v * 100:.2f}%"

    out = []
    for f in rows:
        rate = "" if f["rate"] is None else (f"{f['rate']:.2f}" if f["key"] == "joint" else pct(f["rate"]))
        out.append([f["label"], "不可用" if not f["available"] else str(f["numerator"]),
                    "" if f["denominator"] is None else str(f["denominator"]), rate, pct(f["target"]),
                    f["numerator_label"], f["denominator_label"], scope.period.text, f["definition"]])
        for r in f.get("by_risk_class") or []:
            out.append([f"{f['label']}（风险等级 {r['risk_class']}）", str(r["numerator"]), str(r["denominator"]),
                        pct(r["rate"]), "", f["numerator_label"], f["denominator_label"], scope.period.text,
                        f["definition"]])
    return out


def export_table(out, session: Session, scope: Scope, fmt: str) -> int:
    from backend.directory.writers import write_csv, write_xlsx

    rows = table_rows(scope, figures(session, scope))
    if fmt == "csv":
        return write_csv(out, TABLE_HEADERS, rows)
    return write_xlsx(out, "抽查统计指标", TABLE_HEADERS, rows)
