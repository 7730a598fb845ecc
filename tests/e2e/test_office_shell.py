"""The office's frame in Debian's Chromium at desktop size: an admin logs in, sees who they are and the menu
of their role, and logs out; a planner sees another menu; under the page's strict Content-Security-Policy."""
from __future__ import annotations

import pytest

from tests.e2e import office_helpers as o
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e


def test_admin_logs_in_sees_the_menu_and_logs_out(server):
    base = server.url
    errors: list[str] = []
    with chromium() as browser:
        ctx, page = o.open_office(browser, errors)

        page.goto(f"{base}/office/")
        page.wait_for_selector("#login-btn")                     # not logged in: the login page
        assert page.evaluate("document.documentElement.lang") == "zh-CN"
        page.fill("#username", "samr_admin")
        page.fill("#password", "wrong-password")
        page.click("#login-btn")
        page.wait_for_selector("#login-error")
        assert "用户名或密码" in page.inner_text("#login-error")    # the API's message, in Chinese

        o.login(page, base, "samr_admin")
        who = page.inner_text("#whoami")
        assert "市场监管局部门管理员" in who and "部门管理员" in who and "市场监督管理局" in who
        groups = page.eval_on_selector_all(".side-menu [data-group]", "els => els.map(e => e.dataset.group)")
        assert groups == ["lists", "plans", "publication", "figures", "jobs"]
        paths = page.eval_on_selector_all(".side-menu [data-path]", "els => els.map(e => e.dataset.path)")
        assert "/accounts" in paths and "/audit" in paths
        o.shot(page, "shell")

        page.click('[data-path="/jobs"]')
        page.wait_for_url("**/office/jobs")
        page.wait_for_selector(".paged-table")

        # by the keyboard alone: Tab reaches each entry of the menu (its focus ring visible), Enter opens it
        reached = []
        for _ in range(40):
            page.keyboard.press("Tab")
            focus = page.evaluate("""() => { const e = document.activeElement, s = getComputedStyle(e);
                return {path: e.closest('[data-path]')?.dataset.path || null,
                        ring: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0}; }""")
            if focus["path"]:
                assert focus["ring"], focus
                reached.append(focus["path"])
            if focus["path"] == "/offline-imports":
                break
        assert reached[:3] == ["/lists/targets", "/accounts", "/offline-imports"], reached
        entries = page.evaluate("window.__samePage = true; history.length")
        page.keyboard.press("Enter")
        page.wait_for_url("**/office/offline-imports")
        page.wait_for_selector(".offline-upload")
        assert page.evaluate("history.length") == entries + 1 and page.evaluate("window.__samePage")  # no page load

        # the pager's 每页条数 (an Element Plus select, its input drawn without an outline) by the keyboard: Tab
        # from the count before it reaches it, and the box around it shows the shell's focus ring
        page.click('[data-path="/jobs"]')
        page.wait_for_url("**/office/jobs")
        page.wait_for_selector(".paged-table .page-size")
        page.click(".paged-table .pager .total")
        for _ in range(5):
            page.keyboard.press("Tab")
            size = page.evaluate("""() => { const e = document.activeElement, box = e.closest('.el-select__wrapper');
                const s = box && getComputedStyle(box);
                return {inside: !!e.closest('.page-size'), label: e.getAttribute('aria-label'),
                        ring: !!s && s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2}; }""")
            if size["inside"]:
                break
        assert size == {"inside": True, "label": "每页条数", "ring": True}, size

        page.click("#logout-btn")
        page.wait_for_selector("#login-btn")
        assert page.evaluate("localStorage.getItem('shuangsui.office.auth')") is None
        page.goto(f"{base}/office/accounts")                     # a deep link after logout: the login page
        page.wait_for_selector("#login-btn")
        assert "next=" in page.url

        o.login(page, base, "samr_planner")                      # another role, another menu
        groups = page.eval_on_selector_all(".side-menu [data-group]", "els => els.map(e => e.dataset.group)")
        assert groups == ["lists", "plans", "jobs"]
        page.goto(f"{base}/office/accounts")
        page.wait_for_selector("text=无权访问")
        browser.close()
    assert not errors, errors
