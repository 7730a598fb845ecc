"""Stored files (no Flask): who holds them, who reads them, and the inspections' references to them.

A hash is not a permission. A user *holds* a file when they sent its bytes (``MediaHolder``); a user may
*read* it when they hold it, or see it named in an inspection (a section, the record, a signature) by a
*bound* reference, as the pull or the office view shows that inspection to them (``backend.inspections.
media_access``); system administrators and supervisors read every file. A reference is bound when its
writer holds the file or could already read it (or the server made the file); otherwise it waits, bound
to its writer, until that writer uploads the bytes (``uploads._hold``).

For the sync engine (these neither commit nor audit: the caller's transaction does):

* ``add_references(session, sha256s, inspection_id, actor) -> set[str]``
* ``remove_references(session, sha256s, inspection_id, actor) -> None``
* ``missing(session, sha256s) -> set[str]``
* ``add_generated(session, media_dir, data, *, kind, media_type, filename, actor) -> Media`` (a PDF the server made;
  stored in ``storage.get(media_dir)``)
* ``info(session, sha256) -> Media | None``
"""
from __future__ import annotations

import functools
from typing import Iterable, NamedTuple

from sqlalchemy import bindparam, delete, exists, select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.auth.roles import Role
from backend.db import dialect_of, utcnow
from backend.errors import InvalidInput, NotFound
from backend.media import holders, storage
from backend.media.common import _hashes, clean_filename, normalise_hash
from backend.media.models import Media, MediaHolder, MediaRef

def info(session: Session, sha256: str) -> Media | None:
    """The stored file with this hash, or None."""
    try:
        sha256 = normalise_hash(sha256)
    except InvalidInput:
        return None
    return session.get(Media, sha256)


def missing(session: Session, sha256s: Iterable[str]) -> set[str]:
    """The hashes among ``sha256s`` that the server does not hold (the client must still upload them)."""
    wanted = _hashes(sha256s)
    have: set[str] = set()
    for i in range(0, len(wanted), 500):
        have.update(session.scalars(select(Media.sha256).where(Media.sha256.in_(wanted[i:i + 500]))))
    return set(wanted) - have


def add_references(session: Session, sha256s: Iterable[str], inspection_id: int, actor: Actor) -> set[str]:
    """Record that inspection ``inspection_id`` uses these files (a file may be referenced before it
    arrives). Returns the hashes not stored yet.

    A reference is bound (it makes the file readable to the inspection's readers and keeps it from the
    clean-up) when ``actor`` holds the file or could already read it, or is the server itself; any other
    reference waits, bound to ``actor``, until ``actor`` uploads the bytes (``_hold``). A hash is not a
    permission: naming a stored file one may not read gives nothing, and says nothing of it.

    Part of the caller's transaction: no commit, no audit entry (the caller's change is audited).
    """
    wanted = _hashes(sha256s)
    if not wanted:
        return set()
    if dialect_of(session) == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    now = utcnow()
    existing = {sha: bound for sha, bound in session.execute(
        select(MediaRef.sha256, MediaRef.bound).where(MediaRef.inspection_id == inspection_id,
                                                      MediaRef.sha256.in_(wanted)))}
    to_judge = [sha for sha in wanted if not existing.get(sha)]
    stored = {m.sha256: m for m in session.scalars(select(Media).where(Media.sha256.in_(to_judge)))} if to_judge else {}
    rows = []
    for sha in to_judge:
        media = stored.get(sha)
        bound = actor.user_id is None or (media is not None and may_read(session, actor, media))
        if sha in existing:   # waiting for its writer; one who may read the file now binds it
            if bound:
                session.execute(update(MediaRef).where(MediaRef.inspection_id == inspection_id, MediaRef.sha256 == sha)
                                .values(bound=True, added_by=actor.user_id))
            continue
        rows.append({"sha256": sha, "inspection_id": inspection_id, "created_at": now, "added_by": actor.user_id,
                     "bound": bound})
    if rows:
        session.execute(insert(MediaRef).on_conflict_do_nothing(index_elements=["sha256", "inspection_id"]), rows)
    # the row lock this takes makes a concurrent clean-up skip these files (it re-checks touched_at)
    session.execute(update(Media).where(Media.sha256.in_(wanted)).values(touched_at=now)
                    .execution_options(synchronize_session=False))
    return missing(session, wanted)


def unusable(session: Session, sha256s: Iterable[str], inspection_id: int, actor: Actor,
             pending: Iterable[str] = ()) -> set[str]:
    """The files among ``sha256s`` the inspection cannot use yet: not stored, or named by a writer who has
    not sent their bytes (no bound reference). ``pending``: hashes ``actor`` is referencing in the
    transaction under way (bound on commit if ``actor`` may read them)."""
    wanted = _hashes(sha256s)
    if not wanted:
        return set()
    out = missing(session, wanted)
    stored = [sha for sha in wanted if sha not in out]
    if not stored:
        return out
    bound = set(session.scalars(select(MediaRef.sha256).where(MediaRef.inspection_id == inspection_id,
                                                              MediaRef.sha256.in_(stored), MediaRef.bound.is_(True))))
    later = set(pending)
    for sha in stored:
        if sha in bound:
            continue
        if sha in later and (actor.user_id is None or may_read(session, actor, session.get(Media, sha))):
            continue
        out.add(sha)
    return out


def add_generated(session: Session, media_dir: str, data: bytes, *, kind: str, media_type: str,
                  filename: str | None, actor: Actor) -> Media:
    """Store a file the server made itself (a record's PDF) by its hash and record it, ready at once.

    Part of the caller's transaction: no commit, no audit entry (the caller audits what it made).
    The same bytes stored before are recorded once (their row is touched).
    """
    holders.writing(session)    # stored in the transaction of the row naming it (no clean-up removes it between)
    sha256 = storage.get(media_dir).put_bytes(data)
    now = utcnow()
    media = session.get(Media, sha256)
    if media is None:
        media = Media(sha256=sha256, kind=kind, media_type=media_type, size=len(data), filename=clean_filename(filename),
                      status="ready", uploaded_by=None, created_at=now, processed_at=now, touched_at=now)
        session.add(media)
        session.flush()
    else:
        media.touched_at = now
    return media


def remove_references(session: Session, sha256s: Iterable[str], inspection_id: int, actor: Actor) -> None:
    """The inspection no longer uses these files; unreferenced, they are kept for the grace period.

    Part of the caller's transaction: no commit, no audit entry.
    """
    wanted = _hashes(sha256s)
    if not wanted:
        return
    session.execute(delete(MediaRef).where(MediaRef.inspection_id == inspection_id, MediaRef.sha256.in_(wanted)))
    session.execute(update(Media).where(Media.sha256.in_(wanted)).values(touched_at=utcnow())
                    .execution_options(synchronize_session=False))


def references(session: Session, sha256: str, *, bound_only: bool = False) -> list[int]:
    """The inspections that use a file (``bound_only``: those whose reference counts)."""
    stmt = select(MediaRef.inspection_id).where(MediaRef.sha256 == normalise_hash(sha256))
    if bound_only:
        stmt = stmt.where(MediaRef.bound.is_(True))
    return list(session.scalars(stmt.order_by(MediaRef.inspection_id)))


def holds(session: Session, user_id: int | None, sha256: str) -> bool:
    return user_id is not None and session.get(MediaHolder, (sha256, user_id)) is not None


def may_read(session: Session, actor: Actor, media: Media) -> bool:
    """Whether ``actor`` may read this stored file (see the module's docstring)."""
    if actor.user_id is None or actor.role in (Role.SYSADMIN, Role.SUPERVISOR):
        return True
    if holds(session, actor.user_id, media.sha256):
        return True
    from backend.inspections.media_access import sees

    inspections = references(session, media.sha256, bound_only=True)
    return bool(inspections) and sees(session, actor, media.sha256, inspections)


class Unreadable(NotFound):
    code = "media.not_found"
    message = "文件不存在，或你无权查看（只有上传人、能查看引用它的检查记录的人员可以查看）"


def readable(session: Session, actor: Actor, sha256: str) -> Media:
    """The file, if ``actor`` may read it; else ``404 media.not_found``, as for a file that is not there
    (the answer says nothing of a file the caller may not read)."""
    media = info(session, sha256)
    if media is None or not may_read(session, actor, media):
        raise Unreadable()
    return media


class Head(NamedTuple):
    """What ``HEAD /api/media/<sha256>`` says of a file."""

    sha256: str
    kind: str
    media_type: str
    size: int
    status: str


@functools.cache
def _head_query():
    """A file's few columns and whether the user bound as ``holder_id`` holds it: one indexed look-up."""
    held = exists().where(MediaHolder.sha256 == Media.sha256, MediaHolder.user_id == bindparam("holder_id"))
    return select(Media.kind, Media.media_type, Media.size, Media.status, held).where(
        Media.sha256 == bindparam("sha256"))


def head(session: Session, actor: Actor, sha256: str) -> Head:
    """``readable`` for ``HEAD`` (the phone asks it before every upload): one statement, no ORM object, for a
    file not stored (the usual answer, 404) and for one its caller holds or may read for their role; the
    records' references are read only for anyone else. Same answers as ``readable``."""
    try:
        sha256 = normalise_hash(sha256)
    except InvalidInput:
        raise Unreadable() from None
    row = session.execute(_head_query(), {"sha256": sha256, "holder_id": actor.user_id}).one_or_none()
    if row is None:
        raise Unreadable()
    kind, media_type, size, status, held = row
    if not (held or actor.user_id is None or actor.role in (Role.SYSADMIN, Role.SUPERVISOR)):
        from backend.inspections.media_access import sees

        inspections = references(session, sha256, bound_only=True)
        if not (inspections and sees(session, actor, sha256, inspections)):
            raise Unreadable()
    return Head(sha256, kind, media_type, size, status)
