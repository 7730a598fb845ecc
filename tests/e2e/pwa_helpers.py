"""Driving the officers' app (pwa/, served at /app/) in Debian's Chromium: phone-sized contexts with
service workers, taking the network away (server stopped, page offline, service-worker fetches aborted),
filling a section, signing, and reading what the server holds."""
from __future__ import annotations

import hashlib
import io
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

from PIL import Image
from playwright.sync_api import TimeoutError as PlaywrightTimeout

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "docs" / "screenshots"
PASSWORD = "Demo@2026"
PHONE = {"viewport": {"width": 360, "height": 640}, "device_scale_factor": 1, "is_mobile": True, "has_touch": True,
         "locale": "zh-CN", "timezone_id": "Asia/Shanghai", "service_workers": "allow", "permissions": ["geolocation"]}


def phone(browser, *, lat: float, lon: float, accuracy: float = 12.0):
    """A phone: 360×640, touch, Chinese, service workers on, the position granted. The app runs under its
    Content-Security-Policy (not bypassed): violations are collected by ``watch``."""
    ctx = browser.new_context(geolocation={"latitude": lat, "longitude": lon, "accuracy": accuracy}, **PHONE)
    ctx.set_default_timeout(20000)
    return ctx


def open_phone(browser, errors: list[str], *, lat: float = 34.72, lon: float = 111.09):
    """One phone (``phone``) of the test's Chromium near the demo county and its first page, watched
    (``watch``): (context, page)."""
    ctx = phone(browser, lat=lat, lon=lon)
    page = ctx.new_page()
    watch(page, errors)
    return ctx, page


def watch(page, errors: list[str]) -> None:
    """Collect uncaught errors and Content-Security-Policy violations of the page."""
    page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
    page.on("console", lambda msg: errors.append(f"{page.url}: {msg.text}")
            if "Content Security Policy" in msg.text else None)


def wait_js(page, expression: str, timeout: float = 30.0, interval: float = 0.1):
    """Poll a JavaScript expression until it is truthy. (Playwright's wait_for_function evaluates its
    predicate with eval, which the app's CSP forbids; page.evaluate does not need it.)"""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression} stayed false on {page.url}")
        time.sleep(interval)


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(250)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def login(page, base: str, username: str) -> None:
    page.goto(f"{base}/app/")
    page.wait_for_selector("#login-btn")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login-btn")
    page.wait_for_selector(".task-row", timeout=60000)
    if page.locator('#unsent[data-count="0"][data-ok="1"]').count() == 0:
        sync(page)
        page.goto(f"{base}/app/")
        page.wait_for_selector(".task-row")
    # the service worker controls the page before the network is taken away
    try:
        wait_js(page, "navigator.serviceWorker && navigator.serviceWorker.controller !== null")
    except Exception:
        # a page loaded while the worker was still installing stays uncontrolled (the app does not claim
        # clients: an update waits for the officer's consent); the next load is controlled
        if page.evaluate("async () => (await navigator.serviceWorker.getRegistration())?.active?.state") == "activated":
            page.reload()
            page.wait_for_selector(".task-row")
            if page.evaluate("navigator.serviceWorker.controller !== null"):
                return
        state = page.evaluate("""async () => { const r = await navigator.serviceWorker.getRegistration();
            return r ? {installing: r.installing?.state, waiting: r.waiting?.state, active: r.active?.state, scope: r.scope}
                     : null; }""")
        raise AssertionError(f"the service worker does not control {page.url} ({username}): {state}") from None


def wait_synced(page, timeout: float = 60000) -> None:
    """The header says synced only when the outbox is empty, every photo is on the server and the pull ended."""
    try:
        page.wait_for_selector('#unsent[data-count="0"][data-ok="1"]', timeout=timeout)
    except Exception:
        raise AssertionError(f"not synced at {page.url}: {page.locator('body').inner_text()[:1500]}") from None


def sync(page, timeout: float = 180.0) -> None:
    """Press 同步 until the app says synced (on a flaky line each press gets further: nothing is lost)."""
    # a screen still writing to the phone's store says so: leaving by a reload before it is done would cut it
    page.wait_for_selector('[data-saving="1"]', state="detached")
    page.goto(page.url.split("/app/")[0] + "/app/sync")
    deadline = time.monotonic() + timeout
    synced = '#unsent[data-count="0"][data-ok="1"]'
    while True:
        page.wait_for_selector("#sync-now:not(.van-button--loading)")
        page.click("#sync-now")
        page.wait_for_timeout(150)
        page.wait_for_selector("#sync-now:not(.van-button--loading)", timeout=60000)   # this attempt ended
        page.wait_for_timeout(100)
        if page.locator(synced).count():
            return
        if time.monotonic() > deadline:
            wait_synced(page, 1000)                       # fails, saying what the page shows


class Network:
    """The network of one or more browser contexts, and the server behind it."""

    def __init__(self, server, contexts):
        self.server, self.contexts = server, list(contexts)

    @staticmethod
    def _abort_worker(route):
        if route.request.service_worker is not None:
            route.abort("internetdisconnected")
        else:
            route.fallback()

    def down(self) -> None:
        self.server.stop()
        for ctx in self.contexts:
            ctx.route("**/*", self._abort_worker)
            ctx.set_offline(True)

    def up(self) -> None:
        self.server.start()
        for ctx in self.contexts:
            ctx.unroute("**/*", self._abort_worker)
            ctx.set_offline(False)


def jpeg(width: int = 2400, height: int = 1600, *, orientation: int = 6, seed: int = 0) -> bytes:
    """A real camera-like JPEG (Pillow): a gradient with text-like blocks, EXIF orientation set."""
    red = Image.linear_gradient("L").resize((width, height))
    green = Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize((width, height))
    blue = Image.effect_noise((width, height), 30 + seed)          # sensor noise: every photo its own bytes
    img = Image.merge("RGB", (red, green, blue))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, exif=exif.tobytes())
    return buf.getvalue()


def draw_signature(page, selector: str = "#sig-canvas") -> None:
    page.locator(selector).scroll_into_view_if_needed()
    box = page.locator(selector).bounding_box()
    x0, y0 = box["x"] + 20, box["y"] + box["height"] / 2
    page.mouse.move(x0, y0)
    page.mouse.down()
    for i in range(1, 12):
        page.mouse.move(x0 + i * 22, y0 + (18 if i % 2 else -18), steps=3)
    page.mouse.up()


def add_photo(page, cp: str, photo: bytes) -> None:
    before = page.locator(f'.point[data-cp="{cp}"] .thumbs img').count()
    page.set_input_files(f"#photo-{cp}", files=[{"name": "现场.jpg", "mimeType": "image/jpeg", "buffer": photo}])
    wait_js(page, f"document.querySelectorAll('.point[data-cp=\"{cp}\"] .thumbs img').length > {before}")


def fill_section(page, base: str, inspection_id: int, photo: bytes, *, fail_first: bool = True) -> int:
    """The officer's own section: method per item, a result per check point, one 不符合 with its problem,
    handling and photo (and a photo where the check point asks for one), arrival and departure stamps; the
    GPS fix comes from the context's geolocation. Returns the number of photos taken."""
    page.goto(f"{base}/app/i/{inspection_id}/inspect")
    page.wait_for_selector('#gps-panel:not([data-accuracy=""])')
    page.click("#stamp-arrive")
    for item in page.locator(".item-block").all():
        if item.locator(".method-documents").count():       # 书面检查: the documents reviewed are its evidence
            item.locator(".method-documents").click()
            box = item.locator("textarea").first
            box.fill("增值税发票存根联\n纳税申报表（近三个月）")
            box.blur()
        else:
            item.locator(".method-onsite").first.click()
    points = page.locator(".point").all()
    taken = 0
    for n, point in enumerate(points):
        cp = point.get_attribute("data-cp")
        if n == 0 and fail_first:
            point.locator(".result-fail").click()
            page.wait_for_selector(f'.point[data-cp="{cp}"][data-result="fail"] .problem-field textarea')
            point.locator(".problem-field textarea").fill("门头招牌使用的名称与登记名称不一致")
            point.locator(".problem-field textarea").blur()
            point.locator(".handling-rectify").click()
            add_photo(page, cp, photo)
            taken += 1
        else:
            point.locator(".result-pass").click()
            page.wait_for_selector(f'.point[data-cp="{cp}"][data-result="pass"]')
            if point.get_attribute("data-type") == "photo":
                add_photo(page, cp, jpeg(1600, 1200, orientation=1, seed=n + 10))
                taken += 1
    page.click("#stamp-depart")
    try:
        page.wait_for_selector("#problems .ok")
    except Exception:
        raise AssertionError(page.locator("#problems").inner_text()) from None
    return taken


def sign_section(page, base: str, inspection_id: int) -> str:
    page.goto(f"{base}/app/i/{inspection_id}/sign")
    page.wait_for_selector('#sign-hash:not([data-hash=""])')
    draw_signature(page)
    signed_hash = page.locator("#sign-hash").get_attribute("data-hash")
    page.click("#sign-confirm")
    wait_text(page, "的签名已保存")
    return signed_hash


def unsent(page) -> int:
    return int(page.locator("#unsent").get_attribute("data-count"))


# --- what the server holds -------------------------------------------------------------------------------

def api(base: str, method: str, path: str, *, token: str | None = None, body=None,
        headers: dict | None = None) -> tuple[int, object, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {}),
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            raw = r.read()
            return r.status, (json.loads(raw) if raw and r.headers.get_content_type() == "application/json" else None), raw
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, (json.loads(raw) if raw[:1] == b"{" else None), raw


def token(base: str, username: str) -> str:
    status, body, _ = api(base, "POST", "/api/v1/auth/login", body={"username": username, "password": PASSWORD})
    assert status == 200, body
    return body["access_token"]


def pulled(base: str, username: str) -> dict:
    """Everything a fresh phone of ``username`` pulls: {"task": {id: doc}, "inspection": {id: doc}}."""
    from sync.client import Client, HttpTransport

    c = Client(HttpTransport(base))
    c.login(username, PASSWORD)
    c.pull()
    return c.docs


def media_bytes(base: str, access: str, sha256: str) -> bytes:
    status, _, raw = api(base, "GET", f"/api/media/{sha256}", token=access)
    assert status == 200, (status, raw[:200])
    return raw


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


def click_to_confirm(page, trigger: str, timeout: float = 30.0) -> None:
    """Click ``trigger`` and confirm the dialog it opens. A button enabled by reactive state (the record's hash,
    its signatures) may be clicked in the instant a re-render takes its state away again: its handler then
    returns without a dialog (what an officer's second tap would do, the test does too)."""
    deadline = time.monotonic() + timeout
    while True:
        page.click(trigger)
        try:
            page.wait_for_selector(".van-dialog__confirm", timeout=4000)
            break
        except PlaywrightTimeout:
            if time.monotonic() > deadline:
                raise
    page.click(".van-dialog__confirm")


def wait_text(page, text: str, timeout: float = 20000) -> None:
    """Wait for ``text`` on the page; on failure say what the page shows instead."""
    try:
        page.wait_for_selector(f"text={text}", timeout=timeout)
    except Exception:
        body = page.locator("body").inner_text()
        raise AssertionError(f"{text!r} not shown at {page.url}; the page shows:\n{body[:1500]}") from None


def qr_png(text: str) -> dict:
    """A business licence's QR code as a photo of it would be: a PNG with a quiet zone (segno)."""
    import segno

    buf = io.BytesIO()
    segno.make(text, error="m").save(buf, kind="png", scale=8, border=4)
    return {"name": "执照.png", "mimeType": "image/png", "buffer": buf.getvalue()}


# --- accessibility (axe-core, the copy in pwa/node_modules) ----------------------------------------------

AXE_JS = ROOT / "pwa" / "node_modules" / "axe-core" / "axe.min.js"
_AXE_RUN = """async (impacts) => {
  const result = await axe.run(document, { resultTypes: ["violations"] });
  return result.violations.filter((v) => impacts.includes(v.impact)).map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map((n) => ({ target: n.target.join(" "), html: n.html.slice(0, 160),
                                 summary: (n.failureSummary || "").replace(/\\s+/g, " ").slice(0, 240) })),
  }));
}"""


def axe_violations(page, impacts: tuple[str, ...] = ("serious", "critical")) -> list[dict]:
    """axe-core's violations of the page as it shows now, those of the given impacts: ``[{id, impact, help,
    nodes: [{target, html, summary}]}]``. axe is put into the page through the DevTools protocol (the page's
    Content-Security-Policy forbids inline scripts, and stays on), once per document."""
    if not page.evaluate("typeof window.axe === 'object'"):
        cdp = page.context.new_cdp_session(page)
        try:
            answer = cdp.send("Runtime.evaluate", {"expression": AXE_JS.read_text(encoding="utf-8")})
        finally:
            cdp.detach()
        if answer.get("exceptionDetails"):
            raise AssertionError(f"axe-core did not load into {page.url}: {answer['exceptionDetails']}")
    page.wait_for_timeout(400)          # Vant's transitions (popups, toasts) end before colours are read
    return page.evaluate(_AXE_RUN, list(impacts))


def describe_violations(violations: list[dict]) -> str:
    return "\n".join(f"  {v['impact']} {v['id']} ({v['help']}):\n" + "\n".join(
        f"    {n['target']}  {n['html'][:100]}\n      {n['summary']}" for n in v["nodes"][:8]) for v in violations)


_CONTROL_STATE = r"""(sel) => {
  const host = document.querySelector(sel);
  if (!host) return null;
  const el = host.matches('[tabindex], button, input, select, textarea, a[href]') ? host
    : host.querySelector('[tabindex], button, input, select, textarea, a[href]');
  if (!el || el.tabIndex < 0 || el.disabled) return { focusable: false };
  el.focus();
  const state = el.getAttribute('aria-checked') ?? el.getAttribute('aria-pressed') ?? (el.type === 'checkbox' ? String(el.checked) : null);
  return { focusable: document.activeElement === el, role: el.getAttribute('role') || el.tagName.toLowerCase(), state,
           name: (el.getAttribute('aria-label')
                  || (el.getAttribute('aria-labelledby') || '').split(/\s+/)
                       .map((id) => document.getElementById(id)?.textContent || '').join(' ')
                  || [...(el.labels || [])].map((l) => l.textContent).join(' ') || el.textContent || '').trim() };
}"""


def keyboard_toggle(page, selector: str) -> list[str]:
    """A control that switches something on and off (a tag used as a choice, a switch): reached by the keyboard,
    with a role, a name and its state for a screen reader, and switched by the space bar. Returns what is missing
    (empty: all there); the control is switched back afterwards."""
    before = page.evaluate(_CONTROL_STATE, selector)
    if before is None:
        return [f"{selector}: not on the page"]
    if not before["focusable"]:
        return [f"{selector}: not reachable by the keyboard"]
    missing = []
    if before["role"] in ("div", "span", "i", "b") or not before["name"]:
        missing.append(f"{selector}: no role or no name ({before})")
    if before["state"] is None:
        return missing + [f"{selector}: its state (on/off) is not told (aria-checked / aria-pressed)"]
    page.keyboard.press("Space")
    page.wait_for_timeout(150)
    after = page.evaluate(_CONTROL_STATE, selector)
    if not after or after["state"] == before["state"]:
        missing.append(f"{selector}: the space bar does not switch it ({before['state']} → {after and after['state']})")
    else:
        page.keyboard.press("Space")                         # back as it was
        page.wait_for_timeout(150)
    return missing
