"""Load benchmark: N clients logging in and writing at once on the embedded default.

    .venv/bin/python bench/load.py                          # 20 clients, 30 s, SQLite + gunicorn (command one)
    .venv/bin/python bench/load.py --clients 7 --duration 10
    .venv/bin/python bench/load.py --url http://127.0.0.1:5000 --password Demo@2026   # a server already running

Goal (issue 6): 20 clients logging in and writing for 30 s on the embedded default, 0 errors.

Without ``--url`` it builds a fresh embedded default in a temporary folder (``shuangsui db upgrade``,
``shuangsui demo seed``) and starts the server exactly as command one does (``shuangsui run``:
gunicorn with backend/gunicorn_conf.py). It then creates one department-admin account per client
(``bench01``…) and gives each client its own targets. Each client, in a loop until time is up:

  1. logs in (``POST /api/v1/auth/login``: password check, login record, refresh token, audit entry)
  2. changes one of its targets three times (``PATCH /api/v1/targets/<id>``: a row and an audit entry)
  3. reads its target list (``GET /api/v1/targets``)

and prints requests per second, p50/p99 latency per kind of request and the errors counted by
status. Clients are threads with one keep-alive connection each. It prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import os
import queue
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parent.parent
SHUANGSUI = [sys.executable, "-m", "backend.cli"]
DEMO_PASSWORD = "Demo@2026"
BENCH_PASSWORD = "Bench@2026-load"
WRITES_PER_LOGIN = 3


class Client:
    """One keep-alive HTTP connection; reconnects after a dropped one."""

    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=120)

    def call(self, method: str, path: str, body=None, token: str | None = None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                response = self.conn.getresponse()
                raw = response.read()
                return response.status, (json.loads(raw) if raw else None)
            except (http.client.HTTPException, ConnectionError, TimeoutError) as exc:
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
                if attempt == 1:
                    return f"connection: {type(exc).__name__}", None
        raise AssertionError("unreachable")


def start_server(workdir: Path, workers: int | None, threads: int | None):
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "SHUANGSUI_ENV")}
    env.update({"SHUANGSUI_INSTANCE": str(workdir), "SHUANGSUI_ACCESS_LOG": "/dev/null",
                "SHUANGSUI_LOG_LEVEL": "warning", "PYTHONPATH": str(ROOT)})
    env.setdefault("SECRET_KEY", "bench-load-secret-key-0123456789abcdef")
    print(f"==> 内嵌默认配置（SQLite）建在 {workdir}：迁移、演示数据")
    subprocess.run([*SHUANGSUI, "db", "upgrade"], env=env, check=True, capture_output=True, cwd=ROOT)
    subprocess.run([*SHUANGSUI, "demo", "seed"], env=env, check=True, capture_output=True, cwd=ROOT)
    argv = [*SHUANGSUI, "run", "--host", "127.0.0.1", "--port", "0"]
    if workers:
        argv += ["--workers", str(workers)]
    if threads:
        argv += ["--threads", str(threads)]
    env["SHUANGSUI_LOG_LEVEL"] = "info"  # to read the port and the worker count
    process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()

    def pump():
        for line in iter(process.stderr.readline, ""):
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    port, log = None, []
    while True:
        line = lines.get(timeout=120)
        if line is None:
            raise SystemExit("服务器未能启动：\n" + "".join(log))
        log.append(line)
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", line)
        port = port or (int(found.group(1)) if found else None)
        if port and "Booting worker" in line:
            break
    threading.Thread(target=lambda: [None for _ in iter(lines.get, None)], daemon=True).start()
    summary = [line.split("] ", 2)[-1].strip() for line in log if "Using worker" in line or "Starting" in line]
    return process, port, summary


def prepare(client: Client, clients: int, admin_password: str) -> list[tuple[str, int, list[int]]]:
    """One department admin per client, each with its own targets (so no two write the same row)."""
    status, body = client.call("POST", "/api/v1/auth/login", {"username": "admin", "password": admin_password})
    if status != 200:
        raise SystemExit(f"admin 登录失败：{status} {body}")
    token = body["access_token"]
    status, body = client.call("GET", "/api/v1/departments?page_size=200", token=token)
    department = next(d for d in body["items"] if d["code"] == "SAMR") if status == 200 else None
    if department is None:
        raise SystemExit(f"找不到 SAMR 部门：{status} {body}")
    status, body = client.call("GET", f"/api/v1/targets?department_id={department['id']}&page_size=200",
                               token=token)
    targets = [t["id"] for t in body["items"]]
    if len(targets) < clients * 2:
        raise SystemExit("演示数据中的检查对象不够")
    accounts = []
    for n in range(1, clients + 1):
        username = f"bench{n:02d}"
        status, body = client.call("POST", "/api/v1/users", {
            "username": username, "display_name": f"压测账号{n}", "password": BENCH_PASSWORD, "role": "dept_admin",
            "department_id": department["id"]}, token=token)
        if status not in (201, 409):
            raise SystemExit(f"创建账号 {username} 失败：{status} {body}")
        accounts.append((username, department["id"], targets[(n - 1) * 2:(n - 1) * 2 + 2]))
    return accounts


def run_client(host, port, account, clock, results, errors, start):
    username, department_id, targets = account
    client = Client(host, port)
    start.wait()
    deadline = clock["deadline"]
    n = 0
    while time.monotonic() < deadline:
        t0 = time.perf_counter()
        status, body = client.call("POST", "/api/v1/auth/login",
                                   {"username": username, "password": BENCH_PASSWORD, "device_label": "压测"})
        results["login"].append(time.perf_counter() - t0)
        if status != 200:
            errors[("login", status, (body or {}).get("code"))] += 1
            continue
        token = body["access_token"]
        for _ in range(WRITES_PER_LOGIN):
            if time.monotonic() >= deadline:
                break
            n += 1
            target = targets[n % len(targets)]
            t0 = time.perf_counter()
            status, body = client.call("PATCH", f"/api/v1/targets/{target}",
                                       {"phone": f"0398-{n % 10000000:07d}", "legal_rep": f"压测{n % 1000}"}, token)
            results["patch"].append(time.perf_counter() - t0)
            if status != 200:
                errors[("patch", status, (body or {}).get("code"))] += 1
        t0 = time.perf_counter()
        status, body = client.call("GET", f"/api/v1/targets?department_id={department_id}&page_size=20", token=token)
        results["read"].append(time.perf_counter() - t0)
        if status != 200:
            errors[("read", status, (body or {}).get("code"))] += 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--duration", type=float, default=30, help="seconds")
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: the configuration's)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: the configuration's)")
    parser.add_argument("--url", default=None, help="use a running server instead of starting one")
    parser.add_argument("--password", default=DEMO_PASSWORD, help="password of the 'admin' account")
    args = parser.parse_args()

    process, tmp = None, None
    if args.url:
        parsed = urlparse(args.url)
        host, port, summary = parsed.hostname, parsed.port or 80, [f"已在运行的服务器 {args.url}"]
    else:
        tmp = tempfile.TemporaryDirectory(prefix="shuangsui-load-")
        process, port, summary = start_server(Path(tmp.name), args.workers, args.threads)
        host = "127.0.0.1"
    try:
        accounts = prepare(Client(host, port), args.clients, args.password)
        results: dict[str, list[float]] = collections.defaultdict(list)
        errors: collections.Counter = collections.Counter()
        start = threading.Barrier(args.clients + 1)
        clock: dict[str, float] = {}
        print(f"==> {args.clients} 个客户端，{args.duration:g} 秒：登录，修改检查对象 {WRITES_PER_LOGIN} 次，读列表，循环")
        threads = [threading.Thread(target=run_client, args=(host, port, account, clock, results, errors, start),
                                    daemon=True) for account in accounts]
        for t in threads:
            t.start()
        began = time.monotonic()
        clock["deadline"] = began + args.duration
        start.wait()
        for t in threads:
            t.join(args.duration + 300)
        elapsed = time.monotonic() - began
    finally:
        if process is not None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()
        if tmp is not None:
            tmp.cleanup()

    total = sum(len(v) for v in results.values())
    print()
    for line in summary:
        print(f"    {line}")
    print(f"    clients {args.clients}, {elapsed:.1f} s, {total} requests, {total / elapsed:.1f} requests/s")
    print(f"    {'kind':<8}{'count':>8}{'per s':>9}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for kind in ("login", "patch", "read"):
        values = results.get(kind, [])
        print(f"    {kind:<8}{len(values):>8}{len(values) / elapsed:>9.1f}{percentile(values, 50) * 1000:>10.0f}"
              f"{percentile(values, 99) * 1000:>10.0f}{max(values, default=float('nan')) * 1000:>10.0f}")
    print(f"    errors: {sum(errors.values())}")
    by_status: collections.Counter = collections.Counter()
    for (kind, status, code), count in sorted(errors.items(), key=str):
        by_status[status] += count
        print(f"      {kind} {status} {code or ''}: {count}")
    if by_status:
        print("    errors by status: " + ", ".join(f"{s}: {c}" for s, c in sorted(by_status.items(), key=str)))


if __name__ == "__main__":
    main()
