"""backend/gunicorn_conf.py: each worker's connection pool follows its threads, and the access log's lines are
gunicorn's own, made for less."""
from __future__ import annotations

import datetime as dt
import logging
import types

from gunicorn.config import Config
from gunicorn.glogging import Logger

from backend import _pool_options, gunicorn_conf


def test_a_worker_keeps_as_many_connections_as_it_has_threads(monkeypatch):
    monkeypatch.delenv("DATABASE_POOL_SIZE", raising=False)
    monkeypatch.delenv("DATABASE_POOL_LIFO", raising=False)
    server = types.SimpleNamespace(cfg=types.SimpleNamespace(threads=6))
    gunicorn_conf.post_fork(server, None)
    import os

    assert os.environ["DATABASE_POOL_SIZE"] == "8"          # and the reminder timer's, and an in-process job's
    from backend.config import from_environment

    assert _pool_options(from_environment()) == {"pool_size": 8, "pool_use_lifo": True}   # the last used first
    monkeypatch.setenv("DATABASE_POOL_SIZE", "3")            # the operator's own choice stays
    monkeypatch.setenv("DATABASE_POOL_LIFO", "0")
    gunicorn_conf.post_fork(server, None)
    assert os.environ["DATABASE_POOL_SIZE"] == "3"
    assert _pool_options(from_environment()) == {"pool_size": 3}
    assert _pool_options({"DATABASE_POOL_SIZE": None}) == {}   # unset: SQLAlchemy's default
    assert _pool_options({"DATABASE_POOL_SIZE": 4, "DATABASE_POOL_LIFO": True}) == {"pool_size": 4,
                                                                                    "pool_use_lifo": True}


def test_a_pool_of_that_size_is_kept(tmp_path):
    from backend.db import Database

    db = Database(f"sqlite:///{tmp_path / 'x.db'}", **_pool_options({"DATABASE_POOL_SIZE": 7}))
    try:
        assert db.engine.pool.size() == 7
    finally:
        db.engine.dispose()


class _Lines(logging.Handler):
    def __init__(self):
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


def _line(logger_class, access_log_format=None) -> str:
    cfg = Config()
    cfg.set("accesslog", "-")
    if access_log_format:
        cfg.set("access_log_format", access_log_format)
    log = logger_class(cfg)
    handler = _Lines()
    log.access_log.handlers = [handler]
    response = types.SimpleNamespace(status="201 CREATED", sent=321,
                                     headers=[("Content-Type", "application/json"), ("X-Error-Code", "none")])
    request = types.SimpleNamespace(headers=[("HOST", "127.0.0.1"), ("USER-AGENT", "phone/1.0"), ("X-TRACE", "t1")])
    environ = {"REMOTE_ADDR": "10.0.0.7", "REQUEST_METHOD": "POST", "RAW_URI": "/api/sync/push?x=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "PATH_INFO": "/api/sync/push", "QUERY_STRING": "x=1",
               "HTTP_USER_AGENT": 'phone "1.0"', "HTTP_REFERER": "http://a/", "HTTP_AUTHORIZATION": "Bearer abc",
               "HTTP_X_TRACE": "t1", "wsgi.url_scheme": "http"}
    log.access(response, request, environ, dt.timedelta(seconds=1, microseconds=2500))
    return handler.lines[0]


def test_the_access_log_writes_gunicorns_lines():
    assert gunicorn_conf.logger_class is gunicorn_conf.AccessLogger
    ours, theirs = _line(gunicorn_conf.AccessLogger), _line(Logger)
    assert ours.split("] ", 1)[1] == theirs.split("] ", 1)[1]     # the same but for the second it was written
    assert ours.startswith("10.0.0.7 - - [") and ours.endswith(
        '"POST /api/sync/push?x=1 HTTP/1.1" 201 321 "http://a/" "phone \\"1.0\\""')
    every_atom = "%(h)s %(l)s %(u)s %(r)s %(s)s %(m)s %(U)s %(q)s %(H)s %(b)s %(B)s %(f)s %(a)s %(T)s %(D)s %(M)s %(L)s"
    assert _line(gunicorn_conf.AccessLogger, every_atom) == _line(Logger, every_atom)


def test_a_format_naming_headers_or_the_environment_gets_them():
    fmt = '%(h)s "%({x-trace}i)s" "%({content-type}o)s" %({wsgi.url_scheme}e)s'
    assert _line(gunicorn_conf.AccessLogger, fmt) == _line(Logger, fmt) == '10.0.0.7 "t1" "application/json" http'
