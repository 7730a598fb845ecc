"""Benchmark: list pages at a million rows (issue 14 §3), on PostgreSQL.

    .venv/bin/python bench/lists.py [--rows 1000000] [--runs 9] [--postgres URL] [--keep]

Builds a fresh database ``ss_bench_lists`` beside the one named (migrations), then generates with
``INSERT … SELECT generate_series`` and ANALYZE: ``rows`` targets (20 towns, four risk classes, USCC-like codes,
names, addresses), ``rows`` inspectors in 10 departments, ``rows`` inspections over 100 tasks and a published
result of each completed one (the public list, ``/api/public/results``: 900,000). Then times,
p50 of ``runs`` after one warm-up, the first page (and a deep page) of each list through the services the API
calls (``paginate``: the page and its total), unfiltered and filtered, and the searches by name and by USCC
prefix; prints whether the total was exact or the flagged estimate, and the plan (EXPLAIN ANALYZE) of the
slowest query. Prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import datetime as dt
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


def build(url: str, rows: int) -> None:
    from sqlalchemy import text

    from backend import migrate
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.db import Database
    from backend.directory.models import Department, Inspector, Region
    from backend.draws.models import Draw, InspectionGroup
    from backend.plans.models import Plan, Task, TaskDepartment

    migrate.upgrade(url)
    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())
    with db.session_scope() as s:
        s.add(Region(code="411203", name="陕州区", level="county"))
        s.flush()
        s.add_all([Region(code=f"411203{n:03d}", name=f"第{n}镇", level="town", parent_code="411203")
                   for n in range(1, TOWNS + 1)])
        departments = [Department(code=f"D{d:02d}", name=f"部门{d:02d}") for d in range(1, DEPARTMENTS + 1)]
        s.add_all(departments)
        s.flush()
        leader = Inspector(department_id=departments[0].id, cert_no="LEAD-0001", name="组长")
        s.add(leader)
        plan = Plan(code="JH-2026", year=2026, name="2026 年度联合抽查计划", kind="joint",
                    lead_department_id=departments[0].id, status="published")
        s.add(plan)
        s.flush()
        for n in range(TASKS):
            end = dt.date(2026, 1 + n % 12, 28)
            task = Task(code=f"SS-2026-{n + 1:03d}", name=f"联合抽查任务{n + 1}", plan_id=plan.id,
                        lead_department_id=departments[n % DEPARTMENTS].id, status="drawn", strata_mode="none",
                        strata={}, start_date=end - dt.timedelta(days=60), end_date=end)
            task.departments = [TaskDepartment(department_id=departments[n % DEPARTMENTS].id, role="lead",
                                               status="confirmed")]
            s.add(task)
            s.flush()
            draw = Draw(task_id=task.id, seq=1, status="drawn", plan={}, plan_hash="0" * 64, targets_hash="0" * 64,
                        inspectors_hash="0" * 64, commitment="0" * 64, counts={})
            s.add(draw)
            s.flush()
            s.add(InspectionGroup(draw_id=draw.id, task_id=task.id, number=0, leader_id=leader.id))
        s.flush()
        first_task = s.scalar(text("SELECT min(id) FROM task"))
        first_dept = departments[0].id
    statements = [
        ("targets", f"""
        INSERT INTO target (code, uscc, name, type, address, region_code, risk_class, tags_text, status, legal_rep,
                            department_id, created_at, updated_at)
        SELECT '91411203' || lpad(g::text, 10, '0'), '91411203' || lpad(g::text, 10, '0'),
               (ARRAY['三门峡','陕州','崤山','黄河','甘棠'])[1 + g % 5] || (ARRAY['食品','商贸','建材','药房','餐饮','五金'])[1 + g % 6]
                   || '有限公司' || g, 'enterprise', '陕州区第' || (1 + g % {TOWNS}) || '镇' || (g % 997) || '号',
               '411203' || lpad((1 + g % {TOWNS})::text, 3, '0'), (ARRAY['A','B','B','C','D'])[1 + g % 5], '',
               CASE WHEN g % 50 = 0 THEN 'closed' ELSE 'active' END, '法人' || (g % 9973),
               {first_dept} + g % {DEPARTMENTS}, now(), now()
        FROM generate_series(1, {rows}) g"""),
        ("inspectors", f"""
        INSERT INTO inspector (department_id, cert_no, name, phone, region_code, position, qualifications,
                               expertise_text, status, created_at, updated_at)
        SELECT {first_dept} + g % {DEPARTMENTS}, 'CERT' || lpad(g::text, 10, '0'), '执法人员' || g, NULL,
               '411203' || lpad((1 + g % {TOWNS})::text, 3, '0'), '科员', '[]'::json, '', 'active', now(), now()
        FROM generate_series(1, {rows}) g"""),
        ("inspections", f"""
        INSERT INTO inspection (task_id, draw_id, group_id, target_id, stratum, position, status, created_at,
                                updated_at, publication_due_on, due_provisional)
        SELECT t.id, g2.draw_id, g2.id, x.g, 'all', x.g,
               CASE WHEN x.g % 10 = 0 THEN 'assigned' ELSE 'completed' END, now(), now(),
               t.end_date + 28, false
        FROM generate_series(1, {rows}) x(g)
        JOIN task t ON t.id = {first_task} + x.g % {TASKS}
        JOIN inspection_group g2 ON g2.task_id = t.id"""),
        # the public results: one published version of each completed inspection (a twentieth of them
        # superseded by a correction, which is not generated), completed over 1,000 days
        ("published results", """
        INSERT INTO published_result (inspection_id, department_id, kind, version, state, document, document_sha256,
                                      record_hash, task_id, task_code, target_name, target_code, completed_on,
                                      published_at)
        SELECT i.id, t.lead_department_id, 'record', 1, CASE WHEN i.id % 20 = 0 THEN 'superseded' ELSE 'current' END,
               '{"result_categories": [{"code": "no_problem", "label": "未发现问题"}]}'::json,
               md5(i.id::text) || md5((i.id + 1)::text), md5(i.id::text) || md5((i.id + 7)::text), t.id, t.code,
               x.name, x.uscc, date '2024-01-01' + (i.id % 1000), timestamp '2024-01-20' + (i.id % 1000) * interval '1 day'
        FROM inspection i JOIN task t ON t.id = i.task_id JOIN target x ON x.id = i.target_id
        WHERE i.status = 'completed'"""),
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
    db.engine.dispose()


def _public_page(session, stmt) -> dict:
    """A page of the public list as the API answers it (the rows as the public reads them)."""
    from backend.api import paginate
    from backend.publication import results

    page = paginate(session, stmt, {})
    return {**page, "items": results.public_rows(session, page["items"])}


def measure(url: str, runs: int) -> None:
    from sqlalchemy import event, text

    from backend.actor import Actor
    from backend.api import paginate
    from backend.auth.roles import Role
    from backend.db import Database
    from backend.directory import inspectors, targets
    from backend.inspections import office
    from backend.publication import results

    db = Database(url)
    statements: list[tuple[float, str, object, bool]] = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def _before(conn, cursor, statement, parameters, context, executemany):
        conn.info["t0"] = time.perf_counter()

    @event.listens_for(db.engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        elapsed = time.perf_counter() - conn.info.pop("t0")
        if "enable_indexscan" in statement:  # paginate's filter-then-sort for few matches (backend/api.py)
            conn.info["no_index_walk"] = statement.startswith("SET")
            return
        statements.append((elapsed, statement, parameters, conn.info.get("no_index_walk", False)))

    admin = Actor(user_id=None, label="bench", role=Role.SYSADMIN)
    with db.session_scope() as s:
        some = s.execute(text("SELECT uscc, name FROM target WHERE id = 424242 % (SELECT max(id) FROM target) + 1")).one()
        dept = s.scalar(text("SELECT min(id) FROM department"))
        task = s.scalar(text("SELECT min(id) FROM task"))
        # (the first department leads the tasks whose inspections are all still assigned: none of its results)
        some_published = s.execute(text("SELECT target_name, target_code FROM published_result "
                                        "ORDER BY id LIMIT 1 OFFSET 424242 % (SELECT count(*) FROM published_result)")).one()
    cases = [
        ("targets, first page", lambda s: paginate(s, targets.targets_query(admin, {}), {})),
        ("targets, page 500", lambda s: paginate(s, targets.targets_query(admin, {}), {"page": 500})),
        ("targets, one town", lambda s: paginate(s, targets.targets_query(admin, {"region": "411203007"}), {})),
        ("targets, risk A + department", lambda s: paginate(s, targets.targets_query(
            admin, {"risk_class": ["A"], "department_id": dept}), {})),
        ("targets, search name (rare)", lambda s: paginate(s, targets.targets_query(admin, {"q": some.name}), {})),
        ("targets, search name (common)", lambda s: paginate(s, targets.targets_query(admin, {"q": "黄河食品"}), {})),
        ("targets, search USCC prefix", lambda s: paginate(s, targets.targets_query(admin, {"q": some.uscc[:14]}), {})),
        ("targets, search USCC whole", lambda s: paginate(s, targets.targets_query(admin, {"q": some.uscc}), {})),
        ("inspectors, first page", lambda s: paginate(s, inspectors.inspectors_query(admin, {}), {})),
        ("inspectors, one department", lambda s: paginate(s, inspectors.inspectors_query(
            admin, {"department_id": dept}), {})),
        ("inspectors, search name", lambda s: paginate(s, inspectors.inspectors_query(admin, {"q": "执法人员4242"}), {})),
        ("inspections, first page", lambda s: paginate(s, office.list_query(s, admin, {}), {})),
        ("inspections, one task", lambda s: paginate(s, office.list_query(s, admin, {"task_id": task}), {})),
        ("inspections, status assigned", lambda s: paginate(s, office.list_query(s, admin, {"status": "assigned"}), {})),
        ("public results, first page", lambda s: _public_page(s, results.public_query({}))),
        ("public results, page 500", lambda s: paginate(s, results.public_query({}), {"page": 500})),
        ("public results, with superseded", lambda s: paginate(s, results.public_query({"include_superseded": True}), {})),
        ("public results, one department", lambda s: paginate(s, results.public_query({"department_id": dept + 1}), {})),
        ("public results, one month", lambda s: paginate(s, results.public_query(
            {"from_": dt.date(2025, 3, 1), "to": dt.date(2025, 3, 31)}), {})),
        ("public results, name (rare)", lambda s: paginate(s, results.public_query({"q": some_published.target_name}), {})),
        ("public results, name (common)", lambda s: paginate(s, results.public_query({"q": "黄河食品"}), {})),
        ("public results, USCC", lambda s: paginate(s, results.public_query({"uscc": some_published.target_code}), {})),
    ]
    print(f"\n{'list page':34} {'p50 ms':>8} {'max ms':>8}  total")
    slowest = (0.0, None)
    for name, fn in cases:
        times = []
        for i in range(runs + 1):
            statements.clear()
            with db.session_scope() as s:
                t = time.perf_counter()
                page = fn(s)
                elapsed = time.perf_counter() - t
            if i:
                times.append(elapsed)
            worst = max(statements, key=lambda x: x[0])
            if worst[0] > slowest[0]:
                slowest = (worst[0], (name, worst[1], worst[2], worst[3]))
        total = f"{page['total']:,}" + (" (估计)" if page.get("total_estimated") else "")
        print(f"{name:34} {statistics.median(times) * 1000:8.1f} {max(times) * 1000:8.1f}  {total}")
    name, statement, parameters, no_index_walk = slowest[1]
    print(f"\nslowest statement ({name}, {slowest[0] * 1000:.1f} ms"
          f"{', filter then sort' if no_index_walk else ''}):")
    with db.engine.begin() as conn:
        if no_index_walk:
            conn.exec_driver_sql("SET LOCAL enable_indexscan = off")
        for (line,) in conn.exec_driver_sql("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters):
            print("  " + line)
    db.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--postgres", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--keep", action="store_true", help="reuse the generated database if it exists")
    args = parser.parse_args()
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    base = make_url(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
    url = base.set(database="ss_bench_lists").render_as_string(hide_password=False)
    admin = create_engine(base.render_as_string(hide_password=False), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = 'ss_bench_lists'"))
        if not (args.keep and exists):
            conn.exec_driver_sql('DROP DATABASE IF EXISTS "ss_bench_lists" WITH (FORCE)')
            conn.exec_driver_sql('CREATE DATABASE "ss_bench_lists"')
            exists = False
    admin.dispose()
    if not exists:
        print(f"building {args.rows:,} targets, inspectors and inspections …")
        t = time.perf_counter()
        build(url, args.rows)
        print(f"  built in {time.perf_counter() - t:.0f} s")
    else:
        from backend import migrate

        t = time.perf_counter()
        migrate.upgrade(url)          # a kept database gets the indexes of later migrations
        print(f"kept database migrated to head in {time.perf_counter() - t:.1f} s")
    measure(url, args.runs)


if __name__ == "__main__":
    main()
