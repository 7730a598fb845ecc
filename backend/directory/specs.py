"""The lists as files: one declarative ``ListSpec`` per list says, column by column, the Chinese header
officials use, the record field it fills, how a cell is cleaned (``cells.py``, with a Chinese reason when
it cannot be), how a value is written back out, whether it is required, an example for the template and
a note for the 填写说明 sheet. Imports (``imports.py``, ``importers.py``), exports (``exports.py``),
templates (``templates.py``) and the documentation of the columns all come from these specs, so they
cannot drift apart.

No Flask here.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from typing import Any, Callable

from backend.directory import rules
from backend.directory.cells import (f_check_points, f_conflicts, f_float, f_label, f_list, f_multi, f_percent, f_text,
                                     p_check_points, p_choice, p_code, p_conflicts, p_float, p_list, p_multi,
                                     p_percent, p_phone, p_reg_no, p_region, p_tags, p_text, p_uscc)
from backend.directory.readers import FileProblem
from backend.errors import DomainError

ITEM_CODE_RE = re.compile(r"^\S{1,32}$")


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
               p_code(rules.DIRECTORY_CODE_RE, "由字母、数字、点、下划线和连字符组成，不超过 32 位"), width=22,
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
        Column("专家编号", "code", p_code(rules.DIRECTORY_CODE_RE, "由字母、数字、点、下划线和连字符组成，不超过 32 位"),
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

