"""The sync protocol on the wire (docs/sync.md). Mutation arguments are checked by their handlers."""
from __future__ import annotations

from marshmallow import fields, validate

from schemas.base import BaseSchema, QuerySchema
from sync.protocol import DEFAULT_PULL_LIMIT, MAX_MUTATIONS, MAX_PULL_LIMIT


class MutationIn(BaseSchema):
    id = fields.Integer(required=True, metadata={"description": "本设备的变更编号：从 1 开始，每条加 1"})
    name = fields.String(required=True, metadata={"description": "变更类型，如 section.set（见 docs/sync.md）"})
    args = fields.Dict(required=True, metadata={"description": "变更参数（随类型而定）"})
    device_time = fields.String(allow_none=True, metadata={"description": "设备上产生这条变更的时间（ISO 8601，带时区）"})


class PushIn(BaseSchema):
    client_id = fields.String(required=True, metadata={"description": "设备编号（UUID），首次使用时归属当前账号"})
    mutations = fields.List(fields.Nested(MutationIn), required=True,
                            validate=validate.Length(min=1, max=MAX_MUTATIONS))


class MutationResultOut(BaseSchema):
    id = fields.Integer()
    status = fields.String(metadata={"enum": ["applied", "conflict", "rejected"]})
    replayed = fields.Boolean(metadata={"description": "此前已处理过（重复推送），返回的是当时的结果"})
    code = fields.String()
    message = fields.String()
    errors = fields.Raw()
    details = fields.Raw()
    revs = fields.Dict(metadata={"description": "写入（或未变）的字段及其当前版本号"})
    conflicts = fields.List(fields.Dict(), metadata={"description": "与他人修改冲突的字段（保留服务器上的值）"})
    inspection_id = fields.Integer()
    content_hash = fields.String()
    publication_due_on = fields.String()
    due_provisional = fields.Boolean()


class PushOut(BaseSchema):
    client_id = fields.String()
    last_mutation_id = fields.Integer(metadata={"description": "服务器已处理到的最后一条变更编号"})
    results = fields.List(fields.Nested(MutationResultOut))
    stopped = fields.Dict(metadata={"description": "编号不连续时停在哪里：{code: sync.gap, expected, got, message}"})


class PullArgs(QuerySchema):
    client_id = fields.String(required=True)
    cursor = fields.String(load_default=None, metadata={"description": "上次拉取返回的 cursor；首次拉取不带"})
    limit = fields.Integer(load_default=DEFAULT_PULL_LIMIT, validate=validate.Range(min=1, max=MAX_PULL_LIMIT),
                           metadata={"description": "一页最多带多少户检查（同一户的多次变化算一户）"})


class ChangeOut(BaseSchema):
    type = fields.String(metadata={"enum": ["task", "inspection"]})
    id = fields.Integer()
    op = fields.String(metadata={"enum": ["put", "del"]})
    data = fields.Raw(metadata={"description": "put：完整文档（见 docs/sync.md）"})
    reason_code = fields.String(metadata={"description": "del：离开手机的原因代码"})
    reason = fields.String()


class PullOut(BaseSchema):
    cursor = fields.String(metadata={"description": "下次拉取带上；保存到本地后再保存它"})
    has_more = fields.Boolean()
    last_mutation_id = fields.Integer()
    server_time = fields.String()
    changes = fields.List(fields.Nested(ChangeOut))


# --- the office side of the inspection record ----------------------------------------------------------

class InspectionListArgs(QuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))
    task_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    status = fields.String(validate=validate.OneOf(["assigned", "in_progress", "completed", "replaced", "superseded"]))
    deadline_state = fields.String(validate=validate.OneOf(["on_track", "due_soon", "overdue"]),
                                   metadata={"description": "公示期限状态：按期 / 5 个工作日内到期 / 已逾期"})


class RecordPdfArgs(QuerySchema):
    draft = fields.Boolean(load_default=False, metadata={
        "description": "1：提交前由组长预览草稿（标注“草稿”）；已提交的记录忽略此参数"})


class RecordPdfPendingOut(BaseSchema):
    """202: the PDF is being made by a background job; ask the same URL again after ``retry_after`` seconds."""

    state = fields.String(metadata={"enum": ["rendering"], "description": "rendering：正在生成"})
    job_id = fields.String(metadata={"description": "生成它的后台任务（GET /api/v1/jobs/<job_id>，可读取该记录的人均可查询）"})
    job_status = fields.String(metadata={"enum": ["queued", "running", "retrying"]})
    draft = fields.Boolean(metadata={"description": "true：组长预览的草稿"})
    retry_after = fields.Integer(metadata={"description": "建议多少秒后再取（同 Retry-After 响应头）"})
    message = fields.String()


class InspectionRowOut(BaseSchema):
    id = fields.Integer()
    task_id = fields.Integer()
    group_id = fields.Integer()
    status = fields.String()
    target_code = fields.Function(lambda i: i.target.code)
    target_name = fields.Function(lambda i: i.target.name)
    started_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_on = fields.Date(allow_none=True)
    publication_due_on = fields.Date(allow_none=True)
    due_provisional = fields.Boolean()
    published_at = fields.DateTime(allow_none=True)


class RecordPatchIn(BaseSchema):
    fields = fields.Dict(required=True, metadata={"description": "{路径: 值}，路径见 docs/sync.md 的 record.set"})


class ResolveIn(BaseSchema):
    choice = fields.String(required=True, validate=validate.OneOf(["server", "client"]))
    note = fields.String(validate=validate.Length(max=500))


class EmptyIn(BaseSchema):
    pass


class ActionOut(BaseSchema):
    status = fields.String()
    inspection_id = fields.Integer()
    content_hash = fields.String()
    publication_due_on = fields.String()
    due_provisional = fields.Boolean()
    revs = fields.Dict()
    etag = fields.String()


class TaskPublicationOut(BaseSchema):
    task_id = fields.Integer()
    task_code = fields.String()
    inspections = fields.Integer()
    by_status = fields.Dict()
    by_deadline_state = fields.Dict()
    latest_due_on = fields.String(allow_none=True)
    provisional = fields.Boolean()
    state = fields.String(allow_none=True)
    state_label = fields.String(allow_none=True)
