"""Every screen of the officers' app, and the public draw verifier, at phone size in Debian's Chromium, checked
by axe-core (pwa/node_modules/axe-core): no serious or critical violation, with the demo task's real data on
screen — a section filled with a failed check point (its follow-up controls open), the lead's merge with a
follow-up row, the sign, sync and scan screens; and each page has one main landmark and a heading of level one
(axe calls these moderate; a screen reader's user finds the content by them). The app runs under its own
Content-Security-Policy.

The tags used as check boxes (处置情况, 检查结果) and the 是/否 switch are reached by the keyboard, tell their
state and switch with the space bar. The page names itself: Chinese (``lang``), a title per screen, zoom allowed."""
from __future__ import annotations

import pytest

from tests.e2e import pwa_helpers as h
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e
STRUCTURE = ("landmark-one-main", "page-has-heading-one", "landmark-no-duplicate-main")


def test_every_phone_screen_has_no_serious_or_critical_violation(server):
    base = server.url
    docs = h.pulled(base, "samr_lead")
    inspection = min(docs["inspection"].values(), key=lambda d: d["position"])
    iid, task = inspection["id"], docs["task"][inspection["task_id"]]
    place = inspection["target"]["location"]
    found: dict[str, list[dict]] = {}
    titles: dict[str, str] = {}
    keyboard: list[str] = []
    errors: list[str] = []

    def check(page, screen: str) -> None:
        # serious and critical, and the page's structure (axe calls these moderate): one main landmark, an h1
        found[screen] = [v for v in h.axe_violations(page, ("minor", "moderate", "serious", "critical"))
                         if v["impact"] in ("serious", "critical") or v["id"] in STRUCTURE]
        titles[screen] = page.title()
        assert page.evaluate("document.documentElement.lang") == "zh-CN", screen

    with chromium() as browser:
        ctx = h.phone(browser, lat=place["lat"], lon=place["lon"])
        page = ctx.new_page()
        h.watch(page, errors)

        page.goto(f"{base}/app/")
        page.wait_for_selector("#login-btn")
        check(page, "登录")
        viewport = page.evaluate("document.querySelector('meta[name=viewport]').content")
        assert "user-scalable=no" not in viewport.replace(" ", "") and "maximum-scale=1" not in viewport

        h.login(page, base, "samr_lead")
        page.goto(f"{base}/app/")
        page.wait_for_selector(f'.task-row[data-id="{iid}"]')
        check(page, "今日任务")

        page.click(f'.task-row[data-id="{iid}"]')
        page.wait_for_selector("#biz-name")
        check(page, "检查对象")

        h.fill_section(page, base, iid, h.jpeg(1600, 1200, seed=3))        # one check point failed, with its follow-up
        page.wait_for_selector('.point[data-result="fail"] .problem-field')
        check(page, "现场检查")
        # 处置情况 (tags used as check boxes) and the 是/否 switch: reached and switched by the keyboard
        keyboard += h.keyboard_toggle(page, '.point[data-result="fail"] .handling-rectify')
        if page.locator(".point .van-switch").count():
            keyboard += h.keyboard_toggle(page, ".point .van-switch")

        page.goto(f"{base}/app/i/{iid}/sign")
        page.wait_for_selector('#sign-hash:not([data-hash=""])')
        check(page, "签名")

        page.goto(f"{base}/app/i/{iid}/merge")
        page.wait_for_selector("#add-followup")
        page.click("#add-followup")
        page.wait_for_selector(".followup")
        check(page, "组长汇总")
        keyboard += h.keyboard_toggle(page, ".cat-pending_followup")       # 检查结果 (tags used as check boxes)

        page.goto(f"{base}/app/sync")
        page.wait_for_selector("#sync-now")
        check(page, "同步与存储")

        page.goto(f"{base}/app/scan")
        page.wait_for_selector("#qr-file", state="attached")
        check(page, "扫码")

        page.goto(f"{base}{task['verify_url']}")
        page.wait_for_selector('#verdict:not([data-status="idle"])', timeout=60000)
        check(page, "抽取记录验证")
        browser.close()

    report = "\n".join(f"{screen}:\n{h.describe_violations(v)}" for screen, v in found.items() if v)
    assert not report, f"axe-core found serious or critical violations (or no main landmark / h1):\n{report}"
    assert not keyboard, "controls out of reach of the keyboard or a screen reader:\n" + "\n".join(keyboard)
    app_titles = [t for screen, t in titles.items() if screen != "抽取记录验证"]
    assert len(set(app_titles)) == len(app_titles) and all("掌上执法" in t for t in app_titles), titles
    assert errors == []
