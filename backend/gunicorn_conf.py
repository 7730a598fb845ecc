"""gunicorn settings: how ``shuangsui run`` (command one) serves the app.

Used as ``gunicorn -c python:backend.gunicorn_conf``; ``shuangsui run`` does exactly that.
Every value can be changed from the environment, and ``--bind``/``--workers``/``--threads``
on the command line win over this file.

* ``gthread`` workers: a few processes, each with a pool of threads. A request waiting for
  SQLite's write lock, or for a slow client, blocks one thread, not a process.
* ``preload_app = False``: each worker builds its own app after the fork, so it owns its
  database connections and its in-process job runner (a thread started in the worker that
  accepted the job; the job's state is in the database, so any worker answers about it).
  A job running in a worker that stops is finished first for up to ``graceful_timeout``.
* ``max_requests = 0``: workers are not recycled, so in-process jobs are not cut short.
"""
from __future__ import annotations

import os
import threading

from gunicorn.glogging import Logger

wsgi_app = "backend:create_app()"
bind = [os.environ.get("SHUANGSUI_BIND") or f"127.0.0.1:{os.environ.get('PORT') or 5000}"]
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2)
threads = int(os.environ.get("WEB_THREADS") or 8)
preload_app = False
max_requests = 0
timeout = 120              # a worker whose main loop is silent this long is restarted
graceful_timeout = 60      # on stop or reload: time for requests and in-process jobs to finish
keepalive = 5
limit_request_line = 8190
accesslog = os.environ.get("SHUANGSUI_ACCESS_LOG", "-")
if accesslog in ("", "off"):
    accesslog = None       # no access log at all
errorlog = "-"
# the access log's lines as gunicorn writes them, built for less (``AccessLogger`` below)
loglevel = os.environ.get("SHUANGSUI_LOG_LEVEL", "info")
proc_name = "shuangsui"
# gunicorn >= 25 opens a control socket in the user's home; several servers on one machine
# (tests, benchmarks, a second instance) would fight over it. Older versions ignore this name.
control_socket_disable = True


def post_fork(server, worker):
    """Each worker keeps a database connection open for each of its threads and two more (``DATABASE_POOL_SIZE``,
    unless set): the reminder timer and an in-process job run in threads of their own. With SQLAlchemy's default
    of 5, a worker whose 8 threads were busy opened a connection for the 6th to 8th and closed it after their
    request once the load fell: a new PostgreSQL backend (its fork, its caches, its statements prepared again)
    every few requests (22 opened in 6 bursts of 8 clients on one worker, 7 with this)."""
    os.environ.setdefault("DATABASE_POOL_SIZE", str(server.cfg.threads + 2))
    # the connection used last goes out first: with every thread's connection opened at start (``post_worker_init``)
    # a worker with a few requests at a time keeps using the same few, whose statements are prepared and planned,
    # instead of taking each of its connections in turn (each then pays its first runs' planning)
    os.environ.setdefault("DATABASE_POOL_LIFO", "1")


def post_worker_init(worker):
    """A worker that has built its app opens a database connection for each of its threads
    (``DATABASE_POOL_WARM``, unless set; 0: none) before its first request needs one, in a thread of its own: the
    worker serves at once, and a failure (the database not there yet) is logged and leaves the pool to open
    connections as requests need them, as without this."""
    thread = threading.Thread(target=_warm_up, args=(worker.wsgi, worker.cfg.threads, worker.log),
                              name="shuangsui-warm-up", daemon=True)
    thread.start()
    return thread


def _warm_up(app, threads: int, log) -> None:
    try:
        from backend import warm_up

        value = os.environ.get("DATABASE_POOL_WARM")
        opened = warm_up(app, int(value) if value not in (None, "") else threads)
    except Exception as exc:  # noqa: BLE001 - never stops the worker: its requests open connections as before
        log.warning("warm-up failed (connections are opened as requests need them): %r", exc)
    else:
        log.debug("warm-up: %d database connections open", opened)


# what gunicorn's atoms read of a request's environment; ``AccessLogger`` gives it only these
_ATOM_KEYS = ("REMOTE_ADDR", "REQUEST_METHOD", "RAW_URI", "SERVER_PROTOCOL", "PATH_INFO", "QUERY_STRING",
              "HTTP_REFERER", "HTTP_USER_AGENT", "HTTP_AUTHORIZATION")


class _Bare:
    """A request or response as gunicorn's atoms see it, without headers."""
    headers = ()

    def __init__(self, status=None, sent=None):
        self.status, self.sent = status, sent


_NO_REQUEST = _Bare()


class AccessLogger(Logger):
    """gunicorn's logger, the same lines, for less: an access line cost ~35 µs of CPU, now ~23 µs (a loaded
    machine; a sync push costs ~7 ms all in). gunicorn makes a named value of every request header, response
    header and environment entry (some fifty, escaped one by one) for each line, for the formats that name them
    (``%({header}i)s``…); the default format (``access_log_format`` unchanged) names none, so the atoms are made
    from what it reads. A format that names headers or the environment gets gunicorn's own atoms."""

    def atoms(self, resp, req, environ, request_time):
        fmt = self.cfg.access_log_format
        if "}i)" in fmt or "}o)" in fmt or "}e)" in fmt:
            return super().atoms(resp, req, environ, request_time)
        small = {k: environ[k] for k in _ATOM_KEYS if k in environ}
        return super().atoms(_Bare(resp.status, getattr(resp, "sent", None)), _NO_REQUEST, small, request_time)


logger_class = AccessLogger
