"""The office's 导入离线记录 (/api/sync/imports): an admin of the officer's department (or the system admin) uploads
a phone's exported outbox, reads the preview, confirms (a gap: a second confirmation, the device retired), and the
result stays listed; the same checks, codes and messages as ``shuangsui sync import``."""
from __future__ import annotations

import base64
import io
import json
import uuid

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.roles import Role
from backend.inspections.models import OutboxImport
from backend.media import storage
from backend.media.models import Media
from sync.models import SyncClient
from tests.api.media import files
from tests.field.test_outbox_import import _answer, _mutations, export_of

URL = "/api/sync/imports"


def upload(field, user, export: dict | bytes, name: str = "未发送记录.json"):
    raw = export if isinstance(export, bytes) else json.dumps(export, ensure_ascii=False).encode()
    return field.client.post(URL, data={"file": (io.BytesIO(raw), name)}, content_type="multipart/form-data",
                             headers=field.auth.headers(user))


def confirm(field, user, import_id: int, **body):
    return field.client.post(f"{URL}/{import_id}/confirm", json=body, headers=field.auth.headers(user))


def _notes(field, phone, notes):
    cp = field.points(field.lead_item)[0]
    for note in notes:
        phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{cp}.note": note})
    return cp


def _imports(db_session) -> int:
    return db_session.scalar(select(func.count()).select_from(OutboxImport))


def test_a_department_admin_previews_confirms_and_finds_it_listed(field, app, db_session):
    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    phone = field.phone(officer)
    cp = _notes(field, phone, ["先发送的一条"])
    phone.push()
    cp = _notes(field, phone, ["地下室无信号时记录"])
    photo = files.photo(64, 48, seed=81)
    phone.set_section(field.inspection.id, field.lead_dept.id,
                      {f"points.{cp}.photos": [{"id": str(uuid.uuid4()), "sha256": files.sha(photo)}]})
    export = export_of(phone, officer, {files.sha(photo): photo})

    r = upload(field, admin, export)
    assert r.status_code == 201, r.json
    shown = r.json
    assert shown["status"] == "previewed" and shown["file_name"] == "未发送记录.json" and shown["result"] is None
    p = shown["preview"]
    assert p["officer"]["username"] == officer.username and p["client_id"] == phone.client_id
    assert p["device"]["last_mutation_id"] == 1 and p["device"]["retired_at"] is None
    assert (p["mutations"], p["already_received"], p["to_deliver"], p["gap"]) == (2, 0, 2, None)
    assert (p["photos"], p["photos_on_server"]) == (1, 0)
    assert _answer(db_session, field, cp).get("note") == "先发送的一条"       # nothing imported by the preview
    assert db_session.get(Media, files.sha(photo)) is None

    r = confirm(field, admin, shown["id"])
    assert r.status_code == 200, r.json
    done = r.json
    assert done["status"] == "imported" and done["imported_by_label"].startswith(admin.username)
    assert done["result"]["summary"] == {"applied": 2, "conflict": 0, "rejected": 0, "replayed": 0}
    assert [(o["id"], o["status"], o["replayed"]) for o in done["result"]["outcomes"]] == \
        [(2, "applied", False), (3, "applied", False)]
    assert done["result"]["photos_stored"] == 1
    assert _answer(db_session, field, cp)["note"] == "地下室无信号时记录"
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "sync.import"))
    assert entry.actor_id == admin.id and entry.department_id == field.lead_dept.id
    assert entry.detail["import_id"] == shown["id"] and entry.detail["counts"] == {"applied": 2}
    assert "outcomes" not in entry.detail
    row = db_session.get(OutboxImport, shown["id"])
    assert not storage.exists(app.config["MEDIA_DIR"], row.file_sha256)      # the file is not kept once imported

    # the same file again: the preview says the server has it all; confirmed, nothing is applied twice
    again = upload(field, admin, export, "again.json").json
    assert (again["preview"]["already_received"], again["preview"]["to_deliver"]) == (2, 0)
    assert again["preview"]["photos_on_server"] == 1
    twice = confirm(field, admin, again["id"]).json
    assert twice["result"]["summary"]["replayed"] == 2 and twice["result"]["summary"]["applied"] == 0
    assert all(o["replayed"] for o in twice["result"]["outcomes"])
    assert confirm(field, admin, again["id"]).json["code"] == "sync.import_not_pending"

    listed = field.client.get(URL, headers=field.auth.headers(admin)).json
    assert [i["id"] for i in listed["items"]] == [again["id"], shown["id"]] and listed["total"] == 2
    first = listed["items"][1]
    assert first["officer"]["username"] == officer.username and first["summary"]["applied"] == 2
    assert first["created_by_label"].startswith(admin.username) and "result" not in first
    page = field.client.get(f"{URL}?page=2&page_size=1", headers=field.auth.headers(admin)).json
    assert [i["id"] for i in page["items"]] == [shown["id"]] and page["pages"] == 2


def test_who_may_import(field, db_session):
    officer = field.lead_officer
    phone = field.phone(officer)
    _notes(field, phone, ["一"])
    export = export_of(phone, officer)
    for role in (Role.PLANNER, Role.SUPERVISOR, Role.INSPECTOR, Role.PUBLISHER):
        user = officer if role == Role.INSPECTOR else field.factory.user(role, field.lead_dept)
        r = upload(field, user, export)
        assert (r.status_code, r.json["code"]) == (403, "forbidden.role"), role
        assert field.client.get(URL, headers=field.auth.headers(user)).status_code == 403
    stranger = field.factory.user(Role.DEPT_ADMIN, field.other_dept)
    r = upload(field, stranger, export)
    assert (r.status_code, r.json["code"]) == (403, "forbidden.department")
    assert r.json["message"] == "只能导入本部门人员的离线记录"
    assert _imports(db_session) == 0

    # the system admin may import anyone's; the other department's admin neither sees nor confirms it
    sysadmin = field.factory.user(Role.SYSADMIN)
    shown = upload(field, sysadmin, export).json
    assert field.client.get(f"{URL}/{shown['id']}", headers=field.auth.headers(stranger)).json["code"] == \
        "forbidden.department"
    assert confirm(field, stranger, shown["id"]).json["code"] == "forbidden.department"
    assert field.client.get(URL, headers=field.auth.headers(stranger)).json["total"] == 0
    assert field.client.get(URL, headers=field.auth.headers(sysadmin)).json["total"] == 1
    assert _mutations(db_session, phone.client_id) == 0
    assert confirm(field, sysadmin, shown["id"]).json["status"] == "imported"


@pytest.mark.parametrize("damage, status, code, words", [
    (lambda e: b"{not json", 422, "sync.import_bad_file", "导出文件无法导入：不是有效的 JSON 文件"),
    (lambda e: {**e, "kind": "something-else"}, 422, "sync.import_bad_file", "不是“导出未发送记录”生成的文件"),
    (lambda e: {**e, "version": 2}, 422, "sync.import_bad_file", "文件版本 2 无法识别"),
    (lambda e: {**e, "outbox": list(reversed(e["outbox"]))}, 422, "sync.import_bad_file", "变更编号须为递增的正整数"),
    (lambda e: {**e, "photos": [{**e["photos"][0], "data_base64": base64.b64encode(b"tampered").decode()}]},
     422, "sync.import_bad_file", "内容与其 SHA-256 不符"),
    (lambda e: {**e, "user": {"username": "nobody-here"}}, 404, "sync.import_unknown_user",
     "导出文件中的账号 nobody-here 不存在"),
    (lambda e: b"", 400, "sync.import_empty_file", "上传的文件是空的"),
])
def test_a_bad_file_is_refused_whole(field, app, db_session, damage, status, code, words):
    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    phone = field.phone(officer)
    _notes(field, phone, ["一", "二"])
    photo = files.photo(64, 48, seed=82)
    r = upload(field, admin, damage(export_of(phone, officer, {files.sha(photo): photo})))
    assert (r.status_code, r.json["code"]) == (status, code) and words in r.json["message"], r.json
    assert _imports(db_session) == 0 and _mutations(db_session, phone.client_id) == 0
    assert db_session.get(Media, files.sha(photo)) is None


def test_no_file_and_a_file_too_large(field, app):
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    r = field.client.post(URL, data={}, content_type="multipart/form-data", headers=field.auth.headers(admin))
    assert (r.status_code, r.json["code"]) == (400, "sync.import_no_file")
    limit = app.config["MAX_CONTENT_LENGTH"]
    app.config["MAX_CONTENT_LENGTH"] = 1 << 20
    try:
        r = upload(field, admin, b"x" * ((1 << 20) + 1))
    finally:
        app.config["MAX_CONTENT_LENGTH"] = limit
    assert (r.status_code, r.json["code"]) == (413, "sync.import_too_large") and "上限为 1 MB" in r.json["message"]


def test_a_gap_needs_its_own_confirmation_which_retires_the_device(field, db_session):
    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    phone = field.phone(officer)
    cp = _notes(field, phone, ["第一条"])
    phone.push()
    _notes(field, phone, ["丢失的第二条", "第三条"])
    export = export_of(phone, officer)
    export["outbox"] = [m for m in export["outbox"] if m["id"] != 2]          # the phone lost mutation 2

    shown = upload(field, admin, export).json
    assert shown["preview"]["gap"] == {"expected": 2, "got": 3, "lost": [2, 2], "after": 1}
    assert shown["preview"]["to_deliver"] == 0
    r = confirm(field, admin, shown["id"])
    assert (r.status_code, r.json["code"]) == (409, "sync.import_gap_unconfirmed")
    assert "第 2–2 条不在文件中" in r.json["message"] and r.json["details"]["gap"]["lost"] == [2, 2]
    assert _answer(db_session, field, cp)["note"] == "第一条" and _mutations(db_session, phone.client_id) == 1
    assert db_session.get(OutboxImport, shown["id"]).status == "previewed"
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "sync.import")) is None

    done = confirm(field, admin, shown["id"], close_gap=True).json
    assert done["status"] == "imported" and done["close_gap"] is True
    assert done["result"]["gap"] == {"lost": [2, 2], "renumbered": [[3, 2]]}
    assert done["result"]["outcomes"][0]["id"] == 2
    assert _answer(db_session, field, cp)["note"] == "第三条"
    db_session.expire_all()
    assert db_session.get(SyncClient, phone.client_id).retired_at is not None
    r = upload(field, admin, export)
    assert (r.status_code, r.json["code"]) == (409, "sync.import_gap_closed")


def test_a_stripped_co_signature_is_foretold_and_refused(field, db_session):
    from tests.field.test_merge import sign_and_finalise

    lead = field.phone(field.lead_user)
    sign_and_finalise(field, lead)
    lead.sign_record(field.inspection.id)
    lead.sign_record(field.inspection.id, signer={"username": field.other_officer.username, "password": "secret"})
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    shown = upload(field, admin, export_of(lead, field.lead_user)).json
    assert shown["preview"]["unverifiable_signatures"] == 1
    done = confirm(field, admin, shown["id"]).json
    refused = [o for o in done["result"]["outcomes"] if o["status"] == "rejected"]
    assert [o["code"] for o in refused] == ["sync.signer_not_exported"]


def test_a_pending_upload_is_cancelled(field, app, db_session):
    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    phone = field.phone(officer)
    _notes(field, phone, ["一"])
    shown = upload(field, admin, export_of(phone, officer)).json
    r = field.client.delete(f"{URL}/{shown['id']}", headers=field.auth.headers(admin))
    assert r.status_code == 200 and r.json["status"] == "cancelled"
    assert not storage.exists(app.config["MEDIA_DIR"], db_session.get(OutboxImport, shown["id"]).file_sha256)
    assert confirm(field, admin, shown["id"]).json["code"] == "sync.import_not_pending"
    assert _mutations(db_session, phone.client_id) == 0
    listed = field.client.get(f"{URL}?status=cancelled", headers=field.auth.headers(admin)).json
    assert [i["id"] for i in listed["items"]] == [shown["id"]]
    assert field.client.get(f"{URL}?status=imported", headers=field.auth.headers(admin)).json["total"] == 0


def test_a_device_of_another_account_is_refused(field, db_session):
    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    other = field.phone(field.lead_user)
    _notes(field, other, ["组长的一条"])
    other.push()                                   # the device belongs to the lead
    phone = field.phone(officer)
    _notes(field, phone, ["一"])
    export = {**export_of(phone, officer), "client_id": other.client_id}
    r = upload(field, admin, export)
    assert (r.status_code, r.json["code"]) == (403, "sync.client_not_yours") and _imports(db_session) == 0


def test_an_import_from_the_shell_is_listed_too(field, app, db_session, tmp_path):
    from tests.field.test_outbox_import import run_import

    officer = field.lead_officer
    phone = field.phone(officer)
    _notes(field, phone, ["一"])
    assert run_import(app, tmp_path, export_of(phone, officer)).exit_code == 0
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    [item] = field.client.get(URL, headers=field.auth.headers(admin)).json["items"]
    assert item["status"] == "imported" and item["created_by_label"].startswith("cli")
    assert item["summary"]["applied"] == 1 and item["officer"]["username"] == officer.username
    assert storage.exists(app.config["MEDIA_DIR"], db_session.get(OutboxImport, item["id"]).file_sha256) is False


def test_a_refusal_during_the_import_marks_the_upload_failed(field, db_session):
    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    phone = field.phone(officer)
    cp = _notes(field, phone, ["手机上的原文"])
    export = export_of(phone, officer)
    phone.push()
    export["outbox"][0]["args"]["fields"][f"points.{cp}.note"]["value"] = "文件中被改动的内容"
    shown = upload(field, admin, export).json
    assert shown["preview"]["already_received"] == 1
    r = confirm(field, admin, shown["id"])
    assert (r.status_code, r.json["code"]) == (409, "sync.replay_mismatch")
    row = field.client.get(f"{URL}/{shown['id']}", headers=field.auth.headers(admin)).json
    assert row["status"] == "failed" and row["result"]["code"] == "sync.replay_mismatch"
    assert _answer(db_session, field, cp)["note"] == "手机上的原文"


def test_an_upload_left_unconfirmed_expires_with_the_media_clean_up(field, app, db_session):
    import datetime as dt

    from backend.actor import Actor
    from backend.media import upkeep
    from backend.media.common import MediaSettings

    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    phone = field.phone(officer)
    _notes(field, phone, ["一"])
    old, fresh = (upload(field, admin, export_of(phone, officer), name).json for name in ("old.json", "fresh.json"))
    row = db_session.get(OutboxImport, old["id"])
    settings = MediaSettings.from_config(app.config)
    row.created_at = row.created_at - settings.upload_expiry - dt.timedelta(minutes=1)
    db_session.commit()
    counts = upkeep.cleanup(db_session, settings, Actor.system())
    assert counts["outbox_imports_expired"] == 1
    db_session.expire_all()
    expired = db_session.get(OutboxImport, old["id"])
    assert expired.status == "cancelled" and expired.result["code"] == "sync.import_expired"
    assert db_session.get(OutboxImport, fresh["id"]).status == "previewed"
    # the same file is still pending in the fresh upload: kept for it
    assert storage.exists(app.config["MEDIA_DIR"], expired.file_sha256)
    assert confirm(field, admin, fresh["id"]).json["status"] == "imported"


class Killed(BaseException):
    """The server process dies: no ``except Exception`` of the import runs, the row is left as it was."""


def _dies_after(monkeypatch, batches: int):
    """The process dies right after the ``batches``-th batch was delivered (committed), before the import hears
    its answer."""
    from backend.inspections import syncing

    real, calls = syncing.push, []

    def push(*args, **kwargs):
        answer = real(*args, **kwargs)
        calls.append(answer)
        if len(calls) == batches:
            raise Killed()
        return answer
    monkeypatch.setattr(syncing, "push", push)
    return lambda: monkeypatch.setattr(syncing, "push", real)


def _left_for(db_session, import_id: int, minutes: int = 6) -> None:
    import datetime as dt

    db_session.expire_all()
    row = db_session.get(OutboxImport, import_id)
    row.imported_at = row.imported_at - dt.timedelta(minutes=minutes)
    db_session.commit()


def _row(field, admin, import_id):
    return field.client.get(f"{URL}/{import_id}", headers=field.auth.headers(admin)).json


def test_an_import_whose_process_died_is_shown_interrupted_and_confirmed_again_exactly_once(
        field, db_session, monkeypatch):
    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    phone = field.phone(officer)
    notes = [f"第 {n} 条记录" for n in range(1, 231)]        # three batches: 100, 100, 30
    cp = _notes(field, phone, notes)
    shown = upload(field, admin, export_of(phone, officer)).json
    revive = _dies_after(monkeypatch, 2)
    with pytest.raises(Killed):
        confirm(field, admin, shown["id"])
    revive()
    assert _mutations(db_session, phone.client_id) == 200 and _answer(db_session, field, cp)["note"] == notes[199]
    row = _row(field, admin, shown["id"])
    assert (row["status"], row["status_label"], row["result"]) == ("importing", "导入中", None)
    r = confirm(field, admin, shown["id"])                 # its heart beat a moment ago: still running, perhaps
    assert (r.status_code, r.json["code"]) == (409, "sync.import_not_pending") and "正在进行" in r.json["message"]

    _left_for(db_session, shown["id"])
    row = _row(field, admin, shown["id"])
    assert (row["status"], row["status_label"]) == ("interrupted", "导入中断")
    listed = field.client.get(f"{URL}?status=interrupted", headers=field.auth.headers(admin)).json
    assert [i["id"] for i in listed["items"]] == [shown["id"]]
    assert field.client.get(f"{URL}?status=importing", headers=field.auth.headers(admin)).json["items"] == []

    done = confirm(field, admin, shown["id"]).json
    assert done["status"] == "imported", done
    assert done["result"]["summary"] == {"applied": 30, "conflict": 0, "rejected": 0, "replayed": 200}
    assert [o["id"] for o in done["result"]["outcomes"]] == list(range(1, 231))
    assert _mutations(db_session, phone.client_id) == 230 and _answer(db_session, field, cp)["note"] == notes[-1]
    resumed = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "sync.import_resume")).all()
    assert len(resumed) == 1 and resumed[0].entity_id == str(shown["id"])
    assert resumed[0].detail["client_id"] == phone.client_id and resumed[0].detail["gap_closing"] is None
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "sync.import")) == 1
    r = confirm(field, admin, shown["id"])
    assert (r.status_code, r.json["code"]) == (409, "sync.import_not_pending")


def test_a_gap_whose_closing_was_interrupted_is_closed_the_same_way_again(field, db_session, monkeypatch):
    """Past the gap the mutations go under new ids: resumed, the same ids (recorded before the device was
    retired), so none is delivered twice under two ids, and no other file of the device is imported meanwhile."""
    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    phone = field.phone(officer)
    cp = _notes(field, phone, ["第一条"])
    phone.push()
    notes = [f"缺口后第 {n} 条" for n in range(1, 151)]
    _notes(field, phone, ["丢失的一条", *notes])
    export = export_of(phone, officer)
    export["outbox"] = [m for m in export["outbox"] if m["id"] != 2]          # the phone lost mutation 2
    shown = upload(field, admin, export).json
    assert shown["preview"]["gap"]["lost"] == [2, 2]
    revive = _dies_after(monkeypatch, 2)       # the first batch stops at the gap; the second delivers 2..101
    with pytest.raises(Killed):
        confirm(field, admin, shown["id"], close_gap=True)
    revive()
    db_session.expire_all()
    assert db_session.get(SyncClient, phone.client_id).retired_at is not None
    assert _mutations(db_session, phone.client_id) == 101 and _answer(db_session, field, cp)["note"] == notes[99]
    other = upload(field, admin, export)               # the same device's file, while the gap is being closed
    assert (other.status_code, other.json["code"]) == (409, "sync.import_gap_closed")

    _left_for(db_session, shown["id"])
    done = confirm(field, admin, shown["id"]).json     # resumed as it was confirmed: closing the gap
    assert done["status"] == "imported" and done["close_gap"] is True, done
    assert done["result"]["summary"] == {"applied": 50, "conflict": 0, "rejected": 0, "replayed": 100}
    assert done["result"]["gap"] == {"lost": [2, 2], "renumbered": [[i, i - 1] for i in range(3, 153)]}
    assert [o["id"] for o in done["result"]["outcomes"]] == list(range(2, 152))
    assert _mutations(db_session, phone.client_id) == 151 and _answer(db_session, field, cp)["note"] == notes[-1]
    assert db_session.scalar(select(AuditEntry.detail).where(AuditEntry.action == "sync.import_resume"))[
        "gap_closing"] == {"expected": 2, "got": 3}
    r = upload(field, admin, export)
    assert (r.status_code, r.json["code"]) == (409, "sync.import_gap_closed")


def test_the_shell_resumes_its_own_interrupted_import_and_a_new_upload_supersedes_it(
        field, app, db_session, monkeypatch, tmp_path):
    from tests.field.test_outbox_import import run_import

    officer = field.lead_officer
    admin = field.factory.user(Role.DEPT_ADMIN, field.lead_dept)
    phone = field.phone(officer)
    notes = [f"第 {n} 条" for n in range(1, 151)]
    cp = _notes(field, phone, notes)
    export = export_of(phone, officer)
    revive = _dies_after(monkeypatch, 1)
    with pytest.raises(Killed):
        run_import(app, tmp_path, export)
    revive()
    [first] = db_session.scalars(select(OutboxImport)).all()
    again = run_import(app, tmp_path, export)          # at once: perhaps still running
    assert again.exit_code != 0 and "同一文件的导入正在进行" in again.output and _imports(db_session) == 1
    _left_for(db_session, first.id)
    again = run_import(app, tmp_path, export)
    assert again.exit_code == 0, again.output
    assert "新采用 50" in again.output and "此前已收到 100" in again.output and _imports(db_session) == 1
    assert _mutations(db_session, phone.client_id) == 150 and _answer(db_session, field, cp)["note"] == notes[-1]
    assert db_session.get(OutboxImport, first.id).status == "imported"

    more = [f"又一条 {n}" for n in range(1, 121)]       # interrupted again, then uploaded in the office instead
    _notes(field, phone, more)
    export = export_of(phone, officer)
    revive = _dies_after(monkeypatch, 2)               # 151–200 delivered
    with pytest.raises(Killed):
        run_import(app, tmp_path, export)
    revive()
    assert _mutations(db_session, phone.client_id) == 200
    left = db_session.scalars(select(OutboxImport).order_by(OutboxImport.id.desc())).first()
    _left_for(db_session, left.id)
    assert _row(field, admin, left.id)["status"] == "interrupted"
    r = confirm(field, admin, left.id)                 # the shell kept no file
    assert (r.status_code, r.json["code"]) == (409, "sync.import_file_missing")
    done = confirm(field, admin, upload(field, admin, export).json["id"]).json
    assert done["status"] == "imported"
    assert done["result"]["summary"] == {"applied": 70, "conflict": 0, "rejected": 0, "replayed": 200}
    assert _mutations(db_session, phone.client_id) == 270 and _answer(db_session, field, cp)["note"] == more[-1]
    row = _row(field, admin, left.id)
    assert row["status"] == "failed" and row["result"]["code"] == "sync.import_superseded"
