"""The office's weight and speed (issue 13's budgets), printed, not asserted.

* JavaScript and CSS of the office's first screen (an administrator opening /office/lists/targets, logged in):
  bytes as the server sends them to a browser (Brotli), to a gzip-only client, and uncompressed. Budget:
  ≤ 300 KB of JavaScript gzipped.
* A page of 20 rows: from the click on 下一页 to the rows on screen (the API's answer and the render), median
  and spread over ``--runs`` pages of the demo county's target directory.

``--million`` serves the 1,000,000-target PostgreSQL database that ``bench/lists.py --keep`` leaves
(``ss_bench_lists``; an administrator ``bench_admin`` is added to it) instead of the demo county: the budget's
own case.

Usage: ``.venv/bin/python bench/office.py [--runs 20] [--million [--postgres URL]]`` (after
``scripts/setup.sh --browser``).
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e import office_helpers as o  # noqa: E402
from tests.e2e.browser import launch_chromium  # noqa: E402
from tests.e2e.live_server import OFFICE_DIST, LiveServer, prepare_database  # noqa: E402


def sent_bytes(base: str, path: str, encoding: str) -> tuple[int, str]:
    req = urllib.request.Request(base + path, headers={"Accept-Encoding": encoding})
    with urllib.request.urlopen(req, timeout=30) as r:
        return len(r.read()), r.headers.get("Content-Encoding", "identity")


def screen_files(page, base: str) -> dict[str, dict]:
    """The office's own scripts and stylesheets the page loaded: {kind: {raw, br, gzip, files}}."""
    names = page.evaluate("""() => [...new Set([
        ...performance.getEntriesByType('resource').map((e) => e.name),
        ...[...document.querySelectorAll('script[src], link[rel=modulepreload], link[rel=stylesheet]')]
            .map((e) => e.src || e.href)])]
        .filter((u) => u.includes('/office/') && (u.endsWith('.js') || u.endsWith('.css')))""")
    out = {kind: {"raw": 0, "br": 0, "gzip": 0, "files": 0} for kind in ("js", "css")}
    for url in names:
        path = "/office/" + url.split("/office/", 1)[1]
        totals = out["js" if path.endswith(".js") else "css"]
        totals["raw"] += sent_bytes(base, path, "identity")[0]
        totals["br"] += sent_bytes(base, path, "gzip, deflate, br, zstd")[0]
        totals["gzip"] += sent_bytes(base, path, "gzip")[0]
        totals["files"] += 1
    return out


def million_database(postgres: str) -> str:
    """The database bench/lists.py --keep built, with an administrator to log in as."""
    from sqlalchemy import create_engine, select
    from sqlalchemy.engine import make_url

    import backend.models  # noqa: F401  (every table's mapper)
    from backend.actor import Actor
    from backend.audit.keys import AuditSettings, configure
    from backend.auth.models import User
    from backend.auth.roles import Role
    from backend.auth.services import create_user
    from backend.db import Database
    from tests.conftest import TEST_AUDIT_KEY

    url = make_url(postgres).set(database="ss_bench_lists").render_as_string(hide_password=False)
    probe = create_engine(make_url(postgres))
    with probe.connect() as conn:
        if not conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = 'ss_bench_lists'").scalar():
            sys.exit("ss_bench_lists is missing: run .venv/bin/python bench/lists.py --keep first")
    probe.dispose()
    db = Database(url)
    configure(db.engine, AuditSettings(key=TEST_AUDIT_KEY.encode()))
    with db.session_scope() as s:
        if not s.scalar(select(User.id).where(User.username == "bench_admin")):
            create_user(s, Actor(user_id=None, label="bench", role=Role.SYSADMIN),
                        {"username": "bench_admin", "display_name": "压测管理员", "role": Role.SYSADMIN.value,
                         "password": o.PASSWORD})
    db.engine.dispose()
    return url


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--million", action="store_true", help="the 1,000,000-target database of bench/lists.py --keep")
    ap.add_argument("--postgres", default=os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = ap.parse_args()
    if not (OFFICE_DIST / "index.html").is_file():
        sys.exit("pwa/dist-office is missing: run scripts/setup.sh first")
    scratch = tempfile.TemporaryDirectory(prefix="bench-office-")
    tmp = Path(scratch.name)
    database = million_database(args.postgres) if args.million else prepare_database(tmp)
    server = LiveServer(tmp, database).start()
    base = server.url
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            ctx, page = o.open_office(browser, [])
            o.login(page, base, "bench_admin" if args.million else "samr_admin")
            page.close()
            page = ctx.new_page()
            page.goto(f"{base}/office/lists/targets")
            page.wait_for_selector(".data-table .el-table__row")
            files = screen_files(page, base)
            js, css = files["js"], files["css"]
            print(f"Office first screen (名录库, logged in): JavaScript {js['br'] / 1024:.1f} KB sent (Brotli; gzip "
                  f"{js['gzip'] / 1024:.1f} KB, raw {js['raw'] / 1024:.1f} KB, {js['files']} files)   budget 300 KB gzipped")
            print(f"  CSS {css['br'] / 1024:.1f} KB sent (Brotli; gzip {css['gzip'] / 1024:.1f} KB, raw "
                  f"{css['raw'] / 1024:.1f} KB, {css['files']} files)")
            total = int(page.inner_text(".pager .total").strip("约共 条").replace(",", ""))
            pages = max(1, (total + 19) // 20)
            times = []
            for i in range(args.runs):
                target = 1 + (i + 1) % pages
                first = page.inner_text(".data-table .el-table__row >> nth=0")
                start = time.perf_counter()
                pager = page.locator(f".el-pager li:text-is('{target}')")
                if pager.count():
                    pager.click()
                else:
                    page.click(".btn-next")
                deadline = time.monotonic() + 10
                while page.inner_text(".data-table .el-table__row >> nth=0") == first and time.monotonic() < deadline:
                    page.wait_for_timeout(5)
                times.append((time.perf_counter() - start) * 1000)
            api = page.evaluate("""() => performance.getEntriesByType('resource')
                .filter((e) => e.name.includes('/api/v1/targets?')).map((e) => e.duration)""")[-len(times):]
            print(f"A page of 20 rows of {total} targets (click → rows on screen): median {statistics.median(times):.0f} ms, "
                  f"min {min(times):.0f}, max {max(times):.0f} ({len(times)} pages)   budget 300 ms (for 1,000,000 rows)")
            print(f"  of which the API's answer (browser's resource timing): median {statistics.median(api):.0f} ms")
            browser.close()
    finally:
        server.stop()
        scratch.cleanup()


if __name__ == "__main__":
    main()
