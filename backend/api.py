"""flask-smorest wiring: the Api with our error shape, pagination, blueprint helper."""
from __future__ import annotations

import logging
import math

from flask import jsonify
from flask_smorest import Api, Blueprint
from sqlalchemy import func, select
from sqlalchemy.exc import DataError, OperationalError
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException

from backend.errors import DomainError, InvalidInput, http_error_body
from schemas.base import ErrorSchema

log = logging.getLogger(__name__)


# the few English texts webargs itself produces
_WEBARGS_MESSAGES = {"Invalid JSON body.": "请求体不是有效的 JSON"}


def _translate(errors):
    if isinstance(errors, dict):
        return {k: _translate(v) for k, v in errors.items()}
    if isinstance(errors, list):
        return [_translate(v) for v in errors]
    if isinstance(errors, str):
        return _WEBARGS_MESSAGES.get(errors, errors)
    return errors


class ShuangsuiApi(Api):
    ERROR_SCHEMA = ErrorSchema

    def handle_http_exception(self, error: HTTPException):
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


def _bad_value(value, path: tuple = (), depth: int = 0) -> tuple[tuple, str] | None:
    """(where, why) a decoded JSON or query value cannot be stored anywhere, or None."""
    if depth > 32:
        return path, "嵌套层级过深"
    if isinstance(value, str):
        if "\x00" in value:
            return path, "不能包含控制字符（空字符 \\u0000）"
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path, "含有无效的 Unicode 字符（孤立的代理码点）"
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


def screen_request_values() -> None:
    """Refuse, before any parsing, text no database can keep and numbers no client can represent."""
    from flask import request

    found, location = None, None
    for key, values in request.args.lists():
        found = _bad_value(key, (key,)) or next(filter(None, (_bad_value(v, (key,)) for v in values)), None)
        if found:
            location = "query"
            break
    if found is None and request.is_json and request.content_length:
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


def register_error_handlers(app) -> None:
    app.before_request(screen_request_values)

    @app.errorhandler(DataError)
    def _db_data_error(err: DataError):
        # the database is the last guard: a value it cannot store is the caller's error, not ours
        log.warning("value refused by the database: %s", err.orig)
        return jsonify(http_error_body(422, message="提交的数值超出范围或格式不正确", code="invalid_value")), 422

    @app.errorhandler(DomainError)
    def _domain_error(err: DomainError):
        return jsonify(err.to_dict()), err.status, err.headers

    @app.errorhandler(OperationalError)
    def _db_busy(err: OperationalError):
        if "locked" in str(err.orig).lower():
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


def paginate(session: Session, stmt, args: dict, *, scalars: bool = True) -> dict:
    """Run ``stmt`` for one page; return the page envelope (items are ORM rows or tuples)."""
    page, size = args.get("page", 1), args.get("page_size", 20)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = session.execute(stmt.limit(size).offset((page - 1) * size))
    items = rows.scalars().all() if scalars else rows.all()
    return {"items": items, "total": total, "page": page, "page_size": size,
            "pages": max(1, math.ceil(total / size)) if total else 0}


def blueprint(name: str, import_name: str, url_prefix: str, description: str) -> Blueprint:
    return Blueprint(name, import_name, url_prefix=url_prefix, description=description)
