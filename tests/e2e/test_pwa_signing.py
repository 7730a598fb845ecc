"""What the officers' app says about signing, in Debian's Chromium against a real server (issue 11, §1.3, §1.4,
§1.6, §1.9, §2): a co-signature with a wrong password is refused and never called saved (online at once; offline
待服务器核验, then refused in words once the network is back, the header never saying 已同步 meanwhile); a member
reads the merged record before signing it; after submission the lead and a member open the PDF; the merge
screen invents no time and saves no empty follow-up; a planner is told where to go; groups count from 1.

The sections and the lead's record are prepared through the sync protocol (sync/client.py) so the browser
does what this test is about."""
from __future__ import annotations

import datetime as dt
import io
import re
import time
import uuid

import pytest
from pypdf import PdfReader

from sync.client import Client, HttpTransport
from tests.e2e import pwa_helpers as h
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e
BJ = dt.timezone(dt.timedelta(hours=8))
PROBLEM = "门头招牌使用的名称与登记名称不一致"
NOTE = "责令七日内更换门头招牌"
OPINION = "门头招牌名称与登记不一致，已责令限期改正；其余符合"
HEX64 = re.compile(r"\b[0-9a-f]{64}\b")


def _client(base: str, username: str) -> Client:
    c = Client(HttpTransport(base))
    c.login(username, h.PASSWORD)
    c.pull()
    return c


def _push(c: Client) -> list[dict]:
    results = c.push()
    bad = [r for r in results if r["status"] != "applied"]
    assert not bad, bad
    c.pull()
    return results


def _iso(minutes_ago: int) -> str:
    return (dt.datetime.now(BJ) - dt.timedelta(minutes=minutes_ago)).isoformat(timespec="seconds")


def _section_values(c: Client, iid: int, dept: dict, photo: str, *, departed: bool = True) -> dict:
    """A complete section: a method (with its evidence) per item, a result per check point, the first one 不符合
    with its problem, handling and photo, a photo where the check point asks for one, and the visit's stamps."""
    doc = c.docs["inspection"][iid]
    values: dict = {"arrived_at": _iso(40),
                    "officers": [{"inspector_id": m["inspector_id"], "cert_no": m["cert_no"], "name": m["name"],
                                  "department": m["department_code"]}
                                 for m in doc["group"]["members"] if m["department_id"] == dept["id"]]}
    if departed:
        values["departed_at"] = _iso(10)
    first = True
    for item in dept["items"]:
        method = item["methods"][0]["code"] if item["methods"] else "onsite"
        values[f"items.{item['id']}.method"] = method
        evidence = {"documents": {"documents": ["纳税申报表（近三个月）"]}, "online": {"sites": ["企业官网首页"]}}.get(
            method, {"body": "某检测机构", "report_no": "JC-2026-001", "conclusion": "合格"}
            if method in ("testing", "agency", "adopt") else None)
        if evidence:
            values[f"items.{item['id']}.evidence"] = evidence
        for cp in item["check_points"]:
            p = f"points.{cp['id']}"
            values[f"{p}.checked"] = True
            values[f"{p}.result"] = "fail" if first else "pass"
            if first or cp["answer_type"] == "photo":
                values[f"{p}.photos"] = [{"id": str(uuid.uuid4()), "sha256": photo}]
            if first:
                values[f"{p}.problem"] = PROBLEM
                values[f"{p}.handling"] = ["rectify"]
            if cp["answer_type"] == "yes_no":
                values[f"{p}.value"] = True
            elif cp["answer_type"] == "choice" and cp["options"]:
                values[f"{p}.value"] = cp["options"][0]
            first = False
    return values


def _prepare(base: str, *, departed: bool = True, finalize: bool = True) -> dict:
    """Both departments' sections written and signed by all their officers; with ``finalize`` the lead's record
    written, finalised and signed by the lead. Returns what the test needs to know."""
    lead = _client(base, "samr_lead")
    iid = min(lead.docs["inspection"].values(), key=lambda d: d["position"])["id"]
    doc = lead.docs["inspection"][iid]
    task = lead.docs["task"][doc["task_id"]]
    depts = {d["code"]: d for d in task["departments"]}
    samr, tax = _client(base, "samr_inspector"), _client(base, "tax_inspector")
    photo = samr.upload(h.jpeg(800, 600, orientation=1, seed=5), "image/jpeg")
    tax.upload(h.jpeg(800, 600, orientation=1, seed=5), "image/jpeg")
    samr.set_section(iid, depts["SAMR"]["id"], _section_values(samr, iid, depts["SAMR"], photo, departed=departed))
    _push(samr)
    tax.set_section(iid, depts["TAX"]["id"], _section_values(tax, iid, depts["TAX"], photo, departed=departed))
    _push(tax)
    for c, code in ((samr, "SAMR"), (tax, "TAX")):
        c.pull()
        c.sign_section(iid, depts[code]["id"])
        _push(c)
    lead.pull()
    lead.sign_section(iid, depts["SAMR"]["id"])
    _push(lead)
    members = {m["department_code"] + ("-lead" if m["is_lead"] else ""): m for m in doc["group"]["members"]}
    out = {"iid": iid, "doc": doc, "task": task, "depts": depts, "lead": lead, "samr": samr, "tax": tax, "members": members}
    if not finalize:
        return out
    lead.set_record(iid, {"arrived_at": _iso(40), "departed_at": _iso(10),
                          "officers": [{"inspector_id": m["inspector_id"], "cert_no": m["cert_no"], "name": m["name"]}
                                       for m in doc["group"]["members"]],
                          "representative": {"name": "王经理", "position": "店长"},
                          "result_categories": ["pending_followup", "other_violation"],
                          "followups": [{"id": str(uuid.uuid4()), "action": "rectify", "department_id": depts["SAMR"]["id"],
                                         "note": NOTE}],
                          "opinion": OPINION})
    _push(lead)
    lead.enqueue("record.finalize", {"inspection_id": iid, "content_hash": lead.record_hash(iid)})
    _push(lead)
    lead.sign_record(iid)
    _push(lead)
    out["record_hash"] = lead.docs["inspection"][iid]["record"]["content_hash"]
    return out


def _header(page) -> tuple[str, str]:
    pill = page.locator("#unsent")
    return pill.inner_text(), pill.get_attribute("data-ok")


def _pdf_from_page(page, base: str, username: str, iid: int) -> bytes:
    """Press the PDF button: the page downloads the file with the officer's login and opens it from a blob: URL.
    The bytes it holds (their SHA-256, shown on the link) are the server's PDF, read here with the same login."""
    page.locator("#pdf-fetch").scroll_into_view_if_needed()
    page.click("#pdf-fetch")
    page.wait_for_selector("#pdf-open", timeout=120000)
    link = page.locator("#pdf-open")
    assert link.get_attribute("href").startswith("blob:"), link.get_attribute("href")
    status, _, raw = h.api(base, "GET", f"/api/v1/inspections/{iid}/record.pdf", token=h.token(base, username))
    assert status == 200 and raw.startswith(b"%PDF"), (status, raw[:200])
    assert link.get_attribute("data-sha256") == h.sha256(raw)
    assert int(link.get_attribute("data-size")) == len(raw)
    return raw


def _pdf_text(raw: bytes) -> str:
    return re.sub(r"\s+", "", "".join(p.extract_text() for p in PdfReader(io.BytesIO(raw)).pages))


def test_a_wrong_cosigning_password_is_refused_and_members_read_what_they_sign(server):
    base = server.url
    prep = _prepare(base)
    iid, members = prep["iid"], prep["members"]
    tax_member, samr_member = members["TAX"], members["SAMR"]
    errors: list[str] = []
    with chromium() as browser:
        place = prep["doc"]["target"]["location"]
        member_ctx = h.phone(browser, lat=place["lat"], lon=place["lon"])
        member = member_ctx.new_page()
        h.watch(member, errors)
        h.login(member, base, "samr_inspector")

        # the member reads the merged record, in words, before signing it; the hash is small and short
        member.goto(f"{base}/app/i/{iid}/sign")
        member.wait_for_selector("#record-summary")
        summary = member.locator("#record-summary").inner_text()
        for words in ("发现问题待后续处理", "违反其他规定", "责令限期整改", NOTE, OPINION, "王经理", PROBLEM,
                      *(f"{d['name']}的检查情况" for d in prep["depts"].values())):
            assert words in summary, (words, summary)
        body = member.locator("body").inner_text()
        assert "只有检查组组长使用汇总" not in body
        assert not HEX64.search(body), "a full SHA-256 is shown to the signer"
        assert prep["record_hash"][:8] in member.locator("#sign-hash").inner_text()
        h.draw_signature(member)
        member.click("#sign-confirm")
        h.wait_text(member, "的签名已保存在手机上")
        h.sync(member)

        # the lead's phone: the TAX officer co-signs with a wrong password, online: refused at once, nothing stored
        lead_ctx = h.phone(browser, lat=place["lat"], lon=place["lon"])
        lead = lead_ctx.new_page()
        h.watch(lead, errors)
        h.login(lead, base, "samr_lead")

        def cosign(password: str) -> None:
            lead.goto(f"{base}/app/i/{iid}/sign")
            lead.wait_for_selector(f".signer-{tax_member['inspector_id']}")
            lead.wait_for_selector("#record-summary")
            lead.click(f".signer-{tax_member['inspector_id']}")
            lead.fill("#signer-username", "tax_inspector")
            lead.fill("#signer-password", password)
            h.draw_signature(lead)
            lead.click("#sign-confirm")

        cosign("not-the-password")
        lead.wait_for_selector("#sign-refused")
        refused = lead.locator("#sign-refused").inner_text()
        assert "被拒绝" in refused and "账号或密码不对" in refused and "没有保存" in refused, refused
        assert lead.locator("text=的签名已保存").count() == 0
        assert h.unsent(lead) == 0 and lead.locator(".signed-by", has_text=tax_member["name"]).count() == 0

        # offline: the same co-signature is kept as 待服务器核验, never as saved or synced
        net = h.Network(server, [lead_ctx])
        net.down()
        lead.reload()
        cosign("still-not-the-password")
        lead.wait_for_selector('.signed-by[data-state="verifying"]')
        assert lead.locator('.signed-by[data-state="verifying"]').inner_text() == f"{tax_member['name']}（待服务器核验）"
        assert lead.locator("text=的签名已保存").count() == 0
        label, ok = _header(lead)
        assert label != "已同步" and ok == "0", label
        lead.goto(f"{base}/app/sync")
        lead.wait_for_selector(f'.record-state[data-id="{iid}"]')
        assert lead.locator(f'.record-state[data-id="{iid}"]').get_attribute("data-state") == "verifying"
        assert "已发送" not in lead.locator("#syncpage").inner_text()

        # the network is back: the server refuses it; the header never says 已同步 on the way
        net.up()
        deadline = time.monotonic() + 120
        while not lead.locator(".card.refused").count():
            lead.wait_for_selector("#sync-now:not(.van-button--loading)", timeout=60000)
            lead.click("#sync-now")
            for _ in range(20):
                label, ok = _header(lead)
                assert label != "已同步" and ok == "0", label
                lead.wait_for_timeout(50)
            assert time.monotonic() < deadline, lead.locator("body").inner_text()[:1500]
        card = lead.locator(".card.refused").first.inner_text()
        assert f"{tax_member['name']}在组长手机上的会签（被拒绝：账号或密码不对）— 请本人重新签" in card, card
        assert "record.sign" not in card and not re.search(r"第 \d+ 条", card)
        lead.wait_for_selector("#sync-now:not(.van-button--loading)", timeout=60000)
        label, ok = _header(lead)
        assert label == "被拒绝 1" and ok == "0", label
        lead.goto(f"{base}/app/i/{iid}/sign")
        lead.wait_for_selector(".refused-signature")
        assert "被拒绝：账号或密码不对" in lead.locator(".refused-signature").inner_text()

        # the right password: checked online, then stored and sent; once the refusal is acknowledged: 已同步
        cosign(h.PASSWORD)
        h.wait_text(lead, f"{tax_member['name']} 的签名已保存在手机上（账号已核验）")
        lead.goto(f"{base}/app/sync")
        lead.click(".mark-seen")
        lead.wait_for_selector('.card.refused[data-seen="1"]')
        h.sync(lead)
        final = h.pulled(base, "samr_lead")["inspection"][iid]
        vias = sorted((s["signer_name"], s["via"]) for s in final["signatures"]
                      if s["scope"] == "record" and s["role"] == "officer" and not s["void"])
        assert vias == sorted([(members["SAMR-lead"]["name"], "own"), (samr_member["name"], "own"),
                               (tax_member["name"], "lead_device")])

        # the representative signs and the lead submits (through the protocol); then both open the PDF
        c = prep["lead"]
        c.pull()
        c.enqueue("record.representative", {"inspection_id": iid, "signature_id": str(uuid.uuid4()),
                                            "content_hash": prep["record_hash"], "strokes": [{"points": [[0, 0, 0], [9, 9, 9]]}]})
        c.enqueue("record.submit", {"inspection_id": iid, "content_hash": prep["record_hash"]})
        _push(c)
        h.sync(lead)
        lead.goto(f"{base}/app/i/{iid}/merge")
        lead.wait_for_selector("#completed-card #pdf-fetch")
        text = _pdf_text(_pdf_from_page(lead, base, "samr_lead", iid))
        assert "第1组" in text and "编号0" not in text and "第0组" not in text, text[:400]
        h.sync(member)
        member.goto(f"{base}/app/i/{iid}")
        member.click("#go-record")
        member.wait_for_selector("#record-submitted #pdf-fetch")
        assert OPINION in member.locator("#record-summary").inner_text()
        assert "检查记录表" in _pdf_text(_pdf_from_page(member, base, "samr_inspector", iid))
        # without a network the button says so
        member_ctx.set_offline(True)
        member.reload()
        member.wait_for_selector("#record-submitted #pdf-fetch")
        member.click("#pdf-fetch")
        member.wait_for_selector("#pdf-message")
        assert "没有网络" in member.locator("#pdf-message").inner_text()
        member_ctx.set_offline(False)
        browser.close()
    assert errors == []


def test_the_merge_invents_no_time_and_saves_no_empty_followup(server):
    base = server.url
    prep = _prepare(base, departed=False, finalize=False)
    iid, samr = prep["iid"], prep["depts"]["SAMR"]
    errors: list[str] = []
    with chromium() as browser:
        lead = h.phone(browser, lat=34.7, lon=111.1).new_page()
        h.watch(lead, errors)
        h.login(lead, base, "samr_lead")
        lead.goto(f"{base}/app/i/{iid}/merge")
        lead.wait_for_selector('.dept-card[data-dept="TAX"][data-status="signed"]')
        lead.click("#visit-from-sections")
        lead.wait_for_selector("#visit-note")
        assert "离开时间" in lead.locator("#visit-note").inner_text()          # asked, not made up
        lead.wait_for_selector("#now-departed_at")
        assert lead.locator("#visit-departed_at").input_value() == ""
        assert lead.locator("#visit-arrived_at").input_value() != ""
        # 添加 gives an empty row that is not saved until its action and department are chosen
        lead.click("#add-followup")
        lead.wait_for_selector('.followup[data-complete="0"]')
        lead.select_option(".followup >> nth=0 >> .fu-action", "rectify")
        lead.select_option(".followup >> nth=0 >> .fu-dept", str(samr["id"]))
        lead.locator(".followup >> nth=0 >> .fu-note input").fill(NOTE)
        lead.click("#add-followup")                                          # right after typing, without leaving the field
        lead.wait_for_selector(".followup >> nth=1")
        assert lead.locator(".followup").count() == 2
        assert lead.locator(".followup >> nth=0 >> .fu-note input").input_value() == NOTE
        h.sync(lead)
        record = h.pulled(base, "samr_lead")["inspection"][iid]["record"]["content"]
        assert "departed_at" not in record, record
        assert record.get("arrived_at") and record.get("officers")
        assert [(f["action"], f["department_id"], f.get("note")) for f in record["followups"]] == [("rectify", samr["id"], NOTE)]
        # the lead confirms "now" explicitly
        lead.goto(f"{base}/app/i/{iid}/merge")
        lead.click("#now-departed_at")
        lead.click(".van-dialog__confirm")
        lead.wait_for_selector("#now-departed_at", state="detached")
        h.sync(lead)
        assert h.pulled(base, "samr_lead")["inspection"][iid]["record"]["content"].get("departed_at")
        browser.close()
    assert errors == []


def test_a_planner_is_told_where_to_go_and_groups_count_from_one(server):
    base = server.url
    lead = _client(base, "samr_lead")
    iid = min(lead.docs["inspection"].values(), key=lambda d: d["position"])["id"]
    doc = lead.docs["inspection"][iid]
    task = lead.docs["task"][doc["task_id"]]
    errors: list[str] = []
    with chromium() as browser:
        ctx = browser.new_context(**{**h.PHONE, "viewport": {"width": 390, "height": 844}})
        page = ctx.new_page()
        h.watch(page, errors)
        page.goto(f"{base}/app/")
        page.wait_for_selector("#login-btn")
        page.fill("input[name=username]", "samr_planner")
        page.fill("input[name=password]", h.PASSWORD)
        page.click("#login-btn")
        page.wait_for_selector("#not-inspector")
        told = page.locator("#not-inspector").inner_text()
        assert "执法检查人员" in told and "计划编制人员" in told and "/office/" in told and "/api/docs" in told, told
        assert page.locator("#not-inspector a[href='/office/']").count() == 1
        assert page.locator("text=登录成功").count() == 0 and page.locator(".task-row").count() == 0
        assert page.evaluate("location.pathname") == "/app/login"

        # an inspector: the group is 第 1 组, the 组长 tag beside the lead's own name
        h.login(page, base, "samr_inspector")
        page.goto(f"{base}/app/i/{iid}")
        page.wait_for_selector("#group-title")
        assert f"{task['code']} 第 {doc['group']['number'] + 1} 组" in page.locator("#group-title").inner_text()
        assert doc["group"]["number"] == 0
        leader = next(m for m in doc["group"]["members"] if m["is_lead"])
        tagged = page.locator(".member", has=page.locator(".lead-tag"))
        assert tagged.count() == 1 and tagged.locator(".member-name").inner_text() == leader["name"]
        # a new screen opens at its top: 同步 with 立即同步 in view, whatever the previous page's scroll
        page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
        assert page.evaluate("window.scrollY") > 0
        page.locator(".van-tabbar-item", has_text="同步").click()
        page.wait_for_selector("#sync-now")
        page.wait_for_timeout(300)
        assert page.evaluate("window.scrollY") == 0
        assert page.locator("#sync-now").is_visible() and page.locator("#sync-now").bounding_box()["y"] < 844

        # the public verifier: groups from 1, strata in words, and it fits a 390 px phone
        page.goto(f"{base}/draw/verify.html?task={task['code']}")
        page.wait_for_selector('#verdict[data-status="match"]', timeout=60000)
        assert page.locator("table.groups tbody tr").first.locator("td").first.inner_text() == "第 1 组"
        assert "分层 all" not in page.locator("#records").inner_text()
        assert "不分层" in page.locator("#records").inner_text()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, width
        browser.close()
    assert errors == []
