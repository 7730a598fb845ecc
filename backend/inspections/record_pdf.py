"""The record's PDF 检查记录表: who may read it, and the job that renders and links it once submitted.

* Submitting a record (``record.submit``, from a phone or the office) enqueues ``inspections.render_pdf``
  in the push's transaction (:func:`schedule`); the queue gets it after the commit (:func:`start`).
* The job renders the record outside any write transaction (it takes a while), then, in a short
  write transaction, stores the PDF content-addressed through ``backend.media`` (kind ``pdf``),
  references it from the inspection, sets ``Record.pdf_sha256``, audits and appends a sync change
  (last) so phones learn the hash. Idempotent: a record already linked keeps its PDF.
* ``GET /api/v1/inspections/<id>/record.pdf`` (:func:`fetch`): whoever may read the record; the stored
  PDF once linked, else the same rendering made on the spot; before submission only the lead's
  ``?draft=1`` preview, marked 草稿.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.errors import DomainError, Forbidden, NotFound
from backend.inspections import pdf
from backend.inspections.access import GONE_REASONS, participation
from backend.inspections.models import Inspection, Record
from backend.media import storage
from sync import changes

JOB = "inspections.render_pdf"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


class NotSubmitted(DomainError):
    status = 409
    code = "record.not_submitted"
    message = "检查记录尚未提交，还没有正式的 PDF 检查记录表（组长可加 ?draft=1 预览草稿）"


@dataclasses.dataclass(frozen=True)
class PdfFile:
    """What the endpoint sends: a stored file (``path``) or bytes rendered on the spot (``data``)."""

    file_name: str          # the Chinese name (Content-Disposition filename*)
    fallback: str           # an ASCII name for old clients
    draft: bool
    sha256: str
    path: Path | None = None
    data: bytes | None = None


def file_names(inspection: Inspection, *, draft: bool = False) -> tuple[str, str]:
    """(Chinese file name, ASCII fallback): 检查记录表-<task code>-<business>.pdf."""
    task_code = inspection.task.code if inspection.task else str(inspection.task_id)
    name = _UNSAFE.sub("_", f"检查记录表{'（草稿）' if draft else ''}-{task_code}-{inspection.target.name}").strip(" ._")
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


def fetch(session: Session, actor: Actor, inspection_id: int, settings: pdf.Settings, *, draft: bool = False) -> PdfFile:
    inspection, me = _readable(session, actor, inspection_id)
    record = session.get(Record, inspection_id)
    if record is not None and record.state == "submitted":
        name, fallback = file_names(inspection)
        if record.pdf_sha256 and storage.exists(settings.media_dir, record.pdf_sha256):
            return PdfFile(name, fallback, False, record.pdf_sha256, path=storage.path_for(settings.media_dir,
                                                                                            record.pdf_sha256))
        rendered = pdf.render(session, inspection_id, settings)   # the job has not run (yet): the same PDF
        return PdfFile(name, fallback, False, hashlib.sha256(rendered.data).hexdigest(), data=rendered.data)
    if not draft:
        raise NotSubmitted()
    if me is None or not me.is_lead:
        raise Forbidden("只有检查组组长可以预览尚未提交的检查记录（草稿）", code="record.lead_only")
    rendered = pdf.render(session, inspection_id, settings, draft=True)
    name, fallback = file_names(inspection, draft=True)
    return PdfFile(name, fallback, True, hashlib.sha256(rendered.data).hexdigest(), data=rendered.data)


# --- the job ------------------------------------------------------------------------------------------

def pending(session: Session, inspection_id: int, media_dir: str) -> str | None:
    """Why there is nothing to render (not submitted; already linked), or None when the job should render."""
    record = session.get(Record, inspection_id)
    if record is None or record.state != "submitted":
        return "检查记录尚未提交"
    if record.pdf_sha256 and storage.exists(media_dir, record.pdf_sha256):
        return "PDF 已生成"
    return None


def link(session: Session, settings: pdf.Settings, inspection_id: int, rendered: pdf.Rendered, actor: Actor) -> dict:
    """Store the rendered PDF and make it the record's (in one short transaction; commits)."""
    from backend.media import services as media

    record = session.scalar(select(Record).where(Record.inspection_id == inspection_id).with_for_update()
                            .execution_options(populate_existing=True))
    if record is None or record.state != "submitted":
        return {"inspection_id": inspection_id, "skipped": "检查记录尚未提交"}
    if record.pdf_sha256 and storage.exists(settings.media_dir, record.pdf_sha256):   # linked meanwhile
        session.commit()
        return {"inspection_id": inspection_id, "sha256": record.pdf_sha256, "skipped": "PDF 已生成"}
    inspection = session.get(Inspection, inspection_id)
    name, _fallback = file_names(inspection)
    stored = media.add_generated(session, settings.media_dir, rendered.data, kind="pdf", media_type="application/pdf",
                                 filename=name, actor=actor)
    media.add_references(session, [stored.sha256], inspection_id, actor)
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


def schedule(session: Session, queue, actor: Actor, inspection_ids: list[int], attempts: int = 2) -> list:
    """Jobs rendering the PDFs of records just submitted, created in the caller's transaction."""
    from backend.jobs import services as jobs

    if queue is None or not inspection_ids:
        return []
    out = []
    for inspection_id in dict.fromkeys(inspection_ids):
        job = jobs.create_job(session, JOB, {"inspection_id": inspection_id}, actor, max(1, attempts), queue.backend)
        session.flush()
        audit.record(session, actor, "job.enqueue", "job", job.id, detail={"name": JOB, "inspection_id": inspection_id},
                     department_id=actor.department_id)
        out.append(job)
    return out


def start(queue, jobs: list) -> None:
    """Hand the scheduled jobs to the queue, after the transaction that created them has committed."""
    for job in jobs:
        queue.submit(job.id, job.max_attempts)
