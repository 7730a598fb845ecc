"""A year's State Council holiday notice (国务院办公厅关于 YYYY 年部分节假日安排的通知) as a file:
reading it (JSON or CSV) and validating it. Pure: no database, no Flask. Formats: docs/deadlines.md.

JSON (what ``backend/publication/data/2026.json`` is)::

    {"year": 2026, "title": "国务院办公厅关于2026年部分节假日安排的通知", "ref": null, "issued_on": "2025-11-04",
     "holidays": [{"name": "春节", "from": "2026-02-15", "to": "2026-02-23",
                   "workdays": ["2026-02-14", "2026-02-28"]}, …]}

CSV (one row per day; the notice's title is given on the command line)::

    日期,类型,名称
    2026-02-14,上班,春节
    2026-02-15,放假,春节
    …

Every problem is reported at once, each with where it is (``holidays.1.workdays.0`` or ``第 3 行``)
and a Chinese reason; nothing is imported while there is one.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
from typing import Any

from backend.errors import InvalidInput

MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_BYTES = 1024 * 1024
MAX_HOLIDAYS = 20
MAX_BLOCK_DAYS = 31
MAX_WORKDAYS = 10
WEEKDAYS = "一二三四五六日"
KIND_WORDS = {"放假": "restday", "休": "restday", "restday": "restday", "rest": "restday",
              "上班": "workday", "班": "workday", "workday": "workday", "work": "workday"}
CSV_HEADERS = {("日期", "类型", "名称"), ("date", "kind", "name")}
JSON_KEYS = {"year", "title", "ref", "issued_on", "holidays"}
HOLIDAY_KEYS = {"name", "from", "to", "workdays"}


@dataclasses.dataclass(frozen=True)
class NoticeDay:
    day: dt.date
    kind: str            # restday | workday
    name: str            # the holiday


@dataclasses.dataclass(frozen=True)
class Notice:
    year: int
    title: str
    ref: str | None
    issued_on: dt.date | None
    days: tuple[NoticeDay, ...]     # sorted by day

    @property
    def rest_days(self) -> list[NoticeDay]:
        return [d for d in self.days if d.kind == "restday"]

    @property
    def workdays(self) -> list[NoticeDay]:
        return [d for d in self.days if d.kind == "workday"]

    def snapshot(self) -> dict:
        return {"year": self.year, "title": self.title, "ref": self.ref,
                "issued_on": self.issued_on.isoformat() if self.issued_on else None,
                "restdays": [f"{d.day.isoformat()} {d.name}" for d in self.rest_days],
                "workdays": [f"{d.day.isoformat()} {d.name}" for d in self.workdays]}


def weekday_text(day: dt.date) -> str:
    return "星期" + WEEKDAYS[day.weekday()]


def day_text(day: dt.date) -> str:
    return f"{day.isoformat()}（{weekday_text(day)}）"


class _Problems:
    def __init__(self):
        self.items: dict[str, list[str]] = {}

    def add(self, where: str, message: str) -> None:
        self.items.setdefault(where, []).append(message)

    def raise_if_any(self) -> None:
        if self.items:
            where, messages = next(iter(self.items.items()))
            count = sum(len(m) for m in self.items.values())
            more = f"（共 {count} 处问题）" if count > 1 else ""
            raise InvalidInput(f"节假日安排有误：{where}：{messages[0]}{more}", code="calendar.invalid_notice",
                               errors=self.items)


def _text(value: Any, where: str, label: str, problems: _Problems, *, max_length: int,
          required: bool = True) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            problems.add(where, f"缺少{label}")
        return None
    if not isinstance(value, str):
        problems.add(where, f"{label}应为文本")
        return None
    value = value.strip()
    if len(value) > max_length:
        problems.add(where, f"{label}不能超过 {max_length} 个字符")
        return None
    if any(ord(c) < 32 or 0xD800 <= ord(c) <= 0xDFFF for c in value):
        problems.add(where, f"{label}含有控制字符或无效字符")
        return None
    return value


def _date(value: Any, where: str, label: str, problems: _Problems) -> dt.date | None:
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        text = value.strip()
        if len(text) == 10:
            try:
                return dt.date.fromisoformat(text)
            except ValueError:
                pass
    problems.add(where, f"{label}应为 YYYY-MM-DD 格式的日期，如 2026-02-15")
    return None


def _year(value: Any, problems: _Problems) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not MIN_YEAR <= value <= MAX_YEAR:
        problems.add("year", f"年份应为 {MIN_YEAR} 到 {MAX_YEAR} 之间的整数")
        return None
    return value


def _check_days(year: int, days: list[tuple[str, NoticeDay]], problems: _Problems) -> tuple[NoticeDay, ...]:
    """The rules every notice obeys, whatever its format: dates inside the year, make-up working days on a
    Saturday or Sunday, no day both a rest day and a working day, no day twice."""
    seen: dict[dt.date, tuple[str, NoticeDay]] = {}
    for where, entry in days:
        day = entry.day
        if day.year != year:
            problems.add(where, f"{day_text(day)}不在 {year} 年内：每个文件只含一年的安排，"
                                f"该日期应写入 {day.year} 年的文件")
            continue
        if entry.kind == "workday" and day.weekday() < 5:
            problems.add(where, f"{entry.name}的调休上班日 {day_text(day)}不是周末：调休上班日必须是星期六或星期日")
        if day in seen:
            other_where, other = seen[day]
            if other.kind != entry.kind:
                rest, work = (other, entry) if other.kind == "restday" else (entry, other)
                problems.add(where, f"{day_text(day)}既是{rest.name}的放假日又是{work.name}的调休上班日"
                                    f"（另见 {other_where}）")
            else:
                problems.add(where, f"{day_text(day)}重复出现（另见 {other_where}）")
            continue
        seen[day] = (where, entry)
    return tuple(sorted((entry for _, entry in seen.values()), key=lambda d: d.day))


def _finish(year, title, ref, issued_on, days, problems: _Problems) -> Notice:
    if year is not None and issued_on is not None and issued_on.year not in (year - 1, year):
        problems.add("issued_on", f"发布日期 {issued_on.isoformat()} 应在 {year - 1} 年或 {year} 年")
    checked = _check_days(year, days, problems) if year is not None else ()
    if year is not None and not problems.items and not any(d.kind == "restday" for d in checked):
        problems.add("holidays", "没有任何放假日")
    problems.raise_if_any()
    return Notice(year, title, ref, issued_on, checked)


def parse_notice(data: Any) -> Notice:
    """A notice from its JSON document (a dict; dates as text or ``date``), fully validated."""
    problems = _Problems()
    if not isinstance(data, dict):
        problems.add("_schema", "节假日安排应为 JSON 对象")
        problems.raise_if_any()
    for key in sorted(set(data) - JSON_KEYS, key=str):
        problems.add(str(key), "不允许的字段")
    year = _year(data.get("year"), problems)
    title = _text(data.get("title"), "title", "通知标题", problems, max_length=200)
    ref = _text(data.get("ref"), "ref", "文号", problems, max_length=100, required=False)
    issued_on = _date(data["issued_on"], "issued_on", "发布日期", problems) if data.get("issued_on") else None
    holidays = data.get("holidays")
    days: list[tuple[str, NoticeDay]] = []
    if not isinstance(holidays, list) or not holidays:
        problems.add("holidays", "应为非空的列表：每个节日一项")
        holidays = []
    elif len(holidays) > MAX_HOLIDAYS:
        problems.add("holidays", f"节日不能超过 {MAX_HOLIDAYS} 个")
        holidays = []
    for i, holiday in enumerate(holidays):
        at = f"holidays.{i}"
        if not isinstance(holiday, dict):
            problems.add(at, "应为对象：{name, from, to, workdays}")
            continue
        for key in sorted(set(holiday) - HOLIDAY_KEYS, key=str):
            problems.add(f"{at}.{key}", "不允许的字段")
        name = _text(holiday.get("name"), f"{at}.name", "节日名称", problems, max_length=32)
        first = _date(holiday.get("from"), f"{at}.from", "放假首日", problems)
        last = _date(holiday.get("to"), f"{at}.to", "放假末日", problems)
        label = name or f"第 {i + 1} 个节日"
        if first and last:
            if last < first:
                problems.add(f"{at}.to", f"放假末日 {last.isoformat()} 早于放假首日 {first.isoformat()}")
            elif (last - first).days + 1 > MAX_BLOCK_DAYS:
                problems.add(f"{at}.to", f"一次放假不能超过 {MAX_BLOCK_DAYS} 天")
            else:
                day = first
                while day <= last:
                    days.append((f"{at}.from", NoticeDay(day, "restday", label)))
                    day += dt.timedelta(days=1)
        workdays = holiday.get("workdays", [])
        if workdays is None:
            workdays = []
        if not isinstance(workdays, list):
            problems.add(f"{at}.workdays", "应为日期列表（可为空）")
            continue
        if len(workdays) > MAX_WORKDAYS:
            problems.add(f"{at}.workdays", f"调休上班日不能超过 {MAX_WORKDAYS} 个")
            continue
        for j, value in enumerate(workdays):
            day = _date(value, f"{at}.workdays.{j}", "调休上班日", problems)
            if day:
                days.append((f"{at}.workdays.{j}", NoticeDay(day, "workday", label)))
    return _finish(year, title, ref, issued_on, days, problems)


def parse_notice_csv(text: str, *, title: str | None, year: int | None = None, ref: str | None = None,
                     issued_on: dt.date | str | None = None) -> Notice:
    """A notice from CSV rows ``日期,类型,名称`` (类型: 放假 or 上班); the year is given or taken from the
    first date, and every date must be inside it."""
    problems = _Problems()
    title = _text(title, "title", "通知标题（--title）", problems, max_length=200)
    ref = _text(ref, "ref", "文号", problems, max_length=100, required=False)
    issued = _date(issued_on, "issued_on", "发布日期", problems) if issued_on else None
    if year is not None:
        year = _year(year, problems)
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    days: list[tuple[str, NoticeDay]] = []
    header = tuple(cell.strip().lower() for cell in rows[0]) if rows else ()
    if header not in CSV_HEADERS:
        problems.add("第 1 行", "表头应为：日期,类型,名称")
        problems.raise_if_any()
    body = [(n, row) for n, row in enumerate(rows[1:], start=2) if any(cell.strip() for cell in row)]
    if not body:
        problems.add("第 2 行", "没有任何日期")
    for n, row in body:
        at = f"第 {n} 行"
        if len(row) != 3:
            problems.add(at, "应有 3 列：日期,类型,名称")
            continue
        day = _date(row[0], at, "日期", problems)
        kind = KIND_WORDS.get(row[1].strip().lower())
        if kind is None:
            problems.add(at, f"类型“{row[1].strip()[:20]}”应为“放假”或“上班”")
        name = _text(row[2], at, "节日名称", problems, max_length=32)
        if day and kind and name:
            if year is None and "year" not in problems.items:
                year = day.year if MIN_YEAR <= day.year <= MAX_YEAR else _year(day.year, problems)
            days.append((at, NoticeDay(day, kind, name)))
    return _finish(year, title, ref, issued, days, problems)


def read_notice_file(name: str, content: bytes, *, title: str | None = None, year: int | None = None,
                     ref: str | None = None, issued_on: str | None = None) -> Notice:
    """A notice from a file's bytes: ``.json`` or ``.csv`` (UTF-8, with or without BOM)."""
    if len(content) > MAX_BYTES:
        raise InvalidInput(f"文件过大：不能超过 {MAX_BYTES // 1024} KB", code="calendar.file_too_large")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidInput("文件不是 UTF-8 编码的文本", code="calendar.bad_file") from exc
    lower = name.lower()
    if lower.endswith(".json"):
        if title or year or ref or issued_on:
            raise InvalidInput("JSON 文件自带年份、标题、文号和发布日期，不能再用命令行选项指定",
                               code="calendar.bad_file")
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise InvalidInput(f"不是有效的 JSON：第 {getattr(exc, 'lineno', '?')} 行附近有误",
                               code="calendar.bad_file") from exc
        return parse_notice(data)
    if lower.endswith(".csv"):
        return parse_notice_csv(text, title=title, year=year, ref=ref, issued_on=issued_on)
    raise InvalidInput("只支持 .json 或 .csv 文件", code="calendar.bad_file")
