"""Step 1 of the draw: who is eligible. Ids and strata only, streamed: no ORM object per candidate.

Targets: the task's directed filters (region, industry, type, risk class, tags) pick the
candidates; exclusions decided before the draw then remove some, each with a reason code:

| reason               | meaning                                                            |
| -------------------- | ------------------------------------------------------------------ |
| deregistered         | 已注销                                                              |
| revoked              | 已吊销                                                              |
| moved_out            | 已迁出                                                              |
| inspected_this_year  | inspected this year for one of the task's items (同一事项一年一次)   |
| visit_cap            | already visited the yearly maximum number of times                 |
| a_class_exempt       | A class outside the random plan (无事不扰)                           |
| no_stratum           | its risk class has no stratum in this task                          |

Inspectors: active, not retired, of each department that sends members. Declared
conflicts between eligible inspectors and eligible targets go into the record (step 6).
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import and_, case, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from backend.directory.models import Department, Inspector, InspectorConflict, Target, TargetItemHistory
from backend.inspections.models import Inspection
from backend.plans.models import Task, TaskItem

EXCLUSION_REASONS = {
    "deregistered": "已注销", "revoked": "已吊销", "moved_out": "已迁出",
    "inspected_this_year": "本年度已就同一事项被抽查", "visit_cap": "本年度被检查次数已达上限",
    "a_class_exempt": "A 类企业不在随机抽查计划内（无事不扰）", "no_stratum": "所属风险类别未纳入本次抽查",
}
_STATUS_EXCLUDED = ("deregistered", "revoked", "moved_out")
EXEMPT_TAG = "无事不扰"
UNCLASSIFIED = "U"


@dataclasses.dataclass
class Eligible:
    targets: dict[str, list[str]]            # stratum → target codes, each sorted
    excluded: list[tuple[str, str]]          # (reason, code), sorted
    inspectors: dict[str, list[str]]         # dept code → certificate numbers, each sorted
    conflicts: list[tuple[str, str]]         # (certificate no., target code), sorted

    def counts(self) -> dict:
        by_reason: dict[str, int] = {}
        for reason, _ in self.excluded:
            by_reason[reason] = by_reason.get(reason, 0) + 1
        return {"targets": {s: len(v) for s, v in sorted(self.targets.items())},
                "excluded": dict(sorted(by_reason.items())),
                "inspectors": {d: len(v) for d, v in sorted(self.inspectors.items())},
                "conflicts": len(self.conflicts)}


def _year_bounds(year: int) -> tuple[dt.date, dt.datetime]:
    return dt.date(year, 1, 1), dt.datetime(year, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def target_filter_clauses(filters: dict) -> list:
    clauses = [Target.retired_at.is_(None)]
    if filters.get("regions"):
        clauses.append(or_(*[Target.region_code.startswith(code, autoescape=True) for code in filters["regions"]]))
    if filters.get("industries"):
        clauses.append(or_(*[Target.industry_code.startswith(code, autoescape=True) for code in filters["industries"]]))
    if filters.get("types"):
        clauses.append(Target.type.in_(filters["types"]))
    if filters.get("risk_classes"):
        clauses.append(Target.risk_class.in_(filters["risk_classes"]))
    if filters.get("tags"):
        clauses.append(or_(*[Target.tags_text.contains(f",{tag},", autoescape=True) for tag in filters["tags"]]))
    return clauses


def eligible_targets(session: Session, task: Task, *, year: int | None = None,
                     max_visits: int | None = None) -> tuple[dict[str, list[str]], list[tuple[str, str]]]:
    year = year or (task.start_date.year if task.start_date else dt.date.today().year)
    jan1, jan1_local = _year_bounds(year)
    switches = {"inspected_this_year": True, "a_class_exempt": True, **(task.exclusions or {})}
    item_ids = [ti.item_id for ti in task.items]
    strata = set((task.strata or {}).keys())
    risk_mode = task.strata_mode != "all"

    columns = [Target.code, Target.risk_class, Target.status]
    if switches["inspected_this_year"] and item_ids:
        columns.append(or_(
            exists().where(TargetItemHistory.target_id == Target.id, TargetItemHistory.item_id.in_(item_ids),
                           TargetItemHistory.last_inspected_on >= jan1),
            exists().where(Inspection.target_id == Target.id, Inspection.task_id != task.id,
                           Inspection.status.in_(("assigned", "in_progress", "completed")),
                           Inspection.created_at >= jan1_local,
                           exists().where(TaskItem.task_id == Inspection.task_id, TaskItem.item_id.in_(item_ids))),
        ).label("inspected"))
    else:
        columns.append(literal(False).label("inspected"))
    if max_visits:
        visits = (select(func.count()).where(Inspection.target_id == Target.id, Inspection.task_id != task.id,
                                             Inspection.status.in_(("assigned", "in_progress", "completed")),
                                             Inspection.created_at >= jan1_local)
                  .correlate(Target).scalar_subquery())
        columns.append((visits >= max_visits).label("capped"))
    else:
        columns.append(literal(False).label("capped"))
    if switches["a_class_exempt"]:
        columns.append(case((and_(Target.risk_class == "A", Target.tags_text.like(f"%,{EXEMPT_TAG},%")), True),
                            else_=False).label("exempt"))
    else:
        columns.append(literal(False).label("exempt"))

    stmt = select(*columns).where(*target_filter_clauses(task.filters or {}))
    targets: dict[str, list[str]] = {}
    excluded: list[tuple[str, str]] = []
    result = session.execute(stmt.execution_options(yield_per=20000, stream_results=True))
    for code, risk, status, inspected, capped, exempt in result:
        if status in _STATUS_EXCLUDED:
            excluded.append((status, code))
            continue
        if inspected:
            excluded.append(("inspected_this_year", code))
            continue
        if capped:
            excluded.append(("visit_cap", code))
            continue
        if exempt:
            excluded.append(("a_class_exempt", code))
            continue
        stratum = (risk or UNCLASSIFIED) if risk_mode else "all"
        if stratum not in strata:
            excluded.append(("a_class_exempt" if stratum == "A" else "no_stratum", code))
            continue
        targets.setdefault(stratum, []).append(code)
    for codes in targets.values():
        codes.sort()
    excluded.sort()
    return targets, excluded


def eligible_inspectors(session: Session, department_codes: list[str]) -> dict[str, list[str]]:
    rows = session.execute(
        select(Department.code, Inspector.cert_no).join(Department, Department.id == Inspector.department_id)
        .where(Department.code.in_(department_codes), Inspector.status == "active", Inspector.retired_at.is_(None)))
    out: dict[str, list[str]] = {code: [] for code in department_codes}
    for dept, cert in rows:
        out[dept].append(cert)
    for certs in out.values():
        certs.sort()
    return out


def declared_conflicts(session: Session, inspectors: dict[str, list[str]],
                       targets: dict[str, list[str]]) -> list[tuple[str, str]]:
    certs = {c for certs in inspectors.values() for c in certs}
    if not certs:
        return []
    rows = session.execute(
        select(Inspector.cert_no, Target.code).select_from(InspectorConflict)
        .join(Inspector, Inspector.id == InspectorConflict.inspector_id)
        .join(Target, Target.id == InspectorConflict.target_id)
        .where(InspectorConflict.retired_at.is_(None), Inspector.cert_no.in_(sorted(certs))))
    eligible = {code for codes in targets.values() for code in codes}
    return sorted({(cert, code) for cert, code in rows if code in eligible})


def freeze(session: Session, task: Task, department_codes: list[str], *, max_visits: int | None = None,
           year: int | None = None) -> Eligible:
    targets, excluded = eligible_targets(session, task, year=year, max_visits=max_visits)
    inspectors = eligible_inspectors(session, department_codes)
    return Eligible(targets, excluded, inspectors, declared_conflicts(session, inspectors, targets))
