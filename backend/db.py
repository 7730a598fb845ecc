"""Database: declarative base, engine, sessions.

Plain SQLAlchemy 2 (no Flask-SQLAlchemy): the engine and session factory live on the
app, a request gets one session on ``g``, and jobs and the CLI open their own with
``session_scope``. Services receive a session; they never import Flask.

SQLite allows one writer at a time. A transaction that starts by reading and then writes
fails at once (SQLITE_BUSY, without waiting) when another connection wrote in between, so
every session that may write is a *write session*: on SQLite its transactions begin with
``BEGIN IMMEDIATE``, which takes the write lock up front and waits for it (busy timeout).
Read-only sessions (GET requests) begin ``DEFERRED`` and read from a WAL snapshot without
waiting for anyone. PostgreSQL ignores the difference.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import time
from collections.abc import Sequence
from typing import Iterator

import orjson
from sqlalchemy import DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, InvalidatePoolError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


SQLITE_BUSY_TIMEOUT_S = 30  # how long a writer waits for the write lock before giving up
_BEGIN_OPTION = "shuangsui_sqlite_begin"
_WRITE = "shuangsui_write"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class UTCDateTime(TypeDecorator):
    """Stores UTC; always returns an aware UTC datetime (SQLite keeps naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(dt.timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


def _json_dumps(value) -> str:
    """JSON columns are written with orjson (several times faster than json: a push writes thousands)."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# psycopg prepares a statement on a connection after it ran this many times there unprepared (psycopg's default: 5)
PREPARE_THRESHOLD = 1


def make_engine(url: str, *, prepare_threshold: int | None = None, **kwargs) -> Engine:
    """The engine of ``url``. PostgreSQL: psycopg prepares a statement on its ``prepare_threshold + 1``-th run on a
    connection (``PREPARE_THRESHOLD`` when None; 0: at its first; negative: never; ``_prepare_sooner``)."""
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False},
                               **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_connection, _record):
            # let SQLAlchemy, not pysqlite, decide where transactions begin (needed for SAVEPOINT)
            dbapi_connection.isolation_level = None
            cur = dbapi_connection.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):
            # a write session takes the write lock now and waits for it (busy timeout); a reader defers
            mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN")

        return engine
    engine = create_engine(url, **kwargs)
    _ping_after_idle(engine)
    _lazy_descriptions(engine)
    _prepare_sooner(engine, PREPARE_THRESHOLD if prepare_threshold is None else prepare_threshold)
    return engine


def _prepare_sooner(engine: Engine, threshold: int) -> None:
    """Each connection prepares a statement after ``threshold`` unprepared runs of it (psycopg's
    ``prepare_threshold``) instead of psycopg's 5. A new connection planned each of a push's statements from
    scratch for 5 runs before psycopg prepared them, then PostgreSQL planned the prepared statement custom for
    5 more before settling on its generic plan: ~45 ms of PostgreSQL's CPU a connection in its first 11 pushes
    (~2.1 ms a push after). With 1, a statement run twice is prepared: ~28 ms. PostgreSQL's choice of plan is
    unchanged (it is made at the prepared statement's runs, whenever psycopg prepares it); a statement run
    once is never prepared; psycopg keeps at most ``prepared_max`` (100) statements prepared a connection, as
    before, the least used deallocated."""
    @event.listens_for(engine, "connect")
    def _threshold(dbapi_connection, _record):
        dbapi_connection.prepare_threshold = None if threshold < 0 else threshold   # None: psycopg never prepares


def _lazy_descriptions(engine: Engine) -> None:
    """psycopg builds ``cursor.description`` (a ``Column`` object a column, in Python) each time it is read, and
    SQLAlchemy reads it after every statement only to learn whether rows came back: a compiled statement's result
    metadata is cached and never looks at it again. A push's five statements return 85 columns (~60 µs of CPU a
    push). The cursors of this engine answer a description built on first use instead (``_LazyDescription``)."""
    from psycopg import Cursor

    class LazyCursor(Cursor):
        @property
        def description(self):
            res = self.pgresult
            if res and (res.nfields or res.status in _ROWS_STATUS):
                return _LazyDescription(res, self._encoding, self.adapters)
            return None

    @event.listens_for(engine, "connect")
    def _lazy(dbapi_connection, _record):
        if dbapi_connection.cursor_factory is Cursor:     # not a cursor class chosen in ``connect_args``
            dbapi_connection.cursor_factory = LazyCursor


try:
    from psycopg.pq import ExecStatus as _ExecStatus
    _ROWS_STATUS = frozenset((_ExecStatus.TUPLES_OK, _ExecStatus.SINGLE_TUPLE,
                              getattr(_ExecStatus, "TUPLES_CHUNK", _ExecStatus.TUPLES_OK)))
except ImportError:  # pragma: no cover - psycopg is installed with the PostgreSQL extra
    _ROWS_STATUS = frozenset()


class _LazyDescription(Sequence):
    """``cursor.description`` as psycopg gives it (a list of its ``Column``), made on first access from the result
    it was asked about (not the cursor's current one: the cursor may have run another statement since)."""

    __slots__ = ("_res", "_encoding", "_adapters", "_columns")

    def __init__(self, res, encoding, adapters):
        self._res, self._encoding, self._adapters, self._columns = res, encoding, adapters, None

    @property
    def pgresult(self):          # what ``psycopg.Column`` reads of a cursor
        return self._res

    @property
    def adapters(self):
        return self._adapters

    def _list(self) -> list:
        if self._columns is None:
            from psycopg import Column

            self._columns = [Column(self, i) for i in range(self._res.nfields)]
        return self._columns

    def __len__(self) -> int:
        return self._res.nfields

    def __getitem__(self, index):
        return self._list()[index]

    def __iter__(self):
        return iter(self._list())

    def __eq__(self, other):
        return list(self._list()) == (list(other) if isinstance(other, (list, tuple, _LazyDescription)) else other)

    def __repr__(self) -> str:
        return repr(self._list())


PING_AFTER_IDLE_S = 10.0
_IDLE_SINCE = "shuangsui_idle_since"


def _ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection at checkout only when it has lain unused in the pool for ``PING_AFTER_IDLE_S``.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round trip for every request, for
    connections a busy server used milliseconds before. A connection idle long enough for the server to have
    restarted (or a firewall to have dropped it) is still pinged first; a dead one is replaced, and the pool's
    other connections with it, as the pre-ping does. A restart within those seconds reaches a request as the
    error of its first statement: ``503 db.unavailable`` (the request may be sent again; nothing was committed),
    and SQLAlchemy then replaces every connection of the pool.
    """
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record):
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy):
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        dialect = engine.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as exc:
            if dialect.is_disconnect(exc, dbapi_connection, None):
                raise InvalidatePoolError("the connection was dead after lying idle in the pool") from exc
            raise


def raw_rows(session: Session, statement: str, params: dict) -> list[tuple]:
    """PostgreSQL: ``statement`` (psycopg's ``%(name)s`` parameters) on the raw psycopg connection of the session's
    transaction, its rows as tuples: for the few statements every push sends, where SQLAlchemy's execution and
    result processing cost more than the statement itself. An error is raised as SQLAlchemy raises it (a lost
    connection invalidated: the pool replaces it, ``is_retryable`` and the API's answers see the same classes)."""
    import psycopg
    from sqlalchemy.exc import DBAPIError

    conn = session.connection()
    raw = conn.connection.driver_connection
    try:
        with raw.cursor() as cur:
            cur.execute(statement, params)
            return cur.fetchall()
    except psycopg.Error as exc:
        if conn.dialect.is_disconnect(exc, raw, None):
            conn.invalidate(exc)
        raise DBAPIError.instance(statement, params, exc, psycopg.Error, dialect=conn.dialect) from exc


_NAMED = re.compile(r"(?<![:\w]):(\w+)")


@functools.lru_cache(maxsize=256)
def psycopg_sql(statement: str) -> str:
    """A statement written with SQLAlchemy's ``:name`` parameters, for psycopg (``%(name)s``; ``%`` doubled)."""
    return _NAMED.sub(r"%(\1)s", statement.replace("%", "%%"))


def loaded(session: Session, cls, values: dict, *, overwrite: bool = False):
    """The ORM object of a row read by ``raw_rows``, as a query would give it: the one in the session already
    (its attributes not loaded filled in; all of them with ``overwrite``, as ``populate_existing``), or a new
    persistent one, its values as loaded (no change recorded; columns not given load on first use)."""
    from sqlalchemy.orm import make_transient_to_detached
    from sqlalchemy.orm.attributes import set_committed_value

    mapper = cls.__mapper__
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    obj = session.identity_map.get(key)
    if obj is not None:
        have = obj.__dict__
        for k, v in values.items():
            if overwrite or k not in have:
                set_committed_value(obj, k, v)
        return obj
    obj = cls._sa_class_manager.new_instance()
    obj.__dict__.update(values)           # a new instance: no history to keep (reset below, as a load leaves it)
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


def row_reader(cls, keys: Sequence[str] | None = None):
    """``(columns, read)`` for reading ``cls``'s rows with ``raw_rows``: its column names (``keys``: these
    attributes only) and a function from a row's values, in that order, to ``{attribute: value}`` as SQLAlchemy's
    result processing gives them (``UTCDateTime`` in ``datetime.timezone.utc``)."""
    attrs = [a for a in cls.__mapper__.column_attrs if keys is None or a.key in keys]
    names = [a.columns[0].name for a in attrs]
    attr_keys = [a.key for a in attrs]
    utc = [i for i, a in enumerate(attrs) if isinstance(a.columns[0].type, UTCDateTime)]

    def read(values) -> dict:
        out = dict(zip(attr_keys, values))
        for i in utc:
            v = values[i]
            if v is not None:
                out[attr_keys[i]] = v.astimezone(dt.timezone.utc)
        return out
    return names, read


def is_write_session(session: Session) -> bool:
    return bool(session.info.get(_WRITE))


def is_busy(exc: BaseException) -> bool:
    """The database refused for now (SQLite's lock, PostgreSQL's deadlock or serialisation failure)."""
    if not isinstance(exc, OperationalError):
        return False
    if getattr(exc.orig, "sqlstate", None) in ("40001", "40P01"):
        return True
    text = str(exc.orig).lower()
    return "database is locked" in text or "database table is locked" in text


def is_retryable(exc: BaseException) -> bool:
    """PostgreSQL rolled the transaction back to break a deadlock or for a serialisation failure: nothing of
    it was kept, and the same work run again from the start may succeed."""
    return isinstance(exc, OperationalError) and getattr(exc.orig, "sqlstate", None) in ("40001", "40P01")


class Database:
    """The engine and session factory of one app."""

    def __init__(self, url: str, **engine_options):
        self.url = url
        self.engine = make_engine(url, **engine_options)
        self.sessionmaker = sessionmaker(bind=self.engine, expire_on_commit=False)

    def open_connections(self, n: int) -> int:
        """Open up to ``n`` connections of the pool now (those idle in it count), each checked with a round trip,
        and leave them in the pool: a worker's first requests (and a burst that busies all its threads) then open
        none. At most the pool's size (more would be closed again at once). Stops at the first failure, which is
        raised; returns the connections held at once."""
        size = getattr(self.engine.pool, "size", None)
        if callable(size):
            n = min(n, size())
        held = []
        try:
            for _ in range(n):
                conn = self.engine.connect()
                held.append(conn)
                conn.exec_driver_sql("SELECT 1")
                conn.rollback()
        finally:
            for conn in held:
                conn.close()
        return len(held)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def session(self, *, write: bool = True) -> Session:
        """A new session; ``write=False`` for one that only reads (it never waits for writers).

        A write session's connections carry the execution option that makes the engine's
        ``begin`` listener emit ``BEGIN IMMEDIATE`` on SQLite (SQLAlchemy applies session-wide
        execution options to each connection before beginning its transaction). A session bound
        to a connection already in a transaction (the per-test transaction) only opens savepoints.
        """
        session = self.sessionmaker(execution_options={_BEGIN_OPTION: "IMMEDIATE"} if write else None)
        session.info[_WRITE] = write
        return session

    @contextlib.contextmanager
    def session_scope(self, *, write: bool = True) -> Iterator[Session]:
        session = self.session(write=write)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()


def dialect_of(session: Session) -> str:
    return session.get_bind().dialect.name


def flush_unique(session: Session, message: str, code: str) -> None:
    """Flush; a unique constraint hit by a concurrent writer (two requests took the same code) becomes
    a 409 ``Conflict`` with this message and code, never a 500. The transaction is rolled back."""
    from backend.errors import Conflict

    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(message, code=code) from exc


def bulk_insert(session: Session, table, rows: list[dict], chunk: int = 5000) -> None:
    """Insert many rows at once: COPY on PostgreSQL, executemany elsewhere. Every row has every column given."""
    if not rows:
        return
    from sqlalchemy import insert

    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import JSON

        columns = list(rows[0])
        as_json = {c.name for c in table.__table__.columns if isinstance(c.type, JSON)} & set(columns)
        raw = session.connection().connection.driver_connection
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table.__tablename__}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(tuple(_json_dumps(row[c]) if c in as_json and row[c] is not None else row[c]
                                     for c in columns))
        return
    for i in range(0, len(rows), chunk):
        session.execute(insert(table), rows[i:i + chunk])


def bulk_update_json(session: Session, table, keys: tuple[str, ...], rows: list[dict], types: dict[str, str],
                     same: dict | None = None) -> None:
    """Update many rows by their key in one statement on PostgreSQL (the rows as one JSON parameter, read by
    ``json_to_recordset``); an executemany elsewhere. ``types``: the SQL type of each column of ``rows``;
    ``same``: values set on every row."""
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql" or len(rows) == 1:
        from sqlalchemy import update

        session.execute(update(table), [{**row, **(same or {})} for row in rows])
        return
    from sqlalchemy import text

    name = table.__tablename__
    columns = [c for c in rows[0] if c not in keys]
    sets = [f'"{c}" = v."{c}"' for c in columns] + [f'"{c}" = :{c}' for c in (same or {})]
    where = " AND ".join(f't."{k}" = v."{k}"' for k in keys)
    record = ", ".join(f'"{c}" {types[c]}' for c in rows[0])
    session.execute(text(f'UPDATE "{name}" AS t SET {", ".join(sets)} '
                         f"FROM json_to_recordset(CAST(:rows AS json)) AS v({record}) WHERE {where}"),
                    {"rows": _json_dumps(rows), **(same or {})})

def analyze(session: Session, *tables: str) -> None:
    """Refresh the planner's statistics of ``tables`` after a bulk write (PostgreSQL; a no-op elsewhere).

    Autovacuum may be off or late, and without statistics a fresh table's page query scans it
    (10.8 ms against 0.15 ms after ANALYZE). Run after the bulk write has committed; a failure
    (say, a role that does not own the table) is logged and rolled back, never raised: the data
    is already written.
    """
    if not tables or session.get_bind().dialect.name != "postgresql":
        return
    import logging

    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    quote = session.get_bind().dialect.identifier_preparer.quote
    try:
        session.execute(text("ANALYZE " + ", ".join(quote(t) for t in dict.fromkeys(tables))))
        session.commit()
    except DBAPIError as exc:
        session.rollback()
        logging.getLogger(__name__).warning("ANALYZE %s failed: %s", ", ".join(tables), exc)


# a table's statistics are refreshed after a bulk write when the write added more than this share of the rows
# the statistics counted (PostgreSQL's autovacuum_analyze_scale_factor; a table never analyzed always is)
ANALYZE_SHARE = 0.1


def analyze_grown(session: Session, written: dict[str, int]) -> list[str]:
    """``analyze`` of the tables of ``written`` ({table: rows just written}) whose statistics the write made
    stale: more rows written than ``ANALYZE_SHARE`` of the rows the statistics count (``pg_class.reltuples``;
    -1 or 0 when never analyzed). A draw of 30,000 inspections into a county's first task refreshes them; the
    same draw into a province's table of millions does not (autovacuum will, in its time). Returns the tables
    analyzed. PostgreSQL only; run after the write has committed."""
    if session.get_bind().dialect.name != "postgresql":
        return []
    from sqlalchemy import text

    wanted = {t: n for t, n in written.items() if n > 0}
    if not wanted:
        return []
    counted = dict(session.execute(text("SELECT relname, reltuples FROM pg_class WHERE relkind = 'r' AND "
                                        "relnamespace = current_schema()::regnamespace AND relname = ANY(:names)"),
                                   {"names": list(wanted)}).all())
    session.commit()   # the look-up's snapshot: ANALYZE runs in a transaction of its own
    stale = [t for t, n in wanted.items() if n > ANALYZE_SHARE * max(float(counted.get(t, -1)), 0.0)]
    analyze(session, *stale)
    return stale
