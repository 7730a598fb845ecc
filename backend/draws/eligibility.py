"""Step 1 of the draw: who is eligible. Ids and strata only, streamed: no ORM object per candidate.

Targets: only targets of a type that one of the task's items applies to (the items'
``object_types``, together) are candidates; the task's directed filters (region, industry,
type, risk class, tags) narrow them further. A target of a type only some of the items apply
to is a candidate: it is inspected for those items only. Exclusions decided before the draw
then remove some candidates, each with a reason code:

| reason               | meaning                                                            |
| -------------------- | ------------------------------------------------------------------ |
| deregistered         | 已注销                                                              |
| revoked              | 已吊销                                                              |
| moved_out            | 已迁出                                                              |
| inspected_this_year  | inspected this year for one of the task's items (同一事项一年一次)   |
| visit_cap            | already visited the yearly maximum number of times                 |
| a_class_exempt       | A class outside the random plan (无事不扰)                           |
| no_stratum           | its risk class has no stratum in this task                          |

Inspectors: active, not retired, of each department that sends members, and holding every
qualification (执法资质) that the department's items in the task require
(``Item.required_qualifications``): a member inspects all of the department's items at each
target of the group. Inspectors left out for a missing qualification are counted per
department (``unqualified``). Declared conflicts between eligible inspectors and eligible
targets go into the record (step 6).
"""
from __future__ import annotations

import bisect
import contextlib
import dataclasses
import datetime as dt
import gc
from collections.abc import Iterator, Mapping

from sqlalchemy import and_, case, func, literal, literal_column, or_, select, text, union_all
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
    """The frozen lists as the commitment hashes them: sorted lines, code point order."""

    target_lines: list[str]                  # "stratum|code"
    excluded_lines: list[str]                # "reason|code"
    inspector_lines: list[str]               # "dept|certificate no."
    conflicts: list[tuple[str, str]]         # (certificate no., target code), sorted
    unqualified: dict[str, int] = dataclasses.field(default_factory=dict)  # dept → left out for qualifications

    def counts(self) -> dict:
        return {"targets": count_prefixes(self.target_lines), "excluded": count_prefixes(self.excluded_lines),
                "inspectors": count_prefixes(self.inspector_lines), "conflicts": len(self.conflicts),
                "unqualified": dict(sorted(self.unqualified.items()))}


def count_prefixes(lines: list[str]) -> dict[str, int]:
    """Lines per "key|" prefix of a sorted list, without looking at every line."""
    out: dict[str, int] = {}
    i = 0
    while i < len(lines):
        key = lines[i].split("|", 1)[0]
        j = bisect.bisect_left(lines, key + "}", i)  # "}" sorts right after "|"
        out[key] = j - i
        i = j
    return out


def split_by_prefix(lines: list[str]) -> dict[str, list[str]]:
    """{key: [value, ...]} of sorted "key|value" lines, by slicing between the key boundaries."""
    out: dict[str, list[str]] = {}
    i = 0
    while i < len(lines):
        key = lines[i].split("|", 1)[0]
        j = bisect.bisect_left(lines, key + "}", i)
        cut = len(key) + 1
        out[key] = [line[cut:] for line in lines[i:j]]
        i = j
    return out


def contains_line(lines: list[str], line: str) -> bool:
    i = bisect.bisect_left(lines, line)
    return i < len(lines) and lines[i] == line


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


def object_types(task: Task) -> list[str]:
    """The target types one of the task's items applies to (检查对象), sorted."""
    return sorted({kind for row in task.items for kind in (row.item.object_types or [])})


def required_qualifications(task: Task) -> dict[str, list[str]]:
    """{department code: qualifications} that the department's items in the task require; only
    departments with a requirement."""
    out: dict[str, set[str]] = {}
    for row in task.items:
        wanted = {q.strip() for q in (row.item.required_qualifications or []) if isinstance(q, str) and q.strip()}
        if wanted:
            out.setdefault(row.item.department.code, set()).update(wanted)
    return {dept: sorted(quals) for dept, quals in sorted(out.items())}


def target_verdicts(task: Task, *, year: int | None = None, max_visits: int | None = None):
    """SELECT of one line per candidate: "stratum|code", or "!reason|code" when excluded.

    Each branch of the CASE gives its whole prefix ("!reason|", "stratum|") as a constant, so a row
    costs one concatenation, and the strata are a simple CASE on the risk class (evaluated once) rather
    than a NOT IN followed by the class again: a million candidates cost PostgreSQL about 0.1 s less."""
    year = year or (task.start_date.year if task.start_date else dt.date.today().year)
    jan1, jan1_local = _year_bounds(year)
    switches = {"inspected_this_year": True, "a_class_exempt": True, **(task.exclusions or {})}
    item_ids = [ti.item_id for ti in task.items]
    strata = sorted((task.strata or {}).keys())
    live = ("assigned", "in_progress", "completed")
    this_year = and_(Inspection.task_id != task.id, Inspection.status.in_(live), Inspection.created_at >= jan1_local)
    stratum = literal("all") if task.strata_mode == "all" else func.coalesce(Target.risk_class, UNCLASSIFIED)

    # uncorrelated IN (subquery): a hashed lookup on PostgreSQL, an ephemeral index on SQLite.
    # Nearly every candidate is active: one comparison settles the status for it
    whens = [(and_(Target.status != "active", Target.status.in_(_STATUS_EXCLUDED)),
              literal("!") + Target.status + literal("|"))]
    if switches["inspected_this_year"] and item_ids:
        # one IN over both sources (one hashed lookup per candidate, not two)
        whens.append((Target.id.in_(union_all(
            select(TargetItemHistory.target_id).where(TargetItemHistory.item_id.in_(item_ids),
                                                      TargetItemHistory.last_inspected_on >= jan1),
            select(Inspection.target_id).join(TaskItem, TaskItem.task_id == Inspection.task_id)
            .where(this_year, TaskItem.item_id.in_(item_ids)))),
            literal("!inspected_this_year|")))
    if max_visits:
        whens.append((Target.id.in_(select(Inspection.target_id).where(this_year).group_by(Inspection.target_id)
                                    .having(func.count() >= max_visits)), literal("!visit_cap|")))
    if switches["a_class_exempt"]:
        whens.append((and_(Target.risk_class == "A", Target.tags_text.contains(f",{EXEMPT_TAG},", autoescape=True)),
                      literal("!a_class_exempt|")))
    prefixes = {s: f"{s}|" for s in strata}
    prefixes.setdefault("A", "!a_class_exempt|")   # class A outside the plan: 无事不扰
    prefix = case({k: literal(v) for k, v in prefixes.items()}, value=stratum, else_=literal("!no_stratum|"))
    line = (case(*whens, else_=prefix) + Target.code).label("line")
    return select(line).where(*target_filter_clauses(task.filters or {}), Target.type.in_(object_types(task)))


def fetch_lines(session: Session, stmt, *, grouped_by=None) -> list[str]:
    """All values of a one-column text SELECT (its column labelled ``line``), sorted in code point order.

    The database joins them into one text: one value to fetch instead of a million rows.
    Python sorts them (measured on PostgreSQL 15: an ordered aggregate with COLLATE "C"
    took 2.1 s for 1,000,000 lines, joining unsorted 0.6 s and sorting in Python 0.6 s).
    ``grouped_by`` (the target lines' code): read by ``fetch_lines_grouped`` when ``group_chars`` says so.
    """
    chars = None if grouped_by is None else group_chars(session)
    if chars is not None:
        return fetch_lines_grouped(session, stmt, grouped_by, chars)
    sub = stmt.subquery("q")
    joined = func.aggregate_strings(sub.c.line, "\n")
    blob = session.scalar(select(joined))
    lines = blob.split("\n") if blob else []
    del blob   # before the sort: 100 MB for 5,000,000 targets
    lines.sort()
    return lines


# Rows of ``target`` (the planner's count) from which its lines are read grouped: at 1,000,000 the CPU the
# server adds (0.25-0.35 s) is about what Python's sort saves; at 5,000,000 Python saves far more
GROUP_FROM = 2_000_000


def group_chars(session: Session) -> int | None:
    """How many first characters of the code group the target lines (``fetch_lines_grouped``), or None
    for one sort: SQLite, a directory under ``GROUP_FROM`` rows, or no statistics of ``target.code``.

    The fewest characters that tell apart nine in ten of the bounds of the code's histogram (``pg_stats``:
    about 100 bounds, a hundredth of the rows apart): then a group holds about a hundredth of the rows at
    most, small enough to sort in the processor's caches, and there are as few groups as that allows (each
    group costs the server: at 1,000,000 lines 31 groups took 0.2-0.4 s more CPU than one text, 961 groups
    0.35-0.5 s, 29,791 groups 0.8 s). The bench's codes, whose first eight characters are all the same, take
    ten (961 groups); a province's vary from the third character on (the region), and take fewer."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    row = session.execute(text(
        "SELECT c.reltuples, s.histogram_bounds::text::text[] FROM pg_class c LEFT JOIN pg_stats s "
        "ON s.schemaname = current_schema() AND s.tablename = 'target' AND s.attname = 'code' "
        "WHERE c.oid = 'target'::regclass")).first()
    if row is None or row[0] < GROUP_FROM or not row[1]:
        return None
    bounds = row[1]
    for chars in range(1, max(map(len, bounds)) + 1):
        if len({b[:chars] for b in bounds}) * 10 >= len(bounds) * 9:
            return chars
    return None


def fetch_lines_grouped(session: Session, stmt, code, chars: int) -> list[str]:
    """``fetch_lines`` of "key|code" lines on PostgreSQL, for millions of them: the database joins the lines
    per first ``chars`` characters of ``code`` (a column of ``stmt``'s FROM), Python sorts each group apart
    and deals its keys' lines to them, the groups taken in the order of their prefixes.

    The same list as one sort: a key's lines whose codes share a prefix are an interval of that key's
    sorted lines, and a group whose prefix sorts first holds codes that sort first (a prefix shorter than
    another it begins is a whole code). Faster, as each sort touches only the few thousand strings one
    group's text made, side by side in memory, where one sort of 5,000,000 strings scattered in memory
    walked all of them again and again (3.6-4.2 s of CPU).

    A hash aggregate: the prefix is a column of a subquery kept apart by ``OFFSET 0``, which the planner
    cannot estimate and guesses as 200 groups (over the code itself it guessed a group a line and sorted
    all the lines in the database's collation: 8-9 s of the server's CPU at 5,000,000); the line is
    made once, in the subquery. ``work_mem`` as it is: the groups all appear among the first rows, and a
    group found in memory grows there (5,000,000 lines: one batch, 138 MB, at 4 MB or 512 MB alike); groups
    still appearing once ``work_mem`` is full wait on disk for a second pass, with the same result."""
    sub = stmt.add_columns(func.left(code, chars).label("part")).offset(literal_column("0")).subquery("q")
    groups = session.execute(select(sub.c.part, func.string_agg(sub.c.line, literal_column("E'\\n'")))
                             .group_by(sub.c.part)).all()
    groups.sort(key=_first)   # code point order of the prefixes
    pieces: dict[str, list[list[str]]] = {}   # "key|" → its sorted lines, group by group
    for i in range(len(groups)):
        part = groups[i][1].split("\n")
        groups[i] = None      # its text, as soon as it is split
        part.sort()
        j = 0
        while j < len(part):
            key = part[j][:part[j].index("|") + 1]
            k = bisect.bisect_left(part, key[:-1] + "}", j)   # "}" sorts right after "|"
            pieces.setdefault(key, []).append(part if k - j == len(part) else part[j:k])
            j = k
    lines: list[str] = []
    for key in sorted(pieces):   # "B2|" before "B|", as their lines
        for piece in pieces.pop(key):
            lines += piece
    return lines


def _first(row) -> str:
    return row[0]


def inspector_lines(session: Session, department_codes: list[str],
                    required: Mapping[str, list[str]] | None = None) -> tuple[list[str], dict[str, int]]:
    """Sorted "dept|cert" lines of the eligible inspectors, and per department how many were left
    out for lacking a required qualification."""
    required = {d: set(q) for d, q in (required or {}).items() if q}
    eligible = (Department.code.in_(department_codes), Inspector.status == "active", Inspector.retired_at.is_(None))
    if not required:   # the lines made and joined by the database: one value to fetch, not a row per inspector
        line = (Department.code + literal("|") + Inspector.cert_no).label("line")
        return fetch_lines(session, select(line).select_from(Inspector)
                           .join(Department, Department.id == Inspector.department_id).where(*eligible)), {}
    columns = [Department.code, Inspector.cert_no, Inspector.qualifications]
    rows = session.execute(select(*columns).select_from(Inspector)
                           .join(Department, Department.id == Inspector.department_id).where(*eligible))
    lines, unqualified = [], {}
    for row in rows:
        dept, cert = row[0], row[1]
        wanted = required.get(dept)
        if wanted:
            held = {q.strip() for q in (row[2] or []) if isinstance(q, str)}
            if not wanted <= held:
                unqualified[dept] = unqualified.get(dept, 0) + 1
                continue
        lines.append(f"{dept}|{cert}")
    lines.sort()
    return lines, unqualified


def conflict_rows(session: Session) -> list[tuple[str, str, str]]:
    """Every declared conflict in force: (department code, certificate no., target code) (a short table)."""
    return [tuple(row) for row in session.execute(
        select(Department.code, Inspector.cert_no, Target.code)
        .select_from(InspectorConflict)
        .join(Inspector, Inspector.id == InspectorConflict.inspector_id)
        .join(Department, Department.id == Inspector.department_id)
        .join(Target, Target.id == InspectorConflict.target_id)
        .where(InspectorConflict.retired_at.is_(None)))]


def declared_conflicts(rows: list[tuple[str, str, str]], inspectors: list[str],
                       targets: list[str]) -> list[tuple[str, str]]:
    """Those of ``conflict_rows`` between an eligible inspector and an eligible target, sorted."""
    strata = list(count_prefixes(targets))
    out = set()
    for dept, cert, code in rows:
        if contains_line(inspectors, f"{dept}|{cert}") and any(
                contains_line(targets, f"{s}|{code}") for s in strata):
            out.add((cert, code))
    return sorted(out)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while the frozen lists are held: each collection of the youngest
    objects that runs while a list of a million lines is young walks all its lines (about 30 ms), and
    the rows and tuples made meanwhile start several. Strings make no cycles; what else is made meanwhile
    is collected afterwards. (The collector is the process's: a thread that paused it too ends with it
    running again, whichever ends first.)"""
    running = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if running:
            gc.enable()


def freeze(session: Session, task: Task, department_codes: list[str], *, max_visits: int | None = None,
           year: int | None = None) -> Eligible:
    inspectors, unqualified = inspector_lines(session, department_codes, required_qualifications(task))
    conflicts = conflict_rows(session)
    lines = fetch_lines(session, target_verdicts(task, year=year, max_visits=max_visits), grouped_by=Target.code)
    cut = bisect.bisect_left(lines, '"')   # "!reason|code" lines sort first ("!" < '"' < letters)
    excluded = [line[1:] for line in lines[:cut]]
    excluded.sort()
    del lines[:cut]                        # the targets, in place (no second list of a million)
    return Eligible(lines, excluded, inspectors, declared_conflicts(conflicts, inspectors, lines), unqualified)
