"""The wire format of a push, checked before anything is applied (limits and shapes)."""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any

MAX_MUTATIONS = 100
MAX_BATCH_BYTES = 1024 * 1024
MAX_PULL_LIMIT = 500
DEFAULT_PULL_LIMIT = 100
MAX_MUTATION_ID = 2**53 - 1

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
NAME_RE = re.compile(r"^[a-z_]{1,20}\.[a-z_]{1,20}$")


class BadBatch(ValueError):
    """The push as a whole is malformed: nothing is applied, the client must fix its outbox."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message, self.errors = message, errors or {}


@dataclasses.dataclass(frozen=True)
class Mutation:
    id: int
    name: str
    args: dict
    device_time: dt.datetime | None = None


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO 8601 time with its offset (a phone's clock), or None. Naive times are refused."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError("时间格式应为 ISO 8601（带时区）")
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError("时间格式应为 ISO 8601（带时区）") from None
    if parsed.tzinfo is None:
        raise ValueError("时间须带时区，例如 2026-11-30T09:15:00+08:00")
    return parsed.astimezone(dt.timezone.utc)


def client_id_problem(client_id: Any) -> str | None:
    if not isinstance(client_id, str) or not UUID_RE.match(client_id):
        return "client_id 须为小写 UUID（例如 3f2b…-…），由设备首次启动时生成"
    return None


def parse_push(body: Any) -> tuple[str, list[Mutation]]:
    """(client_id, mutations) from a push body, or BadBatch naming every problem."""
    if not isinstance(body, dict):
        raise BadBatch("请求体须为 JSON 对象 {client_id, mutations}")
    errors: dict[str, Any] = {}
    unknown = set(body) - {"client_id", "mutations"}
    if unknown:
        errors["_schema"] = [f"未知字段：{', '.join(sorted(unknown))}"]
    client_id = body.get("client_id")
    problem = client_id_problem(client_id)
    if problem:
        errors["client_id"] = [problem]
    raw = body.get("mutations")
    if not isinstance(raw, list):
        errors["mutations"] = ["须为数组"]
        raise BadBatch("推送格式有误", errors)
    if not raw:
        errors["mutations"] = ["至少包含一条变更"]
    if len(raw) > MAX_MUTATIONS:
        errors["mutations"] = [f"一次最多推送 {MAX_MUTATIONS} 条变更，本次 {len(raw)} 条；请分批推送"]
    mutations: list[Mutation] = []
    previous = 0
    for i, m in enumerate(raw[:MAX_MUTATIONS]):
        where = f"mutations.{i}"
        if not isinstance(m, dict):
            errors[where] = ["须为对象 {id, name, args, device_time}"]
            continue
        extra = set(m) - {"id", "name", "args", "device_time"}
        mid, name, args = m.get("id"), m.get("name"), m.get("args")
        problems = []
        if extra:
            problems.append(f"未知字段：{', '.join(sorted(extra))}")
        if not isinstance(mid, int) or isinstance(mid, bool) or not 1 <= mid <= MAX_MUTATION_ID:
            problems.append("id 须为正整数")
        elif mid <= previous:
            problems.append("同一批内的 id 须严格递增")
        if not isinstance(name, str) or not NAME_RE.match(name):
            problems.append("name 须为变更名称，例如 section.set")
        if not isinstance(args, dict):
            problems.append("args 须为对象")
        try:
            device_time = parse_time(m.get("device_time"))
        except ValueError as exc:
            problems.append(f"device_time：{exc}")
            device_time = None
        if problems:
            errors[where] = problems
            continue
        previous = mid
        mutations.append(Mutation(mid, name, args, device_time))
    if errors:
        raise BadBatch("推送格式有误：" + _first(errors), errors)
    return client_id, mutations


def _first(errors: dict) -> str:
    key = next(iter(errors))
    return f"{key}：{errors[key][0]}"


@dataclasses.dataclass(frozen=True)
class Cursor:
    """Where a pull stands: every change up to ``after`` is on the phone; a pull under way is sending the
    things changed in (``after``, ``upto``] in id order, and has sent those up to ``last_id``."""

    after: int = 0
    upto: int | None = None
    last_id: int = 0

    def text(self) -> str:
        return str(self.after) if self.upto is None else f"{self.after}.{self.upto}.{self.last_id}"


_CURSOR_RE = re.compile(r"^(\d{1,18})(?:\.(\d{1,18})\.(\d{1,18}))?$")


def parse_cursor(value: Any) -> Cursor:
    """A cursor the server handed out ('' or absent: from the start)."""
    if value in (None, ""):
        return Cursor()
    match = _CURSOR_RE.match(value) if isinstance(value, str) else None
    if match is None or (match.group(2) is not None and int(match.group(2)) < int(match.group(1))):
        raise ValueError("cursor 无效：请使用上次拉取返回的 cursor，首次拉取不带 cursor")
    if match.group(2) is None:
        return Cursor(int(match.group(1)))
    return Cursor(int(match.group(1)), int(match.group(2)), int(match.group(3)))
