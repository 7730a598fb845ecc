"""Count the statements a request sends, wherever they are sent from.

On PostgreSQL the push, the chainer and the bearer token's account lookup run some statements on the raw psycopg
connection (``backend.db.raw_rows``), which SQLAlchemy's ``before_cursor_execute`` never sees: there, every
statement psycopg's cursors execute is counted; on SQLite, SQLAlchemy's cursor events.

    with sent_statements(engine) as seen:
        client.get(...)
    assert len(seen) == 2, seen
"""
from __future__ import annotations

from contextlib import contextmanager

_NESTING = ("SAVEPOINT", "RELEASE", "ROLLBACK TO", "ROLLBACK")   # the tests' own nesting


@contextmanager
def sent_statements(engine, *, skip: tuple[str, ...] = _NESTING, width: int | None = None):
    """The statements sent inside the block (whitespace collapsed, ``width`` characters kept), those starting
    with ``skip`` (case-insensitive) left out."""
    seen: list[str] = []

    def keep(statement: str) -> None:
        text = " ".join(statement.split())
        if not text.upper().startswith(skip):
            seen.append(text[:width] if width else text)

    if engine.dialect.name == "postgresql":
        import psycopg

        real = psycopg.Cursor.execute

        def execute(cursor, query, *a, **kw):
            keep(query if isinstance(query, str) else bytes(query).decode())
            return real(cursor, query, *a, **kw)
        psycopg.Cursor.execute = execute
        try:
            yield seen
        finally:
            psycopg.Cursor.execute = real
    else:
        from sqlalchemy import event

        def count(_conn, _cursor, statement, *_args):
            keep(statement)
        event.listen(engine, "before_cursor_execute", count)
        try:
            yield seen
        finally:
            event.remove(engine, "before_cursor_execute", count)
