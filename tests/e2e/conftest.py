"""Fixtures of the browser tests: a live server (a real process, its own database) per test."""
from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.browser import stop_shared
from tests.e2e.live_server import LiveServer, copy_database, prepare_database


@pytest.fixture(scope="session", autouse=True)
def _shared_chromium():
    """The test process's Chromium (tests/e2e/browser.py ``chromium``), stopped at the end of the run."""
    yield
    stop_shared()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory):
    """The demo county seeded once per test process (per Beijing day: the seed depends on the date); each
    test gets its own copy of it (:func:`demo_copy`), so no test sees another's changes."""
    made: dict[dt.date, object] = {}

    def template():
        from backend.db import utcnow

        today = (utcnow() + dt.timedelta(hours=8)).date()
        if today not in made:
            made[today] = tmp_path_factory.mktemp("demo-template")
            prepare_database(made[today])
        return made[today]

    return template


@pytest.fixture()
def demo_copy(demo_template, tmp_path):
    """A fresh copy of the demo county in the test's temporary directory; its database URL."""
    return copy_database(demo_template(), tmp_path)


@pytest.fixture()
def server(demo_copy, tmp_path):
    """The app served by a real process on a fresh database with the demo county, stopped after the test."""
    srv = LiveServer(tmp_path, demo_copy).start()
    yield srv
    srv.stop()


@pytest.fixture()
def short_tokens(demo_copy, tmp_path):
    """The same with access tokens that live 6 s (issued 24 s in the past, 30 s of clock skew allowed): the
    app must renew them mid-work without a word to the officer."""
    srv = LiveServer(tmp_path, demo_copy, ACCESS_TOKEN_MINUTES=-0.4).start()
    yield srv
    srv.stop()
