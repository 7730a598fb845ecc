"""Benchmark: what a year costs in storage — database bytes per pushed section and per business, file bytes
per photo (docs/operations.md "Capacity plan"). Prints figures; it is not a test.

    .venv/bin/python bench/capacity.py [--postgres URL] [--officers 10] [--per-officer 100]

1. A fresh PostgreSQL database with bench/sync.py's scenario (a drawn joint task, one market officer per
   group, a 30-check-point checklist): its size, and the bytes per business (targets and their indexes).
2. Every inspection's market section pushed whole (30 answers), through the service layer, 100 a push:
   the database's growth per section — the section, its answers, the stored mutation, the change feed and
   the audit entry — after VACUUM, table by table; then one edit of 5 answers per section, the same way.
3. A 1920 × 1440 photo (bench/media.py's) and what processing stores beside it: the thumbnail and the
   metadata-free public copy.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import tempfile
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sizes(db) -> tuple[int, dict[str, tuple[int, int]]]:
    from sqlalchemy import text

    with db.engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))
    with db.engine.connect() as conn:
        total = conn.scalar(text("SELECT pg_database_size(current_database())"))
        tables = {name: (int(rows), int(size)) for name, rows, size in conn.execute(text(
            "SELECT relname, n_live_tup, pg_total_relation_size(relid) FROM pg_stat_user_tables"))}
    return total, tables


def _growth(before, after, what: str, count: int) -> None:
    (t0, tables0), (t1, tables1) = before, after
    print(f"   database grew {(t1 - t0) / 1e6:.2f} MB for {count:,} {what}: {(t1 - t0) / count:,.0f} bytes each")
    grown = sorted(((name, rows - tables0.get(name, (0, 0))[0], size - tables0.get(name, (0, 0))[1])
                    for name, (rows, size) in tables1.items()), key=lambda r: -r[2])
    for name, rows, size in grown[:8]:
        if size > 0:
            print(f"     {name:<24} +{rows:>7,} rows  +{size / 1e6:7.2f} MB  {size / count:8,.0f} bytes per {what[:-1]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("BENCH_POSTGRES",
                                                             "postgresql://postgres@127.0.0.1:5432/ss_bench_capacity"))
    parser.add_argument("--officers", type=int, default=10)
    parser.add_argument("--per-officer", type=int, default=100)
    args = parser.parse_args()

    from sqlalchemy import select

    from backend.actor import Actor
    from backend.audit.keys import AuditSettings, configure as configure_audit
    from backend.auth.models import User
    from backend.db import Database
    from backend.inspections import syncing

    bench_sync = _load("sync")
    data = bench_sync.build(args.postgres, args.officers, args.per_officer)
    db = Database(args.postgres)
    configure_audit(db.engine, AuditSettings.ephemeral())
    built = _sizes(db)
    targets = built[1]["target"]
    print(f"1. fresh scenario: {args.officers * args.per_officer:,} businesses, {args.officers} officers; "
          f"database {built[0] / 1e6:.1f} MB")
    print(f"   target table with its indexes: {targets[1] / 1e6:.2f} MB for {targets[0]:,} rows = "
          f"{targets[1] / max(targets[0], 1):,.0f} bytes a business")

    sections = 0
    for officer in data["officers"]:
        with db.session_scope() as s:
            actor = Actor.of_user(s.scalar(select(User).where(User.username == officer["username"])))
        client_id = str(uuid.uuid4())
        ids = officer["inspections"]
        for start in range(0, len(ids), 100):
            batch = [bench_sync.mutation(start + k + 1, iid, data["samr"], data["points"])
                     for k, iid in enumerate(ids[start:start + 100])]
            cid, muts = syncing.parse(json.dumps({"client_id": client_id, "mutations": batch}))
            with db.session_scope() as s:
                out = syncing.push(s, actor, cid, muts)
            assert all(r["status"] == "applied" for r in out["results"]), out["results"][:3]
            sections += len(batch)
        officer["client_id"], officer["next"] = client_id, len(ids) + 1
    pushed = _sizes(db)
    print(f"2. {sections:,} whole sections pushed (30 answers each, 100 a push):")
    _growth(built, pushed, "sections", sections)

    edits = 0
    for officer in data["officers"]:
        with db.session_scope() as s:
            actor = Actor.of_user(s.scalar(select(User).where(User.username == officer["username"])))
        cps = [cp for cps in data["points"].values() for cp in cps][:5]
        ids = officer["inspections"]
        for start in range(0, len(ids), 100):
            batch = [{"id": officer["next"] + start + k, "name": "section.set", "device_time": "2026-04-08T10:30:00+08:00",
                      "args": {"inspection_id": iid, "department_id": data["samr"],
                               "fields": {f"points.{cp}.note": {"value": f"复查第{k}户：已整改", "base_rev": 1}
                                          for cp in cps}}}
                     for k, iid in enumerate(ids[start:start + 100])]
            cid, muts = syncing.parse(json.dumps({"client_id": officer["client_id"], "mutations": batch}))
            with db.session_scope() as s:
                out = syncing.push(s, actor, cid, muts)
            assert all(r["status"] == "applied" for r in out["results"]), out["results"][:3]
            edits += len(batch)
    print(f"   then one edit of 5 answers in each section ({edits:,} mutations):")
    _growth(pushed, _sizes(db), "edits", edits)
    db.engine.dispose()

    from backend.media import processing

    photo = _load("media").make_photo()
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(photo)
        f.flush()
        derived = processing.derive(f.name, thumb_edge=320, public_max_edge=2560, default_zone="Asia/Shanghai")
    import hashlib

    stored = {hashlib.sha256(d).hexdigest(): len(d) for d in (photo, derived.thumb, derived.public)}  # stored once
    total = sum(stored.values())
    print(f"3. a 1920 × 1440 photo of {len(photo):,} bytes: thumbnail {len(derived.thumb):,}, public copy "
          f"{len(derived.public):,}" + (" (the upload itself: upright, no metadata)" if derived.public == photo else "")
          + f"; stored in all {total:,} bytes = {total / len(photo):.2f} × the upload")
    camera = _load("media").camera_photo(photo)
    with tempfile.NamedTemporaryFile(suffix=".jpg") as f:
        f.write(camera)
        f.flush()
        derived = processing.derive(f.name, thumb_edge=320, public_max_edge=2560, default_zone="Asia/Shanghai")
    print(f"   the same with a camera's EXIF (GPS, upright): public copy {len(derived.public):,} bytes (its picture, "
          f"the metadata dropped); turned by its EXIF orientation, the public copy is re-encoded at quality 90")


if __name__ == "__main__":
    main()
