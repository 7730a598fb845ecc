"""The national publicity system's batch export as a background job (``POST /api/v1/publication/exports``)."""
from __future__ import annotations

import datetime as dt

from backend.jobs.registry import job
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
