"""Benchmark: what one authenticated request costs besides its own work, on PostgreSQL.

    .venv/bin/python bench/requests.py [--postgres URL] [--n 500] [--profile 300] [--sort cumtime] [--top 40]
                                       [--gunicorn] [--conf]

Builds a fresh PostgreSQL database (migrations) with one officer logged in (bench/media.py's), then
sends requests that do almost nothing of their own:

* ``HEAD /api/media/<sha256>`` of a file that is not there → 404 (what a phone asks before every photo);
* ``GET /api/v1/auth/me`` → 200 (the caller's own account);
* ``GET /api/v1/auth/me`` without a token → 401 (no database work at all: the plumbing alone).

In process (Flask's test client): this process's CPU per request, the PostgreSQL backend's CPU per request
(read from /proc), the SQL statements per request, and with ``--profile N`` a cProfile summary (CPU time) of
N requests of each kind. ``--gunicorn``: the same requests through gunicorn on loopback (one worker; sync
worker by default, ``--conf`` for ``backend/gunicorn_conf.py``'s gthread worker and its access log), the
CPU per request of gunicorn's processes and of PostgreSQL's backends.

Prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import hashlib
import http.client
import os
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._server import start_gunicorn, stop  # noqa: E402
from bench.media import SECRET, _children, _stat_cpu, drop_database, officer_token, setup_database  # noqa: E402

MISSING = hashlib.sha256(b"not stored").hexdigest()


def kinds(token: str) -> dict[str, tuple[str, str, dict, int]]:
    auth = {"Authorization": f"Bearer {token}"}
    return {"HEAD media (404)": ("HEAD", f"/api/media/{MISSING}", auth, 404),
            "GET me (200)": ("GET", "/api/v1/auth/me", auth, 200),
            "GET me, no token (401)": ("GET", "/api/v1/auth/me", {}, 401)}


class PgCpu:
    """CPU seconds of the PostgreSQL backends connected to one database."""

    def __init__(self, admin_url: str, database: str):
        import psycopg

        self.conn = psycopg.connect(admin_url, autocommit=True)
        self.database = database

    def sample(self) -> dict[int, float]:
        pids = [r[0] for r in self.conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s",
                                                (self.database,)).fetchall()]
        return {pid: cpu for pid in pids if (cpu := _stat_cpu(f"/proc/{pid}/stat")) is not None}

    @staticmethod
    def spent(start: dict, end: dict) -> float:
        return sum(cpu - start.get(pid, 0.0) for pid, cpu in end.items())


def in_process(args, env: dict, token: str, pg: PgCpu) -> None:
    import cProfile
    import pstats

    from sqlalchemy import event

    from backend import create_app

    app = create_app(env | {"REDIS_URL": None, "REMINDERS_TIMER": False})   # no sweep thread outliving the bench
    db = app.extensions["shuangsui.db"]
    counted = {"n": 0}
    event.listen(db.engine, "before_cursor_execute", lambda *_a: counted.__setitem__("n", counted["n"] + 1))
    client = app.test_client()
    print("in process (Flask's test client):")
    for label, (method, path, headers, status) in kinds(token).items():
        for _ in range(20):   # warm up
            assert client.open(path, method=method, headers=headers).status_code == status
        runs = []
        for _ in range(args.rounds):
            counted["n"] = 0
            pg_start, t = pg.sample(), time.process_time()
            for _ in range(args.n):
                client.open(path, method=method, headers=headers)
            cpu = (time.process_time() - t) * 1000 / args.n
            runs.append((cpu, PgCpu.spent(pg_start, pg.sample()) * 1000 / args.n))
        cpu, pg_ms = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"  {label:<26} app {cpu:5.2f} ms + PostgreSQL {pg_ms:5.2f} ms CPU a request (least of {args.rounds} "
              f"rounds), {counted['n'] / args.n:.1f} statements")
    if args.profile:
        for label, (method, path, headers, _status) in kinds(token).items():
            prof = cProfile.Profile(time.process_time)
            prof.enable()
            for _ in range(args.profile):
                client.open(path, method=method, headers=headers)
            prof.disable()
            print(f"\n=== {label}: {args.profile} requests under cProfile")
            pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)
    db.engine.dispose()


def through_gunicorn(args, env: dict, token: str, pg: PgCpu) -> None:
    env = {**os.environ, **env, "PGAPPNAME": "bench-web", "REMINDERS_TIMER": "0"}
    if args.conf:
        what = "backend/gunicorn_conf.py (gthread, access log to a discarded stdout), one worker"
    else:
        what = "one sync worker, no access log"
    server, port = start_gunicorn(env, conf=args.conf, workers=1)
    try:
        print(f"through gunicorn ({what}), one keep-alive connection:")
        for label, (method, path, headers, status) in kinds(token).items():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

            def call():
                conn.request(method, path, headers=headers)
                response = conn.getresponse()
                response.read()
                return response.status

            for _ in range(20):
                assert call() == status
            def gunicorn_cpu() -> float:
                return sum(_stat_cpu(f"/proc/{pid}/stat") or 0.0 for pid in [server.pid, *_children(server.pid)])

            pg_start, g_start, me = pg.sample(), gunicorn_cpu(), time.process_time()
            for _ in range(args.n):
                call()
            g_ms = (gunicorn_cpu() - g_start) * 1000 / args.n
            pg_ms = PgCpu.spent(pg_start, pg.sample()) * 1000 / args.n
            me_ms = (time.process_time() - me) * 1000 / args.n
            print(f"  {label:<26} gunicorn {g_ms:5.2f} ms + PostgreSQL {pg_ms:5.2f} ms CPU a request "
                  f"(the client: {me_ms:.2f} ms)")
            conn.close()
    finally:
        stop(server)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", default=os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--n", type=int, default=500, help="requests of each kind measured")
    parser.add_argument("--rounds", type=int, default=3, help="in process: rounds of --n requests (the least is shown)")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="also N requests of each kind under cProfile")
    parser.add_argument("--sort", default="cumtime", help="--profile: pstats sort key (tottime, cumtime)")
    parser.add_argument("--top", type=int, default=40, help="--profile: functions listed")
    parser.add_argument("--gunicorn", action="store_true", help="also through gunicorn")
    parser.add_argument("--conf", action="store_true", help="--gunicorn: with backend/gunicorn_conf.py")
    args = parser.parse_args()

    url = setup_database(args.postgres)
    media_dir = tempfile.mkdtemp(prefix="bench-requests-")
    env = {"DATABASE_URL": url, "SECRET_KEY": SECRET, "MEDIA_DIR": media_dir, "SHUANGSUI_INSTANCE": media_dir,
           "REDIS_URL": ""}
    try:
        token = officer_token(env)
        pg = PgCpu(args.postgres, make_url(url).database)
        in_process(args, env, token, pg)
        if args.gunicorn:
            through_gunicorn(args, env, token, pg)
        pg.conn.close()
    finally:
        drop_database(args.postgres, url)
        import shutil

        shutil.rmtree(media_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
