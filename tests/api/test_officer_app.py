"""The officers' app is served at /app/: its files with the right types, client routes answered by its page,
the service worker allowed the /app/ scope and never cached by HTTP; the public pages at / stay."""
from __future__ import annotations

import pytest

from tests.conftest import make_test_app


@pytest.fixture()
def app_client(database, tmp_path):
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>掌上执法</title><div id=app></div>", encoding="utf-8")
    (dist / "sw.js").write_text("self.addEventListener('fetch', () => {});")
    (dist / "manifest.webmanifest").write_text('{"name": "掌上执法"}', encoding="utf-8")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
    (dist / "assets" / "zxing_reader-abc.wasm").write_bytes(b"\0asm\1\0\0\0")
    return make_test_app(database, tmp_path, PWA_APP_DIR=str(dist)).test_client()


def test_the_app_shell_and_its_files(app_client):
    r = app_client.get("/app/")
    assert r.status_code == 200 and "掌上执法" in r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-cache"
    r = app_client.get("/app/assets/index-abc123.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript" and "immutable" in r.headers["Cache-Control"]
    assert app_client.get("/app/assets/zxing_reader-abc.wasm").mimetype == "application/wasm"
    assert app_client.get("/app/manifest.webmanifest").mimetype == "application/manifest+json"
    assert app_client.get("/app").status_code == 308


def test_the_service_worker_may_control_the_app(app_client):
    r = app_client.get("/app/sw.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript"
    assert r.headers["Service-Worker-Allowed"] == "/app/" and r.headers["Cache-Control"] == "no-cache"


def test_client_routes_get_the_page_missing_files_do_not(app_client):
    for path in ("/app/i/12/inspect", "/app/sync", "/app/login"):
        r = app_client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200 and "掌上执法" in r.get_data(as_text=True), path
    assert app_client.get("/app/assets/gone-123.js").status_code == 404
    assert app_client.get("/app/../backend/config.py").status_code == 404


def test_public_pages_still_served(app_client):
    assert "双随" in app_client.get("/").get_data(as_text=True)
    assert app_client.get("/draw/verify.html").status_code == 200


def test_an_unbuilt_app_says_how_to_build_it(database, tmp_path):
    client = make_test_app(database, tmp_path, PWA_APP_DIR=str(tmp_path / "nothing")).test_client()
    r = client.get("/app/")
    assert r.status_code == 503 and "scripts/setup.sh" in r.get_data(as_text=True)


def test_the_app_may_compile_webassembly_and_nothing_else_more(app_client):
    """The QR decoder is WebAssembly: the app's pages allow compiling it ('wasm-unsafe-eval'), never eval of
    scripts; every other page keeps the site's policy."""
    policy = app_client.get("/app/").headers["Content-Security-Policy"]
    assert "script-src 'self' 'wasm-unsafe-eval'" in policy and "'unsafe-eval'" not in policy.replace("'wasm-unsafe-eval'", "")
    assert "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "wasm" not in app_client.get("/").headers["Content-Security-Policy"]
