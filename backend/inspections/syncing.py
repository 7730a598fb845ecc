"""Push and pull for the officers' phones (docs/sync.md): the protocol core in ``sync/``, the domain here."""
from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.db import is_retryable, utcnow
from backend.errors import Busy, Conflict, DomainError, Forbidden, InvalidInput
from backend.inspections import bundle, record_pdf
from backend.inspections.access import CHANGES
from backend.inspections.batch import FieldBatch, StaleRead
from backend.inspections.handlers import HANDLERS
from backend.inspections.signers import SignerChecks
from sync import changes, engine, protocol

PUSH_ATTEMPTS = 3
log = logging.getLogger(__name__)
MAX_CLIENTS = 10                       # a user's active devices (SYNC_MAX_CLIENTS)
PULL_SEEN_EVERY = dt.timedelta(hours=1)
NOT_YOURS = "该设备编号（client_id）属于其他账号；请在本设备重新生成"


def _officer(actor: Actor) -> int:
    if actor.inspector_id is None:
        raise Forbidden("当前账号未关联执法检查人员，不能同步检查任务", code="forbidden.not_inspector")
    return actor.inspector_id


def parse(text: str, now: dt.datetime | None = None) -> tuple[str, list[protocol.Mutation]]:
    """A push body: 400 when it is not JSON at all, 422 ``sync.bad_batch`` when the push as a whole is malformed.
    A mutation's own problems (values no database keeps…) stay with it: it is refused alone."""
    try:
        body, suspect = protocol.loads(text)
    except ValueError:
        raise DomainError("提交的数据有误：请求体不是有效的 JSON", code="bad_request", status=400,
                          errors={"json": ["请求体不是有效的 JSON"]}) from None
    try:
        return protocol.parse_push(body, now, screen=suspect)
    except protocol.BadBatch as exc:
        raise InvalidInput(exc.message, code="sync.bad_batch", errors=exc.errors) from None


def check_label(label: str | None) -> str | None:
    """X-Device-Label: refused when it is too long (never cut)."""
    problem = protocol.label_problem(label)
    if problem:
        raise InvalidInput(problem, code="sync.bad_label", errors={"X-Device-Label": [problem]})
    return label or None


def claim_errors(exc: Exception) -> DomainError:
    """A client id that cannot be used, as the API answers it (never a 500)."""
    if isinstance(exc, engine.ClientNotYours):
        return Forbidden(NOT_YOURS, code="sync.client_not_yours")
    if isinstance(exc, engine.ClientRetired):
        return Forbidden("该设备已被停用（在“我的设备”中或由管理员停用）；请清除本应用的数据后重新登录，"
                         "未发送的变更请先导出", code="sync.client_retired")
    if isinstance(exc, engine.TooManyClients):
        return Conflict(f"你的账号已有 {exc.limit} 台在用的设备，不能再添加新设备；请先停用不再使用的设备"
                        f"（POST /api/sync/clients/<设备编号>/retire），或请管理员停用",
                        code="sync.too_many_devices", details={"limit": exc.limit, "devices": exc.devices})
    raise exc


def max_clients(settings: dict | None) -> int:
    return int((settings or {}).get("SYNC_MAX_CLIENTS") or MAX_CLIENTS)


def push(session: Session, actor: Actor, client_id: str, mutations: list[protocol.Mutation], *,
         settings: dict | None = None, signers: SignerChecks | None = None, label: str | None = None,
         queue=None, allow_retired: bool = False) -> dict:
    """Apply a batch (docs/sync.md §3). ``signers``: the co-signers checked before (``signers.check_push``).
    ``queue``: the job queue that renders the PDF of each record submitted by the batch (the jobs are created
    in the batch's transaction, started after its commit). ``allow_retired``: an administrator's import of a
    retired device's exported outbox (outbox_import.py)."""
    _officer(actor)
    signers = signers or SignerChecks()
    for attempt in range(1, PUSH_ATTEMPTS + 1):
        batch = FieldBatch(session, actor, settings)
        batch.defer_final = True          # its last statement goes with COMMIT (``FieldBatch.commit``)
        try:
            # "submitted": the handlers append each inspection whose record they submitted (same list object)
            ctx_extra = {"signers": signers.verified, "submitted": []}
            outcome = _push(session, actor, client_id, mutations, batch, ctx_extra, label, signers.stop,
                            max_clients(settings), allow_retired)
            if ctx_extra["submitted"] and queue is not None:
                batch.send_final(session)     # the PDF jobs' audit entries follow the push's
            jobs = record_pdf.schedule(session, queue, actor, ctx_extra["submitted"],
                                       attempts=int((settings or {}).get("JOB_RETRIES", 2)))
            batch.commit(session)
            break
        except (engine.ClientNotYours, engine.ClientRetired, engine.TooManyClients) as exc:
            session.rollback()
            raise claim_errors(exc) from None
        except engine.ReplayMismatch as exc:
            session.rollback()
            raise Conflict(f"第 {exc.mutation_id} 条变更此前已处理过，这次发送的内容与当时不同；服务器保留当时的结果，"
                           f"本次推送未处理任何变更。请把这条变更改用新的编号（排在最后）重新推送",
                           code="sync.replay_mismatch",
                           details={"mutation_id": exc.mutation_id, "name": exc.name, "first_result": exc.result}
                           ) from None
        except IntegrityError:
            # another phone created the same row a moment before (the first write of one department's
            # section, or of one check point, from two phones at once): nothing of this push was kept;
            # applied again, it finds that row and merges into it
            session.rollback()
            if attempt == PUSH_ATTEMPTS:
                raise
        except StaleRead as exc:
            # another push wrote one of these inspections between this push's read and its lock: nothing of
            # it was kept; applied again, it reads the other's values and merges into them
            session.rollback()
            if attempt == PUSH_ATTEMPTS:
                raise Busy() from None
            log.info("push of %s: inspections %s changed since read; applying it again", client_id,
                     exc.inspection_ids)
        except OperationalError as exc:
            # PostgreSQL chose this push to break a deadlock, or could not serialise it: nothing of it was
            # kept; applied again from the start, it waits behind the other transaction and sees its commit
            if not is_retryable(exc) or attempt == PUSH_ATTEMPTS:
                raise
            session.rollback()
            log.info("push of %s: %s; applying it again", client_id, str(exc.orig).splitlines()[0])
    record_pdf.start(queue, jobs)
    body = {"client_id": outcome.client_id, "last_mutation_id": outcome.last_mutation_id,
            "results": outcome.results}
    if outcome.stopped:
        body["stopped"] = outcome.stopped
    return body


def _push(session, actor, client_id, mutations, batch, extra, label, stop_before=None, limit=None,
          allow_retired=False):
    handlers = {name: _with_extra(fn, extra) for name, fn in HANDLERS.items()}
    return engine.push(session, user_id=actor.user_id, client_id=client_id, mutations=mutations,
                       handlers=handlers, batch=batch, label=label, stop_before=stop_before, max_clients=limit,
                       allow_retired=allow_retired)


def _with_extra(fn, extra):
    def handler(ctx, args):
        ctx.extra.update(extra)
        return fn(ctx, args)
    return handler


def pull(session: Session, actor: Actor, *, client_id: str, cursor: str | None, limit: int,
         label: str | None = None, settings: dict | None = None) -> dict:
    inspector_id = _officer(actor)
    problem = protocol.client_id_problem(client_id)
    if problem:
        raise InvalidInput(problem, code="sync.bad_client", errors={"client_id": [problem]})
    try:
        at = protocol.parse_cursor(cursor)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="sync.bad_cursor", errors={"cursor": [str(exc)]}) from None
    head = changes.head(session)
    if at.after > head or (at.upto or 0) > head:
        raise Conflict(f"cursor（{at.text()}）超过了服务器的变更序号（{head}）：服务器的数据可能已恢复到较早的备份。"
                       f"请不带 cursor 从头拉取", code="sync.cursor_ahead", details={"head": str(head)})
    # a pull claims its client id as a push does (a new one is written: one short write, once)
    try:
        client = engine.claim_client(session, actor.user_id, client_id, label, lock=False,
                                     max_clients=max_clients(settings))
    except (engine.ClientNotYours, engine.ClientRetired, engine.TooManyClients) as exc:
        session.rollback()
        raise claim_errors(exc) from None
    now = utcnow()
    seen = client.last_pull_at is None or now - client.last_pull_at > PULL_SEEN_EVERY
    renamed = label is not None and client.label != label     # the device list shows the latest label
    if seen or renamed:
        if seen:
            client.last_pull_at = now   # a new client's first pull writes it (with the claim); then once an hour
        if renamed:
            client.label = label
        session.commit()
    # a pull sends what changed in (after, upto]: upto is fixed by its first page, then pages go by id
    upto = at.upto if at.upto is not None else head
    inspection_ids, task_ids = CHANGES.run(session, after=at.after, upto=upto, after_id=at.last_id, limit=limit,
                                           params={"inspector_id": inspector_id})
    has_more = len(inspection_ids) > limit
    inspection_ids = inspection_ids[:limit]
    docs = bundle.inspection_changes(session, actor, inspection_ids)
    out = bundle.task_changes(session, set(task_ids)) + docs
    next_cursor = (protocol.Cursor(at.after, upto, inspection_ids[-1]) if has_more
                   else protocol.Cursor(max(at.after, upto))).text()
    return {"cursor": next_cursor, "has_more": has_more,
            "last_mutation_id": client.last_mutation_id,
            "server_time": dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"),
            "changes": out}
