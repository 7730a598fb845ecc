"""The inspection record on the office side (online): read it, and the lead's merge with optimistic locking.

The lead's actions here go through the very handlers the phones use (``handlers.py``): each request is
one mutation of the user's *office client* (a random client id kept for the user), so the rules, the
conflict handling and the audit are the same whether the lead works on the phone or at a desk.

The version of an inspection is the last change-sequence number that concerns it: any change to any
part of it (a section, a signature, a conflict, the record) moves it. ``GET`` answers it as the
``ETag``; a change must send it back in ``If-Match`` and gets 412 if someone changed the inspection
since (``inspection.stale``).
"""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.auth.roles import Role
from backend.errors import DomainError, Forbidden, InvalidInput, NotFound, check_if_match
from backend.inspections import bundle, deadlines, syncing
from backend.inspections.access import participation
from backend.inspections.models import Inspection
from backend.plans.models import Task, TaskDepartment
from sync import engine, protocol
from sync.models import SyncChange, SyncClient

STAFF = (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PLANNER)


def version(session: Session, inspection_id: int) -> int:
    return session.scalar(select(func.max(SyncChange.seq)).where(SyncChange.entity == "inspection",
                                                                 SyncChange.inspection_id == inspection_id)) or 0


def etag(inspection_id: int, seq: int) -> str:
    return f'"i{inspection_id}-{seq}"'


def _get(session: Session, inspection_id: int) -> Inspection:
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("检查记录不存在", code="inspection.not_found")
    return inspection


def _staff_may_read(session: Session, actor: Actor, inspection: Inspection) -> bool:
    if actor.role in (Role.SYSADMIN, Role.SUPERVISOR):
        return True
    if actor.role in (Role.DEPT_ADMIN, Role.PLANNER, Role.PUBLISHER) and actor.department_id is not None:
        return session.scalar(select(TaskDepartment.id).where(TaskDepartment.task_id == inspection.task_id,
                                                              TaskDepartment.department_id == actor.department_id)) is not None
    return False


def read(session: Session, actor: Actor, inspection_id: int) -> tuple[dict, str]:
    """The inspection as this user may see it, and its ETag."""
    inspection = _get(session, inspection_id)
    seq = version(session, inspection_id)
    if actor.inspector_id is not None and participation(session, [inspection])[inspection.id].of(actor.inspector_id):
        [change] = bundle.inspection_changes(session, actor, [inspection_id])
    elif _staff_may_read(session, actor, inspection):
        [change] = bundle.inspection_changes(session, actor, [inspection_id], lead_view=True)
    else:
        raise Forbidden("只能查看本人参与或本部门参与的任务的检查记录", code="forbidden.department")
    if change["op"] == "del":
        raise NotFound(change["reason"], code=f"inspection.{change['reason_code']}")
    return change["data"], etag(inspection_id, seq)


def _office_client(session: Session, actor: Actor) -> str:
    """The user's office client: a random id made on first use and kept (nobody can guess it, so nobody can
    claim it first), one per user (the oldest, should two first uses have raced)."""
    client_id = session.scalar(select(SyncClient.id).where(SyncClient.user_id == actor.user_id,
                                                           SyncClient.kind == "office")
                               .order_by(SyncClient.created_at, SyncClient.id).limit(1))
    client_id = client_id or str(uuid.uuid4())
    try:
        engine.claim_client(session, actor.user_id, client_id, label="网页（办公端）", kind="office")
    except (engine.ClientNotYours, engine.ClientRetired, engine.TooManyClients) as exc:
        session.rollback()
        raise syncing.claim_errors(exc) from None
    return client_id


_STATUS_OF = {
    "validation_error": 422, "inspection.not_found": 404, "conflict.not_found": 404,
    "sync.not_participant": 403, "sync.recused": 403, "record.lead_only": 403, "section.other_department": 403,
}


def act(session: Session, actor: Actor, inspection_id: int, if_match: str | None, name: str, args: dict, *,
        queue=None) -> dict:
    """One of the lead's actions as a mutation of the office client, checked against ``If-Match``.

    ``queue`` renders the PDF of a record this submits (``record_pdf``)."""
    if actor.inspector_id is None:
        raise Forbidden("只有检查组组长可以在此操作（当前账号未关联执法检查人员）", code="forbidden.not_inspector")
    _get(session, inspection_id)
    check_if_match(if_match, etag(inspection_id, version(session, inspection_id)), "inspection")
    client_id = _office_client(session, actor)
    last = session.scalar(select(SyncClient.last_mutation_id).where(SyncClient.id == client_id))
    args = {"inspection_id": inspection_id, **args}
    mutation = protocol.Mutation(last + 1, name, args, None,
                                 payload_sha256=protocol.payload_hash({"name": name, "args": args}))
    body = syncing.push(session, actor, client_id, [mutation], queue=queue)
    result = body["results"][0]
    if result["status"] == "rejected":
        status = _STATUS_OF.get(result["code"], 409)
        raise DomainError(result["message"], code=result["code"], status=status, errors=result.get("errors"),
                          details=result.get("details"))
    return result


def record_fields(session: Session, actor: Actor, inspection_id: int, if_match: str | None, values: dict) -> dict:
    """PATCH the record: the If-Match version makes every field's current revision the base."""
    if not isinstance(values, dict) or not values:
        raise InvalidInput("fields 须为 {路径: 值}，至少一项", errors={"fields": ["必填项"]})
    data, _ = read(session, actor, inspection_id)
    revs = (data.get("record") or {}).get("revs", {})
    fields = {path: {"value": value, "base_rev": revs.get(path, 0)} for path, value in values.items()}
    return act(session, actor, inspection_id, if_match, "record.set", {"fields": fields})


def finalize(session: Session, actor: Actor, inspection_id: int, if_match: str | None) -> dict:
    """At the desk the lead reviews what the ETag names; the If-Match check makes that the record hashed."""
    from backend.inspections.batch import FieldBatch
    from backend.inspections.handlers import current_record_hash

    _get(session, inspection_id)
    batch = FieldBatch(session, actor)
    content_hash = current_record_hash(batch, batch.inspection(inspection_id))
    return act(session, actor, inspection_id, if_match, "record.finalize", {"content_hash": content_hash})


def submit(session: Session, actor: Actor, inspection_id: int, if_match: str | None, *, queue=None) -> dict:
    data, _tag = read(session, actor, inspection_id)
    content_hash = (data.get("record") or {}).get("content_hash") or "0" * 64
    return act(session, actor, inspection_id, if_match, "record.submit", {"content_hash": content_hash},
               queue=queue)


def list_query(session: Session, actor: Actor, args: dict):
    """Inspections staff may list (their department's tasks; all for sysadmin and supervisor)."""
    stmt = select(Inspection).order_by(Inspection.task_id, Inspection.group_id, Inspection.position)
    if actor.role not in (Role.SYSADMIN, Role.SUPERVISOR):
        if actor.role not in (Role.DEPT_ADMIN, Role.PLANNER) or actor.department_id is None:
            raise Forbidden("无权查看检查记录列表", code="forbidden.role")
        stmt = stmt.where(Inspection.task_id.in_(select(TaskDepartment.task_id).where(
            TaskDepartment.department_id == actor.department_id)))
    if args.get("task_id"):
        stmt = stmt.where(Inspection.task_id == args["task_id"])
    if args.get("status"):
        stmt = stmt.where(Inspection.status == args["status"])
    if args.get("reinspection") is not None:       # 复查 only (true) or the drawn inspections only (false)
        stmt = stmt.where(Inspection.followup_id.is_not(None) if args["reinspection"]
                          else Inspection.followup_id.is_(None))
    today = deadlines.today_shanghai()
    state = args.get("deadline_state")
    if state in ("overdue", "due_soon", "on_track"):   # open: neither published nor exempt
        stmt = stmt.where(Inspection.published_at.is_(None), Inspection.publication_exempt_at.is_(None))
    if state == "overdue":
        stmt = stmt.where(Inspection.publication_due_on < today)
    elif state in ("due_soon", "on_track"):
        soon = deadlines._calendar(session).add_working_days(today, deadlines.DUE_SOON_WORKING_DAYS).day
        stmt = stmt.where(Inspection.publication_due_on >= today)
        stmt = stmt.where(Inspection.publication_due_on <= soon if state == "due_soon"
                          else Inspection.publication_due_on > soon)
    return stmt


def row(inspection: Inspection, calendar, session: Session) -> dict:
    """One line of the office list: the assignment and its publication clock (which days are still provisional)."""
    return {"id": inspection.id, "task_id": inspection.task_id, "group_id": inspection.group_id,
            "status": inspection.status, "target_code": inspection.target.code, "target_name": inspection.target.name,
            "started_at": inspection.started_at, "completed_at": inspection.completed_at,
            "completed_on": inspection.completed_on, "publication_due_on": inspection.publication_due_on,
            "due_provisional": inspection.due_provisional,
            **(deadlines.clock_json(inspection, text=False) if inspection.completed_on else {}),
            "provisional_periods": deadlines.provisional_periods(session, inspection, calendar),
            "published_at": inspection.published_at, "followup_id": inspection.followup_id}


def rows(session: Session, inspections: list[Inspection]) -> list[dict]:
    """A page of ``list_query`` as rows (``row``), on one calendar."""
    calendar = deadlines._calendar(session)
    return [row(i, calendar, session) for i in inspections]


def _union_periods(calendar, rows: list[Inspection]) -> list[dict]:
    """Every provisional day any of these deadlines waits for, as periods (docs/deadlines.md)."""
    from backend.publication.calendar import provisional_periods

    days = {}
    for r in rows:
        if r.publication_due_on is None or not r.due_provisional or r.completed_on is None:
            continue
        day = deadlines.start_of(r)[1]
        while day < r.publication_due_on:
            day += dt.timedelta(days=1)
            if day not in days:
                days[day] = calendar(day)
    return [deadlines.period_json(p) for p in provisional_periods(days[d] for d in sorted(days))]


def task_publication(session: Session, actor: Actor, task_id: int) -> dict:
    """A task's inspections by status and deadline state, and its latest due date (docs/deadlines.md)."""
    task = session.get(Task, task_id)
    if task is None:
        raise NotFound("任务不存在", code="task.not_found")
    if actor.role not in (Role.SYSADMIN, Role.SUPERVISOR):
        if actor.department_id not in {d.department_id for d in task.departments}:
            raise Forbidden("只能查看本部门参与的任务", code="forbidden.department")
    rows = list(session.scalars(select(Inspection).where(Inspection.task_id == task_id, Inspection.followup_id.is_(None),
                                                         Inspection.status.in_(("assigned", "in_progress", "completed")))))
    calendar = deadlines._calendar(session)
    today = deadlines.today_shanghai()
    by_status: dict[str, int] = {}
    by_state: dict[str, int] = {}
    due = [r.publication_due_on for r in rows if r.publication_due_on]
    for r in rows:
        by_status[r.status] = by_status.get(r.status, 0) + 1
        s = deadlines.state_of(session, r, today, calendar)
        if s:
            by_state[s["state"]] = by_state.get(s["state"], 0) + 1
    worst = next((s for s in ("overdue", "due_soon", "on_track") if by_state.get(s)), None)
    return {"task_id": task.id, "task_code": task.code, "inspections": len(rows), "by_status": by_status,
            "by_deadline_state": by_state, "latest_due_on": max(due).isoformat() if due else None,
            "provisional": any(r.due_provisional for r in rows if r.publication_due_on),
            "provisional_periods": _union_periods(calendar, rows),
            "state": worst, "state_label": deadlines.STATE_LABELS.get(worst) if worst else None}

