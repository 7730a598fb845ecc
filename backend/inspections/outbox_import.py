"""Importing a phone's exported outbox: the file "导出未发送记录" writes (pwa/src/lib/exporting.ts) when a phone
cannot send its work — a broken or retired phone, an officer who must log out offline. The file asks to be
handed to an administrator; ``shuangsui sync import FILE`` delivers it (docs/sync.md §8).

The import is the phone's own push, made on the server: the photos first (as the officer's uploads, each checked
against its SHA-256), then the outbox in order, in batches of at most ``MAX_MUTATIONS``, as the officer, under the
phone's ``client_id`` and mutation ids. Everything the protocol guarantees holds: a mutation the server already
has (the phone sent it before its export, or sends it afterwards) is answered from what was stored and never
applied twice; gaps stop the import where they stop a push. Two differences from a phone:

* a retired device's file is imported (retiring a lost phone is what makes the file necessary);
* a co-signature whose password the export removed cannot be verified: it is refused
  (``sync.signer_not_exported``: the co-signer signs again on a phone), without counting as a failed login.

A gap (the phone lost mutations: its app says ``sync.gap`` and asks for the file to be handed over) stops the
import as it stops a push. With ``close_gap`` the import retires the device first (so that the phone, which still
holds the mutations under their old ids, can never send them a second time) and delivers what follows the gap
under the ids the server expects; what was lost stays lost, and the report says which ids.

A file whose shape is wrong, or whose photo bytes do not match their hashes, is refused whole before anything
is stored (``sync.import_bad_file``). One audit entry (``sync.import``) names the file, the device and the
counts.
"""
from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import io
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.models import User
from backend.errors import Conflict, InvalidInput, NotFound
from backend.inspections import devices, syncing
from backend.inspections.signers import SIGNED_BY, SignerChecks
from sync import protocol
from sync.engine import Refused, result_counts

EXPORT_KIND = "shuangsui-outbox-export"
STRIPPED_PASSWORD = "（已删除）"  # what the export writes in place of a co-signer's password
NOT_EXPORTED = Refused("sync.signer_not_exported",
                       "导出文件不含代签人的密码，这个代签无法核验，未被采用；请代签人在手机上重新签名")


@dataclasses.dataclass
class Photo:
    sha256: str
    media_type: str
    kind: str
    data: bytes


@dataclasses.dataclass
class ExportFile:
    client_id: str
    username: str
    exported_at: str | None
    outbox: list[dict]
    photos: list[Photo]


@dataclasses.dataclass
class ImportReport:
    username: str
    client_id: str
    mutations: int = 0
    counts: dict = dataclasses.field(default_factory=dict)     # applied / conflict / rejected / replayed
    refused: list[dict] = dataclasses.field(default_factory=list)
    stopped: dict | None = None
    photos_stored: int = 0
    photos_known: int = 0
    photos_missing: list[str] = dataclasses.field(default_factory=list)   # exported without their bytes
    gap: dict | None = None       # close_gap: {lost: [first, last], renumbered: [[old id, new id], …]}
    # each mutation's answer, in order: {id, name, status, replayed, code, message} (the office's result table;
    # not in the audit entry, which keeps the counts and the refusals)
    outcomes: list[dict] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _bad(message: str, where: str) -> InvalidInput:
    return InvalidInput(f"导出文件无法导入：{message}", code="sync.import_bad_file", errors={where: [message]})


def read_export(raw: bytes) -> ExportFile:
    """The file, checked whole: its kind and version, the device, the account, every mutation's shape and every
    photo's bytes against its hash."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _bad("不是有效的 JSON 文件", "file") from None
    if not isinstance(body, dict) or body.get("kind") != EXPORT_KIND:
        raise _bad("不是“导出未发送记录”生成的文件", "kind")
    if body.get("version") != 1:
        raise _bad(f"文件版本 {body.get('version')!r} 无法识别，请升级服务器", "version")
    client_id = body.get("client_id")
    if protocol.client_id_problem(client_id):
        raise _bad("设备编号（client_id）无效", "client_id")
    user = body.get("user")
    username = user.get("username") if isinstance(user, dict) else None
    if not isinstance(username, str) or not username:
        raise _bad("文件中没有账号名", "user")
    outbox = body.get("outbox")
    if not isinstance(outbox, list) or not all(isinstance(m, dict) for m in outbox):
        raise _bad("outbox 须为变更列表", "outbox")
    ids = [m.get("id") for m in outbox]
    if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids) or ids != sorted(set(ids)):
        raise _bad("变更编号须为递增的正整数", "outbox")
    photos = []
    raw_photos = body.get("photos", [])
    if not isinstance(raw_photos, list):
        raise _bad("photos 须为列表", "photos")
    for p in raw_photos:
        if not isinstance(p, dict) or not isinstance(p.get("sha256"), str) or not isinstance(p.get("type"), str):
            raise _bad("照片须有 sha256 与 type", "photos")
        encoded = p.get("data_base64")
        data = b""
        if encoded is not None:
            try:
                data = base64.b64decode(encoded, validate=True)
            except (binascii.Error, TypeError, ValueError):
                raise _bad(f"照片 {p['sha256'][:12]}… 的内容不是有效的 base64", "photos") from None
            if hashlib.sha256(data).hexdigest() != p["sha256"].lower():
                raise _bad(f"照片 {p['sha256'][:12]}… 的内容与其 SHA-256 不符（文件损坏或被改动）", "photos")
        photos.append(Photo(p["sha256"].lower(), p["type"], p.get("kind") or "photo", data))
    exported_at = body.get("exported_at") if isinstance(body.get("exported_at"), str) else None
    return ExportFile(client_id, username, exported_at, outbox, photos)


def _account(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"导出文件中的账号 {username} 不存在", code="sync.import_unknown_user")
    if user.inspector_id is None:
        raise InvalidInput(f"账号 {username} 未关联执法检查人员，不能导入检查记录", code="forbidden.not_inspector")
    return user


def _store_photos(session: Session, media_settings, actor: Actor, photos: list[Photo], queue,
                  report: ImportReport) -> None:
    """Each photo as the officer's own upload (the references the mutations write need its holder)."""
    from backend.media import services as media

    for p in photos:
        if not p.data:
            report.photos_missing.append(p.sha256)
            continue
        filename = f"{'signature' if p.kind == 'signature' else 'photo'}-{p.sha256[:12]}." + \
            ("png" if p.media_type == "image/png" else "jpg")
        state = media.create_upload(session, media_settings, actor, sha256=p.sha256, length=len(p.data),
                                    media_type=p.media_type, filename=filename)
        if state.media is not None:
            report.photos_known += 1
            continue
        media.append(session, media_settings, actor, state.upload.id, offset=state.offset,
                     stream=io.BytesIO(p.data[state.offset:]), content_length=len(p.data) - state.offset, queue=queue)
        report.photos_stored += 1


def _gap_not_closed(session: Session, client_id: str, *, resuming: int | None = None) -> None:
    """A device whose gap an import closed has ids on the server that mean other mutations than the file's: no
    file of it is imported again (its mutations past the gap would be applied a second time). An import closing
    it that was interrupted counts too (its row recorded the gap before the device was retired): only that row
    may go on (``resuming``, import_desk)."""
    from backend.audit.models import AuditEntry
    from backend.inspections.models import OutboxImport

    for row_id, result in session.execute(select(OutboxImport.id, OutboxImport.result).where(
            OutboxImport.client_id == client_id, OutboxImport.status == "importing")):
        if row_id != resuming and (result or {}).get("gap_closing"):
            raise Conflict(f"这台设备的编号缺口正由第 {row_id} 次导入补上（该导入中断后须重新确认它本身），不能再导入"
                           f"它的其他文件", code="sync.import_gap_closed",
                           details={"client_id": client_id, "import_id": row_id})

    for detail in session.scalars(select(AuditEntry.detail).where(AuditEntry.action == "sync.import",
                                                                  AuditEntry.entity_id == client_id)):
        if (detail or {}).get("gap"):
            raise Conflict("这台设备的编号缺口已由一次导入补上（其后的变更已按新编号送达），不能再导入它的文件；"
                           "如仍有未送达的记录，请在审计日志中核对 sync.import 后手工处理",
                           code="sync.import_gap_closed", details={"client_id": client_id})


def _unverifiable(mutations: list[protocol.Mutation]) -> SignerChecks:
    """Co-signatures the export stripped of their password: refused without a password check."""
    checks = SignerChecks()
    for m in mutations:
        signer = m.args.get("signer") if m.name in SIGNED_BY and isinstance(m.args, dict) else None
        if isinstance(signer, dict) and signer.get("password") == STRIPPED_PASSWORD:
            checks.verified[m.id] = NOT_EXPORTED
    return checks


def renumbered(outbox: list[dict], gap: dict) -> list[dict]:
    """The outbox as a closed gap delivers it: the mutations from ``gap["got"]`` on under the ids from
    ``gap["expected"]`` on (the same mapping every time: an interrupted import resumed delivers the same ids)."""
    kept = [m for m in outbox if m["id"] < gap["expected"]]
    rest = [m for m in outbox if m["id"] >= gap["got"]]
    return kept + [{**m, "id": gap["expected"] + i} for i, m in enumerate(rest)]


def import_export(session: Session, export: ExportFile, *, by: Actor, media_settings, settings: dict, queue,
                  file_name: str | None = None, close_gap: bool = False,
                  audit_detail: dict | None = None, progress=None, resume_gap: dict | None = None,
                  resuming: int | None = None) -> ImportReport:
    """Deliver an exported outbox as its phone would have pushed it (commits as it goes, like the pushes).
    ``close_gap``: past a gap, retire the device and deliver the rest under the ids the server expects.

    ``progress(step, gap=None)``: called after the photos and after each batch (its commits are the import's
    heartbeat, import_desk), and with ``gap`` ({expected, got}) when a gap is about to be closed, before the device
    is retired: the caller commits it, so that an import interrupted past that point is resumed with the same
    numbering (``resume_gap``; the device retired again if it was not yet) and never delivers a mutation twice.
    ``resuming``: the desk's row being resumed (its own recorded gap does not refuse it)."""
    user = _account(session, export.username)
    officer = Actor.of_user(user)
    _gap_not_closed(session, export.client_id, resuming=resuming)
    report = ImportReport(export.username, export.client_id, mutations=len(export.outbox))
    _store_photos(session, media_settings, officer, export.photos, queue, report)
    if progress is not None:
        progress("photos")
    counts: dict[str, int] = {}
    pending = [{k: m[k] for k in ("id", "name", "args", "device_time") if k in m} for m in export.outbox]
    if resume_gap is not None:
        devices.retire(session, by, export.client_id)        # a no-op once retired
        moved = [m for m in pending if m["id"] >= resume_gap["got"]]
        report.gap = {"lost": [resume_gap["expected"], resume_gap["got"] - 1],
                      "renumbered": [[m["id"], resume_gap["expected"] + i] for i, m in enumerate(moved)]}
        pending = renumbered(pending, resume_gap)
    while pending:
        chunk, pending = pending[:protocol.MAX_MUTATIONS], pending[protocol.MAX_MUTATIONS:]
        body = {"client_id": export.client_id, "mutations": chunk}
        client_id, mutations = syncing.parse(json.dumps(body, ensure_ascii=False))
        answer = syncing.push(session, officer, client_id, mutations, settings=settings,
                              signers=_unverifiable(mutations), queue=queue, allow_retired=True)
        result_counts(answer["results"], counts)
        names = {m["id"]: m.get("name") for m in chunk}
        for result in answer["results"]:
            report.outcomes.append({"id": result["id"], "name": names.get(result["id"]), "status": result["status"],
                                    "replayed": bool(result.get("replayed")), "code": result.get("code"),
                                    "message": result.get("message")})
            if result["status"] == "rejected" and not result.get("replayed"):
                report.refused.append({k: result.get(k) for k in ("id", "code", "message", "inspection_id")})
        stopped = answer.get("stopped")
        if progress is not None:
            progress("batch")
        if not stopped:
            continue
        rest = [m for m in chunk if m["id"] >= stopped["got"]] + pending
        if stopped["code"] == "sync.gap" and close_gap and report.gap is None:
            if progress is not None:   # recorded first: resumed past here, the same numbering
                progress("gap", gap={"expected": stopped["expected"], "got": stopped["got"]})
            devices.retire(session, by, export.client_id)   # before the rest is renumbered
            expected = stopped["expected"]
            report.gap = {"lost": [expected, stopped["got"] - 1],
                          "renumbered": [[m["id"], expected + i] for i, m in enumerate(rest)]}
            pending = [{**m, "id": expected + i} for i, m in enumerate(rest)]
        elif stopped["code"] == "sync.signer_limit":
            pending = rest                 # the next co-signers: at once, as a phone does
        else:
            report.stopped = stopped
            break
    report.counts = counts
    audit.record(session, by, "sync.import", "sync_client", export.client_id,
                 detail={"file": file_name, "username": export.username, "exported_at": export.exported_at,
                         **{k: v for k, v in report.to_dict().items()
                            if k not in ("username", "client_id", "outcomes")}, **(audit_detail or {})},
                 department_id=user.department_id)
    session.commit()
    return report


def summary(report: ImportReport) -> dict[str, Any]:
    """The counts a person reads first (CLI)."""
    c = report.counts
    return {"applied": c.get("applied", 0), "conflict": c.get("conflict", 0), "rejected": c.get("rejected", 0),
            "replayed": c.get("replayed", 0)}
