"""The public portal (pwa/dist-portal at /) in Debian's Chromium, against the app serving a drawn task with a
published result: the public finds the result by USCC and sees no personal data, follows its permanent link and
checks its hash; a phone verifies the task's real draw record (MATCH) and a tampered one (the difference named);
axe-core finds no serious or critical violation on any page. Screenshots: docs/screenshots/portal-*.png."""
from __future__ import annotations

import copy
import json
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from werkzeug.serving import make_server

from tests.api.publication.results_world import SECRETS, build_world
from tests.e2e import pwa_helpers as h
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
SHOTS = ROOT / "docs" / "screenshots"
DONE = ('#verdict[data-status="match"], #verdict[data-status="mismatch"], #verdict[data-status="error"], '
        '#verdict[data-status="committed"]')
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
STRUCTURE = {"landmark-one-main", "page-has-heading-one", "region"}


@pytest.fixture()
def published(app, client, factory, auth, db_session):
    """A drawn task whose first inspection (its record full of personal data) the lead department published."""
    world = build_world(app, client, factory, auth, db_session)
    iid = world.submit(0, personal=True)
    r = client.post(f"/api/v1/publication/inspections/{iid}/publish", json={"remarks": "已完成检查"},
                    headers=world.headers(world.lead_publisher))
    assert r.status_code == 201, r.json
    return world, r.json


@pytest.fixture()
def live(app, published):
    """The same app (its requests join the test's transaction) served one request at a time on a free port."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_the_public_finds_a_result_by_uscc_and_verifies_the_draw_on_a_phone(live, published, client):
    world, result = published
    uscc = result["content"]["business"]["uscc"]
    name = result["content"]["business"]["name"]
    code = world.field.task.code
    record = client.get(f"/api/public/draws/{code}/record").json
    found: dict[str, list[dict]] = {}
    errors: list[str] = []

    def check(page, screen: str) -> None:
        found[screen] = [v for v in h.axe_violations(page, ("minor", "moderate", "serious", "critical"))
                         if v["impact"] in ("serious", "critical") or v["id"] in STRUCTURE]
        assert page.evaluate("document.documentElement.lang") == "zh-CN", screen

    def shot(page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"portal-{name}.png"), full_page=True)

    with chromium() as browser:
        ctx = browser.new_context(base_url=live, locale="zh-CN", **PHONE)
        page = ctx.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))

        # the home page: search by USCC
        page.goto("/")
        page.wait_for_selector("h1")
        check(page, "home")
        shot(page, "home")
        page.fill("#home-search", uscc)
        page.click("button:has-text('查询')")
        page.wait_for_url("**/results?uscc=*")
        link = page.locator(f"a:has-text('{name}')")
        link.wait_for()
        text = page.inner_text("main")
        assert "共 1 条" in text and uscc in text
        check(page, "results")
        shot(page, "results")

        # the result's own page: its permanent link, its hash, and nothing personal
        link.click()
        page.wait_for_url(f"**/results/{result['id']}")
        page.wait_for_selector("text=检查记录哈希")
        permalink = f"{live}/results/{result['id']}"
        text = page.inner_text("main")
        assert permalink in text and result["record_hash"] in text and result["content_sha256"] in text
        assert "未发现问题" in text and "已完成检查" in text
        for key, secret in SECRETS.items():
            assert secret not in page.content(), key
        check(page, "result")
        shot(page, "result")
        # the permanent link opened afresh (the server answers the portal's page for it)
        page.goto(permalink)
        page.wait_for_selector("text=检查记录哈希")
        assert result["record_hash"] in page.inner_text("main")

        # searched by the record's hash, as a business holding its document would
        page.goto(f"/results?hash={result['record_hash']}")
        page.locator(f"a:has-text('{name}')").wait_for()
        # a file that is not the record's PDF: hashed here, nothing found
        page.goto("/results")
        page.set_input_files("#result-pdf", files=[{"name": "记录表.pdf", "mimeType": "application/pdf",
                                                    "buffer": b"%PDF-1.4 not the one"}])
        page.wait_for_url("**/results?hash=*")
        page.wait_for_selector("text=没有找到符合条件的公示结果")

        # 摇号公示: the list of draws (paged on the server) names the task; its link opens the page that verifies
        page.goto("/")
        page.click('nav a[href="/draws"]')
        page.wait_for_selector(f'.draw-row[data-task="{code}"]')
        row = page.inner_text(f'.draw-row[data-task="{code}"]')
        assert "已抽取" in row and "户中抽取" in row
        check(page, "draws")
        page.click(f'.draw-row[data-task="{code}"] a')
        page.wait_for_url(f"**/tasks/{code}?seq=*")

        # the task's draw, verified in this phone's browser
        page.goto(f"/tasks/{code}")
        page.wait_for_selector(DONE, timeout=60_000)
        assert page.get_attribute("#verdict", "data-status") == "match", page.inner_text("#verdict")
        assert page.inner_text("#verdict") == "验证通过：与公布结果一致"
        assert record["commitment"] in page.inner_text("main")
        check(page, "task")
        shot(page, "task")
        # the old address of the verifier page still verifies it
        page.goto(f"/draw/verify.html?task={code}")
        page.wait_for_selector(DONE, timeout=60_000)
        assert page.get_attribute("#verdict", "data-status") == "match"

        # a tampered record: not a match, and the difference named
        bad = copy.deepcopy(record)
        right = bad["result"]["groups"][0]["leader"]
        members = [m for ms in bad["result"]["groups"][0]["members"].values() for m in ms]
        wrong = next((m for m in members if m != right), "SAMR-000000")
        bad["result"]["groups"][0]["leader"] = wrong

        def tampered(route):
            route.fulfill(status=200, content_type="application/json; charset=utf-8",
                          body=json.dumps(bad, ensure_ascii=False))

        page.route(lambda url: urlparse(url).path == f"/api/public/draws/{code}/record", tampered)
        page.goto(f"/tasks/{code}")
        page.wait_for_selector(DONE, timeout=60_000)
        assert page.get_attribute("#verdict", "data-status") == "mismatch"
        assert page.inner_text("#verdict") == "验证未通过：共 1 处不同"
        assert page.locator(".differences li").all_inner_texts() == [
            f"result.groups[0].leader: 记录为 {wrong}，重新计算为 {right}"]
        shot(page, "task-tampered")
        page.unroute_all()

        # the other pages
        for path, screen, ready in (("/plans", "plans", "h1"), ("/items", "items", "ul.plain, p.muted"),
                                    ("/verify", "verify", "#load-form"), ("/no/such/page", "missing", "h1")):
            page.goto(path)
            page.wait_for_selector(ready)
            page.wait_for_timeout(300)
            check(page, screen)
        page.goto("/verify")
        page.wait_for_selector("#load-form")
        shot(page, "verify")

        # desktop: the results page at 1366×768
        desk = browser.new_context(base_url=live, locale="zh-CN", viewport={"width": 1366, "height": 768})
        dpage = desk.new_page()
        dpage.goto(f"/results?uscc={uscc}")
        dpage.locator(f"a:has-text('{name}')").wait_for()
        check(dpage, "results-desktop")
        shot(dpage, "results-desktop")
        browser.close()

    report = {screen: h.describe_violations(v) for screen, v in found.items() if v}
    assert not report, f"axe-core found serious or critical violations (or no main landmark / h1):\n{report}"
    assert errors == []
