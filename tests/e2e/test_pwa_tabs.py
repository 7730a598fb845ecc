"""Two tabs of one officer's app, both editing and syncing while the access token keeps expiring (it lives
a few seconds here): one tab refreshes at a time and the other picks up the new tokens (a refresh token
presented twice would end the login), one tab syncs at a time, nothing is doubled and nobody is logged out."""
from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from backend import create_app
from tests.e2e import pwa_helpers as h
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e

NEXT_ID = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("shuangsui");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const get = open.result.transaction("kv").objectStore("kv").get("next_id");
    get.onsuccess = () => { resolve(get.result ? get.result.value : 1); open.result.close(); };
  };
})"""


def test_two_tabs_sync_and_refresh_without_doubling_or_logging_out(short_tokens):
    server = short_tokens
    base = server.url
    docs = h.pulled(base, "samr_inspector")
    # one tab edits an inspection at a time (docs/decisions.md "Two tabs"): each tab edits its own
    iid, iid_b = (d["id"] for d in sorted(docs["inspection"].values(), key=lambda d: d["position"])[:2])
    errors: list[str] = []
    with chromium() as browser:
        ctx, a = h.open_phone(browser, errors)
        h.login(a, base, "samr_inspector")
        b = ctx.new_page()
        h.watch(b, errors)
        for page, inspection in ((a, iid), (b, iid_b)):
            page.goto(f"{base}/app/i/{inspection}/inspect")
            page.wait_for_selector(".point")
        points = [a.locator(".point").nth(0).get_attribute("data-cp"), b.locator(".point").nth(0).get_attribute("data-cp")]
        # rounds: let the access token expire, then edit in both tabs at the same instant (each edit saves and
        # starts a sync, so both tabs meet the expired token together)
        rounds = 4
        for n in range(rounds):
            a.wait_for_timeout(6500)
            at = int(time.time() * 1000) + 400
            result = "pass" if n % 2 else "na"
            for page, cp in ((a, points[0]), (b, points[1])):
                page.evaluate("([sel, at]) => setTimeout(() => document.querySelector(sel).click(), at - Date.now())",
                              [f'.point[data-cp="{cp}"] .result-{result}', at])
            for page, cp in ((a, points[0]), (b, points[1])):
                page.wait_for_selector(f'.point[data-cp="{cp}"][data-result="{result}"]')
        n = rounds
        for page in (a, b):
            h.sync(page)
            assert page.locator("text=登录已失效").count() == 0
        made = a.evaluate(NEXT_ID) - 1
        assert made == 2 * n
        exported = _logout_needs_everything_sent_or_exported(server, ctx, b, base, iid_b, points[1])
        _low_storage_is_said(browser, base)
        browser.close()
    assert errors == []
    made += 1                                         # the edit made offline before logging out (exported, not sent)
    engine = create_engine(server.config["DATABASE_URL"])
    with engine.connect() as conn:
        # (the low-storage phone of tax_inspector is another client, whose sync may or may not have run before it closed)
        mine = "JOIN user_account u ON u.id = c.user_id AND u.username = 'samr_inspector'"
        rows = conn.execute(text("SELECT c.last_mutation_id, count(m.mutation_id), max(m.mutation_id) FROM sync_client c "
                                 f"{mine} JOIN sync_mutation m ON m.client_id = c.id GROUP BY c.id")).all()
        assert rows == [(made - 1, made - 1, made - 1)]  # one client (both tabs), every mutation sent applied exactly once
        statuses = conn.execute(text(f"SELECT m.status, count(*) FROM sync_client c {mine} "
                                     "JOIN sync_mutation m ON m.client_id = c.id GROUP BY m.status")).all()
        assert statuses == [("applied", made - 1)]
        tokens = conn.execute(text("SELECT family_id, count(*), count(revoked_at) FROM refresh_token r "
                                   "JOIN user_account u ON u.id = r.user_id WHERE u.username = 'samr_inspector' "
                                   "GROUP BY family_id")).all()
        assert all(revoked == 0 for _, _, revoked in tokens)           # no login ended
        assert max(issued for _, issued, _ in tokens) >= 3             # the app's login was refreshed again and again
        reuse = conn.execute(text("SELECT count(*) FROM audit_entry WHERE action = 'auth.refresh_reuse'")).scalar()
        assert reuse == 0
    # the exported file, handed to an administrator and imported on the server: the offline edit arrives, once
    cli = create_app({"TESTING": False, "REMINDERS_TIMER": False, **server.config}).test_cli_runner()
    for _ in range(2):
        result = cli.invoke(args=["sync", "import", str(exported)])
        assert result.exit_code == 0 and "变更 1 条" in result.output, result.output
    with engine.connect() as conn:
        statuses = conn.execute(text(f"SELECT m.status, count(*) FROM sync_client c {mine} "
                                     "JOIN sync_mutation m ON m.client_id = c.id GROUP BY m.status")).all()
        assert statuses == [("applied", made)]
        note = conn.execute(text("SELECT a.data FROM section_answer a JOIN inspection_section s ON s.id = a.section_id "
                                 "WHERE s.inspection_id = :i AND a.check_point_id = :cp"),
                            {"i": iid_b, "cp": int(points[1])}).scalar()
        assert (json.loads(note) if isinstance(note, str) else note)["note"] == "离线补充的备注"
    engine.dispose()


def _logout_needs_everything_sent_or_exported(server, ctx, page, base: str, iid: int, cp: str) -> Path:
    """Offline with an unsent edit: logging out is refused; after exporting the unsent work to a file it is
    allowed, and the file holds the edit (kept: the file's path)."""
    net = h.Network(server, [ctx])
    net.down()
    page.goto(f"{base}/app/i/{iid}/inspect")
    page.locator(f'.point[data-cp="{cp}"] .note-field input').fill("离线补充的备注")
    page.locator(f'.point[data-cp="{cp}"] .note-field input').blur()
    page.wait_for_selector('#unsent[data-count="1"]')                  # saved on the phone
    page.goto(f"{base}/app/sync")
    page.wait_for_selector('#sync-summary[data-unsent="1"]')
    page.click("#logout")
    h.wait_text(page, "请先同步，或先“导出未发送记录”再退出")
    with page.expect_download() as download:
        page.click("#export")
    kept = server.tmp / "exported-outbox.json"
    download.value.save_as(kept)
    exported = json.loads(kept.read_text(encoding="utf-8"))
    [mutation] = exported["outbox"]
    assert exported["kind"] == "shuangsui-outbox-export" and mutation["args"]["fields"][f"points.{cp}.note"]["value"] == "离线补充的备注"
    page.click("#logout")
    page.click(".van-dialog__confirm")
    page.wait_for_selector("#login-btn")
    net.up()
    return kept


def _low_storage_is_said(browser, base: str) -> None:
    """A phone almost out of storage says so on every screen (navigator.storage.estimate)."""
    ctx = h.phone(browser, lat=34.72, lon=111.09)
    ctx.add_init_script("navigator.storage.estimate = async () => ({usage: 1990e6, quota: 2000e6});")
    page = ctx.new_page()
    h.login(page, base, "tax_inspector")
    page.wait_for_selector("#storage-warning")
    page.goto(f"{base}/app/sync")
    page.wait_for_selector("#storage-low")
    _no_inspection_in_two_taps(page, base)
    ctx.close()


def _no_inspection_in_two_taps(page, base: str) -> None:
    """无法联系: choose the case, take the photo — the fix comes with it, and the section may be signed."""
    page.goto(f"{base}/app/")
    page.wait_for_selector(".task-row")
    iid = max(int(row.get_attribute("data-id")) for row in page.locator(".task-row").all())
    page.goto(f"{base}/app/i/{iid}/inspect")
    page.wait_for_selector('#gps-panel:not([data-accuracy=""])')
    page.click("#outcome-btn")                                               # tap one: the case
    with page.expect_file_chooser() as chooser:
        page.locator(".van-action-sheet__item").first.click()
    chooser.value.set_files(files=[{"name": "门店.jpg", "mimeType": "image/jpeg", "buffer": h.jpeg(1200, 900, seed=5)}])
    page.wait_for_selector("#outcome-card .thumbs img")                       # tap two: the photo
    h.wait_text(page, "通过登记的住所（经营场所）无法联系")
    h.wait_text(page, "照片 1 张 · 已定位")
    page.wait_for_selector("#problems .ok")
