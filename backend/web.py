"""HTTP hardening shared by every server: the app class, security headers, bounded path ids.

* ``ShuangsuiFlask`` runs a reading request again as a writer when SQLite tells it, half-way,
  that it needed the write lock (the last guard behind ``BEGIN IMMEDIATE`` for writers).
* ``security_headers`` puts a strict Content-Security-Policy (same origin only, no inline
  script or style), anti-framing, no-sniff and no-referrer on every answer, and
  ``Cache-Control: no-store`` on token answers and on everything answered to a logged-in caller
  (unless the view chose ``private`` caching itself).
* ``RowIdConverter`` replaces Flask's ``int`` converter: a path id outside 1..2**31-1 (the
  range of an id column) reaches the view as 0, which is never a row, so the view answers its
  own 404 ("账号不存在", ``task.not_found``…) and the database never sees an unstorable number.
* ``QuietRequestHandler`` is Werkzeug's request handler without ``Server: Werkzeug/x Python/y``.
"""
from __future__ import annotations

import logging

from flask import Flask, g, request
from flask.sessions import SessionInterface
from werkzeug.routing import IntegerConverter
from werkzeug.serving import WSGIRequestHandler

from backend.db import is_busy, is_write_session

log = logging.getLogger(__name__)

MAX_ROW_ID = 2**31 - 1  # PostgreSQL ``integer``, the type of every id column
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SERVER_NAME = "shuangsui"

# Same origin only. The app's pages (the PWA, the verifier, Swagger UI) load scripts and styles
# from files, never inline, and talk only to this server; photos and signatures use data:/blob: URLs.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "manifest-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # the field app needs the camera and the position, from this origin only
    "Permissions-Policy": "camera=(self), geolocation=(self), microphone=(), payment=(), usb=()",
}
# answers that carry tokens, whoever asks
TOKEN_PATHS = ("/api/v1/auth/",)


class RowIdConverter(IntegerConverter):
    """``<int:…>`` in routes: a row id, documented as 1 to 2**31-1.

    Digits outside that range become 0 (no row has it), so the view's own lookup answers
    404 with its own code; thousands of digits are never converted.
    """

    def __init__(self, map, fixed_digits=0, min=1, max=MAX_ROW_ID, signed=False):  # noqa: A002
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)

    def to_python(self, value: str) -> int:
        if len(value) > len(str(MAX_ROW_ID)):
            return 0
        number = int(value)
        return number if 1 <= number <= MAX_ROW_ID else 0


# (lower-case name, name, value): the headers are matched case-insensitively
_SECURITY_ITEMS = tuple((name.lower(), name, value) for name, value in SECURITY_HEADERS.items())


def security_headers(response):
    """``after_request``: the same protective headers on every answer.

    Runs on every request, so it reads the response's headers once, into a dict, instead of asking
    Werkzeug's ``Headers`` for each (a linear search, and an exception for every absent header)."""
    headers = response.headers
    present: dict[str, str] = {}
    for key, value in headers.items():
        present.setdefault(key.lower(), value)
    for lower, name, value in _SECURITY_ITEMS:
        if lower not in present:
            headers.add(name, value)
    logged_in = bool(request.environ.get("HTTP_AUTHORIZATION"))
    # a view may keep its own "private" caching (immutable content-addressed photos stay in the
    # browser's cache only); any other answer to a logged-in caller, and every token answer, is never stored
    if request.path.startswith(TOKEN_PATHS) or (logged_in and not _private_or_no_store(present.get("cache-control"))):
        headers["Cache-Control"] = "no-store"
        headers["Pragma"] = "no-cache"
    if logged_in:
        vary = present.get("vary")
        if not vary:
            headers["Vary"] = "Authorization"
        elif "authorization" not in {v.strip().lower() for v in vary.split(",")}:
            headers["Vary"] = f"{vary}, Authorization"
    if response.status_code == 503 and "retry-after" not in present:
        # busy or unavailable for now: nothing was done, ask again shortly
        headers["Retry-After"] = "1"
    return response


def _private_or_no_store(cache_control: str | None) -> bool:
    """Whether a ``Cache-Control`` value has the ``private`` or the ``no-store`` directive."""
    if not cache_control:
        return False
    return not {"private", "no-store"}.isdisjoint(
        part.split("=", 1)[0].strip().lower() for part in cache_control.split(","))


class ShuangsuiFlask(Flask):
    """Flask, plus one rule: a reading request that turns out to write is run again as a writer.

    GET requests read in a deferred SQLite transaction so that readers never queue behind
    writers. Should one of them write after all, SQLite may refuse the upgrade at once
    (another connection wrote since it began reading); the request is then run again from
    the start in a write session, which waits for the lock. A writer that has already
    waited the whole busy timeout is not retried: it answers 503 with ``Retry-After``.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # the plain functions ``ensure_sync`` has seen (a bound method by its function): Flask asks
        # ``inspect.iscoroutinefunction`` of every hook, view and handler again on every request (~10 a request)
        self._sync_functions: set = set()

    def ensure_sync(self, func):
        key = getattr(func, "__func__", func)
        try:
            if key in self._sync_functions:
                return func
        except TypeError:            # unhashable: asked each time, as Flask does
            return super().ensure_sync(func)
        wrapped = super().ensure_sync(func)
        if wrapped is func and len(self._sync_functions) < 10_000:
            self._sync_functions.add(key)
        return wrapped

    def dispatch_request(self):
        try:
            return super().dispatch_request()
        except Exception as exc:
            session = g.get("db_session")
            if not is_busy(exc) or session is None or is_write_session(session):
                raise
        log.info("%s %s wrote from a reading transaction; running it again as a writer",
                 request.method, request.path)
        discard_request_session()
        g.db_write = True
        return super().dispatch_request()


def discard_request_session() -> None:
    """Roll back and forget the request's session and whatever was loaded with it."""
    session = g.pop("db_session", None)
    if session is not None:
        session.rollback()
        session.close()
    g.pop("actor", None)


class NoCookieSession(SessionInterface):
    """Flask's session, never used: the API knows its callers by bearer tokens and sets no cookie. Flask's
    default would still build a signing serializer and look for the cookie on every request."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response) -> None:
        return None


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's development request handler, without its version in ``Server``."""

    def version_string(self) -> str:
        return SERVER_NAME


def init_app(app: Flask) -> None:
    app.url_map.converters["int"] = RowIdConverter
    app.session_interface = NoCookieSession()
    app.after_request(security_headers)
