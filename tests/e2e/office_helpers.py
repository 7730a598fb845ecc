"""Shared steps of the office's browser tests: a desktop window (1366×768), logging in, screenshots."""
from __future__ import annotations

from tests.e2e.pwa_helpers import PASSWORD, SHOTS, watch  # noqa: F401  (re-exported for the office's tests)

DESKTOP = {"viewport": {"width": 1366, "height": 768}, "device_scale_factor": 1, "locale": "zh-CN",
           "timezone_id": "Asia/Shanghai"}


def open_office(browser, errors: list[str]):
    ctx = browser.new_context(**DESKTOP)
    page = ctx.new_page()
    watch(page, errors)
    return ctx, page


def login(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/office/login")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("#login-btn")
    page.wait_for_selector("#whoami")


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(SHOTS / f"office-{name}.png"))
