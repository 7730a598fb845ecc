"""Publishing results (公示): who publishes which part, the preview, corrections, 不适合公开, the queue, the
public search. No Flask; every change is audited (docs/decisions.md, "Publication").

谁检查、谁录入、谁公开: the lead department publishes the record as a whole (``kind`` record), each
participating department its own part (``kind`` department: its items and its result categories). A
department admin or a publisher (``Role.PUBLISHER``) of that department publishes; an officer never does.
A published version is never changed: a correction is a new version saying what changed and why, and the
old one stays public, marked superseded.
"""
from __future__ import annotations

import dataclasses
import datetime as dt

from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit.services import record as audit
from backend.auth.roles import PUBLISHERS, Role
from backend.db import utcnow
from backend.directory.models import CheckPoint, Department, Item
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound
from backend.inspections import deadlines, rulebook
from backend.inspections.access import participation
from backend.inspections.models import Inspection, Record, Section, SectionAnswer
from backend.inspections.rules import OUTCOME_CATEGORY, RESULT_CATEGORIES
from backend.draws.models import GroupMember
from backend.plans.models import Task, TaskItem
from backend.publication import redaction
from backend.media.common import app_settings, on_first_need
from backend.media.models import Media
from backend.media.upkeep import derived as media_derived
from backend.publication.models import (EXEMPTION_STATUSES, RESULT_KINDS, RESULT_STATES, PublicationExemption,
                                        PublishedPhoto, PublishedResult)

REMARKS_MAX = 500
PHOTOS_MAX = 9
PROBLEM_CATEGORIES = ("pending_followup", "other_violation")   # a 不符合 with no category of the record's to say it


def _forbid_role(actor: Actor) -> None:
    if actor.role not in {r.value for r in PUBLISHERS}:
        label = Role(actor.role).label if actor.role in {r.value for r in Role} else str(actor.role)
        raise Forbidden(f"当前角色（{label}）无权公示检查结果：由部门管理员或公示审核人员审核发布",
                        code="forbidden.role")


@dataclasses.dataclass
class Context:
    inspection: Inspection
    record: Record
    task: Task
    departments: list[int]          # the departments taking part (the group's, recusals applied)
    leader_id: int                  # the group's lead (an inspector)


def _context(session: Session, inspection_id: int) -> Context:
    inspection = session.get(Inspection, inspection_id)
    if inspection is None:
        raise NotFound("检查记录不存在", code="inspection.not_found")
    record = session.get(Record, inspection_id)
    if record is None or record.state != "submitted" or inspection.status != "completed":
        raise Conflict("检查记录尚未由组长提交，不能公示", code="publication.not_submitted")
    if inspection.followup_id is not None:
        raise Conflict("复查检查的结论记入其后续处置，不单独公示", code="publication.reinspection")
    part = participation(session, [inspection])[inspection.id]
    departments = sorted(set(part.departments()) | {inspection.task.lead_department_id})
    return Context(inspection, record, inspection.task, departments, part.leader_id)


def _own_part(actor: Actor, ctx: Context) -> tuple[int, str]:
    """The part ``actor`` publishes: (department id, record | department)."""
    _forbid_role(actor)
    if actor.department_id is None or actor.department_id not in ctx.departments:
        raise Forbidden("只能公示本部门参加的检查", code="forbidden.department")
    return actor.department_id, "record" if actor.department_id == ctx.task.lead_department_id else "department"


# --- 不适合公开 --------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Exemption:
    status: str                  # requested | approved | refused
    reason: str
    source: str                  # record | request
    row: PublicationExemption | None   # None: the lead's not_public not yet decided

    def to_dict(self) -> dict:
        row = self.row
        return {"status": self.status, "status_label": EXEMPTION_STATUSES[self.status], "reason": self.reason,
                "source": self.source, "requested_by": row.requested_by if row else None,
                "requested_at": row.requested_at if row else None,
                "decided_by": row.decided_by if row else None, "decided_at": row.decided_at if row else None,
                "decision_note": row.decision_note if row else None}


def exemption_of(session: Session, inspection_id: int, record: Record | None = None,
                 rows: list[PublicationExemption] | None = None) -> Exemption | None:
    """Where 不适合公开 stands: an approval is final; an open request waits; a refusal leaves the result to be
    published; the lead's ``not_public`` counts as a request until someone decides it. ``rows``: the
    inspection's exemption rows in id order, when already read."""
    if rows is None:
        rows = list(session.scalars(select(PublicationExemption)
                                    .where(PublicationExemption.inspection_id == inspection_id)
                                    .order_by(PublicationExemption.id)))
    for status in ("approved", "requested", "refused"):
        row = next((r for r in reversed(rows) if r.status == status), None)
        if row is not None:
            return Exemption(status, row.reason, row.source, row)
    record = record or session.get(Record, inspection_id)
    not_public = (record.data or {}).get("not_public") if record is not None else None
    if isinstance(not_public, dict) and str(not_public.get("reason") or "").strip():
        return Exemption("requested", str(not_public["reason"]).strip(), "record", None)
    return None


def _ensure_publishable(session: Session, ctx: Context) -> None:
    exemption = exemption_of(session, ctx.inspection.id, ctx.record)
    if exemption is not None and exemption.status == "approved":
        raise Conflict("该检查经批准不适合公开，不予公示", code="publication.exempt")
    if exemption is not None and exemption.status == "requested":
        raise Conflict("该检查已申请不适合公开，须先经牵头部门审批", code="publication.exemption_pending",
                       details={"reason": exemption.reason})


def _lead_publisher(actor: Actor, ctx: Context) -> None:
    _forbid_role(actor)
    if actor.department_id != ctx.task.lead_department_id:
        raise Forbidden("不适合公开由牵头部门申请和审批", code="forbidden.department")


def request_exemption(session: Session, actor: Actor, inspection_id: int, reason: str) -> dict:
    """A publisher of the lead department asks that the result not be published (the lead asks in the record)."""
    ctx = _context(session, inspection_id)
    _lead_publisher(actor, ctx)
    reason = (reason or "").strip()
    if len(reason) < 4:
        raise InvalidInput("须说明不适合公开的理由（至少 4 个字）", errors={"reason": ["至少 4 个字"]})
    current = exemption_of(session, inspection_id, ctx.record)
    if current is not None and current.status in ("requested", "approved"):
        raise Conflict(f"该检查的不适合公开申请{EXEMPTION_STATUSES[current.status]}", code="exemption.exists")
    if _current(session, inspection_id, ctx.task.lead_department_id) is not None:
        raise Conflict("检查结果已经公示，不能再申请不适合公开", code="exemption.already_published")
    row = PublicationExemption(inspection_id=inspection_id, reason=reason, source="request",
                               requested_by=actor.user_id, status="requested")
    session.add(row)
    session.flush()
    audit(session, actor, "publication.exemption_request", "inspection", inspection_id,
          detail={"exemption_id": row.id, "reason": reason}, department_id=actor.department_id)
    session.commit()
    return {"inspection_id": inspection_id, "exemption": exemption_of(session, inspection_id).to_dict()}


def decide_exemption(session: Session, actor: Actor, inspection_id: int, decision: str, note: str | None) -> dict:
    """Approve or refuse 不适合公开: a department admin or publisher of the lead department who is neither the
    group's lead nor the one who asked."""
    ctx = _context(session, inspection_id)
    _lead_publisher(actor, ctx)
    current = exemption_of(session, inspection_id, ctx.record)
    if current is None or current.status != "requested":
        raise Conflict("没有待审批的不适合公开申请", code="exemption.not_requested")
    row = current.row
    requested_by = row.requested_by if row else ctx.record.submitted_by
    if actor.inspector_id is not None and actor.inspector_id == ctx.leader_id:
        raise Forbidden("不适合公开须由检查组组长以外的人员审批", code="exemption.approver_is_lead")
    if actor.user_id is not None and actor.user_id in (requested_by, ctx.record.submitted_by):
        raise Forbidden("不适合公开须由申请人以外的人员审批", code="exemption.approver_is_requester")
    if row is None:
        row = PublicationExemption(inspection_id=inspection_id, reason=current.reason, source="record",
                                   requested_by=ctx.record.submitted_by,
                                   requested_at=ctx.record.submitted_at or utcnow(), status="requested")
        session.add(row)
    row.status = "approved" if decision == "approve" else "refused"
    row.decided_by, row.decided_at, row.decision_note = actor.user_id, utcnow(), (note or "").strip() or None
    session.flush()
    audit(session, actor, f"publication.exemption_{'approve' if decision == 'approve' else 'refuse'}", "inspection",
          inspection_id, detail={"exemption_id": row.id, "reason": row.reason, "note": row.decision_note},
          department_id=actor.department_id)
    if decision == "approve":
        ctx.inspection.publication_exempt_at = row.decided_at
        _changed(session, ctx)
    session.commit()
    return {"inspection_id": inspection_id, "exemption": exemption_of(session, inspection_id).to_dict()}


# --- what is published -------------------------------------------------------------------------------------

def _checked_items(session: Session, ctx: Context, department_ids: list[int]) -> tuple[redaction.CheckedItem, ...]:
    """The task's items of these departments that their sections recorded (a method, or an answered check point)."""
    sections = {s.department_id: s for s in session.scalars(
        select(Section).where(Section.inspection_id == ctx.inspection.id, Section.department_id.in_(department_ids)))}
    answered: dict[int, set[int]] = {}
    if sections:
        rows = session.execute(select(Section.department_id, CheckPoint.item_id)
                               .join(SectionAnswer, SectionAnswer.section_id == Section.id)
                               .join(CheckPoint, CheckPoint.id == SectionAnswer.check_point_id)
                               .where(Section.id.in_([s.id for s in sections.values()])))
        for dept_id, item_id in rows:
            answered.setdefault(dept_id, set()).add(item_id)
    names = {i: n for i, n in session.execute(select(Department.id, Department.name)
                                               .where(Department.id.in_(department_ids)))}
    out = []
    for ti, item in session.execute(select(TaskItem, Item).join(Item, Item.id == TaskItem.item_id)
                                    .where(TaskItem.task_id == ctx.task.id,
                                           TaskItem.department_id.in_(department_ids))
                                    .order_by(TaskItem.department_id, Item.code)):
        section = sections.get(ti.department_id)
        method = (section.data or {}).get(f"items.{item.id}.method") if section else None
        if method is None and item.id not in answered.get(ti.department_id, set()):
            continue
        out.append(redaction.CheckedItem(item.code, item.name, names.get(ti.department_id, ""),
                                         (method,) if isinstance(method, str) else ()))
    return tuple(out)


def _department_categories(session: Session, ctx: Context, department_id: int) -> tuple[str, ...]:
    """A participating department's result categories: where the whole visit had an outcome (nobody could be
    inspected), the record's; else from its section: its outcome's category; with a 不符合, the record's problem
    categories (else 发现问题待后续处理 / 违反其他规定); else 未发现问题."""
    record_data = ctx.record.data or {}
    visit = record_data.get("outcome")
    if isinstance(visit, dict) and visit.get("code") in OUTCOME_CATEGORY:
        return tuple(record_data.get("result_categories") or ()) or (OUTCOME_CATEGORY[visit["code"]],)
    section = session.scalar(select(Section).where(Section.inspection_id == ctx.inspection.id,
                                                   Section.department_id == department_id))
    outcome = (section.data or {}).get("outcome") if section else None
    if isinstance(outcome, dict) and outcome.get("code") in OUTCOME_CATEGORY:
        return (OUTCOME_CATEGORY[outcome["code"]],)
    failed = False
    if section is not None:
        for data in session.scalars(select(SectionAnswer.data).where(SectionAnswer.section_id == section.id)):
            if isinstance(data, dict) and data.get("result") == "fail":
                failed = True
                break
    if not failed:
        return ("no_problem",)
    recorded = [c for c in record_data.get("result_categories") or [] if c != "no_problem"]
    return tuple(recorded) or PROBLEM_CATEGORIES


def check_categories(codes: list[str]) -> None:
    """The record's rules for result categories (docs/sync.md, record.categories.*)."""
    unknown = [c for c in codes if c not in RESULT_CATEGORIES]
    if unknown:
        raise InvalidInput("检查结果不在规定的类别中", code="publication.bad_categories",
                           errors={"result_categories": [f"未知类别：{'、'.join(unknown)}"]})
    problems = rulebook.category_problems(codes)
    if problems:
        raise InvalidInput("；".join(p.message for p in problems), code="publication.bad_categories",
                           errors={"result_categories": [p.message for p in problems]},
                           details={"rules": [p.rule for p in problems]})


def _answer_photos(session: Session, inspection_id: int, department_ids: list[int]) -> set[str]:
    """The originals' SHA-256 of every photo in the check points of these departments' sections."""
    found: set[str] = set()
    rows = session.scalars(select(SectionAnswer.data).join(Section, Section.id == SectionAnswer.section_id)
                           .where(Section.inspection_id == inspection_id, Section.department_id.in_(department_ids)))
    for data in rows:
        for photo in (data or {}).get("photos") or ():
            if isinstance(photo, dict) and isinstance(photo.get("sha256"), str):
                found.add(photo["sha256"])
    return found


def _public_photos(session: Session, ctx: Context, department_ids: list[int], chosen) -> tuple[str, ...]:
    """The public copies of the photos a publisher ticked (originals' SHA-256, in the order given).

    A photo must be one of this part's check points (the record: any department's) and processed: its public
    copy, re-encoded without EXIF, GPS, ICC or XMP, is what goes out; the original never does."""
    if not chosen:
        return ()
    chosen = list(dict.fromkeys(c.lower() for c in chosen))
    if len(chosen) > PHOTOS_MAX:
        raise InvalidInput(f"最多公开 {PHOTOS_MAX} 张照片", code="publication.bad_photos",
                           errors={"photos": [f"不超过 {PHOTOS_MAX} 张"]})
    own = _answer_photos(session, ctx.inspection.id, department_ids)
    stored = {m.sha256: m for m in session.scalars(select(Media).where(Media.sha256.in_(chosen)))}
    foreign = [c for c in chosen if c not in own or c not in stored or stored[c].kind != "photo"]
    if foreign:
        raise InvalidInput("所选照片不是本部门在该检查中拍摄并已上传的照片", code="publication.bad_photos",
                           errors={"photos": [f"不可公开：{c[:12]}…" for c in foreign]})
    for c in chosen:   # the app's photos: their public copy is made when first needed, now (upkeep.derived)
        if on_first_need(stored[c].kind, stored[c].status, stored[c].thumb_sha256):
            stored[c] = media_derived(session, app_settings(), c)
    waiting = [c for c in chosen if stored[c].public_sha256 is None]
    if waiting:
        raise Conflict("照片仍在处理中（正在生成去除元数据的公开副本），请稍后再发布", code="publication.photos_processing",
                       details={"photos": waiting})
    return tuple(stored[c].public_sha256 for c in chosen)


def _source(session: Session, ctx: Context, department_id: int, kind: str, data: dict) -> redaction.Source:
    task, target = ctx.task, ctx.inspection.target
    depts = {d.id: d for d in session.scalars(select(Department).where(Department.id.in_(ctx.departments)))}
    lead = task.lead_department_id
    if kind == "record":
        authorities = tuple((redaction.Department(depts[d].code, depts[d].name), "lead" if d == lead else "participant")
                            for d in sorted(ctx.departments, key=lambda d: (d != lead, depts[d].code)))
        items = _checked_items(session, ctx, ctx.departments)
        categories = tuple((ctx.record.data or {}).get("result_categories") or ())
        if data.get("result_categories") is not None:
            raise InvalidInput("牵头部门公示的是组长提交的检查结果，不能修改其类别", code="publication.categories_fixed",
                               errors={"result_categories": ["牵头部门不能修改"]})
    else:
        authorities = ((redaction.Department(depts[department_id].code, depts[department_id].name), "participant"),)
        items = _checked_items(session, ctx, [department_id])
        categories = tuple(data["result_categories"]) if data.get("result_categories") is not None \
            else _department_categories(session, ctx, department_id)
    check_categories(list(categories))
    remarks = data.get("remarks")
    if remarks is not None:
        remarks = remarks.strip()
        if len(remarks) > REMARKS_MAX:
            raise InvalidInput(f"备注不能超过 {REMARKS_MAX} 个字", errors={"remarks": [f"长度不能超过 {REMARKS_MAX}"]})
    publisher = depts[department_id]
    return redaction.Source(
        kind=kind, plan_code=task.plan.code, plan_name=task.plan.name, task_code=task.code, task_name=task.name,
        directed=bool(task.filters), joint=len(ctx.departments) > 1, authorities=authorities,
        publisher=redaction.Department(publisher.code, publisher.name), business_name=target.name,
        uscc=target.uscc, reg_no=target.reg_no, items=items, completed_on=ctx.inspection.completed_on,
        categories=categories, remarks=remarks or None, record_hash=ctx.record.content_hash,
        photos=_public_photos(session, ctx, list(ctx.departments) if kind == "record" else [department_id],
                              data.get("photos")))


def _changed(session: Session, ctx: Context) -> None:
    """The inspection's deadline state changed (published, exempt): a new revision of it, so that phones pull it
    and the office view's ETag moves. Last before the commit (the change log's lock)."""
    from sync import changes

    session.flush()
    changes.append(session, [changes.Change("inspection", ctx.inspection.id, ctx.task.id, "publication")])


def _current(session: Session, inspection_id: int, department_id: int) -> PublishedResult | None:
    return session.scalar(select(PublishedResult).where(PublishedResult.inspection_id == inspection_id,
                                                        PublishedResult.department_id == department_id,
                                                        PublishedResult.state == "current"))


def preview(session: Session, actor: Actor, inspection_id: int, data: dict) -> dict:
    """Exactly the public text a publish (or, once published, a correction) with ``data`` would put out.
    Changes nothing; ``blocked`` says why it could not go out now."""
    ctx = _context(session, inspection_id)
    department_id, kind = _own_part(actor, ctx)
    doc = redaction.public_document(_source(session, ctx, department_id, kind, data))
    current = _current(session, inspection_id, department_id)
    blocked = None
    try:
        _ensure_publishable(session, ctx)
    except Conflict as exc:
        blocked = {"code": exc.code, "message": exc.message}
    return {"inspection_id": inspection_id, "department_id": department_id, "kind": kind,
            "kind_label": RESULT_KINDS[kind], "version": (current.version + 1) if current else 1,
            "supersedes_id": current.id if current else None, "blocked": blocked,
            "content": doc, "content_sha256": redaction.document_sha256(doc)}


def _new_version(session: Session, actor: Actor, ctx: Context, department_id: int, kind: str, data: dict,
                 current: PublishedResult | None, change_note: str | None) -> PublishedResult:
    doc = redaction.public_document(_source(session, ctx, department_id, kind, data))
    digest = redaction.document_sha256(doc)
    if current is not None and current.document_sha256 == digest:
        raise Conflict("更正后的内容与现行公示相同", code="publication.unchanged")
    target = ctx.inspection.target
    row = PublishedResult(inspection_id=ctx.inspection.id, department_id=department_id, kind=kind,
                          version=(current.version + 1) if current else 1, state="current", document=doc,
                          document_sha256=digest, record_hash=ctx.record.content_hash, task_id=ctx.task.id,
                          task_code=ctx.task.code, target_name=target.name, target_code=target.uscc or target.reg_no,
                          completed_on=ctx.inspection.completed_on, change_note=change_note,
                          supersedes_id=current.id if current else None, published_by=actor.user_id)
    if current is not None:
        current.state, current.superseded_at = "superseded", utcnow()
        session.flush()   # the old version leaves "current" before the new one arrives
    session.add(row)
    session.flush()
    session.add_all(PublishedPhoto(result_id=row.id, sha256=p["sha256"]) for p in doc.get("photos", ()))
    if current is not None:
        current.superseded_by_id = row.id
    if kind == "record" and ctx.inspection.published_at is None:
        ctx.inspection.published_at = row.published_at
    session.flush()
    return row


def _one_at_a_time(fn):
    """Two publishers of one department at once: the database's unique version lets one through; the other
    is told so (409 ``publication.concurrent``) rather than given a bare duplicate error."""
    import functools

    from sqlalchemy.exc import IntegrityError

    @functools.wraps(fn)
    def wrapper(session: Session, *args, **kwargs):
        try:
            return fn(session, *args, **kwargs)
        except IntegrityError:
            session.rollback()
            raise Conflict("本部门的另一位人员刚刚发布了该检查结果，请刷新后查看", code="publication.concurrent") from None

    return wrapper


@_one_at_a_time
def publish(session: Session, actor: Actor, inspection_id: int, data: dict) -> dict:
    ctx = _context(session, inspection_id)
    department_id, kind = _own_part(actor, ctx)
    _ensure_publishable(session, ctx)
    current = _current(session, inspection_id, department_id)
    if current is not None:
        raise Conflict("本部门已公示该检查结果；如需更正，请发布更正版本并说明理由", code="publication.already_published",
                       details={"result_id": current.id, "version": current.version})
    row = _new_version(session, actor, ctx, department_id, kind, data, None, None)
    audit(session, actor, "publication.publish", "published_result", row.id,
          detail={"inspection_id": inspection_id, "kind": kind, "version": row.version,
                  "document_sha256": row.document_sha256}, department_id=department_id)
    if kind == "record":
        _changed(session, ctx)
    session.commit()
    return staff_view(session, row)


@_one_at_a_time
def correct(session: Session, actor: Actor, inspection_id: int, data: dict) -> dict:
    ctx = _context(session, inspection_id)
    department_id, kind = _own_part(actor, ctx)
    _ensure_publishable(session, ctx)
    current = _current(session, inspection_id, department_id)
    if current is None:
        raise Conflict("本部门尚未公示该检查结果，无可更正", code="publication.not_published")
    note = (data.get("change_note") or "").strip()
    if len(note) < 4:
        raise InvalidInput("须说明更正了什么、为什么更正（至少 4 个字）", errors={"change_note": ["至少 4 个字"]})
    row = _new_version(session, actor, ctx, department_id, kind, data, current, note)
    audit(session, actor, "publication.correct", "published_result", row.id,
          detail={"inspection_id": inspection_id, "kind": kind, "version": row.version, "supersedes_id": current.id,
                  "change_note": note, "document_sha256": row.document_sha256}, department_id=department_id)
    session.commit()
    return staff_view(session, row)


# --- reading ------------------------------------------------------------------------------------------

def _department_names(session: Session, ids) -> dict[int, tuple[str, str]]:
    return {i: (c, n) for i, c, n in session.execute(select(Department.id, Department.code, Department.name)
                                                     .where(Department.id.in_(set(ids))))}


def public_view(session: Session, row: PublishedResult, names: dict | None = None, *, full: bool = True) -> dict:
    """A published version as the public sees it; ``content`` is the document published (``full``)."""
    names = names or _department_names(session, [row.department_id])
    code, name = names[row.department_id]
    out = {"id": row.id, "inspection_id": row.inspection_id, "version": row.version, "kind": row.kind,
           "state": row.state, "state_label": RESULT_STATES[row.state],
           "department": {"id": row.department_id, "code": code, "name": name},
           "task_code": row.task_code, "target_name": row.target_name, "target_code": row.target_code,
           "completed_on": row.completed_on, "published_at": row.published_at,
           "result_categories": row.document["result_categories"],
           "record_hash": row.record_hash, "change_note": row.change_note, "supersedes_id": row.supersedes_id,
           "superseded_by_id": row.superseded_by_id, "superseded_at": row.superseded_at}
    if full:
        pdf = session.scalar(select(Record.pdf_sha256).where(Record.inspection_id == row.inspection_id))
        versions = session.execute(select(PublishedResult.id, PublishedResult.version, PublishedResult.state,
                                          PublishedResult.published_at)
                                   .where(PublishedResult.inspection_id == row.inspection_id,
                                          PublishedResult.department_id == row.department_id)
                                   .order_by(PublishedResult.version))
        out.update({"pdf_sha256": pdf, "content": row.document, "content_sha256": row.document_sha256,
                    "versions": [{"id": i, "version": v, "state": s, "published_at": at} for i, v, s, at in versions]})
    return out


def staff_view(session: Session, row: PublishedResult) -> dict:
    return {**public_view(session, row), "published_by": row.published_by}


def public_result(session: Session, result_id: int) -> dict:
    row = session.get(PublishedResult, result_id)
    if row is None:
        raise NotFound("公示结果不存在", code="result.not_found")
    return public_view(session, row)


def public_photo(session: Session, sha256: str) -> str:
    """The public copy of a photo that a published version (current or superseded) shows; else not found."""
    digest = sha256.lower()
    if session.scalar(select(PublishedPhoto.sha256).where(PublishedPhoto.sha256 == digest).limit(1)) is None:
        raise NotFound("没有公开的这张照片", code="photo.not_found")
    return digest


def public_query(args: dict):
    stmt = select(PublishedResult)
    if not args.get("include_superseded"):
        stmt = stmt.where(PublishedResult.state == "current")
    if args.get("q"):
        needle = args["q"].strip().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        stmt = stmt.where(PublishedResult.target_name.like(f"%{needle}%", escape="\\"))
        stmt = stmt.execution_options(few_matches_first=True)   # a rare name: found by trigrams, then sorted
    if args.get("uscc"):
        stmt = stmt.where(PublishedResult.target_code == args["uscc"].strip().upper())
    if args.get("task"):
        stmt = stmt.where(PublishedResult.task_code == args["task"].strip())
    if args.get("department_id"):
        stmt = stmt.where(PublishedResult.department_id == args["department_id"])
    if args.get("hash"):
        digest = args["hash"].lower()
        of_pdf = select(Record.inspection_id).where(Record.pdf_sha256 == digest)
        stmt = stmt.where(or_(PublishedResult.record_hash == digest, PublishedResult.inspection_id.in_(of_pdf)))
    if args.get("from_"):
        stmt = stmt.where(PublishedResult.completed_on >= args["from_"])
    if args.get("to"):
        stmt = stmt.where(PublishedResult.completed_on <= args["to"])
    if args.get("from_") and args.get("to") and args["from_"] > args["to"]:
        raise InvalidInput("起始日期不能晚于截止日期", code="results.bad_period", errors={"from": ["晚于 to"]})
    return stmt.order_by(PublishedResult.completed_on.desc(), PublishedResult.id.desc())


def public_rows(session: Session, rows: list[PublishedResult]) -> list[dict]:
    names = _department_names(session, [r.department_id for r in rows])
    return [public_view(session, r, names, full=False) for r in rows]


def photo_choices(session: Session, ctx: Context, department_ids: list[int]) -> list[dict]:
    """The photos a publisher of this part may tick: each check point's photos of these departments'
    sections (by department, item, check point, as taken), once each, with whether its public copy is made."""
    rows = session.execute(
        select(Section.department_id, SectionAnswer.data, CheckPoint.text, CheckPoint.seq, Item.code, Item.name)
        .join(Section, Section.id == SectionAnswer.section_id)
        .outerjoin(CheckPoint, CheckPoint.id == SectionAnswer.check_point_id)
        .outerjoin(Item, Item.id == CheckPoint.item_id)
        .where(Section.inspection_id == ctx.inspection.id, Section.department_id.in_(department_ids))).all()
    rows.sort(key=lambda r: (r[0] != ctx.task.lead_department_id, r[0], r[4] or "", r[3] or 0))
    names = _department_names(session, department_ids)
    found: dict[str, dict] = {}
    for dept, data, point, _seq, _code, item in rows:
        for photo in (data or {}).get("photos") or ():
            sha = photo.get("sha256") if isinstance(photo, dict) else None
            if isinstance(sha, str) and sha.lower() not in found:
                found[sha.lower()] = {"sha256": sha.lower(), "department": {"id": dept, "code": names[dept][0],
                                                                             "name": names[dept][1]},
                                      "item": item, "check_point": point}
    stored = {m.sha256: m for m in session.scalars(select(Media).where(Media.sha256.in_(list(found))))} \
        if found else {}
    out = []
    for sha, row in found.items():
        media = stored.get(sha)
        if media is None or media.kind != "photo":
            continue            # named but not uploaded yet, or not a photo: it cannot be ticked
        out.append({**row, "public_sha256": media.public_sha256,    # null until made (on first need: publishing)
                    "ready": media.public_sha256 is not None or on_first_need(media.kind, media.status,
                                                                               media.thumb_sha256)})
    return out


def inspection_status(session: Session, actor: Actor, inspection_id: int) -> dict:
    """For a publisher: each department's part of the inspection (published versions, or still to do), where
    不适合公开 stands, the photos the part may tick and whether it may set its own result categories."""
    ctx = _context(session, inspection_id)
    department_id, kind = _own_part(actor, ctx)
    rows = list(session.scalars(select(PublishedResult).where(PublishedResult.inspection_id == inspection_id)
                                .order_by(PublishedResult.department_id, PublishedResult.version)))
    names = _department_names(session, ctx.departments)
    parts = []
    for dept in sorted(ctx.departments, key=lambda d: (d != ctx.task.lead_department_id, names[d][0])):
        mine = [r for r in rows if r.department_id == dept]
        current = next((r for r in mine if r.state == "current"), None)
        parts.append({"department": {"id": dept, "code": names[dept][0], "name": names[dept][1]},
                      "kind": "record" if dept == ctx.task.lead_department_id else "department",
                      "current_id": current.id if current else None,
                      "versions": [{"id": r.id, "version": r.version, "state": r.state, "published_at": r.published_at}
                                   for r in mine]})
    exemption = exemption_of(session, inspection_id, ctx.record)
    return {"inspection_id": inspection_id, "my_part": kind, "department_id": department_id,
            "completed_on": ctx.inspection.completed_on, "publication_due_on": ctx.inspection.publication_due_on,
            **deadlines.clock_json(ctx.inspection, text=False),
            "published_at": ctx.inspection.published_at,
            "exemption": exemption.to_dict() if exemption else None, "parts": parts,
            "categories_editable": kind == "department",
            "category_choices": [{"code": c, "label": label} for c, label in RESULT_CATEGORIES.items()],
            "photos": photo_choices(session, ctx, list(ctx.departments) if kind == "record" else [department_id]),
            "photos_max": PHOTOS_MAX}


# --- the queue ---------------------------------------------------------------------------------------

def queue_query(session: Session, actor: Actor, args: dict):
    """Submitted records the caller's department takes part in (it leads the task, or has officers in the
    group) whose part it has not yet published, and that are not approved 不适合公开, by due date."""
    _forbid_role(actor)
    dept = actor.department_id
    if dept is None:
        raise Forbidden("只能查看本部门的公示队列", code="forbidden.department")
    # the lead department of the task, or a department with officers in the inspection's group (as _context)
    leads = select(Task.id).where(Task.lead_department_id == dept)
    in_group = select(GroupMember.group_id).where(GroupMember.department_id == dept)
    published = exists().where(PublishedResult.inspection_id == Inspection.id, PublishedResult.department_id == dept)
    stmt = (select(Inspection).join(Record, Record.inspection_id == Inspection.id)
            .where(Record.state == "submitted", Inspection.status == "completed", Inspection.followup_id.is_(None),
                   or_(Inspection.task_id.in_(leads), Inspection.group_id.in_(in_group)),
                   ~published, Inspection.publication_exempt_at.is_(None)))
    if args.get("task_id"):
        stmt = stmt.where(Inspection.task_id == args["task_id"])
    today = args.get("today") or deadlines.today_shanghai()
    state = args.get("state")
    if state == "overdue":
        stmt = stmt.where(Inspection.publication_due_on < today)
    elif state in ("due_soon", "on_track"):
        soon = deadlines._calendar(session).add_working_days(today, deadlines.DUE_SOON_WORKING_DAYS).day
        stmt = stmt.where(Inspection.publication_due_on >= today)
        stmt = stmt.where(Inspection.publication_due_on <= soon if state == "due_soon"
                          else Inspection.publication_due_on > soon)
    return stmt.order_by(Inspection.publication_due_on, Inspection.id)


def queue_rows(session: Session, actor: Actor, inspections: list[Inspection], today: dt.date | None = None) -> list[dict]:
    from backend.publication.services import work_calendar

    calendar = work_calendar(session)
    today = today or deadlines.today_shanghai()
    ids = [i.id for i in inspections]
    records = {r.inspection_id: r for r in session.scalars(select(Record).where(Record.inspection_id.in_(ids)))}
    asked: dict[int, list[PublicationExemption]] = {i: [] for i in ids}
    for row in session.scalars(select(PublicationExemption).where(PublicationExemption.inspection_id.in_(ids))
                               .order_by(PublicationExemption.id)):
        asked[row.inspection_id].append(row)
    out = []
    for i in inspections:
        task = i.task
        state = calendar.deadline_state(i.publication_due_on, today, deadlines.DUE_SOON_WORKING_DAYS)
        exemption = exemption_of(session, i.id, records.get(i.id), asked[i.id])
        out.append({"inspection_id": i.id, "task_id": task.id, "task_code": task.code, "task_name": task.name,
                    "target_name": i.target.name, "target_code": i.target.uscc or i.target.reg_no or i.target.code,
                    "kind": "record" if task.lead_department_id == actor.department_id else "department",
                    "completed_on": i.completed_on, "due_on": i.publication_due_on,
                    "due_provisional": i.due_provisional,
                    **deadlines.clock_json(i, text=False),
                    "state": state, "state_label": deadlines.STATE_LABELS[state],
                    "working_days_left": calendar.working_days_between(today, i.publication_due_on),
                    "exemption": exemption.to_dict() if exemption else None})
    return out
