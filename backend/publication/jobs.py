"""The national publicity system's batch export as a background job (``POST /api/v1/publication/exports``)."""
from __future__ import annotations

import datetime as dt

from backend.jobs.registry import FOLLOWERS, job
from backend.publication import exports


@job("publication.export")
def export_job(ctx, start: str, end: str, format: str = "xlsx", department_id: int | None = None):
    """Write the published results of [start, end] to a file in the media folder; keep the export's row."""
    from backend.directory.jobs import _media_dir

    media_dir = _media_dir(ctx)
    ctx.progress(0, None, "正在导出公示结果", force=True)
    with ctx.db.session_scope() as session:
        row = exports.export_national(session, ctx.actor, media_dir, department_id, dt.date.fromisoformat(start),
                                      dt.date.fromisoformat(end), format, source="api", job_id=ctx.job_id)
        result = exports.export_view(row)
    ctx.progress(result["rows"], result["rows"], f"导出完成：共 {result['rows']} 条", force=True)
    return {k: (v.isoformat() if isinstance(v, (dt.date, dt.datetime)) else v) for k, v in result.items()}


@job("publication.render_notice")
def render_notice_job(ctx, result_id: int):
    """Render the 检查结果告知书 of a published result, store it and tell the business (the logging hook)."""
    from backend.inspections import pdf
    from backend.publication import business_notice
    from backend.publication.models import PublishedResult

    settings = pdf.Settings.from_config(ctx.config or {}, ctx.media_dir)
    with ctx.db.session_scope(write=False) as session:
        row = session.get(PublishedResult, result_id)
        if row is None:
            return {"result_id": result_id, "skipped": "公示结果不存在"}
        if row.notice_sha256:
            return {"result_id": result_id, "sha256": row.notice_sha256, "skipped": "告知书已生成"}
        rendered = business_notice.render(row, settings)
    with ctx.db.session_scope() as session:
        return business_notice.link(session, settings, result_id, rendered, ctx.actor)


def _may_follow_notice(session, actor, params: dict) -> bool:
    """Publishers of the result's department may follow the job rendering its notice."""
    from backend.publication.models import PublishedResult
    from backend.publication.results import PUBLISHERS

    row = session.get(PublishedResult, int(params.get("result_id") or 0))
    return row is not None and actor.role in {r.value for r in PUBLISHERS} and actor.department_id == row.department_id


FOLLOWERS["publication.render_notice"] = _may_follow_notice
