"""How long the files that export jobs wrote are kept (``EXPORT_RETENTION_DAYS``): the scheduled clean-up's part.

An export job (a list as CSV/XLSX, the office's list exports, the quarterly 通报 PDF) stores its file by its
SHA-256 and names it in its result; nothing else refers to it, so the media clean-up (which works from the
``media`` rows) never removed it. Once the job finished more than the retention period ago, :func:`expire`
marks its result expired (``expired_at``: its download then answers 410 ``export.expired``) and removes the
file from the store unless something still needs the same bytes: a ``media`` row (a photo, a PDF), a kept
national-publicity export (``publication_export``, kept with its file), an outbox upload of the import desk,
an export job still within the period, or an import job not finished whose upload they are. No Flask.
"""
from __future__ import annotations

import datetime as dt
from typing import Iterable

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.jobs.models import Job

EXPORT_JOBS = ("export.file", "directory.export", "figures.report")
DEFAULT_DAYS = 30            # default of the setting EXPORT_RETENTION_DAYS (0: kept forever)
_UNFINISHED = ("queued", "running", "retrying")


def retention(config) -> dt.timedelta | None:
    """The period from the settings; None when exports are kept forever (``EXPORT_RETENTION_DAYS=0``)."""
    value = (config or {}).get("EXPORT_RETENTION_DAYS")
    days = DEFAULT_DAYS if value is None or value == "" else int(value)
    return dt.timedelta(days=days) if days > 0 else None


class Expired(DomainError):
    """A finished export whose file was removed after the retention period (410)."""

    def __init__(self, result: dict):
        super().__init__("导出文件已超过保留期限，已从服务器清理，请重新导出", code="export.expired", status=410,
                         details={"expired_at": result.get("expired_at"), "file_name": result.get("file_name")})


def check_not_expired(result: dict | None) -> None:
    if (result or {}).get("expired_at"):
        raise Expired(result or {})


def _named(result: dict | None) -> str | None:
    result = result or {}
    return None if result.get("expired_at") else result.get("sha256")


def _still_needed(session: Session, shas: set[str], cutoff: dt.datetime) -> set[str]:
    """The hashes among ``shas`` that something other than an expiring export still names."""
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
    # export jobs within the period (or not finished) and import jobs not finished: few rows, read in Python
    recent = select(Job.result).where(Job.name.in_(EXPORT_JOBS),
                                      or_(Job.finished_at.is_(None), Job.finished_at >= cutoff))
    needed.update(s for s in map(_named, session.scalars(recent)) if s)
    pending_imports = select(Job.params).where(Job.name == "directory.import", Job.status.in_(_UNFINISHED))
    needed.update((p or {}).get("sha256") for p in session.scalars(pending_imports))
    return needed & shas


def expire(session: Session, store, now: dt.datetime, keep: dt.timedelta | None) -> dict:
    """Mark the export jobs finished before ``now - keep`` expired and remove their files no one else needs.
    Commits the marks first (a download then answers ``export.expired``), then removes the files."""
    counts = {"exports_expired": 0, "export_files_deleted": 0, "export_bytes_freed": 0}
    if keep is None:
        return counts
    cutoff = now - keep
    jobs: Iterable[Job] = session.scalars(select(Job).where(Job.name.in_(EXPORT_JOBS), Job.status == "done",
                                                           Job.finished_at < cutoff))
    shas: set[str] = set()
    stamp = now.isoformat()
    for row in jobs:
        if (row.result or {}).get("expired_at"):
            continue
        sha = _named(row.result)
        row.result = {**(row.result or {}), "expired_at": stamp}     # a new dict: the JSON column sees the change
        counts["exports_expired"] += 1
        if sha:
            shas.add(sha)
    session.commit()
    if not shas:
        return counts
    for sha in sorted(shas - _still_needed(session, shas, cutoff)):
        size = store.remove(sha)
        counts["export_files_deleted"] += size > 0
        counts["export_bytes_freed"] += size
    session.commit()
    return counts
