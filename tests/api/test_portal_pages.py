"""The public portal is served at /: its built files, its client routes (history mode) answered by its page,
the draw verifier's unbuilt files (pwa/public/draw) at their old addresses, and never the portal's page over
/api, /app, /office or a missing file."""
from __future__ import annotations

import pytest

from backend.web import CONTENT_SECURITY_POLICY
from tests.conftest import make_test_app


@pytest.fixture()
def portal_client(database, tmp_path):
    dist = tmp_path / "dist-portal"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>双随机、一公开 · 公示</title><div id=app></div>", encoding="utf-8")
    (dist / "assets" / "index-abc123.js").write_text("console.log(1)")
    return make_test_app(database, tmp_path, PWA_PORTAL_DIR=str(dist)).test_client()


def test_the_portal_page_and_its_files(portal_client):
    r = portal_client.get("/")
    assert r.status_code == 200 and "公示" in r.get_data(as_text=True)
    assert r.headers["Cache-Control"] == "no-cache"
    assert r.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    r = portal_client.get("/assets/index-abc123.js")
    assert r.status_code == 200 and r.mimetype == "text/javascript" and "immutable" in r.headers["Cache-Control"]


def test_client_routes_get_the_page(portal_client):
    for path in ("/results", "/results/12", "/results?uscc=914112033467020269", "/tasks/SS-2026-001",
                 "/tasks/SS-2026-001?seq=2", "/plans/JH-2026-SAMR-001", "/verify", "/items", "/no/such/page"):
        r = portal_client.get(path, headers={"Accept": "text/html"})
        assert r.status_code == 200 and "公示" in r.get_data(as_text=True), path
        assert r.headers["Cache-Control"] == "no-cache"


def test_the_verifier_keeps_its_addresses(portal_client):
    r = portal_client.get("/draw/verify.html?task=SS-2026-001")
    assert r.status_code == 200 and "抽取记录验证" in r.get_data(as_text=True)
    for name in ("dsr.js", "dsr-worker.js", "rank.js", "sha256.js", "verifier.js", "verify.js"):
        r = portal_client.get(f"/draw/{name}")
        assert r.status_code == 200 and r.mimetype == "text/javascript" and r.headers["Cache-Control"] == "no-cache"


def test_never_the_page_over_the_api_the_apps_or_missing_files(portal_client):
    r = portal_client.get("/api/v1/no-such-thing", headers={"Accept": "text/html"})
    assert r.status_code == 404 and "公示" not in r.get_data(as_text=True)
    assert portal_client.get("/api/public/results/2147483647").get_json()["code"] == "result.not_found"
    for path in ("/assets/gone-123.js", "/draw/gone.js", "/app.js", "/../backend/config.py"):
        r = portal_client.get(path, headers={"Accept": "*/*"})
        assert r.status_code == 404, path
    assert portal_client.get("/draw/gone.js").status_code == 404
    assert portal_client.get("/favicon.ico", headers={"Accept": "image/*"}).status_code == 404


def test_an_unbuilt_portal_says_how_to_build_it(database, tmp_path):
    client = make_test_app(database, tmp_path, PWA_PORTAL_DIR=str(tmp_path / "nothing")).test_client()
    r = client.get("/results/3")
    assert r.status_code == 503 and "scripts/setup.sh" in r.get_data(as_text=True)
    assert client.get("/draw/verify.html").status_code == 200
