"""Push and pull for the officers' phones (docs/sync.md): the protocol core in ``sync/``, the domain here."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.errors import Forbidden, InvalidInput
from backend.inspections import bundle, record_pdf
from backend.inspections.access import involved_inspections, involved_tasks
from backend.inspections.batch import FieldBatch
from backend.inspections.handlers import HANDLERS
from backend.inspections.signers import SignerChecks
from sync import changes, engine, protocol
from sync.models import SyncClient


PUSH_ATTEMPTS = 3


def _officer(actor: Actor) -> int:
    if actor.inspector_id is None:
        raise Forbidden("当前账号未关联执法检查人员，不能同步检查任务", code="forbidden.not_inspector")
    return actor.inspector_id


def parse(body: Any) -> tuple[str, list[protocol.Mutation]]:
    try:
        return protocol.parse_push(body)
    except protocol.BadBatch as exc:
        raise InvalidInput(exc.message, code="sync.bad_batch", errors=exc.errors) from None


def push(session: Session, actor: Actor, client_id: str, mutations: list[protocol.Mutation], *,
         settings: dict | None = None, signers: SignerChecks | None = None, label: str | None = None,
         queue=None) -> dict:
    """Apply a batch (docs/sync.md §3). ``signers``: the co-signers checked before (``signers.check_push``).
    ``queue``: the job queue that renders the PDF of each record submitted by the batch (the jobs are created
    in the batch's transaction, started after its commit)."""
    signers = signers or SignerChecks()
    _officer(actor)
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        batch = FieldBatch(session, actor, settings)
        try:
            # "submitted": the handlers append each inspection whose record they submitted (same list object)
            ctx_extra = {"signers": signers.verified, "submitted": []}
            outcome = _push(session, actor, client_id, mutations, batch, ctx_extra, label, signers.stop)
            jobs = record_pdf.schedule(session, queue, actor, ctx_extra["submitted"],
                                       attempts=int((settings or {}).get("JOB_RETRIES", 2)))
            session.commit()
            break
        except engine.ClientNotYours:
            raise Forbidden("该设备编号（client_id）属于其他账号；请在本设备重新生成",
                            code="sync.client_not_yours") from None
        except IntegrityError:
            # another phone created the same row a moment before (the first write of one department's
            # section, or of one check point, from two phones at once): nothing of this push was kept;
            # applied again, it finds that row and merges into it
            session.rollback()
            if attempt == PUSH_ATTEMPTS:
                raise
    record_pdf.start(queue, jobs)
    body = {"client_id": outcome.client_id, "last_mutation_id": outcome.last_mutation_id,
            "results": outcome.results}
    if outcome.stopped:
        body["stopped"] = outcome.stopped
    return body


def _push(session, actor, client_id, mutations, batch, extra, label, stop_before=None):
    handlers = {name: _with_extra(fn, extra) for name, fn in HANDLERS.items()}
    return engine.push(session, user_id=actor.user_id, client_id=client_id, mutations=mutations,
                       handlers=handlers, batch=batch, label=label, stop_before=stop_before)


def _with_extra(fn, extra):
    def handler(ctx, args):
        ctx.extra.update(extra)
        return fn(ctx, args)
    return handler


def pull(session: Session, actor: Actor, *, client_id: str, cursor: str | None, limit: int) -> dict:
    inspector_id = _officer(actor)
    problem = protocol.client_id_problem(client_id)
    if problem:
        raise InvalidInput(problem, code="sync.bad_client", errors={"client_id": [problem]})
    try:
        at = protocol.parse_cursor(cursor)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="sync.bad_cursor", errors={"cursor": [str(exc)]}) from None
    client = session.get(SyncClient, client_id)
    if client is not None and client.user_id != actor.user_id:
        raise Forbidden("该设备编号（client_id）属于其他账号；请在本设备重新生成", code="sync.client_not_yours")
    # a pull sends what changed in (after, upto]: upto is fixed by its first page, then pages go by id
    upto = at.upto if at.upto is not None else changes.head(session)
    inspection_ids, task_ids = changes.changed(session, after=at.after, upto=upto,
                                               inspections=involved_inspections(inspector_id),
                                               tasks=involved_tasks(inspector_id), after_id=at.last_id, limit=limit)
    has_more = len(inspection_ids) > limit
    inspection_ids = inspection_ids[:limit]
    docs = bundle.inspection_changes(session, actor, inspection_ids)
    tasks = set(task_ids) | {d["data"]["task_id"] for d in docs if d["op"] == "put"}
    out = bundle.task_changes(session, tasks) + docs
    next_cursor = (protocol.Cursor(at.after, upto, inspection_ids[-1]) if has_more
                   else protocol.Cursor(max(at.after, upto))).text()
    return {"cursor": next_cursor, "has_more": has_more,
            "last_mutation_id": client.last_mutation_id if client else 0,
            "server_time": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            "changes": out}
