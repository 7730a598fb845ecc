"""Issue 6 §2.3: after a bulk write the planner has statistics (PostgreSQL, where autovacuum may be off).

These run on PostgreSQL only (the database fixture is parametrised to it here): SQLite keeps no such
statistics and the helper does nothing there. Like the Redis tests, they fail rather than skip when
no PostgreSQL is configured.
"""
from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import text

from backend.actor import Actor
from backend.demo.seed import seed_demo
from backend.directory import imports
from tests.api.directory_io.helpers import csv_bytes
from tests.factories import make_uscc

pytestmark = pytest.mark.parametrize("database", ["postgresql"], indirect=True)


def estimated_rows(session, table: str) -> float:
    """What the planner believes (pg_class.reltuples: -1 until the table is first analysed)."""
    return session.scalar(text("SELECT reltuples FROM pg_class WHERE relname = :t"), {"t": table})


def actual_rows(session, table: str) -> int:
    return session.scalar(text(f'SELECT count(*) FROM "{table}"'))


def column_statistics(session, table: str) -> int:
    return session.scalar(text("SELECT count(*) FROM pg_stats WHERE tablename = :t"), {"t": table})


def test_an_import_leaves_statistics_behind(database, db_session, world, tmp_path):
    rng = random.Random(63)
    rows = [[make_uscc(rng), f"统计公司{i}", "企业", "411203"] for i in range(300)]
    path = tmp_path / "名录.csv"
    path.write_bytes(csv_bytes([["统一社会信用代码", "检查对象名称", "对象类型", "行政区划代码"], *rows]))
    session = database.session()
    result = imports.import_file(session, Actor.system(), "targets", path, file_name=path.name)
    assert result["created"] == 300
    assert estimated_rows(db_session, "target") == actual_rows(db_session, "target") >= 300  # a small table: exact
    assert column_statistics(db_session, "target") > 0  # the columns' histograms and distinct counts


def test_the_demo_seed_leaves_statistics_behind(database, db_session):
    seed_demo(database, targets=500, inspectors=120, seed=11, today=dt.date(2026, 6, 15))
    for table in ("target", "inspector", "item", "target_item_history"):
        assert estimated_rows(db_session, table) == actual_rows(db_session, table) > 0, table
        assert column_statistics(db_session, table) > 0, table
