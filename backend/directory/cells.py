"""Cells of the list files: parsers that clean an imported cell (or say in Chinese why they cannot) and
formatters that write a value back out. The columns of each list (``specs.py``) are built from them.

No Flask here.
"""
from __future__ import annotations

import operator
import re
from decimal import Decimal, InvalidOperation
from typing import Any, Callable

from backend.directory import rules


class CellError(ValueError):
    """A cell that cannot be cleaned; ``reason`` is Chinese and may or may not name the column."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


# --- cell parsers (str → value; raise CellError) ---------------------------------------------------

_NUMBERING_RE = re.compile(r"^(?:\d{1,3}[、.．]|[（(]\d{1,3}[)）])\s*")
_LIST_SPLIT_RE = re.compile(r"[，,；;、\s]+")
_PHONE_RE = re.compile(r"^[0-9+\-()（）\s转,，/]{3,32}$")


def p_text(max_len: int) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if len(value) > max_len:
            raise CellError(f"不能超过 {max_len} 个字（现有 {len(value)} 个）")
        return value
    return parse


def p_code(regex: re.Pattern, reason: str, *, upper: bool = True, squeeze: bool = True) -> Callable[[str], str]:
    def parse(value: str) -> str:
        if squeeze:
            value = re.sub(r"\s+", "", value)
        if upper:
            value = value.upper()
        if not regex.match(value):
            raise CellError(reason)
        return value
    return parse


_USCC_VALUES = {c: i for i, c in enumerate(rules.USCC_ALPHABET)}
_USCC_WEIGHTS = rules.USCC_WEIGHTS


def p_uscc(value: str) -> str:
    if " " in value:
        value = value.replace(" ", "")
    value = value.upper()
    if rules.USCC_RE.match(value):  # fast path (100,000 rows): the same check as rules.uscc_problem
        total = sum(map(operator.mul, map(_USCC_VALUES.__getitem__, value[:17]), _USCC_WEIGHTS))
        if rules.USCC_ALPHABET[(31 - total % 31) % 31] == value[17]:
            return value
    raise CellError(rules.uscc_problem(value) or "统一社会信用代码有误")


def p_reg_no(value: str) -> str:
    value = value.replace(" ", "")
    problem = rules.reg_no_problem(value)
    if problem:
        raise CellError(problem)
    return value


def _lookup(mapping: dict[str, str], aliases: dict[str, str] | None) -> dict[str, str]:
    table: dict[str, str] = {}
    for code, label in mapping.items():
        table[code] = code
        table[code.lower()] = code
        table[code.upper()] = code
        table[label] = code
    for alias, code in (aliases or {}).items():
        table[alias] = code
    return table


def p_choice(mapping: dict[str, str], aliases: dict[str, str] | None = None, *,
             show_codes: bool = False) -> Callable[[str], str]:
    table = _lookup(mapping, aliases)
    shown = "、".join(f"{c}（{lbl}）" if show_codes else lbl for c, lbl in mapping.items())

    def parse(value: str) -> str:
        code = table.get(value) or table.get(value.replace(" ", ""))
        if code is None:
            raise CellError(f"“{value}”不是可选值，应为：{shown}")
        return code
    return parse


def p_multi(mapping: dict[str, str], aliases: dict[str, str] | None = None) -> Callable[[str], list[str]]:
    table = _lookup(mapping, aliases)
    shown = "、".join(mapping.values())

    def parse(value: str) -> list[str]:
        out: list[str] = []
        for part in _LIST_SPLIT_RE.split(value):
            if not part:
                continue
            code = table.get(part)
            if code is None:
                raise CellError(f"“{part}”不是可选值，应为：{shown}（多个用顿号“、”分隔）")
            if code not in out:
                out.append(code)
        return out
    return parse


def p_tags(value: str) -> list[str]:
    tags = rules.split_tags(value)
    if len(rules.tags_text(tags)) > rules.TAGS_MAX:
        raise CellError(f"内容过多（合计不能超过 {rules.TAGS_MAX} 个字符）")
    return tags


def p_list(max_items: int = 50, max_len: int = 64) -> Callable[[str], list[str]]:
    def parse(value: str) -> list[str]:
        items = rules.split_tags(value)
        if len(items) > max_items:
            raise CellError(f"不能超过 {max_items} 项")
        for item in items:
            if len(item) > max_len:
                raise CellError(f"每项不能超过 {max_len} 个字")
        return items
    return parse


def p_float(lo: float, hi: float, what: str) -> Callable[[str], float]:
    def parse(value: str) -> float:
        try:
            number = float(value.replace("°", ""))
        except ValueError:
            raise CellError("应为数字（度，保留小数，如 111.2003）") from None
        if not (lo <= number <= hi) or number != number:
            raise CellError(f"{what}应在 {lo:g} 与 {hi:g} 之间（中国境内）")
        return number
    return parse


def p_percent(value: str) -> Decimal:
    text = value.replace("％", "%").rstrip("%").strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise CellError("应为百分数，如 5 或 5%") from None
    if not number.is_finite():
        raise CellError("应为百分数，如 5 或 5%")
    if not (Decimal(0) < number <= Decimal(100)):
        raise CellError("应大于 0 且不超过 100")
    if number != number.quantize(Decimal("0.001")):  # Numeric(6, 3)
        raise CellError("最多保留 3 位小数")
    return number


def p_phone(value: str) -> str:
    if not _PHONE_RE.match(value):
        raise CellError("格式不正确（只能包含数字、+、-、括号和空格，不超过 32 位）")
    return value


def p_region(value: str) -> str:
    value = value.replace(" ", "")
    if not rules.REGION_CODE_RE.match(value):
        raise CellError("应为 6 位（县级及以上）或 9 位（乡镇、街道）数字")
    return value


ANSWER_TYPE_ALIASES = {"是否": "yes_no", "是/否题": "yes_no", "符合性": "compliance", "符合/不符合": "compliance",
                       "单选题": "choice", "多选题": "multi", "文本": "text", "文字题": "text", "数字": "number",
                       "拍照": "photo", "图片": "photo"}
_ANSWER_LOOKUP = _lookup(rules.ANSWER_TYPES, ANSWER_TYPE_ALIASES)


def p_check_points(value: str) -> list[tuple[str, str, list[str] | None]]:
    """检查内容: one check point per line, ``内容``, ``内容|作答方式`` or ``内容|单选|选项1、选项2``."""
    points: list[tuple[str, str, list[str] | None]] = []
    for n, line in enumerate(value.splitlines(), start=1):
        line = _NUMBERING_RE.sub("", line.strip()).strip()
        if not line:
            continue
        parts = [p.strip() for p in re.split(r"[|｜]", line)]
        text = parts[0]
        if not text:
            raise CellError(f"第 {n} 条检查内容为空")
        if len(text) > 500:
            raise CellError(f"第 {n} 条检查内容超过 500 个字")
        answer_type, options = "compliance", None
        if len(parts) > 1 and parts[1]:
            answer_type = _ANSWER_LOOKUP.get(parts[1])
            if answer_type is None:
                raise CellError(f"第 {n} 条的作答方式“{parts[1]}”不是可选值，应为："
                                + "、".join(rules.ANSWER_TYPES.values()))
        if len(parts) > 2 and parts[2]:
            options = [o.strip() for o in re.split(r"[、，,；;/]", parts[2]) if o.strip()]
        if len(parts) > 3:
            raise CellError(f"第 {n} 条检查内容的竖线“|”过多（格式：内容|作答方式|选项）")
        if answer_type in rules.CHOICE_TYPES:
            if not options or len(options) < 2:
                raise CellError(f"第 {n} 条为单选、多选题，至少需要两个选项（格式：内容|单选|选项1、选项2）")
            if len(set(options)) != len(options):
                raise CellError(f"第 {n} 条的选项重复")
        elif options:
            raise CellError(f"第 {n} 条：只有单选、多选题可以设置选项")
        points.append((text, answer_type, options))
    if len(points) > 200:
        raise CellError("检查内容不能超过 200 条")
    return points


CONFLICT_DEFAULT_REASON = "导入时申报"


def p_conflicts(value: str) -> list[tuple[str, str | None]]:
    """回避对象: target codes, one a line (or separated by ；/,/、), each ``代码`` or ``代码：理由``."""
    lines = [ln for ln in value.splitlines() if ln.strip()]
    if len(lines) == 1:
        lines = [p for p in re.split(r"[；;，,、]", lines[0]) if p.strip()]
    out: list[tuple[str, str | None]] = []
    seen: set[str] = set()
    for line in lines:
        code, reason = (re.split(r"[:：]", line.strip(), maxsplit=1) + [""])[:2]
        code = re.sub(r"\s+", "", code).upper()
        reason = reason.strip() or None
        if not code:
            raise CellError("回避对象的代码为空")
        if len(code) > 32:
            raise CellError(f"回避对象代码 {code[:32]}… 过长")
        if reason and len(reason) > 200:
            raise CellError("回避理由不能超过 200 个字")
        if code not in seen:
            seen.add(code)
            out.append((code, reason))
    return out


# --- cell formatters (value → str, for export) --------------------------------------------------------

def f_text(value: Any) -> str:
    return "" if value is None else str(value)


def f_label(mapping: dict[str, str]) -> Callable[[Any], str]:
    return lambda value: "" if value is None else mapping.get(value, str(value))


def f_multi(mapping: dict[str, str]) -> Callable[[Any], str]:
    return lambda value: "、".join(mapping.get(v, str(v)) for v in (value or []))


def f_list(value: Any) -> str:
    return "、".join(value or [])


def f_float(value: Any) -> str:
    return "" if value is None else repr(float(value))


def f_percent(value: Any) -> str:
    if value is None:
        return ""
    text = format(Decimal(value).normalize(), "f")
    return text


def f_check_points(points: Any) -> str:
    lines = []
    for text, answer_type, options in points or []:
        text = text.replace("\n", " ").replace("|", "｜")
        if answer_type in rules.CHOICE_TYPES:
            lines.append(f"{text}|{rules.ANSWER_TYPES[answer_type]}|{'、'.join(options or [])}")
        elif answer_type and answer_type != "compliance":
            lines.append(f"{text}|{rules.ANSWER_TYPES.get(answer_type, answer_type)}")
        else:
            lines.append(text)
    return "\n".join(lines)


def f_conflicts(conflicts: Any) -> str:
    return "\n".join(f"{code}：{reason.replace(chr(10), ' ')}" if reason else code for code, reason in conflicts or [])

