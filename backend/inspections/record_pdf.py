"""The record's PDF 检查记录表: who may read it; the jobs that render it; the renderings kept by what they show.

Rendering takes seconds (9–13 s for a full record), so a request never renders: it is answered from a
rendering already made, or it starts (or finds) the job that makes it and answers ``202`` with that job
to poll (:class:`Pending`). Renderings are kept by what they show (``RenderedPdf.key``): a submitted
record's by its content hash, a draft's by the fingerprint of everything its page prints
(``pdf.fingerprint``), so the same content is never rendered twice, and one person has at most
``PDF_MAX_ACTIVE_JOBS`` renderings under way.

* Submitting a record (``record.submit``, from a phone or the office) enqueues ``inspections.render_pdf``
  in the push's transaction (:func:`schedule`); the queue gets it after the commit (:func:`start`).
* That job renders the record outside any write transaction, then, in a short write transaction, stores
  the PDF content-addressed through ``backend.media`` (kind ``pdf``), references it from the inspection,
  sets ``Record.pdf_sha256``, audits and appends a sync change (last) so phones learn the hash.
  Idempotent: a record already linked keeps its PDF.
* ``inspections.render_pdf_draft`` renders the lead's preview (marked 草稿) and keeps it as an unreferenced
  file (the media clean-up removes it after its grace period).
* ``GET /api/v1/inspections/<id>/record.pdf`` (:func:`fetch`): whoever may read the record; the submitted
  record's PDF; before submission only the lead's ``?draft=1`` preview.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.db import utcnow
from backend.errors import DomainError, Forbidden, NotFound, TooManyRequests
from backend.inspections import pdf
from backend.inspections.access import GONE_REASONS, participation
from backend.inspections.models import Inspection, Record
from backend.inspections.pdf_assets import FontMissing, find_fonts
from backend.inspections.pdf_models import RenderedPdf
from backend.media import storage
from sync import changes

JOB = "inspections.render_pdf"
DRAFT_JOB = "inspections.render_pdf_draft"
ACTIVE = ("queued", "running", "retrying")
RETRY_AFTER_S = 2              # what a 202 asks the client to wait before asking again
FAILED_PAUSE_S = 60            # a rendering that failed is not tried again on demand for this long
MAX_ACTIVE_JOBS = 3            # PDF_MAX_ACTIVE_JOBS: renderings one person may have under way
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


class NotSubmitted(DomainError):
    status = 409
    code = "record.not_submitted"
    message = "检查记录尚未提交，还没有正式的 PDF 检查记录表（组长可加 ?draft=1 预览草稿）"


class RenderFailed(DomainError):
    status = 503
    code = "pdf.render_failed"
    message = "生成检查记录表失败，请稍后再试；如仍失败，请联系系统管理员"

    def __init__(self, message: str | None = None, *, retry_after: int = FAILED_PAUSE_S, **kwargs):
        self.retry_after = retry_after
        super().__init__(message, **kwargs)
        self.details.setdefault("retry_after", retry_after)

    @property
    def headers(self) -> dict:
        return {"Retry-After": str(self.retry_after)}


@dataclasses.dataclass(frozen=True)
class Pending:
    """The PDF is being made: the job to poll (``GET /api/v1/jobs/<job_id>``), or ask the same URL again."""

    job_id: str
    job_status: str
    draft: bool
    retry_after: int = RETRY_AFTER_S

    def body(self) -> dict:
        return {"state": "rendering", "job_id": self.job_id, "job_status": self.job_status, "draft": self.draft,
                "retry_after": self.retry_after, "message": "检查记录表正在生成，请稍候再取"}


@dataclasses.dataclass(frozen=True)
class PdfFile:
    """What the endpoint sends: a stored file (``sha256`` in ``store``) or bytes rendered on the spot (``data``)."""

    file_name: str          # the Chinese name (Content-Disposition filename*)
    fallback: str           # an ASCII name for old clients
    draft: bool
    sha256: str
    store: storage.Store | None = None
    data: bytes | None = None


def file_names(inspection: Inspection, *, draft: bool = False) -> tuple[str, str]:
    """(Chinese file name, ASCII fallback): 检查记录表-<task code>-<business>.pdf (a 复查: 复查记录表-…)."""
    task_code = inspection.task.code if inspection.task else str(inspection.task_id)
    kind = "复查记录表" if inspection.followup_id is not None else "检查记录表"
    name = _UNSAFE.sub("_", f"{kind}{'（草稿）' if draft else ''}-{task_code}-{inspection.target.name}").strip(" ._")
    ascii_code = re.sub(r"[^A-Za-z0-9._-]+", "_", task_code)
    return f"{name[:120]}.pdf", f"record-{ascii_code}-{inspection.id}{'-draft' if draft else ''}.pdf"


def _readable(session: Session, actor: Actor, inspection_id: int):
    """The inspection and the caller's part in it, if the caller may read its record (as ``office.read``)."""
    from backend.inspections.office import _get, _staff_may_read

    inspection = _get(session, inspection_id)
    me = None
    if actor.inspector_id is not None:
        me = participation(session, [inspection])[inspection.id].of(actor.inspector_id)
    if me is None and not _staff_may_read(session, actor, inspection):
        raise Forbidden("只能查看本人参与或本部门参与的任务的检查记录", code="forbidden.department")
    if inspection.status in GONE_REASONS:
        code, message = GONE_REASONS[inspection.status]
        raise NotFound(message, code=f"inspection.{code}")
    return inspection, me


def final_key(inspection_id: int, content_hash: str | None) -> str:
    return hashlib.sha256(f"{pdf.FINGERPRINT_VERSION}|final|{inspection_id}|{content_hash}".encode()).hexdigest()


def fetch(session: Session, actor: Actor, inspection_id: int, settings: pdf.Settings, *, draft: bool = False,
          queue=None, max_active: int = MAX_ACTIVE_JOBS) -> PdfFile | Pending:
    """The PDF of the record as the caller may have it, or the job making it (:class:`Pending`)."""
    inspection, me = _readable(session, actor, inspection_id)
    record = session.get(Record, inspection_id)
    if record is not None and record.state == "submitted":
        name, fallback = file_names(inspection)
        if record.pdf_sha256 and storage.get(settings.media_dir).exists(record.pdf_sha256):
            return PdfFile(name, fallback, False, record.pdf_sha256,
                           store=storage.get(settings.media_dir))
        find_fonts(settings.font, settings.font_bold)          # no job for what cannot be rendered
        key = final_key(inspection_id, record.content_hash)
        made = _made(session, settings, key)
        if made is not None:
            return PdfFile(name, fallback, False, made, store=storage.get(settings.media_dir))
        return _ensure(session, queue, actor, inspection_id, key, JOB, {"inspection_id": inspection_id},
                       draft=False, settings=settings, max_active=max_active,
                       served=lambda sha: PdfFile(name, fallback, False, sha,
                                                  store=storage.get(settings.media_dir)))
    if not draft:
        raise NotSubmitted()
    if me is None or not me.is_lead:
        raise Forbidden("只有检查组组长可以预览尚未提交的检查记录（草稿）", code="record.lead_only")
    find_fonts(settings.font, settings.font_bold)
    key = pdf.fingerprint(pdf.gather(session, inspection_id))
    name, fallback = file_names(inspection, draft=True)

    def served(sha: str) -> PdfFile:
        return PdfFile(name, fallback, True, sha, store=storage.get(settings.media_dir))
    made = _made(session, settings, key)
    if made is not None:
        return served(made)
    return _ensure(session, queue, actor, inspection_id, key, DRAFT_JOB, {"inspection_id": inspection_id, "key": key},
                   draft=True, settings=settings, max_active=max_active, served=served)


def _made(session: Session, settings: pdf.Settings, key: str) -> str | None:
    row = session.get(RenderedPdf, key)
    if row is not None and row.sha256 and storage.get(settings.media_dir).exists(row.sha256):
        return row.sha256
    return None


def _ensure(session: Session, queue, actor: Actor, inspection_id: int, key: str, name: str, params: dict, *,
            draft: bool, settings: pdf.Settings, max_active: int, served) -> PdfFile | Pending:
    """The job making the rendering ``key``: the one under way, else a new one (within the caller's bound)."""
    from backend.jobs import services as jobs
    from backend.jobs.models import Job

    row = session.get(RenderedPdf, key)
    job = session.get(Job, row.job_id) if row is not None and row.job_id else None
    if job is not None and job.status in ACTIVE:
        return Pending(job.id, job.status, draft)
    if job is not None and job.status == "failed" and job.finished_at is not None \
            and utcnow() - job.finished_at < dt.timedelta(seconds=FAILED_PAUSE_S):
        if job.error_code == FontMissing.code:
            raise FontMissing()
        raise RenderFailed(retry_after=FAILED_PAUSE_S, details={"job_id": job.id})
    if queue is None:
        raise RenderFailed(message="后台任务队列不可用，暂时无法生成检查记录表")
    active = session.scalar(select(func.count()).select_from(Job).where(
        Job.created_by == actor.user_id, Job.name.in_((JOB, DRAFT_JOB)), Job.status.in_(ACTIVE)))
    if active >= max_active:
        raise TooManyRequests(f"你已有 {active} 份检查记录表正在生成，请等其完成后再取", code="pdf.busy",
                              retry_after=RETRY_AFTER_S * 5, details={"active": active, "limit": max_active})
    job = jobs.create_job(session, name, params, actor, 2, queue.backend)
    if row is None:
        row = RenderedPdf(key=key, inspection_id=inspection_id, draft=draft, created_at=utcnow())
        session.add(row)
    row.job_id = job.id
    session.flush()
    audit.record(session, actor, "job.enqueue", "job", job.id,
                 detail={"name": name, "inspection_id": inspection_id, "draft": draft},
                 department_id=actor.department_id)
    session.commit()
    queue.submit(job.id, job.max_attempts)
    session.expire_all()
    made = _made(session, settings, key)            # a queue that runs jobs at once (tests, the CLI) has made it
    if made is not None:
        return served(made)
    job = session.get(Job, job.id)
    if job.status == "failed":
        if job.error_code == FontMissing.code:
            raise FontMissing()
        raise RenderFailed(retry_after=FAILED_PAUSE_S, details={"job_id": job.id})
    return Pending(job.id, job.status, draft)


def may_follow(session: Session, actor: Actor, params: dict) -> bool:
    """Whether ``actor`` may follow the job rendering this submitted record (``GET /api/v1/jobs/<id>``)."""
    try:
        _readable(session, actor, int(params.get("inspection_id") or 0))
    except DomainError:
        return False
    return True


def may_follow_draft(session: Session, actor: Actor, params: dict) -> bool:
    """…and the job rendering a draft: its group's lead only (who alone may read the draft)."""
    try:
        _inspection, me = _readable(session, actor, int(params.get("inspection_id") or 0))
    except DomainError:
        return False
    return me is not None and me.is_lead


# --- the job ------------------------------------------------------------------------------------------

def pending(session: Session, inspection_id: int, media_dir: str) -> str | None:
    """Why there is nothing to render (not submitted; already linked), or None when the job should render."""
    record = session.get(Record, inspection_id)
    if record is None or record.state != "submitted":
        return "检查记录尚未提交"
    if record.pdf_sha256 and storage.get(media_dir).exists(record.pdf_sha256):
        return "PDF 已生成"
    return None


def link(session: Session, settings: pdf.Settings, inspection_id: int, rendered: pdf.Rendered, actor: Actor) -> dict:
    """Store the rendered PDF and make it the record's (in one short transaction; commits)."""
    from backend.media import services as media

    record = session.scalar(select(Record).where(Record.inspection_id == inspection_id).with_for_update()
                            .execution_options(populate_existing=True))
    if record is None or record.state != "submitted":
        return {"inspection_id": inspection_id, "skipped": "检查记录尚未提交"}
    if record.pdf_sha256 and storage.get(settings.media_dir).exists(record.pdf_sha256):   # linked meanwhile
        session.commit()
        return {"inspection_id": inspection_id, "sha256": record.pdf_sha256, "skipped": "PDF 已生成"}
    inspection = session.get(Inspection, inspection_id)
    name, _fallback = file_names(inspection)
    stored = media.add_generated(session, settings.media_dir, rendered.data, kind="pdf", media_type="application/pdf",
                                 filename=name, actor=actor)
    media.add_references(session, [stored.sha256], inspection_id, Actor.system("pdf"))   # the server's own file
    _remember(session, final_key(inspection_id, record.content_hash), inspection_id, stored.sha256, draft=False)
    before = record.pdf_sha256
    record.pdf_sha256 = stored.sha256
    record.version = (record.version or 1) + 1
    audit.record(session, actor, "inspection.record_pdf", "inspection", inspection_id,
                 before={"pdf_sha256": before}, after={"pdf_sha256": stored.sha256},
                 detail={"size": len(rendered.data), "pages": rendered.pages, "file_name": name})
    changes.append(session, [changes.Change("inspection", inspection_id, inspection.task_id, "record_pdf")])  # last
    session.commit()
    return {"inspection_id": inspection_id, "sha256": stored.sha256, "size": len(rendered.data),
            "pages": rendered.pages}


def _remember(session: Session, key: str, inspection_id: int, sha256: str, *, draft: bool) -> None:
    row = session.get(RenderedPdf, key)
    if row is None:
        row = RenderedPdf(key=key, inspection_id=inspection_id, draft=draft, created_at=utcnow())
        session.add(row)
    row.sha256, row.finished_at = sha256, utcnow()


def keep_draft(session: Session, settings: pdf.Settings, inspection_id: int, rendered: pdf.Rendered,
               keys: list[str], actor: Actor) -> dict:
    """Store a draft's rendering (an unreferenced file: cleaned up after its grace period) under the keys it
    answers: the one asked for and the one of what it shows (the record may have changed meanwhile)."""
    from backend.media import services as media

    inspection = session.get(Inspection, inspection_id)
    name, _fallback = file_names(inspection, draft=True)
    stored = media.add_generated(session, settings.media_dir, rendered.data, kind="pdf", media_type="application/pdf",
                                 filename=name, actor=actor)
    for key in dict.fromkeys(keys):
        _remember(session, key, inspection_id, stored.sha256, draft=True)
    audit.record(session, actor, "inspection.record_pdf_draft", "inspection", inspection_id,
                 detail={"sha256": stored.sha256, "size": len(rendered.data), "pages": rendered.pages})
    session.commit()
    return {"inspection_id": inspection_id, "sha256": stored.sha256, "size": len(rendered.data),
            "pages": rendered.pages, "draft": True}


def schedule(session: Session, queue, actor: Actor, inspection_ids: list[int], attempts: int = 2) -> list:
    """Jobs rendering the PDFs of records just submitted, created in the caller's transaction."""
    from backend.jobs import services as jobs

    if queue is None or not inspection_ids:
        return []
    out = []
    for inspection_id in dict.fromkeys(inspection_ids):
        job = jobs.create_job(session, JOB, {"inspection_id": inspection_id}, actor, max(1, attempts), queue.backend)
        session.flush()
        record = session.get(Record, inspection_id)
        key = final_key(inspection_id, record.content_hash if record is not None else None)
        row = session.get(RenderedPdf, key)
        if row is None:
            session.add(RenderedPdf(key=key, inspection_id=inspection_id, draft=False, job_id=job.id,
                                    created_at=utcnow()))
        else:
            row.job_id = job.id
        audit.record(session, actor, "job.enqueue", "job", job.id, detail={"name": JOB, "inspection_id": inspection_id},
                     department_id=actor.department_id)
        out.append(job)
    return out


def start(queue, jobs: list) -> None:
    """Hand the scheduled jobs to the queue, after the transaction that created them has committed."""
    for job in jobs:
        queue.submit(job.id, job.max_attempts)
