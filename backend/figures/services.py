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

from sqlalchemy import Date, and_, case, func, select, text
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement

from backend.actor import Actor
from backend.auth.roles import Role
from backend.auth.rules import department_scope, ensure_role
from backend.directory.rules import region_prefix
from backend.errors import InvalidInput, NotFound
from backend.figures.facts import LEVELS, FigureFact, RegionCount, settle
from backend.inspections.models import Inspection
from backend.plans.models import Task, TaskDepartment

READERS = (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN)
# the strata a business is drawn in: its risk class (U: not classified), or "all" in a task drawn in one stratum
RISK_CLASSES = ("A", "B", "C", "D", "U", "all")
PARTS = ("numerator", "denominator", "missing")
# 抽查覆盖率 by the level that set the task (石家庄: 3% a year, 0.5% province, 0.5% city, 2% county)
LEVEL_TARGETS = {"province": 0.005, "city": 0.005, "county": 0.02}
LEVEL_LABELS = {"province": "省级部署", "city": "市级部署", "county": "县级部署"}


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


class Conditions(dict):
    """Each figure's (numerator, denominator) as conditions on one fact (None: every fact of the population)."""


def conditions(dialect: str | None = None) -> Conditions:
    F = FigureFact
    return Conditions({
        "completion": (F.done, None),
        "on_time_completion": (F.on_time_completion, None),
        "publication": (F.done, F.submitted),
        "on_time_publication": (F.on_time_publication, F.submitted),
        "coverage": (F.done, None),
        "mobile": (and_(F.done, F.from_phone), F.done),
        "joint": (F.done, F.done),
        "problem_found": (and_(F.done, F.problem), F.done),
    })


def population(scope: Scope, *, columns=None):
    """The inspections every figure counts (see the module's docstring), as their facts."""
    F = FigureFact
    stmt = (select(*(columns or (F.inspection_id,))).select_from(F)
            .where(F.task_end_date >= scope.period.first, F.task_end_date <= scope.period.last))
    if scope.department_id is not None:
        stmt = stmt.where(F.task_id.in_(select(TaskDepartment.task_id)
                                        .where(TaskDepartment.department_id == scope.department_id)))
    if scope.region:
        stmt = stmt.where(in_region(F.region_code, scope.region))
    if scope.task_id is not None:
        stmt = stmt.where(F.task_id == scope.task_id)
    if scope.plan_id is not None:
        stmt = stmt.where(F.plan_id == scope.plan_id)
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
        stmt = stmt.where(Task.id.in_(select(FigureFact.task_id).where(in_region(FigureFact.region_code,
                                                                                  scope.region))))
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
            "rate": _rate(numerator, denominator), "target": f.target, "numerator_label": f.numerator, "denominator_label": f.denominator,
            "definition": f"docs/figures.md#{key}", **extra}


def followup_counts(session: Session, scope: Scope, *, by_month: bool = False) -> dict[str | None, tuple[int, int]]:
    """(closed, due) follow-ups of the population (docs/figures.md#followup), due as of today in Beijing (their
    deadline, or their inspection's completion day without one): one pass joining the facts, keyed as
    ``_counts`` is."""
    from backend.followups.models import CLOSED_STATES, Followup
    from backend.inspections.deadlines import today_shanghai

    F = FigureFact
    months = _month_key(by_month)
    stmt = (population(scope, columns=[*months, func.count(Followup.id).label("due"),
                                       func.sum(case((Followup.state.in_(CLOSED_STATES), 1), else_=0)).label("closed")])
            .join(Followup, Followup.inspection_id == F.inspection_id)
            .where(func.coalesce(Followup.due_on, F.completed_on) <= today_shanghai()))
    if months:
        stmt = stmt.group_by(*months)
    return {_key(r, by_month): (int(r["closed"] or 0), int(r["due"] or 0)) for r in session.execute(stmt).mappings()
            if r["due"]}


def registered_businesses(session: Session, scope: Scope) -> int:
    """Businesses registered (存续) in the region: the coverage's denominator."""
    settle(session)
    stmt = select(func.sum(RegionCount.registered))     # kept per region code (backend/figures/facts.py)
    if scope.region:
        stmt = stmt.where(in_region(RegionCount.region_code, scope.region))
    return int(session.scalar(stmt) or 0)


def _no_jit(session: Session) -> None:
    """PostgreSQL's JIT compiles these aggregates for seconds (the planner's estimate of the per-row EXISTS is
    large) to save milliseconds: off for this transaction (bench/figures.py shows it)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL jit = off"))


def _month_key(by_month: bool):
    if not by_month:
        return []
    return [func.extract("year", FigureFact.task_end_date).label("y"),
            func.extract("month", FigureFact.task_end_date).label("m")]


def _key(row, by_month: bool) -> str | None:
    return f"{int(row['y'])}-{int(row['m']):02d}" if by_month else None


def _counts(session: Session, scope: Scope, *, by_month: bool = False, businesses: bool = True
            ) -> dict[str | None, dict]:
    """One pass over the population (grouped by month of the task's end date for a series): every count the
    figures need. Keyed by month ("2026-05"), or None for the whole scope. ``businesses``: count the distinct
    businesses (抽查覆盖率; a distinct count makes PostgreSQL sort the rows, so a series of another figure
    leaves it out)."""
    settle(session)
    _no_jit(session)
    F = FigureFact
    conds = conditions()
    months = _month_key(by_month)
    cols = [*months, func.count().label("drawn")]
    for key, (num, den) in conds.items():
        if key in ("coverage", "joint"):
            continue
        cols.append(func.count().filter(num).label(f"{key}_n"))
        if den is not None:
            cols.append(func.count().filter(den).label(f"{key}_d"))
    cols.append(func.sum(F.departments).filter(F.done).label("departments"))
    if businesses:
        cols.append(func.count(func.distinct(F.target_id)).filter(F.done).label("businesses"))
    for level in LEVELS:    # done inspections of the tasks each level set (抽查覆盖率 by level, below)
        cols.append(func.count().filter(and_(F.done, F.level == level)).label(f"done_{level}"))
    problem_n, problem_d = conds["problem_found"]
    for n, stratum in enumerate(RISK_CLASSES):    # 问题发现率 by the stratum drawn in, in the same pass
        cols.append(func.count().filter(and_(problem_n, F.stratum == stratum)).label(f"risk{n}_n"))
        cols.append(func.count().filter(and_(problem_d, F.stratum == stratum)).label(f"risk{n}_d"))
    out: dict[str | None, dict] = {}
    stmt = population(scope, columns=cols)
    if months:
        stmt = stmt.group_by(*months)
    rows = [r for r in session.execute(stmt).mappings() if r["drawn"]]
    # 抽查覆盖率 by level: when one level's tasks hold every done inspection (as in most counties), its
    # businesses are all of them; otherwise one more pass counts the distinct businesses per level
    mixed = businesses and any(sum(1 for level in LEVELS if r[f"done_{level}"]) > 1 for r in rows)
    per_level: dict = {}
    if mixed:
        grouped = (population(scope, columns=[*months, F.level, func.count(func.distinct(F.target_id)).label("n")])
                   .where(F.done).group_by(*months, F.level))
        per_level = {(_key(g, by_month), g["level"]): g["n"] for g in session.execute(grouped).mappings()}
    for r in rows:
        values = {"businesses": 0, **{k: int(v or 0) for k, v in r.items() if k not in ("y", "m")}}
        for level in LEVELS:
            done_here = values.pop(f"done_{level}")
            values[f"businesses_{level}"] = (int(per_level.get((_key(r, by_month), level), 0)) if mixed
                                             else values["businesses"] if done_here else 0)
        by_risk = {stratum: {"problem_found_n": values.pop(f"risk{n}_n"), "problem_found_d": values.pop(f"risk{n}_d")}
                   for n, stratum in enumerate(RISK_CLASSES)}
        out[_key(r, by_month)] = {"total": values,
                                  "by_risk": {k: v for k, v in by_risk.items() if v["problem_found_d"]}}
    return out


EMPTY = {"total": {}, "by_risk": {}}


def _assemble(c: dict, registered: int, tasks: list[Task], follow: tuple[int, int]) -> list[dict]:
    t = c["total"]

    def g(name):
        return t.get(name, 0)

    out = [
        _figure("completion", g("completion_n"), g("drawn")),
        _figure("on_time_completion", g("on_time_completion_n"), g("drawn")),
        _figure("publication", g("publication_n"), g("publication_d")),
        _figure("on_time_publication", g("on_time_publication_n"), g("on_time_publication_d")),
        _figure("followup", *follow),
        _figure("coverage", g("businesses"), registered,
                by_level=[{"level": level, "numerator": g(f"businesses_{level}"), "denominator": registered,
                           "rate": _rate(g(f"businesses_{level}"), registered), "target": LEVEL_TARGETS[level]}
                          for level in LEVELS]),
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
                     followup_counts(session, scope).get(None, (0, 0)))


def check_figure(key: str) -> Figure:
    if key not in FIGURES:
        raise NotFound(f"没有名为 {key} 的统计指标", code="figures.unknown_figure",
                       details={"figures": list(FIGURES)})
    return FIGURES[key]


def series(session: Session, scope: Scope, key: str) -> list[dict]:
    """The figure month by month over the scope's period (a year: 12 points), from one grouped pass."""
    check_figure(key)
    counts = _counts(session, scope, by_month=True, businesses=key == "coverage")
    registered = registered_businesses(session, scope)
    tasks = _tasks(session, scope)
    follow_ups = followup_counts(session, scope, by_month=True) if key == "followup" else {}
    out = []
    for month in scope.period.months():
        in_month = [t for t in tasks if month.first <= t.end_date <= month.last]
        follow = follow_ups.get(month.text, (0, 0))
        row = next(f for f in _assemble(counts.get(month.text, EMPTY), registered, in_month, follow)
                   if f["key"] == key)
        out.append({"period": month.text, **row})
    return out


# --- the lists behind the numbers -------------------------------------------------------------------------

def items_query(session: Session, scope: Scope, key: str, part: str, *, columns=None):
    """The inspections behind a figure's numerator, denominator, or those missing (in the denominator, not
    in the numerator), ordered by the publication deadline then id."""
    figure = check_figure(key)
    if part not in PARTS:
        raise InvalidInput("part 应为 numerator、denominator 或 missing", code="figures.bad_part",
                           details={"field": "part"})
    if not figure.items or (key == "coverage" and part != "numerator"):
        raise InvalidInput(f"“{figure.label}”的{'分母' if key == 'coverage' else '数字'}不是检查记录，没有检查清单",
                           code="figures.no_items", details={"figure": key, "part": part})
    num, den = conditions()[key]
    F = FigureFact
    stmt = population(scope, columns=columns or (F.inspection_id,))
    if part == "numerator":
        stmt = stmt.where(num)
    elif part == "denominator":
        stmt = stmt.where(den) if den is not None else stmt
    else:
        stmt = stmt.where(~num) if den is None else stmt.where(den, ~num)
    return stmt.order_by(F.publication_due_on, F.inspection_id)


def inspections_of(session: Session, ids: list[int]) -> list[Inspection]:
    """The inspections of ``ids`` (an items query's answer), in that order."""
    found = {i.id: i for i in session.scalars(select(Inspection).where(Inspection.id.in_(ids)))} if ids else {}
    return [found[i] for i in ids if i in found]


def items_page(session: Session, scope: Scope, key: str, part: str, args: dict) -> dict:
    """One page of the inspections behind a number, with its total: the page counted and cut on the facts
    alone, then its inspections loaded."""
    from backend.api import paginate

    stmt = items_query(session, scope, key, part)
    settle(session)
    _no_jit(session)
    page = paginate(session, stmt, args)
    return {**page, "items": item_rows(session, inspections_of(session, list(page["items"])))}


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
        out.append([f["label"], str(f["numerator"]),
                    "" if f["denominator"] is None else str(f["denominator"]), rate, pct(f["target"]),
                    f["numerator_label"], f["denominator_label"], scope.period.text, f["definition"]])
        for r in f.get("by_level") or []:
            out.append([f"{f['label']}（{LEVEL_LABELS[r['level']]}）", str(r["numerator"]), str(r["denominator"]),
                        pct(r["rate"]), pct(r["target"]), f["numerator_label"], f["denominator_label"],
                        scope.period.text, f["definition"]])
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
