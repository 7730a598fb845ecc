"""The whole public path in a real browser: a draw made through the API, its record served by the
app without login, verified by the app's own page with WebCrypto."""
from __future__ import annotations

import threading

import pytest
from werkzeug.serving import make_server

from backend.actor import Actor
from backend.draws import services
from tests.api.draws.conftest import build_scenario
from tests.conftest import make_test_app
from tests.e2e.browser import chromium
from tests.factories import AuthActions, Factory

pytestmark = pytest.mark.e2e
DONE = '#verdict[data-status="match"], #verdict[data-status="mismatch"], #verdict[data-status="error"]'


@pytest.fixture()
def live_app(committed_db, tmp_path):
    app = make_test_app(committed_db, tmp_path)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_public_record_verifies_in_the_browser(live_app, committed_db):
    app, base = live_app
    with committed_db.session_scope() as session:
        factory = Factory(session)
        s = build_scenario(factory, AuthActions(app, factory))
        actor = Actor.of_user(factory.user("planner", s.lead))
        task_id, code = s.task.id, s.task.code
    with committed_db.session_scope() as session:
        services.commit(session, actor, task_id, services.DrawSettings())
    with committed_db.session_scope() as session:
        draw = services.seed_and_draw(session, actor, task_id, services.DrawSettings(), source="dice",
                                      dice="98765432109876543210", witnesses=["人大代表赵某"])
        commitment = draw.commitment
    with chromium() as browser:
        page = browser.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/draw/verify.html?record=/api/public/draws/{code}/record")
        page.wait_for_selector(DONE, timeout=30000)
        verdict = page.locator("#verdict")
        assert verdict.get_attribute("data-status") == "match", verdict.inner_text()
        assert "验证通过" in verdict.inner_text()
        assert commitment in page.content() and code in page.content()
        browser.close()
    assert errors == []
