"""Uploads (no Flask): resumable sessions and whole small files, who may upload, quotas, the finish.

The upload protocol is in docs/sync.md ("Photos and attachments"). In short: a session is
created with the file's declared SHA-256, length and type; bytes are appended at the offset
the server holds (the size of the session's part file, so no database write per chunk); when
the last byte arrives the whole file is hashed, checked by kind and, when accepted, moved into
the content-addressed store and recorded in ``media``. A small file may come whole in one POST
(``store_whole``: no session row). Photos are then processed by a job; the app's plain copies have
their facts read in the request and their thumbnail and public copy made on first need (``upkeep.derived``).
Declaring an upload of a stored file the caller may not read is answered as for a new file: the bytes
must be sent (and checked) before anything is said about it.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import os
import re
import uuid
from pathlib import Path
from typing import BinaryIO

from sqlalchemy import bindparam, delete, exists, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.roles import Role
from backend.db import _json_dumps, dialect_of, utcnow
from backend.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, TooManyRequests
from backend.media import checks, holders, processing, storage
from backend.media.checks import MediaRefused
from backend.media.common import (PROCESSED_KINDS, MediaSettings, UploadState, _facts_read, _processed_detail,
                                  clean_filename, normalise_hash)
from backend.media.models import Media, MediaHolder, MediaRef, Upload
from backend.media.references import may_read

UPLOAD_ID_RE = re.compile(r"^[0-9a-f]{32}$")
READ_CHUNK = 256 * 1024
WHOLE_MAX_BYTES = 4 * 1024 * 1024     # a POST carrying a whole file up to this size is stored with no session


# what each role may upload: officers send the evidence of the inspections they take part in; nobody
# else has a record that could refer to a file (the office side reads files, it never adds them)
UPLOAD_KINDS = {Role.INSPECTOR: ("photo", "signature", "pdf", "audio", "video")}


def may_upload(session: Session, actor: Actor, kind: str | None = None) -> None:
    """Refuse a caller whose role uploads nothing (or not this kind), or an officer with no inspection
    still open (assigned or in progress) that could refer to the file."""
    _may_upload_kind(actor, kind)
    if session.scalar(_open_inspection_query(), {"inspector_id": actor.inspector_id}) is None:
        raise _no_inspection()


def _may_upload_kind(actor: Actor, kind: str | None) -> None:
    """``may_upload`` without its question to the database."""
    kinds = UPLOAD_KINDS.get(actor.role, ())
    if not kinds:
        raise Forbidden("只有执法检查人员可以为检查记录上传文件", code="forbidden.role")
    if kind is not None and kind not in kinds:
        raise Forbidden(f"你的角色不能上传{checks.KIND_LABELS.get(kind, kind)}", code="upload.kind_not_allowed")
    if actor.inspector_id is None:
        raise Forbidden("当前账号未关联执法检查人员，没有检查任务，不能上传文件", code="forbidden.not_inspector")


def _no_inspection() -> Forbidden:
    return Forbidden("你当前没有进行中的检查任务，没有需要上传的文件", code="upload.no_inspection")


@functools.cache
def _open_inspection_query():
    """One inspection still open of the officer bound as ``inspector_id``: the query of ``my_inspections_query``
    built once (every upload asks it; building it took longer than running it)."""
    from backend.inspections.access import ACTIVE
    from backend.inspections.models import Inspection
    from backend.inspections.services import my_inspections_query

    officer = Actor(user_id=None, label="", inspector_id=bindparam("inspector_id"))  # type: ignore[arg-type]
    return (my_inspections_query(officer).with_only_columns(Inspection.id).order_by(None)
            .where(Inspection.status.in_(ACTIVE)).limit(1))


def _declared(settings: MediaSettings, actor: Actor, *, sha256, length, media_type, filename=None,
              kind=None) -> Upload:
    """The client's declaration, checked (hash format, type whitelist, size limit), as an unsaved session."""
    sha256 = normalise_hash(sha256)
    if not isinstance(length, int) or isinstance(length, bool) or length < 1 or length > 2**53:
        raise InvalidInput("文件长度应为正整数（字节）", code="upload.bad_length")
    media_type = checks.normalise_type(media_type)
    kind = checks.kind_for(media_type, kind)
    checks.check_length(kind, length, settings.limits)
    return Upload(id=None, user_id=actor.user_id, sha256=sha256, length=length, media_type=media_type, kind=kind,
                  filename=clean_filename(filename))


def _size_words(n: int) -> str:
    return checks._size_text(n)


# the files a user holds that no record refers to yet: how many, how many bytes (built once: every upload asks)
_UNREFERENCED = (select(func.count().label("files"), func.coalesce(func.sum(Media.size), 0).label("bytes"))
                 .select_from(MediaHolder).join(Media, Media.sha256 == MediaHolder.sha256)
                 .where(MediaHolder.user_id == bindparam("holder_id"),
                        ~exists().where(MediaRef.sha256 == Media.sha256, MediaRef.bound.is_(True))))


@functools.cache
def _open_inspection_and_unreferenced():
    """``may_upload``'s question and ``_check_quotas``'s of a whole file, in one statement (one round trip):
    (an open inspection's id or None, files held unreferenced, their bytes)."""
    unreferenced = _UNREFERENCED.subquery()
    return select(_open_inspection_query().scalar_subquery(), *unreferenced.c).select_from(unreferenced)


def _check_quotas(session: Session, settings: MediaSettings, actor: Actor, length: int, *,
                  new_session: bool) -> None:
    """What one user may have waiting on the server: unfinished uploads (how many, how many bytes they
    declared) and files sent that no record refers to yet (how many, how many bytes)."""
    now = utcnow()
    if new_session:
        count, reserved = session.execute(
            select(func.count(), func.coalesce(func.sum(Upload.length), 0))
            .where(Upload.user_id == actor.user_id, Upload.expires_at > now)).one()
        if count >= settings.max_open_uploads:
            raise TooManyRequests(f"未完成的上传过多（{count} 个），请先完成或取消已有上传", code="upload.too_many",
                                  details={"open": count, "limit": settings.max_open_uploads})
        if reserved + length > settings.max_open_bytes:
            raise TooManyRequests(
                f"未完成的上传已占用 {_size_words(reserved)}，加上本文件将超过每人 {_size_words(settings.max_open_bytes)} "
                "的上限；请先完成或取消已有上传", code="upload.reserved_full",
                details={"reserved": int(reserved), "length": length, "limit": settings.max_open_bytes})
    files, size = session.execute(_UNREFERENCED, {"holder_id": actor.user_id}).one()
    _check_unreferenced(settings, files, size, length)


def _check_unreferenced(settings: MediaSettings, files: int, size: int, length: int) -> None:
    if files + 1 > settings.max_unreferenced_files or size + length > settings.max_unreferenced_bytes:
        raise TooManyRequests(
            f"你已上传但尚未被检查记录引用的文件有 {files} 个（{_size_words(int(size))}），已达每人上限"
            f"（{settings.max_unreferenced_files} 个、{_size_words(settings.max_unreferenced_bytes)}）；"
            "请先同步检查记录，让这些照片被记录引用后再上传", code="upload.unreferenced_full",
            details={"files": files, "bytes": int(size), "max_files": settings.max_unreferenced_files,
                     "max_bytes": settings.max_unreferenced_bytes})


# the references a user wrote to a file before its bytes arrived, bound now (built once: every upload runs it)
_BIND_REFS = (update(MediaRef).where(MediaRef.sha256 == bindparam("ref_sha256"),
                                     MediaRef.added_by == bindparam("ref_added_by"), MediaRef.bound.is_(False))
              .values(bound=True).execution_options(synchronize_session=False))


def _hold(session: Session, media: Media, actor: Actor, *, new: bool = False) -> None:
    """``actor`` has sent these bytes: they hold the file, and the references they wrote before it arrived
    are bound now. Part of the caller's transaction. ``new``: the file's row was just added (nobody holds it)."""
    if actor.user_id is None:
        return
    if new or session.get(MediaHolder, (media.sha256, actor.user_id)) is None:
        session.add(MediaHolder(sha256=media.sha256, user_id=actor.user_id, created_at=utcnow()))
    bound = session.execute(_BIND_REFS, {"ref_sha256": media.sha256, "ref_added_by": actor.user_id}).rowcount
    if bound:
        media.touched_at = utcnow()


def _stored(session: Session, actor: Actor, sha256: str) -> UploadState | None:
    """Content-addressed: the same bytes are stored once, and a caller who may read the stored file need
    not send them again (the file is touched: its grace restarts). To anyone else the file is unknown
    until they have sent its bytes."""
    media = session.get(Media, sha256)
    if media is None or not may_read(session, actor, media):
        return None
    media.touched_at = utcnow()
    session.commit()
    return UploadState(None, media.size, media.size, media, deduplicated=True)


def create_upload(session: Session, settings: MediaSettings, actor: Actor, *, sha256: str, length: int,
                  media_type: str, filename: str | None = None, kind: str | None = None) -> UploadState:
    """Start (or find again) an upload of a declared file. A file already stored needs no upload."""
    declared = _declared(settings, actor, sha256=sha256, length=length, media_type=media_type, filename=filename,
                         kind=kind)
    may_upload(session, actor, declared.kind)
    stored = _stored(session, actor, declared.sha256)
    if stored is not None:
        return stored
    now = utcnow()
    upload = session.scalar(select(Upload).where(Upload.user_id == actor.user_id, Upload.sha256 == declared.sha256,
                                                 Upload.length == declared.length,
                                                 Upload.media_type == declared.media_type,
                                                 Upload.kind == declared.kind, Upload.expires_at > now)
                            .order_by(Upload.created_at.desc()).limit(1))
    if upload is not None:  # the client lost our answer and asks again: same session, same offset
        offset = _size(settings.part_path(upload))
        if offset is not None:
            session.commit()
            return UploadState(upload, offset, upload.length)
    _check_quotas(session, settings, actor, declared.length, new_session=True)
    upload = declared
    upload.id = upload.tmp_name = uuid.uuid4().hex
    upload.created_at, upload.expires_at = now, now + settings.upload_expiry
    settings.uploads_dir.mkdir(parents=True, exist_ok=True)
    settings.part_path(upload).touch(exist_ok=False)
    session.add(upload)
    session.commit()
    return UploadState(upload, 0, upload.length)


def store_whole(session: Session, settings: MediaSettings, actor: Actor, *, stream: BinaryIO, queue,
                **declaration) -> UploadState:
    """One request holding the whole (small) file: checked and stored with no session row.

    Nothing is kept when the body is cut short (the client sends it again); resumable uploads
    create a session first (``create_upload``) and send the bytes with ``append``. The fast path of a
    photo (the client has just asked ``HEAD``): no look-up before the insert, which catches a clash.
    """
    declared = _declared(settings, actor, **declaration)
    _may_upload_kind(actor, declared.kind)   # may_upload and _check_quotas, their questions in one statement
    open_id, files, size = session.execute(_open_inspection_and_unreferenced(), {
        "inspector_id": actor.inspector_id, "holder_id": actor.user_id}).one()
    if open_id is None:
        raise _no_inspection()
    _check_unreferenced(settings, files, size, declared.length)
    if dialect_of(session) == "sqlite":
        session.commit()  # a SQLite reader cannot write later once another writer has committed: end it
    path = settings.uploads_dir / f"whole-{uuid.uuid4().hex}"
    try:
        with _new_file(path) as file:
            received, digest = 0, hashlib.sha256()
            while chunk := stream.read(min(READ_CHUNK, declared.length - received + 1)):
                received += len(chunk)
                if received > declared.length:
                    raise InvalidInput(f"上传内容超出声明的文件长度（{declared.length} 字节）",
                                       code="upload.beyond_length", details={"length": declared.length})
                file.write(chunk)
                digest.update(chunk)
            if received < declared.length:
                raise DomainError(f"请求体不完整：收到 {received} / {declared.length} 字节，请重新发送",
                                  code="upload.incomplete_chunk", details={"offset": 0})
            # the client asked HEAD just before: a clash with stored bytes is rare and caught by the insert
            media, new = _finish(session, settings, actor, declared, path, file, queue, known_new=True,
                                 digest=digest)
    finally:
        path.unlink(missing_ok=True)
    return UploadState(None, declared.length, declared.length, media, deduplicated=not new)


def _new_file(path: Path) -> BinaryIO:
    """``path`` opened to write and read, its folder made if it is not there yet."""
    try:
        return open(path, "w+b")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w+b")  # noqa: SIM115


def _size(path: Path) -> int | None:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return None


def own_upload(session: Session, actor: Actor, upload_id: str) -> Upload:
    """The caller's own, unexpired session (another user's is "not found": ids are not shared)."""
    upload = session.get(Upload, upload_id) if UPLOAD_ID_RE.match(upload_id or "") else None
    if upload is None or upload.user_id != actor.user_id:
        raise NotFound("上传会话不存在或已结束", code="upload.not_found")
    if upload.expires_at <= utcnow():
        raise DomainError("上传会话已过期，请重新开始上传", code="upload.expired", status=410)
    return upload


def upload_state(session: Session, settings: MediaSettings, actor: Actor, upload_id: str) -> UploadState:
    upload = own_upload(session, actor, upload_id)
    offset = _size(settings.part_path(upload))
    if offset is None:
        raise NotFound("上传会话不存在或已结束", code="upload.not_found")
    return UploadState(upload, offset, upload.length)


class _Locked:
    """The session's part file, opened and locked for one writer (flock, across processes)."""

    def __init__(self, path: Path):
        try:
            self.file = open(path, "r+b", buffering=0)  # noqa: SIM115 - closed in __exit__
        except FileNotFoundError:
            raise NotFound("上传会话不存在或已结束", code="upload.not_found") from None
        try:
            fcntl.flock(self.file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.file.close()
            raise Conflict("该文件正在由另一个请求上传，请稍后查询进度（HEAD）再继续", code="upload.locked") from None
        self.path = path

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.file.close()  # releases the lock


def append(session: Session, settings: MediaSettings, actor: Actor, upload_id: str, *, offset: int,
           stream: BinaryIO, content_length: int | None, queue) -> UploadState:
    """Append the body at ``offset`` (which must be the server's); finish the upload on its last byte.

    A body shorter than its Content-Length (the connection was cut) keeps the bytes that arrived,
    so the client resumes from the offset ``HEAD`` reports.
    """
    upload = own_upload(session, actor, upload_id)
    session.commit()  # hold no transaction while the body arrives
    if content_length is not None and offset + content_length > upload.length:
        raise InvalidInput(f"上传内容超出声明的文件长度（{upload.length} 字节）", code="upload.beyond_length",
                           details={"offset": offset, "length": upload.length})
    with _Locked(settings.part_path(upload)) as part:
        size = os.fstat(part.file.fileno()).st_size
        if offset != size:
            raise Conflict(f"上传位置不一致：服务器已收到 {size} 字节，请从该位置继续", code="upload.offset_mismatch",
                           details={"offset": size})
        part.file.seek(size)
        room = upload.length - size
        received = 0
        while True:
            chunk = stream.read(min(READ_CHUNK, room - received + 1))
            if not chunk:
                break
            if received + len(chunk) > room:
                part.file.truncate(size)
                raise InvalidInput(f"上传内容超出声明的文件长度（{upload.length} 字节）", code="upload.beyond_length",
                                   details={"offset": size, "length": upload.length})
            part.file.write(chunk)
            received += len(chunk)
        new_offset = size + received
        if content_length is not None and received < content_length:
            raise DomainError(f"请求体不完整：收到 {received} 字节，已保存，可从 {new_offset} 继续",
                              code="upload.incomplete_chunk", details={"offset": new_offset})
        if new_offset < upload.length:
            return UploadState(upload, new_offset, upload.length)
        media, _new = _finish(session, settings, actor, upload, part.path, part.file, queue)
    return UploadState(None, upload.length, upload.length, media)


def _refuse(session: Session, settings: MediaSettings, actor: Actor, upload: Upload, path: Path,
            error: DomainError, actual: str | None = None) -> DomainError:
    path.unlink(missing_ok=True)
    if upload.id is not None:
        session.execute(delete(Upload).where(Upload.id == upload.id))
    audit.record(session, actor, "upload.refused", "upload", upload.id or upload.sha256, department_id=actor.department_id,
                 detail={"code": error.code, "declared_sha256": upload.sha256, "actual_sha256": actual,
                         "kind": upload.kind, "media_type": upload.media_type, "length": upload.length,
                         "filename": upload.filename})
    session.commit()
    return error


def _finish(session: Session, settings: MediaSettings, actor: Actor, upload: Upload, path: Path, file: BinaryIO,
            queue, known_new: bool = False, digest=None) -> tuple[Media, bool]:
    """The last byte has arrived: hash, check, store, record, and hand photos to the processing job.

    ``upload`` is the session (or, for ``store_whole``, an unsaved declaration); ``file`` is open on ``path``;
    ``digest``: the SHA-256 of its bytes when the caller hashed them as they arrived. Returns the file's row
    and whether this upload stored it (False: the same bytes were there already). A plain photo (the app's
    copies: ``processing.plain_facts``) needs no job: its EXIF facts are read here from the header the check
    opens, and its thumbnail and public copy are made when first asked for (``upkeep.derived``).
    ``known_new``: the caller has just been told the file is not stored (``HEAD``): no look-up before the insert.
    """
    from backend.jobs import services as jobs

    if digest is None:
        file.seek(0)
        digest = hashlib.sha256()
        while chunk := file.read(storage.CHUNK):
            digest.update(chunk)
    else:
        file.flush()   # the checks open the file by its path
    actual = digest.hexdigest()
    if actual != upload.sha256:
        raise _refuse(session, settings, actor, upload, path, DomainError(
            "文件校验失败：收到的内容与声明的 SHA-256 不一致，已丢弃，请重新上传", code="upload.hash_mismatch",
            status=422, details={"declared": upload.sha256, "actual": actual}), actual)
    look = None
    if upload.kind in PROCESSED_KINDS and upload.media_type == "image/jpeg":
        look = functools.partial(processing.plain_facts, public_max_edge=settings.public_max_edge,
                                 default_zone=settings.timezone)
    try:
        facts = checks.check_file(path, upload.kind, upload.media_type, settings.limits, look=look)
    except MediaRefused as refused:
        raise _refuse(session, settings, actor, upload, path, refused, actual) from None
    plain: processing.PhotoFacts | None = facts.looked   # a plain photo's EXIF facts: no job
    holders.writing(session)    # stored in the transaction of the row naming it (no clean-up removes it between)
    settings.store.put_file(path, actual, move=True)
    now = utcnow()
    processed = upload.kind in PROCESSED_KINDS
    job = None
    try:
        media = None if known_new else session.get(Media, actual)
        new = media is None
        if new:
            media = Media(sha256=actual, kind=upload.kind, media_type=facts.media_type or upload.media_type,
                          size=upload.length,
                          filename=upload.filename, width=facts.width, height=facts.height,
                          status="processing" if processed else "ready", uploaded_by=actor.user_id,
                          created_at=now, touched_at=now, processed_at=None if processed else now)
            if plain is not None:
                _facts_read(media, plain, now)
            if processed and plain is None:
                job = jobs.create_job(session, "media.process", {"sha256": actual}, actor, settings.job_attempts,
                                      queue.backend)
        else:
            media.touched_at = now
        detail = {"kind": upload.kind, "media_type": upload.media_type, "size": upload.length,
                  "filename": upload.filename, "width": facts.width, "height": facts.height,
                  "upload": upload.id, "job": job.id if job else None}
        if plain is not None and new:   # what the job's media.processed entry would say (no copies yet)
            detail["processed"] = _processed_detail(media, plain)
        if new and actor.user_id is not None and dialect_of(session) == "postgresql":
            if job is not None:
                session.flush()   # the job's row
            _record_new_pg(session, media, actor, upload.id, detail)
        else:
            if new:
                session.add(media)
            session.flush()
            _hold(session, media, actor, new=new)
            if upload.id is not None:
                session.execute(delete(Upload).where(Upload.id == upload.id))
            audit.record(session, actor, "media.upload", "media", actual, department_id=actor.department_id,
                         detail=detail)
        session.commit()
    except IntegrityError:  # the same bytes are stored already (another request, a moment ago)
        session.rollback()
        if upload.id is not None:
            session.execute(delete(Upload).where(Upload.id == upload.id))
        media = session.get(Media, actual)
        media.touched_at = utcnow()
        _hold(session, media, actor)
        session.commit()
        return media, False
    if job is not None:
        queue.submit(job.id, job.max_attempts)
    return media, True


_MEDIA_COLUMNS = ("sha256", "kind", "media_type", "size", "filename", "width", "height", "status", "error", "exif_gps",
                  "exif_time", "exif_offset", "orientation_fixed", "thumb_sha256", "public_sha256", "uploaded_by",
                  "created_at", "processed_at", "touched_at")


@functools.cache
def _new_file_pg(with_session: bool):
    """PostgreSQL: a new file's row, its holder, the references its sender wrote before it arrived bound, the
    session's row deleted (``with_session``) and the audit head's lock taken last and read, in one statement."""
    values = ", ".join(f"CAST(:m_{c} AS json)" if c == "exif_gps" else f":m_{c}" for c in _MEDIA_COLUMNS)
    ctes = [f"m AS (INSERT INTO media ({', '.join(_MEDIA_COLUMNS)}) VALUES ({values}) RETURNING sha256)",
            "h AS (INSERT INTO media_holder (sha256, user_id, created_at) SELECT sha256, :holder_id, :m_created_at "
            "FROM m RETURNING 1)",
            "r AS (UPDATE media_ref SET bound = true WHERE sha256 = :m_sha256 AND added_by = :holder_id "
            "AND NOT bound RETURNING 1)"]
    written = ["h", "r"]
    if with_session:
        ctes.append("u AS (DELETE FROM upload WHERE id = :upload_id RETURNING 1)")
        written.append("u")
    ctes.append(audit.HEAD_LOCK_CTE.format(after=" AND ".join(f"(SELECT count(*) FROM {w}) >= 0" for w in written)))
    return text("WITH " + ", ".join(ctes) + " SELECT (SELECT seq FROM audit_l), (SELECT hash FROM audit_l)")


@functools.cache
def _append_pg():
    return text("WITH " + ", ".join(audit.APPEND_CTES) + " SELECT 0")


def _record_new_pg(session: Session, media: Media, actor: Actor, upload_id: str | None, detail: dict) -> None:
    """PostgreSQL, what the ORM path does for a file just stored (its row, ``_hold``, the session's row deleted,
    ``media.upload`` audited) in two statements instead of six: the writes with the audit head's lock last
    (``_new_file_pg``), then the entry and the head's move (``audit.APPEND_CTES``), as a push writes them.
    A clash with the same bytes stored a moment ago raises ``IntegrityError`` from the first, as the flush did."""
    for column in _MEDIA_COLUMNS:   # the columns' scalar defaults, as a flush would fill them in
        default = Media.__table__.c[column].default
        if getattr(media, column) is None and default is not None and default.is_scalar:
            setattr(media, column, default.arg)
    params = {f"m_{c}": getattr(media, c) for c in _MEDIA_COLUMNS}
    params["m_exif_gps"] = None if media.exif_gps is None else _json_dumps(media.exif_gps)
    params["holder_id"], params["upload_id"] = actor.user_id, upload_id
    seq, prev = session.execute(_new_file_pg(upload_id is not None), params).one()
    entry, params = audit.append_after(session, seq, prev, actor, "media.upload", "media", media.sha256,
                                       detail=detail, department_id=actor.department_id)
    session.execute(_append_pg(), params)
    audit.appended(session, entry)


def abort_upload(session: Session, settings: MediaSettings, actor: Actor, upload_id: str) -> None:
    """Abandon an upload (tus termination): the session and its bytes are deleted."""
    upload = own_upload(session, actor, upload_id)
    path = settings.part_path(upload)
    try:
        with _Locked(path):
            path.unlink(missing_ok=True)
    except NotFound:
        pass
    session.execute(delete(Upload).where(Upload.id == upload.id))
    session.commit()
