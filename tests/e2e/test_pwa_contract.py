"""The officers' app against the new answers of the sync contract, in Debian's Chromium against a real server
(issue 11 §2, §5): one device too many is told in words and the 同步 page retires an old one, after which the
phone syncs; a retired phone says so, tries no more and exports its unsent work; an access token that expired
while offline is renewed when an upload's HEAD answers 401 with only X-Error-Code (the photo is not called
refused); a provisional due date says which days are still provisional and from which day the clock counts,
on the task list, the merge, the record and the business card; a 回避 declared after the draw is told with the
business and the declaration, and what the officer typed stays on the phone."""
from __future__ import annotations

import json
import re
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from sync.client import Client, HttpTransport
from tests.e2e import pwa_helpers as h
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e
CODE = re.compile(r"\b(sync|auth|signature|record|section)\.[a-z_]+\b")
SPRING = ("暂按法定节假日计算，2027-01-30 至 2027-02-04、2027-02-09 至 2027-02-18（2027 年春节前后）"
          "的放假调休待国务院放假通知发布后确定")


def _login(page, base: str, username: str) -> None:
    page.goto(f"{base}/app/")
    page.wait_for_selector("#login-btn")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", h.PASSWORD)
    page.click("#login-btn")
    page.wait_for_url(f"{base}/app/")


def _devices(base: str, username: str) -> list[dict]:
    status, body, _ = h.api(base, "GET", "/api/sync/clients", token=h.token(base, username))
    assert status == 200, body
    return body


def test_one_device_too_many_is_retired_on_the_sync_page_and_a_retired_phone_exports(server):
    base = server.url
    # the officer already has ten devices (old phones that pulled once)
    access = h.token(base, "samr_inspector")
    for n in range(10):
        old = Client(HttpTransport(base), label=f"old-phone-{n}")
        old.access_token = access
        old.pull()
    errors: list[str] = []
    with chromium() as browser:
        ctx, page = h.open_phone(browser, errors)
        _login(page, base, "samr_inspector")

        # the eleventh is refused: said plainly, with the way out, and nothing is lost
        page.wait_for_selector("#device-notice")
        notice = page.locator("#device-notice").inner_text()
        assert "本账号已有 10 台在用的设备" in notice and not CODE.search(notice), notice
        page.click("#device-notice")
        page.wait_for_selector("#device-limit")
        h.wait_js(page, "document.querySelectorAll('#devices .device').length === 10")
        body = page.locator("#syncpage").inner_text()
        assert "停用一台不再使用的设备" in body and not CODE.search(body), body[:800]
        assert page.locator("#unsent").get_attribute("data-ok") == "0"
        h.shot(page, "contract-too-many-devices")

        # retire the oldest: this phone syncs at once
        page.locator('#devices .device', has_text="old-phone-0").locator(".device-retire").click()
        page.click(".van-dialog__confirm")
        h.wait_synced(page)
        page.goto(f"{base}/app/")
        page.wait_for_selector(".task-row")
        devices = _devices(base, "samr_inspector")
        assert len(devices) == 11
        retired = [d["label"] for d in devices if d["retired_at"]]
        assert retired == ["old-phone-0"]
        mine = next(d for d in devices if not d["label"] or not d["label"].startswith("old-phone"))

        # offline, the officer notes something; meanwhile this phone is retired (lost, replaced): once online it
        # says so, makes no more attempts, and the unsent note is exported
        iid = int(page.locator(".task-row").first.get_attribute("data-id"))
        page.goto(f"{base}/app/i/{iid}/inspect")
        page.wait_for_selector(".point")
        cp = page.locator(".point").first.get_attribute("data-cp")
        ctx.set_offline(True)
        page.locator(f'.point[data-cp="{cp}"] .note-field input').fill("停用前的备注")
        page.locator(f'.point[data-cp="{cp}"] .note-field input').blur()
        page.wait_for_selector('#unsent[data-count="1"]')
        status, body, _ = h.api(base, "POST", f"/api/sync/clients/{mine['client_id']}/retire", token=access)
        assert status == 200 and body["retired_at"], body
        pushes: list[str] = []
        page.on("request", lambda r: pushes.append(r.url) if r.url.endswith("/api/sync/push") else None)
        ctx.set_offline(False)
        page.goto(f"{base}/app/sync")
        page.click("#sync-now")
        page.wait_for_selector("#device-retired")
        words = page.locator("#device-retired").inner_text()
        assert "本机已被停用" in words and "导出" in words and not CODE.search(words), words
        tried = len(pushes)
        page.click("#sync-now")
        page.wait_for_selector("#sync-now:not(.van-button--loading)")
        page.wait_for_timeout(500)
        assert len(pushes) == tried                           # a retired phone tries no more
        assert page.locator("#unsent").get_attribute("data-count") == "1"
        with page.expect_download() as download:
            page.click("#device-export")
        exported = json.loads(Path(download.value.path()).read_text(encoding="utf-8"))
        [mutation] = exported["outbox"]
        assert mutation["args"]["fields"][f"points.{cp}.note"]["value"] == "停用前的备注"
        h.shot(page, "contract-retired-device")
        browser.close()
    assert errors == []


def test_an_upload_head_answering_401_is_renewed_not_refused(short_tokens):
    base = short_tokens.url
    errors: list[str] = []
    with chromium() as browser:
        ctx, page = h.open_phone(browser, errors)
        h.login(page, base, "samr_inspector")
        iid = int(page.locator(".task-row").first.get_attribute("data-id"))
        page.goto(f"{base}/app/i/{iid}/inspect")
        page.wait_for_selector('#gps-panel:not([data-accuracy=""])')
        cp = page.locator(".point").first.get_attribute("data-cp")
        net = h.Network(short_tokens, [ctx])
        net.down()
        h.add_photo(page, cp, h.jpeg(1600, 1200, orientation=1, seed=3))
        page.wait_for_timeout(6500)                                      # the access token expires meanwhile
        seen: list[tuple[str, str, int, str | None]] = []
        page.on("response", lambda r: seen.append((r.request.method, r.url.split(base, 1)[-1], r.status,
                                                   r.headers.get("x-error-code"))) if "/api/" in r.url else None)
        net.up()                                   # back online: the app syncs by itself, uploads first
        h.wait_synced(page, 120000)
        heads = [i for i, s in enumerate(seen) if s[0] == "HEAD" and s[1].startswith("/api/media/")]
        assert heads, seen
        first = heads[0]
        assert seen[first][2:] == (401, "auth.token_expired"), seen
        # the HEAD's code (in its header: a HEAD has no body) makes the app refresh and ask again
        assert seen[first + 1][:3] == ("POST", "/api/v1/auth/refresh", 200), seen
        assert seen[first + 2][:2] == ("HEAD", seen[first][1]) and seen[first + 2][2] in (200, 404), seen
        page.goto(f"{base}/app/sync")
        page.wait_for_selector("#sync-summary")
        # after the reload the header reads the phone's store again (and may sync once): it settles on synced
        h.wait_synced(page, 60000)
        assert "被服务器拒绝" not in page.locator("#syncpage").inner_text()
        browser.close()
    assert errors == []


def _submit_everything(base: str) -> int:
    """The record of samr_lead's first inspection, submitted by the lead through the protocol."""
    from tests.e2e.test_pwa_signing import _prepare, _push

    prep = _prepare(base)
    iid = prep["iid"]
    for member in (prep["samr"], prep["tax"]):
        member.pull()
        member.sign_record(iid)
        _push(member)
    lead = prep["lead"]
    lead.pull()
    lead.enqueue("record.representative", {"inspection_id": iid, "signature_id": str(uuid.uuid4()),
                                           "content_hash": prep["record_hash"], "strokes": [{"points": [[0, 0, 0], [9, 9, 9]]}]})
    lead.enqueue("record.submit", {"inspection_id": iid, "content_hash": prep["record_hash"]})
    results = lead.push()
    assert [r["status"] for r in results] == ["applied", "applied"], results
    return iid


def test_a_provisional_due_date_says_which_days_wait_for_the_notice(server):
    base = server.url
    iid = _submit_everything(base)
    # completed on Friday 29 January 2027, before 2027's notice: due 2 March, provisional around the Spring Festival
    engine = create_engine(server.config["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE inspection SET completed_on = '2027-01-29', clock_start_on = '2027-01-29', "
                          "publication_due_on = '2027-03-02', "
                          "due_provisional = 1 WHERE id = :id"), {"id": iid})
    engine.dispose()
    errors: list[str] = []
    with chromium() as browser:
        ctx, lead = h.open_phone(browser, errors)
        h.login(lead, base, "samr_lead")
        row = lead.locator(f'.task-row[data-id="{iid}"]')
        assert "公示截止 2027-03-02（暂定）" in row.inner_text()
        assert row.locator(".due-note").inner_text() == SPRING
        lead.goto(f"{base}/app/i/{iid}/merge")
        lead.wait_for_selector("#completed-card")
        card = lead.locator("#completed-card").inner_text()
        assert lead.locator("#due-on").get_attribute("data-due") == "2027-03-02"
        assert "2027-01-29 为第 0 天（自组长提交检查记录之日起算），共 20 个工作日" in card and SPRING in card, card
        h.shot(lead, "contract-provisional-due")
        member_ctx = h.phone(browser, lat=34.72, lon=111.09)
        member = member_ctx.new_page()
        h.watch(member, errors)
        h.login(member, base, "tax_inspector")
        member.goto(f"{base}/app/i/{iid}/record")
        member.wait_for_selector("#record-submitted")
        words = member.locator("#record-submitted").inner_text()
        assert "2027-03-02" in words and "（暂定）" in words and SPRING in words, words
        member.goto(f"{base}/app/i/{iid}")
        h.wait_text(member, "公示截止 2027-03-02（暂定）")
        assert SPRING in member.locator("#business").inner_text()
        browser.close()
    assert errors == []


def test_a_late_recusal_is_told_with_the_business_and_the_typing_is_kept(server):
    """A conflict of interest declared for the officer after the draw (docs/sync.md §5): the edit they made offline
    is refused in words naming the declaration, the inspection leaves the phone with its business's name and the
    reason, and what they typed stays on the phone with the refusal."""
    base = server.url
    docs = h.pulled(base, "samr_inspector")
    doc = min((d for d in docs["inspection"].values() if d["status"] != "completed"), key=lambda d: d["position"])
    iid, name = doc["id"], doc["target"]["name"]
    errors: list[str] = []
    with chromium() as browser:
        ctx, page = h.open_phone(browser, errors)
        h.login(page, base, "samr_inspector")
        page.goto(f"{base}/app/i/{iid}/inspect")
        page.wait_for_selector(".point")
        cp = page.locator(".point").first.get_attribute("data-cp")
        ctx.set_offline(True)
        page.locator(f'.point[data-cp="{cp}"] .note-field input').fill("回避前写下的备注")
        page.locator(f'.point[data-cp="{cp}"] .note-field input').blur()
        page.wait_for_selector('#unsent[data-count="1"]')
        status, body, _ = h.api(base, "POST", f"/api/v1/inspectors/{doc['me']['inspector_id']}/conflicts",
                                token=h.token(base, "samr_admin"),
                                body={"target_id": doc["target"]["id"], "reason": "配偶在该企业任职"})
        assert status == 201, body
        ctx.set_offline(False)
        page.goto(f"{base}/app/sync")
        page.wait_for_selector(".card.refused")
        refusal = page.locator(".card.refused").first.inner_text()
        assert "你已对该检查对象回避" in refusal and "配偶在该企业任职" in refusal and name in refusal, refusal
        assert not CODE.search(refusal), refusal
        page.goto(f"{base}/app/")
        page.wait_for_selector('.tombstone[data-reason="recused"]')
        assert page.locator('.tombstone[data-reason="recused"]').inner_text().startswith(f"{name}：已回避")
        page.goto(f"{base}/app/i/{iid}/inspect")
        page.wait_for_selector('.gone-notice[data-reason="recused"]')
        assert "配偶在该企业任职" in page.locator(".gone-notice").inner_text()
        kept = page.evaluate("""() => new Promise((resolve) => {
          const open = indexedDB.open("shuangsui");
          open.onsuccess = () => {
            const all = open.result.transaction("results").objectStore("results").getAll();
            all.onsuccess = () => { resolve(all.result.map((r) => JSON.stringify(r.mutation.args))); open.result.close(); };
          };
        })""")
        assert any("回避前写下的备注" in k for k in kept), kept
        browser.close()
    assert errors == []
