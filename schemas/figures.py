"""The supervisors' figures (统计指标): filters, the figures table, the series, the lists behind the numbers."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.figures.services import FIGURES, LEVELS, PARTS, RISK_CLASSES
from schemas.base import BaseSchema, PageArgs, QueryId, QuerySchema
from schemas.exports import async_flag

FIGURE_KEYS = list(FIGURES)


class FilterArgs(QuerySchema):
    period = fields.String(load_default=None, validate=validate.Length(max=10), metadata={
        "description": "统计期间：年（2026）、季度（2026-Q2）或月份（2026-05），按任务截止日期归属；默认本年"})
    department_id = QueryId(load_default=None, metadata={
        "description": "部门：该部门牵头或参加的任务（部门管理员只能查看本部门）"})
    region = fields.String(load_default=None, validate=validate.Length(max=9), metadata={
        "description": "行政区划代码（县 411203 含其下各乡镇，按代码前缀）：检查对象所在区划"})
    task_id = QueryId(load_default=None, metadata={"description": "任务"})
    plan_id = QueryId(load_default=None, metadata={"description": "年度抽查计划"})


class SeriesArgs(FilterArgs):
    figure = fields.String(required=True, validate=validate.OneOf(FIGURE_KEYS),
                           metadata={"description": "指标：" + "、".join(f"{k}（{f.label}）" for k, f in FIGURES.items())})


class ItemsArgs(FilterArgs, PageArgs):
    part = fields.String(load_default="numerator", validate=validate.OneOf(list(PARTS)), metadata={
        "description": "numerator 分子中的检查；denominator 分母中的检查；missing 在分母中而不在分子中的检查（如逾期未公示）"})


class ExportArgs(FilterArgs):
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["csv", "xlsx"]),
                           metadata={"description": "文件格式：xlsx（默认）或 csv"})


class ItemsExportArgs(ExportArgs):
    part = fields.String(load_default="numerator", validate=validate.OneOf(list(PARTS)), metadata={
        "description": "numerator 分子；denominator 分母；missing 在分母中而不在分子中的检查"})
    async_ = async_flag()


class ReportIn(BaseSchema):
    quarter = fields.String(required=True, validate=validate.Length(max=10), metadata={
        "description": "季度：2026-Q3（也接受 2026Q3），按任务截止日期归属"})
    department_id = fields.Integer(load_default=None, allow_none=True, validate=validate.Range(min=1, max=2**31 - 1),
                                   metadata={"description": "部门（部门管理员只能是本部门，不填即本部门）；不填：全部部门"})
    region = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=9), metadata={
        "description": "行政区划代码（县 411203 含其下各乡镇）；不填：全部区划"})


class ScopeOut(Schema):
    period = fields.String(required=True)
    from_ = fields.Date(required=True, data_key="from")
    to = fields.Date(required=True)
    department_id = fields.Integer(allow_none=True)
    region = fields.String(allow_none=True)
    task_id = fields.Integer(allow_none=True)
    plan_id = fields.Integer(allow_none=True)


class RiskRateOut(Schema):
    risk_class = fields.String(required=True, metadata={
        "enum": list(RISK_CLASSES), "description": "抽取时所在的风险等级分层（U：未分类；all：不分层抽取的任务）"})
    numerator = fields.Integer(required=True)
    denominator = fields.Integer(required=True)
    rate = fields.Float(required=True, allow_none=True)


class LevelRateOut(Schema):
    level = fields.String(required=True, metadata={"enum": list(LEVELS), "description": "部署任务的层级：省、市、县"})
    numerator = fields.Integer(required=True, metadata={"description": "该层级任务中检查完成的不同企业"})
    denominator = fields.Integer(required=True, metadata={"description": "区域内登记的企业"})
    rate = fields.Float(required=True, allow_none=True)
    target = fields.Float(required=True, metadata={"description": "该层级的覆盖率目标"})


class FigureOut(Schema):
    key = fields.String(required=True, metadata={"enum": FIGURE_KEYS})
    label = fields.String(required=True)
    numerator = fields.Integer(required=True)
    denominator = fields.Integer(required=True)
    rate = fields.Float(required=True, allow_none=True, metadata={
        "description": "分子 / 分母（0–1；进一次门、查多项事为每次进门的部门数）；分母为 0 时为 null"})
    target = fields.Float(required=True, allow_none=True, metadata={"description": "文件要求的目标值（如有）"})
    numerator_label = fields.String(required=True)
    denominator_label = fields.String(required=True)
    definition = fields.String(required=True, metadata={"description": "定义所在位置（docs/figures.md 的锚点）"})
    spared_visits = fields.Integer(metadata={"description": "进一次门、查多项事：联合检查为企业减少的进门次数"})
    by_risk_class = fields.List(fields.Nested(RiskRateOut), metadata={"description": "问题发现率：按抽取时的风险等级分层"})
    by_level = fields.List(fields.Nested(LevelRateOut), metadata={
        "description": "抽查覆盖率：按部署任务的层级（计划的层级）分列，目标省 0.5%、市 0.5%、县 2%（石家庄）"})


class FiguresOut(Schema):
    scope = fields.Nested(ScopeOut, required=True)
    figures = fields.List(fields.Nested(FigureOut), required=True)


class SeriesPointOut(FigureOut):
    period = fields.String(required=True, metadata={"description": "月份（2026-05）"})


class SeriesOut(Schema):
    scope = fields.Nested(ScopeOut, required=True)
    figure = fields.String(required=True)
    points = fields.List(fields.Nested(SeriesPointOut), required=True)


class FigureItemOut(Schema):
    id = fields.Integer(required=True)
    status = fields.String(required=True)
    task_id = fields.Integer(required=True)
    task_code = fields.String(required=True)
    task_name = fields.String(required=True)
    task_end_date = fields.Date(allow_none=True)
    target_id = fields.Integer(required=True)
    target_code = fields.String(required=True)
    target_name = fields.String(required=True)
    region_code = fields.String(allow_none=True)
    risk_class = fields.String(allow_none=True)
    completed_on = fields.Date(allow_none=True)
    publication_due_on = fields.Date(allow_none=True)
    published_at = fields.DateTime(allow_none=True)
    publication_exempt_at = fields.DateTime(allow_none=True)
    publication_state = fields.String(required=True, metadata={
        "enum": ["published", "exempt", "overdue", "unpublished", "open"],
        "description": "published 已公示；exempt 经批准不公开；overdue 逾期未公示；unpublished 已提交未公示；open 未完成"})
    record_url = fields.String(required=True, metadata={"description": "检查记录（办公端接口）"})
    pdf_url = fields.String(allow_none=True, metadata={"description": "检查记录表 PDF（已提交的检查）"})
