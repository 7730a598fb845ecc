"""Background jobs of inspections: the PDF 检查记录表 of a submitted record, and the lead's draft of it."""
from __future__ import annotations

from backend.inspections import pdf, record_pdf
from backend.jobs.registry import FOLLOWERS, job


@job(record_pdf.JOB)
def render_pdf_job(ctx, inspection_id: int):
    """Render the submitted record to PDF, store it (content-addressed) and link it to the record.

    The rendering reads in a read session (no write lock held while it works); the link is one short
    write transaction. Running it again changes nothing once the record has its PDF.
    """
    settings = pdf.Settings.from_config(ctx.config or {}, ctx.media_dir)
    with ctx.db.session_scope(write=False) as session:
        why_not = record_pdf.pending(session, inspection_id, settings.media_dir)
        if why_not:
            return {"inspection_id": inspection_id, "skipped": why_not}
        rendered = pdf.render(session, inspection_id, settings)
    with ctx.db.session_scope() as session:
        return record_pdf.link(session, settings, inspection_id, rendered, ctx.actor)


@job(record_pdf.DRAFT_JOB)
def render_draft_job(ctx, inspection_id: int, key: str):
    """Render the lead's preview (marked 草稿) and keep it under ``key`` and under the key of what it shows.

    Rendered in a read session; stored in one short write transaction (``record_pdf.keep_draft``)."""
    settings = pdf.Settings.from_config(ctx.config or {}, ctx.media_dir)
    with ctx.db.session_scope(write=False) as session:
        data = pdf.gather(session, inspection_id)
        rendered = pdf.render(session, inspection_id, settings, draft=True, data=data)
        shown = pdf.fingerprint(data)
    with ctx.db.session_scope() as session:
        return record_pdf.keep_draft(session, settings, inspection_id, rendered, [key, shown], ctx.actor)


FOLLOWERS[record_pdf.JOB] = record_pdf.may_follow
FOLLOWERS[record_pdf.DRAFT_JOB] = record_pdf.may_follow_draft
