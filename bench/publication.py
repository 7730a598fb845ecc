"""Benchmark: the national publicity system's batch file and the reminder sweep on a generated county, on
PostgreSQL (issue 12, Performance: the export of a quarter's results in ≤ 5 s; the sweep over all of them in ≤ 1 s).

    .venv/bin/python bench/publication.py [--businesses 1000000] [--inspections 100000] [--runs 3]
                                          [--postgres URL] [--database ss_bench_publication] [--keep]
                                          [--only export|sweep]

Builds a fresh database ``--database`` beside the one named: the county of ``bench/figures.py`` (its ``build``:
20 towns, 10 departments, 100 joint tasks over 2026, ``inspections`` inspections, 90 % submitted, of those 85 %
published, a tenth late, 3 % exempt), then with ``INSERT … SELECT``: each department's admin, publisher and
planner (the tasks' authors) and a supervisor; a published version (``published_result``, its public document
as ``redaction.public_document`` writes it) per published inspection, a correction (version 2, the first
superseded) for a twentieth of them and the participant department's own part for a quarter; a follow-up per
record with a problem (a third), half of them closed, due 15 days after the inspection.

Then, each ``runs`` times (the best and the median, with the load average):

* the national file of 2026-Q2 (every department) as CSV and as XLSX: its count, then
  ``backend.jobs.exports.write`` (what ``GET /api/v1/publication/exports/file`` and the ``export.file`` job do),
  with its row count and the CSV's SHA-256 (to compare before and after a change on the same database);
* the reminder sweep on 2026-12-01 from an empty notification table (every reminder due is recorded), and
  the next sweep (nothing new);

with the CPU time of this process and of its PostgreSQL backend (best/median; the machine's load moves it less than
the wall clock), and prints the plan (EXPLAIN ANALYZE) of the slowest statement of each. Prints figures; it is not
a test.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import io
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.append(str(ROOT / "bench"))    # figures.py (bench/sync.py must not shadow sync/)

QUARTER = {"from": "2026-04-01", "to": "2026-06-30"}
SWEEP_DAY = dt.date(2026, 12, 1)
RECORD_LABEL = "'检查结果（牵头部门发布的整条记录）'"
PART_LABEL = "'部门检查结果（参与部门发布的本部门部分）'"

DOCUMENT = """json_build_object(
  'kind', {kind}, 'kind_label', {kind_label},
  'plan', json_build_object('code', p.code, 'name', p.name),
  'task', json_build_object('code', t.code, 'name', t.name, 'type', 'undirected', 'type_label', '不定向抽查',
                            'joint', true, 'joint_label', '联合抽查'),
  'authorities', (SELECT json_agg(json_build_object('code', d.code, 'name', d.name, 'role', td.role,
                                                    'role_label', CASE td.role WHEN 'lead' THEN '牵头部门'
                                                                  ELSE '参与部门' END) ORDER BY td.id)
                  FROM task_department td JOIN department d ON d.id = td.department_id WHERE td.task_id = t.id),
  'publisher', json_build_object('code', pub.code, 'name', pub.name),
  'business', json_build_object('name', tg.name, 'uscc', tg.uscc, 'reg_no', tg.code),
  'items', json_build_array(
     json_build_object('code', 'SX-' || t.id || '-1', 'name', '营业执照（登记证）规范使用情况的检查', 'department', pub.name,
                       'methods', json_build_array(json_build_object('code', 'onsite', 'label', '实地核查'))),
     json_build_object('code', 'SX-' || t.id || '-2', 'name', '经营（住所）场所和登记情况的检查', 'department', pub.name,
                       'methods', json_build_array(json_build_object('code', 'documents', 'label', '书面检查')))),
  'completed_on', i.completed_on::text,
  'result_categories', CASE WHEN i.id % 3 = 0 THEN json_build_array(
        json_build_object('code', 'pending_followup', 'label', '发现问题待后续处理'),
        json_build_object('code', 'other_violation', 'label', '发现其他违法违规行为'))
      ELSE json_build_array(json_build_object('code', 'no_problem', 'label', '未发现问题')) END,
  'remarks', CASE WHEN i.id % 7 = 0 THEN '现场检查发现部分台账未及时更新，已当场指出。' END,
  'record_hash', md5(i.id::text) || md5(i.id::text || 'x'))"""


def build(url: str, businesses: int, inspections: int) -> None:
    from sqlalchemy import text

    import figures as county
    from backend.db import Database

    county.build(url, businesses, inspections)
    db = Database(url)
    published = f"""
        INSERT INTO published_result (inspection_id, department_id, kind, version, state, document, document_sha256,
                                      record_hash, task_id, task_code, target_name, target_code, completed_on,
                                      change_note, published_at, published_by)
        SELECT i.id, pub.id, {{kind}}, {{version}}, {{state}}, doc.d, md5(doc.d::text) || md5(i.id::text),
               md5(i.id::text) || md5(i.id::text || 'x'), t.id, t.code, tg.name, tg.code, i.completed_on,
               {{note}}, {{at}}, NULL
        FROM inspection i JOIN task t ON t.id = i.task_id JOIN plan p ON p.id = t.plan_id
        JOIN target tg ON tg.id = i.target_id
        JOIN department pub ON pub.id = {{publisher}}
        CROSS JOIN LATERAL (SELECT {DOCUMENT} AS d) doc
        WHERE i.published_at IS NOT NULL {{where}}"""
    lead = "t.lead_department_id"
    participant = ("(SELECT td.department_id FROM task_department td WHERE td.task_id = t.id "
                   "AND td.role = 'participant' ORDER BY td.id LIMIT 1)")
    statements = [
        # bench/figures.py's county has one plain version per published inspection and its own follow-ups:
        # replaced here by the richer ones below
        ("the county's plain versions and follow-ups removed", "TRUNCATE published_result, followup CASCADE"),
        ("users", """
        INSERT INTO user_account (username, display_name, password_hash, role, department_id, status, token_version,
                                  created_at, updated_at)
        SELECT r.role || '-' || d.code, r.role || d.name, 'x', r.role, d.id, 'active', 1, now(), now()
        FROM department d CROSS JOIN (VALUES ('dept_admin'), ('publisher'), ('planner')) r(role)
        UNION ALL SELECT 'supervisor', '督查', 'x', 'supervisor', NULL, 'active', 1, now(), now()"""),
        ("task authors", """
        UPDATE task SET created_by = u.id FROM user_account u
        WHERE u.role = 'planner' AND u.department_id = task.lead_department_id"""),
        ("published records", published.format(
            kind="'record'", version="1",
            state="CASE WHEN i.id % 20 = 0 THEN 'superseded' ELSE 'current' END", note="NULL",
            at="i.published_at", publisher=lead, where="", kind_label=RECORD_LABEL)),
        ("corrections", published.format(
            kind="'record'", version="2", state="'current'", note="'更正：检查事项名称录入有误，已改正。'",
            at="i.published_at + interval '3 days'", publisher=lead, where="AND i.id % 20 = 0", kind_label=RECORD_LABEL)),
        ("department parts", published.format(
            kind="'department'", version="1", state="'current'", note="NULL",
            at="i.published_at + interval '1 hour'", publisher=participant, where="AND i.id % 4 = 1", kind_label=PART_LABEL)),
        ("follow-ups", """
        INSERT INTO followup (uid, inspection_id, task_id, target_id, department_id, lead_department_id, action,
                              state, due_on, version, closed_at, created_by, created_at, updated_at)
        SELECT md5(i.id::text)::uuid::text, i.id, i.task_id, i.target_id, t.lead_department_id, t.lead_department_id,
               'rectify', CASE WHEN i.id % 2 = 0 THEN 'rectified' ELSE 'ordered' END, i.completed_on + 15, 1,
               CASE WHEN i.id % 2 = 0 THEN now() END, t.created_by, now(), now()
        FROM inspection i JOIN task t ON t.id = i.task_id
        WHERE i.status = 'completed' AND i.id % 3 = 0"""),
    ]
    with db.engine.begin() as conn:
        for name, sql in statements:
            t = time.perf_counter()
            n = conn.exec_driver_sql(sql.replace("%", "%%")).rowcount
            print(f"  {name}: {n:,} rows in {time.perf_counter() - t:.1f} s")
        conn.execute(text("UPDATE published_result p SET superseded_by_id = c.id, superseded_at = c.published_at "
                          "FROM published_result c WHERE p.version = 1 AND p.kind = 'record' AND c.version = 2 "
                          "AND c.inspection_id = p.inspection_id AND c.department_id = p.department_id"))
        conn.execute(text("UPDATE published_result c SET supersedes_id = p.id FROM published_result p "
                          "WHERE c.version = 2 AND p.version = 1 AND p.kind = 'record' "
                          "AND c.inspection_id = p.inspection_id AND c.department_id = p.department_id"))
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    db.engine.dispose()


def figures_of(times: list[float], cpu: list[float] | None = None) -> str:
    out = f"best {min(times) * 1000:7.0f} ms, median {statistics.median(times) * 1000:7.0f} ms (of {len(times)})"
    if cpu:
        out += f", CPU {min(cpu) * 1000:.0f}/{statistics.median(cpu) * 1000:.0f} ms"
    return out


class Cpu:
    """CPU seconds used by this process and by the session's PostgreSQL backend (read in /proc when the server
    runs on this machine; its parallel workers are not counted): a figure the other sessions' load changes less
    than the wall clock."""

    def __init__(self, session):
        pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
        self.path = Path(f"/proc/{pid}/stat")
        self.start = self.now()

    def now(self) -> float:
        server = 0.0
        if self.path.exists():
            fields = self.path.read_text().rsplit(")", 1)[1].split()
            server = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        return time.process_time() + server

    def used(self) -> float:
        return self.now() - self.start


def explain(session, timer, label: str) -> None:
    slowest = max(timer.statements, key=lambda x: x[0])
    shown = slowest[1] if len(slowest[1]) < 3000 else slowest[1][:3000] + " …"
    params = str(slowest[2])
    params = params if len(params) < 1000 else params[:1000] + " …"
    print(f"\nslowest statement of the {label} ({slowest[0] * 1000:.1f} ms):\n{shown}\nparameters: {params}\n")
    if not slowest[1].lstrip().upper().startswith(("SELECT", "WITH", "INSERT")):
        return
    raw = session.connection().connection.dbapi_connection
    with raw.cursor() as cur:
        cur.execute("SAVEPOINT bench_explain")
        cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + slowest[1], slowest[2])
        for (line,) in cur.fetchall():
            print(line if len(line) < 400 else line[:400] + " …")
        cur.execute("ROLLBACK TO SAVEPOINT bench_explain")


def measure_export(db, runs: int) -> None:
    from figures import Timer

    from backend.actor import Actor
    from backend.jobs import exports

    spec = exports.spec_for("publication.national")
    actor = Actor.system()
    print(f"\nnational file of 2026-Q2 ({QUARTER['from']} … {QUARTER['to']}), every department, "
          "through backend/jobs/exports.py:")
    for fmt in ("csv", "xlsx"):
        times, cpu, rows, digest = [], [], 0, ""
        timer = None
        for run in range(runs):
            with db.session_scope(write=False) as s:
                if run == runs - 1:
                    timer = Timer(db.engine)
                out = io.BytesIO()
                used = Cpu(s)
                t = time.perf_counter()
                spec.count(s, actor, dict(QUARTER))       # what the endpoint asks first (the file or a job)
                rows = exports.write(out, spec, s, actor, dict(QUARTER), fmt)
                times.append(time.perf_counter() - t)
                cpu.append(used.used())
                if fmt == "csv":
                    digest = hashlib.sha256(out.getvalue()).hexdigest()
        print(f"  {fmt:4s} {rows:,} rows  {figures_of(times, cpu)}  load {os.getloadavg()[0]:.1f}"
              + (f"  sha256 {digest}" if digest else ""))
    _detach(timer)
    with db.session_scope(write=False) as s:
        explain(s, timer, "CSV export")


def _detach(timer) -> None:
    from sqlalchemy import event

    for engine_event, fn in (("before_cursor_execute", timer._before), ("after_cursor_execute", timer._after)):
        for engine in list(_engines):
            if event.contains(engine, engine_event, fn):
                event.remove(engine, engine_event, fn)


_engines: list = []


def measure_sweep(db, runs: int) -> None:
    from sqlalchemy import text

    from figures import Timer

    from backend.notifications.services import sweep

    print(f"\nreminder sweep on {SWEEP_DAY} over the county:")
    first, again, first_cpu, again_cpu, result = [], [], [], [], None
    timer = None
    for run in range(runs):
        with db.engine.begin() as conn:
            conn.execute(text("TRUNCATE notification"))
        if run == runs - 1:
            timer = Timer(db.engine)
        for times, cpu in ((first, first_cpu), (again, again_cpu)):
            with db.session_scope() as s:
                used = Cpu(s)
                t = time.perf_counter()
                swept = sweep(s, SWEEP_DAY)
                times.append(time.perf_counter() - t)
                cpu.append(used.used())
                result = result if times is again else swept
    print(f"  first sweep  {figures_of(first, first_cpu)}  load {os.getloadavg()[0]:.1f}  "
          f"{result.created:,} new: {result.by_kind}")
    print(f"  next sweep   {figures_of(again, again_cpu)}  load {os.getloadavg()[0]:.1f}")
    _detach(timer)
    with db.session_scope() as s:
        s.execute(text("TRUNCATE notification"))
        explain(s, timer, "last two sweeps")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--businesses", type=int, default=1_000_000)
    parser.add_argument("--inspections", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="an existing database to connect to; the benchmark creates --database beside it")
    parser.add_argument("--database", default="ss_bench_publication")
    parser.add_argument("--keep", action="store_true", help="reuse --database as it is (no rebuild)")
    parser.add_argument("--only", choices=("export", "sweep"))
    args = parser.parse_args()
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    import backend.models  # noqa: F401 - every mapper (the sweep alone imports too few)
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.db import Database

    url = make_url(args.postgres).set(database=args.database).render_as_string(hide_password=False)
    if not args.keep:
        admin = create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{args.database}"'))
        admin.dispose()
        print(f"building: {args.businesses:,} businesses, {args.inspections:,} inspections")
        t = time.perf_counter()
        build(url, args.businesses, args.inspections)
        print(f"  built in {time.perf_counter() - t:.1f} s")
    db = Database(url)
    _engines.append(db.engine)
    configure_audit(db.engine, AuditSettings.ephemeral())
    print(f"\nload average {' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores "
          "(the machine may be shared)")
    if args.only in (None, "export"):
        measure_export(db, args.runs)
    if args.only in (None, "sweep"):
        measure_sweep(db, args.runs)


if __name__ == "__main__":
    main()
