"""File formats of the lists: Chinese column specs, CSV/XLSX readers and writers, templates, exports.

One declarative ``ListSpec`` per list says, column by column, the Chinese header officials use,
the record field it fills, how a cell is cleaned (with a Chinese reason when it cannot be), how a
value is written back out, whether it is required, an example for the template and a note for
the 填写说明 sheet. Imports (``imports.py``), exports, templates and the documentation of the
columns all come from these specs, so they cannot drift apart.

Readers (``readers.py``) stream rows within limits: CSV in UTF-8 (with or without BOM), UTF-16
(Excel's "Unicode 文本") or GB18030/GBK (Excel's default "CSV (逗号分隔)" on Chinese Windows),
detected from the bytes; XLSX through our own bounded streaming reader. Writers stream too: CSV in
UTF-8 with a BOM so that Excel opens it, XLSX through openpyxl's write-only workbook, from queries
read in batches.

No Flask here.
"""
from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import operator
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterable, Iterator

from backend.directory import rules
from backend.directory.readers import (  # noqa: F401 - the readers, re-exported for the importers
    FileProblem, Limits, Table, cell_text, clean, open_table, precheck)
from backend.errors import DomainError

# --- errors ---------------------------------------------------------------------------------------


class CellError(ValueError):
    """A cell that cannot be cleaned; ``reason`` is Chinese and may or may not name the column."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


def format_of(file_name: str | None) -> str:
    """``csv`` or ``xlsx`` from the file name; anything else is refused with a Chinese reason."""
    suffix = Path(file_name or "").suffix.lower().lstrip(".")
    if suffix in FORMATS:
        return suffix
    if suffix in ("xls", "et", "wps"):
        raise DomainError(f"不支持 .{suffix} 格式（Excel 97-2003 / WPS 表格），请在 Excel 或 WPS 中“另存为” .xlsx 或 .csv 后再导入",
                          code="import.unsupported_format", status=415)
    shown = f".{suffix}" if suffix else "无扩展名"
    raise DomainError(f"不支持的文件类型（{shown}），只能导入 .csv 或 .xlsx 文件",
                      code="import.unsupported_format", status=415)


# --- cell parsers (str → value; raise CellError) ---------------------------------------------------

_NUMBERING_RE = re.compile(r"^(?:\d{1,3}[、.．]|[（(]\d{1,3}[)）])\s*")
_LIST_SPLIT_RE = re.compile(r"[，,；;、\s]+")
_PHONE_RE = re.compile(r"^[0-9+\-()（）\s转,，/]{3,32}$")
DIRECTORY_CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9_.\-]{0,31}$")  # as directory/services.py (名录代码、专家编号)
ITEM_CODE_RE = re.compile(r"^\S{1,32}$")
TAGS_MAX = 500


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
    if len(rules.tags_text(tags)) > TAGS_MAX:
        raise CellError(f"内容过多（合计不能超过 {TAGS_MAX} 个字符）")
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
CHOICE_TYPES = {"choice", "multi"}


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
        if answer_type in CHOICE_TYPES:
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
        if answer_type in CHOICE_TYPES:
            lines.append(f"{text}|{rules.ANSWER_TYPES[answer_type]}|{'、'.join(options or [])}")
        elif answer_type and answer_type != "compliance":
            lines.append(f"{text}|{rules.ANSWER_TYPES.get(answer_type, answer_type)}")
        else:
            lines.append(text)
    return "\n".join(lines)


def f_conflicts(conflicts: Any) -> str:
    return "\n".join(f"{code}：{reason.replace(chr(10), ' ')}" if reason else code for code, reason in conflicts or [])


# --- specs ----------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Column:
    header: str                                   # the Chinese column header
    field: str                                    # key of the record the import builds / the export reads
    parse: Callable[[str], Any] = p_text(200)     # cleans a non-empty, stripped cell; raises CellError
    fmt: Callable[[Any], str] = f_text            # value → cell text for export
    required: bool = False                        # header and a value in every row are required
    example: str = ""                             # the template's example row
    note: str = ""                                # 填写说明
    choices: tuple[str, ...] = ()                 # allowed values (填写说明, drop-down in the XLSX template)
    aliases: tuple[str, ...] = ()                 # other headers accepted for the column
    width: int = 16                               # column width in XLSX files
    multi: bool = False                           # several values in one cell (no drop-down)


def _norm_header(text: str) -> str:
    text = re.sub(r"[\s\u3000*＊]", "", text or "")
    return text.replace("（", "(").replace("）", ")").replace("：", "").replace(":", "")


IGNORED_HEADERS = {"序号", "行号", "No.", "NO", "No"}


@dataclasses.dataclass(frozen=True)
class ListSpec:
    kind: str                                     # URL name: targets, inspectors, …
    title: str                                    # 检查对象名录库 (file names, sheet names)
    entity: str                                   # 检查对象 (messages)
    columns: tuple[Column, ...]
    any_of: tuple[str, ...] = ()                  # fields of which at least one column must be present
    notes: tuple[str, ...] = ()                   # list-specific lines of the 填写说明

    @property
    def headers(self) -> list[str]:
        return [c.header for c in self.columns]

    def column(self, field: str) -> Column:
        return next(c for c in self.columns if c.field == field)

    def file_name(self, fmt: str, today: dt.date | None = None) -> str:
        today = today or dt.datetime.now(dt.timezone(dt.timedelta(hours=8))).date()
        return f"{self.title}_{today:%Y%m%d}.{fmt}"

    def template_name(self, fmt: str) -> str:
        return f"{self.title}导入模板.{fmt}"

    def resolve(self, headers: list[str | None]) -> list[tuple[int, Column]]:
        """Map the file's header row to columns; a clear file-level error for what is wrong."""
        lookup: dict[str, Column] = {}
        for col in self.columns:
            for name in (col.header, *col.aliases):
                lookup[_norm_header(name)] = col
        found: list[tuple[int, Column]] = []
        unknown, duplicate, seen = [], [], {}
        for idx, raw in enumerate(headers):
            name = _norm_header(raw or "")
            if not name or name in IGNORED_HEADERS:
                continue
            col = lookup.get(name)
            if col is None:
                unknown.append(str(raw).strip())
                continue
            if col.field in seen:
                duplicate.append(str(raw).strip())
                continue
            seen[col.field] = idx
            found.append((idx, col))
        missing = [c.header for c in self.columns if c.required and c.field not in seen]
        any_missing = self.any_of and not any(f in seen for f in self.any_of)
        if unknown or duplicate or missing or any_missing:
            parts = []
            if missing:
                parts.append("缺少必填列：" + "、".join(f"“{h}”" for h in missing))
            if any_missing:
                parts.append("以下列至少需要一列：" + "、".join(f"“{self.column(f).header}”" for f in self.any_of))
            if unknown:
                parts.append("无法识别的列：" + "、".join(f"“{h}”" for h in unknown))
            if duplicate:
                parts.append("重复的列：" + "、".join(f"“{h}”" for h in duplicate))
            problems = {"missing": missing, "unknown": unknown, "duplicate": duplicate,
                        "any_of": [self.column(f).header for f in self.any_of] if any_missing else [],
                        "expected": self.headers}
            raise FileProblem(f"{self.title}的表头有误：{'；'.join(parts)}。第 1 行应为表头，请使用导入模板",
                              code="import.bad_header", errors=problems, details=problems)
        return found


def _example_uscc(first17: str) -> str:
    return first17 + rules.uscc_check_char(first17)


EX_USCC = _example_uscc("91411203MA9XK1W2Q")
EX_USCC_2 = _example_uscc("92411203MA9KLM3N4")

TARGET_TYPE_ALIASES = {"个体户": "individual", "农专社": "cooperative", "合作社": "cooperative", "公司": "enterprise",
                       "分公司": "branch"}
TARGET_STATUS_ALIASES = {"在业": "active", "开业": "active", "正常": "active", "歇业": "closed", "关闭": "closed",
                         "停业": "closed", "吊销": "revoked", "吊销营业执照": "revoked", "注销": "deregistered"}
RISK_ALIASES = {"低": "A", "一般": "B", "较高": "C", "高": "D", "A类": "A", "B类": "B", "C类": "C", "D类": "D"}
INSPECTOR_STATUS_ALIASES = {"休假": "on_leave", "请假": "on_leave", "正常": "active"}
EXPERT_STATUS_ALIASES = {"正常": "active", "停用": "suspended"}
ITEM_KIND_ALIASES = {"重点": "key", "一般": "general", "重点事项": "key", "一般事项": "general"}
METHOD_ALIASES = {"现场检查": "onsite", "实地核查": "onsite", "网络检查": "online", "检验": "testing", "检测": "testing",
                  "委托专业机构辅助": "agency", "采信其他部门结果或专业意见": "adopt", "采信": "adopt",
                  "行政部门检查结果或专业意见": "adopt"}
REGION_LEVEL_ALIASES = {"县": "county", "区": "county", "县级": "county", "乡镇": "town", "街道": "town", "乡": "town",
                        "镇": "town", "省级": "province", "市级": "city", "地市": "city"}
DATUM_ALIASES = {"WGS84": "WGS-84", "wgs84": "WGS-84", "wgs-84": "WGS-84", "GPS": "WGS-84", "GCJ02": "GCJ-02",
                 "gcj02": "GCJ-02", "gcj-02": "GCJ-02", "火星坐标": "GCJ-02", "高德": "GCJ-02", "腾讯": "GCJ-02"}

DEPARTMENT_NOTE = "填写部门代码（如 SAMR_SZ）或部门全称"

TARGETS = ListSpec(
    "targets", "检查对象名录库", "检查对象",
    (
        Column("统一社会信用代码", "uscc", p_uscc, example=EX_USCC, width=22,
               note="18 位，GB 32100-2015，系统会核对校验位；企业、个体工商户、农民专业合作社、分支机构填写"),
        Column("注册号", "reg_no", p_reg_no, width=18,
               note="15 位数字；没有统一社会信用代码的老登记主体填写"),
        Column("对象编码", "code",
               p_code(DIRECTORY_CODE_RE, "由字母、数字、点、下划线和连字符组成，不超过 32 位"), width=22,
               example=EX_USCC,
               note="抽取时使用的编码。登记主体即其统一社会信用代码（没有的取注册号），可留空；产品、项目、活动类必填名录编码"),
        Column("检查对象名称", "name", p_text(200), required=True, example="三门峡市陕州区示例商贸有限公司", width=30,
               aliases=("名称", "市场主体名称", "企业名称", "对象名称", "检查对象"), note="登记的全称"),
        Column("对象类型", "type", p_choice(rules.TARGET_TYPES, TARGET_TYPE_ALIASES), f_label(rules.TARGET_TYPES),
               required=True, example="企业", choices=tuple(rules.TARGET_TYPES.values()), width=14,
               aliases=("主体类型", "市场主体类型")),
        Column("住所（经营场所）", "address", p_text(300), example="河南省三门峡市陕州区大营镇示例路 18 号", width=36,
               aliases=("住所", "地址", "经营场所", "经营地址", "住所地址")),
        Column("行政区划代码", "region_code", p_region, example="411203", width=14,
               aliases=("区划代码", "所属区划代码", "所属行政区划代码"), note="6 位县级或 9 位乡镇、街道代码，须已在系统中登记"),
        Column("行业代码", "industry_code",
               p_code(rules.INDUSTRY_RE, "应为国民经济行业分类代码，如 C1311、F52、F5211"), example="F5211", width=12,
               aliases=("国民经济行业代码",), note="GB/T 4754 国民经济行业分类：门类字母加 2–4 位数字"),
        Column("信用风险分类", "risk_class", p_choice(rules.RISK_CLASSES, RISK_ALIASES, show_codes=True), example="B",
               choices=tuple(rules.RISK_CLASSES), width=12, aliases=("风险分类", "信用风险等级", "风险等级"),
               note="A 信用风险低、B 信用风险一般、C 信用风险较高、D 信用风险高；未分类留空"),
        Column("标签", "tags", p_tags, f_list, example="食品经营、连锁", width=20,
               note="多个用顿号“、”或逗号分隔"),
        Column("经度", "longitude", p_float(73, 136, "经度"), f_float, example="111.1035", width=12),
        Column("纬度", "latitude", p_float(3, 54, "纬度"), f_float, example="34.7206", width=12),
        Column("坐标系", "datum", p_choice({d: d for d in rules.DATUMS}, DATUM_ALIASES), example="GCJ-02", choices=rules.DATUMS, width=10,
               note="填写经纬度时必填：WGS-84（GPS）或 GCJ-02（高德、腾讯地图）"),
        Column("登记状态", "status", p_choice(rules.TARGET_STATUSES, TARGET_STATUS_ALIASES), f_label(rules.TARGET_STATUSES),
               example="存续", choices=tuple(rules.TARGET_STATUSES.values()), width=12, aliases=("状态", "经营状态"),
               note="留空：新增时为“存续”，更新时不变"),
        Column("法定代表人", "legal_rep", p_text(64), example="张三", width=12,
               aliases=("法定代表人（负责人）", "负责人", "经营者", "法定代表人/负责人")),
        Column("联系电话", "phone", p_phone, example="0398-1234567", width=16, aliases=("电话", "联系方式")),
        Column("维护部门", "department", p_text(64), example="SAMR_SZ", width=16,
               aliases=("维护部门代码", "所属部门"),
               note=DEPARTMENT_NOTE + "；部门管理员导入时只能是本部门，留空即为本部门"),
    ),
    any_of=("uscc", "reg_no", "code"),
    notes=("同一检查对象以统一社会信用代码（或注册号、对象编码）识别：已存在的更新，不存在的新增。",),
)

INSPECTORS = ListSpec(
    "inspectors", "执法检查人员名录库", "执法检查人员",
    (
        Column("执法证号", "cert_no", p_code(re.compile(r"^\S{1,32}$"), "不能超过 32 位"), required=True,
               example="豫A12345678", width=18, aliases=("执法证件号", "执法证编号", "执法证件号码"),
               note="同一人只登记一次；空格会被去掉，字母转为大写"),
        Column("姓名", "name", p_text(64), required=True, example="李四", width=10),
        Column("所属部门", "department", p_text(64), example="SAMR_SZ", width=16, aliases=("部门", "所属部门代码"),
               note=DEPARTMENT_NOTE + "；部门管理员导入时只能是本部门，留空即为本部门"),
        Column("职务", "position", p_text(64), example="科员", width=10),
        Column("行政区划代码", "region_code", p_region, example="411203", width=14, aliases=("区划代码",)),
        Column("联系电话", "phone", p_phone, example="13800000000", width=16, aliases=("电话", "手机号码", "手机")),
        Column("执法资格", "qualifications", p_list(), f_list, example="行政执法证、食品检查员", width=20,
               note="多个用顿号“、”分隔"),
        Column("专业特长", "expertise", p_tags, f_list, example="食品、特种设备", width=20, aliases=("专业领域", "业务专长"),
               note="多个用顿号“、”分隔；抽取时可按专业筛选"),
        Column("状态", "status", p_choice(rules.INSPECTOR_STATUSES, INSPECTOR_STATUS_ALIASES),
               f_label(rules.INSPECTOR_STATUSES), example="在岗", choices=tuple(rules.INSPECTOR_STATUSES.values()),
               width=10, aliases=("在岗状态",), note="留空：新增时为“在岗”，更新时不变"),
        Column("回避对象", "conflicts", p_conflicts, f_conflicts, example=f"{EX_USCC}：亲属关系", width=30,
               aliases=("利害关系回避对象", "需回避的检查对象"),
               note="与本人有利害关系、须回避的检查对象编码（统一社会信用代码），一行一个，可写“代码：理由”；"
                    "有此列时以文件为准（未列出的原有回避记录将停用），无此列时不改动"),
    ),
)

EXPERTS = ListSpec(
    "experts", "专家库", "专家",
    (
        Column("专家编号", "code", p_code(DIRECTORY_CODE_RE, "由字母、数字、点、下划线和连字符组成，不超过 32 位"),
               required=True, example="ZJ-0001", width=14, aliases=("编号",)),
        Column("姓名", "name", p_text(64), required=True, example="王五", width=10),
        Column("工作单位", "organization", p_text(128), example="三门峡市特种设备检验所", width=26, aliases=("单位",)),
        Column("职称", "title", p_text(64), example="高级工程师", width=12),
        Column("专业领域", "fields", p_tags, f_list, example="特种设备、压力容器", width=20, aliases=("专业",),
               note="多个用顿号“、”分隔"),
        Column("联系电话", "phone", p_phone, example="13900000000", width=16, aliases=("电话", "手机")),
        Column("所属部门", "department", p_text(64), example="SAMR_SZ", width=16, aliases=("部门",),
               note=DEPARTMENT_NOTE + "；部门管理员导入时只能是本部门，留空即为本部门"),
        Column("状态", "status", p_choice(rules.EXPERT_STATUSES, EXPERT_STATUS_ALIASES), f_label(rules.EXPERT_STATUSES),
               example="在库", choices=tuple(rules.EXPERT_STATUSES.values()), width=10,
               note="留空：新增时为“在库”，更新时不变"),
    ),
)

ITEMS = ListSpec(
    "items", "抽查事项清单", "抽查事项",
    (
        Column("事项编码", "code", p_code(ITEM_CODE_RE, "不能含空格，不超过 32 位", upper=False, squeeze=False),
               required=True, example="SCJG-DJ-001", width=16, aliases=("编码", "事项代码")),
        Column("抽查类别", "category", p_text(64), required=True, example="登记事项检查", width=16),
        Column("抽查事项", "name", p_text(200), required=True, example="营业执照（登记证）规范使用情况的检查", width=34,
               aliases=("事项名称",)),
        Column("检查对象", "object_types", p_multi(rules.TARGET_TYPES, TARGET_TYPE_ALIASES), f_multi(rules.TARGET_TYPES),
               required=True, example="企业、个体工商户、农民专业合作社", choices=tuple(rules.TARGET_TYPES.values()), width=26,
               aliases=("检查对象类型",), note="多个用顿号“、”分隔", multi=True),
        Column("事项类型", "kind", p_choice(rules.ITEM_KINDS, ITEM_KIND_ALIASES), f_label(rules.ITEM_KINDS), required=True,
               example="一般检查事项", choices=tuple(rules.ITEM_KINDS.values()), width=14, aliases=("事项类别",)),
        Column("检查方式", "methods", p_multi(rules.METHODS, METHOD_ALIASES), f_multi(rules.METHODS), required=True,
               example="实地检查、网络监测", choices=tuple(rules.METHODS.values()), width=22, aliases=("抽查方式",),
               note="多个用顿号“、”分隔", multi=True),
        Column("检查依据", "legal_basis", p_text(20000), example="《市场主体登记管理条例》第三十六条", width=36,
               aliases=("抽查依据", "依据")),
        Column("检查主体", "department", p_text(64), example="SAMR_SZ", width=16, aliases=("所属部门", "实施部门"),
               note=DEPARTMENT_NOTE + "；部门管理员导入时只能是本部门，留空即为本部门"),
        Column("抽查比例上限（%）", "ratio_cap_percent", p_percent, f_percent, example="5", width=12,
               aliases=("抽查比例上限", "抽查比例（%）", "抽查比例", "抽查比例上限%"),
               note="只有一般检查事项可以填写，大于 0 且不超过 100；重点检查事项留空"),
        Column("抽查频次", "frequency", p_text(64), example="每年不少于一次", width=14),
        Column("检查内容", "check_points", p_check_points, f_check_points,
               example="营业执照是否在住所醒目位置悬挂\n登记事项是否与实际一致|是/否\n经营范围情况|单选|一致、不一致", width=40,
               aliases=("检查要点", "检查内容清单"),
               note="一行一条（单元格内 Alt+Enter 换行）；可写“内容|作答方式”，单选、多选写“内容|单选|选项1、选项2”；"
                    "作答方式默认“符合/不符合/不适用”。有此列时以文件为准（多出的原有内容将停用）",
               choices=tuple(rules.ANSWER_TYPES.values()), multi=True),
        Column("备注", "remark", p_text(2000), width=16),
    ),
)

DEPARTMENTS = ListSpec(
    "departments", "部门名录", "部门",
    (
        Column("部门代码", "code",
               p_code(rules.DEPT_CODE_RE, "应以大写字母开头，由大写字母、数字和下划线组成，2–16 位"),
               required=True, example="SAMR_SZ", width=14, aliases=("代码",)),
        Column("部门名称", "name", p_text(64), required=True, example="三门峡市陕州区市场监督管理局", width=30,
               aliases=("名称", "部门全称")),
        Column("简称", "short_name", p_text(16), example="陕州区市场监管局", width=16, aliases=("部门简称",)),
        Column("行政区划代码", "region_code", p_region, example="411203", width=14, aliases=("区划代码",)),
    ),
)

REGIONS = ListSpec(
    "regions", "行政区划", "行政区划",
    (
        Column("区划代码", "code", p_region, required=True, example="411203001", width=14,
               aliases=("行政区划代码", "代码")),
        Column("区划名称", "name", p_text(64), required=True, example="大营镇", width=16, aliases=("名称", "行政区划名称")),
        Column("级别", "level", p_choice(rules.REGION_LEVELS, REGION_LEVEL_ALIASES), f_label(rules.REGION_LEVELS),
               example="乡镇/街道", choices=tuple(rules.REGION_LEVELS.values()), width=10, aliases=("层级",),
               note="可留空，按代码推断（9 位为乡镇/街道）"),
        Column("上级区划代码", "parent_code", p_region, example="411203", width=14, aliases=("上级代码",),
               note="须已在系统中或在本文件中"),
    ),
)

SPECS: dict[str, ListSpec] = {s.kind: s for s in (TARGETS, INSPECTORS, ITEMS, DEPARTMENTS, REGIONS, EXPERTS)}
LIST_KINDS = tuple(SPECS)


def spec_for(kind: str, code: str = "import.unknown_list") -> ListSpec:
    spec = SPECS.get(kind)
    if spec is None:
        raise DomainError(f"没有名为“{kind}”的名录，可选：{'、'.join(LIST_KINDS)}", code=code, status=404)
    return spec


# --- writers ---------------------------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@")


def _csv_safe(text: str) -> str:
    """Excel runs a CSV cell starting with = + - @ as a formula: prefix it (the reader takes it off)."""
    if text and text[0] in _FORMULA_START:
        try:
            float(text)
        except ValueError:
            return "'" + text
    return text


def write_csv(out: BinaryIO, headers: list[str], rows: Iterable[list[str]]) -> int:
    """UTF-8 with BOM (Excel recognises it), CRLF lines; returns the number of data rows."""
    text = io.TextIOWrapper(out, encoding="utf-8-sig", newline="", write_through=False)
    writer = csv.writer(text)
    writer.writerow(headers)
    count = 0
    for row in rows:
        writer.writerow([_csv_safe(v) for v in row])
        count += 1
    text.flush()
    text.detach()
    return count


def _header_cells(ws, spec: ListSpec | None, headers: list[str]):
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Alignment, Font, PatternFill

    required = {c.header for c in spec.columns if c.required} if spec else set()
    fill = PatternFill("solid", fgColor="DDEBF7")
    cells = []
    for h in headers:
        cell = WriteOnlyCell(ws, value=h)
        cell.font = Font(bold=True, color="C00000" if h in required else "000000")
        cell.fill = fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        cells.append(cell)
    return cells


def write_xlsx(out: BinaryIO | str | Path, title: str, headers: list[str], rows: Iterable[list[str]],
               spec: ListSpec | None = None) -> int:
    """A write-only workbook (constant memory); every value is written as text."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.utils import get_column_letter

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=title[:31])
    widths = {c.header: c.width for c in spec.columns} if spec else {}
    for i, h in enumerate(headers, start=1):
        ws.column_dimensions[get_column_letter(i)].width = widths.get(h, 16)
    ws.freeze_panes = "A2"
    ws.append(_header_cells(ws, spec, headers))
    count = 0
    for row in rows:
        values: list[Any] = row
        if any(v and v[0] == "=" for v in row):  # a text value must not become a formula
            values = []
            for v in row:
                if v and v[0] == "=":
                    cell = WriteOnlyCell(ws, value=v)
                    cell.data_type = "s"
                    values.append(cell)
                else:
                    values.append(v)
        ws.append([v if v != "" else None for v in values])
        count += 1
    wb.save(out)
    return count


def write_table(out: BinaryIO, fmt: str, spec: ListSpec, rows: Iterable[list[str]]) -> int:
    if fmt == "csv":
        return write_csv(out, spec.headers, rows)
    return write_xlsx(out, spec.title, spec.headers, rows, spec)


# --- templates -------------------------------------------------------------------------------------------

GENERAL_NOTES = (
    "第 1 行为表头，请勿修改列名；列的顺序可以调整，不需要的非必填列可以删除。",
    "红色表头为必填列。示例行（第 2 行）仅供参考，导入前请删除或改为实际数据。",
    "整个文件全部校验通过才会导入；有任何一行出错，系统列出出错的行号和原因，不导入任何数据。",
    "已存在的记录（按编码识别）会被更新：文件中有的列以文件为准，文件中没有的列保持不变。",
    "用 Excel 编辑 CSV 时，长数字代码可能被改成科学计数法，建议使用 XLSX 模板；CSV 请保存为 UTF-8 或 GBK 编码。",
)


def template_bytes(spec: ListSpec, fmt: str) -> bytes:
    out = io.BytesIO()
    example = [c.example for c in spec.columns]
    if fmt == "csv":
        write_csv(out, spec.headers, [example])
        return out.getvalue()
    _template_xlsx(out, spec, example)
    return out.getvalue()


def _template_xlsx(out: BinaryIO, spec: ListSpec, example: list[str]) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = Workbook()
    ws = wb.active
    ws.title = spec.title[:31]
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    for i, col in enumerate(spec.columns, start=1):
        cell = ws.cell(row=1, column=i, value=col.header)
        cell.font = Font(bold=True, color="C00000" if col.required else "000000")
        cell.fill = header_fill
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
        ex = ws.cell(row=2, column=i, value=col.example or None)
        ex.data_type = "s" if col.example else ex.data_type
        ex.number_format = "@"
        ex.font = Font(color="808080", italic=True)
        ex.alignment = Alignment(wrap_text=True, vertical="top")
        letter = get_column_letter(i)
        ws.column_dimensions[letter].width = col.width
        # cells typed as text so Excel keeps long codes (USCC, 注册号) as they are
        for row in range(3, 202):
            ws.cell(row=row, column=i).number_format = "@"
        if col.choices and not col.multi and len(",".join(col.choices)) < 250:
            dv = DataValidation(type="list", formula1='"' + ",".join(col.choices) + '"', allow_blank=True,
                                showErrorMessage=False)
            dv.add(f"{letter}2:{letter}10001")
            ws.add_data_validation(dv)
    ws.freeze_panes = "A2"

    notes = wb.create_sheet("填写说明")
    notes.column_dimensions["A"].width = 22
    notes.column_dimensions["B"].width = 10
    notes.column_dimensions["C"].width = 70
    notes.column_dimensions["D"].width = 30
    notes.column_dimensions["E"].width = 40
    notes.append([f"{spec.title}导入说明"])
    notes["A1"].font = Font(bold=True, size=14)
    for n, line in enumerate(GENERAL_NOTES + spec.notes, start=1):
        notes.append([f"{n}. {line}"])
    notes.append([])
    notes.append(["列名", "是否必填", "填写说明", "示例", "可选值"])
    for cell in notes[notes.max_row]:
        cell.font = Font(bold=True)
        cell.fill = header_fill
    for col in spec.columns:
        also = f"（也可写作：{'、'.join(col.aliases)}）" if col.aliases else ""
        notes.append([col.header, "必填" if col.required else "选填", (col.note or "") + also, col.example,
                      "、".join(col.choices)])
        for cell in notes[notes.max_row]:
            cell.alignment = Alignment(wrap_text=True, vertical="top")
    wb.save(out)


# --- exports ---------------------------------------------------------------------------------------------

EXPORT_BATCH = 2000


def _query_for(actor, kind: str, filters: dict):
    """The list's own query (same filters and department scope as the list endpoints)."""
    from backend.directory import departments, experts, inspectors, items, regions, targets

    if kind == "targets":
        return targets.targets_query(actor, filters)
    if kind == "inspectors":
        return inspectors.inspectors_query(actor, filters)
    if kind == "experts":
        return experts.experts_query(actor, filters)
    if kind == "items":
        return items.items_query(filters)
    if kind == "departments":
        return departments.departments_query(filters)
    return regions.regions_query(filters)


def _export_source(kind: str):
    """(model, natural key column that orders and pages the export, selected columns) of a list."""
    from backend.directory.models import Department, Expert, Inspector, Item, Region, Target

    if kind == "targets":
        cols = (Target.id, Target.code, Target.uscc, Target.reg_no, Target.name, Target.type, Target.address,
                Target.region_code, Target.industry_code, Target.risk_class, Target.tags_text, Target.longitude,
                Target.latitude, Target.datum, Target.status, Target.legal_rep, Target.phone, Target.department_id)
        return Target, Target.code, cols
    if kind == "inspectors":
        cols = (Inspector.id, Inspector.cert_no, Inspector.name, Inspector.department_id, Inspector.position,
                Inspector.region_code, Inspector.phone, Inspector.qualifications, Inspector.expertise_text,
                Inspector.status)
        return Inspector, Inspector.cert_no, cols
    if kind == "experts":
        cols = (Expert.id, Expert.code, Expert.name, Expert.organization, Expert.title, Expert.fields_text,
                Expert.phone, Expert.department_id, Expert.status)
        return Expert, Expert.code, cols
    if kind == "items":
        cols = (Item.id, Item.code, Item.category, Item.name, Item.object_types, Item.kind, Item.methods,
                Item.legal_basis, Item.department_id, Item.ratio_cap_percent, Item.frequency, Item.remark)
        return Item, Item.code, cols
    if kind == "departments":
        cols = (Department.id, Department.code, Department.name, Department.short_name, Department.region_code)
        return Department, Department.code, cols
    cols = (Region.code, Region.name, Region.level, Region.parent_code)
    return Region, Region.code, cols


def export_count(session, actor, kind: str, filters: dict) -> int:
    from sqlalchemy import func, select

    stmt = _query_for(actor, kind, filters)
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))


def export_records(session, actor, kind: str, filters: dict, batch: int = EXPORT_BATCH) -> Iterator[dict]:
    """Records of the list (the import's field names), read in batches by the natural key."""
    from sqlalchemy import select

    from backend.directory.models import CheckPoint, Department, InspectorConflict, Target

    base = _query_for(actor, kind, filters)
    model, key, cols = _export_source(kind)
    where = base.whereclause
    dept_codes = dict(session.execute(select(Department.id, Department.code)).all()) \
        if kind in ("targets", "inspectors", "experts", "items") else {}
    last = None
    while True:
        stmt = select(*cols)
        if where is not None:
            stmt = stmt.where(where)
        if last is not None:
            stmt = stmt.where(key > last)
        rows = session.execute(stmt.order_by(key).limit(batch)).mappings().all()
        if not rows:
            return
        last = rows[-1][key.key]
        children: dict[int, list] = {}
        if kind == "items":
            ids = [r["id"] for r in rows]
            for item_id, text, answer_type, options in session.execute(
                    select(CheckPoint.item_id, CheckPoint.text, CheckPoint.answer_type, CheckPoint.options)
                    .where(CheckPoint.item_id.in_(ids), CheckPoint.retired_at.is_(None))
                    .order_by(CheckPoint.item_id, CheckPoint.seq)):
                children.setdefault(item_id, []).append((text, answer_type, options))
        elif kind == "inspectors":
            ids = [r["id"] for r in rows]
            for inspector_id, code, reason in session.execute(
                    select(InspectorConflict.inspector_id, Target.code, InspectorConflict.reason)
                    .join(Target, Target.id == InspectorConflict.target_id)
                    .where(InspectorConflict.inspector_id.in_(ids), InspectorConflict.retired_at.is_(None))
                    .order_by(InspectorConflict.inspector_id, Target.code)):
                children.setdefault(inspector_id, []).append((code, reason))
        for r in rows:
            rec = dict(r)
            if "department_id" in rec:
                rec["department"] = dept_codes.get(rec["department_id"])
            if kind == "targets":
                rec["tags"] = rules.tags_from_text(rec["tags_text"])
            elif kind == "inspectors":
                rec["expertise"] = rules.tags_from_text(rec["expertise_text"])
                rec["conflicts"] = children.get(rec["id"], [])
            elif kind == "experts":
                rec["fields"] = rules.tags_from_text(rec["fields_text"])
            elif kind == "items":
                rec["check_points"] = children.get(rec["id"], [])
            yield rec


def export_rows(session, actor, kind: str, filters: dict,
                progress: Callable[[int], None] | None = None) -> Iterator[list[str]]:
    spec = spec_for(kind)
    formatters = [(c.field, c.fmt) for c in spec.columns]
    for n, rec in enumerate(export_records(session, actor, kind, filters), start=1):
        yield [fmt(rec.get(field)) for field, fmt in formatters]
        if progress is not None and n % EXPORT_BATCH == 0:
            progress(n)


def export_to(out: BinaryIO, session, actor, kind: str, fmt: str, filters: dict | None = None,
              progress: Callable[[int], None] | None = None) -> int:
    """Write the list (filtered and scoped like the list endpoint) to ``out``; the number of rows."""
    spec = spec_for(kind, "export.unknown_list")
    return write_table(out, fmt, spec, export_rows(session, actor, kind, filters or {}, progress))


def content_disposition(file_name: str, fallback: str) -> str:
    """``attachment`` with an ASCII fallback name and the real (Chinese) name per RFC 5987/6266."""
    from urllib.parse import quote

    return f'attachment; filename="{fallback}"; filename*=UTF-8\'\'{quote(file_name, safe="")}'
