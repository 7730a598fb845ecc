"""The office is served at /office/: its built files with the right types, its client routes (history mode)
answered by its page, the site's own policy (no WebAssembly), no service worker; the phone app stays at /app/."""
from __future__ import annotations

import pytest

from backend.web import CONTENT_SECURITY_POLICY
from tests.conftest import make_test_app


@pytest.fixture()
def office_client(database, tmp_path):
    dist = tmp_path / "dist-office"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>业务办公</title><div id=app></div>", encoding="utf-8")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
    (dist / "assets" / "index-abc123.css").write_text("body{margin:0}")
    return make_test_app(database, tmp_path, PWA_OFFICE_DIR=str(dist)).test_client()


def test_the_office_page_and_its_files(office_client):
    r = office_client.get("/office/")
    assert r.status_code == 200 and "业务办公" in r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-cache"
    assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    r = office_client.get("/office/assets/index-abc123.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript" and "immutable" in r.headers["Cache-Control"]
    assert office_client.get("/office/assets/index-abc123.css").mimetype == "text/css"
    r = office_client.get("/office")
    assert r.status_code == 308 and r.headers["Location"].endswith("/office/")


def test_client_routes_get_the_page_missing_files_do_not(office_client):
    for path in ("/office/login", "/office/lists/targets", "/office/jobs/0123abcd", "/office/audit?action=x"):
        r = office_client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200 and "业务办公" in r.get_data(as_text=True), path
    assert office_client.get("/office/assets/gone-123.js").status_code == 404
    assert office_client.get("/office/favicon.ico", headers={"Accept": "image/*"}).status_code == 404
    assert office_client.get("/office/../backend/config.py").status_code == 404
    assert office_client.get("/office/sw.js", headers={"Accept": "*/*"}).status_code == 404    # no service worker


def test_an_unbuilt_office_says_how_to_build_it(database, tmp_path):
    client = make_test_app(database, tmp_path, PWA_OFFICE_DIR=str(tmp_path / "nothing")).test_client()
    r = client.get("/office/lists/targets")
    assert r.status_code == 503 and "scripts/setup.sh" in r.get_data(as_text=True)
