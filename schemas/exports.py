"""What every list exported through ``backend.jobs.exports`` accepts besides its filters."""
from __future__ import annotations

from marshmallow import fields, validate

from schemas.base import QuerySchema


def async_flag():
    return fields.Boolean(data_key="async", load_default=False, metadata={
        "description": "1：总作为后台任务导出（202 与任务；完成后从 /api/v1/jobs/<id>/file 下载）。"
                       "不指定时，超过 EXPORT_ASYNC_ROWS 条（默认 5000）也作为后台任务"})


class AsyncArgs(QuerySchema):
    async_ = async_flag()


def _register_file_args():
    from schemas.followups import FollowupArgs

    class RegisterFileArgs(FollowupArgs):
        async_ = async_flag()

    return RegisterFileArgs


RegisterFileArgs = _register_file_args()


class NationalFileArgs(QuerySchema):
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "公示日期起（含，北京时间）"})
    to = fields.Date(required=True, metadata={"description": "公示日期止（含）"})
    format = fields.String(load_default="xlsx", validate=validate.OneOf(["csv", "xlsx"]),
                           metadata={"description": "文件格式：xlsx（默认）或 csv"})
    department_id = fields.Integer(load_default=None, validate=validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "系统管理员可选某部门（默认全部）；部门用户只能导出本部门"})
    async_ = async_flag()
