"""Every answer carries the protective headers; token and logged-in answers are never stored;
no server says which version of what it runs."""
from __future__ import annotations

import http.client
import threading

import pytest
from werkzeug.serving import make_server

from backend.auth.roles import Role
from tests.factories import PASSWORD

REQUIRED = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


def _csp(r) -> dict[str, str]:
    policy = r.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.strip() for part in policy.split(";") if part.strip()}


@pytest.mark.parametrize("method, url", [
    ("GET", "/"), ("GET", "/results/1"), ("GET", "/draw/verify.js"), ("GET", "/draw/verify.html"), ("GET", "/api/docs"),
    ("GET", "/api/docs/static/swagger-ui-bundle.js"), ("GET", "/api/openapi.json"), ("GET", "/api/v1/items"),
    ("GET", "/api/v1/users"), ("GET", "/no/such/page"), ("POST", "/api/v1/auth/login"), ("DELETE", "/api/v1/items"),
])
def test_every_answer_has_the_security_headers(client, method, url):
    r = client.open(url, method=method)
    for name, value in REQUIRED.items():
        assert r.headers.get(name) == value, (url, r.status_code, name, r.headers.get(name))
    csp = _csp(r)
    assert csp["default-src"] == "default-src 'self'"
    assert csp["script-src"] == "script-src 'self'" and "unsafe" not in r.headers["Content-Security-Policy"]
    assert csp["frame-ancestors"] == "frame-ancestors 'none'" and csp["object-src"] == "object-src 'none'"


def test_pages_use_no_inline_script_or_style(client):
    """The policy forbids inline code, so the pages the app serves must not need any."""
    for url in ("/", "/draw/verify.html", "/api/docs"):
        html = client.get(url).get_data(as_text=True)
        assert "<style" not in html and " style=" not in html, url
        for tag in html.split("<script")[1:]:
            assert "src=" in tag.split(">", 1)[0], (url, tag[:80])


def test_token_answers_are_never_stored(client, factory):
    user = factory.user(Role.PLANNER)
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    r = client.post("/api/v1/auth/refresh", json={"refresh_token": r.json["refresh_token"]})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    r = client.post("/api/v1/auth/login", json={"username": user.username, "password": "wrong"})
    assert r.status_code == 401 and r.headers["Cache-Control"] == "no-store"


def test_answers_to_a_logged_in_caller_are_never_stored(client, auth):
    _, headers = auth.as_role(Role.SYSADMIN)
    for url in ("/api/v1/auth/me", "/api/v1/users", "/api/v1/items", "/api/v1/users/999999"):
        r = client.get(url, headers=headers)
        assert r.headers.get("Cache-Control") == "no-store", (url, r.status_code)
        assert "Authorization" in r.headers.get("Vary", "")


def test_development_server_does_not_tell_its_version(app, db_session):
    from backend.web import QuietRequestHandler

    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_port, timeout=30)
        conn.request("GET", "/api/v1/items")
        response = conn.getresponse()
        response.read()
        servers = response.headers.get_all("Server") or []
        assert servers == ["shuangsui"], servers
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    finally:
        server.shutdown()
        server.server_close()


def test_a_view_may_keep_private_caching_but_not_public(database, tmp_path, auth, db_session):
    """Immutable private content (a photo by its SHA-256) may stay in the browser's own cache; a view
    that marks an answer to a logged-in caller public is overruled."""
    from tests.conftest import make_test_app

    app = make_test_app(database, tmp_path)

    @app.get("/_test/private")
    def _private():
        return {}, 200, {"Cache-Control": "private, max-age=31536000, immutable"}

    @app.get("/_test/public")
    def _public():
        return {}, 200, {"Cache-Control": "public, max-age=3600"}

    _, headers = auth.as_role(Role.PLANNER)
    client = app.test_client()
    assert client.get("/_test/private", headers=headers).headers["Cache-Control"] == \
        "private, max-age=31536000, immutable"
    assert client.get("/_test/public", headers=headers).headers["Cache-Control"] == "no-store"
    assert client.get("/_test/public").headers["Cache-Control"] == "public, max-age=3600"
