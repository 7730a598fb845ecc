"""Issue 6 §2.3: after a bulk write the planner has statistics (PostgreSQL, where autovacuum may be off).

PostgreSQL only, in a database of their own with real commits: SQLite keeps no such statistics and
the helper does nothing there. Like the Redis tests, they fail rather than skip without PostgreSQL.
"""
from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import text

from backend.actor import Actor
from backend.db import Database
from backend.demo.seed import seed_demo
from backend.directory import imports
from tests.api.directory_io.helpers import csv_bytes
from tests.conftest import fresh_database, require_postgresql
from tests.factories import make_uscc


@pytest.fixture(scope="module")
def pg(tmp_path_factory):
    require_postgresql("统计信息只在 PostgreSQL 上收集")
    with fresh_database("postgresql", tmp_path_factory, "stats") as db:
        yield db


def planner_rows(db: Database, table: str) -> tuple[float, int]:
    """What the planner believes (pg_class.reltuples: -1 until first analysed) and what is there."""
    with db.engine.connect() as conn:
        believed = conn.scalar(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table})
        actual = conn.scalar(text(f'SELECT count(*) FROM "{table}"'))
        columns = conn.scalar(text("SELECT count(*) FROM pg_stats WHERE tablename = :t"), {"t": table})
    assert columns > 0, f"{table}: no column statistics"
    return believed, actual


def test_an_import_leaves_statistics_behind(pg, tmp_path):
    rng = random.Random(63)
    path = tmp_path / "名录.csv"
    path.write_bytes(csv_bytes([["统一社会信用代码", "检查对象名称", "对象类型"],
                                *[[make_uscc(rng), f"统计公司{i}", "企业"] for i in range(300)]]))
    with pg.session_scope() as session:
        result = imports.import_file(session, Actor.system(), "targets", path, file_name=path.name)
    assert result["created"] == 300
    believed, actual = planner_rows(pg, "target")
    assert believed == actual >= 300  # a small table is sampled whole: exact


def test_the_demo_seed_leaves_statistics_behind(pg):
    seed_demo(pg, targets=500, inspectors=120, seed=11, today=dt.date(2026, 6, 15), force=True,
              past_year=False)  # the directory's tables; the history would leave photos in a temporary folder
    for table in ("target", "inspector", "item", "check_point", "target_item_history"):
        believed, actual = planner_rows(pg, table)
        assert believed == actual > 0, table


def test_a_draw_leaves_statistics_behind(pg, tmp_path):
    """The draw writes thousands of inspections at once; the planner knows them right after."""
    from backend.draws import services as draws
    from tests.api.draws.conftest import build_scenario
    from tests.conftest import make_test_app
    from tests.factories import AuthActions, Factory

    app = make_test_app(pg, tmp_path)
    with pg.session_scope() as session:
        factory = Factory(session)
        s = build_scenario(factory, AuthActions(app, factory), risk=("D",), per_class=300,
                           strata={"D": {"num": 1, "den": 2}}, inspectors=(80, 40), group_load=5)
        task_id = s.task.id
    with pg.session_scope() as session:
        actor = Actor.system("test")
        draws.commit(session, actor, task_id, draws.DrawSettings())
        draws.seed_and_draw(session, actor, task_id, draws.DrawSettings(), source="csprng")
    estimate, real = planner_rows(pg, "inspection")
    with pg.engine.connect() as conn:   # the demo seed of this module drew its own task too (backend/demo/field.py)
        drawn = conn.scalar(text("SELECT count(*) FROM inspection WHERE task_id = :t"), {"t": task_id})
    assert drawn == 150 and estimate == real
