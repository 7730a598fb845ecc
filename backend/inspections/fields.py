"""The paths of a section and of the merged record, and the check of each value.

A write names a path and a value (``docs/sync.md`` lists them). Values are plain JSON; every
check returns a Chinese reason or None. Nothing here touches the database: the caller gives the
section's catalogue (its items and check points) as a :class:`Catalogue`.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
from typing import Any, Callable

from backend.directory.rules import METHODS
from backend.inspections.rules import (ATTACHMENT_KINDS, FOLLOWUP_ACTIONS, GPS_DATUMS, GPS_SOURCES, HANDLING,
                                       OUTCOMES, POINT_RESULTS, RESULT_CATEGORIES)
from sync.protocol import parse_time

# \Z, not $: "$" also matches before a final newline
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
SHA256_RE = re.compile(r"^[0-9a-f]{64}\Z")
LOCAL_TIME_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\Z")
OFFSET_RE = re.compile(r"^[+-][0-9]{2}:[0-5][0-9]\Z")
ORIGINAL_MAX_BYTES = 2**40
TEXT_MAX = 2000
LONG_TEXT_MAX = 4000
MAX_PHOTOS = 30
MAX_ATTACHMENTS = 10
MAX_WRITES = 400

Check = Callable[[Any], str | None]


@dataclasses.dataclass(frozen=True)
class PointSpec:
    id: int
    item_id: int
    answer_type: str
    options: tuple[str, ...]
    required: bool


@dataclasses.dataclass(frozen=True)
class Catalogue:
    """What one department checks in one task: its items and their check points."""

    department_id: int
    item_ids: frozenset[int]
    points: dict[int, PointSpec]
    item_names: dict[int, str] = dataclasses.field(default_factory=dict)
    point_texts: dict[int, str] = dataclasses.field(default_factory=dict)
    item_methods: dict[int, tuple[str, ...]] = dataclasses.field(default_factory=dict)   # the item list's 检查方式


# --- value checks ------------------------------------------------------------------------------

def _text(limit: int = TEXT_MAX) -> Check:
    def check(v):
        if not isinstance(v, str):
            return "须为文字"
        if len(v) > limit:
            return f"不能超过 {limit} 个字"
        if "\x00" in v:
            return "含有不允许的字符"
        return None
    return check


def _short(limit: int) -> Check:
    return _text(limit)


def _bool(v):
    return None if isinstance(v, bool) else "须为 true 或 false"


TIME_FLOOR = dt.datetime(2000, 1, 1, tzinfo=dt.timezone.utc)
TIME_CEILING = dt.datetime(2100, 1, 1, tzinfo=dt.timezone.utc)


def _time(v):
    try:
        parsed = parse_time(v)
    except ValueError as exc:
        return str(exc)
    if parsed is None:
        return "须为时间"
    if not TIME_FLOOR <= parsed < TIME_CEILING:
        return "时间超出合理范围（2000 年至 2099 年），请检查手机的日期设置"
    return None


def _number(v):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return "须为数值"
    if abs(v) > 1e15:
        return "数值过大"
    return None


def _enum(mapping: dict) -> Check:
    def check(v):
        if v not in mapping:
            return "取值须为：" + "、".join(f"{k}（{label}）" for k, label in mapping.items())
        return None
    return check


def _enum_list(mapping: dict, *, nonempty: bool = False) -> Check:
    def check(v):
        if not isinstance(v, list) or any(not isinstance(x, str) for x in v):
            return "须为代码数组"
        if nonempty and not v:
            return "至少选择一项"
        if len(set(v)) != len(v):
            return "不能重复"
        bad = [x for x in v if x not in mapping]
        if bad:
            return f"“{bad[0]}”不是有效取值；可选：" + "、".join(f"{k}（{label}）" for k, label in mapping.items())
        return None
    return check


def _object(spec: dict[str, tuple[Check, bool]]) -> Check:
    """An object with the given keys: key → (check, required)."""
    def check(v):
        if not isinstance(v, dict):
            return "须为对象"
        extra = set(v) - set(spec)
        if extra:
            return f"未知字段：{', '.join(sorted(extra))}"
        for key, (inner, required) in spec.items():
            if key not in v or v[key] is None:
                if required:
                    return f"{key}：必填项"
                continue
            problem = inner(v[key])
            if problem:
                return f"{key}：{problem}"
        return None
    return check


def _list_of(inner: Check, limit: int) -> Check:
    def check(v):
        if not isinstance(v, list):
            return "须为数组"
        if len(v) > limit:
            return f"最多 {limit} 项"
        for i, x in enumerate(v):
            problem = inner(x)
            if problem:
                return f"第 {i + 1} 项：{problem}"
        return None
    return check


def _uuid(v):
    return None if isinstance(v, str) and UUID_RE.match(v) else "须为小写 UUID"


def _sha256(v):
    return None if isinstance(v, str) and SHA256_RE.match(v) else "须为 64 位小写十六进制 SHA-256"


def _lat(v):
    return _number(v) or (None if -90 <= v <= 90 else "纬度须在 -90 至 90 之间")


def _lon(v):
    return _number(v) or (None if -180 <= v <= 180 else "经度须在 -180 至 180 之间")


def _accuracy(v):
    return _number(v) or (None if 0 <= v <= 100000 else "精度（米）须在 0 至 100000 之间")


def _local_time(v):
    """A camera's clock as EXIF writes it, without a zone: ``2026-04-08T09:31:02``."""
    if not isinstance(v, str) or not LOCAL_TIME_RE.match(v):
        return "须为不带时区的时间，格式 YYYY-MM-DDTHH:MM:SS"
    try:
        dt.datetime.fromisoformat(v)
    except ValueError:
        return "不是有效的日期时间"
    return None


def _offset(v):
    if not isinstance(v, str) or not OFFSET_RE.match(v) or int(v[1:3]) > 14:
        return "时区偏移须为 ±HH:MM，例如 +08:00"
    return None


def _count(limit: int) -> Check:
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int) or not 0 < v <= limit:
            return f"须为 1 至 {limit} 之间的整数"
        return None
    return check


def _altitude(v):
    return _number(v) or (None if -20000 <= v <= 100000 else "海拔（米）须在 -20000 至 100000 之间")


gps = _object({"lat": (_lat, True), "lon": (_lon, True), "accuracy": (_accuracy, True),
               "datum": (_enum({d: d for d in GPS_DATUMS}), True), "time": (_time, True),
               "source": (_enum(GPS_SOURCES), True)})
# what the phone read from the camera's original before it made its copy (docs/sync.md §5, photo entries)
exif_gps = _object({"lat": (_lat, True), "lon": (_lon, True), "datum": (_enum({d: d for d in GPS_DATUMS}), True),
                    "alt": (_altitude, False), "accuracy": (_accuracy, False), "time": (_time, False)})
exif = _object({"time": (_local_time, False), "offset": (_offset, False), "gps": (exif_gps, False),
                "make": (_short(64), False), "model": (_short(64), False)})
original = _object({"sha256": (_sha256, True), "size": (_count(ORIGINAL_MAX_BYTES), True),
                    "width": (_count(100000), False), "height": (_count(100000), False)})
photo = _object({"id": (_uuid, True), "sha256": (_sha256, True), "taken_at": (_time, False),
                 "gps": (gps, False), "caption": (_short(200), False), "original": (original, False),
                 "exif": (exif, False)})
attachment = _object({"id": (_uuid, True), "sha256": (_sha256, True), "kind": (_enum(ATTACHMENT_KINDS), True),
                      "name": (_short(200), False), "caption": (_short(200), False)})
photos = _list_of(photo, MAX_PHOTOS)
attachments = _list_of(attachment, MAX_ATTACHMENTS)
officer = _object({"inspector_id": (lambda v: None if isinstance(v, int) and not isinstance(v, bool) and 0 < v < 2**31
                                    else "须为检查人员编号", True),
                   "cert_no": (_short(32), True), "name": (_short(64), True), "department": (_short(16), False)})
outcome = _object({"code": (_enum(OUTCOMES), True), "note": (_text(), False), "photos": (photos, False),
                   "gps": (gps, False)})
evidence = _object({"documents": (_list_of(_short(200), 50), False), "sites": (_list_of(_short(500), 50), False),
                    "body": (_short(200), False), "report_no": (_short(100), False),
                    "conclusion": (_text(), False), "note": (_text(), False)})
person = _object({"name": (_short(64), True), "position": (_short(64), False), "phone": (_short(32), False),
                  "id_no": (_short(32), False)})
followup = _object({"id": (_uuid, True), "action": (_enum(FOLLOWUP_ACTIONS), True),
                    "department_id": (lambda v: None if isinstance(v, int) and not isinstance(v, bool)
                                      and 0 < v < 2**31 else "须为部门编号", True),
                    "note": (_text(), False), "due_on": (lambda v: None if isinstance(v, str)
                                                        and re.match(r"^\d{4}-\d{2}-\d{2}$", v) else
                                                        "日期格式应为 YYYY-MM-DD", False)})
not_public = _object({"reason": (lambda v: _text(500)(v) or (None if len(v.strip()) >= 4 else "须说明理由（至少 4 个字）"),
                                 True)})


def _value_check(spec: PointSpec) -> Check:
    kind = spec.answer_type
    if kind == "yes_no":
        return _bool
    if kind == "compliance":
        return _enum(POINT_RESULTS)
    if kind == "choice":
        opts = {o: o for o in spec.options}
        return _enum(opts) if opts else _short(200)
    if kind == "multi":
        opts = {o: o for o in spec.options}
        return _enum_list(opts) if opts else _list_of(_short(200), 50)
    if kind == "number":
        return _number
    if kind == "photo":  # the answer is the photos; a value, if given, is a caption
        return _short(200)
    return _text()


POINT_FIELDS: dict[str, Check] = {
    "checked": _bool, "result": _enum(POINT_RESULTS), "problem": _text(), "handling": _enum_list(HANDLING),
    "note": _text(), "photos": photos, "attachments": attachments, "gps": gps, "device_time": _time,
}
ITEM_FIELDS: dict[str, Check] = {"method": _enum(METHODS), "evidence": evidence}
SECTION_FIELDS: dict[str, Check] = {
    "officers": _list_of(officer, 20), "outcome": outcome, "note": _text(), "arrived_at": _time, "departed_at": _time,
}
RECORD_FIELDS: dict[str, Check] = {
    "arrived_at": _time, "departed_at": _time, "officers": _list_of(officer, 40), "representative": person,
    "outcome": outcome, "result_categories": _enum_list(RESULT_CATEGORIES), "followups": _list_of(followup, 50),
    "not_public": not_public, "opinion": _text(LONG_TEXT_MAX),
}


def split_point_path(path: str) -> tuple[int, str] | None:
    """``points.<id>.<field>`` → (id, field)."""
    parts = path.split(".")
    if len(parts) == 3 and parts[0] == "points" and parts[1].isdigit() and len(parts[1]) < 10:
        return int(parts[1]), parts[2]
    return None


def section_check(catalogue: Catalogue, path: str) -> Check | str:
    """The check for a section path, or a Chinese reason why the path is not part of this section."""
    parts = path.split(".")
    if parts[0] == "points":
        split = split_point_path(path)
        if split is None:
            return "路径格式应为 points.<检查内容编号>.<字段>"
        cp, field = split
        spec = catalogue.points.get(cp)
        if spec is None:
            return f"检查内容 {cp} 不属于本部门在本任务中的检查事项"
        if field == "value":
            return _value_check(spec)
        if field not in POINT_FIELDS:
            return f"未知字段“{field}”；可用：value、" + "、".join(POINT_FIELDS)
        return POINT_FIELDS[field]
    if parts[0] == "items":
        if len(parts) != 3 or not parts[1].isdigit() or len(parts[1]) >= 10:
            return "路径格式应为 items.<检查事项编号>.<字段>"
        if int(parts[1]) not in catalogue.item_ids:
            return f"检查事项 {parts[1]} 不属于本部门在本任务中的检查事项"
        if parts[2] not in ITEM_FIELDS:
            return f"未知字段“{parts[2]}”；可用：" + "、".join(ITEM_FIELDS)
        methods = catalogue.item_methods.get(int(parts[1]))
        if parts[2] == "method" and methods:   # one of the methods the item list gives this item
            return _enum({m: METHODS.get(m, m) for m in methods})
        return ITEM_FIELDS[parts[2]]
    if path in SECTION_FIELDS:
        return SECTION_FIELDS[path]
    return f"未知路径“{path}”"


def record_check(path: str) -> Check | str:
    if path in RECORD_FIELDS:
        return RECORD_FIELDS[path]
    return f"未知路径“{path}”；汇总记录可写：" + "、".join(RECORD_FIELDS)


def parse_writes(raw: Any, check_for: Callable[[str], Check | str]) -> tuple[list, dict]:
    """[(path, value, base_rev)] and {path: [reason]} from ``{path: {value, base_rev}}``."""
    from sync.fields import FieldWrite

    errors: dict[str, list[str]] = {}
    writes: list[FieldWrite] = []
    if not isinstance(raw, dict) or not raw:
        return [], {"fields": ["须为对象 {路径: {value, base_rev}}，至少一项"]}
    if len(raw) > MAX_WRITES:
        return [], {"fields": [f"一条变更最多写 {MAX_WRITES} 个字段"]}
    add = writes.append
    for path, write in raw.items():   # (a push's 100 writes each pass here: kept to the cheapest tests)
        if (path.__class__ is not str and not isinstance(path, str)) or len(path) > 80:
            errors[str(path)[:80]] = ["路径无效"]
            continue
        if (write.__class__ is not dict and not isinstance(write, dict)) or len(write) != 2 \
                or "value" not in write or "base_rev" not in write:
            errors[path] = ["须为 {value, base_rev}（两项都须有；从未见过该字段时 base_rev 为 0）"]
            continue
        base = write["base_rev"]
        if (base.__class__ is not int and (not isinstance(base, int) or isinstance(base, bool))) \
                or not 0 <= base < 2147483648:
            errors[path] = ["base_rev 须为非负整数（从未见过该字段时为 0）"]
            continue
        check = check_for(path)
        if check.__class__ is str:
            errors[path] = [check]
            continue
        value = write["value"]
        if value is not None:
            problem = check(value)
            if problem:
                errors[path] = [problem]
                continue
        add(FieldWrite(path, value, base))
    return writes, errors


SCALARS = frozenset((str, bool, int, float, type(None)))


def media_hashes(values: list) -> set[str]:
    """The SHA-256 of every file these values name: lists of ``{sha256, …}`` (photos, attachments),
    or an object with ``photos`` (an outcome)."""
    out: set[str] = set()
    for v in values:
        if v.__class__ in SCALARS:
            continue
        if isinstance(v, list):
            out.update(x["sha256"] for x in v if isinstance(x, dict) and isinstance(x.get("sha256"), str))
        elif isinstance(v, dict):
            out.update(media_hashes([v.get("photos")]))
    return out
