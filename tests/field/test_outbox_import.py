"""A phone's exported outbox (“导出未发送记录”, pwa/src/lib/exporting.ts) delivered by ``shuangsui sync import``:
once, with its photos, under the phone's own device and ids, even after the device was retired; a stripped
co-signature refused without a password check; a damaged file refused whole."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.models import LoginAttempt
from backend.inspections.models import Section, SectionAnswer
from backend.inspections.outbox_import import STRIPPED_PASSWORD
from backend.media.models import Media, MediaHolder
from sync.models import SyncMutation
from tests.api.media import files
from tests.field.test_merge import sign_and_finalise


def export_of(phone, user, photos: dict[str, bytes] | None = None, *, strip: bool = True) -> dict:
    """The file the phone app writes (its fields as exporting.ts writes them)."""
    outbox = []
    for m in phone.outbox:
        args = m["args"]
        if strip and isinstance(args.get("signer"), dict):
            args = {**args, "signer": {"username": args["signer"]["username"], "password": STRIPPED_PASSWORD}}
        outbox.append({**m, "args": args, "inspection_id": args.get("inspection_id"), "sent_at": None, "attempts": 0})
    return {"kind": "shuangsui-outbox-export", "version": 1, "exported_at": "2026-12-07T01:00:00.000Z",
            "client_id": phone.client_id, "user": {"username": user.username, "display_name": user.display_name},
            "note": "本文件含尚未发送到服务器的检查记录与照片", "outbox": outbox, "refused": [], "inspections": [],
            "photos": [{"sha256": sha, "inspection_id": None, "type": "image/jpeg", "kind": "photo", "size": len(data),
                        "width": 64, "height": 48, "created": "2026-12-07T00:59:00Z", "uploaded": 0, "offset": 0,
                        "upload_url": None, "error": None, "data_base64": base64.b64encode(data).decode()}
                       for sha, data in (photos or {}).items()]}


def run_import(app, tmp_path, export: dict | bytes):
    path = tmp_path / f"outbox-{uuid.uuid4().hex[:6]}.json"
    path.write_bytes(export if isinstance(export, bytes) else json.dumps(export, ensure_ascii=False).encode())
    return app.test_cli_runner().invoke(args=["sync", "import", str(path)])


def _answer(db_session, field, cp: int) -> dict:
    section = db_session.scalar(select(Section).where(Section.inspection_id == field.inspection.id,
                                                      Section.department_id == field.lead_dept.id))
    db_session.expire_all()
    row = db_session.get(SectionAnswer, (section.id, cp)) if section else None
    return row.data if row else {}


def _mutations(db_session, client_id: str) -> int:
    return db_session.scalar(select(func.count()).select_from(SyncMutation).where(SyncMutation.client_id == client_id))


def test_an_exported_outbox_is_delivered_once_with_its_photos(field, app, db_session, tmp_path):
    officer = field.lead_officer
    phone = field.phone(officer)
    cp, cp2 = field.points(field.lead_item)[:2]
    phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": "第一条已发送"})
    phone.push()                                  # the phone had sent something before: its device exists
    photo = files.photo(64, 48, seed=71)
    sha = files.sha(photo)
    phone.set_section(field.inspection.id, field.lead_dept.id, {
        f"points.{cp2}.note": "地下室无信号时记录", f"points.{cp2}.photos": [{"id": str(uuid.uuid4()), "sha256": sha}]})
    export = export_of(phone, officer, {sha: photo})

    result = run_import(app, tmp_path, export)
    assert result.exit_code == 0, result.output
    assert "新采用 1" in result.output and "照片新存 1 张" in result.output and phone.client_id in result.output
    assert _answer(db_session, field, cp2)["note"] == "地下室无信号时记录"
    assert db_session.get(Media, sha) is not None
    assert db_session.get(MediaHolder, (sha, officer.id)) is not None      # held by the officer, as their upload
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "sync.import"))
    assert entry.entity_id == phone.client_id and entry.detail["username"] == officer.username
    assert entry.detail["counts"] == {"applied": 1} and entry.detail["photos_stored"] == 1

    # the same file again, then the phone itself: answered from what was stored, nothing applied twice
    again = run_import(app, tmp_path, export)
    assert again.exit_code == 0 and "新采用 0" in again.output and "此前已收到 1" in again.output
    assert "照片新存 0 张，已有 1 张" in again.output
    results = phone.push()
    assert [r.get("replayed") for r in results] == [True] and phone.pending() == 0
    assert _mutations(db_session, phone.client_id) == 2


def test_a_retired_devices_file_is_imported(field, app, db_session, tmp_path):
    officer = field.lead_officer
    phone = field.phone(officer)
    cp = field.points(field.lead_item)[0]
    phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": "先到的一条"})
    phone.push()
    phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": "停用前导出的一条"})
    export = export_of(phone, officer)
    r = field.client.post(f"/api/sync/clients/{phone.client_id}/retire", headers=field.auth.headers(officer))
    assert r.status_code == 200
    result = run_import(app, tmp_path, export)
    assert result.exit_code == 0, result.output
    assert _answer(db_session, field, cp)["note"] == "停用前导出的一条"
    with pytest.raises(Exception) as refused:       # the device itself stays retired
        phone.push()
    assert getattr(refused.value, "code", None) == "sync.client_retired"


def test_a_stripped_co_signature_is_refused_without_a_password_check(field, app, db_session, tmp_path):
    lead = field.phone(field.lead_user)
    sign_and_finalise(field, lead)
    lead.sign_record(field.inspection.id)
    lead.sign_record(field.inspection.id, signer={"username": field.other_officer.username, "password": "secret"})
    export = export_of(lead, field.lead_user)
    assert export["outbox"][-1]["args"]["signer"]["password"] == STRIPPED_PASSWORD
    result = run_import(app, tmp_path, export)
    assert result.exit_code == 0, result.output
    assert "新采用 1" in result.output and "被拒 1" in result.output and "sync.signer_not_exported" in result.output
    failures = db_session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == field.other_officer.username, LoginAttempt.success.is_(False)))
    assert failures == 0                              # not a failed login of the co-signer


@pytest.mark.parametrize("damage, code_words", [
    (lambda e: b"{not json", "不是有效的 JSON"),
    (lambda e: {**e, "kind": "something-else"}, "不是“导出未发送记录”生成的文件"),
    (lambda e: {**e, "version": 2}, "文件版本 2 无法识别"),
    (lambda e: {**e, "user": {"username": "nobody-here"}}, "账号 nobody-here 不存在"),
    (lambda e: {**e, "outbox": list(reversed(e["outbox"]))}, "变更编号须为递增的正整数"),
    (lambda e: {**e, "photos": [{**e["photos"][0], "data_base64": base64.b64encode(b"tampered").decode()}]},
     "内容与其 SHA-256 不符"),
])
def test_a_damaged_file_is_refused_whole(field, app, db_session, tmp_path, damage, code_words):
    officer = field.lead_officer
    phone = field.phone(officer)
    cp = field.points(field.lead_item)[0]
    photo = files.photo(64, 48, seed=72)
    for note in ("一", "二"):
        phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": note})
    result = run_import(app, tmp_path, damage(export_of(phone, officer, {files.sha(photo): photo})))
    assert result.exit_code != 0 and code_words in result.output, result.output
    assert _mutations(db_session, phone.client_id) == 0
    assert db_session.get(Media, files.sha(photo)) is None
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "sync.import")) is None


def test_a_gap_stops_the_import_and_closing_it_retires_the_device_first(field, app, db_session, tmp_path):
    officer = field.lead_officer
    phone = field.phone(officer)
    cp = field.points(field.lead_item)[0]
    for note in ("第一条", "丢失的第二条", "第三条"):
        phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": note})
    export = export_of(phone, officer)
    export["outbox"] = [m for m in export["outbox"] if m["id"] != 2]          # the phone lost mutation 2

    stopped = run_import(app, tmp_path, export)
    assert stopped.exit_code == 1 and "服务器期待第 2 条，收到第 3 条" in stopped.output and "--close-gap" in stopped.output
    assert _answer(db_session, field, cp)["note"] == "第一条" and _mutations(db_session, phone.client_id) == 1

    closed = app.test_cli_runner().invoke(args=["sync", "import", "--close-gap",
                                                str(sorted(tmp_path.glob("outbox-*.json"))[0])])
    assert closed.exit_code == 0, closed.output
    assert "第 2–2 条不在文件中" in closed.output and "设备已停用" in closed.output
    assert _answer(db_session, field, cp)["note"] == "第三条"
    ids = db_session.scalars(select(SyncMutation.mutation_id).where(SyncMutation.client_id == phone.client_id)
                             .order_by(SyncMutation.mutation_id)).all()
    assert ids == [1, 2]                                                      # the third under the id expected
    entry = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "sync.import")
                               .order_by(AuditEntry.id.desc())).first()
    assert entry.detail["gap"] == {"lost": [2, 2], "renumbered": [[3, 2]]}
    # neither the phone (it holds mutation 3 under its old id) nor the file can deliver it a second time
    with pytest.raises(Exception) as retired:
        phone.push()
    assert getattr(retired.value, "code", None) == "sync.client_retired"
    again = run_import(app, tmp_path, export)
    assert again.exit_code != 0 and "sync.import_gap_closed" in again.output
    assert _mutations(db_session, phone.client_id) == 2
