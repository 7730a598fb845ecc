"""The wire format of a push, checked before anything is applied (limits and shapes).

Two kinds of problem, kept apart so that one bad mutation never blocks an outbox:

* the push as a whole is malformed (not JSON, no client id, more than 100 mutations, unknown keys, ids that
  are not positive integers or do not increase): :class:`BadBatch`, nothing is applied, the client fixes
  its outbox;
* one mutation carries something the server cannot take (a value no database keeps — a NUL, a lone
  surrogate, an integer beyond ±(2**53 − 1), NaN or Infinity, a number of more than 100 digits, nesting
  deeper than 32 levels —, a name that is no mutation, ``args`` that are not an object, a malformed
  ``device_time``): the mutation is parsed all the same, with its ``problem``, and the engine refuses it
  alone; its id advances like any refused mutation's.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
from typing import Any

import orjson

MAX_MUTATIONS = 100
MAX_BATCH_BYTES = 1024 * 1024
MAX_PULL_LIMIT = 500
DEFAULT_PULL_LIMIT = 100
MAX_MUTATION_ID = 2**53 - 1
MAX_SAFE_INTEGER = 2**53 - 1
MAX_NUMBER_DIGITS = 100
MAX_DEPTH = 32                   # objects and arrays inside one mutation (the mutation itself is level 1)
MAX_LABEL = 128                  # X-Device-Label
# a device clock outside this window is not believed: the mutation is taken as having no device time
DEVICE_TIME_FLOOR = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
DEVICE_TIME_AHEAD = dt.timedelta(days=1)

# a client id: a UUID version 4, in lower case (as crypto.randomUUID() and uuid.uuid4() write it)
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
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
    # why the server cannot take this mutation (it is refused alone): {code, message, errors}
    problem: dict | None = None
    payload_sha256: str | None = None      # what a replay of this id must match
    device_time_ignored: bool = False      # a device_time outside the believable window


class TimeOutOfRange(ValueError):
    """A well-formed time that no calendar arithmetic can use (year 1 at +08:00 is before year 1 in UTC)."""


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
    try:
        return parsed.astimezone(dt.timezone.utc)
    except OverflowError:
        raise TimeOutOfRange("时间超出可用范围") from None


def client_id_problem(client_id: Any) -> str | None:
    if not isinstance(client_id, str) or not UUID_RE.match(client_id):
        return "client_id 须为小写的 UUID 第 4 版（例如 3f2b8c1e-…-4…），由设备首次启动时随机生成"
    return None


def label_problem(label: str | None) -> str | None:
    """X-Device-Label: at most 128 printable characters (refused, never cut)."""
    if label is None:
        return None
    if len(label) > MAX_LABEL:
        return f"X-Device-Label 最多 {MAX_LABEL} 个字符（本次 {len(label)} 个）"
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in label):
        return "X-Device-Label 不能包含控制字符"
    return None


def parse_push(body: Any, now: dt.datetime | None = None, screen: bool = True) -> tuple[str, list[Mutation]]:
    """(client_id, mutations) from a push body (as :func:`loads` decodes it), or BadBatch naming every
    problem of the push as a whole. A mutation's own problems travel with it (``Mutation.problem``).
    ``screen``: look for values no database keeps (``loads`` says when there can be none)."""
    if not isinstance(body, dict):
        raise BadBatch("请求体须为 JSON 对象 {client_id, mutations}", {"_schema": ["须为 JSON 对象 {client_id, mutations}"]})
    now = now or dt.datetime.now(dt.timezone.utc)
    errors: dict[str, Any] = {}
    unknown = set(body) - {"client_id", "mutations"}
    if unknown:
        errors["_schema"] = [f"未知字段：{', '.join(sorted(_safe(k) for k in unknown))}"]
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
        mid = m.get("id")
        problems = []
        if extra:
            problems.append(f"未知字段：{', '.join(sorted(_safe(k) for k in extra))}")
        if not isinstance(mid, int) or isinstance(mid, bool) or not 1 <= mid <= MAX_MUTATION_ID:
            problems.append(f"id 须为 1 至 {MAX_MUTATION_ID} 的整数")
        elif mid <= previous:
            problems.append("同一批内的 id 须严格递增")
        if problems:
            errors[where] = problems
            continue
        previous = mid
        mutations.append(_mutation(mid, m, now, screen))
    if errors:
        raise BadBatch("推送格式有误：" + _first(errors), errors)
    return client_id, mutations


def _mutation(mid: int, m: dict, now: dt.datetime, screen: bool = True) -> Mutation:
    """One well-numbered mutation; whatever else is wrong with it becomes its ``problem``."""
    name, args, raw_time = m.get("name"), m.get("args"), m.get("device_time")
    problem = None
    found = bad_value({"name": name, "args": args, "device_time": raw_time}) if screen else None
    if found:
        path, reason = found
        where = ".".join(path)
        if len(where) > 120:
            where = where[:119] + "…"
        problem = {"code": "validation_error", "message": f"这条变更含有服务器无法保存的值：{where}：{reason}",
                   "errors": {where: [reason]}}
    elif not isinstance(name, str) or not NAME_RE.match(name):
        problem = {"code": "sync.unknown_mutation", "message": "变更类型无效（应为如 section.set 的名称），请升级应用",
                   "errors": {"name": ["须为变更名称，例如 section.set"]}}
    elif not isinstance(args, dict):
        problem = {"code": "validation_error", "message": "args 须为对象", "errors": {"args": ["须为对象"]}}
    device_time, ignored = None, False
    if problem is None:
        try:
            device_time = parse_time(raw_time)
        except TimeOutOfRange:
            ignored = True
        except ValueError as exc:
            problem = {"code": "validation_error", "message": f"device_time：{exc}", "errors": {"device_time": [str(exc)]}}
        else:
            if device_time is not None and not DEVICE_TIME_FLOOR <= device_time <= now + DEVICE_TIME_AHEAD:
                device_time, ignored = None, True
    if problem is not None:
        name = name if isinstance(name, str) and NAME_RE.match(name) else "?"
        args = {}
    return Mutation(mid, name, args, device_time, problem, payload_hash(m), ignored)


def payload_hash(m: dict) -> str:
    """SHA-256 of a mutation as sent, less its id: sorted keys, no spaces, every non-ASCII character escaped
    (so even text no database keeps hashes the same way each time it is sent)."""
    payload = {"name": m.get("name"), "args": m.get("args"), "device_time": m.get("device_time")}
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


# --- decoding a push: every value kept, whatever its problem -------------------------------------------------

class BadNumber(str):
    """A number no client can represent, kept as its text (NaN, Infinity, beyond 2**53, over 100 digits)."""


_TOO_DEEP = r"\u0000\u0001too-deep"         # the JSON text put in place of what was nested too deep
TOO_DEEP = "\x00\x01too-deep"                # … and the value it decodes to
# a JSON string, or the rest of the text when one is never closed
# (unrolled: runs of plain characters matched at once, an escape and the run after it; possessive, so linear;
# 2.2 times faster than one character a step, which cost a 500 KB push 15 ms for each pass)
JSON_STRING = re.compile(r'"[^"\\]*+(?:\\.?[^"\\]*+)*+(?:"|\Z)', re.DOTALL)
_BRACKETS = re.compile(r"[\[\]{}]")
# (an exponent follows a digit: the e of true and false is not one, else every push would be screened value by value)
# (one digit, then 15 more or an exponent's e: the same matches as [0-9]{16,}|[0-9][eE], in half the time)
SUSPECT_NUMBER = re.compile(r"[0-9](?:[0-9]{15}|[eE])|NaN|Infinity")
SUSPECT_ESCAPE = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")
_DIGITS = re.compile(r"[0-9]")
PUSH_DEPTH = MAX_DEPTH + 3              # the body, its mutations array, then each mutation's own levels


def _deeper_than(skeleton: str, limit: int) -> bool:
    """Whether brackets (outside strings) nest deeper than ``limit`` anywhere."""
    depth = 0
    for bracket in _BRACKETS.findall(skeleton):
        if bracket in "[{":
            depth += 1
            if depth > limit:
                return True
        else:
            depth -= 1
    return False


def strings_emptied(text: str) -> str:
    """``JSON_STRING.sub('""', text)``: each string (or the unclosed rest of the text) emptied. When no quote is
    escaped and no backslash follows another (``\\"`` and ``\\\\`` absent: a phone's usual push, whose text is
    UTF-8 or ``\\u`` escapes), every quote opens or closes a string, and splitting at the quotes finds them in
    C at once: a sixth of the expression's time on a section's 7 KB."""
    if '\\"' in text or "\\\\" in text:
        return JSON_STRING.sub('""', text)
    parts = text.split('"')
    out = '""'.join(parts[0::2])
    return out + '""' if len(parts) % 2 == 0 else out       # an even count: the last string is never closed


def _blank(match: re.Match) -> str:
    text = match.group(0)
    return '"' + " " * (len(text) - 2) + ('"' if len(text) > 1 and text.endswith('"') else " ")


def loads(text: str) -> tuple[Any, bool]:
    """Decode a push body: (the value, whether it may hold a value :func:`bad_value` refuses). Numbers no
    client can represent are kept as :class:`BadNumber`, and whatever is nested deeper than ``PUSH_DEPTH``
    as the text ``TOO_DEEP``, so that the mutation holding them is refused alone (and the decoder never
    recurses deeper than that). Raises ValueError when the text is not JSON at all."""
    skeleton = strings_emptied(text)                      # the text outside strings, each string emptied
    cuts, depth, start = [], 0, None
    if _deeper_than(skeleton, PUSH_DEPTH):                 # rare: find where, in the text itself
        skeleton = JSON_STRING.sub(_blank, text)         # same length: positions carry over
        for match in _BRACKETS.finditer(skeleton):
            if match.group(0) in "[{":
                depth += 1
                if depth == PUSH_DEPTH + 1:
                    start = match.start()
            else:
                if depth == PUSH_DEPTH + 1 and start is not None:
                    cuts.append((start, match.end()))
                    start = None
                depth -= 1
    if cuts:
        parts, at = [], 0
        for a, b in cuts:
            parts.append(text[at:a])
            parts.append(f'"{_TOO_DEEP}"')
            at = b
        parts.append(text[at:])
        text = "".join(parts)
    numbers = bool(SUSPECT_NUMBER.search(skeleton))
    suspect = bool(cuts or numbers or SUSPECT_ESCAPE.search(text))
    if not suspect:      # no number, escape or depth to keep as it is: the fast decoder gives the same values
        return orjson.loads(text), False
    hooks = {"parse_int": _int, "parse_float": _float, "parse_constant": BadNumber} if numbers else {}
    try:
        value = json.loads(text, **hooks)
    except RecursionError:
        raise ValueError("请求体不是有效的 JSON") from None
    return value, True


def _int(text: str):
    if len(text) > 16:               # 2**53 has 16 digits
        if len(_DIGITS.findall(text)) > MAX_NUMBER_DIGITS:
            return BadNumber(text[:40] + "…")
    value = int(text)
    return value if abs(value) <= MAX_SAFE_INTEGER else BadNumber(text)


def _float(text: str):
    if len(_DIGITS.findall(text)) > MAX_NUMBER_DIGITS:
        return BadNumber(text[:40] + "…")
    value = float(text)
    return value if math.isfinite(value) and abs(value) <= MAX_SAFE_INTEGER else BadNumber(text)


def bad_text(value: str) -> str | None:
    """Why a decoded string cannot be stored (a NUL, which PostgreSQL refuses; a lone surrogate, which is no
    UTF-8), or None. The one rule for text, of a push's values and of every other JSON body or query."""
    if "\x00" in value:
        return "不能包含控制字符（空字符 \\u0000）"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "含有无效的 Unicode 字符（孤立的代理码点）"
    return None


def bad_value(value: Any, path: tuple = (), depth: int = 1) -> tuple[tuple, str] | None:
    """(where, why) a decoded value cannot be kept, or None. ``depth``: levels of objects and arrays."""
    if isinstance(value, str) and value == TOO_DEEP:
        return path, f"嵌套层级过深（最多 {MAX_DEPTH} 层）"
    if isinstance(value, BadNumber):
        digits = len(_DIGITS.findall(value))
        if digits > MAX_NUMBER_DIGITS or value.endswith("…"):
            return path, f"数字过长（最多 {MAX_NUMBER_DIGITS} 位）"
        return path, "数值超出允许范围（须为有限数，绝对值不超过 2^53 − 1）"
    if isinstance(value, str):
        why = bad_text(value)
        return (path, why) if why else None
    if isinstance(value, (dict, list)):
        if depth > MAX_DEPTH:
            return path, f"嵌套层级过深（最多 {MAX_DEPTH} 层）"
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(key, str):
                found = bad_value(key, path, depth)
                if found:
                    return (*path, _safe(key)), found[1]
            found = bad_value(item, (*path, _safe(str(key))), depth + 1)
            if found:
                return found
        return None
    if isinstance(value, float) and (not math.isfinite(value) or abs(value) > MAX_SAFE_INTEGER):
        return path, "数值超出允许范围（须为有限数，绝对值不超过 2^53 − 1）"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SAFE_INTEGER:
        return path, "整数超出允许范围（绝对值不超过 2^53 − 1）"
    return None


def _safe(text: str) -> str:
    """Text fit to store and show: NULs and lone surrogates replaced, at most 80 characters."""
    cleaned = "".join("?" if c == "\x00" or "\ud800" <= c <= "\udfff" else c for c in text[:80])
    return cleaned + ("…" if len(text) > 80 else "")


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
