"""Domain errors and the one error shape of the API.

Every error the API returns looks like::

    {"status": 422, "code": "validation_error", "message": "提交的数据有误", "errors": {...}}

``code`` is stable and machine-readable; ``message`` is Simplified Chinese for people;
``errors`` holds per-field or per-row details where there are some.
Services raise ``DomainError`` subclasses; one handler maps them to HTTP.
"""
from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 status: int | None = None, errors: Any = None, details: dict | None = None):
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.errors = errors
        self.details = details or {}
        super().__init__(self.message)

    @property
    def headers(self) -> dict:
        return {}

    def to_dict(self) -> dict:
        body: dict[str, Any] = {"status": self.status, "code": self.code, "message": self.message}
        if self.errors is not None:
            body["errors"] = self.errors
        if self.details:
            body["details"] = self.details
        return body


class InvalidInput(DomainError):
    status = 422
    code = "validation_error"
    message = "提交的数据有误"


class NotAuthenticated(DomainError):
    status = 401
    code = "auth.required"
    message = "请先登录"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    message = "没有权限执行此操作"


class NotFound(DomainError):
    status = 404
    code = "not_found"
    message = "记录不存在"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    message = "与现有数据冲突"


class TooManyRequests(DomainError):
    """429 with ``Retry-After`` (seconds), also given as ``details.retry_after``."""

    status = 429
    code = "too_many_requests"
    message = "操作过于频繁，请稍后再试"

    def __init__(self, message: str | None = None, *, retry_after: int = 60, **kwargs):
        self.retry_after = max(1, int(retry_after))
        super().__init__(message, **kwargs)
        self.details.setdefault("retry_after", self.retry_after)

    @property
    def headers(self) -> dict:
        return {"Retry-After": str(self.retry_after)}


class Busy(DomainError):
    status = 503
    code = "busy"
    message = "系统繁忙，请稍后重试"


# optimistic locking (If-Match): subject → (412 message, 428 message); codes ``<subject>.stale`` and
# ``<subject>.if_match_required``
PRECONDITIONS = {
    "inspection": ("该检查记录已被他人更新，请刷新后再操作",
                   "修改须带 If-Match 请求头（取自读取时的 ETag），以免覆盖他人的更新"),
    "followup": ("该后续处置已被他人更新，请刷新后再操作",
                 "操作须带 If-Match 请求头（取自读取时的 ETag），以免覆盖他人的处理"),
}


def check_if_match(if_match: str | None, current: str, subject: str, *, stale_details: dict | None = None,
                   required_details: dict | None = None) -> None:
    """The request's ``If-Match`` names ``current`` (or ``*``): 428 ``<subject>.if_match_required`` without
    one, 412 ``<subject>.stale`` when it names another version (``details.etag`` is the current one)."""
    stale, required = PRECONDITIONS[subject]
    if not if_match:
        raise DomainError(required, code=f"{subject}.if_match_required", status=428, details=required_details)
    if if_match.strip() not in (current, "*"):
        raise DomainError(stale, code=f"{subject}.stale", status=412,
                          details={"etag": current, **(stale_details or {})})


HTTP_MESSAGES = {
    400: ("bad_request", "请求有误"),
    401: ("auth.required", "请先登录"),
    403: ("forbidden", "没有权限执行此操作"),
    404: ("not_found", "请求的地址或记录不存在"),
    405: ("method_not_allowed", "不支持该请求方法"),
    406: ("not_acceptable", "无法提供请求的格式"),
    409: ("conflict", "与现有数据冲突"),
    412: ("precondition_failed", "数据已被他人修改，请刷新后重试"),
    413: ("too_large", "上传的内容过大"),
    415: ("unsupported_media_type", "不支持的内容类型"),
    422: ("validation_error", "提交的数据有误"),
    428: ("precondition_required", "请求缺少版本信息"),
    429: ("too_many_requests", "操作过于频繁，请稍后再试"),
    500: ("internal_error", "服务器内部错误，请联系管理员"),
    503: ("busy", "系统繁忙，请稍后重试"),
}


def http_error_body(status: int, errors: Any = None, message: str | None = None, code: str | None = None) -> dict:
    default_code, default_message = HTTP_MESSAGES.get(status, ("error", "请求失败"))
    body: dict[str, Any] = {"status": status, "code": code or default_code, "message": message or default_message}
    if errors:
        body["errors"] = errors
    return body
