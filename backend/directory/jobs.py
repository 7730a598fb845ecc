"""Background jobs of the lists: import an uploaded file, export a list to a file.

Uploaded files are in the media folder under their SHA-256 (``backend.media.storage``), so an rq
worker in another process reads the same bytes the request stored. An export writes its file
there too and returns its hash and Chinese file name in the job result.
"""
from __future__ import annotations

import contextlib

from backend.directory import exports, imports, readers, specs
from backend.errors import DomainError
from backend.jobs.exports import spooled
from backend.jobs.registry import job
from backend.media import storage


def _media_dir(ctx) -> str:
    media_dir = ctx.media_dir or (ctx.config or {}).get("MEDIA_DIR")
    if not media_dir:
        raise DomainError("未配置文件存储目录（MEDIA_DIR）", code="import.no_media_dir", status=500)
    return media_dir


@job("directory.import")
def import_job(ctx, kind: str, sha256: str, file_name: str, format: str | None = None, dry_run: bool = False,
               department_id: int | None = None):
    """Import (or with ``dry_run`` only check) the stored upload ``sha256`` into the list ``kind``, all rows
    or none. The file is read here, never in the upload request, within ``readers.Limits``.

    A check (``dry_run``) reads in a reading transaction. On SQLite, which allows one writer at a time, an
    import is checked that way first, so the write lock is held only while a file without errors is
    written (phones keep pushing while a big file is checked); PostgreSQL checks and writes in one pass.
    """
    store = storage.get(_media_dir(ctx))
    if not store.exists(sha256):
        raise DomainError("上传的文件已不存在，请重新上传", code="import.file_missing", status=410)
    with store.local_file(sha256) as path:   # S3: a temporary copy, for the readers
        return _import(ctx, kind, path, sha256, file_name, format, dry_run, department_id)


def _import(ctx, kind, path, sha256, file_name, format, dry_run, department_id):
    ctx.progress(0, None, "开始校验", force=True)
    common = dict(file_name=file_name, fmt=format, sha256=sha256, default_department_id=department_id,
                  progress=ctx.progress, max_errors=int((ctx.config or {}).get("IMPORT_MAX_ERRORS") or 500),
                  limits=readers.Limits.from_config(ctx.config))
    if dry_run or ctx.db.dialect == "sqlite":
        with ctx.db.session_scope(write=False) as session:
            checked = imports.import_file(session, ctx.actor, kind, path, dry_run=True, **common)
        if dry_run:
            return checked
    with ctx.db.session_scope() as session:
        return imports.import_file(session, ctx.actor, kind, path, **common)


@job("directory.export")
def export_job(ctx, kind: str, format: str = "xlsx", filters: dict | None = None):
    """Export the list ``kind`` (filtered and scoped for the job's creator) to a file in the media folder."""
    media_dir = _media_dir(ctx)
    spec = specs.spec_for(kind, "export.unknown_list")
    # a reading transaction: the export holds no lock, so writers (phones pushing) never wait for it
    with contextlib.ExitStack() as stack:
        with ctx.db.session_scope(write=False) as session:
            total = exports.export_count(session, ctx.actor, kind, filters or {})
            ctx.progress(0, total, f"正在导出{spec.title}", force=True)
            file = stack.enter_context(spooled(media_dir, lambda out: exports.export_to(
                out, session, ctx.actor, kind, format, filters or {},
                progress=lambda n: ctx.progress(n, total, f"已导出 {n} / {total} 条")), f".{format}"))
        sha256, size, rows = file.sha256, file.size, file.answer
        with ctx.db.session_scope() as session:   # the job names the file, then it is stored (Spooled.keep)
            file.keep(session, ctx.job_id)
    ctx.progress(rows, rows, f"导出完成：共 {rows} 条", force=True)
    return {"list": kind, "list_title": spec.title, "format": format, "file_name": spec.file_name(format),
            "sha256": sha256, "size": size, "rows": rows, "filters": filters or {}}
