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

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.models import User
from backend.auth.roles import Role
from backend.db import utcnow
from backend.errors import Conflict, DomainError, Forbidden, NotFound
from backend.inspections import outbox_import
from backend.inspections.models import OutboxImport
from backend.media import holders, storage
from backend.media.models import Media
from sync.models import SyncClient

STATUS_LABELS = {"previewed": "待确认", "importing": "导入中", "interrupted": "导入中断", "imported": "已导入",
                 "stopped": "导入中止", "failed": "导入失败", "cancelled": "已取消"}

# An import beats its heart (``imported_at``, the row committed) after the photos and after every batch of at most
# 100 mutations, each well under a second; the request running it is ended by gunicorn after 120 s of silence
# (gunicorn_conf.timeout). A row ``importing`` whose heart has not beaten for this long was left by a process that
# died: shown ``interrupted``, and it may be confirmed again (docs/api.md).
STALE_AFTER = dt.timedelta(minutes=5)


def shown_status(row: OutboxImport, now: dt.datetime | None = None) -> str:
    """The row's status as the office reads it: ``importing`` left without a heartbeat is ``interrupted``."""
    if row.status == "importing" and _stale(row, now or utcnow()):
        return "interrupted"
    return row.status


def _stale(row: OutboxImport, now: dt.datetime) -> bool:
    beat = row.imported_at or row.created_at
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=dt.timezone.utc)
    return beat < now - STALE_AFTER


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
    holders.writing(session)      # the bytes and the row naming them in one transaction (no clean-up between)
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


def _waiting(row: OutboxImport, *, interrupted_too: bool = False) -> None:
    status = shown_status(row)
    if status != "previewed" and not (interrupted_too and status == "interrupted"):
        if status == "importing":
            raise Conflict("这次导入正在进行（导入中），请稍后刷新查看结果", code="sync.import_not_pending",
                           details={"status": status})
        raise Conflict(f"这次导入已{STATUS_LABELS.get(status, status)}，不能再确认",
                       code="sync.import_not_pending", details={"status": status})


def _claim(session: Session, row: OutboxImport, status: str, actor: Actor | None = None) -> None:
    """previewed → ``status``, once: two admins confirming the same upload import it once. An interrupted row
    (``importing``, its heartbeat stale) is taken over once too: only while its heartbeat is still the one read."""
    now = utcnow()
    if row.status == "importing":
        cond = (OutboxImport.status == "importing",
                OutboxImport.imported_at == row.imported_at if row.imported_at is not None
                else OutboxImport.imported_at.is_(None))
    else:
        cond = (OutboxImport.status == "previewed",)
    values: dict = {"status": status}
    if status == "importing":   # the heartbeat starts (imported_by: who runs it, until it is finished)
        values.update(imported_at=now, imported_by=actor.user_id, imported_by_label=actor.label[:128])
    done = session.execute(update(OutboxImport).where(OutboxImport.id == row.id, *cond)
                           .values(**values).execution_options(synchronize_session=False))
    if done.rowcount != 1:
        session.rollback()
        session.refresh(row)
        if row.status == "importing":   # taken over by another admin a moment ago
            raise Conflict("这次导入正在进行（导入中），请稍后刷新查看结果", code="sync.import_not_pending",
                           details={"status": "importing"})
        _waiting(row)
    session.commit()
    session.refresh(row)


def _heartbeat(session: Session, import_id: int):
    """The import's ``progress`` (outbox_import.import_export): the row's ``imported_at`` moved on and committed;
    a gap about to be closed recorded on the row (``result.gap_closing``) in that commit, before the device is
    retired."""
    def beat(step: str, gap: dict | None = None) -> None:
        values: dict = {"imported_at": utcnow()}
        if gap is not None:
            values["result"] = {"gap_closing": gap}
        session.execute(update(OutboxImport).where(OutboxImport.id == import_id).values(**values)
                        .execution_options(synchronize_session=False))
        session.commit()
    return beat


def _forget_file(session: Session, stored: Stored, row: OutboxImport) -> None:
    """The file is no longer needed once imported or cancelled (unless another pending upload is the same file)."""
    _remove_unless_pending(session, storage.get(stored.media_dir), row)


def _remove_unless_pending(session: Session, store, row: OutboxImport) -> None:
    holders.remove_unnamed(session, store, [row.file_sha256])   # another waiting upload, an export, a photo…


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
    holders.remove_unnamed(session, store, [row.file_sha256 for row in rows])
    return len(rows)


def confirm(session: Session, actor: Actor, stored: Stored, import_id: int, *, close_gap: bool, media_settings,
            settings: dict, queue) -> OutboxImport:
    """Import a previewed upload (its preview made again first); ``close_gap`` is the second confirmation a gap
    needs (the device is retired)."""
    row = get(session, actor, import_id)
    _waiting(row, interrupted_too=True)
    store = storage.get(stored.media_dir)
    if not store.exists(row.file_sha256):
        raise Conflict("上传的文件已不在服务器上，请重新上传", code="sync.import_file_missing")
    with store.local_file(row.file_sha256) as path:
        raw = path.read_bytes()
    if row.status == "importing":       # interrupted: resumed
        return _resume(session, actor, stored, row, raw, media_settings=media_settings, settings=settings,
                       queue=queue)[0]
    export, _officer_row, facts = _checked(session, actor, raw)
    if facts["gap"] and not close_gap:
        row.preview = facts
        session.commit()
        first, last = facts["gap"]["lost"]
        raise Conflict(f"文件中的变更编号有缺口（第 {first}–{last} 条不在文件中，手机上已丢失）：确认无法找回后，"
                       f"须勾选“补上缺口（停用该设备）”再导入；未导入任何记录",
                       code="sync.import_gap_unconfirmed", details={"gap": facts["gap"]})
    row.close_gap = close_gap
    _claim(session, row, "importing", actor)
    return _run(session, actor, stored, row.id, export, facts, close_gap=close_gap, media_settings=media_settings,
                settings=settings, queue=queue)[0]


def _resume(session: Session, actor: Actor, stored: Stored | None, row: OutboxImport, raw: bytes, *, media_settings,
            settings: dict, queue) -> tuple[OutboxImport, outbox_import.ImportReport]:
    """An interrupted import confirmed again: taken over (once), audited (``sync.import_resume``), and run again
    from the start. Every mutation the first run delivered is answered from what was stored (exactly once,
    docs/sync.md); a gap it had begun to close is closed with the same numbering (``result.gap_closing``), so no
    mutation is delivered under two ids. The preview is made again, on that numbering."""
    gap = (row.result or {}).get("gap_closing")
    export = outbox_import.read_export(raw)
    officer = _officer(session, actor, export.username)
    outbox_import._gap_not_closed(session, export.client_id, resuming=row.id)
    facts = _preview(session, export if gap is None else
                     dataclasses.replace(export, outbox=outbox_import.renumbered(export.outbox, gap)), officer)
    if facts["gap"] and not row.close_gap:
        # the phone's device moved on while the import lay interrupted: confirmed as an upload is
        raise Conflict("这次导入中断后，服务器上该设备的编号已有变化：请重新上传文件后再确认",
                       code="sync.import_reupload", details={"gap": facts["gap"]})
    interrupted_at, close_gap = row.imported_at or row.created_at, row.close_gap
    _claim(session, row, "importing", actor)
    audit.record(session, actor, "sync.import_resume", "outbox_import", row.id,
                 detail={"client_id": row.client_id, "file": row.file_name, "interrupted_at": interrupted_at.isoformat(),
                         "gap_closing": gap}, department_id=row.department_id)
    session.commit()
    return _run(session, actor, stored, row.id, export, facts, close_gap=close_gap, media_settings=media_settings,
                settings=settings, queue=queue, resume_gap=gap)


def _run(session: Session, actor: Actor, stored: Stored | None, import_id: int, export, facts: dict, *,
         close_gap: bool, media_settings, settings: dict, queue,
         resume_gap: dict | None = None) -> tuple[OutboxImport, outbox_import.ImportReport]:
    """The import of a claimed row (status importing) through outbox_import.import_export, its outcome kept on the
    row. A failure marks the row failed (what was delivered before it stays delivered) and is raised again; a
    process that dies leaves it ``importing``, shown ``interrupted`` once its heartbeat is stale."""
    row = session.get(OutboxImport, import_id)
    try:
        report = outbox_import.import_export(session, export, by=actor, media_settings=media_settings,
                                             settings=settings, queue=queue, file_name=row.file_name,
                                             close_gap=close_gap and resume_gap is None,
                                             audit_detail={"import_id": import_id},
                                             progress=_heartbeat(session, import_id), resume_gap=resume_gap,
                                             resuming=import_id)
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
    sha256 = hashlib.sha256(raw).hexdigest()
    export = outbox_import.read_export(raw)
    left = [r for r in session.scalars(select(OutboxImport).where(
        OutboxImport.file_sha256 == sha256, OutboxImport.client_id == export.client_id,
        OutboxImport.status == "importing").order_by(OutboxImport.id)) if shown_status(r) == "interrupted"]
    if left:          # the same file's import, interrupted: resumed (the gap it began to close, closed the same way)
        return _resume(session, actor, None, left[0], raw, media_settings=media_settings, settings=settings,
                       queue=queue)
    running = session.scalar(select(OutboxImport.id).where(
        OutboxImport.file_sha256 == sha256, OutboxImport.client_id == export.client_id,
        OutboxImport.status == "importing").limit(1))
    if running is not None:
        raise Conflict(f"同一文件的导入正在进行（第 {running} 次导入）；如其进程已中断，请 "
                       f"{int(STALE_AFTER.total_seconds() // 60)} 分钟后再运行，将续完那次导入",
                       code="sync.import_not_pending", details={"status": "importing", "import_id": running})
    export, officer, facts = _checked(session, actor, raw)
    now = utcnow()
    row = OutboxImport(status="importing", file_name=file_name[-200:], file_sha256=sha256,
                       file_size=len(raw), client_id=facts["client_id"], officer_id=officer.id,
                       department_id=officer.department_id, preview=facts, close_gap=close_gap,
                       created_by=actor.user_id, created_by_label=actor.label[:128], created_at=now,
                       imported_by=actor.user_id, imported_by_label=actor.label[:128], imported_at=now)
    session.add(row)
    session.commit()
    return _run(session, actor, None, row.id, export, facts, close_gap=close_gap, media_settings=media_settings,
                settings=settings, queue=queue)


def _finish(session: Session, stored: Stored | None, row: OutboxImport, actor: Actor, close_gap: bool) -> None:
    row.close_gap, row.imported_by, row.imported_by_label, row.imported_at = close_gap, actor.user_id, \
        actor.label[:128], utcnow()
    if row.status in ("imported", "stopped"):
        # the same file imported whole again: an interrupted import of it (one with no file kept, from the shell)
        # has nothing left to do
        for other in session.scalars(select(OutboxImport).where(
                OutboxImport.file_sha256 == row.file_sha256, OutboxImport.client_id == row.client_id,
                OutboxImport.id != row.id, OutboxImport.status == "importing")):
            if shown_status(other) == "interrupted" and not (other.result or {}).get("gap_closing"):
                other.status = "failed"
                other.result = {"code": "sync.import_superseded",
                                "message": f"导入中断；同一文件已由第 {row.id} 次导入重新导入，已送达的记录均已核对"}
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
    if status in ("importing", "interrupted"):     # one stored status, told apart by its heartbeat
        stale = func.coalesce(OutboxImport.imported_at, OutboxImport.created_at) < utcnow() - STALE_AFTER
        stmt = stmt.where(OutboxImport.status == "importing", stale if status == "interrupted" else ~stale)
    elif status:
        stmt = stmt.where(OutboxImport.status == status)
    return stmt
