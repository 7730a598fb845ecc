"""The media jobs' work (no Flask): processing a stored photo, and the scheduled clean-up."""
from __future__ import annotations

import datetime as dt
import logging
import os
import time

from sqlalchemy import delete, exists, select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.db import dialect_of, utcnow
from backend.errors import Conflict, DomainError, NotFound
from backend.media import holders, processing
from backend.media.common import PROCESSED_KINDS, MediaSettings, _processed, _processed_detail, on_first_need
from backend.media.models import Media, MediaHolder, MediaRef, Upload
from backend.media.references import info
from backend.media.uploads import _Locked

log = logging.getLogger(__name__)


def derived(session: Session, settings: MediaSettings, sha256: str) -> Media | None:
    """The photo's row with its thumbnail and public copy made, if they are made on first need and not yet
    (``common.on_first_need``): the row is locked first (``FOR UPDATE``; on SQLite the caller's write session
    holds the database's write lock), read again, and whoever finds the copies still missing makes them, so two
    readers asking at once do not both make them: the second waits, then finds them. Part of the caller's
    transaction (no commit). The copies are a function of the original (``processing.derive``): the bytes a
    reader made for itself (a record's PDF) are those stored here. A photo they cannot be made of is marked
    failed (logged; the original stays), as the job marks it."""
    media = session.scalar(select(Media).where(Media.sha256 == sha256).with_for_update()
                           .execution_options(populate_existing=True))
    if media is None or not on_first_need(media.kind, media.status, media.thumb_sha256):
        return media
    store = settings.store
    try:
        with store.local_file(media.sha256) as path:   # S3: a temporary copy
            made = processing.derive(path, thumb_edge=settings.thumb_edge, public_max_edge=settings.public_max_edge,
                                     default_zone=settings.timezone)
    except Exception as exc:  # noqa: BLE001 - recorded on the row
        log.warning("photo %s: its thumbnail and public copy could not be made", media.sha256, exc_info=True)
        media.status, media.error, media.processed_at = "failed", f"{type(exc).__name__}: {exc}"[:1000], utcnow()
        return media
    holders.writing(session)    # the copies stored in the transaction of the row naming them
    media.public_sha256 = media.sha256 if made.public_is_original else store.put_bytes(made.public)
    media.thumb_sha256 = store.put_bytes(made.thumb)
    session.flush()
    return media


def process(session: Session, settings: MediaSettings, sha256: str, actor: Actor) -> dict:
    """The processing job: EXIF facts into the row, a thumbnail and a copy stripped of metadata.

    The original file is only read. Kinds other than photos need nothing and are marked ready.
    """
    media = info(session, sha256)
    if media is None:
        return {"sha256": sha256, "skipped": "已不存在"}
    if media.kind not in PROCESSED_KINDS:
        if media.status != "ready":
            media.status, media.processed_at = "ready", utcnow()
        session.commit()
        return {"sha256": media.sha256, "status": media.status}
    store = settings.store
    session.commit()  # no transaction held during the image work
    try:
        with store.local_file(media.sha256) as path:   # S3: a temporary copy
            derived = processing.derive(path, thumb_edge=settings.thumb_edge, public_max_edge=settings.public_max_edge,
                                        default_zone=settings.timezone)
    except Exception as exc:  # noqa: BLE001 - recorded on the row and in the job
        media.status, media.error, media.processed_at = "failed", f"{type(exc).__name__}: {exc}"[:1000], utcnow()
        audit.record(session, actor, "media.process_failed", "media", media.sha256, detail={"error": media.error})
        session.commit()
        raise DomainError(f"照片处理失败：{media.error}", code="media.process_failed") from exc
    facts = derived.facts
    holders.writing(session)    # the copies stored in the transaction of the row naming them
    public_sha256 = media.sha256 if derived.public_is_original else store.put_bytes(derived.public)
    _processed(media, derived, store.put_bytes(derived.thumb), public_sha256, utcnow())
    audit.record(session, actor, "media.processed", "media", media.sha256, detail=_processed_detail(media, facts))
    session.commit()
    return {"sha256": media.sha256, "status": "ready", "thumb_sha256": media.thumb_sha256,
            "public_sha256": media.public_sha256, "gps": facts.gps,
            "exif_time": facts.time.isoformat() if facts.time else None}


def cleanup(session: Session, settings: MediaSettings, actor: Actor, *, now: dt.datetime | None = None) -> dict:
    """The scheduled clean-up: files no inspection references, untouched for the grace period, and
    expired upload sessions with their bytes (and the office's uploads of exported outboxes left unconfirmed as
    long). Anything referenced stays, and a file goes only when nothing else names its bytes (``holders``: an
    export, an upload…; checked and removed under the store's lock). One audit entry per run."""
    now = now or utcnow()
    cutoff = now - settings.orphan_grace
    if dialect_of(session) == "sqlite":  # take the write lock first: the candidates are then read under it
        session.execute(update(Media).where(Media.sha256 == "").values(touched_at=now))
    unreferenced = ~exists().where(MediaRef.sha256 == Media.sha256, MediaRef.bound.is_(True))
    candidates = list(session.scalars(select(Media.sha256).where(Media.touched_at < cutoff, unreferenced)))
    deleted: list[tuple[str, str | None, str | None]] = []
    for i in range(0, len(candidates), 500):
        # re-checked by the DELETE itself: a reference added meanwhile (it touches the row) keeps the file
        rows = session.execute(delete(Media).where(Media.sha256.in_(candidates[i:i + 500]),
                                                   Media.touched_at < cutoff, unreferenced)
                               .returning(Media.sha256, Media.thumb_sha256, Media.public_sha256)
                               .execution_options(synchronize_session=False)).all()
        deleted.extend(tuple(r) for r in rows)
        gone = [r[0] for r in rows]
        if gone:
            session.execute(delete(MediaHolder).where(MediaHolder.sha256.in_(gone)))
    expired = list(session.scalars(select(Upload).where(Upload.expires_at <= now)))
    expired_ids = []
    for upload in expired:
        path = settings.part_path(upload)
        try:
            with _Locked(path):
                path.unlink(missing_ok=True)
        except Conflict:
            continue  # being written right now: next run
        except NotFound:
            pass
        expired_ids.append(upload.id)
    if expired_ids:
        session.execute(delete(Upload).where(Upload.id.in_(expired_ids)))
    session.commit()

    removed = holders.remove_unnamed(session, settings.store, {s for row in deleted for s in row if s})
    files, freed = sum(size > 0 for size in removed.values()), sum(removed.values())
    stray = _remove_stray_parts(session, settings, now)
    from backend.inspections import import_desk   # an exported outbox uploaded in the office, never confirmed

    stale_imports = import_desk.expire_stale(session, settings.store, now, settings.upload_expiry)
    from backend.jobs import retention   # export jobs' files and list imports' uploads, past EXPORT_RETENTION_DAYS

    exported = retention.expire(session, settings.store, now, settings.export_retention)
    counts = {"media_deleted": len(deleted), "files_deleted": files, "bytes_freed": freed,
              "uploads_expired": len(expired_ids), "stray_files_deleted": stray,
              "outbox_imports_expired": stale_imports, "grace_days": settings.orphan_grace.days, **exported,
              "export_retention_days": settings.export_retention.days if settings.export_retention else 0}
    audit.record(session, actor, "media.cleanup", "media", None, detail=counts)
    session.commit()
    return counts


def _remove_stray_parts(session: Session, settings: MediaSettings, now: dt.datetime) -> int:
    """Part files without a session, and what the store's writers left half-written (its temporary files; in a
    bucket, unfinished multipart uploads: ``Store.remove_stale_partials``), left by a crash, once old."""
    limit = min(now.timestamp() - settings.upload_expiry.total_seconds(), time.time() - 3600)
    removed = 0
    folder = settings.uploads_dir
    if folder.is_dir():
        for entry in os.scandir(folder):
            if not entry.is_file() or entry.stat().st_mtime >= limit:
                continue
            if session.get(Upload, entry.name) is not None:
                continue
            try:
                os.unlink(entry.path)
                removed += 1
            except FileNotFoundError:
                pass
    return removed + settings.store.remove_stale_partials(limit)     # its work_dir is MEDIA_DIR
