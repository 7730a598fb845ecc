"""What the officer's phone captures is never lost (issue 11 §1.1, §1.2, §1.7, §1.8, §1.9), in Debian's
Chromium against a real server process:

* offline, three photos on one check point (the second used to fail with DataCloneError), persistent
  storage asked for at the first offline save;
* text typed and the tab closed within 200 ms; opened again, still offline: the text and the photos are
  there; back online they reach the server;
* the camera's EXIF (capture time with its offset, GPS, device) and the original's SHA-256 and size reach
  the server in the photo entries; a photo whose EXIF position is far from the fix is flagged for the lead;
* two tabs on one inspection: one edits, the other is read-only and says why, and takes over (with what the
  first had typed) when the first closes: the field ends with one value.
"""
from __future__ import annotations

import datetime as dt
import io
import time
from zoneinfo import ZoneInfo

import pytest
from PIL import Image
from PIL.ExifTags import IFD
from PIL.TiffImagePlugin import IFDRational

from tests.e2e import pwa_helpers as h
from tests.e2e.browser import chromium

pytestmark = pytest.mark.e2e

COUNT_PERSIST = """
(() => {
  window.__persistCalls = 0;
  const storage = navigator.storage;
  if (!storage || !storage.persist) return;
  const persist = storage.persist.bind(storage);
  storage.persist = () => { window.__persistCalls += 1; return persist(); };
})();
"""


def _dms(value: float) -> tuple:
    value = abs(value)
    d = int(value)
    m = int((value - d) * 60)
    s = round(((value - d) * 60 - m) * 60 * 1000)
    return (IFDRational(d, 1), IFDRational(m, 1), IFDRational(s, 1000))


def camera_jpeg(lat: float, lon: float, when: dt.datetime, *, seed: int, size=(2400, 1800)) -> bytes:
    """A camera's original: EXIF with DateTimeOriginal and its offset, a GPS fix, make and model (Pillow)."""
    img = Image.merge("RGB", (Image.linear_gradient("L").resize(size), Image.effect_noise(size, 30 + seed),
                              Image.linear_gradient("L").transpose(Image.Transpose.ROTATE_90).resize(size)))
    exif = Image.Exif()
    exif[0x0112] = 1
    exif[0x010F] = "HUAWEI"
    exif[0x0110] = "NOH-AN00"
    sub = exif.get_ifd(IFD.Exif)
    sub[0x9003] = when.strftime("%Y:%m:%d %H:%M:%S")
    sub[0x9011] = when.strftime("%z")[:3] + ":" + when.strftime("%z")[3:]
    gps = exif.get_ifd(IFD.GPSInfo)
    gps[1], gps[2] = ("N" if lat >= 0 else "S"), _dms(lat)
    gps[3], gps[4] = ("E" if lon >= 0 else "W"), _dms(lon)
    gps[18] = "WGS-84"
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88, exif=exif.tobytes())
    return buf.getvalue()


def _inspection(base: str) -> tuple[int, dict]:
    docs = h.pulled(base, "samr_inspector")
    doc = min(docs["inspection"].values(), key=lambda d: d["position"])
    return doc["id"], doc


def _note(page, cp: str):
    return page.locator(f'.point[data-cp="{cp}"] .note-field input')


def test_offline_photos_and_text_survive_a_closed_tab_and_reach_the_server_with_their_exif(server):
    base = server.url
    iid, doc = _inspection(base)
    lat, lon = doc["target"]["location"]["lat"], doc["target"]["location"]["lon"]
    now = dt.datetime.now(ZoneInfo("Asia/Shanghai")).replace(microsecond=0)
    here = camera_jpeg(lat, lon, now, seed=1)
    beijing = camera_jpeg(39.915, 116.404, now, seed=2)            # EXIF says: taken 700 km away
    plain = h.jpeg(1600, 1200, orientation=1, seed=3)                # no EXIF evidence at all
    errors: list[str] = []
    with chromium() as browser:
        ctx = h.phone(browser, lat=lat, lon=lon)
        ctx.add_init_script(COUNT_PERSIST)
        page = ctx.new_page()
        h.watch(page, errors)
        h.login(page, base, "samr_inspector")
        net = h.Network(server, [ctx])
        net.down()
        page.goto(f"{base}/app/i/{iid}/inspect")                      # offline: the shell from the service worker
        page.wait_for_selector('#gps-panel:not([data-accuracy=""])')
        cp = page.locator(".point").first.get_attribute("data-cp")
        page.evaluate("window.__persistCalls = 0")
        for n, photo in enumerate((here, beijing, plain), 1):
            page.set_input_files(f"#photo-{cp}", files=[{"name": f"现场{n}.jpg", "mimeType": "image/jpeg", "buffer": photo}])
            try:
                h.wait_js(page, f"document.querySelectorAll('.point[data-cp=\"{cp}\"] .thumbs img').length === {n}", timeout=30)
            except AssertionError:
                raise AssertionError(f"photo {n} not saved: {page.locator('body').inner_text()[:800]}") from None
        assert page.locator("text=照片未保存").count() == 0
        assert page.evaluate("window.__persistCalls") >= 1             # asked at the first offline save
        assert page.locator(f'.point[data-cp="{cp}"] .photo-count').inner_text() == "3 张照片"

        # typed, and the tab closed at once: no blur, no pause
        _note(page, cp).fill("离线时写下的备注：门头招牌名称与登记不一致")
        typed = time.monotonic()
        page.close()
        assert time.monotonic() - typed < 0.2

        page = ctx.new_page()
        h.watch(page, errors)
        page.goto(f"{base}/app/i/{iid}/inspect")                      # still offline
        page.wait_for_selector(f'.point[data-cp="{cp}"]')
        h.wait_js(page, f"""document.querySelector('.point[data-cp="{cp}"] .note-field input').value
                            === '离线时写下的备注：门头招牌名称与登记不一致'""", timeout=10)
        assert page.locator(f'.point[data-cp="{cp}"] .thumbs img').count() == 3
        page.wait_for_selector('#unsent:not([data-count="0"])')

        net.up()
        h.sync(page)
        browser.close()
    assert errors == []

    section = next(s for s in h.pulled(base, "samr_inspector")["inspection"][iid]["sections"]
                   if s["department_code"] == "SAMR")
    content = section["content"]
    assert content[f"points.{cp}.note"] == "离线时写下的备注：门头招牌名称与登记不一致"
    entries = content[f"points.{cp}.photos"]
    assert len(entries) == 3
    first, second, third = entries
    for entry, original in ((first, here), (second, beijing), (third, plain)):
        assert entry["original"]["sha256"] == h.sha256(original) and entry["original"]["size"] == len(original)
        assert entry["sha256"] != entry["original"]["sha256"]          # the copy the phone made, uploaded
    assert first["original"]["width"] == 2400 and first["original"]["height"] == 1800
    assert first["exif"]["time"] == now.strftime("%Y-%m-%dT%H:%M:%S") and first["exif"]["offset"] == "+08:00"
    assert first["exif"]["make"] == "HUAWEI" and first["exif"]["model"] == "NOH-AN00"
    assert abs(first["exif"]["gps"]["lat"] - lat) < 1e-5 and abs(first["exif"]["gps"]["lon"] - lon) < 1e-5
    assert first["exif"]["gps"]["datum"] == "WGS-84"
    assert abs(second["exif"]["gps"]["lat"] - 39.915) < 1e-5
    assert "exif" not in third
    access = h.token(base, "samr_inspector")
    for entry in entries:                                            # every copy is on the server, byte for byte
        assert h.sha256(h.media_bytes(base, access, entry["sha256"])) == entry["sha256"]
    flags = h.pulled(base, "samr_lead")["inspection"][iid]["flags"]
    photo_flags = [(f["code"], f["detail"]["photo_id"]) for f in flags if f["code"].startswith("gps.photo")]
    assert photo_flags == [("gps.photo_far", second["id"])]


def test_two_tabs_one_edits_the_other_reads_and_takes_over(server):
    base = server.url
    iid, doc = _inspection(base)
    place = doc["target"]["location"]
    errors: list[str] = []
    with chromium() as browser:
        ctx = h.phone(browser, lat=place["lat"], lon=place["lon"])
        a = ctx.new_page()
        h.watch(a, errors)
        h.login(a, base, "samr_inspector")
        a.goto(f"{base}/app/i/{iid}/inspect")
        a.wait_for_selector(".point .note-field input:not([readonly])")
        cp = a.locator(".point").first.get_attribute("data-cp")
        b = ctx.new_page()
        h.watch(b, errors)
        b.goto(f"{base}/app/i/{iid}/inspect")
        b.wait_for_selector("#edit-elsewhere")                        # read-only, saying why
        h.wait_text(b, "正在本机的另一个窗口")
        assert not _note(b, cp).is_editable()
        assert b.locator(f"#photo-{cp}").count() == 0                 # no photo can be added there either
        assert a.locator("#edit-elsewhere").count() == 0

        _note(a, cp).fill("甲窗口写的")
        _note(a, cp).blur()
        h.wait_js(b, f"""document.querySelector('.point[data-cp="{cp}"] .note-field input').value === '甲窗口写的'""")
        _note(a, cp).fill("甲窗口写的，又补充了一句")                   # typed, and that tab closed at once
        a.close()

        b.wait_for_selector("#edit-elsewhere", state="detached")      # the second tab takes over
        b.wait_for_selector(f'.point[data-cp="{cp}"] .note-field input:not([readonly])')
        h.wait_js(b, f"""document.querySelector('.point[data-cp="{cp}"] .note-field input').value
                         === '甲窗口写的，又补充了一句'""", timeout=10)
        _note(b, cp).fill("乙窗口改定的备注")
        _note(b, cp).blur()
        h.sync(b)
        browser.close()
    assert errors == []
    section = next(s for s in h.pulled(base, "samr_inspector")["inspection"][iid]["sections"]
                   if s["department_code"] == "SAMR")
    assert section["content"][f"points.{cp}.note"] == "乙窗口改定的备注"
    assert h.pulled(base, "samr_lead")["inspection"][iid]["conflicts"] == []
