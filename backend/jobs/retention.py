"""How long the files that jobs stored are kept (``EXPORT_RETENTION_DAYS``): the scheduled clean-up's part.

Two kinds of job name a file of the content-addressed store that no ``media`` row names, so the media clean-up
(which works from those rows) never removed it:

* an export job (a list as CSV/XLSX, the office's list exports, the quarterly 通报 PDF) stores its file and
  names it in its ``result``;
* a list import (``directory.import``) names the uploaded spreadsheet in its ``params`` (a finished one also in
  its ``result``).

Once such a job finished more than the retention period ago, :func:`expire` marks its result expired
(``expired_at``: the job's file then answers 410 ``export.expired`` / ``import.expired``; an import's counts or
bad rows stay readable) and removes the file from the store unless something still needs the same bytes: a
``media`` row (a photo, a PDF), a kept national-publicity export (``publication_export``, kept with its file),
an outbox upload of the import desk, or a job of either kind not finished or finished within the period. No Flask.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.jobs.models import Job

DEFAULT_DAYS = 30            # default of the setting EXPORT_RETENTION_DAYS (0: kept forever)
_UNFINISHED = ("queued", "running", "retrying")


@dataclass(frozen=True)
class Kept:
    """One kind of job whose stored file is kept for the period."""
    key: str                                 # "export" / "import": the counts' names and the 410's code
    names: tuple[str, ...]                   # the job names
    statuses: tuple[str, ...]                # the finished statuses that are judged
    file_of: Callable[[Job], str | None]     # the hash of the file the job names
    message: str                             # the 410's Chinese message


EXPORTS = Kept("export", ("export.file", "directory.export", "figures.report"), ("done",),
               lambda job: (job.result or {}).get("sha256"), "导出文件已超过保留期限，已从服务器清理，请重新导出")
IMPORTS = Kept("import", ("directory.import",), ("done", "failed"),
               lambda job: (job.params or {}).get("sha256"),
               "上传的导入文件已超过保留期限，已从服务器清理（导入结果仍可查看）；如需文件请使用本地留存的原件")
KINDS = (EXPORTS, IMPORTS)
EXPORT_JOBS = EXPORTS.names


def kind_of(job_name: str | None) -> Kept:
    return next((k for k in KINDS if job_name in k.names), EXPORTS)


def retention(config) -> dt.timedelta | None:
    """The period from the settings; None when the files are kept forever (``EXPORT_RETENTION_DAYS=0``)."""
    value = (config or {}).get("EXPORT_RETENTION_DAYS")
    days = DEFAULT_DAYS if value is None or value == "" else int(value)
    return dt.timedelta(days=days) if days > 0 else None


class Expired(DomainError):
    """A finished job whose file was removed after the retention period (410)."""

    def __init__(self, result: dict, kind: Kept = EXPORTS):
        super().__init__(kind.message, code=f"{kind.key}.expired", status=410,
                         details={"expired_at": result.get("expired_at"), "file_name": result.get("file_name")})


def check_not_expired(result: dict | None, job_name: str | None = None) -> None:
    if (result or {}).get("expired_at"):
        raise Expired(result or {}, kind_of(job_name))


def _named(job: Job) -> str | None:
    """The hash the job still needs: none once expired, unless it runs again (a retried import)."""
    if (job.result or {}).get("expired_at") and job.status not in _UNFINISHED:
        return None
    return kind_of(job.name).file_of(job)


def _still_needed(session: Session, shas: set[str], cutoff: dt.datetime) -> set[str]:
    """The hashes among ``shas`` that something other than an expiring job still names."""
    from backend.inspections.models import OutboxImport
    from backend.media.models import Media
    from backend.publication.models import PublicationExport

    wanted = sorted(shas)
    needed: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        for row in session.execute(select(Media.sha256, Media.thumb_sha256, Media.public_sha256).where(
                or_(Media.sha256.in_(chunk), Media.thumb_sha256.in_(chunk), Media.public_sha256.in_(chunk)))):
            needed.update(s for s in row if s)
        needed.update(session.scalars(select(PublicationExport.sha256).where(PublicationExport.sha256.in_(chunk))))
        needed.update(session.scalars(select(OutboxImport.file_sha256).where(OutboxImport.file_sha256.in_(chunk))))
    # jobs of either kind not finished or finished within the period: few rows, read in Python
    names = [n for k in KINDS for n in k.names]
    recent = select(Job).where(Job.name.in_(names), or_(Job.finished_at.is_(None), Job.finished_at >= cutoff))
    needed.update(s for s in map(_named, session.scalars(recent)) if s)
    return needed & shas


def expire(session: Session, store, now: dt.datetime, keep: dt.timedelta | None) -> dict:
    """Mark the jobs of both kinds finished before ``now - keep`` expired and remove their files no one else
    needs. Commits the marks first (the file then answers ``*.expired``), then removes the files. Counts per
    kind: ``exports_expired``, ``export_files_deleted``, ``export_bytes_freed`` and the same for imports."""
    counts = {f"{k.key}{suffix}": 0 for k in KINDS for suffix in ("s_expired", "_files_deleted", "_bytes_freed")}
    if keep is None:
        return counts
    cutoff = now - keep
    stamp = now.isoformat()
    shas: dict[str, Kept] = {}
    for kind in KINDS:
        rows = session.scalars(select(Job).where(Job.name.in_(kind.names), Job.status.in_(kind.statuses),
                                                 Job.finished_at < cutoff))
        for row in rows:
            if (row.result or {}).get("expired_at"):
                continue
            sha = kind.file_of(row)
            row.result = {**(row.result or {}), "expired_at": stamp}   # a new dict: the JSON column sees the change
            counts[f"{kind.key}s_expired"] += 1
            if sha:
                shas.setdefault(sha, kind)
    session.commit()
    if not shas:
        return counts
    for sha in sorted(set(shas) - _still_needed(session, set(shas), cutoff)):
        size = store.remove(sha)
        key = shas[sha].key
        counts[f"{key}_files_deleted"] += size > 0
        counts[f"{key}_bytes_freed"] += size
    session.commit()
    return counts
