"""The lists that sort by a time and an id have an index in that very order, and the database uses it: the public
list of draws (newest first by drawn-or-committed time, then id: an expression index, so the query's expression and
the index's must stay the same) and the national file (published_at, id). On PostgreSQL the planner is told not to
sort (an empty table would rather scan and sort); SQLite's query plan names the index by itself."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import text

from backend.draws.services_record import public_draw_list_query
from backend.publication.exports import national_query
from backend.publication.models import PublishedResult


def _plan(session, stmt) -> str:
    """The statement's query plan: compiled with its values written in, run behind EXPLAIN as plain SQL (no
    result processing of the statement's own columns)."""
    conn = session.connection()
    postgresql = conn.dialect.name == "postgresql"
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if postgresql:
        conn.execute(text("SET LOCAL enable_sort = off"))
        conn.execute(text("SET LOCAL enable_seqscan = off"))
    try:
        rows = conn.exec_driver_sql(("EXPLAIN " if postgresql else "EXPLAIN QUERY PLAN ") + sql).all()
    finally:
        if postgresql:
            conn.execute(text("SET LOCAL enable_sort = on"))
            conn.execute(text("SET LOCAL enable_seqscan = on"))
    return "\n".join(str(row[-1]) for row in rows)


def test_the_public_list_of_draws_walks_its_order_index(db_session):
    plan = _plan(db_session, public_draw_list_query({}).limit(20).offset(40))
    assert "ix_draw_public_order" in plan, plan
    assert "TEMP B-TREE" not in plan.upper() and "\nSort" not in plan, plan   # no sort step of its own


def test_the_national_file_reads_its_period_by_the_published_index(db_session):
    stmt = national_query(None, dt.date(2026, 4, 1), dt.date(2026, 6, 30)).with_only_columns(PublishedResult.id)
    plan = _plan(db_session, stmt)
    assert "ix_published_result_published" in plan, plan
