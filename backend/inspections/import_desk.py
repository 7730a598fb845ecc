"""The office's 导入离线记录: an administrator uploads a phone's exported outbox, reads what its import would do,
confirms, and reads what it did (``/api/sync/imports``, docs/api.md "Importing a phone's exported outbox").

1. **Upload** (``preview``): the file is checked whole, as ``shuangsui sync import`` checks it
   (outbox_import.read_export: same codes, same messages), its account must exist and be an officer of the
   caller's department (a system admin: any), and a device whose gap an import closed is refused; then the
   file is kept (media storage, content-addressed) with a preview: the officer, the device, how many
   mutations the server already has, how many it would apply, the photos, the co-signatures it cannot
   verify, and the gap it would stop at. Nothing of the officer's record is written.
2. **Confirm** (``confirm``): the preview is made again (the phone may have sent something since); a gap
   must be confirmed with ``close_gap`` (it retires the device), otherwise nothing is imported
   (``sync.import_gap_unconfirmed``); then the file goes through outbox_import.import_export (the CLI's
   service) and what it did, mutation by mutation, is kept on the row; the stored file is removed.
3. **List** (``page``): the uploads, newest first, of the caller's department (a system admin: all).

Every import is audited by import_export (``sync.import``, with the row's id). The import runs in the request:
at a realistic size (50 mutations, 20 photos) it costs well under a second (docs/decisions.md).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.auth.models import User
from backend.auth.roles import Role
from backend.db import utcnow
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.inspections import outbox_import
from backend.inspections.models import OutboxImport
from backend.media import storage
from backend.media.models import Media
from sync.models import SyncClient

STATUS_LABELS = {"previewed": "待确认", "importing": "导入中", "imported": "已导入", "stopped": "导入中止",
                 "failed": "导入失败", "cancelled": "已取消"}


@dataclasses.dataclass
class Stored:
    """Where the uploaded files live, and the largest one accepted."""
    media_dir: str
    max_bytes: int


def _officer(session: Session, actor: Actor, username: str) -> User:
    """The file's account (outbox_import's checks), of the caller's department unless the caller is a system admin."""
    user = outbox_import._account(session, username)
    if actor.role != Role.SYSADMIN and user.department_id != actor.department_id:
        raise Forbidden("只能导入本部门人员的离线记录", code="forbidden.department")
    return user


def _gap(ids: list[int], last: int) -> dict | None:
    """Where the file's ids leave the server's sequence (``last``: the device's last id on the server)."""
    expected = last + 1
    for i, mutation_id in enumerate(ids):
        if mutation_id <= last:
            continue
        if mutation_id != expected:
            return {"expected": expected, "got": mutation_id, "lost": [expected, mutation_id - 1],
                    "after": len(ids) - i}
        expected += 1
    return None


def _preview(session: Session, export: outbox_import.ExportFile, officer: User) -> dict:
    client = session.get(SyncClient, export.client_id)
    if client is not None and client.user_id != officer.id:
        raise Forbidden("文件中的设备编号属于其他账号，不能按这个账号导入", code="sync.client_not_yours")
    last = client.last_mutation_id if client is not None else 0
    ids = [m["id"] for m in export.outbox]
    known = sum(1 for i in ids if i <= last)
    gap = _gap(ids, last)
    shas = [p.sha256 for p in export.photos if p.data]
    on_server = set(session.scalars(select(Media.sha256).where(Media.sha256.in_(shas)))) if shas else set()
    unverifiable = sum(1 for m in export.outbox if isinstance(m.get("args"), dict)
                       and isinstance(m["args"].get("signer"), dict)
                       and m["args"]["signer"].get("password") == outbox_import.STRIPPED_PASSWORD)
    return {
        "officer": {"id": officer.id, "username": officer.username, "display_name": officer.display_name,
                    "department_id": officer.department_id,
                    "department_name": officer.department.name if officer.department else None},
        "client_id": export.client_id, "exported_at": export.exported_at,
        "device": None if client is None else {
            "label": client.label, "last_mutation_id": client.last_mutation_id,
            "retired_at": client.retired_at.isoformat() if client.retired_at else None},
        "mutations": len(ids), "first_id": ids[0] if ids else None, "last_id": ids[-1] if ids else None,
        "already_received": known,
        "to_deliver": len(ids) - known - (gap["after"] if gap else 0),
        "photos": len(export.photos), "photos_on_server": len(on_server),
        "photos_without_data": sum(1 for p in export.photos if not p.data),
        "unverifiable_signatures": unverifiable,
        "gap": gap,
    }


def _checked(session: Session, actor: Actor, raw: bytes) -> tuple[outbox_import.ExportFile, User, dict]:
    export = outbox_import.read_export(raw)
    officer = _officer(session, actor, export.username)
    outbox_import._gap_not_closed(session, export.client_id)
    return export, officer, _preview(session, export, officer)


def preview(session: Session, actor: Actor, stored: Stored, raw: bytes, file_name: str) -> OutboxImport:
    """Check the uploaded file whole, keep it, and say what its import would do (nothing imported yet)."""
    if not raw:
        raise DomainError("上传的文件是空的", code="sync.import_empty_file", status=400)
    _export, officer, facts = _checked(session, actor, raw)
    sha256, size = storage.get(stored.media_dir).put_stream(io.BytesIO(raw))
    row = OutboxImport(status="previewed", file_name=file_name, file_sha256=sha256, file_size=size,
                       client_id=facts["client_id"], officer_id=officer.id, department_id=officer.department_id,
                       preview=facts, close_gap=False, created_by=actor.user_id, created_by_label=actor.label[:128],
                       created_at=utcnow())
    session.add(row)
    session.commit()
    return row


def get(session: Session, actor: Actor, import_id: int) -> OutboxImport:
    row = session.get(OutboxImport, import_id)
    if row is None:
        raise NotFound("没有这次导入", code="sync.import_not_found")
    if actor.role != Role.SYSADMIN and row.department_id != actor.department_id:
        raise Forbidden("只能查看本部门人员的离线记录导入", code="forbidden.department")
    return row


def _waiting(row: OutboxImport) -> None:
    if row.status != "previewed":
        raise Conflict(f"这次导入已{STATUS_LABELS.get(row.status, row.status)}，不能再确认",
                       code="sync.import_not_pending", details={"status": row.status})


def _claim(session: Session, row: OutboxImport, status: str) -> None:
    """previewed → ``status``, once: two admins confirming the same upload import it once."""
    done = session.execute(update(OutboxImport).where(OutboxImport.id == row.id, OutboxImport.status == "previewed")
                           .values(status=status).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.rollback()
        session.refresh(row)
        _waiting(row)
    session.commit()
    session.refresh(row)


def _forget_file(session: Session, stored: Stored, row: OutboxImport) -> None:
    """The file is no longer needed once imported or cancelled (unless another pending upload is the same file)."""
    _remove_unless_pending(session, storage.get(stored.media_dir), row)


def _remove_unless_pending(session: Session, store, row: OutboxImport) -> None:
    others = session.scalar(select(OutboxImport.id).where(OutboxImport.file_sha256 == row.file_sha256,
                                                          OutboxImport.id != row.id,
                                                          OutboxImport.status == "previewed").limit(1))
    if others is None:
        store.remove(row.file_sha256)


def expire_stale(session: Session, store, now: dt.datetime, older_than: dt.timedelta) -> int:
    """Uploads left unconfirmed longer than ``older_than`` (the media clean-up's upload expiry): cancelled, their
    files removed (media/upkeep.py, the scheduled clean-up)."""
    rows = list(session.scalars(select(OutboxImport).where(OutboxImport.status == "previewed",
                                                           OutboxImport.created_at < now - older_than)))
    hours = int(older_than.total_seconds() // 3600)
    for row in rows:
        row.status, row.imported_at, row.imported_by_label = "cancelled", now, "系统（逾期未确认）"
        row.result = {"code": "sync.import_expired", "message": f"上传后 {hours} 小时内未确认导入，已自动取消"}
    session.commit()
    for row in rows:
        _remove_unless_pending(session, store, row)
    return len(rows)


def confirm(session: Session, actor: Actor, stored: Stored, import_id: int, *, close_gap: bool, media_settings,
            settings: dict, queue) -> OutboxImport:
    """Import a previewed upload (its preview made again first); ``close_gap`` is the second confirmation a gap
    needs (the device is retired)."""
    row = get(session, actor, import_id)
    _waiting(row)
    store = storage.get(stored.media_dir)
    if not store.exists(row.file_sha256):
        raise Conflict("上传的文件已不在服务器上，请重新上传", code="sync.import_file_missing")
    with store.local_file(row.file_sha256) as path:
        raw = path.read_bytes()
    export, _officer_row, facts = _checked(session, actor, raw)
    if facts["gap"] and not close_gap:
        row.preview = facts
        session.commit()
        first, last = facts["gap"]["lost"]
        raise Conflict(f"文件中的变更编号有缺口（第 {first}–{last} 条不在文件中，手机上已丢失）：确认无法找回后，"
                       f"须勾选“补上缺口（停用该设备）”再导入；未导入任何记录",
                       code="sync.import_gap_unconfirmed", details={"gap": facts["gap"]})
    _claim(session, row, "importing")
    return _run(session, actor, stored, row.id, export, facts, close_gap=close_gap, media_settings=media_settings,
                settings=settings, queue=queue)[0]


def _run(session: Session, actor: Actor, stored: Stored | None, import_id: int, export, facts: dict, *,
         close_gap: bool, media_settings, settings: dict, queue) -> tuple[OutboxImport, outbox_import.ImportReport]:
    """The import of a claimed row (status importing) through outbox_import.import_export, its outcome kept on the
    row. A failure marks the row failed (what was delivered before it stays delivered) and is raised again."""
    row = session.get(OutboxImport, import_id)
    try:
        report = outbox_import.import_export(session, export, by=actor, media_settings=media_settings,
                                             settings=settings, queue=queue, file_name=row.file_name,
                                             close_gap=close_gap, audit_detail={"import_id": import_id})
    except Exception as exc:
        session.rollback()
        row = session.get(OutboxImport, import_id)
        if isinstance(exc, DomainError):
            row.result = {"code": exc.code, "message": exc.message}
        else:
            row.result = {"code": "sync.import_failed", "message": "导入中断（服务器内部错误）：已送达的记录保留，"
                                                                   "可重新上传同一文件，已收到的不会重复采用"}
        row.status = "failed"
        _finish(session, stored, row, actor, close_gap)
        raise
    row = session.get(OutboxImport, import_id)
    row.status = "stopped" if report.stopped else "imported"
    row.preview = facts
    row.result = {**report.to_dict(), "summary": outbox_import.summary(report)}
    _finish(session, stored, row, actor, close_gap)
    return row, report


def import_direct(session: Session, actor: Actor, raw: bytes, file_name: str, *, close_gap: bool, media_settings,
                  settings: dict, queue) -> tuple[OutboxImport, outbox_import.ImportReport]:
    """``shuangsui sync import``: checked as an upload is, imported at once (a gap stops it unless ``close_gap``),
    and listed with the office's uploads (the file itself is not kept)."""
    export, officer, facts = _checked(session, actor, raw)
    row = OutboxImport(status="importing", file_name=file_name[-200:], file_sha256=hashlib.sha256(raw).hexdigest(),
                       file_size=len(raw), client_id=facts["client_id"], officer_id=officer.id,
                       department_id=officer.department_id, preview=facts, close_gap=close_gap,
                       created_by=actor.user_id, created_by_label=actor.label[:128], created_at=utcnow())
    session.add(row)
    session.commit()
    return _run(session, actor, None, row.id, export, facts, close_gap=close_gap, media_settings=media_settings,
                settings=settings, queue=queue)


def _finish(session: Session, stored: Stored | None, row: OutboxImport, actor: Actor, close_gap: bool) -> None:
    row.close_gap, row.imported_by, row.imported_by_label, row.imported_at = close_gap, actor.user_id, \
        actor.label[:128], utcnow()
    session.commit()
    if stored is not None:
        _forget_file(session, stored, row)


def cancel(session: Session, actor: Actor, stored: Stored, import_id: int) -> OutboxImport:
    """An upload not to be imported after all: its file is removed, the row stays (cancelled)."""
    row = get(session, actor, import_id)
    _waiting(row)
    _claim(session, row, "cancelled")
    row.imported_by, row.imported_by_label, row.imported_at = actor.user_id, actor.label, utcnow()
    session.commit()
    _forget_file(session, stored, row)
    return row


def page_query(actor: Actor, status: str | None = None):
    """The uploads the caller may see, newest first."""
    stmt = select(OutboxImport).order_by(OutboxImport.created_at.desc(), OutboxImport.id.desc())
    if actor.role != Role.SYSADMIN:
        stmt = stmt.where(OutboxImport.department_id == actor.department_id)
    if status:
        stmt = stmt.where(OutboxImport.status == status)
    return stmt
