"""Fixtures of the browser tests: a live server (a real process, its own database) per test."""
from __future__ import annotations

import pytest

from tests.e2e.live_server import LiveServer, prepare_database


@pytest.fixture()
def server(tmp_path):
    """The app served by a real process on a fresh database with the demo county, stopped after the test."""
    url = prepare_database(tmp_path)
    srv = LiveServer(tmp_path, url).start()
    yield srv
    srv.stop()


@pytest.fixture()
def short_tokens(tmp_path):
    """The same with access tokens that live 6 s (issued 24 s in the past, 30 s of clock skew allowed): the
    app must renew them mid-work without a word to the officer."""
    url = prepare_database(tmp_path)
    srv = LiveServer(tmp_path, url, ACCESS_TOKEN_MINUTES=-0.4).start()
    yield srv
    srv.stop()
