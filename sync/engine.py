"""Applying a push: exactly once, in order, one bad mutation never blocking the queue.

For each mutation of the batch, against the client's ``last_mutation_id``:

* ``id <= last``: already processed; skipped, and answered with what happened the first time;
* ``id == last + 1``: applied by its handler, and ``last`` advances whatever the outcome:
  applied, conflict (applied in part; the rest recorded for the team lead) or rejected (with the
  reason; nothing of it applied);
* ``id > last + 1``: a gap; the batch stops there (what came before stays applied).

Everything happens in the caller's transaction, which commits once at the end. Two pushes of one
client are serialised by locking the client's row first (SQLite serialises writers anyway).

Handlers are domain code (``backend.inspections.handlers``): ``handler(ctx, args) -> dict`` returning
``{"status": "applied"|"conflict", ...}`` or raising :class:`Refused`. A handler checks everything before
it changes anything and sets ``ctx.applying = True`` when it starts changing state; an unexpected
error before that point rejects the one mutation (``sync.server_error``), after it fails the push.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any, Callable, Protocol

from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from backend.db import loaded, raw_rows, row_reader, utcnow
from sync.models import SyncClient, SyncMutation
from sync.protocol import Mutation

log = logging.getLogger(__name__)


class Refused(Exception):
    """A mutation the server will not apply: bad data, not allowed, or read-only content."""

    def __init__(self, code: str, message: str, *, errors: Any = None, details: dict | None = None):
        super().__init__(message)
        self.code, self.message, self.errors, self.details = code, message, errors, details


class ClientNotYours(Exception):
    """The client id is registered to another user."""


class ClientRetired(Exception):
    """The client was retired (a lost or replaced device): it may no longer push or pull."""


class TooManyClients(Exception):
    """A new client id, and the user already has ``limit`` active devices (``devices``: them, newest first)."""

    def __init__(self, limit: int, devices: list[dict]):
        super().__init__(f"{len(devices)} active clients")
        self.limit, self.devices = limit, devices


class ReplayMismatch(Exception):
    """A mutation id the server has processed came again with another content (a bug of the client's outbox)."""

    def __init__(self, mutation_id: int, name: str, result: dict):
        super().__init__(f"mutation {mutation_id} replayed with another content")
        self.mutation_id, self.name, self.result = mutation_id, name, result


class Batch(Protocol):
    """Domain state shared by the handlers of one push; ``finish`` writes what they changed."""

    def finish(self, session: Session, summary: dict) -> None: ...


@dataclasses.dataclass
class ReadAlong:
    """A read the domain sends with the client's claim, in its one statement (PostgreSQL, ``claim_client``): a
    ``SELECT`` (psycopg's ``%(name)s`` parameters, none named as the claim's), its parameters, and what takes its
    rows once the claim is granted (not called when it is refused). The rows are read in the claim's snapshot."""
    sql: str
    params: dict
    take: Callable[[list[tuple]], None]


@dataclasses.dataclass
class Context:
    session: Session
    user_id: int
    client_id: str
    batch: Any
    mutation: Mutation | None = None
    applying: bool = False
    extra: dict = dataclasses.field(default_factory=dict)

    @property
    def mutation_id(self) -> int:
        return self.mutation.id

    @property
    def device_time(self) -> dt.datetime | None:
        return self.mutation.device_time


@dataclasses.dataclass
class PushOutcome:
    client_id: str
    last_mutation_id: int
    results: list[dict]
    stopped: dict | None = None

    @property
    def counts(self) -> dict[str, int]:
        return result_counts(self.results)


def result_counts(results: list[dict], into: dict[str, int] | None = None) -> dict[str, int]:
    """How many results of each status (``replayed`` for those answered from what was stored), added to ``into``."""
    out = {} if into is None else into
    for r in results:
        key = "replayed" if r.get("replayed") else r["status"]
        out[key] = out.get(key, 0) + 1
    return out


Handler = Callable[[Context, dict], dict]


def claim_client(session: Session, user_id: int, client_id: str, label: str | None = None,
                 lock: bool = True, *, kind: str = "phone", max_clients: int | None = None,
                 allow_retired: bool = False, along: ReadAlong | None = None) -> SyncClient:
    """The client's row, registered to this user on first use (a push, a pull, the office screens) and, with
    ``lock``, locked for this transaction (one statement: an insert that, when the row exists, updates it to
    itself, which takes its lock and returns it).

    Raises :class:`ClientNotYours` (another user's), :class:`ClientRetired`, or, for a new device when the
    user already has ``max_clients`` active ones, :class:`TooManyClients` (nothing is registered then).
    ``allow_retired``: a retired client's row is returned (an administrator importing its exported outbox).
    ``along``: a read sent in the claim's statement (PostgreSQL, with ``lock``; elsewhere the caller reads after),
    its rows handed over once the claim is granted."""
    extra = None
    if lock:
        client, extra = _claim_locked(session, user_id, client_id, label, kind, max_clients, along)
    else:
        client = _claim(session, user_id, client_id, label, kind, max_clients)
    if client.user_id != user_id:
        raise ClientNotYours(client_id)
    if client.retired_at is not None and not allow_retired:
        raise ClientRetired(client_id)
    if extra is not None:
        along.take(extra)
    return client


def _upsert(session: Session, **values):
    dialect = session.get_bind().dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(SyncClient.__table__).values(**values)


def _check_limit(session: Session, user_id: int, client_id: str, max_clients: int) -> None:
    """A new device beyond the user's limit (its own row, if written already, not counted)."""
    active = list(session.execute(
        select(SyncClient.id, SyncClient.label, SyncClient.created_at, SyncClient.last_push_at,
               SyncClient.last_pull_at)
        .where(SyncClient.user_id == user_id, SyncClient.kind == "phone", SyncClient.retired_at.is_(None),
               SyncClient.id != client_id)
        .order_by(SyncClient.created_at.desc())))
    if len(active) >= max_clients:
        raise TooManyClients(max_clients, [device_summary(row) for row in active])


def _claim_locked(session: Session, user_id: int, client_id: str, label: str | None, kind: str,
                  max_clients: int | None, along: ReadAlong | None = None) -> tuple[SyncClient, list | None]:
    """One statement: an insert that, when the row exists, updates it to itself (which takes its lock), returning
    the row. A row it created (its ``created_at`` is this one) is a new device: the limit is checked then, and a
    refusal is rolled back by the caller (nothing registered). PostgreSQL: ``along``'s read in the same statement
    (each of its rows beside the client's; none: the client's with nulls), its rows returned (else None)."""
    now = utcnow()
    params = {"id": client_id, "user_id": user_id, "kind": kind, "label": label, "created_at": now}
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # on the raw psycopg connection (every push sends it: SQLAlchemy's ORM execution cost 4× the statement),
        # the object made as ``populate_existing`` would (``backend.db.loaded``)
        sql, read, width = _claim_raw()
        extra = None
        if along is None:
            (row,) = raw_rows(session, sql, params)
        else:
            rows = raw_rows(session, _claim_with(sql, along.sql), {**along.params, **params})
            row, extra = rows[0], [r[width:] for r in rows]
        client = loaded(session, SyncClient, read(row[:width]), overwrite=True)
    else:
        client = session.scalars(_claim_statement(dialect), params,
                                 execution_options={"populate_existing": True}).one()
        extra = None
    if client.created_at == now and kind == "phone" and max_clients is not None and client.user_id == user_id:
        _check_limit(session, user_id, client_id, max_clients)
    return client, extra


_CLAIMS: dict[str, Any] = {}


def _claim_statement(dialect: str):
    """``_claim_locked``'s statement, built once per dialect with its values bound at execution (every push runs
    it: building the insert, its ``excluded`` columns and the ORM's select from it anew was ~1/8 of a push's CPU)."""
    stmt = _CLAIMS.get(dialect)
    if stmt is None:
        ins = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(SyncClient.__table__).values(
            id=bindparam("id"), user_id=bindparam("user_id"), kind=bindparam("kind"), label=bindparam("label"),
            last_mutation_id=0, created_at=bindparam("created_at"))
        ins = ins.on_conflict_do_update(index_elements=[ins.table.c.id], set_={"id": ins.excluded.id})
        stmt = _CLAIMS[dialect] = select(SyncClient).from_statement(ins.returning(*SyncClient.__table__.c))
    return stmt


def _claim_raw():
    """``_claim_locked``'s statement on PostgreSQL for psycopg, and the reader of its row."""
    stmt = _CLAIMS.get("raw")
    if stmt is None:
        names, read = row_reader(SyncClient)
        stmt = _CLAIMS["raw"] = (
            "INSERT INTO sync_client (id, user_id, kind, label, last_mutation_id, created_at) VALUES (%(id)s, "
            "%(user_id)s, %(kind)s, %(label)s, 0, %(created_at)s) ON CONFLICT (id) DO UPDATE SET id = excluded.id "
            f"RETURNING {', '.join(names)}", read, len(names))
    return stmt


_CLAIMS_WITH: dict[str, str] = {}


def _claim_with(claim: str, read: str) -> str:
    """The claim and another read as one statement: the claim as a CTE, each row of the read beside the client's
    row (the read's own plan kept: a subquery joined on true). One snapshot: a claim that waited for the client's
    lock (the same device's other push) has the read see what was committed before it waited; a push guards its
    reads against that as against any other push's (``FieldBatch._finish_pg``'s stale check)."""
    stmt = _CLAIMS_WITH.get(read)
    if stmt is None:
        if len(_CLAIMS_WITH) > 1000:
            _CLAIMS_WITH.clear()
        stmt = _CLAIMS_WITH[read] = f"WITH claim AS ({claim}) SELECT claim.*, r.* FROM claim LEFT JOIN ({read}) AS r ON true"
    return stmt


def _claim(session: Session, user_id: int, client_id: str, label: str | None, kind: str,
           max_clients: int | None) -> SyncClient:
    """Without a lock: read first; a new one is written (one short write, once)."""
    client = session.scalar(_CLIENT, {"client_id": client_id})
    if client is None:
        if kind == "phone" and max_clients is not None:
            _check_limit(session, user_id, client_id, max_clients)
        session.execute(_upsert(session, id=client_id, user_id=user_id, kind=kind, label=label, last_mutation_id=0,
                                created_at=utcnow()).on_conflict_do_nothing())
        client = session.scalar(_CLIENT, {"client_id": client_id})
    return client


# the client's row (its attributes as the database has them now), built once: each claim binds its id
_CLIENT = (select(SyncClient).where(SyncClient.id == bindparam("client_id"))
           .execution_options(populate_existing=True))


def device_summary(row) -> dict:
    """A device as its owner sees it in a refusal or a list (never another user's)."""
    seen = max((t for t in (row.last_push_at, row.last_pull_at) if t is not None), default=None)
    return {"client_id": row.id, "label": row.label, "created_at": _iso(row.created_at), "last_seen_at": _iso(seen)}


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def push(session: Session, *, user_id: int, client_id: str, mutations: list[Mutation],
         handlers: dict[str, Handler], batch: Batch, label: str | None = None,
         stop_before: dict | None = None, max_clients: int | None = None,
         allow_retired: bool = False) -> PushOutcome:
    """``stop_before``: ``{id, code, message}``, a mutation the domain will not take in this push (e.g. one
    co-signer too many): the batch stops there as at a gap, and the client pushes it again.

    A replayed id whose content differs from what was first received raises :class:`ReplayMismatch` before
    anything is applied (the caller refuses the whole push: nothing of the outbox is dropped)."""
    # the domain's read of what the mutations name, sent with the claim (PostgreSQL: one statement); those of
    # mutations the claim shows to be replays are read too (a replay is rare; it reads and writes nothing more)
    read_along = getattr(batch, "read_along", None)
    along = read_along([m for m in mutations if m.problem is None]) if read_along is not None else None
    client = claim_client(session, user_id, client_id, label, max_clients=max_clients, allow_retired=allow_retired,
                          along=along)
    last = client.last_mutation_id
    earlier = {m.mutation_id: m for m in session.scalars(select(SyncMutation).where(
        SyncMutation.client_id == client_id,
        SyncMutation.mutation_id.in_([m.id for m in mutations if m.id <= last])))} if mutations[0].id <= last else {}
    for m in mutations:
        row = earlier.get(m.id)
        if row is not None and row.payload_sha256 is not None and row.payload_sha256 != m.payload_sha256:
            raise ReplayMismatch(m.id, row.name, _stored_result(m.id, row))
    ctx = Context(session, user_id, client_id, batch)
    prepare = getattr(batch, "prepare", None)
    if prepare is not None:  # let the domain load, in a few queries, what the new mutations name
        prepare([m for m in mutations if m.id > last and m.problem is None])
    results: list[dict] = []
    rows: list[dict] = []
    stopped = None
    now = utcnow()
    for m in mutations:
        if m.id <= last:
            row = earlier.get(m.id)
            results.append(_stored_result(m.id, row))
            continue
        if m.id > last + 1:
            stopped = {"code": "sync.gap", "expected": last + 1, "got": m.id,
                       "message": f"变更编号不连续：服务器期待第 {last + 1} 条，收到第 {m.id} 条；"
                                  f"请从第 {last + 1} 条开始重新推送"}
            break
        if stop_before is not None and m.id == stop_before["id"]:
            stopped = {"code": stop_before["code"], "expected": m.id, "got": m.id, "message": stop_before["message"]}
            break
        result = _apply_one(ctx, handlers, m)
        if m.device_time_ignored:
            result["device_time_ignored"] = True
        results.append(result)
        rows.append({"client_id": client_id, "mutation_id": m.id, "name": m.name, "status": result["status"],
                     "code": result.get("code"), "message": result.get("message"),
                     "result": _stored(result), "payload_sha256": m.payload_sha256,
                     "inspection_id": result.get("inspection_id"), "device_time": m.device_time, "applied_at": now})
        last = m.id
    outcome = PushOutcome(client_id, last, results, stopped)
    if rows and session.get_bind().dialect.name == "postgresql":
        if getattr(batch, "writes_sync_record", False):
            # the domain writes the client's progress and the outcomes in its own one statement (``record_ctes``)
            batch.sync_record = SyncRecord(client, rows, now, last, label)
        else:
            _record_pg(session, client, rows, now, last, label)
    else:
        client.last_push_at, client.last_mutation_id = now, last
        if label and client.label != label:
            client.label = label
        if rows:
            session.execute(insert(SyncMutation), rows)
    if rows:
        # last: the domain's writes, its audit entry and the change rows (whose lock is held to commit)
        batch.finish(session, {"client_id": client_id, "from": rows[0]["mutation_id"], "to": last,
                               **outcome.counts})
    return outcome


_RECORD_PG = text(
    "WITH c AS (UPDATE sync_client SET last_push_at = :now, last_mutation_id = :last, "
    "label = COALESCE(:label, label) WHERE id = :client_id) "
    "INSERT INTO sync_mutation (client_id, mutation_id, name, status, code, message, result, payload_sha256, "
    "inspection_id, device_time, applied_at) "
    "SELECT v.client_id, v.mutation_id, v.name, v.status, v.code, v.message, v.result, v.payload_sha256, "
    "v.inspection_id, v.device_time, v.applied_at FROM json_to_recordset(CAST(:rows AS json)) AS v("
    "client_id varchar, mutation_id bigint, name varchar, status varchar, code varchar, message text, result json, "
    "payload_sha256 varchar, inspection_id integer, device_time timestamptz, applied_at timestamptz)")


@dataclasses.dataclass
class SyncRecord:
    """What a push records of its client (progress, label) and of its mutations (their outcomes)."""
    client: SyncClient
    rows: list[dict]
    now: dt.datetime
    last: int
    label: str | None


_RECORD_CTES = (
    "sync_c AS (UPDATE sync_client SET last_push_at = :sr_now, last_mutation_id = :sr_last, "
    "label = COALESCE(:sr_label, label) WHERE id = :sr_client_id RETURNING 1)",
    "sync_m AS (INSERT INTO sync_mutation (client_id, mutation_id, name, status, code, message, result, "
    "payload_sha256, inspection_id, device_time, applied_at) "
    "SELECT v.client_id, v.mutation_id, v.name, v.status, v.code, v.message, v.result, v.payload_sha256, "
    "v.inspection_id, v.device_time, v.applied_at FROM json_to_recordset(CAST(:sr_rows AS json)) AS v("
    "client_id varchar, mutation_id bigint, name varchar, status varchar, code varchar, message text, result json, "
    "payload_sha256 varchar, inspection_id integer, device_time timestamptz, applied_at timestamptz) RETURNING 1)")
RECORD_PARTS = ("sync_c", "sync_m")    # their names, for a caller whose statement must write them before its last part


def record_ctes(record: SyncRecord) -> tuple[tuple[str, ...], dict]:
    """PostgreSQL: what ``_record_pg`` writes, as parts (CTEs) of the caller's one statement, and their
    parameters; call :func:`recorded` after that statement."""
    from backend.db import _json_dumps

    return _RECORD_CTES, {"sr_now": record.now, "sr_last": record.last, "sr_label": record.label or None,
                          "sr_client_id": record.client.id, "sr_rows": _json_dumps(record.rows)}


def recorded(record: SyncRecord) -> None:
    """The client's object told what was written (nothing is flushed for it again)."""
    from sqlalchemy.orm.attributes import set_committed_value

    set_committed_value(record.client, "last_push_at", record.now)
    set_committed_value(record.client, "last_mutation_id", record.last)
    if record.label:
        set_committed_value(record.client, "label", record.label)


def _record_pg(session: Session, client: SyncClient, rows: list[dict], now: dt.datetime, last: int,
               label: str | None) -> None:
    """The client's progress and its mutations' outcomes in one statement (PostgreSQL); the client's object
    is told, so that nothing is flushed for it again."""
    from sqlalchemy.orm.attributes import set_committed_value

    from backend.db import _json_dumps

    session.execute(_RECORD_PG, {"now": now, "last": last, "label": label or None, "client_id": client.id,
                                 "rows": _json_dumps(rows)})
    set_committed_value(client, "last_push_at", now)
    set_committed_value(client, "last_mutation_id", last)
    if label:
        set_committed_value(client, "label", label)

def _apply_one(ctx: Context, handlers: dict[str, Handler], m: Mutation) -> dict:
    ctx.mutation, ctx.applying = m, False
    if m.problem is not None:  # refused alone, before any handler sees it
        result = {"status": "rejected", **m.problem, "id": m.id}
        return result
    handler = handlers.get(m.name)
    try:
        if handler is None:
            raise Refused("sync.unknown_mutation", f"不认识的变更类型“{m.name}”，请升级应用")
        result = dict(handler(ctx, m.args) or {"status": "applied"})
    except Refused as exc:
        result = {"status": "rejected", "code": exc.code, "message": exc.message}
        if exc.errors:
            result["errors"] = exc.errors
        if exc.details:
            result["details"] = exc.details
    except Exception:
        if ctx.applying:
            raise
        log.exception("sync mutation %s/%s (%s) failed before applying", ctx.client_id, m.id, m.name)
        result = {"status": "rejected", "code": "sync.server_error",
                  "message": "服务器处理这条变更时出错，已记录；这条变更未生效，请联系管理员"}
    result["id"] = m.id
    return result


def _stored(result: dict) -> dict:
    """The whole first answer (a replay answers exactly it), less what is said of each sending."""
    return {k: v for k, v in result.items() if k not in ("id", "replayed")}


def _stored_result(mutation_id: int, row: SyncMutation | None) -> dict:
    if row is None:  # processed before mutation outcomes were kept
        return {"id": mutation_id, "status": "applied", "replayed": True}
    return {**(row.result or {"status": row.status}), "id": mutation_id, "replayed": True}
