"""Benchmark: rendering the PDF 检查记录表 (backend/inspections/pdf.py). Prints figures; it is not a test.

    .venv/bin/python bench/record_pdf.py [--repeat 5] [--screenshot docs/screenshots/record-pdf.png]

Builds, in a temporary SQLite database, the record of tests/field/pdf_sample.py (two departments,
photos, GPS fixes, a finding, signatures drawn on the pad, submitted through the phones' protocol: the
job renders and links the PDF), then times:

1. rendering that submitted record (median of ``--repeat``);
2. rendering a draft with 40 check points, 8 findings and 6 notes of 2,000 characters each (flow);

and, with ``--screenshot``, renders page 1 of the submitted record to PNG with pdftoppm (poppler-utils).
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--screenshot", help="write page 1 of the sample record here (PNG)")
    parser.add_argument("--dpi", type=int, default=110)
    args = parser.parse_args()

    from sqlalchemy.orm import sessionmaker

    from backend import migrate
    from backend.db import Database
    from backend.inspections import pdf
    from tests.conftest import make_test_app
    from tests.factories import AuthActions, Factory
    from tests.field.conftest import build_field
    from tests.field.pdf_sample import submitted_record
    from tests.field.test_pdf import LONG_NOTE, LONG_PROBLEM, _forty_points

    tmp = Path(tempfile.mkdtemp(prefix="ss-bench-pdf-"))
    url = f"sqlite:///{tmp / 'bench.db'}"
    migrate.upgrade(url)
    db = Database(url)
    app = make_test_app(db, tmp)
    # one transaction for everything (as a test does): the app's sessions join it through savepoints
    connection = db.engine.connect()
    transaction = connection.begin()
    db.sessionmaker = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    session = db.sessionmaker()
    try:
        factory = Factory(session)
        field = build_field(app, app.test_client(), factory, AuthActions(app, factory), session, targets=2)
        started = time.perf_counter()
        submitted_record(field)
        print(f"sample record filled, signed and submitted through the protocol (the job included): "
              f"{time.perf_counter() - started:.2f} s")
        settings = pdf.Settings.from_config(app.config)
        session.expire_all()
        times, rendered = [], None
        for _ in range(args.repeat):
            t = time.perf_counter()
            rendered = pdf.render(session, field.inspection.id, settings)
            times.append(time.perf_counter() - t)
        print(f"submitted record: {rendered.pages} pages, {len(rendered.data) / 1024:.0f} KB, "
              f"render median {statistics.median(times) * 1000:.0f} ms (min {min(times) * 1000:.0f}, n={args.repeat})")
        if args.screenshot:
            target = Path(args.screenshot)
            target.parent.mkdir(parents=True, exist_ok=True)
            (tmp / "record.pdf").write_bytes(rendered.data)
            subprocess.run(["pdftoppm", "-r", str(args.dpi), "-png", "-f", "1", "-l", "1", "-singlefile",
                            str(tmp / "record.pdf"), str(target.with_suffix(""))], check=True)
            print(f"page 1 → {target}")

        other = field.inspections[1]
        field.inspections[0] = other           # the second business: a draft with 40 check points
        item = _forty_points(field, factory, session)
        phone = field.phone(field.lead_user)
        values = {f"items.{item.id}.method": "onsite"}
        for n, cp in enumerate(cp.id for cp in item.check_points):
            values.update({f"points.{cp}.checked": True, f"points.{cp}.result": "fail" if n % 5 == 0 else "pass"})
            if n % 5 == 0:
                values.update({f"points.{cp}.problem": LONG_PROBLEM, f"points.{cp}.handling": ["rectify"]})
            if n % 7 == 0:
                values[f"points.{cp}.note"] = LONG_NOTE
        phone.set_section(other.id, field.lead_dept.id, values)
        phone.push()
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            rendered = pdf.render(session, other.id, settings, draft=True)
            times.append(time.perf_counter() - t)
        print(f"40 check points, 14 texts of 2,000 characters: {rendered.pages} pages, "
              f"{len(rendered.data) / 1024:.0f} KB, render median {statistics.median(times) * 1000:.0f} ms "
              f"(min {min(times) * 1000:.0f}, n={args.repeat})")
    finally:
        session.close()
        transaction.rollback()
        connection.close()
        db.engine.dispose()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
