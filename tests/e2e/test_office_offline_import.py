"""导入离线记录 in the office (Chromium): an officer's phone, offline, exports its unsent edit to a file (the app's
“导出未发送记录”); the department's admin uploads the file on the office screen, reads the preview, confirms, and
sees the edit applied in the result table and the import listed; the same file again is answered as already
received; a file with a gap is imported only after its own tick and a second dialog (the device retired).
axe-core: no serious or critical violation. Screenshot: docs/screenshots/office-offline-import.png."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import create_engine, text

from tests.e2e import office_helpers as o
from tests.e2e import pwa_helpers as h
from tests.e2e.test_pwa_tabs import _logout_needs_everything_sent_or_exported
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e

_FOCUSED = """(selector) => { const e = document.activeElement; if (!e || !e.matches(selector)) return null;
  const s = getComputedStyle(e); return s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0; }"""


def _tab_to(page, selector: str, limit: int = 30) -> None:
    """Reach ``selector`` with the Tab key alone (from where the focus is), its focus ring visible."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        visible = page.evaluate(_FOCUSED, selector)
        if visible is not None:
            assert visible, f"{selector}: focused without a visible focus ring"
            return
    raise AssertionError(f"{selector}: not reached by Tab in {limit} presses")


def _gap_below(page, above: str, below: str) -> float:
    return page.evaluate("""([a, b]) => document.querySelector(b).getBoundingClientRect().top
                              - document.querySelector(a).getBoundingClientRect().bottom""", [above, below])


def _left_importing(server) -> int:
    """The newest upload as a process that died mid-import leaves it: confirmed by its uploader, importing, its
    heartbeat 10 minutes old."""
    import datetime as dt

    from backend.db import Database
    from backend.inspections.models import OutboxImport

    db = Database(server.config["DATABASE_URL"])
    try:
        with db.session_scope() as session:
            row = session.get(OutboxImport, session.query(OutboxImport.id).order_by(OutboxImport.id.desc()).first()[0])
            row.status, row.imported_at = "importing", dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=10)
            row.imported_by, row.imported_by_label = row.created_by, row.created_by_label   # as its confirmation set
            return row.id
    finally:
        db.engine.dispose()


def test_an_exported_outbox_is_imported_through_the_office_screen(server):
    base = server.url
    docs = h.pulled(base, "samr_inspector")
    iid = sorted(docs["inspection"].values(), key=lambda d: d["position"])[0]["id"]
    errors: list[str] = []
    found: dict[str, list] = {}
    with chromium() as browser:
        ctx, phone = h.open_phone(browser, errors)
        h.login(phone, base, "samr_inspector")
        phone.goto(f"{base}/app/i/{iid}/inspect")
        phone.wait_for_selector(".point")
        cp = phone.locator(".point").nth(0).get_attribute("data-cp")
        exported = _logout_needs_everything_sent_or_exported(server, ctx, phone, base, iid, cp)

        _office_ctx, page = o.open_office(browser, errors)
        o.login(page, base, "samr_admin")
        page.click("a[href='/office/offline-imports'], .el-menu-item:has-text('导入离线记录')")
        page.wait_for_selector(".offline-upload[data-phase='pick']")
        page.set_input_files("#offline-file", str(exported))
        page.focus("#offline-file")                                       # by the keyboard: Tab, Enter
        _tab_to(page, ".offline-check")
        page.keyboard.press("Enter")
        page.wait_for_selector(".offline-upload[data-phase='previewed'] .offline-preview[data-gap='false']")
        preview = page.inner_text(".offline-preview")
        assert "samr_inspector" in preview and "将送达 1 条" in preview, preview
        # the device by the name people know it by, the officer and the time of the export; its id in the tooltip
        client_id = json.loads(exported.read_text(encoding="utf-8"))["client_id"]
        device = page.inner_text(".offline-preview .preview-device")
        assert client_id not in preview and " / Chrome（" in device and "导出）" in device, device
        assert page.get_attribute(".offline-preview .preview-device", "title") == f"设备编号：{client_id}"
        assert page.locator(".close-gap").count() == 0                   # no gap: no second confirmation
        assert _gap_below(page, ".offline-preview", ".confirm-row") >= 12
        page.evaluate("document.activeElement.blur()")
        _tab_to(page, ".offline-confirm")
        page.keyboard.press("Enter")
        page.wait_for_selector(".offline-upload[data-phase='done'] .outcomes .outcome[data-status='applied']")
        assert "新采用 1 条" in page.inner_text(".result-summary")
        page.wait_for_selector(".paged-table .import-status[data-status='imported']")
        o.shot(page, "offline-import")
        found["result"] = h.axe_violations(page)

        # the same file again: the preview says the server has it; confirmed, it is answered, not applied twice
        page.click(".offline-again")
        page.set_input_files("#offline-file", str(exported))
        page.click(".offline-check")
        page.wait_for_selector(".offline-upload[data-phase='previewed']")
        assert "服务器已收到 1 条" in page.inner_text(".offline-preview")
        page.click(".offline-confirm")
        page.wait_for_selector(".outcomes .outcome[data-status='replayed']")
        assert page.locator(".paged-table .import-status[data-status='imported']").count() == 2

        # one past import opens with its preview and result (by the keyboard: its file name is a link)
        page.evaluate("document.activeElement.blur()")
        _tab_to(page, ".paged-table .import-link")
        _tab_to(page, ".paged-table .import-link")                      # the second row: the first import
        page.keyboard.press("Enter")
        page.wait_for_selector(".offline-import .outcomes .outcome[data-status='applied']")
        found["one import"] = h.axe_violations(page)

        # an import whose server process died (left importing, no heartbeat for 10 minutes): listed 导入中断, and
        # confirmed again on its page; what was delivered is answered 此前已收到
        page.goto(f"{base}/office/offline-imports")
        page.set_input_files("#offline-file", str(exported))
        page.click(".offline-check")
        page.wait_for_selector(".offline-upload[data-phase='previewed']")
        left = _left_importing(server)
        page.goto(f"{base}/office/offline-imports")
        page.wait_for_selector(".paged-table .import-status[data-status='interrupted']")
        page.goto(f"{base}/office/offline-imports/{left}")
        page.wait_for_selector(".import-interrupted .offline-resume")
        assert "已送达的记录保留" in page.inner_text(".import-interrupted")
        assert "最近进展于" in page.inner_text(".offline-import")     # its time is the last progress, not the confirmation
        assert _gap_below(page, ".import-interrupted .el-alert", ".offline-resume") >= 12   # not flush under the alert
        found["interrupted"] = h.axe_violations(page)
        # a system admin opens it too (the menu has it for them): it reads the same
        _admin_ctx, admin = o.open_office(browser, errors)
        o.login(admin, base, "admin")
        admin.click(".el-menu-item:has-text('导入离线记录')")
        admin.wait_for_selector(".paged-table .import-status[data-status='interrupted']")
        admin.goto(f"{base}/office/offline-imports/{left}")
        admin.wait_for_selector(".import-interrupted .offline-resume")
        assert "导入中断" in admin.inner_text(".offline-import h1")
        assert client_id not in admin.inner_text(".offline-import") and "导出）" in admin.inner_text(".preview-device")
        _admin_ctx.close()
        page.evaluate("document.activeElement.blur()")
        _tab_to(page, ".offline-resume")                                 # by the keyboard: the back link, then this
        page.keyboard.press("Enter")
        page.wait_for_selector(".offline-import .outcomes .outcome[data-status='replayed']")
        assert "已导入" in page.inner_text(".offline-import h1")

        # a file whose ids leave a gap (mutation 2 lost on the phone): a warning, its own tick, a second dialog
        gapped = server.tmp / "gapped-outbox.json"
        body = json.loads(exported.read_text(encoding="utf-8"))
        body["outbox"] = [{**m, "id": 3} for m in body["outbox"]]
        gapped.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
        page.goto(f"{base}/office/offline-imports")
        page.set_input_files("#offline-file", str(gapped))
        page.click(".offline-check")
        page.wait_for_selector(".offline-preview[data-gap='true'] .preview-gap")
        assert "第 2 条不在文件中" in page.inner_text(".preview-gap")
        assert page.locator(".offline-confirm").is_disabled()
        found["gap"] = h.axe_violations(page)
        page.click(".close-gap")
        page.click(".offline-confirm")
        page.wait_for_selector(".gap-dialog .gap-confirm")
        page.click(".gap-dialog .gap-confirm")
        page.wait_for_selector(".offline-upload[data-phase='done'] .result-gap")
        assert "设备已停用" in page.inner_text(".result-gap")
        browser.close()
    assert errors == []
    assert {screen: v for screen, v in found.items() if v} == {}
    engine = create_engine(server.config["DATABASE_URL"])
    with engine.connect() as conn:
        statuses = conn.execute(text("SELECT m.status, count(*) FROM sync_client c JOIN user_account u ON u.id = c.user_id "
                                     "AND u.username = 'samr_inspector' JOIN sync_mutation m ON m.client_id = c.id "
                                     "GROUP BY m.status")).all()
        assert statuses == [("applied", 2)]                          # the gapped file's mutation under id 2
        retired = conn.execute(text("SELECT count(*) FROM sync_client c JOIN user_account u ON u.id = c.user_id "
                                    "WHERE u.username = 'samr_inspector' AND c.retired_at IS NOT NULL")).scalar()
        assert retired == 1
        note = conn.execute(text("SELECT a.data FROM section_answer a JOIN inspection_section s ON s.id = a.section_id "
                                 "WHERE s.inspection_id = :i AND a.check_point_id = :cp"), {"i": iid, "cp": int(cp)}).scalar()
        assert (json.loads(note) if isinstance(note, str) else note)["note"] == "离线补充的备注"
        actions = conn.execute(text("SELECT count(*) FROM audit_entry WHERE action = 'sync.import'")).scalar()
        assert actions == 4
        assert conn.execute(text("SELECT count(*) FROM audit_entry WHERE action = 'sync.import_resume'")).scalar() == 1
    engine.dispose()
