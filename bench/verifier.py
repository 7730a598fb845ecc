"""Benchmark: the public draw verifier (pwa/public/draw) on a 1,000,000-candidate record in headless Chromium.

    .venv/bin/python bench/verifier.py [--targets 1000000] [--workers N ...] [--keep DIR] [--baseline REV]

Makes a record as the server publishes it (backend/draws/algorithm.py's compute_record: four risk strata
A/B/C/D drawn at 1/2/5/12 %, 40 departments of 800 inspectors, 2,000 declared conflicts, targets listed in
the stored "stratum|id" order), serves the verifier's files and the record from a local HTTP server, and
in Chromium times, for each worker count asked (default: the browser's own choice, one per core, and 0 =
everything on the page's thread):

* download + JSON.parse of the record (about 60 MB);
* verifyRecord: commitment, seed, every step and the comparison, to the verdict;
* the same record with one group leader changed: must not match (its difference is printed).

``--baseline bdc1a62`` also times the verifier as it was before the workers, alternating with this one (the
machine is shared: only side by side are the two comparable). Prints figures; it is not a test. The issue's
budget: the verify itself ≤ 5 s for 1,000,000 candidates.
"""
from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STRATA = {"A": (0.20, {"num": 1, "den": 100, "min": 1}), "B": (0.50, {"num": 2, "den": 100}),
          "C": (0.25, {"num": 5, "den": 100}), "D": (0.05, {"num": 12, "den": 100})}
DEPARTMENTS = 40
PER_DEPARTMENT = 800
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def make_record(n_targets: int, seed: int = 2026) -> dict:
    """A published record of n_targets candidates (the server's own algorithm computes it)."""
    from backend.draws.algorithm import compute_record
    from backend.directory.rules import uscc_check_char

    rng = random.Random(seed)
    seen: set[str] = set()
    targets = []
    cuts = []
    acc = 0.0
    for s, (share, _) in STRATA.items():
        acc += share
        cuts.append((acc, s))
    while len(targets) < n_targets:
        body = "91411203" + "".join(rng.choices(ALPHABET, k=9))
        if body in seen:
            continue
        seen.add(body)
        x = rng.random()
        stratum = next(s for cut, s in cuts if x < cut) if x < cuts[-1][0] else "D"
        targets.append({"id": body + uscc_check_char(body), "stratum": stratum})
    targets.sort(key=lambda t: f"{t['stratum']}|{t['id']}")          # as the frozen list is stored
    depts = [f"D{d:02d}" for d in range(1, DEPARTMENTS + 1)]
    inspectors = sorted(({"id": f"{d}-{n:05d}", "dept": d} for d in depts for n in range(PER_DEPARTMENT)),
                        key=lambda i: f"{i['dept']}|{i['id']}")
    conflicts = [[rng.choice(inspectors)["id"], rng.choice(targets)["id"]] for _ in range(2000)]
    plan = {"strata": {s: rule for s, (_, rule) in STRATA.items()}, "lead": "D01",
            "members": {d: (2 if d == "D01" else 1) for d in depts}, "group_load": 100}
    record = compute_record({"task": "SS-BENCH-1M", "plan": plan, "targets": targets, "inspectors": inspectors,
                             "conflicts": conflicts, "dice": "31415926535897932384"})
    record["target_replacements"] = []
    return record


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


MEASURE = """async ([url, workers, tamper, module]) => {
    const m = await import(module || '/draw/dsr.js');
    if (workers !== null && m.setWorkers) m.setWorkers(workers);
    const t0 = performance.now();
    const text = await (await fetch(url)).text();
    const record = JSON.parse(text);
    const t1 = performance.now();
    if (tamper) record.result.groups[1].leader = record.result.groups[0].leader;
    const report = await m.verifyRecord(record);
    const t2 = performance.now();
    return { load: (t1 - t0) / 1000, verify: (t2 - t1) / 1000, ok: report.ok, differences: report.differences.slice(0, 3),
             cores: navigator.hardwareConcurrency };
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="*", default=None,
                        help="worker counts to time (default: the browser's choice, then 0)")
    parser.add_argument("--keep", help="a directory to keep (and reuse) the record in")
    parser.add_argument("--baseline", metavar="REV", help="also time the verifier of this git revision "
                        "(e.g. bdc1a62, before the workers), alternating with this one, under the same load")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from tests.e2e.browser import launch_chromium

    with tempfile.TemporaryDirectory() as tmp:
        where = Path(args.keep or tmp)
        where.mkdir(parents=True, exist_ok=True)
        path = where / f"record-{args.targets}.json"
        if not path.exists():
            t0 = time.perf_counter()
            record = make_record(args.targets)
            path.write_text(json.dumps(record, ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
            print(f"record of {args.targets:,} candidates made by the server's code in {time.perf_counter() - t0:.1f} s "
                  f"({path.stat().st_size / 1e6:.0f} MB)")
        site = Path(tmp) / "site"
        site.mkdir()
        os.symlink(ROOT / "pwa" / "public" / "draw", site / "draw")
        os.symlink(path, site / "record.json")
        if args.baseline:
            (site / "baseline").mkdir()
            for name in subprocess.run(["git", "ls-tree", "--name-only", f"{args.baseline}:pwa/public/draw"], cwd=ROOT,
                                       check=True, capture_output=True, text=True).stdout.split():
                (site / "baseline" / name).write_bytes(subprocess.run(
                    ["git", "show", f"{args.baseline}:pwa/public/draw/{name}"], cwd=ROOT, check=True,
                    capture_output=True).stdout)
        httpd, base = serve(site)
        try:
            with sync_playwright() as p:
                browser = launch_chromium(p)
                runs = [None, 0] if args.workers is None else args.workers

                def measure(workers, tamper, where="draw"):   # a fresh page each time: nothing warmed before
                    page = browser.new_page(base_url=base)
                    page.goto(f"/{where}/verify.html")
                    try:
                        return page.evaluate(MEASURE, ["/record.json", workers, tamper, f"/{where}/dsr.js"])
                    finally:
                        page.close()

                if args.baseline:
                    for _ in range(2):
                        old, new = measure(None, False, "baseline"), measure(None, False)
                        print(f"verify {args.targets:,} candidates: {args.baseline} {old['verify']:6.2f} s "
                              f"({'MATCH' if old['ok'] else 'NO MATCH'}), this one {new['verify']:6.2f} s "
                              f"({'MATCH' if new['ok'] else 'NO MATCH'}); load average {os.getloadavg()[0]:.1f}")

                for workers in runs:
                    label = "one per core" if workers is None else f"{workers} workers" if workers else "no worker"
                    got = measure(workers, False)
                    bad = measure(workers, True)
                    print(f"verify {args.targets:,} candidates ({label}, {got['cores']} cores): "
                          f"{got['verify']:6.2f} s to the verdict ({'MATCH' if got['ok'] else 'NO MATCH'}); "
                          f"download + JSON.parse {got['load']:.2f} s; tampered: {bad['verify']:.2f} s, "
                          f"{'MATCH (wrong!)' if bad['ok'] else bad['differences'][0]}")
                browser.close()
        finally:
            httpd.shutdown()
            httpd.server_close()
    print(f"machine load average: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
