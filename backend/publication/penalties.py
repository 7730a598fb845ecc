"""Penalty decisions (行政处罚决定) that follow an inspection, published apart within 7 working days of the
decision (郴州; only the inspection itself goes out under 20 working days). No Flask; every change is audited.

A department admin or publisher of a department taking part in the inspection records the decision (its
number, date and a summary written for the public), then publishes it; the public text is built by
``redaction.penalty_document`` (a whitelist: the decision, the authority, the business, the task, the summary)
and frozen in the row. A published decision is never changed.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit.services import record as audit
from backend.db import utcnow
from backend.directory.models import Department
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.inspections import deadlines
from backend.publication import redaction
from backend.publication.models import PenaltyDecision
from backend.publication.results import _context, _own_part

SUMMARY_MAX = 1000
CLOCK_START_LABEL = "自处罚决定作出之日（第 0 天）起算"


def _calendar(session: Session):
    from backend.publication.services import work_calendar

    return work_calendar(session)


def _get(session: Session, decision_id: int) -> PenaltyDecision:
    row = session.get(PenaltyDecision, decision_id)
    if row is None:
        raise NotFound("行政处罚决定不存在", code="penalty.not_found")
    return row


def _own(actor: Actor, row: PenaltyDecision) -> None:
    from backend.publication.results import _forbid_role

    _forbid_role(actor)
    if actor.department_id != row.department_id:
        raise Forbidden("只能办理本部门作出的行政处罚决定", code="forbidden.department")


def create(session: Session, actor: Actor, inspection_id: int, data: dict) -> dict:
    ctx = _context(session, inspection_id)
    department_id, _ = _own_part(actor, ctx)
    decided_on: dt.date = data["decided_on"]
    if ctx.inspection.completed_on and decided_on < ctx.inspection.completed_on:
        raise InvalidInput("处罚决定日期不能早于检查完成日期", code="penalty.bad_date",
                           errors={"decided_on": [f"早于检查完成日期 {ctx.inspection.completed_on.isoformat()}"]})
    if decided_on > deadlines.today_shanghai():
        raise InvalidInput("处罚决定日期不能晚于今天", code="penalty.bad_date", errors={"decided_on": ["晚于今天"]})
    summary = data["summary"].strip()
    if not summary:
        raise InvalidInput("须填写公开的决定摘要", code="penalty.bad_summary", errors={"summary": ["不能为空"]})
    due = _calendar(session).add_working_days(decided_on, 7)
    row = PenaltyDecision(inspection_id=inspection_id, department_id=department_id,
                          decision_no=data["decision_no"].strip(), decided_on=decided_on, summary=summary,
                          due_on=due.day, due_provisional=due.provisional, created_by=actor.user_id)
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict("本部门已登记该文号的处罚决定", code="penalty.duplicate",
                       details={"decision_no": row.decision_no}) from None
    audit(session, actor, "penalty.create", "penalty_decision", row.id, department_id=department_id,
          after={"inspection_id": inspection_id, "decision_no": row.decision_no,
                 "decided_on": decided_on.isoformat(), "due_on": row.due_on.isoformat()})
    session.commit()
    return view(session, row)


def _source(session: Session, row: PenaltyDecision) -> redaction.PenaltySource:
    ctx = _context(session, row.inspection_id)
    dept = session.get(Department, row.department_id)
    target = ctx.inspection.target
    return redaction.PenaltySource(
        decision_no=row.decision_no, decided_on=row.decided_on, authority=redaction.Department(dept.code, dept.name),
        business_name=target.name, uscc=target.uscc, reg_no=target.reg_no, task_code=ctx.task.code,
        task_name=ctx.task.name, summary=row.summary, record_hash=ctx.record.content_hash)


def preview(session: Session, actor: Actor, decision_id: int) -> dict:
    row = _get(session, decision_id)
    _own(actor, row)
    return {"id": row.id, "content": row.document or redaction.penalty_document(_source(session, row))}


def publish(session: Session, actor: Actor, decision_id: int) -> dict:
    row = _get(session, decision_id)
    _own(actor, row)
    if row.published_at is not None:
        raise Conflict("该处罚决定已公示，不能再次发布", code="penalty.already_published")
    row.document = redaction.penalty_document(_source(session, row))
    row.published_at, row.published_by = utcnow(), actor.user_id
    session.flush()
    late = deadlines.today_shanghai(row.published_at) > row.due_on
    audit(session, actor, "penalty.publish", "penalty_decision", row.id, department_id=row.department_id,
          detail={"decision_no": row.decision_no, "due_on": row.due_on.isoformat(), "late": late,
                  "document_sha256": redaction.document_sha256(row.document)})
    session.commit()
    return view(session, row)


def deadline_of(session: Session, row: PenaltyDecision, today: dt.date | None = None) -> dict:
    today = today or deadlines.today_shanghai()
    if row.published_at is not None:
        state = "published"
    else:
        state = _calendar(session).deadline_state(row.due_on, today, deadlines.DUE_SOON_WORKING_DAYS)
    return {"start_on": row.decided_on, "days": 7, "due_on": row.due_on, "provisional": row.due_provisional,
            "clock_start": "decision", "clock_start_label": CLOCK_START_LABEL,
            "state": state, "state_label": deadlines.STATE_LABELS[state]}


def view(session: Session, row: PenaltyDecision) -> dict:
    return {"id": row.id, "inspection_id": row.inspection_id, "department_id": row.department_id,
            "decision_no": row.decision_no, "decided_on": row.decided_on, "summary": row.summary,
            "deadline": deadline_of(session, row), "published_at": row.published_at, "content": row.document,
            "created_at": row.created_at}


def staff_query(actor: Actor, args: dict):
    """The caller's department's decisions (sysadmins and supervisors: any department, or all)."""
    from backend.auth.roles import Role

    stmt = select(PenaltyDecision)
    dept = args.get("department_id")
    if actor.role in (Role.SYSADMIN.value, Role.SUPERVISOR.value):
        if dept:
            stmt = stmt.where(PenaltyDecision.department_id == dept)
    else:
        if dept and dept != actor.department_id:
            raise Forbidden("只能查看本部门的行政处罚决定", code="forbidden.department")
        stmt = stmt.where(PenaltyDecision.department_id == actor.department_id)
    if args.get("inspection_id"):
        stmt = stmt.where(PenaltyDecision.inspection_id == args["inspection_id"])
    if args.get("published") is not None:
        stmt = stmt.where(PenaltyDecision.published_at.is_not(None) if args["published"]
                          else PenaltyDecision.published_at.is_(None))
    return stmt.order_by(PenaltyDecision.due_on, PenaltyDecision.id)


def public_query(args: dict):
    stmt = select(PenaltyDecision).where(PenaltyDecision.published_at.is_not(None))
    if args.get("decision_no"):
        stmt = stmt.where(PenaltyDecision.decision_no == args["decision_no"].strip())
    if args.get("department_id"):
        stmt = stmt.where(PenaltyDecision.department_id == args["department_id"])
    if args.get("from_"):
        stmt = stmt.where(PenaltyDecision.decided_on >= args["from_"])
    if args.get("to"):
        stmt = stmt.where(PenaltyDecision.decided_on <= args["to"])
    if args.get("from_") and args.get("to") and args["from_"] > args["to"]:
        raise InvalidInput("起始日期不能晚于截止日期", code="penalties.bad_period", errors={"from": ["晚于 to"]})
    return stmt.order_by(PenaltyDecision.decided_on.desc(), PenaltyDecision.id.desc())


def public_view(row: PenaltyDecision) -> dict:
    """Only the frozen public text, its id and when it went out."""
    return {"id": row.id, "published_at": row.published_at, "content": row.document,
            "content_sha256": redaction.document_sha256(row.document)}


def public_one(session: Session, decision_id: int) -> dict:
    row = session.get(PenaltyDecision, decision_id)
    if row is None or row.published_at is None:
        raise NotFound("公示的行政处罚决定不存在", code="penalty.not_found")
    return public_view(row)
