"""flask-smorest wiring: the Api with our error shape, pagination, blueprint helper."""
from __future__ import annotations

import contextlib
import decimal
import logging
import math
import re

import orjson
from flask import current_app, g, jsonify, request
from flask_smorest import Api, Blueprint
from sqlalchemy import func, select, text
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from backend.db import is_busy
from backend.errors import DomainError, InvalidInput, http_error_body
from schemas.base import ErrorSchema
from sync.protocol import JSON_STRING, SUSPECT_ESCAPE, SUSPECT_NUMBER, bad_text

log = logging.getLogger(__name__)


# the few English texts webargs itself produces
_WEBARGS_MESSAGES = {"Invalid JSON body.": "请求体不是有效的 JSON"}  # = NOT_JSON


def _translate(errors):
    if isinstance(errors, dict):
        return {k: _translate(v) for k, v in errors.items()}
    if isinstance(errors, list):
        return [_translate(v) for v in errors]
    if isinstance(errors, str):
        return _WEBARGS_MESSAGES.get(errors, errors)
    return errors


def _json_numbers(_converter, _field, ret, **_kwargs) -> dict:
    """apispec attribute function: numbers in the contract are JSON numbers.

    apispec writes a Decimal field's bounds and default through the field, as Decimals, which
    JSON then carries as strings (``"maximum": "100.000"``) and OpenAPI refuses.
    """
    fixed = {}
    for key in ("minimum", "maximum", "default", "multipleOf", "example"):
        value = ret.get(key)
        if isinstance(value, decimal.Decimal):
            fixed[key] = int(value) if value == value.to_integral_value() else float(value)
    return fixed


class ShuangsuiApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def _init_spec(self, *args, **kwargs):
        super()._init_spec(*args, **kwargs)
        self.ma_plugin.converter.add_attribute_function(_json_numbers)

    def handle_http_exception(self, error: HTTPException):
        if error.code == 413:  # a body without a length went past the view's limit while being read
            refused = too_large(*(g.get("body_limit") or _view_limit()))
            return refused.to_dict(), 413
        data = getattr(error, "data", None) or {}
        errors = _translate(data.get("errors") or data.get("messages"))
        body = http_error_body(error.code or 500, errors=errors, message=data.get("message"))
        if error.code in (400, 422) and isinstance(errors, dict):
            body["message"] = "提交的数据有误：" + _first_error(errors)
        return body, error.code, data.get("headers", {})


def _first_error(errors) -> str:
    """The first leaf message of a nested webargs error dict, with its field path."""
    path = []
    node = errors
    while isinstance(node, dict) and node:
        key = next(iter(node))
        if key not in ("json", "query", "form", "files", "headers", "view_args", "_schema"):
            path.append(str(key))
        node = node[key]
    while isinstance(node, list) and node:
        node = node[0]
    text = str(node) if node else "格式有误"
    return f"{'.'.join(path)}：{text}" if path else text


_MAX_SAFE_INT = 2**53 - 1
MAX_JSON_DEPTH = 32          # objects and arrays inside one another
MAX_NUMBER_DIGITS = 100      # digits in one JSON number (Python refuses to convert 4,301)

_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_PAIR = re.compile(r"\[\]|\{\}")
_LONG_NUMBER = re.compile(r"[0-9]{%d,}" % (MAX_NUMBER_DIGITS + 1))


NOT_JSON = "请求体不是有效的 JSON"


def json_text_problem(text: str) -> str | None:
    """Why a JSON text must not reach the parser (too deep, a number too long, brackets that
    do not pair), or None.

    Runs before any parsing, in time linear in the text for each level and without recursion:
    strings are blanked, then the brackets left are paired off innermost-first, one level per pass.
    """
    skeleton = JSON_STRING.sub('""', text)
    if _LONG_NUMBER.search(skeleton):
        return f"数字过长（最多 {MAX_NUMBER_DIGITS} 位）"
    brackets = _NOT_BRACKET.sub("", skeleton)
    for _level in range(MAX_JSON_DEPTH):
        if not brackets:
            return None
        brackets, pairs = _PAIR.subn("", brackets)
        if not pairs:
            return NOT_JSON  # brackets that never close (or close the wrong kind)
    if not brackets:
        return None
    return f"嵌套层级过深（最多 {MAX_JSON_DEPTH} 层）" if _PAIR.search(brackets) else NOT_JSON


# what can make a decoded value unstorable shows in the text: a NUL or surrogate escape inside a string;
# outside strings, a number of 16 digits or more (beyond 2**53), an exponent, NaN or Infinity
# (sync.protocol's expressions, the push's screen: one source)


def _may_hold_bad_values(text: str) -> bool:
    """False when a JSON text cannot hold a value ``_bad_value`` refuses (the walk is then skipped: a push
    of a thousand answers is screened by two regular expressions instead of a walk over every value)."""
    return bool(SUSPECT_ESCAPE.search(text) or SUSPECT_NUMBER.search(JSON_STRING.sub('""', text)))


def _bad_value(value, path: tuple = (), depth: int = 0) -> tuple[tuple, str] | None:
    """(where, why) a decoded JSON or query value cannot be stored anywhere, or None."""
    if depth > MAX_JSON_DEPTH:
        return path, "嵌套层级过深"
    if isinstance(value, str):
        why = bad_text(value)
        if why:
            return path, why
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int):
        if abs(value) > _MAX_SAFE_INT:
            return path, "整数超出允许范围"
    elif isinstance(value, float):
        if value != value or abs(value) > _MAX_SAFE_INT:  # NaN, infinities, absurd sizes
            return path, "数值超出允许范围"
    elif isinstance(value, dict):
        for key, item in value.items():
            found = _bad_value(key, path, depth + 1) or _bad_value(item, (*path, str(key)), depth + 1)
            if found:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _bad_value(item, (*path, str(index)), depth + 1)
            if found:
                return found
    return None


# --- how big a request body may be -------------------------------------------------------------------------

DEFAULT_BODY_LIMIT = "REQUEST_MAX_BYTES"      # any endpoint that declares nothing (JSON bodies)


def body_limit(limit: int | str, *, code: str | None = None, message: str | None = None):
    """The most bytes a request body of this view may have: a number, or the name of a setting.

    Checked before anything reads the body: from ``Content-Length`` at once, and while the body streams
    in when it has none (``Transfer-Encoding: chunked``). ``code`` and ``message`` replace the usual
    ``too_large`` answer (in the message, ``{limit}`` is the limit in words, ``{mb}`` in megabytes)."""
    def decorate(fn):
        fn._body_limit = (limit, code, message)
        return fn
    return decorate


class BodyTooLarge(DomainError):
    status = 413
    code = "too_large"


def size_text(n: int) -> str:
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MB"
    return f"{n / 1024:g} KB" if n >= 1024 else f"{n} 字节"


def _view_limit() -> tuple[int, str | None, str | None]:
    """(bytes, code, message) of the request's view (its method's ``body_limit``, else the default)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    cls = getattr(view, "view_class", None)
    fn = getattr(cls, request.method.lower(), None) if cls is not None else view
    limit, code, message = getattr(fn, "_body_limit", None) or (DEFAULT_BODY_LIMIT, None, None)
    if isinstance(limit, str):
        limit = int(current_app.config.get(limit) or current_app.config["MAX_CONTENT_LENGTH"])
    return limit, code, message


def too_large(limit: int, code: str | None, message: str | None) -> BodyTooLarge:
    words = size_text(limit)
    text = (message or "请求体过大：该接口最多接受 {limit}，未读取也未处理").format(limit=words, mb=f"{limit / (1 << 20):g}")
    return BodyTooLarge(text, code=code or "too_large", details={"limit": limit})


class _CappedInput:
    """A request body without a length (``Transfer-Encoding: chunked``), refused once it goes past ``limit``.

    Werkzeug's own guard (``max_content_length`` on such a stream) stops reading at the limit without a
    word, so a longer body would reach the parser cut short; this one raises ``BodyTooLarge`` as soon as
    one byte more than the limit has arrived, whoever reads (the JSON parser, the form parser, an upload)."""

    def __init__(self, stream, limit: int, refusal: tuple):
        self._stream, self._limit, self._refusal, self._pos = stream, limit, refusal, 0

    def _count(self, data: bytes) -> bytes:
        self._pos += len(data)
        if self._pos > self._limit:
            raise too_large(*self._refusal)
        return data

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            parts = []
            while chunk := self.read(64 * 1024):
                parts.append(chunk)
            return b"".join(parts)
        return self._count(self._stream.read(min(size, self._limit - self._pos + 1)))

    def readline(self, size: int | None = -1) -> bytes:
        room = self._limit - self._pos + 1
        return self._count(self._stream.readline(room if size is None or size < 0 else min(size, room)))

    def __iter__(self):
        while line := self.readline():
            yield line


def limit_request_body() -> None:
    """``before_request``, first of all: refuse a body over the view's limit before reading a byte of it.

    A body with a ``Content-Length`` is judged by it, unread. A body without one (``Transfer-Encoding:
    chunked``; the server marks it ``wsgi.input_terminated``, as Werkzeug's server and gunicorn do) is
    counted while it is read and refused the moment it goes past the limit, before any parser sees it."""
    refusal = _view_limit()
    limit = refusal[0]
    g.body_limit = refusal
    if request.content_length is not None:
        if request.content_length > limit:
            raise too_large(*refusal)
        request.max_content_length = limit
    elif request.environ.get("wsgi.input_terminated"):
        request.environ["wsgi.input"] = _CappedInput(request.environ["wsgi.input"], limit, refusal)
        request.max_content_length = None    # read through the cap above, not Werkzeug's silent cut


def _read_body_first() -> None:
    """Read a writing request's form body before any database work: a slow upload must not hold
    SQLite's write lock (a write request takes it at its first query). JSON bodies are read by the
    screening below; raw streams (resumable uploads) are the view's, which ends its transaction
    before reading them."""
    if request.method not in ("GET", "HEAD", "OPTIONS") and request.mimetype in (
            "multipart/form-data", "application/x-www-form-urlencoded"):
        request.form  # noqa: B018 - parses the body (files to temporary files)


def _screens_own_body() -> bool:
    """A view that screens its own JSON body (``screens_own_body = True`` on its class): the sync push, whose one
    bad mutation is refused alone rather than the whole request (docs/sync.md §3)."""
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return bool(getattr(getattr(view, "view_class", view), "screens_own_body", False))


def screen_request_values() -> None:
    """Refuse, before any parsing, text no database can keep and numbers no client can represent."""
    _read_body_first()
    found, location = None, None
    for key, values in (request.args.lists() if request.environ.get("QUERY_STRING") else ()):
        found = _bad_value(key, (key,)) or next(filter(None, (_bad_value(v, (key,)) for v in values)), None)
        if found:
            location = "query"
            break
    if found is None and request.is_json and request.content_length != 0 and not _screens_own_body() and (
            text := request.get_data(cache=True).decode("utf-8", errors="replace")):
        problem = json_text_problem(text)
        if problem == NOT_JSON:  # as webargs answers other malformed JSON
            raise DomainError(f"提交的数据有误：{NOT_JSON}", code="bad_request", status=400, errors={"json": [NOT_JSON]})
        if problem:
            raise InvalidInput(f"提交的数据有误：{problem}", errors={"json": [problem]})
        if _may_hold_bad_values(text):
            found, location = _bad_value(request.get_json(silent=True)), "json"
    if found:
        path, reason = found
        errors: dict = {}
        node = errors.setdefault(location, {})
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1] if path else "_schema"] = [reason]
        where = ".".join(path)
        raise InvalidInput(f"提交的数据有误：{where + '：' if where else ''}{reason}", errors=errors)


def _integrity_answer(err: IntegrityError) -> tuple[int, str, str]:
    """(status, code, message) for a constraint the database enforced where no rule did."""
    state = getattr(err.orig, "sqlstate", None) or ""
    text = str(err.orig).lower()
    if state == "23505" or "unique" in text:
        return 409, "conflict.duplicate", "与现有数据重复，请检查后重试"
    if state == "23503" or "foreign key" in text:
        return 422, "validation_error.reference", "引用的记录不存在，请检查编号"
    if state == "23502" or "not null" in text:
        return 422, "validation_error.required", "缺少必填的数据"
    return 422, "validation_error.constraint", "提交的数据不符合约束条件"


def error_code_header(response):
    """Every error answer names its ``code`` in ``X-Error-Code`` too: an answer to ``HEAD`` has no body, and a
    client must still tell ``auth.token_expired`` from the rest (docs/api.md, Conventions)."""
    if (response.status_code >= 400 and "X-Error-Code" not in response.headers and response.is_json
            and not response.direct_passthrough):
        body = response.get_json(silent=True)
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            response.headers["X-Error-Code"] = body["code"]
    return response


def register_error_handlers(app) -> None:
    app.before_request(limit_request_body)
    app.before_request(screen_request_values)
    app.after_request(error_code_header)

    @app.errorhandler(DataError)
    def _db_data_error(err: DataError):
        # the database is the last guard: a value it cannot store is the caller's error, not ours
        log.warning("value refused by the database: %s", err.orig)
        return jsonify(http_error_body(422, message="提交的数值超出范围或格式不正确", code="invalid_value")), 422

    @app.errorhandler(OverflowError)
    def _driver_overflow(err: OverflowError):
        # SQLite's driver refuses integers beyond 64 bits before the database sees them
        log.warning("value refused by the database driver: %s", err)
        return jsonify(http_error_body(422, message="提交的数值超出范围或格式不正确", code="invalid_value")), 422

    @app.errorhandler(IntegrityError)
    def _db_integrity_error(err: IntegrityError):
        # a rule the services should have checked first; still the caller's data, never a 500
        log.warning("constraint enforced by the database: %s", err.orig)
        status, code, message = _integrity_answer(err)
        return jsonify(http_error_body(status, message=message, code=code)), status

    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError):
        # X-Error-Code set here: ``error_code_header`` need not parse the body back
        return jsonify(err.to_dict()), err.status, {**err.headers, "X-Error-Code": err.code}

    @app.errorhandler(OperationalError)
    def _db_busy(err: OperationalError):
        if is_busy(err) or "locked" in str(err.orig).lower():   # a lock, a deadlock, a serialisation failure
            return jsonify(http_error_body(503)), 503
        # the database went away mid-request (a dropped connection, a restart): nothing was committed,
        # and the same request may be sent again
        log.exception("database error")
        return jsonify(http_error_body(503, code="db.unavailable",
                                       message="数据库暂时不可用，本次操作未生效，请稍后重试")), 503

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        if isinstance(err, HTTPException):
            return app.extensions["shuangsui.api"].handle_http_exception(err)
        log.exception("unhandled error")
        return jsonify(http_error_body(500)), 500


# Up to this many matches a list counts them exactly; past it, PostgreSQL answers the planner's estimate (a
# count of a million rows costs half a second; the first page, milliseconds) and the envelope says so.
EXACT_COUNT_UP_TO = 10_000


def _planner_rows(session: Session, stmt) -> int:
    """PostgreSQL's estimate of how many rows ``stmt`` yields (EXPLAIN, nothing is run)."""
    connection = session.connection()
    compiled = stmt.compile(dialect=connection.dialect, compile_kwargs={"render_postcompile": True})
    plan = connection.exec_driver_sql("EXPLAIN (FORMAT JSON) " + str(compiled), compiled.params).scalar()
    if isinstance(plan, str):
        import json

        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


def count_rows(session: Session, stmt, exact_up_to: int = EXACT_COUNT_UP_TO) -> tuple[int, bool]:
    """(how many rows ``stmt`` yields, whether that is exact). Exact up to ``exact_up_to`` on every database
    and always on SQLite (the embedded default holds a county); past it on PostgreSQL, the planner's estimate
    (kept true by ANALYZE after bulk writes), never below what was counted."""
    bare = stmt.order_by(None)
    counted = session.scalar(select(func.count()).select_from(bare.limit(exact_up_to + 1).subquery()))
    if counted <= exact_up_to:
        return counted, True
    if session.get_bind().dialect.name != "postgresql":
        return session.scalar(select(func.count()).select_from(bare.subquery())), True
    return max(_planner_rows(session, bare), counted), False


@contextlib.contextmanager
def _filter_then_sort(session: Session, few: bool):
    """For a text search (a query marked ``few_matches_first``) whose count has shown its matches are few,
    PostgreSQL finds them all (bitmap scans) and sorts them, never walks the ordering's index hoping to meet
    20 matches early: the planner estimates a text search's matches blindly (500 of a million where there
    is one) and that walk then reads the whole table (2.2 s for a rare name at 1,000,000 targets; 27 ms this
    way). Past ``EXACT_COUNT_UP_TO`` matches, or for filters the planner estimates well, the walk is left to
    the planner (a task's 10,000 inspections: 4 ms walked, 150 ms fetched and sorted)."""
    if not few or session.get_bind().dialect.name != "postgresql":
        yield
        return
    session.execute(text("SET LOCAL enable_indexscan = off"))
    yield  # a failed statement aborts the transaction, and SET LOCAL ends with it
    session.execute(text("RESET enable_indexscan"))


def paginate(session: Session, stmt, args: dict, *, scalars: bool = True) -> dict:
    """Run ``stmt`` for one page; return the page envelope (items are ORM rows or tuples). ``total`` is exact
    unless the envelope says ``total_estimated: true`` (more than ``EXACT_COUNT_UP_TO`` matches, PostgreSQL)."""
    page, size = args.get("page", 1), args.get("page_size", 20)
    total, exact = count_rows(session, stmt)
    few = exact and total <= EXACT_COUNT_UP_TO and stmt.get_execution_options().get("few_matches_first", False)
    with _filter_then_sort(session, few):
        rows = session.execute(stmt.limit(size).offset((page - 1) * size))
    items = rows.scalars().all() if scalars else rows.all()
    envelope = {"items": items, "total": total, "page": page, "page_size": size,
                "pages": max(1, math.ceil(total / size)) if total else 0}
    if not exact:
        envelope["total_estimated"] = True
    return envelope


# where orjson and ``json`` write a float differently (Python's ``1e-05``, orjson's ``0.00001``; ``1e-07`` and
# ``1e-7``): a number token (after ``:``, ``,`` or ``[``) below 1e-4 as orjson writes it. A string holding such text
# is taken for one too (the usual way then writes the answer: the same bytes, only slower)
_SMALL_FLOAT = re.compile(rb"[:,\[]-?(?:0\.0000|\d+(?:\.\d+)?e-)")


def plain_json_response(body: dict, schema, plain: frozenset[str] | None = None, *, exact: bool = False):
    """``body`` sent as it is (orjson), when the response ``schema`` would only copy it: every key of ``body`` is one
    of the schema's fields and, in each object of its lists (of ``Nested`` objects), one of ``plain`` (fields whose
    dump is the value itself: integers, strings, booleans, raw values, plain dicts); otherwise ``body`` is returned
    for flask-smorest to dump through the schema as usual. The keys go in the schema's order and the bytes are
    ``jsonify``'s, save the spelling of floats below 1e-4 (``0.00001`` for ``1e-05``); what orjson cannot write (dates,
    Decimals) goes through Flask's own conversion, as with ``jsonify``. Saves the dump and the pure-Python encoding
    of a sync push's answer (a hundred revisions in it): ~40 µs a push. ``exact``: the bytes are ``jsonify``'s
    whatever the floats (an answer with a float below 1e-4 in it is left to the usual way), as a pull's answer
    must be (docs/sync.md §4: phones store what they were sent)."""
    if current_app.debug:        # the indented answer of the debug mode
        return body
    fields = schema.dump_fields
    if not body.keys() <= fields.keys():
        return body
    out = {}
    for key, field in fields.items():
        if key not in body:
            continue
        value = body[key]
        if isinstance(value, list) and value and isinstance(value[0], dict):
            nested = getattr(getattr(field, "inner", None), "schema", None)
            if nested is None or plain is None or not all(isinstance(item, dict) and item.keys() <= plain
                                                           for item in value):
                return body
            order = nested.dump_fields
            value = [{k: item[k] for k in order if k in item} for item in value]
        out[key] = value
    try:
        data = orjson.dumps(out, default=current_app.json.default,
                            option=orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME
                            | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS)
    except (TypeError, orjson.JSONEncodeError):
        return body                 # an integer past 64 bits, say: the usual way refuses or writes it
    if exact and _SMALL_FLOAT.search(data):
        return body
    return current_app.response_class(data + b"\n", mimetype="application/json")


def blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    return Blueprint(name, import_name, url_prefix=url_prefix, description=description)
