"""Benchmark: the sync protocol on PostgreSQL (docs/sync.md). Prints figures; it is not a test.

    .venv/bin/python bench/sync.py [--postgres URL] [--officers 200] [--skip-http] [--single-only] [--http-only]
        [--code DIR] [--workers 4] [--threads 8] [--worker-class gthread] [--access-log PATH|off]

Scratch databases: the one named by --postgres, and beside it ``<name>_big`` and ``<name>_pull``.

Builds a fresh database (migrations) with one drawn joint task: every group has one officer
of the market department whose part of each inspection has 3 items of 10 check points (30
answers), plus an officer of the tax department. Then:

0. **one single-section push, in process** (Flask's test client): the statements it sends (SQLAlchemy's
   ``before_cursor_execute`` and COPYs; ``--log-statements`` prints them) for a section's first write and for
   a rewrite, this process's CPU a push, and a cProfile summary (CPU time) of ``--profile`` pushes;
1. **one push of 100 mutations**, each a whole 30-answer section (method per item; result,
   checked, problem, handling and note per check point), through the service layer in one
   transaction — median of several pushes, each to 100 fresh inspections — next to a **bare bulk
   insert of the same rows** (100 section rows and 3,000 answer rows, executemany, one
   transaction) measured in the same run; then **the same push replayed**;
2a. **one client through gunicorn**, one section a request, one after another: p50, p99, and the CPU a section
   of every process of the server (gunicorn's, PostgreSQL's backends of the database) read from /proc;
2. **10 concurrent clients** through gunicorn, each pushing one section per request:
   sections per second, p50 and p99;
3. **pull of a 2,000-change backlog**: a lead of 200 businesses whose inspections changed 2,000 times
   since their last pull, pages of 100 and of 500 (the app in process);
4. **200 simulated officers** pushing at once through gunicorn (loopback, each one push of
   its sections then a pull): throughput, p50, p99, errors. ``--split-pull``: every officer pushes (all at once),
   then every officer pulls (all at once), each part with its own CPU figures (the push's, the pull's);
5. ``--pull-profile N`` (or ``--pull-only``, this phase alone on 3 groups): **one officer's first pull**, in process
   (its 5 inspections, each with the 30-answer section it pushed): the statements, this process's CPU a pull, and
   a cProfile summary of N pulls.

Phases 2 and 4 also print the CPU a section, all processes and split: gunicorn (master and workers), PostgreSQL
(the backends of this database; the database connections opened during the phase are counted, since a backend
that ends takes its CPU with it) and this client process, with the load average before and after.

The client shares the cores with the server it measures, so it is kept cheap; the workload is unchanged (one
section a request, the same 30-answer record, 10 clients, 190 officers, one thread and one kept-alive connection
each, sync.client.Client's protocol). Since session 9: the phones speak HTTP through ``bench/_http.py``'s
``RawTransport`` (a socket, the answer's headers split once) instead of ``http.client`` (``email.parser``), 0.40 →
0.26 ms of client CPU a push (``--transport http.client`` for the old one); phase 2's request bodies are encoded
before the clock starts (as ``Client._send`` encodes them: the same bytes). ``--code DIR`` serves another checkout
(a clone of main, side by side), ``--workers``/``--threads``/``--worker-class`` gunicorn's shape, ``--access-log``
where its access log goes (``off``: none), ``--http-only`` phases 2a, 2 and 4 alone.

The 200 KB photo figure is bench/media.py's.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PG_URL = os.environ.get("BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/ss_bench_sync")
PASSWORD = "Bench@2026"


def _recreate(url: str) -> None:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(u.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{u.database}"'))
    admin.dispose()


def build(url: str, officers: int, per_officer: int) -> dict:  # noqa: C901 - one scenario, step by step
    """Departments, a 30-check-point checklist, a drawn task with ``officers`` groups, accounts."""
    from sqlalchemy import select

    from backend import migrate
    from backend.actor import Actor
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.auth.models import User
    from backend.auth.passwords import hash_password
    from backend.db import Database
    from backend.directory.models import CheckPoint, Department, Inspector, Item, Target
    from backend.draws import services as draws
    from backend.draws.models import GroupMember
    from backend.inspections.models import Inspection
    from backend.plans.models import Plan, PlanDepartment, PlanItem, Task, TaskDepartment, TaskItem
    from tests.factories import make_uscc
    import random

    _recreate(url)
    migrate.upgrade(url)
    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())
    rng = random.Random(7)
    pw = hash_password(PASSWORD)
    with db.session_scope() as s:
        samr, tax = Department(code="SAMR", name="市场监管局"), Department(code="TAX", name="税务局")
        s.add_all([samr, tax])
        s.flush()
        items = []
        for n in range(3):
            item = Item(code=f"IT-{n}", category="登记事项检查", name=f"检查事项{n}", object_types=["enterprise"],
                        kind="key", methods=["onsite"], legal_basis="《条例》", department_id=samr.id)
            for k in range(10):
                item.check_points.append(CheckPoint(seq=k + 1, text=f"检查内容{n}-{k}", answer_type="compliance"))
            items.append(item)
        tax_item = Item(code="IT-TAX", category="税务检查", name="纳税申报", object_types=["enterprise"], kind="key",
                        methods=["onsite"], legal_basis="《税收征收管理法》", department_id=tax.id)
        tax_item.check_points.append(CheckPoint(seq=1, text="按期申报", answer_type="compliance"))
        s.add_all(items + [tax_item])
        s.flush()
        plan = Plan(code="JH-BENCH", year=2026, name="基准测试计划", kind="joint", lead_department_id=samr.id,
                    status="published", ratio_rules={})
        plan.departments = [PlanDepartment(department_id=samr.id, role="lead"),
                            PlanDepartment(department_id=tax.id, role="participant")]
        plan.items = [PlanItem(item_id=i.id, department_id=samr.id) for i in items]
        s.add(plan)
        s.flush()
        task = Task(code="SS-BENCH-001", name="基准测试任务", plan_id=plan.id, lead_department_id=samr.id,
                    status="confirmed", strata_mode="all", strata={"all": {"num": 1, "den": 1}},
                    exclusions={}, group_load=per_officer, filters={})
        task.departments = [TaskDepartment(department_id=samr.id, role="lead", members_per_group=1, status="confirmed"),
                            TaskDepartment(department_id=tax.id, role="participant", members_per_group=1,
                                           status="confirmed")]
        task.items = [TaskItem(item_id=i.id, department_id=samr.id) for i in items] + [
            TaskItem(item_id=tax_item.id, department_id=tax.id)]
        s.add(task)
        seen: set = set()
        for _ in range(officers * per_officer):
            uscc = make_uscc(rng)
            while uscc in seen:
                uscc = make_uscc(rng)
            seen.add(uscc)
            s.add(Target(code=uscc, uscc=uscc, name="基准企业", type="enterprise", risk_class="B", status="active",
                         latitude=34.77, longitude=111.19, datum="GCJ-02"))
        for d, prefix in ((samr, "S"), (tax, "T")):
            for n in range(officers):
                s.add(Inspector(department_id=d.id, cert_no=f"{prefix}{n:05d}", name=f"检查员{prefix}{n}"))
        s.flush()
        admin = User(username="bench-admin", display_name="管理员", password_hash=pw, role="sysadmin", status="active")
        s.add(admin)
        s.flush()
        task_id = task.id
    with db.session_scope() as s:
        actor = Actor.system("bench")
        settings = draws.DrawSettings()
        draws.commit(s, actor, task_id, settings)
        draws.seed_and_draw(s, actor, task_id, settings, source="csprng")
    with db.session_scope() as s:
        members = s.execute(select(GroupMember.inspector_id, Inspector.cert_no, Inspector.department_id)
                            .join(Inspector, Inspector.id == GroupMember.inspector_id)).all()
        for inspector_id, cert, dept_id in members:
            s.add(User(username=f"u{cert}", display_name=cert, password_hash=pw, role="inspector",
                       department_id=dept_id, inspector_id=inspector_id, status="active"))
        s.flush()
        officers_out = []
        for inspector_id, cert, _dept_id in members:
            if not cert.startswith("S"):
                continue
            ids = [i for (i,) in s.execute(select(Inspection.id).join(GroupMember, GroupMember.group_id == Inspection.group_id)
                                           .where(GroupMember.inspector_id == inspector_id).order_by(Inspection.id))]
            officers_out.append({"username": f"u{cert}", "inspections": ids})
        points = {}
        for it in items:
            points[it.id] = [cp.id for cp in s.scalars(select(CheckPoint).where(CheckPoint.item_id == it.id)
                                                        .order_by(CheckPoint.seq))]
        samr_id = s.scalar(select(Department.id).where(Department.code == "SAMR"))
    db.engine.dispose()
    return {"officers": officers_out, "points": points, "samr": samr_id}


def section_values(points: dict, n: int) -> dict:
    values = {}
    for item_id, cps in points.items():
        values[f"items.{item_id}.method"] = {"value": "onsite", "base_rev": 0}
        for cp in cps:
            values[f"points.{cp}.result"] = {"value": "pass", "base_rev": 0}
            values[f"points.{cp}.checked"] = {"value": True, "base_rev": 0}
            values[f"points.{cp}.note"] = {"value": f"现场核查第{n}户，情况正常", "base_rev": 0}
    return values


def mutation(mid: int, inspection_id: int, dept: int, points: dict) -> dict:
    return {"id": mid, "name": "section.set", "device_time": "2026-04-08T09:30:00+08:00",
            "args": {"inspection_id": inspection_id, "department_id": dept, "fields": section_values(points, mid)}}


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


# --- 0. one single-section push, in process: statements and a profile ----------------------------------

class _Statements:
    """Counts what a request sends the database: every statement psycopg's cursors execute (through SQLAlchemy or
    on the raw connection: the chainer's, the pipelined ones) and COPYs (bulk_insert); transaction control (BEGIN,
    COMMIT, savepoints) not counted."""

    CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")

    def __init__(self):
        self.log: list[str] = []
        self.on = False

    def __enter__(self):
        import psycopg

        self._copy, self._execute = psycopg.Cursor.copy, psycopg.Cursor.execute
        counter = self

        def copy(cursor, statement, *a, **kw):
            if counter.on:
                counter.log.append(str(statement))
            return counter._copy(cursor, statement, *a, **kw)

        def execute(cursor, query, *a, **kw):
            if counter.on:
                text = " ".join((query if isinstance(query, str) else query.decode()).split())
                if not text.upper().startswith(counter.CONTROL):
                    counter.log.append(text)
            return counter._execute(cursor, query, *a, **kw)
        psycopg.Cursor.copy, psycopg.Cursor.execute = copy, execute
        return self

    def __exit__(self, *exc):
        import psycopg

        psycopg.Cursor.copy, psycopg.Cursor.execute = self._copy, self._execute


def local_app(url: str):
    from backend import create_app

    return create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-" + "y" * 32,
                       "AUDIT_KEY": "bench-audit-key-" + "x" * 32, "AUDIT_ANCHOR_FILE": None, "REDIS_URL": None,
                       "MEDIA_DIR": tempfile.mkdtemp(prefix="bench-sync-media-"), "JOBS_INLINE_THREAD": False,
                       "LOGIN_ACCOUNT_CEILING": 100000})


def _package(file: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0].split(".", 1)[0].lstrip("_")
    for own in ("backend", "sync", "schemas"):
        if file.startswith(str(ROOT / own)):
            return own
    return "stdlib"


def single_push(url: str, data: dict, officer: dict, n: int, show_log: bool = False) -> None:
    """One officer pushes one whole section a request (as phase 2's clients do), through Flask's test client:
    the statements each push sends (the first write of a section, then rewrites) and a profile of ``n`` pushes."""
    import cProfile
    import io
    import pstats

    app = local_app(url)
    client = app.test_client()
    r = client.post("/api/v1/auth/login", json={"username": officer["username"], "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.get_json()['access_token']}"}
    client_id = str(uuid.uuid4())
    inspections = officer["inspections"]
    next_id = [1]

    def push() -> None:
        mid = next_id[0]
        next_id[0] += 1
        iid = inspections[(mid - 1) % len(inspections)]
        body = json.dumps({"client_id": client_id, "mutations": [mutation(mid, iid, data["samr"], data["points"])]})
        r = client.post("/api/sync/push", data=body, headers={**headers, "Content-Type": "application/json"})
        assert r.status_code == 200 and r.get_json()["results"][0]["status"] == "applied", r.get_data()[:300]

    with _Statements() as st:
        push()                               # registers the client (its first push)
        counts = {}
        for kind in ("first write of a section", "rewrite of a section"):
            if kind.startswith("rewrite"):
                while next_id[0] <= len(inspections):
                    push()
            st.log, st.on = [], True
            push()
            st.on = False
            counts[kind] = list(st.log)
        print(f"0. one 30-answer section a push, in process ({officer['username']}):")
        for kind, log in counts.items():
            print(f"   {kind}: {len(log)} statements (goal ≤ 6)")
            if show_log:
                for s in log:
                    print("      ", s[:160])
    for _ in range(5):
        push()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        push()
    took, cpu = (time.perf_counter() - t0) / n, (time.process_time() - c0) / n
    print(f"   {n} pushes: {took * 1000:.1f} ms a push in process, {cpu * 1000:.1f} ms of this process's CPU")
    prof = cProfile.Profile(time.process_time)        # CPU time: waiting for the database is not counted
    prof.enable()
    for _ in range(n):
        push()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    total = stats.total_tt / n
    print(f"   profiled again: {total * 1000:.1f} ms of CPU a push under the profiler")
    groups: dict[str, float] = {}
    for (file, _line, _fn), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        groups[_package(file)] = groups.get(_package(file), 0.0) + tt
    print("   own time by package: " + ", ".join(f"{k} {v / stats.total_tt:.0%}" for k, v in
                                                sorted(groups.items(), key=lambda kv: -kv[1])[:9]))
    stats.sort_stats("cumulative").print_stats(r"(backend|sync)/", 15)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip() and (ln.strip()[0].isdigit())]
    print("   top of our code by cumulative time (ncalls, tottime, percall, cumtime, percall, where):")
    for ln in lines[:15]:
        print("     ", ln.strip()[:150])
    out.seek(0)
    out.truncate()
    stats.sort_stats("tottime").print_stats(12)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip() and (ln.strip()[0].isdigit())]
    print("   top functions by own time:")
    for ln in lines[1:13]:
        print("     ", ln.strip()[:150])


# --- 1. one push of 100 sections, service layer ---------------------------------------------------------

def service_push(url: str, data: dict, rounds: int) -> None:
    from sqlalchemy import insert, select

    from backend.actor import Actor
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.auth.models import User
    from backend.db import Database
    from backend.inspections import syncing
    from backend.inspections.models import Section, SectionAnswer

    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())
    big = [o for o in data["officers"] if len(o["inspections"]) >= 100 * rounds]
    officer = big[0]
    with db.session_scope() as s:
        user = s.scalar(select(User).where(User.username == officer["username"]))
        actor = Actor.of_user(user)
    from backend.db import utcnow as now_

    pushes, replays, bare, bare_copy = [], [], [], []
    client_id = str(uuid.uuid4())
    for r in range(rounds):
        ids = officer["inspections"][r * 100:(r + 1) * 100]
        body = {"client_id": client_id,
                "mutations": [mutation(r * 100 + k + 1, iid, data["samr"], data["points"]) for k, iid in enumerate(ids)]}
        raw = json.dumps(body).encode()
        # the push as the server does it: parse, then apply in one transaction
        t0 = time.perf_counter()
        cid, muts = syncing.parse(raw.decode())
        with db.session_scope() as s:
            syncing.push(s, actor, cid, muts)
        pushes.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        cid, muts = syncing.parse(raw.decode())
        with db.session_scope() as s:
            out = syncing.push(s, actor, cid, muts)
        replays.append(time.perf_counter() - t0)
        assert all(x.get("replayed") for x in out["results"])
        # the same rows, bare: 100 sections and their 3,000 answers in one transaction
        with db.session_scope() as s:
            sections = s.execute(select(Section.data, Section.revs, Section.rev).where(Section.inspection_id.in_(ids))).all()
            answers = s.execute(select(SectionAnswer.check_point_id, SectionAnswer.data, SectionAnswer.revs)
                                .join(Section, Section.id == SectionAnswer.section_id)
                                .where(Section.inspection_id.in_(ids))).all()
        scratch_ids = officer["inspections"][-100:]
        t0 = time.perf_counter()
        with db.engine.begin() as conn:
            rows = conn.execute(insert(Section).returning(Section.id, sort_by_parameter_order=True), [
                {"inspection_id": iid, "department_id": data["samr"], "data": d, "revs": rv, "rev": n,
                 "status": "open"} for iid, (d, rv, n) in zip(scratch_ids, sections)]).scalars().all()
            per = len(answers) // len(rows)
            conn.execute(insert(SectionAnswer), [
                {"section_id": rows[k // per], "check_point_id": cp, "data": d, "revs": rv}
                for k, (cp, d, rv) in enumerate(answers)])
            bare.append(time.perf_counter() - t0)
            conn.rollback()
        # and with COPY for the answers, as the push itself writes them
        from sqlalchemy.orm import Session as OrmSession

        from backend.db import bulk_insert
        t0 = time.perf_counter()
        with OrmSession(db.engine) as s2:
            rows = s2.execute(insert(Section).returning(Section.id, sort_by_parameter_order=True), [
                {"inspection_id": iid, "department_id": data["samr"], "data": d, "revs": rv, "rev": n,
                 "status": "open"} for iid, (d, rv, n) in zip(scratch_ids, sections)]).scalars().all()
            per = len(answers) // len(rows)
            bulk_insert(s2, SectionAnswer, [
                {"section_id": rows[k // per], "check_point_id": cp, "data": d, "revs": rv, "first_at": now_(),
                 "updated_at": now_(), "updated_by": None} for k, (cp, d, rv) in enumerate(answers)])
            s2.flush()
            bare_copy.append(time.perf_counter() - t0)
            s2.rollback()
    med, med_bare, med_replay = statistics.median(pushes), statistics.median(bare), statistics.median(replays)
    print(f"1. push of 100 whole sections (30 answers each), service layer, median of {rounds}:")
    print(f"   push {med * 1000:.0f} ms ({med * 10:.1f} ms a section)   goal ≤ 300 ms")
    print(f"   bare bulk insert of the same rows {med_bare * 1000:.0f} ms; push / bare = {med / med_bare:.1f}   goal ≤ 3")
    print(f"   bare insert with COPY for the answers {statistics.median(bare_copy) * 1000:.0f} ms; push / that = "
          f"{med / statistics.median(bare_copy):.1f}")
    print(f"   the same push replayed {med_replay * 1000:.0f} ms = 1/{med / med_replay:.0f} of the push   goal ≤ 1/5")
    db.engine.dispose()


# --- HTTP phases ---------------------------------------------------------------------------------------

def start_gunicorn(url: str, workers: int, threads: int, code: Path = ROOT, access_log: str = "/dev/null",
                   extra_env: dict | None = None, worker_class: str | None = None) -> tuple[subprocess.Popen, str]:
    from bench._server import start_gunicorn as start

    inst = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    env = {**os.environ, "DATABASE_URL": url, "SHUANGSUI_INSTANCE": str(inst), "MEDIA_DIR": str(inst / "media"),
           "SHUANGSUI_ACCESS_LOG": access_log, "SHUANGSUI_LOG_LEVEL": "warning", "REDIS_URL": "",
           "AUDIT_KEY": "bench-audit-key-" + "x" * 32, "SECRET_KEY": "bench-secret-key-" + "y" * 32,
           "LOGIN_ACCOUNT_CEILING": "100000", **(extra_env or {})}
    log = open(inst / "server.log", "w")                  # gunicorn's errors (a pipe nobody read could fill)
    proc, port = start(env, workers=workers, threads=threads, code=code, stderr=log, worker_class=worker_class)
    log.close()
    return proc, f"http://127.0.0.1:{port}"


TRANSPORT = ["raw"]      # --transport


def _client(base: str, username: str):
    from sync.client import Client, HttpTransport

    from bench._http import RawTransport

    kind = RawTransport if TRANSPORT[0] == "raw" else HttpTransport
    c = Client(kind(base, timeout=180))   # a loaded machine: workers may still be starting
    c.login(username, PASSWORD)
    return c


def _cpu(pid: int, system_only: bool = False) -> float:
    """CPU seconds (user + system, or system alone) of one process so far; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[12]) + (0 if system_only else int(fields[11]))) / os.sysconf("SC_CLK_TCK")


def _gunicorn_pids(master: int) -> list[int]:
    """gunicorn's master and its workers."""
    pids = [master]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return pids


def _db_backends(url: str) -> tuple[list[int], int]:
    """The PostgreSQL backends serving this database (this query's own left out), and how many sessions the
    database has had so far (``pg_stat_database.sessions``: a pool that opens and closes connections shows)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    u = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    eng = create_engine(u, poolclass=__import__("sqlalchemy.pool", fromlist=["NullPool"]).NullPool)
    with eng.connect() as c:
        pids = [p for (p,) in c.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :d "
                                             "AND pid <> pg_backend_pid()"), {"d": u.database})]
        sessions = c.execute(text("SELECT sessions FROM pg_stat_database WHERE datname = :d"),
                             {"d": u.database}).scalar() or 0
    eng.dispose()
    return pids, int(sessions)


def _server_pids(master: int, url: str) -> list[int]:
    """gunicorn's master and workers, and the PostgreSQL backends serving this database."""
    return _gunicorn_pids(master) + _db_backends(url)[0]


class Meter:
    """The CPU a phase cost, split: gunicorn (master and workers), PostgreSQL (the backends of this database; one
    that ends during the phase takes its time with it, hence ``connections``: the sessions opened meanwhile, each
    one more backend started, whose CPU is not counted if it ended), and this client process (every
    thread); with the load average (1 minute) at its start and end."""

    def __init__(self, master: int, url: str):
        self.master, self.url = master, url

    def __enter__(self):
        self.load0 = os.getloadavg()[0]
        self.gunicorn = {p: _cpu(p) for p in _gunicorn_pids(self.master)}
        self.kernel = {p: _cpu(p, system_only=True) for p in self.gunicorn}
        pids, self.sessions = _db_backends(self.url)
        self.db = {p: _cpu(p) for p in pids}
        self.client = time.process_time()
        self.wall = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.wall
        self.client = time.process_time() - self.client
        pids = _gunicorn_pids(self.master)
        self.gunicorn = sum(_cpu(p) - self.gunicorn.get(p, 0.0) for p in pids)
        self.kernel = sum(_cpu(p, system_only=True) - self.kernel.get(p, 0.0) for p in pids)
        pids, sessions = _db_backends(self.url)
        self.connections = sessions - self.sessions - 1          # less this meter's own
        self.db = sum(_cpu(p) - self.db.get(p, 0.0) for p in pids)
        self.load1 = os.getloadavg()[0]

    def line(self, sections: int) -> str:
        per = 1000 / sections
        total = self.gunicorn + self.db + self.client
        return (f"CPU a section {total * per:.2f} ms all in = gunicorn {self.gunicorn * per:.2f} + PostgreSQL "
                f"{self.db * per:.2f} + client {self.client * per:.2f}; the cores {total / self.wall / os.cpu_count():.0%} "
                f"busy with these; {self.connections} database connections opened; load {self.load0:.2f}→{self.load1:.2f}; "
                f"gunicorn's in the kernel {self.kernel * per:.2f}")


def sequential_pushes(base: str, url: str, master: int, data: dict, officer: dict, n: int) -> None:
    """One client, one 30-answer section a request, one after the other: latency, and the CPU every process of
    the server (gunicorn, PostgreSQL's backends of this database) spent a section."""
    phone = _client(base, officer["username"])
    inspections = officer["inspections"]

    def push(k: int) -> float:
        m = mutation(k, inspections[(k - 1) % len(inspections)], data["samr"], data["points"])
        t0 = time.perf_counter()
        r = phone._send("POST", "/api/sync/push", json_body={"client_id": phone.client_id, "mutations": [m]})
        took = time.perf_counter() - t0
        assert r.status == 200 and r.json["results"][0]["status"] == "applied", r.content[:300]
        return took

    for k in range(1, 11):
        push(k)                                   # warm: every worker's connections open
    pids = _server_pids(master, url)
    before = sum(_cpu(p) for p in pids)
    own0 = time.process_time()
    latencies = [push(k) for k in range(11, 11 + n)]
    server = (sum(_cpu(p) for p in pids) - before) / n
    client = (time.process_time() - own0) / n
    print(f"2a. one client, {n} single-section pushes one after another: p50 {_pct(latencies, 50) * 1000:.1f} ms "
          f"(goal ≤ 8), p99 {_pct(latencies, 99) * 1000:.1f} ms; CPU a section: server and database "
          f"{server * 1000:.1f} ms (goal ≤ 10), the client {client * 1000:.1f} ms ({len(pids)} server processes)")


def concurrent_pushes(base: str, data: dict, clients: int, per_client: int, meter: Meter) -> None:
    officers = data["officers"][:clients]
    phones = [_client(base, o["username"]) for o in officers]
    latencies: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(clients)

    def bodies(phone, officer) -> list[bytes]:
        """The client's requests, encoded before the clock starts (as ``Client._send`` encodes them)."""
        out = []
        for k in range(per_client):
            iid = officer["inspections"][k % len(officer["inspections"])]
            m = mutation(k + 1, iid, data["samr"], data["points"])
            out.append(json.dumps({"client_id": phone.client_id, "mutations": [m]}, ensure_ascii=False,
                                  separators=(",", ":")).encode())
        return out

    def run(phone, requests):
        barrier.wait()
        for body in requests:
            t0 = time.perf_counter()
            try:
                r = phone._send("POST", "/api/sync/push", body=body, headers={"Content-Type": "application/json"})
                if r.status != 200 or r.json["results"][0]["status"] != "applied":
                    errors.append(f"{r.status} {r.content[:200]!r}")
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
            latencies.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=run, args=(p, bodies(p, o))) for p, o in zip(phones, officers)]
    with meter:
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wall = time.perf_counter() - t0
    n = len(latencies)
    print(f"2. {clients} concurrent clients, one 30-answer section per request, {n} requests:")
    print(f"   {n / wall:.0f} sections/s (goal ≥ 300), p50 {_pct(latencies, 50) * 1000:.0f} ms, "
          f"p99 {_pct(latencies, 99) * 1000:.0f} ms (goal ≤ 100), errors {len(errors)}")
    print(f"   {meter.line(n)}")
    for e in errors[:3]:
        print("   ", e)


def pull_backlog(url: str) -> None:
    """A lead of 200 businesses whose inspections changed 2,000 times since their last pull (in process: the
    app through Flask's test client, so the figure is the server's own work)."""
    from sync.client import Client

    from backend import create_app

    data = build(url, 1, per_officer=200)
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-secret-key-" + "y" * 32,
                      "AUDIT_KEY": "bench-audit-key-" + "x" * 32, "AUDIT_ANCHOR_FILE": None, "REDIS_URL": None,
                      "MEDIA_DIR": tempfile.mkdtemp(prefix="bench-sync-media-"), "JOBS_INLINE_THREAD": False})

    class Local:
        def __init__(self):
            self.client = app.test_client()

        def request(self, method, path, headers, body):
            from sync.client import Response

            r = self.client.open(path, method=method, headers=headers, data=body)
            return Response(r.status_code, {k.lower(): v for k, v in r.headers.items()}, r.get_data())

    officer = data["officers"][0]
    writer, reader = Client(Local()), Client(Local())
    writer.login(officer["username"], PASSWORD)
    reader.login(officer["username"], PASSWORD)
    reader.pull()
    for n in range(2000):
        iid = officer["inspections"][n % len(officer["inspections"])]
        writer.enqueue("section.set", {"inspection_id": iid, "department_id": data["samr"],
                                       "fields": {"note": {"value": f"第{n}次", "base_rev": 0}}})
    writer.push()
    for limit in (100, 500):
        fresh = Client(Local())
        fresh.access_token, fresh.refresh_token, fresh.cursor = reader.access_token, reader.refresh_token, reader.cursor
        t0 = time.perf_counter()
        documents = fresh.pull(limit=limit)
        took = time.perf_counter() - t0
        print(f"3. pull of a 2,000-change backlog over {len(officer['inspections'])} inspections, pages of {limit}: "
              f"{took * 1000:.0f} ms, {documents} documents")


def many_officers(base: str, data: dict, n: int, meter: Meter, split: bool = False) -> None:
    """Phase 4. ``split``: every officer pushes (all at once), then every officer pulls (all at once), each part
    under its own meter, so that the CPU a section is told apart: the push's and the pull's (the default phase,
    each officer's push then pull in one go, is left as it was)."""
    officers = data["officers"][:n]
    phones = []
    for o in officers:
        phones.append(_client(base, o["username"]))
    for phone, o in zip(phones, officers):
        for iid in o["inspections"]:
            phone.enqueue("section.set", {"inspection_id": iid, "department_id": data["samr"],
                                          "fields": section_values(data["points"], iid)})
    latencies: list[float] = []
    errors: list[str] = []
    barrier = threading.Barrier(len(phones))

    def run(phone, steps):
        barrier.wait()
        t0 = time.perf_counter()
        try:
            for step in steps:
                step(phone)
        except Exception as exc:  # noqa: BLE001
            errors.append(repr(exc)[:200])
        latencies.append(time.perf_counter() - t0)

    def once(steps, part_meter) -> float:
        threads = [threading.Thread(target=run, args=(p, steps)) for p in phones]
        with part_meter:
            t0 = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join(600)
            return time.perf_counter() - t0

    sections = sum(len(o["inspections"]) for o in officers)
    per = len(officers[0]["inspections"])
    if not split:
        wall = once((lambda p: p.push(), lambda p: p.pull()), meter)
        print(f"4. {len(phones)} officers at once (each: push {per} sections, then pull): "
              f"{wall:.1f} s, {sections / wall:.0f} sections/s, per officer p50 {_pct(latencies, 50):.2f} s, "
              f"p99 {_pct(latencies, 99):.2f} s, errors {len(errors)}")
        print(f"   {meter.line(sections)}")
    else:
        pull_meter = Meter(meter.master, meter.url)
        push_wall = once((lambda p: p.push(),), meter)
        pushes, latencies[:] = list(latencies), []
        pull_wall = once((lambda p: p.pull(),), pull_meter)
        wall = push_wall + pull_wall
        print(f"4. {len(phones)} officers, split (all push {per} sections at once, then all pull at once): "
              f"{wall:.1f} s, {sections / wall:.0f} sections/s, errors {len(errors)}")
        print(f"   push part: {push_wall:.1f} s, {sections / push_wall:.0f} sections/s, per officer p50 "
              f"{_pct(pushes, 50):.2f} s, p99 {_pct(pushes, 99):.2f} s")
        print(f"      {meter.line(sections)}")
        print(f"   pull part: {pull_wall:.1f} s, per officer p50 {_pct(latencies, 50):.2f} s, p99 "
              f"{_pct(latencies, 99):.2f} s (a section: the pull's cost over the {per} sections pushed)")
        print(f"      {pull_meter.line(sections)}")
        both = meter.gunicorn + meter.db + meter.client + pull_meter.gunicorn + pull_meter.db + pull_meter.client
        print(f"   together: CPU a section {both * 1000 / sections:.2f} ms all in")
    for e in errors[:5]:
        print("   ", e)


def pull_profile(url: str, data: dict, officer: dict, n: int) -> None:
    """One officer's first pull (no cursor: its inspections with everything a phone needs), in process through
    Flask's test client, after the officer pushed one whole section to each of them: the statements it sends, this
    process's CPU a pull, and a cProfile summary of ``n`` pulls (the same first pull, again and again)."""
    import cProfile
    import io
    import pstats

    app = local_app(url)
    client = app.test_client()
    r = client.post("/api/v1/auth/login", json={"username": officer["username"], "password": PASSWORD})
    headers = {"Authorization": f"Bearer {r.get_json()['access_token']}"}
    client_id = str(uuid.uuid4())
    mutations = [{"id": k + 1, "name": "section.set", "device_time": "2026-04-08T09:30:00+08:00",
                  "args": {"inspection_id": iid, "department_id": data["samr"],
                           "fields": section_values(data["points"], iid)}}
                 for k, iid in enumerate(officer["inspections"])]
    r = client.post("/api/sync/push", data=json.dumps({"client_id": client_id, "mutations": mutations}),
                    headers={**headers, "Content-Type": "application/json"})
    assert r.status_code == 200, r.get_data()[:300]

    def pull() -> int:
        r = client.get(f"/api/sync/pull?client_id={client_id}", headers={**headers, "X-Device-Label": "bench"})
        assert r.status_code == 200, r.get_data()[:300]
        return len(r.get_data())

    size = pull()
    with _Statements() as st:
        st.on = True
        pull()
        st.on = False
    print(f"5. one officer's first pull, in process ({officer['username']}, {len(officer['inspections'])} "
          f"inspections, each with a 30-answer section): {len(st.log)} statements, {size} bytes")
    for s in st.log:
        print("      ", s[:150])
    for _ in range(5):
        pull()
    c0 = time.process_time()
    for _ in range(n):
        pull()
    cpu = (time.process_time() - c0) / n
    print(f"   {n} pulls: {cpu * 1000:.2f} ms of this process's CPU a pull")
    prof = cProfile.Profile(time.process_time)
    prof.enable()
    for _ in range(n):
        pull()
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    print(f"   profiled again: {stats.total_tt / n * 1000:.2f} ms of CPU a pull under the profiler")
    groups: dict[str, float] = {}
    for (file, _line, _fn), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        groups[_package(file)] = groups.get(_package(file), 0.0) + tt
    print("   own time by package: " + ", ".join(f"{k} {v / stats.total_tt:.0%}" for k, v in
                                                sorted(groups.items(), key=lambda kv: -kv[1])[:9]))
    stats.sort_stats("cumulative").print_stats(r"(backend|sync|schemas)/", 20)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip() and (ln.strip()[0].isdigit())]
    print("   top of our code by cumulative time (ncalls, tottime, percall, cumtime, percall, where):")
    for ln in lines[:20]:
        print("     ", ln.strip()[:150])
    out.seek(0)
    out.truncate()
    stats.sort_stats("tottime").print_stats(15)
    lines = [ln for ln in out.getvalue().splitlines() if ln.strip() and (ln.strip()[0].isdigit())]
    print("   top functions by own time:")
    for ln in lines[1:16]:
        print("     ", ln.strip()[:150])


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def _sibling(url: str, suffix: str) -> str:
    """Another scratch database named after the main one (``…/ss_bench_sync`` → ``…/ss_bench_sync_big``)."""
    return f"{url}_{suffix}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--postgres", default=PG_URL)
    ap.add_argument("--officers", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--skip-http", action="store_true")
    ap.add_argument("--skip-big", action="store_true", help="no phase 1 (the 100-section push)")
    ap.add_argument("--single-only", action="store_true", help="phase 0 only (statements and profile)")
    ap.add_argument("--profile", type=int, default=200, help="pushes profiled in phase 0")
    ap.add_argument("--sequential", type=int, default=300, help="requests of phase 2a")
    ap.add_argument("--log-statements", action="store_true", help="print phase 0's statements")
    ap.add_argument("--quick", action="store_true", help="fewer requests in phase 2")
    ap.add_argument("--code", type=Path, default=ROOT,
                    help="serve this checkout instead (e.g. a clone of main, for side-by-side figures)")
    ap.add_argument("--access-log", default="/dev/null",
                    help="where gunicorn writes its access log (SHUANGSUI_ACCESS_LOG; 'off': none)")
    ap.add_argument("--worker-class", default=None, help="gunicorn's worker class (default: the configuration's, gthread)")
    ap.add_argument("--transport", choices=("raw", "http.client"), default="raw",
                    help="the simulated phones' HTTP: bench/_http.py's RawTransport or sync.client.HttpTransport")
    ap.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting of the server's environment (repeatable)")
    ap.add_argument("--warm", action="store_true",
                    help="before phase 2, 10 clients of their own push 30 sections each through the same server (give "
                         "--officers 200 + 10: the 10 spare groups), so that every connection a worker opens has "
                         "its statements prepared (psycopg prepares a statement on its 5th run on a connection)")
    ap.add_argument("--http-only", action="store_true", help="phases 2a, 2 and 4 only (no 0, 1 or 3)")
    ap.add_argument("--split-pull", action="store_true",
                    help="phase 4 in two parts, each with its own CPU figures: every officer's push, then every pull")
    ap.add_argument("--pull-profile", type=int, default=0, metavar="N",
                    help="phase 5: one officer's first pull in process (statements, CPU, a profile of N pulls), on a "
                         "group of its own (one more group is built)")
    ap.add_argument("--pull-only", action="store_true", help="phase 5 alone (3 groups built; --pull-profile 200 "
                                                             "unless given)")
    args = ap.parse_args()
    TRANSPORT[0] = args.transport
    print(_load())
    t0 = time.perf_counter()
    # one officer leads the big group (the 100-section pushes); the others have 5 businesses each; the last two
    # are phase 0's and phase 2a's alone
    if args.pull_only:
        args.pull_profile = args.pull_profile or 200
    officers = 2 if args.single_only or args.pull_only else args.officers + 2
    officers += 1 if args.pull_profile else 0
    data = build(args.postgres, officers, per_officer=5)
    print(f"built {officers} groups in {time.perf_counter() - t0:.1f} s")
    if args.pull_profile:
        # phase 5's officer (a group of its own, before phase 0's and 2a's two), kept out of every other phase
        profiled = data["officers"].pop(-3)
        if args.pull_only:
            pull_profile(args.postgres, data, profiled, args.pull_profile)
            return
    if not args.http_only:
        single_push(args.postgres, data, data["officers"][-2], args.profile, args.log_statements)
    if args.single_only:
        return
    if not args.skip_big and not args.http_only:
        service_push_on_big(args)
    if not args.skip_http:
        proc, base = start_gunicorn(args.postgres, args.workers, args.threads, code=args.code,
                                    access_log=args.access_log, worker_class=args.worker_class,
                                    extra_env=dict(kv.split("=", 1) for kv in args.server_env))
        print(f"gunicorn: {args.workers} {args.worker_class or 'gthread'} workers × {args.threads} threads serving "
              f"{args.code}, access log {args.access_log} {' '.join(args.server_env)}")
        meter = Meter(proc.pid, args.postgres)
        try:
            sequential_pushes(base, args.postgres, proc.pid, data, data["officers"][-1], args.sequential)
            if args.warm:
                spare = data["officers"][min(args.officers - 10, 190) + 10:-2][:10]
                if spare:
                    print(f"   warming: {len(spare)} clients of their own, 30 pushes each (not counted):")
                    concurrent_pushes(base, {**data, "officers": spare}, len(spare), 30, Meter(proc.pid, args.postgres))
                else:
                    print("   no spare groups to warm with (--officers 210 gives 10)")
            concurrent_pushes(base, data, 10, 5 if args.quick else 30, meter)
            many_officers(base, {**data, "officers": data["officers"][10:-2]}, min(args.officers - 10, 190), meter,
                          split=args.split_pull)
        finally:
            proc.terminate()
            proc.wait(30)
        if not args.http_only:
            pull_backlog(_sibling(args.postgres, "pull"))
    if args.pull_profile:
        pull_profile(args.postgres, data, profiled, args.pull_profile)
    print(_load())


def service_push_on_big(args) -> None:
    """Phase 1 on its own database: one officer with 100 × (rounds + 1) businesses."""
    url = _sibling(args.postgres, "big")
    data = build(url, 1, per_officer=100 * (args.rounds + 1))
    service_push(url, data, args.rounds)


if __name__ == "__main__":
    main()
