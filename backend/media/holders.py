"""Who names a stored file: the one check every deletion from the content-addressed store goes through.

The store keeps one file per content (``storage``): the same bytes may be a photo, an export, a list import's
upload and an office's outbox upload at once. A file is removed only when none of these names its hash:

* a ``media`` row (the file itself, its thumbnail or its public copy). The files of records — a record's PDF
  (``inspection_record.pdf_sha256``, ``rendered_pdf``), the notice to the business, a signature's image, a
  published photo — are all ``media`` rows kept by the inspection's bound references (never unbound:
  docs/decisions.md "References, through one function"), so the rows answer for them; a draft's PDF has no
  reference on purpose and goes with its row after the grace period;
* a national-publicity export (``publication_export``: kept with its file);
* an outbox upload of the import desk still waiting (``previewed``) or being imported (``importing``);
* an export job's ``result`` or a list import's ``params`` (``backend.jobs.retention``), unless the job was
  expired by the retention period (a job queued or running again still names its file).

Every writer of the store puts the bytes in the transaction that records who names them, holding this module's
lock shared (:func:`writing`); a deletion checks and removes under the same lock, exclusive (:func:`remove_unnamed`).
So a writer either recorded its name before the check (the file is kept) or puts the bytes after the removal
(the file is back): never a name without its file. PostgreSQL: an advisory lock (``pg_advisory_xact_lock_shared``
for the writers, which never wait for one another; the clean-up tries for it exclusive until no writer holds it);
SQLite: the database's one write lock (both sides write).
No Flask.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable

from sqlalchemy import or_, select, text, update
from sqlalchemy.orm import Session

from backend.db import dialect_of, is_write_session

LOCK_SPACE = 0x53544F52      # "STOR": pg_advisory_xact_lock(LOCK_SPACE, 1), the store's writers against removals
CHUNK = 200                  # hashes checked and removed per locked transaction (writers wait at most this long)
RETRY_S = 0.05              # PostgreSQL: the removal's wait between two tries while writers hold the lock
_PENDING_OUTBOX = ("previewed", "importing")

# tests: called under the lock, after the check, before the files are removed (an interleaving, not a timing)
before_remove: Callable[[Session, list[str]], None] | None = None


def named(session: Session, shas: Iterable[str]) -> set[str]:
    """The hashes among ``shas`` that something still names (the module's list)."""
    from backend.inspections.models import OutboxImport
    from backend.jobs import retention
    from backend.media.models import Media
    from backend.publication.models import PublicationExport

    wanted = sorted(set(shas))
    found: set[str] = set()
    for i in range(0, len(wanted), 500):
        chunk = wanted[i:i + 500]
        for row in session.execute(select(Media.sha256, Media.thumb_sha256, Media.public_sha256).where(
                or_(Media.sha256.in_(chunk), Media.thumb_sha256.in_(chunk), Media.public_sha256.in_(chunk)))):
            found.update(s for s in row if s)
        found.update(session.scalars(select(PublicationExport.sha256).where(PublicationExport.sha256.in_(chunk))))
        found.update(session.scalars(select(OutboxImport.file_sha256).where(
            OutboxImport.file_sha256.in_(chunk), OutboxImport.status.in_(_PENDING_OUTBOX))))
        found.update(retention.named_by_jobs(session, chunk))
    return found & set(wanted)


def _lock(session: Session, *, shared: bool) -> None:
    if dialect_of(session) == "postgresql":
        if shared:
            session.execute(text("SELECT pg_advisory_xact_lock_shared(:space, 1)"), {"space": LOCK_SPACE})
            return
        # the removal asks until no writer holds it, never waiting in the lock's queue: a waiting exclusive
        # request would hold up every writer arriving after it until the slowest put under way ended
        while not session.scalar(text("SELECT pg_try_advisory_xact_lock(:space, 1)"), {"space": LOCK_SPACE}):
            _wait()
    elif is_write_session(session):   # SQLite: the write lock, which a write session takes at BEGIN IMMEDIATE
        session.connection()            # its transaction begun now if it was not (no statement otherwise)
    else:
        from backend.media.models import Media

        session.execute(update(Media).where(Media.sha256 == "").values(size=0)
                        .execution_options(synchronize_session=False))


def _wait() -> None:
    time.sleep(RETRY_S)


def writing(session: Session) -> None:
    """The caller is about to put bytes into the store and record who names them, in this transaction (the lock
    is released by its commit or rollback): no removal of the store's files checks or removes meanwhile."""
    _lock(session, shared=True)


def remove_unnamed(session: Session, store, shas: Iterable[str]) -> dict[str, int]:
    """Remove the files of ``shas`` that nothing names (:func:`named`), each chunk checked and removed under the
    lock (committed after it). Returns the removed hashes with the bytes each freed (0: it was not there)."""
    wanted = sorted(set(shas))
    removed: dict[str, int] = {}
    for i in range(0, len(wanted), CHUNK):
        chunk = wanted[i:i + CHUNK]
        _lock(session, shared=False)
        kept = named(session, chunk)
        gone = [sha for sha in chunk if sha not in kept]
        if before_remove is not None:
            before_remove(session, gone)
        for sha in gone:
            removed[sha] = store.remove(sha)
        session.commit()
    return removed
