"""Penalty decisions (行政处罚决定), the national publicity system's exports, the 经营异常名录 review list."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.publication.penalties import SUMMARY_MAX
from schemas.base import BaseSchema, PageArgs, QueryId
from schemas.exports import async_flag

FORMAT = fields.String(load_default="xlsx", validate=validate.OneOf(["csv", "xlsx"]),
                       metadata={"description": "csv（UTF-8 带 BOM）或 xlsx"})


class PenaltyIn(BaseSchema):
    decision_no = fields.String(required=True, validate=validate.Length(min=2, max=64),
                                metadata={"description": "行政处罚决定书文号（本部门内唯一）"})
    decided_on = fields.Date(required=True, metadata={"description": "处罚决定日期（公示期限的第 0 天）"})
    summary = fields.String(required=True, validate=validate.Length(min=4, max=SUMMARY_MAX),
                            metadata={"description": f"公开的决定摘要（违法事实、处罚依据与内容，≤ {SUMMARY_MAX} 字）；"
                                                     "不得写当事人的个人信息"})


class PenaltyArgs(PageArgs):
    department_id = QueryId(load_default=None, metadata={"description": "部门（系统管理员、监督人员可选；其他只能本部门）"})
    inspection_id = QueryId(load_default=None)
    published = fields.Boolean(load_default=None, allow_none=True, metadata={"description": "是否已公示"})


class PublicPenaltyArgs(PageArgs):
    decision_no = fields.String(load_default=None, validate=validate.Length(max=64))
    department_id = QueryId(load_default=None, metadata={"description": "作出决定的部门"})
    from_ = fields.Date(load_default=None, data_key="from", metadata={"description": "决定日期起（含）"})
    to = fields.Date(load_default=None, metadata={"description": "决定日期止（含）"})


class PenaltyDeadlineOut(Schema):
    start_on = fields.Date(metadata={"description": "第 0 天：处罚决定日期"})
    days = fields.Integer(metadata={"description": "7 个工作日"})
    due_on = fields.Date()
    provisional = fields.Boolean()
    clock_start = fields.String(metadata={"enum": ["decision"], "description": "期限从哪一天起算"})
    clock_start_label = fields.String()
    state = fields.String(metadata={"enum": ["on_track", "due_soon", "overdue", "published"]})
    state_label = fields.String()


class PenaltyContentOut(Schema):
    decision_no = fields.String()
    decided_on = fields.String()
    authority = fields.Dict()
    business = fields.Dict()
    task = fields.Dict()
    summary = fields.String()
    inspection_record_hash = fields.String(allow_none=True)


class PenaltyOut(Schema):
    id = fields.Integer()
    inspection_id = fields.Integer()
    department_id = fields.Integer()
    decision_no = fields.String()
    decided_on = fields.Date()
    summary = fields.String()
    deadline = fields.Nested(PenaltyDeadlineOut)
    published_at = fields.DateTime(allow_none=True)
    content = fields.Nested(PenaltyContentOut, allow_none=True, metadata={"description": "公示的内容（发布后固定不变）"})
    created_at = fields.DateTime()


class PenaltyPreviewOut(Schema):
    id = fields.Integer()
    content = fields.Nested(PenaltyContentOut)


class PublicPenaltyOut(Schema):
    id = fields.Integer(metadata={"description": "永久链接 /api/public/penalties/<id>"})
    published_at = fields.DateTime()
    content = fields.Nested(PenaltyContentOut)
    content_sha256 = fields.String()


class ExportIn(BaseSchema):
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "公示日期起（含，北京时间）"})
    to = fields.Date(required=True, metadata={"description": "公示日期止（含）"})
    format = FORMAT
    department_id = fields.Integer(load_default=None, allow_none=True,
                                   metadata={"description": "系统管理员可选某部门（默认全部）；部门用户只能导出本部门"})


class ExportArgs(PageArgs):
    department_id = QueryId(load_default=None)


class ExportOut(Schema):
    id = fields.Integer()
    department_id = fields.Integer(allow_none=True)
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    format = fields.String()
    rows = fields.Integer()
    sha256 = fields.String()
    size = fields.Integer()
    file_name = fields.String()
    source = fields.String(metadata={"enum": ["api", "cli"]})
    job_id = fields.String(allow_none=True)
    created_at = fields.DateTime()
    download = fields.String()


class AbnormalArgs(PageArgs):
    department_id = QueryId(load_default=None, metadata={"description": "部门（系统管理员、监督人员可选；其他只能本部门）"})
    from_ = fields.Date(load_default=None, data_key="from", metadata={"description": "检查完成日期起（含）"})
    to = fields.Date(load_default=None, metadata={"description": "检查完成日期止（含）"})


class AbnormalFileArgs(AbnormalArgs):
    format = FORMAT
    async_ = async_flag()


class AbnormalRowOut(Schema):
    inspection_id = fields.Integer()
    target_id = fields.Integer()
    target_name = fields.String()
    target_code = fields.String(allow_none=True)
    address = fields.String(allow_none=True, metadata={"description": "登记住所（经营场所）"})
    task_id = fields.Integer()
    task_code = fields.String()
    task_name = fields.String()
    lead_department = fields.Dict()
    completed_on = fields.Date()
    result_categories = fields.List(fields.Dict())
