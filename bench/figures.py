"""Benchmark: the supervisors' figures on a generated county, on PostgreSQL.

    .venv/bin/python bench/figures.py [--businesses 1000000] [--inspections 100000] [--runs 7]
                                      [--postgres URL] [--database NAME] [--keep] [--drop]

Builds a fresh database ``ss_bench_figures`` (``--database``) beside the one named (migrations), then generates with
``INSERT … SELECT generate_series`` (one statement per table, then ANALYZE): a county of 20 towns, ``businesses``
registered businesses in four risk classes, 10 departments, 100 drawn joint tasks over 2026 (each with its
lead and two participants, 10 of them sampled at one ratio for every class), and ``inspections`` inspections:
90 % submitted, of those 85 % published (a tenth of them late, a twentieth corrected), 3 % exempt, the rest
unpublished; two sections each, written from phones (95 %) or the office; a third with a problem found.

Then times, p50 of ``runs`` (after one warm-up), every figure of ``GET /api/v1/figures`` for some filters (the
year; a quarter; a month; a department; a town; a task; a plan), the monthly series of one figure, and the
first page of a drill-down (with its total), through the services the API calls; and prints the plan
(EXPLAIN ANALYZE) of the slowest statement. Prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TOWNS = 20
DEPARTMENTS = 10
TASKS = 100


def build(url: str, businesses: int, inspections: int) -> None:
    from sqlalchemy import text

    from backend import migrate
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.auth.models import User
    from backend.db import Database
    from backend.directory.models import Department, Inspector, Region
    from backend.draws.models import Draw, InspectionGroup
    from backend.plans.models import Plan, Task, TaskDepartment
    from sync.models import SyncClient

    migrate.upgrade(url)
    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())
    t0 = time.perf_counter()
    with db.session_scope() as s:
        s.add(Region(code="411203", name="陕州区", level="county"))
        s.flush()
        s.add_all([Region(code=f"411203{n:03d}", name=f"第{n}镇", level="town", parent_code="411203")
                   for n in range(1, TOWNS + 1)])
        departments = [Department(code=f"D{d:02d}", name=f"部门{d:02d}") for d in range(1, DEPARTMENTS + 1)]
        s.add_all(departments)
        s.flush()
        leaders = [Inspector(department_id=d.id, cert_no=f"CERT{d.id:04d}", name=f"组长{d.id}") for d in departments]
        s.add_all(leaders)
        user = User(username="bench", display_name="bench", password_hash="x", role="inspector",
                    department_id=departments[0].id)
        s.add(user)
        plan = Plan(code="JH-2026", year=2026, name="2026 年度联合抽查计划", kind="joint",
                    lead_department_id=departments[0].id, status="published")
        s.add(plan)
        s.flush()
        s.add_all([SyncClient(id="00000000-0000-4000-8000-000000000001", user_id=user.id, kind="phone"),
                   SyncClient(id="00000000-0000-4000-8000-000000000002", user_id=user.id, kind="office")])
        for n in range(TASKS):
            lead = departments[n % DEPARTMENTS]
            end = dt.date(2026, 1 + n % 12, 28)
            strata = ({c: {"num": 3, "den": 100} for c in "ABCD"} if n % 10 == 0 else
                      {"A": {"num": 1, "den": 100}, "B": {"num": 2, "den": 100}, "C": {"num": 10, "den": 100},
                       "D": {"num": 30, "den": 100}})
            task = Task(code=f"SS-2026-{n + 1:03d}", name=f"联合抽查任务{n + 1}", plan_id=plan.id,
                        lead_department_id=lead.id, status="drawn", strata_mode="risk", strata=strata,
                        start_date=end - dt.timedelta(days=60), end_date=end)
            task.departments = [TaskDepartment(department_id=lead.id, role="lead", status="confirmed")] + [
                TaskDepartment(department_id=departments[(n + k) % DEPARTMENTS].id, role="participant",
                               status="confirmed") for k in (3, 7)]
            s.add(task)
            s.flush()
            draw = Draw(task_id=task.id, seq=1, status="drawn", plan={}, plan_hash="0" * 64, targets_hash="0" * 64,
                        inspectors_hash="0" * 64, commitment="0" * 64, counts={})
            s.add(draw)
            s.flush()
            s.add(InspectionGroup(draw_id=draw.id, task_id=task.id, number=0, leader_id=leaders[n % DEPARTMENTS].id))
        s.flush()
        first_task = s.scalar(text("SELECT min(id) FROM task"))
        first_dept = departments[0].id
    print(f"  small tables: {time.perf_counter() - t0:.1f} s")
    statements = [
        ("targets", f"""
        INSERT INTO target (code, uscc, name, type, region_code, risk_class, tags_text, status, created_at, updated_at)
        SELECT 'T' || lpad(g::text, 17, '0'), NULL, '企业' || g, 'enterprise',
               '411203' || lpad((1 + g % {TOWNS})::text, 3, '0'),
               (ARRAY['A','B','B','C','D'])[1 + g % 5], '',
               CASE WHEN g % 50 = 0 THEN 'closed' ELSE 'active' END, now(), now()
        FROM generate_series(1, {businesses}) g"""),
        ("inspections", f"""
        INSERT INTO inspection (task_id, draw_id, group_id, target_id, stratum, position, status, created_at,
                                updated_at, completed_at, completed_on, publication_due_on, due_provisional,
                                published_at, publication_exempt_at)
        SELECT t.id, g2.draw_id, g2.id, tg.id, tg.risk_class, x.g,
               CASE WHEN x.g % 10 = 0 THEN 'assigned' ELSE 'completed' END, now(), now(),
               CASE WHEN x.g % 10 = 0 THEN NULL ELSE t.end_date - (x.g % 20) + time '10:00' END,
               CASE WHEN x.g % 10 = 0 THEN NULL ELSE t.end_date - (x.g % 20) + (CASE WHEN x.g % 13 = 0 THEN 9 ELSE 0 END) END,
               CASE WHEN x.g % 10 = 0 THEN NULL ELSE t.end_date - (x.g % 20) + 28 END, false,
               CASE WHEN x.g % 10 = 0 OR x.g % 100 < 15 THEN NULL
                    WHEN x.g % 17 = 0 THEN t.end_date + 40 + time '03:00'
                    ELSE t.end_date + (x.g % 7) + time '03:00' END,
               CASE WHEN x.g % 100 IN (11, 12, 13) THEN t.end_date + 5 + time '03:00' END
        FROM generate_series(1, {inspections}) x(g)
        JOIN task t ON t.id = {first_task} + x.g % {TASKS}
        JOIN inspection_group g2 ON g2.task_id = t.id
        JOIN target tg ON tg.id = (x.g * 7919) % {businesses} + 1"""),
        ("records", """
        INSERT INTO inspection_record (inspection_id, data, revs, rev, state, version, submitted_at, updated_at)
        SELECT id, CASE WHEN id % 3 = 0 THEN '{"result_categories": ["pending_followup", "other_violation"]}'
                        ELSE '{"result_categories": ["no_problem"]}' END::json, '{}'::json, 1, 'submitted', 1,
               completed_at, now()
        FROM inspection WHERE status = 'completed'"""),
        ("sections", f"""
        INSERT INTO inspection_section (inspection_id, department_id, data, revs, rev, status, created_at, updated_at)
        SELECT i.id, td.department_id, '{{}}'::json, '{{}}'::json, 1, 'signed', now(), now()
        FROM inspection i JOIN task_department td ON td.task_id = i.task_id
        WHERE i.status = 'completed'
          AND (td.role = 'lead' OR td.department_id = {first_dept} + (i.task_id - {first_task} + 3) % {DEPARTMENTS})"""),
        ("mutations", """
        INSERT INTO sync_mutation (client_id, mutation_id, name, status, inspection_id, applied_at)
        SELECT CASE WHEN s.inspection_id % 20 = 0 THEN '00000000-0000-4000-8000-000000000002'
                    ELSE '00000000-0000-4000-8000-000000000001' END,
               s.id, 'section.set', 'applied', s.inspection_id, now()
        FROM inspection_section s"""),
        ("follow-ups", """
        INSERT INTO followup (uid, inspection_id, task_id, target_id, department_id, lead_department_id, action,
                              state, due_on, version, created_at, updated_at, closed_at)
        SELECT gen_random_uuid()::text, i.id, i.task_id, i.target_id, t.lead_department_id, t.lead_department_id,
               'rectify', CASE WHEN i.id % 4 = 0 THEN 'ordered' WHEN i.id % 4 = 1 THEN 'unrectified'
                               ELSE 'rectified' END,
               CASE WHEN i.id % 5 = 0 THEN NULL ELSE i.completed_on + 15 END, 1, now(), now(),
               CASE WHEN i.id % 4 >= 2 THEN now() END
        FROM inspection i JOIN task t ON t.id = i.task_id WHERE i.status = 'completed' AND i.id % 3 = 0"""),
        ("published results", """
        INSERT INTO published_result (inspection_id, department_id, kind, version, state, document, document_sha256,
                                      record_hash, task_id, task_code, target_name, target_code, completed_on,
                                      published_at)
        SELECT i.id, t.lead_department_id, 'record', 1, 'current',
               json_build_object(
                 'plan', json_build_object('code', 'JH-2026', 'name', '2026 年度联合抽查计划'),
                 'task', json_build_object('code', t.code, 'name', t.name, 'type_label', '不定向',
                                           'joint_label', '是'),
                 'authorities', json_build_array(json_build_object('name', '部门01'),
                                                 json_build_object('name', '部门04')),
                 'publisher', json_build_object('name', '部门01'),
                 'business', json_build_object('name', tg.name, 'uscc', tg.code),
                 'items', json_build_array(json_build_object('name', '营业执照公示情况的检查'),
                                           json_build_object('name', '税务登记情况的检查')),
                 'completed_on', i.completed_on::text,
                 'result_categories', json_build_array(json_build_object('label', '未发现问题')),
                 'remarks', NULL, 'record_hash', md5(i.id::text) || md5(i.id::text)),
               md5(i.id::text) || md5(i.id::text), md5(i.id::text) || md5(i.id::text), t.id, t.code, tg.name,
               tg.code, i.completed_on, i.published_at
        FROM inspection i JOIN task t ON t.id = i.task_id JOIN target tg ON tg.id = i.target_id
        WHERE i.published_at IS NOT NULL"""),
        ("department admins", """
        INSERT INTO user_account (username, display_name, password_hash, role, department_id, status, token_version,
                                  created_at, updated_at)
        SELECT 'admin' || d.id || '_' || n, '管理员' || d.id, 'x', 'dept_admin', d.id, 'active', 1, now(), now()
        FROM department d CROSS JOIN generate_series(1, 2) n"""),
    ]
    with db.engine.begin() as conn:
        for name, sql in statements:
            t = time.perf_counter()
            n = conn.exec_driver_sql(sql.replace("%", "%%")).rowcount
            print(f"  {name}: {n:,} rows in {time.perf_counter() - t:.1f} s")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        t = time.perf_counter()
        conn.exec_driver_sql("VACUUM ANALYZE")
        print(f"  VACUUM ANALYZE: {time.perf_counter() - t:.1f} s")
    from backend.figures import facts

    with db.engine.begin() as conn:      # what migration 0020 and `shuangsui figures rebuild` do
        t = time.perf_counter()
        n = facts.rebuild(conn)
        print(f"  figure facts (rebuild, the backfill): {n:,} rows in {time.perf_counter() - t:.1f} s")
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE figure_fact")
    db.engine.dispose()


class Timer:
    """Records each statement's time (to find the slowest) while a block runs."""

    def __init__(self, engine):
        from sqlalchemy import event

        self.statements: list[tuple[float, str, object]] = []
        self._start: list[float] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self._start.append(time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        self.statements.append((time.perf_counter() - self._start.pop(), statement, parameters))


def timed(fn, runs: int) -> tuple[float, float]:
    """(p50, p95) in ms of ``runs`` calls after one warm-up."""
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, max(0, math.ceil(0.95 * len(times)) - 1))]


def measure(url: str, runs: int) -> None:
    from sqlalchemy import select

    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.db import Database
    from backend.directory.models import Department
    from backend.figures import services
    from backend.plans.models import Plan, Task

    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())
    timer = Timer(db.engine)
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (the machine is shared with other "
          "sessions: figures under load)")
    with db.session_scope() as s:
        task = s.scalar(select(Task).order_by(Task.id).offset(51).limit(1))
        plan_id = s.scalar(select(Plan.id))
        department_id = s.scalar(select(Department.id).order_by(Department.id).offset(2).limit(1))
        year, quarter, month = (services.parse_period(p) for p in ("2026", "2026-Q2", "2026-05"))
        scopes = {
            "county, year": services.Scope(year),
            "county 411203, year": services.Scope(year, region="411203"),
            "county, quarter": services.Scope(quarter),
            "county, month": services.Scope(month),
            "department, quarter": services.Scope(quarter, department_id=department_id),
            "department, year": services.Scope(year, department_id=department_id),
            "town 411203007, month": services.Scope(month, region="411203007"),
            "town 411203007, year": services.Scope(year, region="411203007"),
            "task, year": services.Scope(year, task_id=task.id),
            "plan, year": services.Scope(year, plan_id=plan_id),
        }
        print(f"\nevery figure (GET /api/v1/figures: all ten in one answer), p50 / p95 of {runs}, goal p50 <= 300 ms:")
        for name, scope in scopes.items():
            p, q = timed(lambda: services.figures(s, scope), runs)
            figs = {f["key"]: f for f in services.figures(s, scope)}
            c, o, fu = figs["completion"], figs["on_time_publication"], figs["followup"]
            print(f"  {name:24s} {p:7.1f} / {q:7.1f} ms   completion {c['numerator']}/{c['denominator']}, "
                  f"on-time publication {o['numerator']}/{o['denominator']}, follow-up {fu['numerator']}/"
                  f"{fu['denominator']}")
        print(f"\na figure by month (GET /api/v1/figures/series, 12 months), p50 / p95 of {runs}:")
        for name, figure in (("county, year", "on_time_publication"), ("department, year", "followup"),
                             ("town 411203007, year", "coverage")):
            p, q = timed(lambda: services.series(s, scopes[name], figure), runs)
            print(f"  {figure} ({name}):".ljust(44) + f"{p:7.1f} / {q:7.1f} ms")
        print(f"\ndrill-down, first page of 20 with its total (GET /api/v1/figures/<figure>/items), p50 / p95 of {runs}, "
              "goal p50 <= 100 ms:")
        for figure, part, name in (("on_time_publication", "missing", "county, year"),
                                   ("completion", "numerator", "county, year"),
                                   ("completion", "missing", "town 411203007, month"),
                                   ("problem_found", "numerator", "department, quarter"),
                                   ("mobile", "missing", "county, year"),
                                   ("coverage", "numerator", "task, year")):
            scope = scopes[name]

            def page():
                return services.items_page(s, scope, figure, part, {"page": 1, "page_size": 20})
            p, q = timed(page, runs)
            print(f"  {figure}/{part} ({name}):".ljust(56) + f"{p:7.1f} / {q:7.1f} ms   total {page()['total']}")
        slowest = max(timer.statements, key=lambda x: x[0])
        timer.statements.clear()
        print(f"\nslowest statement of the figures ({slowest[0] * 1000:.1f} ms):\n{slowest[1]}\n"
              f"parameters: {slowest[2]}\n")
        raw = s.connection().connection.dbapi_connection
        with raw.cursor() as cur:
            cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest[1], slowest[2])
            for (line,) in cur.fetchall():
                print(line)
    export_and_sweep(db)


def export_and_sweep(db) -> None:
    import datetime as dt
    import tempfile

    from sqlalchemy import func, select

    from backend.actor import Actor
    from backend.auth.models import User
    from backend.notifications.services import sweep
    from backend.publication import exports
    from backend.publication.models import PublishedResult

    start, end = dt.date(2026, 4, 1), dt.date(2026, 6, 30)
    with db.session_scope() as s, tempfile.TemporaryDirectory() as media:
        n = s.scalar(select(func.count()).select_from(exports.national_query(None, start, end).subquery()))
        total = s.scalar(select(func.count()).select_from(PublishedResult))
        actor = Actor.of_user(s.scalar(select(User).where(User.username == "bench")))
        for fmt in ("csv", "xlsx"):
            t = time.perf_counter()
            row = exports.export_national(s, actor, media, None, start, end, fmt, source="cli")
            print(f"\nnational-system export of 2026-Q2 ({fmt}): {row.rows:,} of {n:,} published results in the "
                  f"quarter ({total:,} in all): {time.perf_counter() - t:.2f} s (goal <= 5 s), {row.size:,} bytes")
        s.rollback()
    print("\nreminder sweep over all (100,000 inspections, their follow-ups and tasks), goal <= 1 s:")
    for label in ("first sweep (records everything due)", "next sweep (nothing new)", "and the next"):
        with db.session_scope() as s:
            t = time.perf_counter()
            result = sweep(s, dt.date(2026, 12, 1))
            print(f"  {label}: {(time.perf_counter() - t) * 1000:.0f} ms, {result.created:,} new")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--businesses", type=int, default=1_000_000)
    parser.add_argument("--inspections", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="an existing database to connect to; the benchmark creates ss_bench_figures beside it")
    parser.add_argument("--database", default="ss_bench_figures", help="the benchmark's own database's name")
    parser.add_argument("--keep", action="store_true", help="reuse the benchmark's database as it is (no rebuild)")
    parser.add_argument("--drop", action="store_true", help="drop the benchmark's database at the end")
    args = parser.parse_args()
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = args.database
    if not name.replace("_", "").isalnum():
        parser.error("--database: letters, digits and underscores only")
    url = make_url(args.postgres).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1),
                          isolation_level="AUTOCOMMIT")
    if not args.keep:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        print(f"building: {args.businesses:,} businesses, {args.inspections:,} inspections")
        t = time.perf_counter()
        build(url, args.businesses, args.inspections)
        print(f"  built in {time.perf_counter() - t:.1f} s")
    try:
        measure(url, args.runs)
    finally:
        if args.drop:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
