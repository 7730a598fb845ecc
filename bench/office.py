"""The office's weight and speed (issue 13's budgets), printed, not asserted.

* JavaScript and CSS of the office's first screen (an administrator opening /office/lists/targets, logged in):
  bytes as the server sends them to a browser (Brotli), to a gzip-only client, and uncompressed. Budget:
  ≤ 300 KB of JavaScript gzipped.
* A page of 20 rows: from the click on 下一页 to the rows on screen (the API's answer and the render), median
  and spread over ``--runs`` pages of the demo county's target directory.

Usage: ``.venv/bin/python bench/office.py [--runs 20]`` (after ``scripts/setup.sh --browser``).
"""
from __future__ import annotations

import argparse
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=20)
    args = ap.parse_args()
    if not (OFFICE_DIST / "index.html").is_file():
        sys.exit("pwa/dist-office is missing: run scripts/setup.sh first")
    scratch = tempfile.TemporaryDirectory(prefix="bench-office-")
    tmp = Path(scratch.name)
    server = LiveServer(tmp, prepare_database(tmp)).start()
    base = server.url
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            ctx, page = o.open_office(browser, [])
            o.login(page, base, "samr_admin")
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
            total = int(page.inner_text(".pager .total").strip("共 条"))
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
