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
errorlog = "-"
loglevel = os.environ.get("SHUANGSUI_LOG_LEVEL", "info")
proc_name = "shuangsui"
# gunicorn >= 25 opens a control socket in the user's home; several servers on one machine
# (tests, benchmarks, a second instance) would fight over it. Older versions ignore this name.
control_socket_disable = True
