"""Bulk writes of an import: chunks of rows inserted or updated by primary key inside the session's
transaction, never one ORM object per row. No Flask here.
"""
from __future__ import annotations

from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session


def _write_errors() -> tuple:
    """Database errors a write can meet when someone else changes the list at the same time."""
    errors: list = [IntegrityError, DataError]
    try:  # COPY goes through psycopg directly, so its errors are not wrapped by SQLAlchemy
        import psycopg

        errors += [psycopg.errors.IntegrityError, psycopg.errors.DataError]
    except ImportError:  # pragma: no cover - SQLite-only installs
        pass
    return tuple(errors)


WRITE_ERRORS = _write_errors()
COPY_MIN_ROWS = 200  # below this, plain executemany is as quick


class BulkWriter:
    """Chunked INSERT / UPDATE by primary key inside the session's transaction.

    Portable path: SQLAlchemy Core ``insert()`` / ``update()`` executemany. On PostgreSQL, chunks of
    ``COPY_MIN_ROWS`` rows or more go through ``COPY … FROM STDIN`` instead (into the table for
    inserts; into a temporary table followed by one ``UPDATE … FROM`` for updates). Same
    transaction, same all-or-nothing. bench/import.py, 100,000 new targets on PostgreSQL: the whole
    import took 7.5 s with COPY against 13.7 s with executemany only.
    """

    def __init__(self, session: Session, use_copy: bool = True):
        self.session = session
        self.dialect = session.get_bind().dialect.name
        self.use_copy = use_copy and self.dialect == "postgresql"
        self._temp: dict[tuple, str] = {}

    def _driver(self):
        return self.session.connection().connection.driver_connection

    def _copy(self, cursor, table_name: str, table, columns: list[str], rows: list[dict]) -> None:
        from psycopg.types.json import Json

        from sqlalchemy import JSON

        quote = self.session.get_bind().dialect.identifier_preparer.quote
        json_cols = {c for c in columns if c in table.c and isinstance(table.c[c].type, JSON)}
        target = ", ".join(quote(c) for c in columns)
        with cursor.copy(f"COPY {quote(table_name)} ({target}) FROM STDIN") as copy:
            if json_cols:
                for row in rows:
                    copy.write_row([Json(row[c]) if c in json_cols and row[c] is not None else row[c]
                                    for c in columns])
            else:
                for row in rows:
                    copy.write_row([row[c] for c in columns])

    def insert(self, table, rows: list[dict]) -> None:
        if not rows:
            return
        if self.use_copy and len(rows) >= COPY_MIN_ROWS:
            with self._driver().cursor() as cur:
                self._copy(cur, table.name, table, list(rows[0]), rows)
            return
        self.session.execute(insert(table), rows)

    def update(self, table, pk: str, rows: list[dict]) -> None:
        """``rows`` hold ``_pk`` and the same columns each."""
        if not rows:
            return
        columns = [c for c in rows[0] if c != "_pk"]
        if not (self.use_copy and len(rows) >= COPY_MIN_ROWS):
            self.session.execute(update(table).where(table.c[pk] == bindparam("_pk")), rows)
            return
        quote = self.session.get_bind().dialect.identifier_preparer.quote
        key = (table.name, tuple(columns))
        with self._driver().cursor() as cur:
            temp = self._temp.get(key)
            if temp is None:
                temp = self._temp[key] = f"ss_import_{table.name}_{len(self._temp)}_{id(self) % 100000}"
                cur.execute(f"CREATE TEMP TABLE {quote(temp)} ON COMMIT DROP AS SELECT {quote(pk)} AS _pk, "
                            + ", ".join(quote(c) for c in columns) + f" FROM {quote(table.name)} WITH NO DATA")
            else:
                cur.execute(f"TRUNCATE {quote(temp)}")
            self._copy(cur, temp, table, ["_pk", *columns], rows)
            cur.execute(f"UPDATE {quote(table.name)} AS t SET "
                        + ", ".join(f"{quote(c)} = s.{quote(c)}" for c in columns)
                        + f" FROM {quote(temp)} AS s WHERE t.{quote(pk)} = s._pk")
