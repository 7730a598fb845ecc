"""Benchmark: the quarterly 通报 (PDF) and a large list export, on a generated county, on PostgreSQL.

    .venv/bin/python bench/report.py [--businesses 1000000] [--inspections 100000] [--postgres URL] [--keep]

Builds ``ss_bench_report`` beside the database named, with the generator of ``bench/figures.py`` (a county of
20 towns, 10 departments, 100 joint tasks over 2026), then times, once each (they are jobs, not requests):

* the 通报 of each quarter for the whole county (every figure, per department and per town, the overdue lists)
  and of one department, split into gathering (the figures services) and rendering (the PDF), with its pages;
* the export of the list behind a number (all inspections of the year, ``completion`` denominator) as CSV and
  XLSX through ``backend.jobs.exports`` (what the ``export.file`` job writes), with rows per second.

Prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DB = "ss_bench_report"


def measure(url: str) -> None:
    from backend.actor import Actor
    from backend.db import Database
    from backend.figures import report
    from backend.inspections import pdf
    from backend.jobs import exports

    db = Database(url)
    actor = Actor.system("bench")
    settings = pdf.Settings(media_dir=tempfile.mkdtemp(prefix="bench-report-"))
    print("\nthe quarterly 通报 (gather = the figures services; render = the PDF):")
    for quarter, department_id in (("2026-Q1", None), ("2026-Q2", None), ("2026-Q3", None), ("2026-Q4", None),
                                   ("2026-Q4", 1)):
        with db.session_scope(write=False) as s:
            scope = report.quarter_scope(actor, quarter, department_id)
            t = time.perf_counter()
            made = report.gather(s, actor, scope)
            gathered = time.perf_counter() - t
            t = time.perf_counter()
            rendered = report.render(made, settings)
            drawn = time.perf_counter() - t
        completion = next(f for f in made.overall if f["key"] == "completion")
        who = "all departments" if department_id is None else f"department {department_id}"
        print(f"  {quarter} {who}:".ljust(34) + f"gather {gathered * 1000:8.1f} ms   render {drawn * 1000:7.1f} ms   "
              f"{rendered.pages} pages, {len(rendered.data) / 1024:.0f} KB; {len(made.by_department)} departments, "
              f"{len(made.by_region)} towns, drawn {completion['denominator']}, late: "
              f"{made.late_publication[0]} results, {made.late_tasks[0]} tasks, {made.late_followups[0]} follow-ups")
    print("\nexport of a list behind a number (completion, denominator, 2026) through backend/jobs/exports.py:")
    spec = exports.spec_for("figures.items")
    params = {"figure": "completion", "part": "denominator", "period": "2026"}
    for fmt in ("csv", "xlsx"):
        with db.session_scope(write=False) as s:
            total = spec.count(s, actor, params)
            out = io.BytesIO()
            t = time.perf_counter()
            rows = exports.write(out, spec, s, actor, params, fmt)
            took = time.perf_counter() - t
        print(f"  {fmt}:".ljust(10) + f"{rows:,} rows (counted {total:,}) in {took:6.2f} s = {rows / took:,.0f} rows/s, "
              f"{len(out.getvalue()) / 1024 / 1024:.1f} MB")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--businesses", type=int, default=1_000_000)
    parser.add_argument("--inspections", type=int, default=100_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help=f"an existing database to connect to; the benchmark creates {DB} beside it")
    parser.add_argument("--keep", action="store_true", help=f"reuse {DB} as it is (no rebuild)")
    args = parser.parse_args()
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from bench.figures import build

    url = make_url(args.postgres).set(database=DB).render_as_string(hide_password=False)
    if not args.keep:
        admin = create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1),
                              isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DB}"'))
        admin.dispose()
        print(f"building: {args.businesses:,} businesses, {args.inspections:,} inspections")
        t = time.perf_counter()
        build(url, args.businesses, args.inspections)
        print(f"  built in {time.perf_counter() - t:.1f} s")
    measure(url)


if __name__ == "__main__":
    main()
