"""How long the files that jobs stored are kept (``EXPORT_RETENTION_DAYS``): the scheduled clean-up's part.

Two kinds of job name a file of the content-addressed store that no ``media`` row names, so the media clean-up
(which works from those rows) never removed it:

* an export job (a list as CSV/XLSX, the office's list exports, the quarterly 通报 PDF) stores its file and
  names it in its ``result``;
* a list import (``directory.import``) names the uploaded spreadsheet in its ``params`` (a finished one also in
  its ``result``).

Once such a job finished more than the retention period ago, :func:`expire` marks its result expired
(``expired_at``: the job's file then answers 410 ``export.expired`` / ``import.expired``; an import's counts or
bad rows stay readable) and removes the file from the store unless something still names the same bytes: the
one check of the store's holders (``backend.media.holders``: a ``media`` row, a kept national-publicity export,
a waiting outbox upload, a job of either kind not expired). The jobs to judge are read page by page (the job names,
the finished statuses, finished before the cutoff and not yet expired: the JSON read by the database), so a
year of jobs is never loaded at once. No Flask.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from backend.errors import DomainError
from backend.jobs.models import Job

DEFAULT_DAYS = 30            # default of the setting EXPORT_RETENTION_DAYS (0: kept forever)
_UNFINISHED = ("queued", "running", "retrying")
PAGE = 500                    # expiring jobs marked (and their files removed) per transaction


@dataclass(frozen=True)
class Kept:
    """One kind of job whose stored file is kept for the period."""
    key: str                                 # "export" / "import": the counts' names and the 410's code
    names: tuple[str, ...]                   # the job names
    statuses: tuple[str, ...]                # the finished statuses that are judged
    field: str                               # the job's JSON column naming the file (its key "sha256")
    message: str                             # the 410's Chinese message

    def file_of(self, job: Job) -> str | None:
        """The hash of the file the job names."""
        return (getattr(job, self.field) or {}).get("sha256")

    def column(self):
        """The same, read by the database (SQLite's ``json_extract``, PostgreSQL's ``->>``)."""
        return getattr(Job, self.field)["sha256"].as_string()


EXPORTS = Kept("export", ("export.file", "directory.export", "figures.report"), ("done",), "result",
               "导出文件已超过保留期限，已从服务器清理，请重新导出")
IMPORTS = Kept("import", ("directory.import",), ("done", "failed"), "params",
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


def claim(session: Session, job_id: str, sha256: str) -> None:
    """A running job names the file it is about to store (``result.sha256``), before it is stored and in the
    same transaction (``jobs.exports.Spooled.keep``); the job's outcome replaces the result when it returns."""
    session.execute(update(Job).where(Job.id == job_id).values(result={"sha256": sha256})
                    .execution_options(synchronize_session=False))


def named_by_jobs(session: Session, shas: list[str]) -> set[str]:
    """The hashes among ``shas`` (at most a few hundred) that a job of either kind still names (the store's holders,
    ``backend.media.holders.named``): only the jobs naming one of them are read."""
    found: set[str] = set()
    for kind in KINDS:
        for job in session.scalars(select(Job).where(Job.name.in_(kind.names), kind.column().in_(shas))):
            sha = _named(job)
            if sha:
                found.add(sha)
    return found & set(shas)


def _expiring(session: Session, kind: Kept, cutoff: dt.datetime, after: tuple | None) -> list[Job]:
    """The next page of the kind's jobs finished before ``cutoff`` and not expired yet, in (finished_at, id)."""
    stmt = select(Job).where(Job.name.in_(kind.names), Job.status.in_(kind.statuses), Job.finished_at < cutoff,
                             Job.result["expired_at"].as_string().is_(None))
    if after is not None:
        stmt = stmt.where(or_(Job.finished_at > after[0], and_(Job.finished_at == after[0], Job.id > after[1])))
    return list(session.scalars(stmt.order_by(Job.finished_at, Job.id).limit(PAGE)))


def expire(session: Session, store, now: dt.datetime, keep: dt.timedelta | None) -> dict:
    """Mark the jobs of both kinds finished before ``now - keep`` expired and remove their files no one else
    names, a page of jobs at a time: the page's marks are committed first (the file then answers ``*.expired``),
    then its files are removed (``holders.remove_unnamed``). Counts per kind: ``exports_expired``,
    ``export_files_deleted``, ``export_bytes_freed`` and the same for imports."""
    from backend.media import holders

    counts = {f"{k.key}{suffix}": 0 for k in KINDS for suffix in ("s_expired", "_files_deleted", "_bytes_freed")}
    if keep is None:
        return counts
    cutoff = now - keep
    stamp = now.isoformat()
    for kind in KINDS:
        after = None
        while rows := _expiring(session, kind, cutoff, after):
            after = (rows[-1].finished_at, rows[-1].id)
            shas = set()
            for row in rows:
                sha = kind.file_of(row)
                row.result = {**(row.result or {}), "expired_at": stamp}   # a new dict: the JSON column sees it
                counts[f"{kind.key}s_expired"] += 1
                if sha:
                    shas.add(sha)
            session.commit()
            for size in holders.remove_unnamed(session, store, shas).values():
                counts[f"{kind.key}_files_deleted"] += size > 0
                counts[f"{kind.key}_bytes_freed"] += size
            if len(rows) < PAGE:
                break
    session.commit()
    return counts
