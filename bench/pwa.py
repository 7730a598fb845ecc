"""Benchmark: the officers' app (pwa/dist, served at /app/) in Debian's Chromium. Prints figures; not a test.

    .venv/bin/python bench/pwa.py [--runs 5] [--photos 300] [--throttle 4] [--lighthouse-runs 3] [--skip-offline]

Against a real server process (SQLite file, the small demo county with its drawn task), as the demo
officer ``samr_inspector`` on a 360×640 phone context:

* Lighthouse 12.8 (pwa/node_modules, driven by pwa/scripts/lighthouse.mjs in Debian's Chromium) at its
  mobile defaults (simulated slow 4G, 4× CPU) on the login page and on the task list (logged in: tokens and
  tasks in IndexedDB, the service worker and every cache cleared): performance, accessibility and
  best-practices scores, FCP/LCP/TBT/CLS, and the bytes the server sent for the page's own files
  (compressed, as transferred) and their size uncompressed, with the unused JavaScript; each figure as
  median and range over ``--lighthouse-runs`` (the machine is shared: scores move with its load);
* JavaScript and CSS of the officer's first screen: every script and stylesheet the page loaded until
  the task list showed, the app opened by an officer logged in (the entry, its static imports, the
  service worker's registration), as the server sends them
  (Brotli, asked with the browser's ``Accept-Encoding``), and gzip and raw for comparison (budget ≤ 200 KB
  of JavaScript); the service worker's background precache of the other screens is counted apart;
* opening the installed app with no network (the server stopped, the page offline, the service
  worker's fetches aborted) to a usable task list, with Chromium's CPU slowed 4× (CDP
  Emulation.setCPUThrottlingRate): from navigation start to the list's ``performance.mark``
  (budget ≤ 1.5 s), median and worst of ``--runs``;
* the same with 300 photos stored on the phone (ArrayBuffers of camera-sized JPEG bytes, thumbnails and
  the outbox entries naming them, as the app stores them), and the time to open an inspection with its
  photos from the list, with 0 and with 300 photos (the app must not slow down).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from playwright.sync_api import sync_playwright  # noqa: E402

from tests.e2e import pwa_helpers as h  # noqa: E402
from tests.e2e.browser import CHROMIUM, launch_chromium  # noqa: E402
from tests.e2e.live_server import DIST, LiveServer, prepare_database  # noqa: E402

ADD_PHOTOS = """async ([count, inspections, sections]) => {
  const db = await new Promise((res, rej) => { const o = indexedDB.open("shuangsui"); o.onsuccess = () => res(o.result); o.onerror = () => rej(o.error); });
  const rand = (n) => { const b = new Uint8Array(n); for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536))); return b.buffer; };
  const hex = (buf) => Array.from(new Uint8Array(buf), (x) => x.toString(16).padStart(2, "0")).join("");
  const kvGet = (tx, key) => new Promise((res) => { const r = tx.objectStore("kv").get(key); r.onsuccess = () => res(r.result ? r.result.value : null); });
  const lists = {};                      // each mutation names the point's whole list so far, as the app writes it
  for (let start = 0; start < count; start += 25) {
    const photos = [];
    for (let i = start; i < Math.min(count, start + 25); i++) {
      const data = rand(350000 + (i % 7) * 20000), thumb = rand(14000);
      photos.push({ sha256: hex(await crypto.subtle.digest("SHA-256", data)), data, thumb, i });
    }
    const tx = db.transaction(["kv", "outbox", "photos", "blobs", "thumbs"], "readwrite");
    let id = (await kvGet(tx, "next_id")) || 1;
    for (const p of photos) {
      const [inspection, dept, cp] = sections[p.i % sections.length];
      const key = `${inspection}/${cp}`;
      lists[key] = [...(lists[key] || []), { id: crypto.randomUUID(), sha256: p.sha256 }];
      tx.objectStore("photos").put({ sha256: p.sha256, inspection_id: inspection, type: "image/jpeg", kind: "photo", size: p.data.byteLength,
        width: 1920, height: 1440, created: new Date().toISOString(), uploaded: 0, offset: 0, upload_url: null, error: null });
      tx.objectStore("blobs").put({ sha256: p.sha256, data: p.data });
      tx.objectStore("thumbs").put({ sha256: p.sha256, data: p.thumb });
      tx.objectStore("outbox").add({ id, name: "section.set", args: { inspection_id: inspection, department_id: dept,
        fields: { [`points.${cp}.photos`]: { value: lists[key], base_rev: 0 } } },
        device_time: new Date().toISOString(), inspection_id: inspection, sent_at: null, attempts: 0 });
      id += 1;
    }
    tx.objectStore("kv").put({ key: "next_id", value: id });
    await new Promise((res, rej) => { tx.oncomplete = res; tx.onerror = () => rej(tx.error); });
  }
  db.close();
  return count;
}"""


def brotli_size(path: Path) -> int:
    """The bytes sent for a built file to a browser: its Brotli copy (made at build), else the file."""
    copy = path.with_name(path.name + ".br")
    return (copy if copy.is_file() else path).stat().st_size


def gzip_size(path: Path) -> int:
    """The bytes a gzip-only client receives for an unbuilt file (the server gzips it at level 9)."""
    return len(gzip.compress(path.read_bytes(), 9))


def sent_bytes(base: str, path: str, encoding: str) -> tuple[int, str]:
    """What the server sends for ``path`` when asked with ``Accept-Encoding: encoding``: (bytes, coding)."""
    req = urllib.request.Request(base + path, headers={"Accept-Encoding": encoding})
    with urllib.request.urlopen(req, timeout=30) as r:
        return len(r.read()), r.headers.get("Content-Encoding", "identity")


def first_screen_files(page, base: str, under: str = "/app/") -> dict[str, dict]:
    """The app's own scripts and stylesheets the page loaded (those under ``under``: /app/ for the phone app,
    /assets/ for the public portal): {kind: {raw, br, gzip, files}}, bytes as the server sends them to a
    browser (Brotli), to a gzip-only client, and uncompressed."""
    names = page.evaluate("""(under) => [...new Set([
        ...performance.getEntriesByType('resource').map((e) => e.name),
        ...[...document.querySelectorAll('script[src], link[rel=modulepreload], link[rel=stylesheet]')]
            .map((e) => e.src || e.href)])]
        .filter((u) => new URL(u).pathname.startsWith(under) && (u.endsWith('.js') || u.endsWith('.css')))""", under)
    out = {kind: {"raw": 0, "br": 0, "gzip": 0, "files": 0} for kind in ("js", "css")}
    for url in names:
        path = under + url.split(under, 1)[1]
        totals = out["js" if path.endswith(".js") else "css"]
        totals["raw"] += sent_bytes(base, path, "identity")[0]
        br, coding = sent_bytes(base, path, "gzip, deflate, br, zstd")
        assert coding == "br", (path, coding)
        totals["br"] += br
        totals["gzip"] += sent_bytes(base, path, "gzip")[0]
        totals["files"] += 1
    return out


def lighthouse(base: str, runs: int) -> list[dict]:
    """Lighthouse on the login page and the task list, ``runs`` times each (one JSON line per run)."""
    script = ROOT / "pwa" / "scripts" / "lighthouse.mjs"
    proc = subprocess.run(["node", str(script), "--base", base, "--user", "samr_inspector", "--password", h.PASSWORD,
                           "--runs", str(runs), "--chrome", CHROMIUM], cwd=ROOT / "pwa", capture_output=True,
                          text=True, timeout=600 + 180 * runs, env={**os.environ, "CHROME_PATH": CHROMIUM})
    if proc.returncode:
        sys.exit(f"Lighthouse failed:\n{proc.stderr[-3000:]}")
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    if len(values) == 1:
        return fmt.format(values[0])
    return f"{fmt.format(statistics.median(values))} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def print_lighthouse(results: list[dict]) -> None:
    for name, title in (("login", "login page"), ("tasks", "task list (logged in)")):
        rs = [r for r in results if r["page"] == name]
        if not rs:
            continue
        pick = lambda key: [r[key] for r in rs]  # noqa: E731
        print(f"  {title}, {len(rs)} runs: performance {spread(pick('performance'))}   accessibility "
              f"{spread(pick('accessibility'))}   best practices {spread(pick('best_practices'))}   (goals ≥ 90, ≥ 98)")
        print(f"    FCP {spread([v / 1000 for v in pick('fcp_ms')], '{:.2f}')} s   LCP "
              f"{spread([v / 1000 for v in pick('lcp_ms')], '{:.2f}')} s   TBT {spread(pick('tbt_ms'))} ms   "
              f"CLS {spread(pick('cls'), '{:.3f}')}   (Lighthouse's CPU benchmark index {spread(pick('benchmark_index'))})")
        last = rs[-1]
        t, u = last["transfer"], last["resource"]
        print(f"    sent {t['total'] / 1024:.1f} KB compressed for {u['total'] / 1024:.1f} KB of files ({last['requests']} "
              f"requests; JavaScript {t['script'] / 1024:.1f} of {u['script'] / 1024:.1f} KB, CSS "
              f"{t['stylesheet'] / 1024:.1f} of {u['stylesheet'] / 1024:.1f} KB, page {t['document'] / 1024:.1f} of "
              f"{u['document'] / 1024:.1f} KB); unused JavaScript {last['unused_js'] / 1024:.1f} KB; "
              f"text compression would save {last['text_compression_savings'] / 1024:.1f} KB more")
        failed = sorted({a for r in rs for a in r["failed_accessibility"] + r["failed_best_practices"]})
        if failed:
            print(f"    failed audits: {', '.join(failed)}")


def cold_open(ctx, base: str, throttle: float) -> float:
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    page.goto(f"{base}/app/")
    h.wait_js(page, "performance.getEntriesByName('shuangsui:tasks').length > 0", timeout=60, interval=0.02)
    ms = page.evaluate("performance.getEntriesByName('shuangsui:tasks')[0].startTime")
    page.close()
    return ms


def open_inspection(ctx, base: str, inspection_id: int, throttle: float) -> float:
    page = ctx.new_page()
    cdp = ctx.new_cdp_session(page)
    page.goto(f"{base}/app/")
    page.wait_for_selector(f'.task-row[data-id="{inspection_id}"]')
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": throttle})
    t0 = page.evaluate("performance.now()")
    page.click(f'.task-row[data-id="{inspection_id}"]')
    page.wait_for_selector("#biz-name")
    page.click("#start-inspect")
    page.wait_for_selector(".point", timeout=60000)
    page.wait_for_timeout(50)
    t1 = page.evaluate("performance.now()")
    shown = page.locator(".point .thumbs img").count()
    page.close()
    return t1 - t0, shown


def stats(values: list[float]) -> str:
    return f"median {statistics.median(values):7.0f} ms   worst {max(values):7.0f} ms   ({', '.join(f'{v:.0f}' for v in values)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--photos", type=int, default=300)
    ap.add_argument("--throttle", type=float, default=4.0)
    ap.add_argument("--lighthouse-runs", type=int, default=3, help="0: no Lighthouse")
    ap.add_argument("--skip-offline", action="store_true", help="only the weight and Lighthouse")
    args = ap.parse_args()
    if not (DIST / "index.html").is_file():
        sys.exit("pwa/dist is missing: run scripts/setup.sh first")
    scratch = tempfile.TemporaryDirectory(prefix="bench-pwa-")
    tmp = Path(scratch.name)
    server = LiveServer(tmp, prepare_database(tmp)).start()
    base = server.url
    try:
        if args.lighthouse_runs > 0:
            print(f"Lighthouse 12.8, mobile defaults (simulated slow 4G, 4× CPU), {CHROMIUM}:")
            print_lighthouse(lighthouse(base, args.lighthouse_runs))
        with sync_playwright() as p:
            browser = launch_chromium(p)
            ctx = h.phone(browser, lat=34.72, lon=111.09)
            page = ctx.new_page()
            h.login(page, base, "samr_inspector")
            page.close()
            page = ctx.new_page()                  # the officer's daily first screen: the app opened, logged in
            page.goto(f"{base}/app/")
            page.wait_for_selector(".task-row")
            files = first_screen_files(page, base)
            js, css = files["js"], files["css"]
            precache = sorted(DIST.glob("assets/*.js"))
            print(f"JavaScript for the first screen: {js['br'] / 1024:.1f} KB sent (Brotli; gzip {js['gzip'] / 1024:.1f} KB, "
                  f"raw {js['raw'] / 1024:.1f} KB, {js['files']} files)   budget 200 KB")
            print(f"CSS for the first screen: {css['br'] / 1024:.1f} KB sent (Brotli; gzip {css['gzip'] / 1024:.1f} KB, "
                  f"raw {css['raw'] / 1024:.1f} KB, {css['files']} files)")
            print(f"  all screens' JavaScript (precached by the service worker): "
                  f"{sum(brotli_size(f) for f in precache) / 1024:.1f} KB sent (Brotli); QR decoder WebAssembly "
                  f"{sum(brotli_size(f) for f in DIST.glob('assets/*.wasm')) / 1024:.1f} KB (loaded on the scan screen)")
            portal = ctx.new_page()                # the public portal's first screen (公示, no login)
            portal.goto(f"{base}/")
            portal.wait_for_selector("#home-search")
            pjs = first_screen_files(portal, base, "/assets/")["js"]
            portal.close()
            print(f"Public portal (/), JavaScript for the first screen: {pjs['br'] / 1024:.1f} KB sent (Brotli; gzip "
                  f"{pjs['gzip'] / 1024:.1f} KB, raw {pjs['raw'] / 1024:.1f} KB, {pjs['files']} files)   budget 150 KB "
                  f"gzipped; the draw verifier (loaded when a page verifies): "
                  f"{sum(gzip_size(f) for f in (ROOT / 'pwa' / 'public' / 'draw').glob('*.js')) / 1024:.1f} KB gzipped "
                  f"(bench/verifier.py times it)")
            if args.skip_offline:
                page.close()
                browser.close()
                return
            docs = h.pulled(base, "samr_inspector")
            first = min(docs["inspection"].values(), key=lambda d: d["position"])
            task = docs["task"][first["task_id"]]
            dept = first["me"]["department_id"]
            points = [cp["id"] for d in task["departments"] if d["id"] == dept for i in d["items"] for cp in i["check_points"]]
            sections = [[i["id"], dept, cp] for i in docs["inspection"].values() for cp in points]
            page.close()

            h.Network(server, [ctx]).down()
            print(f"Offline, CPU slowed {args.throttle:g}×, {args.runs} runs each:")
            base_open = [cold_open(ctx, base, args.throttle) for _ in range(args.runs)]
            print(f"  open the app to a usable task list, 0 photos:    {stats(base_open)}   budget 1500 ms")
            nav0 = [open_inspection(ctx, base, first["id"], args.throttle) for _ in range(args.runs)]
            print(f"  list → inspection with its photos, 0 photos:      {stats([t for t, _ in nav0])}")
            page = ctx.new_page()
            page.goto(f"{base}/app/")
            page.wait_for_selector(".task-row")
            t0 = time.perf_counter()
            page.evaluate(ADD_PHOTOS, [args.photos, [i for i in docs["inspection"]], sections])
            stored = time.perf_counter() - t0
            usage = page.evaluate("navigator.storage.estimate().then((e) => e.usage)")
            page.close()
            print(f"  stored {args.photos} photos offline in {stored:.1f} s; origin storage now {usage / 1024 ** 2:.0f} MB")
            full_open = [cold_open(ctx, base, args.throttle) for _ in range(args.runs)]
            print(f"  open the app to a usable task list, {args.photos} photos:  {stats(full_open)}   budget 1500 ms")
            nav = [open_inspection(ctx, base, first["id"], args.throttle) for _ in range(args.runs)]
            print(f"  list → inspection with its photos, {args.photos} photos:    {stats([t for t, _ in nav])}"
                  f"   ({nav[-1][1]} thumbnails on that screen)")
            ratio = statistics.median(full_open) / statistics.median(base_open)
            print(f"  slowdown with {args.photos} photos: open ×{ratio:.2f}, "
                  f"inspection ×{statistics.median([t for t, _ in nav]) / statistics.median([t for t, _ in nav0]):.2f}")
            browser.close()
    finally:
        server.stop()
        scratch.cleanup()


if __name__ == "__main__":
    main()
