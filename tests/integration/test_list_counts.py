"""Issue 14 §3: a list page counts exactly up to a bound, and past it (PostgreSQL) answers the planner's
estimate flagged as such; SQLite always counts."""
from __future__ import annotations

from sqlalchemy import literal_column, select, text, union_all

from backend import api




def test_a_small_list_is_counted_exactly(db_session):
    rows = union_all(*(select(literal_column(str(i)).label("n")) for i in range(7))).subquery()
    stmt = select(rows.c.n).order_by(rows.c.n)
    assert api.count_rows(db_session, stmt, exact_up_to=10) == (7, True)
    page = api.paginate(db_session, stmt, {"page": 2, "page_size": 3}, scalars=True)
    assert page["total"] == 7 and page["pages"] == 3 and page["items"] == [3, 4, 5]
    assert "total_estimated" not in page


def test_past_the_bound_postgresql_estimates_and_says_so_sqlite_counts(db_session):
    dialect = db_session.get_bind().dialect.name
    if dialect == "postgresql":
        stmt = select(literal_column("g")).select_from(text("generate_series(1, 50000) AS g"))
    else:
        stmt = select(literal_column("value")).select_from(text(
            "(WITH RECURSIVE s(value) AS (SELECT 1 UNION ALL SELECT value + 1 FROM s WHERE value < 50000) "
            "SELECT value FROM s)"))
    total, exact = api.count_rows(db_session, stmt, exact_up_to=100)
    if dialect == "postgresql":
        assert not exact and total > 100          # the planner's figure (generate_series: its row count)
        page = api.paginate(db_session, stmt, {"page": 1, "page_size": 20})
        assert page["total"] == 50000 and page["total_estimated"] is True and page["pages"] == 2500
    else:
        assert (total, exact) == (50000, True)


def test_a_text_search_with_few_matches_is_filtered_then_sorted_and_the_planner_is_left_as_it_was(db_session):
    """A search marked ``few_matches_first`` answers the same page either way; on PostgreSQL the index walk is
    switched off for that one statement only (a later statement plans as before)."""
    rows = union_all(*(select(literal_column(f"'n{9 - i}'").label("n")) for i in range(9))).subquery()
    stmt = select(rows.c.n).order_by(rows.c.n)
    plain = api.paginate(db_session, stmt, {"page": 2, "page_size": 4})
    marked = api.paginate(db_session, stmt.execution_options(few_matches_first=True), {"page": 2, "page_size": 4})
    assert plain == marked and marked["items"] == ["n5", "n6", "n7", "n8"] and marked["total"] == 9
    if db_session.get_bind().dialect.name == "postgresql":
        assert db_session.scalar(text("SHOW enable_indexscan")) == "on"
