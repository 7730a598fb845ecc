"""Benchmark: a task's whole draw from 1,000,000 targets, on PostgreSQL and on SQLite.

    .venv/bin/python bench/draw.py [--targets 1000000] [--postgres URL] [--database NAME] [--reuse]
                                   [--repeat 3] [--code DIR] [--sqlite PATH] [--only pg|sqlite]
    .venv/bin/python bench/draw.py --database NAME --reuse --only pg --save-trials 3

For each database: build a fresh one (migrations), load 1,000,000 targets in four risk
strata A/B/C/D (20/50/25/5 %) drawn at 1/2/5/12 % (about 3 % overall), 40 departments
with 800 inspectors each, all taking part (lead: 2 per group, the others 1; 100 targets
per group, 500 at 5,000,000 targets), 2,000 declared conflicts and 10,000 "inspected this year" rows. Then, in a
fresh process (so that its memory is the draw's own):

* commit: freeze (query ids and strata only), commitment, store the frozen lists;
* seed and draw: load the frozen lists, tickets, groups, inspectors, recusal, leaders,
  and save groups, members and inspections — one transaction each, as the API does;
* the tickets alone: one ticket per candidate target and inspector, same code, same run;
* peak memory of that process (ru_maxrss);
* ``shuangsui draw verify`` of the published record (a file of about 60 MB), as a command;
* each phase of the commit and of the draw (time spent in the named functions, summed; the
  functions are wrapped from here, the code measured is unchanged): wall time, this process's CPU
  time and, on PostgreSQL, the CPU time of the backends serving it (read from /proc: the server must
  run on this machine; parallel workers are not counted). On a shared machine the CPU times say
  more than the wall times.

``--reuse`` keeps a PostgreSQL database built by an earlier run (same ``--database``, brought up to this
checkout's migrations: ``db upgrade``), so that the draw itself can be timed again and again (before each
draw the last one is deleted, the tables it wrote vacuumed and analyzed, and a checkpoint taken: every run
starts from the same state); ``--code DIR`` runs the draw with the ``backend`` of
another checkout (say, main's, to compare before and after on the same data in the same sitting).

``--save-trials ROUNDS`` times, instead of draws, the save of one draw's result alone (groups, members,
inspections and their facts), as it is and with the keys and indexes of ``SAVE_VARIANTS`` dropped, each trial
in a transaction rolled back after a checkpoint: what a migration would buy, before anyone writes it. The
DDL locks the tables while a trial runs: use a copy of your own (``CREATE DATABASE … TEMPLATE …``).

Prints figures; it is not a test.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STRATA = {"A": (0.20, {"num": 1, "den": 100, "min": 1}), "B": (0.50, {"num": 2, "den": 100}),
          "C": (0.25, {"num": 5, "den": 100}), "D": (0.05, {"num": 12, "den": 100})}
DEPARTMENTS = 40
PER_DEPARTMENT = 800
ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def _uscc(rng: random.Random, seen: set) -> str:
    from backend.directory.rules import uscc_check_char

    while True:
        body = "91411203" + "".join(rng.choices(ALPHABET, k=9))
        if body not in seen:
            seen.add(body)
            return body + uscc_check_char(body)


def build(url: str, n_targets: int) -> int:
    """A fresh database with the data; returns the task id."""
    from sqlalchemy import insert

    from backend import migrate
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.db import Database, utcnow
    from backend.directory.models import (Department, Inspector, InspectorConflict, Item, Region, Target,
                                          TargetItemHistory)
    from backend.plans.models import Plan, PlanDepartment, PlanItem, Task, TaskDepartment, TaskItem

    migrate.upgrade(url)
    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())  # a scratch database: a throw-away audit key
    rng = random.Random(2026)
    now = utcnow()
    t0 = time.perf_counter()
    with db.session_scope() as s:
        s.add(Region(code="411203", name="陕州区", level="county"))
        s.flush()
        s.execute(insert(Department), [{"code": f"D{d:02d}", "name": f"部门{d:02d}", "created_at": now,
                                        "updated_at": now} for d in range(1, DEPARTMENTS + 1)])
        dept_ids = {code: i for i, code in s.execute(Department.__table__.select().with_only_columns(
            Department.id, Department.code))}
        item = Item(code="IT-1", category="登记事项检查", name="营业执照规范使用情况的检查", object_types=["enterprise"],
                    kind="key", methods=["onsite"], legal_basis="《市场主体登记管理条例》", department_id=dept_ids["D01"])
        s.add(item)
        s.flush()
        s.execute(insert(Inspector), [{"department_id": dept_ids[f"D{d:02d}"], "cert_no": f"D{d:02d}-{i:05d}",
                                       "name": f"检查员{d:02d}{i:05d}", "status": "active", "created_at": now,
                                       "updated_at": now, "qualifications": [], "expertise_text": ""}
                                      for d in range(1, DEPARTMENTS + 1) for i in range(PER_DEPARTMENT)])
        seen: set = set()
        classes = [c for c, (share, _) in STRATA.items() for _ in range(int(share * 100))]
        rows = ((_uscc(rng, seen), rng.choice(classes)) for _ in range(n_targets))
        _load_targets(s, db, rows, dept_ids["D01"], now)
        target_ids = [i for (i,) in s.execute(Target.__table__.select().with_only_columns(Target.id)
                                              .order_by(Target.id).limit(20000))]
        s.execute(insert(TargetItemHistory), [{"target_id": t, "item_id": item.id,
                                               "last_inspected_on": dt.date(2026, 3, 1)} for t in target_ids[:10000]])
        inspector_ids = [i for (i,) in s.execute(Inspector.__table__.select().with_only_columns(Inspector.id)
                                                 .limit(4000))]
        s.execute(insert(InspectorConflict), [{"inspector_id": rng.choice(inspector_ids),
                                               "target_id": t, "reason": "亲属关系", "declared_at": now}
                                              for t in rng.sample(target_ids[10000:], 2000)])
        plan = Plan(code="JH-2026-BENCH", year=2026, name="基准测试计划", kind="joint",
                    lead_department_id=dept_ids["D01"], status="published", ratio_rules={})
        plan.departments = [PlanDepartment(department_id=i, role="lead" if c == "D01" else "participant")
                            for c, i in dept_ids.items()]
        plan.items = [PlanItem(item_id=item.id, department_id=dept_ids["D01"])]
        s.add(plan)
        s.flush()
        task = Task(code="SS-2026-BENCH", name="百万户联合抽查", plan_id=plan.id, lead_department_id=dept_ids["D01"],
                    status="confirmed", strata_mode="risk", strata={k: rule for k, (_, rule) in STRATA.items()},
                    exclusions={"inspected_this_year": True, "a_class_exempt": True},
                    group_load=100 * max(1, n_targets // 1_000_000),  # 300 groups: 800 inspectors a department do
                    start_date=dt.date(2026, 4, 1))
        task.departments = [TaskDepartment(department_id=i, role="lead" if c == "D01" else "participant",
                                           members_per_group=2 if c == "D01" else 1, status="confirmed")
                            for c, i in dept_ids.items()]
        task.items = [TaskItem(item_id=item.id, department_id=dept_ids["D01"])]
        s.add(task)
        s.flush()
        task_id = task.id
    if db.dialect == "postgresql":  # as autovacuum would have done on a live directory
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
            conn.exec_driver_sql("CHECKPOINT")
    print(f"  data loaded in {time.perf_counter() - t0:.1f} s", flush=True)
    db.engine.dispose()
    return task_id


def _load_targets(session, db, rows, dept_id, now) -> None:
    from sqlalchemy import insert

    from backend.directory.models import Target

    if db.dialect == "postgresql":
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cur, cur.copy("COPY target (code, uscc, name, type, risk_class, status, tags_text, "
                                           "department_id, created_at, updated_at) FROM STDIN") as copy:
            for n, (code, risk) in enumerate(rows):
                copy.write_row((code, code, f"企业{n}", "enterprise", risk, "active", "", dept_id, now, now))
        return
    batch = []
    for n, (code, risk) in enumerate(rows):
        batch.append({"code": code, "uscc": code, "name": f"企业{n}", "type": "enterprise", "risk_class": risk,
                      "status": "active", "tags_text": "", "department_id": dept_id, "created_at": now,
                      "updated_at": now})
        if len(batch) == 20000:
            session.execute(insert(Target), batch)
            batch = []
    if batch:
        session.execute(insert(Target), batch)


_UNDRAWN = ("inspection_member_override", "figure_fact", "inspection", "group_member", "inspection_group",
            "draw_list", "draw", "sync_change", "task")


def _undraw(db, task_id: int) -> None:
    """Back to a confirmed task, so that the same draw can be timed again, on tables as a live directory's
    would be (autovacuum is off here): the rows deleted vacuumed away and the statistics fresh, the
    phones' change sequence of the bench's task emptied (it grew by 30,000 rows a draw), then a
    checkpoint, as a real draw comes long after the last write to its businesses' pages (each page the
    draw then writes first costs a full image in the WAL). Every run starts from the same state."""
    from sqlalchemy import text

    with db.engine.begin() as conn:
        # figure_fact first: it has no foreign key to inspection (migration 0022) to take its rows with them
        for table in ("inspection_member_override", "figure_fact", "inspection", "group_member", "inspection_group",
                      "draw_list", "draw"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("DELETE FROM sync_change WHERE task_id = :id"), {"id": task_id})
        conn.execute(text("UPDATE task SET status = 'confirmed' WHERE id = :id"), {"id": task_id})
    if db.dialect == "postgresql":
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(_UNDRAWN)}")
            conn.exec_driver_sql("CHECKPOINT")


# The phases printed: (label, module, attribute), in the order shown; nested ones are indented by two
# spaces per level. Each is the time spent in that function, summed over its calls (a phase that does
# not exist in the code measured, say an older checkout's, is left out).
PHASES = [
    ("commit", [
        ("freeze", "backend.draws.services", "freeze"),
        ("  target lines (query, split, sort)", "backend.draws.eligibility", "fetch_lines"),
        ("  inspector lines", "backend.draws.eligibility", "inspector_lines"),
        ("  declared conflicts (query)", "backend.draws.eligibility", "conflict_rows"),
        ("  declared conflicts (filter; old: + query)", "backend.draws.eligibility", "declared_conflicts"),
        ("feasibility", "backend.draws.services", "feasibility.assess"),
        ("commitment (join, SHA-256)", "backend.draws.services", "commitment_of_lines"),
        ("pack lists (join, SHA-256)", "backend.draws.lists", "pack"),
        ("pack lists (join)", "backend.draws.lists", "join"),
        ("seal lists (SHA-256 on a thread + compress)", "backend.draws.lists", "seal"),
        ("commitment of the hashes", "backend.draws.services", "commitment_of_hashes"),
        ("store lists (compress)", "backend.draws.lists", "store"),
        ("audit entries", "backend.audit.services", "record"),
        ("COMMIT", "sqlalchemy.orm", "Session.commit"),
    ]),
    ("seed and draw", [
        ("load lists", "backend.draws.lists", "load"),
        ("split lists", "backend.draws.services", "split_by_prefix"),
        ("load lists, split per key", "backend.draws.lists", "load_grouped"),
        ("load lists (one read)", "backend.draws.lists", "raw_all"),
        ("split lists per key (+ inflate, hash)", "backend.draws.lists", "unpack_grouped"),
        ("algorithm.draw", "backend.draws.services", "algorithm.draw"),
        ("  duplicate check", "backend.draws.algorithm", "_check_unique"),
        ("  rank targets (tickets)", "backend.draws.algorithm", "rank_smallest"),
        ("  order groups, inspectors", "backend.draws.algorithm", "_order"),
        ("  recusal", "backend.draws.algorithm", "_recuse"),
        ("store reserve lists", "backend.draws.lists", "store"),
        ("save assignments", "backend.draws.services", "_save_assignments"),
        ("save assignments", "backend.draws.services_save", "save_assignments"),
        ("  inspections, members (INSERT; new: + facts)", "backend.draws.services", "_insert_keyed"),
        ("  inspections, members (INSERT + facts)", "backend.draws.services_save", "_insert_keyed"),
        ("groups, members (sent while ranking)", "backend.draws.services_save", "Saver._save_crew"),
        ("businesses locked (sent while ranking)", "backend.draws.services_save", "Saver._lock_targets"),
        ("waiting for what was sent", "backend.draws.services_save", "Saver.wait"),
        ("save assignments (after the ranking)", "backend.draws.services_save", "Saver.finish"),
        ("  inspections (INSERT + facts)", "backend.draws.services_save", "_pg_insert_inspections"),
        ("audit entries", "backend.audit.services", "record"),
        ("announce to phones", "backend.draws.services", "announce_inspections"),
        ("announce to phones", "backend.draws.services_save", "announce_inspections"),
        ("COMMIT", "sqlalchemy.orm", "Session.commit"),
        ("  figure facts (before the COMMIT)", "backend.figures.facts", "settle"),
        ("ANALYZE (after the commit)", "backend.draws.services", "analyze"),
        ("ANALYZE (after the commit, when grown)", "backend.draws.services", "analyze_after_draw"),
    ]),
]


class _Phases:
    """Wraps the functions of PHASES to sum the time spent in each."""

    def __init__(self) -> None:
        import importlib

        self.spent: dict[str, list[float]] = {}
        self.pids: set[int] = set()
        seen: set = set()
        for _step, phases in PHASES:
            for _label, module, attr in phases:
                key = (module, attr)
                if key in seen:
                    continue
                seen.add(key)
                try:
                    owner = importlib.import_module(module)
                except ImportError:   # a module the checkout measured does not have (yet, or any more)
                    continue
                *path, name = attr.split(".")
                for part in path:
                    owner = getattr(owner, part, None)
                if owner is None or not hasattr(owner, name):
                    continue
                setattr(owner, name, self._wrap(getattr(owner, name), key))

    def _wrap(self, fn, key):
        spent = self.spent
        cpu = self.db_cpu

        def timed(*args, **kwargs):
            t0, p0, d0 = time.perf_counter(), time.process_time(), cpu()
            try:
                return fn(*args, **kwargs)
            finally:
                entry = spent.setdefault(key, [0.0, 0, 0.0, 0.0])
                entry[0] += time.perf_counter() - t0
                entry[1] += 1
                entry[2] += time.process_time() - p0
                entry[3] += cpu() - d0

        return timed

    # CPU time of the PostgreSQL backends serving this process (from /proc: the database runs on this
    # machine), beside our own: on a shared, loaded machine CPU time says more than wall time. The parallel
    # workers a query may start are not counted.
    def watch(self, engine) -> None:
        from sqlalchemy import event

        if engine.dialect.name != "postgresql":
            return

        @event.listens_for(engine, "connect")
        def _connected(dbapi_connection, _record):
            self.pids.add(dbapi_connection.info.backend_pid)

    def db_cpu(self) -> float:
        total = 0.0
        for pid in self.pids:
            try:
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / _TICKS   # utime, stime
        return total

    def take(self) -> dict:
        out = {f"{m}:{a}": v for (m, a), v in self.spent.items()}
        self.spent.clear()
        return out


_TICKS = os.sysconf("SC_CLK_TCK")


def run_draw(url: str, task_id: int, record_path: str, processes: int | None, repeat: int = 3) -> dict:
    """In a fresh process: the draw as the API runs it (best of ``repeat``), then the tickets alone."""
    import backend.models  # noqa: F401
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.db import Database

    phases = _Phases()
    db = Database(url)
    phases.watch(db.engine)
    configure_audit(db.engine, AuditSettings.ephemeral())  # a scratch database: a throw-away audit key
    runs = []
    for n in range(repeat):
        _undraw(db, task_id)
        runs.append(_one_draw(db, task_id, record_path if n == 0 else "", processes, phases))
    best = min(runs, key=lambda f: f["whole_draw_s"])
    best["all_runs_s"] = [round(f["whole_draw_s"], 2) for f in runs]
    best["all_commit_s"] = [round(f["commit_s"], 2) for f in runs]
    best["all_seed_and_draw_s"] = [round(f["seed_and_draw_s"], 2) for f in runs]
    best["all_tickets_s"] = [round(f["tickets_alone_s"], 2) for f in runs]
    best["peak_rss_mb"] = runs[0]["peak_rss_mb"]
    db.engine.dispose()
    return best


def _one_draw(db, task_id: int, record_path: str, processes: int | None, phases: _Phases) -> dict:
    from backend.actor import Actor
    from backend.draws import algorithm, lists, services

    actor = Actor.system("bench")
    settings = services.DrawSettings(processes=processes)
    figures: dict = {}
    phases.take()
    c0, d0 = time.process_time(), phases.db_cpu()
    t0 = time.perf_counter()
    with db.session_scope() as s:
        draw = services.commit(s, actor, task_id, settings)
        draw_id, commitment = draw.id, draw.commitment
    t1 = time.perf_counter()
    c1, d1 = time.process_time(), phases.db_cpu()
    figures["phases_commit"] = phases.take()
    with db.session_scope() as s:
        draw = services.seed_and_draw(s, actor, task_id, settings, source="dice", dice="31415926535897932384",
                                      witnesses=["公证员"])
        figures["selected"] = sum(len(v) for v in draw.result["selected"].values())
        figures["groups"] = len(draw.result["groups"])
        figures["replacements"] = len(draw.result["replacements"])
        figures["eligible"] = sum(draw.counts["targets"].values())
        seed = draw.seed
    t2 = time.perf_counter()
    figures.update(commit_cpu_s=c1 - c0, seed_and_draw_cpu_s=time.process_time() - c1,
                   commit_db_cpu_s=d1 - d0, seed_and_draw_db_cpu_s=phases.db_cpu() - d1)
    figures["phases_draw"] = phases.take()
    figures.update(commit_s=t1 - t0, seed_and_draw_s=t2 - t1, whole_draw_s=t2 - t0)
    # the process's peak so far: in the first run, that of the draw alone (the record is written later)
    figures["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    with db.session_scope() as s:
        targets = [code for _, code in lists.pairs(lists.load(s, draw_id, "targets"))]
        inspectors = lists.grouped(lists.load(s, draw_id, "inspectors"))
        t3, c3 = time.perf_counter(), time.process_time()
        ticket = algorithm.ticketer(seed, "ent", "SS-2026-BENCH")
        for code in targets:
            ticket(code)
        for dept, certs in inspectors.items():
            ticket = algorithm.ticketer(seed, "insp", "SS-2026-BENCH", dept)
            for cert in certs:
                ticket(cert)
        figures["tickets_alone_s"] = time.perf_counter() - t3
        figures["tickets_alone_cpu_s"] = time.process_time() - c3
        del targets, inspectors
        if record_path:
            from backend.draws.models import Draw
            try:
                from backend.draws.services_record import record_json_chunks
            except ImportError:   # a checkout before services.py was split
                record_json_chunks = services.record_json_chunks
            draw = s.get(Draw, draw_id)
            with open(record_path, "w", encoding="utf-8") as out:
                for chunk in record_json_chunks(s, draw):
                    out.write(chunk)
        figures["result_digest"] = _result_digest(s, draw_id)
    phases.take()
    figures["commitment"] = commitment
    return figures


def _result_digest(session, draw_id: int) -> str:
    """SHA-256 of the draw's commitment, seed and result as sorted JSON: equal before and after a change."""
    import hashlib

    from backend.draws.models import Draw

    draw = session.get(Draw, draw_id)
    return hashlib.sha256(json.dumps([draw.commitment, draw.seed, draw.result], sort_keys=True).encode()).hexdigest()


def _task_id(url: str) -> int | None:
    """The benchmark's task in an existing database, or None."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT id FROM task WHERE code = 'SS-2026-BENCH'")).scalar()
    except Exception:  # noqa: BLE001 - no such database or table: build it
        return None
    finally:
        engine.dispose()


def _load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def measure(label: str, url: str, n_targets: int, processes: int | None, *, task_id: int | None = None,
            repeat: int = 3, code: str = "", verify: bool = True) -> dict:
    print(f"== {label}: {url}  ({_load()})", flush=True)
    if task_id is None:
        task_id = build(url, n_targets)
    with tempfile.TemporaryDirectory() as tmp:
        record = os.path.join(tmp, "record.json") if verify else ""
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, __file__, "--run-draw", url, str(task_id), record,
                              str(processes or 0), str(repeat), code], capture_output=True, text=True, check=False)
        if out.returncode:
            print(out.stderr[-3000:])
            raise SystemExit(1)
        figures = json.loads(out.stdout.strip().splitlines()[-1])
        if verify:
            size = os.path.getsize(record) / 1e6
            # the checkout measured (the command's own entry point would import the one installed in .venv)
            env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp}/cli.db", "MEDIA_DIR": tmp,
                   "PYTHONPATH": os.pathsep.join([code or str(ROOT), os.environ.get("PYTHONPATH", "")])}
            t0 = time.perf_counter()
            before = os.times()
            verified = subprocess.run([str(ROOT / ".venv/bin/shuangsui"), "draw", "verify", record], env=env,
                                      capture_output=True, text=True)
            verify_s = time.perf_counter() - t0
            after = os.times()   # the command's CPU time, its forked rankers included (waited for)
            verify_cpu_s = (after.children_user - before.children_user) + (after.children_system
                                                                           - before.children_system)
    ratio = figures["seed_and_draw_s"] / figures["tickets_alone_s"]
    print(f"  code: {code or ROOT}  ({_load()} after)")
    print(f"  eligible {figures['eligible']:,}, selected {figures['selected']:,} in {figures['groups']} groups, "
          f"{figures['replacements']} recusal replacements; commitment {figures['commitment'][:16]}…, "
          f"result digest {figures['result_digest'][:16]}…")
    print(f"  commit (freeze + commitment + store)   {figures['commit_s']:6.2f} s   (goal ≤ 1.2 s; runs "
          f"{figures['all_commit_s']})")
    print(f"  seed and draw (+ save assignments)     {figures['seed_and_draw_s']:6.2f} s   (runs "
          f"{figures['all_seed_and_draw_s']})")
    print(f"  whole draw                              {figures['whole_draw_s']:6.2f} s   (goal ≤ 3 s on PostgreSQL; "
          f"best of {figures['all_runs_s']})")
    print(f"  tickets alone                           {figures['tickets_alone_s']:6.2f} s   "
          f"seed and draw / tickets = {ratio:.2f} (goal ≤ 2; runs {figures['all_tickets_s']})")
    print(f"  CPU time of this process (the database's not counted): commit {figures['commit_cpu_s']:.2f} s, "
          f"seed and draw {figures['seed_and_draw_cpu_s']:.2f} s, tickets alone {figures['tickets_alone_cpu_s']:.2f} s")
    if "commit_db_cpu_s" in figures:
        print(f"  CPU time of its PostgreSQL backends: commit {figures['commit_db_cpu_s']:.2f} s, seed and draw "
              f"{figures['seed_and_draw_db_cpu_s']:.2f} s (parallel workers not counted)")
    print(f"  peak memory of the draw process         {figures['peak_rss_mb']:6.0f} MB  (ru_maxrss; first run, "
          f"before the record is written)")
    for step, key in (("commit", "phases_commit"), ("seed and draw", "phases_draw")):
        print(f"  phases of {step} (best run):{'':<22} wall   our CPU  db CPU")
        spent = figures[key]
        for label, module, attr in dict(PHASES)[step]:
            if f"{module}:{attr}" in spent:
                wall, _calls, ours, db_cpu = spent[f"{module}:{attr}"]
                print(f"    {label:<40} {wall:6.3f} s {ours:6.3f} s {db_cpu:6.3f} s")
    if verify:
        figures["verify_s"], figures["verify_cpu_s"] = verify_s, verify_cpu_s
        print(f"  shuangsui draw verify ({size:.0f} MB record)  {verify_s:6.2f} s   CPU {verify_cpu_s:.2f} s   "
              f"{verified.stdout.strip().splitlines()[-1] if verified.stdout.strip() else verified.stderr[-200:]} "
              f"(goal ≤ 5 s)", flush=True)
    return figures


# --save-trials: what the save's keys and indexes cost, each dropped inside a transaction that is rolled back
# (IF EXISTS: since migration 0024 the keys to inspection_group are gone, that variant is the save as it is)
SAVE_VARIANTS = {
    "as they are": [],
    "no key inspection.target_id": ["ALTER TABLE inspection DROP CONSTRAINT IF EXISTS fk_inspection_target_id_target"],
    "no keys to inspection_group": [
        "ALTER TABLE inspection DROP CONSTRAINT IF EXISTS fk_inspection_group_id_inspection_group",
        "ALTER TABLE group_member DROP CONSTRAINT IF EXISTS fk_group_member_group_id_inspection_group"],
    "no keys (those three, group_member.inspector_id)": [
        "ALTER TABLE inspection DROP CONSTRAINT IF EXISTS fk_inspection_target_id_target",
        "ALTER TABLE inspection DROP CONSTRAINT IF EXISTS fk_inspection_group_id_inspection_group",
        "ALTER TABLE group_member DROP CONSTRAINT IF EXISTS fk_group_member_group_id_inspection_group",
        "ALTER TABLE group_member DROP CONSTRAINT IF EXISTS fk_group_member_inspector_id_inspector"],
    "no secondary index of figure_fact": [
        f"DROP INDEX {i}" for i in ("ix_figure_fact_due", "ix_figure_fact_end", "ix_figure_fact_plan_end",
                                    "ix_figure_fact_region_end", "ix_figure_fact_task")],
}


def save_trials(url: str, task_id: int, rounds: int) -> dict:
    """In a fresh process: the draw's result computed once (the task committed again), then its save, once per
    variant and round, each in a transaction rolled back after a VACUUM and a CHECKPOINT; the CPU of the
    backend (and ours) per trial. Nothing stays: run it on a database of your own (the DDL locks the tables
    for the trial's length)."""
    import backend.models  # noqa: F401
    from sqlalchemy import text

    from backend.actor import Actor
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.db import Database
    from backend.draws import algorithm, lists, services
    from backend.draws.models import Draw
    from backend.plans.models import Task
    try:
        from backend.draws.services_save import save_assignments
    except ImportError:   # a checkout before services.py was split
        save_assignments = services._save_assignments

    phases = _Phases()
    db = Database(url)
    configure_audit(db.engine, AuditSettings.ephemeral())
    _undraw(db, task_id)
    with db.session_scope() as s:
        services.commit(s, Actor.system("bench"), task_id, services.DrawSettings())
    with db.session_scope() as s:
        draw = services.current_draw(s, s.get(Task, task_id), ("committed",))
        seed = algorithm.seed_from(draw.commitment, "31415926535897932384")
        result = algorithm.draw(draw.task.code, draw.plan, lists.load_grouped(s, draw.id, "targets"),
                                lists.load_grouped(s, draw.id, "inspectors"),
                                lists.pairs(lists.load(s, draw.id, "conflicts")), seed)
        draw_id = draw.id
    out: dict[str, list] = {v: [] for v in SAVE_VARIANTS}
    for _ in range(rounds):
        for variant, statements in SAVE_VARIANTS.items():
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM inspection, figure_fact, group_member, inspection_group")
                conn.exec_driver_sql("CHECKPOINT")
            with db.session() as s:
                pid = s.connection().connection.driver_connection.info.backend_pid
                phases.pids = {pid}
                for statement in statements:
                    s.execute(text(statement))
                task, draw = s.get(Task, task_id), s.get(Draw, draw_id)
                t0, c0, d0 = time.perf_counter(), time.process_time(), phases.db_cpu()
                save_assignments(s, task, draw, result)
                out[variant].append((time.perf_counter() - t0, time.process_time() - c0, phases.db_cpu() - d0))
                s.rollback()
    db.engine.dispose()
    return out


def _print_save_trials(out: dict) -> None:
    import statistics

    print(f"  the save alone, each variant in a transaction rolled back ({_load()}): median (min) of "
          f"{len(next(iter(out.values())))} rounds")
    print(f"    {'':<50} {'wall':>13} {'our CPU':>13} {'db CPU':>13}")
    for variant, runs in out.items():
        cells = "".join(f"  {statistics.median(r[i] for r in runs):5.2f} ({min(r[i] for r in runs):4.2f})"
                        for i in range(3))
        print(f"    {variant:<50}{cells}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--run-save-trials":
        if sys.argv[5]:
            sys.path.insert(0, sys.argv[5])
        print(json.dumps(save_trials(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--run-draw":
        url, task_id, record, processes = sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5]) or None
        repeat, code = int(sys.argv[6]), sys.argv[7]
        if code:  # another checkout's backend (and sync) package
            sys.path.insert(0, code)
        print(json.dumps(run_draw(url, task_id, record, processes, repeat)))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test",
                        help="an existing database to connect to; the benchmark creates --database beside it")
    parser.add_argument("--database", default="ss_bench_draw", help="the PostgreSQL database built (and dropped "
                        "first unless --reuse)")
    parser.add_argument("--reuse", action="store_true", help="keep --database if an earlier run built it")
    parser.add_argument("--drop", action="store_true", help="drop --database at the end")
    parser.add_argument("--repeat", type=int, default=3, help="draws timed in the one process (best is shown)")
    parser.add_argument("--code", action="append", default=[],
                        help="a checkout whose backend runs the draw (repeatable: the runs alternate)")
    parser.add_argument("--rounds", type=int, default=1, help="alternations of the --code checkouts")
    parser.add_argument("--no-verify", action="store_true", help="skip shuangsui draw verify")
    parser.add_argument("--sqlite", default=None, help="file for the SQLite run (default: a temporary file)")
    parser.add_argument("--only", choices=["pg", "sqlite"])
    parser.add_argument("--processes", type=int, default=0, help="rank tickets in this many processes (jobs/CLI)")
    parser.add_argument("--save-trials", type=int, default=0, metavar="ROUNDS",
                        help="PostgreSQL: instead of draws, time the save alone with the keys and indexes of "
                             "SAVE_VARIANTS dropped, in transactions rolled back (a database of your own)")
    args = parser.parse_args()
    codes = [os.path.abspath(c) for c in args.code] or [""]
    if args.only != "sqlite":
        from sqlalchemy import create_engine, text
        from sqlalchemy.engine import make_url

        url = make_url(args.postgres).set(database=args.database).render_as_string(hide_password=False)
        task_id = _task_id(url) if args.reuse else None
        if task_id is not None:   # a database an older checkout built: its schema brought up to this one's
            from backend import migrate

            migrate.upgrade(url)
        admin = create_engine(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1),
                              isolation_level="AUTOCOMMIT")
        if task_id is None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
                conn.execute(text(f'CREATE DATABASE "{args.database}"'))
            task_id = build(url, args.targets)
        if args.save_trials:
            out = subprocess.run([sys.executable, __file__, "--run-save-trials", url, str(task_id),
                                  str(args.save_trials), codes[0]], capture_output=True, text=True, check=False)
            if out.returncode:
                print(out.stderr[-3000:])
                raise SystemExit(1)
            _print_save_trials(json.loads(out.stdout.strip().splitlines()[-1]))
            return
        results: dict[str, list[dict]] = {c: [] for c in codes}
        for _ in range(args.rounds):
            for c in codes:
                results[c].append(measure("PostgreSQL", url, args.targets, args.processes, task_id=task_id,
                                          repeat=args.repeat, code=c, verify=not args.no_verify))
        if len(codes) > 1 or args.rounds > 1:
            _summary(results)
        if args.drop:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        admin.dispose()
    if args.only != "pg":
        with tempfile.TemporaryDirectory() as tmp:
            path = args.sqlite or os.path.join(tmp, "bench.db")
            if os.path.exists(path):
                os.remove(path)
            measure("SQLite", f"sqlite:///{path}", args.targets, args.processes, repeat=args.repeat,
                    verify=not args.no_verify)


def _summary(results: dict[str, list[dict]]) -> None:
    """Best and median of every run of each checkout (all repeats of all rounds)."""
    import statistics

    print("== summary: best / median over all runs")
    for code, rounds in results.items():
        print(f"  {code or ROOT}")
        for key in ("all_commit_s", "all_seed_and_draw_s", "all_runs_s", "all_tickets_s"):
            values = [v for r in rounds for v in r[key]]
            print(f"    {key[4:]:<16} best {min(values):5.2f} s   median {statistics.median(values):5.2f} s   "
                  f"({len(values)} runs)")
        for key in ("commit_cpu_s", "commit_db_cpu_s", "seed_and_draw_cpu_s", "seed_and_draw_db_cpu_s",
                    "tickets_alone_cpu_s", "verify_s", "verify_cpu_s"):
            values = [r[key] for r in rounds if key in r]
            if values:   # the best run of each round
                print(f"    {key:<22} best {min(values):5.2f} s   median {statistics.median(values):5.2f} s")
        print(f"    peak RSS        {max(r['peak_rss_mb'] for r in rounds):5.0f} MB; result digests "
              f"{sorted({r['result_digest'][:16] for r in rounds})}")


if __name__ == "__main__":
    main()
