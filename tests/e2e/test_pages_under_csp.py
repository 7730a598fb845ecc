"""The app's own pages work under its strict Content-Security-Policy, in real Chromium.

The policy (backend/web.py) allows scripts, styles and requests from the same origin only and
no inline code. Swagger UI at /api/docs, the draw verifier (and its Web Workers) and the public portal are served by the
app with that header; each must work and the browser must report no violation. A deliberate
inline script at the end proves that violations are seen (so "none" means something).
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest
from werkzeug.serving import make_server

from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).parents[2]
CASE = json.loads((ROOT / "tests" / "data" / "draw-vectors.json").read_text(encoding="utf-8"))["draws"][0]
DONE = '#verdict[data-status="match"], #verdict[data-status="mismatch"], #verdict[data-status="error"]'
WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "inline")));
"""


@pytest.fixture()
def base_url(app, db_session):
    # one request at a time: the app's sessions share the test's one connection (a page that asks two things
    # at once, as the portal's task page does, would otherwise interleave their savepoints)
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture()
def page(base_url):
    with chromium() as browser:
        context = browser.new_context(base_url=base_url)
        context.add_init_script(WATCH)
        pg = context.new_page()
        pg.errors, pg.console_csp = [], []
        pg.on("pageerror", lambda exc: pg.errors.append(str(exc)))
        pg.on("console", lambda msg: pg.console_csp.append(msg.text) if "Content Security Policy" in msg.text else None)
        yield pg
        browser.close()


def _violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations") + page.console_csp


def test_swagger_ui_works_under_the_policy(page):
    response = page.goto("/api/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .information-container .title", timeout=60_000)
    assert "双随" in page.inner_text(".swagger-ui .information-container .title")
    page.wait_for_selector(".opblock", timeout=60_000)
    assert page.locator(".opblock").count() > 20
    page.locator(".opblock-summary").first.click()  # an operation opens (React renders it)
    page.wait_for_selector(".opblock.is-open", timeout=30_000)
    assert _violations(page) == [] and page.errors == []

    # the watch works: an inline script is refused and reported
    page.evaluate("() => { const s = document.createElement('script'); s.textContent = 'window.x = 1';"
                  " document.body.appendChild(s); }")
    page.wait_for_function("window.__cspViolations.length > 0", timeout=10_000)
    assert page.evaluate("window.x") is None


def test_verifier_works_under_the_policy(page):
    def serve(route):
        route.fulfill(status=200, content_type="application/json; charset=utf-8",
                      body=json.dumps(CASE, ensure_ascii=False))

    page.route(lambda url: urlparse(url).path == "/records/case.json", serve)
    response = page.goto("/draw/verify.html?record=/records/case.json")
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    page.wait_for_selector(DONE, timeout=60_000)
    assert page.get_attribute("#verdict", "data-status") == "match", page.inner_text("#verdict")
    # a long list is ranked in Web Workers (allowed by worker-src 'self'), with the answer of the page's own thread
    ranked = page.evaluate("""async () => {
        const m = await import('/draw/dsr.js');
        const ids = Array.from({ length: 50000 }, (_, i) => `T-${i}`);
        m.setWorkers(2);
        const inWorkers = await m.rankSmallest('seed', ['ent', 'SS-1'], ids, 5);
        m.setWorkers(0);
        const onPage = await m.rankSmallest('seed', ['ent', 'SS-1'], ids, 5);
        return [inWorkers, onPage];
    }""")
    assert ranked[0] == ranked[1] and len(ranked[0]) == 5
    assert _violations(page) == [] and page.errors == []


def test_home_page_works_under_the_policy(page):
    page.goto("/")
    page.wait_for_selector("#home-task")
    assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(183, 28, 28)"
    page.fill("#home-task", "SS-2026-001")
    page.click("button:has-text('复核')")
    page.wait_for_url("**/tasks/SS-2026-001", timeout=30_000)
    page.wait_for_selector(DONE, timeout=60_000)      # no such task here: the verifier says it cannot load it
    assert "无法下载记录（HTTP 404）" in page.inner_text("#verdict")
    assert _violations(page) == [] and page.errors == []
