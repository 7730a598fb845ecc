"""Exporting a list as a file, at once or as a background job: one helper for every list a user downloads.

A list registers an :class:`Export`: how to count its rows (checking the caller's access and filters), its
headers and rows, its file name and what to record. A route calls :func:`respond`:

* at most ``EXPORT_ASYNC_ROWS`` rows (a setting, 5,000 by default) and no ``?async=1``: the file is written in
  the request and sent (200, as before);
* more rows, or ``?async=1``: 202 with the job (``export.file``); its progress counts the rows written
  (``GET /api/v1/jobs/<id>``), its result names the stored file (in the media folder, under its SHA-256),
  downloaded by its creator from ``GET /api/v1/jobs/<id>/file``.

The job reads in a reading transaction (no lock held while it writes the file) and records (audit, the
list's own record) in a short write transaction afterwards. No Flask except in :func:`respond` and
:func:`send_job_file`.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.errors import DomainError, Forbidden, NotFound
from backend.jobs.registry import job

JOB = "export.file"
ASYNC_ROWS = 5000                 # default of the setting EXPORT_ASYNC_ROWS
MAX_ROWS = 1_000_000              # one file (an XLSX sheet holds 1,048,576 rows)
PROGRESS_EVERY = 200
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8",
               "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
               "pdf": "application/pdf"}


@dataclasses.dataclass(frozen=True)
class Export:
    """A list that can be exported. ``params`` is JSON (what the route parsed; dates as ISO text)."""

    kind: str
    title: str                                                    # the sheet's title, in progress messages
    headers: list[str]
    count: Callable[[Session, Actor, dict], int]                  # checks access and filters; may be an upper bound
    rows: Callable[[Session, Actor, dict], Iterable[list[str]]]
    file_name: Callable[[dict, str], str]                         # (params, format) -> the Chinese file name
    ascii_name: Callable[[dict, str], str]                        # the fallback name for old clients
    # (session, actor, params, format, written) -> extra result fields; audits, keeps the list's own record
    record: Callable[[Session, Actor, dict, str, dict], dict | None] | None = None
    formats: tuple[str, ...] = ("csv", "xlsx")
    keep: bool = False        # keep the file in the media folder also when it is sent at once (``record`` names it)


EXPORTS: dict[str, Export] = {}


def register(export: Export) -> Export:
    EXPORTS[export.kind] = export
    return export


def spec_for(kind: str) -> Export:
    if kind not in EXPORTS:
        from backend.jobs import export_lists  # noqa: F401 - registers the lists

    if kind not in EXPORTS:
        raise NotFound(f"没有名为 {kind} 的导出", code="export.unknown_list")
    return EXPORTS[kind]


def _counted(rows: Iterable[list[str]], progress: Callable[[int], None] | None) -> Iterator[list[str]]:
    n = 0
    for row in rows:
        yield row
        n += 1
        if progress is not None and n % PROGRESS_EVERY == 0:
            progress(n)


def write(out: BinaryIO, spec: Export, session: Session, actor: Actor, params: dict, fmt: str,
          progress: Callable[[int], None] | None = None) -> int:
    from backend.directory.writers import write_csv, write_xlsx

    rows = _counted(spec.rows(session, actor, params), progress)
    if fmt == "csv":
        return write_csv(out, spec.headers, rows)
    return write_xlsx(out, spec.title[:31], spec.headers, rows)


def _check(spec: Export, fmt: str, total: int) -> None:
    if fmt not in spec.formats:
        raise DomainError(f"导出格式应为 {' 或 '.join(spec.formats)}", code="export.bad_format", status=422)
    if total > MAX_ROWS:
        raise DomainError(f"共 {total} 条，超过一个文件的上限（{MAX_ROWS} 条），请缩小筛选范围",
                          code="export.too_many_rows", status=422, details={"total": total, "limit": MAX_ROWS})


def _result(spec: Export, params: dict, fmt: str, rows: int, sha256: str | None = None, size: int | None = None
            ) -> dict:
    return {"list": spec.kind, "list_title": spec.title, "format": fmt, "file_name": spec.file_name(params, fmt),
            "ascii_name": spec.ascii_name(params, fmt), "media_type": MEDIA_TYPES[fmt], "rows": rows,
            "sha256": sha256, "size": size}


def _media_dir(ctx) -> str:
    media_dir = ctx.media_dir or (ctx.config or {}).get("MEDIA_DIR")
    if not media_dir:
        raise DomainError("未配置文件存储目录（MEDIA_DIR）", code="export.no_media_dir", status=500)
    return media_dir


@dataclasses.dataclass
class Spooled:
    """A file written and hashed in ``MEDIA_DIR/tmp``, not yet in the store (:func:`spooled`)."""
    media_dir: str
    path: str
    sha256: str
    size: int
    answer: Any

    def keep(self, session: Session, job_id: str | None = None) -> None:
        """Put the file into the store in ``session``'s transaction, which records who names it (commit it next):
        under the store's lock (``holders.writing``), so a clean-up removing the same bytes either saw the name or
        removed them before this put. A job names the file on its row now (``retention.claim``: its result is
        recorded only after it returns)."""
        from backend.jobs import retention
        from backend.media import holders, storage

        holders.writing(session)
        if job_id is not None:
            retention.claim(session, job_id, self.sha256)
        storage.get(self.media_dir).put_file(self.path, self.sha256, move=True)


@contextlib.contextmanager
def spooled(media_dir: str, write_to: Callable[[BinaryIO], Any], suffix: str) -> Iterator[Spooled]:
    """Write a file through ``write_to`` into ``MEDIA_DIR/tmp`` and hash it; :meth:`Spooled.keep` stores it
    (content-addressed); a file not kept is removed on exit."""
    from backend.media import storage

    tmp_dir = Path(media_dir) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=tmp_dir, prefix="export-", suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as out:
            answer = write_to(out)
        sha256, size = storage.hash_file(tmp_path)
        yield Spooled(media_dir, tmp_path, sha256, size, answer)
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)


@job(JOB)
def export_job(ctx, kind: str, format: str, params: dict | None = None):
    """Write the list ``kind`` (filtered and scoped for the job's creator) to a file in the media folder."""
    spec = spec_for(kind)
    params = params or {}
    media_dir = _media_dir(ctx)
    with contextlib.ExitStack() as stack:
        with ctx.db.session_scope(write=False) as session:
            total = spec.count(session, ctx.actor, params)
            _check(spec, format, total)
            ctx.progress(0, total, f"正在导出{spec.title}", force=True)
            file = stack.enter_context(spooled(
                media_dir, lambda out: write(out, spec, session, ctx.actor, params, format,
                                             lambda n: ctx.progress(n, total, f"已导出 {n} / {total} 条")),
                f".{format}"))
        rows = file.answer
        result = _result(spec, params, format, rows, file.sha256, file.size)
        with ctx.db.session_scope() as session:
            file.keep(session, ctx.job_id)
            extra = spec.record(session, ctx.actor, params, format, {**result, "job_id": ctx.job_id}) \
                if spec.record else None
    ctx.progress(rows, rows, f"导出完成：共 {rows} 条", force=True)
    return {**result, **(extra or {})}


# --- in a request ----------------------------------------------------------------------------------------

def _attachment(response, file_name: str, fallback: str):
    from backend.directory.exports import content_disposition

    response.headers["Content-Disposition"] = content_disposition(file_name, fallback)
    return response


def respond(kind: str, params: dict, fmt: str, *, force_async: bool = False):
    """The route's answer: the file (200) when small, else (or when asked) 202 with the export's job."""
    import io

    from flask import current_app, send_file

    from backend import get_session
    from backend.auth.access import current_actor
    from backend.jobs import services as jobs
    from schemas.system import JobOut

    spec = spec_for(kind)
    actor, session = current_actor(), get_session()
    total = spec.count(session, actor, params)       # access and filters are checked now, not in the job
    _check(spec, fmt, total)
    threshold = int(current_app.config.get("EXPORT_ASYNC_ROWS") or ASYNC_ROWS)
    if force_async or total > threshold:
        row = jobs.enqueue(session, current_app.extensions["shuangsui.jobs"], JOB,
                           {"kind": kind, "format": fmt, "params": params}, actor, max_attempts=2)
        session.refresh(row)
        return JobOut().dump(row), 202, {"Location": f"/api/v1/jobs/{row.id}", "Retry-After": "2",
                                         "Cache-Control": "no-store"}
    if spec.keep:
        from backend.media import storage
        from backend.media.sending import send_stored_file

        media_dir = current_app.config["MEDIA_DIR"]
        with spooled(media_dir, lambda o: write(o, spec, session, actor, params, fmt), f".{fmt}") as file:
            sha256, rows = file.sha256, file.answer
            result = _result(spec, params, fmt, rows, sha256, file.size)
            file.keep(session)
            if spec.record:
                spec.record(session, actor, params, fmt, {**result, "job_id": None})
            session.commit()
        response = send_stored_file(storage.get(media_dir), sha256, mimetype=MEDIA_TYPES[fmt], as_attachment=True,
                                    download_name=result["file_name"])
        return _attachment(response, result["file_name"], result["ascii_name"])
    else:
        body = io.BytesIO()
        result = _result(spec, params, fmt, write(body, spec, session, actor, params, fmt))
        body.seek(0)
    if spec.record:
        spec.record(session, actor, params, fmt, {**result, "job_id": None})
    session.commit()
    response = send_file(body, mimetype=MEDIA_TYPES[fmt], as_attachment=True, download_name=result["file_name"])
    return _attachment(response, result["file_name"], result["ascii_name"])


def send_job_file(job_id: str, names: tuple[str, ...] | None = None):
    """Download the file a job made (its creator or a system admin): 409 while it is under way."""
    from flask import current_app

    from backend import get_session
    from backend.auth.access import current_actor
    from backend.auth.roles import Role
    from backend.jobs import services as jobs
    from backend.media import storage
    from backend.media.sending import send_stored_file

    actor, session = current_actor(), get_session()
    row = jobs.get_job(session, job_id[:32])
    if names is not None and row.name not in names:
        raise NotFound("该后台任务不生成此类文件", code="job.no_file")
    if actor.role != Role.SYSADMIN and row.created_by != actor.user_id:
        raise Forbidden("只能下载自己提交的后台任务生成的文件", code="forbidden.owner")
    if row.status == "failed":
        raise DomainError(f"后台任务失败：{row.error or ''}", code="job.failed", status=409,
                          details={"status": row.status, "error_code": row.error_code})
    if row.status != "done":
        raise DomainError("文件尚未生成，请稍后再试", code="job.not_ready", status=409,
                          details={"status": row.status, "progress_done": row.progress_done,
                                   "progress_total": row.progress_total})
    result = row.result or {}
    from backend.jobs.retention import check_not_expired

    check_not_expired(result, row.name)
    if not result.get("sha256") or not result.get("file_name"):
        raise NotFound("该后台任务没有生成文件", code="job.no_file")
    fmt = result.get("format", "")
    try:
        response = send_stored_file(storage.get(current_app.config["MEDIA_DIR"]), result["sha256"],
                                    mimetype=result.get("media_type") or MEDIA_TYPES.get(fmt, "application/octet-stream"),
                                    as_attachment=True, download_name=result["file_name"])
    except FileNotFoundError:
        raise NotFound("文件已被清理，请重新生成", code="export.file_missing") from None
    return _attachment(response, result["file_name"], result.get("ascii_name") or f"{row.name}-{row.id[:8]}.{fmt}")
