"""The engine's cursors build ``cursor.description`` on first use (``backend.db._lazy_descriptions``): SQLAlchemy
reads it after every statement only to learn whether rows came back. What it answers is psycopg's own, for the
statement it was asked about, even when read after the cursor ran another."""
from __future__ import annotations

import psycopg
from sqlalchemy import text

from backend import db as db_module
from tests.conftest import PG_URL, require_postgresql


def test_the_description_is_psycopgs_for_the_statement_it_was_asked_about():
    require_postgresql("psycopg's cursors")
    engine = db_module.make_engine(PG_URL)
    try:
        with engine.connect() as conn:
            cursor = conn.connection.dbapi_connection.cursor()
            cursor.execute("SELECT 1 AS a, 'x'::text AS b, now() AS c")
            lazy = cursor.description
            assert type(lazy).__name__ == "_LazyDescription"      # the engine's cursors are the lazy ones
            with psycopg.connect(PG_URL) as plain:
                expected = plain.execute("SELECT 1 AS a, 'x'::text AS b, now() AS c").description
            cursor.execute("SELECT 2 AS z")                 # the cursor moves on: the first answer stands
            assert len(lazy) == 3 and lazy
            assert [(c.name, c.type_code) for c in lazy] == [(c.name, c.type_code) for c in expected]
            assert [tuple(c) for c in lazy] == [tuple(c) for c in expected]
            assert lazy[0][0] == "a" and [c.name for c in lazy[1:]] == ["b", "c"] and lazy[-1].name == "c"
            assert [c.name for c in cursor.description] == ["z"]
            cursor.execute("CREATE TEMPORARY TABLE lazy_t (x integer)")
            assert cursor.description is None                # no rows: None, as psycopg says
            cursor.execute("SELECT")
            assert cursor.description is not None and len(cursor.description) == 0 and not cursor.description
            # SQLAlchemy's results: keys and rows as before, for compiled and textual statements
            result = conn.execute(text("SELECT 1 AS a, 'x' AS b"))
            assert list(result.keys()) == ["a", "b"] and result.all() == [(1, "x")]
            assert conn.execute(text("INSERT INTO lazy_t VALUES (1)")).returns_rows is False
            assert conn.execute(text("INSERT INTO lazy_t VALUES (2) RETURNING x")).scalar() == 2
    finally:
        engine.dispose()
