"""Shuangsui (双随): the Flask application."""
from __future__ import annotations

import logging
import posixpath
import re
from collections.abc import Mapping
from pathlib import Path

from flask import Flask, g, has_request_context, request

import schemas.base  # noqa: F401 - Chinese validation messages, before any schema is built
from backend import config as config_module
from backend.db import Database


def create_app(config: Mapping | None = None) -> Flask:
    """Build the app. ``config`` overrides the environment (tests pass their own)."""
    import backend.models  # noqa: F401 - every mapper known before the first query

    from backend.web import ShuangsuiFlask

    # templates: only apidocs/swagger_ui.html, which replaces flask-smorest's page (no inline script)
    app = ShuangsuiFlask(__name__, static_folder=None, template_folder="apidocs")
    app.config.update(config_module.from_environment())
    if config:
        app.config.update(config)
    app.config["SECRET_KEY"] = config_module.resolve_secret_key(app.config)
    from backend.inspections.deadlines import clock_setting

    try:
        clock_setting(app.config)   # a wrong PUBLICATION_CLOCK_START stops the start, not a submission later
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None
    app.json.ensure_ascii = False
    app.json.sort_keys = False
    logging.basicConfig(level=logging.INFO if not app.config.get("TESTING") else logging.WARNING)

    Path(app.config["MEDIA_DIR"]).mkdir(parents=True, exist_ok=True)
    from backend.media import storage

    try:
        storage.configure(app.config)   # the file store for MEDIA_DIR: the folder itself, or S3
    except ValueError as exc:
        raise RuntimeError(str(exc)) from None
    if app.config["DATABASE_URL"].startswith("sqlite:///"):
        Path(app.config["DATABASE_URL"][len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)

    if app.config.get("TRUSTED_PROXIES", 0) > 0:
        # only behind that many proxies is X-Forwarded-For (and -Proto) the client's own; else ignored
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n)

    db = app.config.get("DATABASE") or Database(app.config["DATABASE_URL"], **_pool_options(app.config),
                                                prepare_threshold=app.config.get("DATABASE_PREPARE_THRESHOLD"))
    app.extensions["shuangsui.db"] = db
    app.extensions["shuangsui.session"] = get_session
    from backend.audit.keys import configure, settings_from_config
    configure(db.engine, settings_from_config(app.config))
    _init_tokens(app)
    _init_jobs(app, db)
    _init_reminders(app, db)
    _init_web(app)
    _init_api(app)
    _init_static(app)
    _init_cli(app)

    @app.teardown_appcontext
    def _close_session(_exc):
        session = g.pop("db_session", None)
        if session is not None:
            session.close()   # ends (rolls back) whatever the request left open, and hands the connection back

    return app


def _pool_options(config: Mapping) -> dict:
    """The connection pool of a process: ``DATABASE_POOL_SIZE`` connections kept open (gunicorn sets it to a worker's
    threads and two, ``backend/gunicorn_conf.py``: every thread of a busy worker finds one waiting), more opened only
    beyond that (up to 10) and closed again after use; SQLAlchemy's default, 5, when unset. ``DATABASE_POOL_LIFO``:
    the connection used last is handed out first (SQLAlchemy's ``pool_use_lifo``; off: the oldest idle one; gunicorn's
    workers: on)."""
    options = {"pool_use_lifo": True} if config.get("DATABASE_POOL_LIFO") else {}
    size = config.get("DATABASE_POOL_SIZE")
    return {**options, "pool_size": int(size)} if size else options


def warm_up(app: Flask, connections: int) -> int:
    """Make a process that just started ready for its first requests (gunicorn's ``post_worker_init`` calls it,
    ``backend/gunicorn_conf.py``): the mappers configured (else the first query does it) and ``connections``
    database connections opened into the pool (``Database.open_connections``), so that neither the first
    requests nor a burst that busies every thread waits for PostgreSQL to start a backend. Returns the
    connections opened; raises what failed (the caller logs it: nothing here is needed to serve)."""
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    if connections <= 0:
        return 0
    return app.extensions["shuangsui.db"].open_connections(connections)


def get_session():
    """The request's database session (one per app context).

    GET, HEAD and OPTIONS requests only read: their session never waits for a writer. Any
    other request (and the CLI) gets a write session, which on SQLite takes the write lock
    at its first statement and waits its turn (see ``backend.db``).
    """
    from flask import current_app

    if "db_session" not in g:
        from backend.web import SAFE_METHODS

        write = g.get("db_write") or not has_request_context() or request.method not in SAFE_METHODS
        g.db_session = current_app.extensions["shuangsui.db"].session(write=bool(write))
    return g.db_session


def _init_tokens(app: Flask) -> None:
    from backend.auth import passwords
    from backend.auth.services import RefreshPolicy
    from backend.auth.throttle import LoginPolicy
    from backend.auth.tokens import TokenSettings

    c = app.config
    passwords.configure(app)
    app.extensions["shuangsui.tokens"] = TokenSettings(c["SECRET_KEY"], c["JWT_ISSUER"], c["JWT_AUDIENCE"],
                                                       c["ACCESS_TOKEN_MINUTES"])
    app.extensions["shuangsui.refresh"] = RefreshPolicy(c["REFRESH_TOKEN_DAYS"], c["REFRESH_FAMILY_DAYS"],
                                                        c["REFRESH_RETRY_SECONDS"])
    app.extensions["shuangsui.login"] = LoginPolicy(
        max_failures=c["LOGIN_MAX_FAILURES"], window_minutes=c["LOGIN_WINDOW_MINUTES"],
        address_max_failures=c["LOGIN_ADDRESS_MAX_FAILURES"], alert_failures=c["LOGIN_ALERT_FAILURES"])


def _init_jobs(app: Flask, db: Database) -> None:
    from backend.jobs.services import InlineQueue, RqQueue

    if app.config.get("REDIS_URL") and not app.config.get("JOBS_FORCE_INLINE"):
        queue = RqQueue(app.config["REDIS_URL"], app.config.get("RQ_QUEUE"))
    else:
        queue = InlineQueue(db, app.config["MEDIA_DIR"], dict(app.config), threaded=app.config["JOBS_INLINE_THREAD"])
    app.extensions["shuangsui.jobs"] = queue


def _init_reminders(app: Flask, db: Database) -> None:
    """The embedded default (no Redis): the reminder sweep runs on a timer in each process that serves
    requests, started by its first request (never by a CLI command). With Redis, rq's cron does it
    (`shuangsui reminders cron`). Off in tests unless a test sets REMINDERS_TIMER_IN_TESTS."""
    import threading

    c = app.config
    if app.extensions["shuangsui.jobs"].backend != "inline" or not c.get("REMINDERS_TIMER") \
            or c.get("REMINDERS_SWEEP_MINUTES", 0) <= 0 or (c.get("TESTING") and not c.get("REMINDERS_TIMER_IN_TESTS")):
        return
    lock = threading.Lock()

    @app.before_request
    def _start_reminder_timer():
        if "shuangsui.reminder_timer" in app.extensions:
            return
        with lock:
            if "shuangsui.reminder_timer" not in app.extensions:
                from backend.notifications.jobs import SweepTimer

                app.extensions["shuangsui.reminder_timer"] = SweepTimer(db, dict(c), c["REMINDERS_SWEEP_MINUTES"]).start()


def _init_web(app: Flask) -> None:
    from backend.web import init_app

    init_app(app)


def _init_api(app: Flask) -> None:
    from backend.api import ShuangsuiApi, register_error_handlers
    from backend.routes import register_blueprints

    api = ShuangsuiApi(app)
    app.extensions["shuangsui.api"] = api
    register_error_handlers(app)
    register_blueprints(api)


def _init_static(app: Flask) -> None:
    import swagger_ui_bundle

    from backend.static_files import send_static

    swagger_dir = swagger_ui_bundle.swagger_ui_path
    pwa_dir = app.config["PWA_DIR"]

    own_dir = Path(__file__).resolve().parent / "apidocs"

    @app.get("/api/docs/static/<path:filename>")
    def swagger_static(filename):
        if filename == "shuangsui-swagger-init.js":
            return send_static(own_dir, filename)
        return send_static(swagger_dir, filename)

    _init_officer_app(app)
    _init_office(app)
    _init_portal(app, pwa_dir)


def _app_policy() -> str:
    from backend.web import CONTENT_SECURITY_POLICY

    return CONTENT_SECURITY_POLICY.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")


APP_CONTENT_SECURITY_POLICY = _app_policy()
# a built file whose name carries its content hash: everything Vite writes under `assets/` (`name-<hash>.ext`,
# its only naming there) and Workbox's runtime `workbox-<hash>.js`; it never changes under that name, so
# browsers keep it a year without asking
HASHED_FILE = re.compile(r"^(?:assets/.+|workbox-[0-9a-f]{8}\.js)$")
IMMUTABLE = "public, max-age=31536000, immutable"


def _init_officer_app(app: Flask) -> None:
    """The officers' app (pwa/dist) under /app/: built files as they are (precompressed copies sent to
    clients that take them), any other path the app's own page (client-side routes), the service worker
    with the scope /app/; hashed files cached for a year, the page, the worker and the manifest revalidated."""
    from flask import abort, redirect, request

    from backend.static_files import resolve, send_static

    app_dir = Path(app.config["PWA_APP_DIR"])

    def send(filename: str):
        response = send_static(app_dir, filename)
        # the site's policy, plus WebAssembly compilation for the QR decoder (never eval of scripts)
        response.headers["Content-Security-Policy"] = APP_CONTENT_SECURITY_POLICY
        if filename == "sw.js":
            response.headers["Service-Worker-Allowed"] = "/app/"
        hashed = HASHED_FILE.match(posixpath.normpath(filename))       # assets/../sw.js is sw.js
        response.headers["Cache-Control"] = IMMUTABLE if hashed else "no-cache"
        return response

    @app.get("/app")
    def officer_app_root():
        return redirect("/app/", code=308)

    @app.get("/app/")
    @app.get("/app/<path:filename>")
    def officer_app(filename: str = ""):
        if not (app_dir / "index.html").is_file():
            return ("<!doctype html><meta charset=utf-8><title>掌上执法</title>"
                    "<p>掌上执法应用尚未构建：请运行 <code>scripts/setup.sh</code>（或在 pwa/ 中 <code>npm ci &amp;&amp; "
                    "npm run build</code>）。</p>", 503, {"Content-Type": "text/html; charset=utf-8"})
        if filename and resolve(app_dir, filename) is not None:
            return send(filename)
        last = filename.rsplit("/", 1)[-1]
        if filename.startswith(("assets/", "icons/")) or ("." in last and request.accept_mimetypes.best != "text/html"):
            abort(404)          # a missing file, not a page of the app
        return send("index.html")


def _init_office(app: Flask) -> None:
    """The office (pwa/dist-office) under /office/: the desks of admins, planners, publishers and supervisors.
    Built files as they are, any other path the office's page (client-side routes, history mode); the site's
    own policy (no WebAssembly there); hashed files cached for a year, the page revalidated. No service worker."""
    from flask import abort, redirect, request

    from backend.static_files import resolve, send_static

    office_dir = Path(app.config["PWA_OFFICE_DIR"])

    def send(filename: str):
        response = send_static(office_dir, filename)
        hashed = HASHED_FILE.match(posixpath.normpath(filename))
        response.headers["Cache-Control"] = IMMUTABLE if hashed else "no-cache"
        return response

    @app.get("/office")
    def office_root():
        return redirect("/office/", code=308)

    @app.get("/office/")
    @app.get("/office/<path:filename>")
    def office(filename: str = ""):
        if not (office_dir / "index.html").is_file():
            return ("<!doctype html><meta charset=utf-8><title>业务办公</title>"
                    "<p>业务办公页面尚未构建：请运行 <code>scripts/setup.sh</code>（或在 pwa/ 中 <code>npm ci &amp;&amp; "
                    "npm run build</code>）。</p>", 503, {"Content-Type": "text/html; charset=utf-8"})
        if filename and resolve(office_dir, filename) is not None:
            return send(filename)
        last = filename.rsplit("/", 1)[-1]
        if filename.startswith("assets/") or ("." in last and request.accept_mimetypes.best != "text/html"):
            abort(404)          # a missing file, not a page of the office
        return send("index.html")


# paths of the site that are never the portal's pages: an unknown one is a 404, not the portal's page
NOT_PORTAL = ("api/", "app/", "office/", "assets/", "draw/")


def _init_portal(app: Flask, public_dir: str) -> None:
    """The public portal (公示, pwa/dist-portal) at /: no login. Its built files as they are (hashed ones cached
    for a year), the unbuilt public files of pwa/public (the draw verifier: /draw/verify.html, its scripts and
    workers, at the addresses links and QR codes already carry) revalidated, and any other path the portal's
    page (client-side routes, history mode) — never over /api, /app, /office or a file's name."""
    from flask import abort, request

    from backend.static_files import resolve, send_static

    portal_dir = Path(app.config["PWA_PORTAL_DIR"])

    def send(filename: str):
        response = send_static(portal_dir, filename)
        hashed = HASHED_FILE.match(posixpath.normpath(filename))
        response.headers["Cache-Control"] = IMMUTABLE if hashed else "no-cache"
        return response

    def page():
        if not (portal_dir / "index.html").is_file():
            return ("<!doctype html><meta charset=utf-8><title>双随机、一公开 · 公示</title>"
                    "<p>公示网站尚未构建：请运行 <code>scripts/setup.sh</code>（或在 pwa/ 中 <code>npm ci &amp;&amp; "
                    "npm run build</code>）。摇号复核页面：<a href=\"/draw/verify.html\">/draw/verify.html</a>；"
                    "接口文档：<a href=\"/api/docs\">/api/docs</a>。</p>", 503, {"Content-Type": "text/html; charset=utf-8"})
        return send("index.html")

    @app.get("/")
    def portal_root():
        return page()

    @app.get("/<path:filename>")
    def portal(filename: str):
        if resolve(public_dir, filename) is not None:
            return send_static(public_dir, filename)      # names without a hash: revalidated
        if resolve(portal_dir, filename) is not None and filename != "index.html":
            return send(filename)
        last = filename.rsplit("/", 1)[-1]
        if filename.startswith(NOT_PORTAL) or filename in ("api", "app", "office") or (
                "." in last and request.accept_mimetypes.best != "text/html"):
            abort(404)          # a missing file or API path, not a page of the portal
        return page()


def _init_cli(app: Flask) -> None:
    from backend.cli import register_commands

    register_commands(app)
