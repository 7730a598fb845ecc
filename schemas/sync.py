"""The sync protocol on the wire (docs/sync.md). Mutation arguments are checked by their handlers."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from schemas.base import BaseSchema, QuerySchema
from sync.protocol import DEFAULT_PULL_LIMIT, MAX_MUTATION_ID, MAX_MUTATIONS, MAX_PULL_LIMIT, NAME_RE, UUID_RE


class MutationIn(BaseSchema):
    id = fields.Integer(required=True, validate=validate.Range(min=1, max=MAX_MUTATION_ID),
                        metadata={"description": "本设备的变更编号：从 1 开始，每条加 1"})
    name = fields.String(required=True, validate=validate.Regexp(NAME_RE.pattern),
                         metadata={"description": "变更类型，如 section.set（见 docs/sync.md）；不认识的类型单条拒绝"})
    args = fields.Dict(required=True, metadata={"description": "变更参数（随类型而定）"})
    device_time = fields.String(allow_none=True, metadata={
        "description": "设备上产生这条变更的时间（ISO 8601，带时区）；早于 2000 年或晚于服务器时间 1 天以上的不予采用"})


class PushIn(BaseSchema):
    """Documents the body; the server checks it itself (docs/sync.md §3: sync.bad_batch for the whole push,
    one mutation's bad value refused alone)."""

    client_id = fields.String(required=True, validate=validate.Regexp(UUID_RE.pattern), metadata={
        "description": "设备编号：小写的 UUID 第 4 版，设备首次启动时随机生成；首次推送或拉取时归属当前账号"})
    mutations = fields.List(fields.Nested(MutationIn), required=True,
                            validate=validate.Length(min=1, max=MAX_MUTATIONS))


class DuePeriodOut(Schema):
    """A run of provisional days a publication deadline still waits for (docs/deadlines.md)."""

    from_ = fields.String(data_key="from", attribute="from", metadata={"description": "首日（含），YYYY-MM-DD"})
    to = fields.String(metadata={"description": "末日（含），YYYY-MM-DD"})
    year = fields.Integer(metadata={"description": "在等哪一年的国务院节假日安排通知"})
    holiday = fields.String(allow_none=True, metadata={"description": "在等哪个节日前后的放假调休；"
                                                                       "null：该年不在 2000–2100 年，暂按周一至周五"})
    label = fields.String(metadata={"description": "给人看的一句话"})


PERIODS_HELP = ("公示期限途经的暂定日子（放假调休尚待国务院通知），按连续的日子分段；期限已确定时为空。"
                "期限为 completed_on 之后第 20 个工作日（completed_on 当天不算）")


class ReinspectedFollowupOut(Schema):
    id = fields.Integer()
    state = fields.String(metadata={"enum": ["rectified", "unrectified"]})
    state_label = fields.String()


class MutationResultOut(Schema):
    id = fields.Integer(validate=validate.Range(min=1, max=MAX_MUTATION_ID))
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
    completed_on = fields.String(metadata={"description": "record.submit：检查完成日期（北京时间），公示期限从其次日起算"})
    publication_due_on = fields.String()
    due_provisional = fields.Boolean()
    clock_start = fields.String(metadata={"enum": ["submission", "inspected", "task_end"],
                                          "description": "公示期限从哪一天起算（部署设置 PUBLICATION_CLOCK_START）"})
    clock_start_label = fields.String()
    start_on = fields.String(metadata={"description": "第 0 天（起算日）"})
    provisional_periods = fields.List(fields.Nested(DuePeriodOut), metadata={"description": PERIODS_HELP})
    resolved = fields.List(fields.Integer(), metadata={"description": "conflict.resolve_many：处理了哪些冲突"})
    followup = fields.Nested(ReinspectedFollowupOut, metadata={
        "description": "复查检查的 record.submit：其后续处置复查后的状态（rectified 已整改 / unrectified 未整改）；"
                       "复查检查没有公示期限"})
    device_time_ignored = fields.Boolean(metadata={
        "description": "这条变更的 device_time 不可信（早于 2000 年或晚于服务器时间 1 天以上），按未提供处理"})


class PushOut(Schema):
    client_id = fields.String()
    last_mutation_id = fields.Integer(validate=validate.Range(min=0, max=MAX_MUTATION_ID),
                                      metadata={"description": "服务器已处理到的最后一条变更编号（新设备为 0）"})
    results = fields.List(fields.Nested(MutationResultOut))
    stopped = fields.Dict(metadata={"description": "本批在哪里停下：{code: sync.gap 或 sync.signer_limit, expected, "
                                                   "got, message}；从 expected 起再推送"})


class PullArgs(QuerySchema):
    client_id = fields.String(required=True, metadata={
        "description": "设备编号（小写的 UUID 第 4 版，否则 422 sync.bad_client）；首次拉取即归属当前账号",
        "pattern": UUID_RE.pattern})
    cursor = fields.String(load_default=None, metadata={"description": "上次拉取返回的 cursor；首次拉取不带"})
    limit = fields.Integer(load_default=DEFAULT_PULL_LIMIT, validate=validate.Range(min=1, max=MAX_PULL_LIMIT),
                           metadata={"description": "一页最多带多少户检查（同一户的多次变化算一户）"})


class ChangeOut(Schema):
    type = fields.String(metadata={"enum": ["task", "inspection"]})
    id = fields.Integer()
    op = fields.String(metadata={"enum": ["put", "del"]})
    data = fields.Raw(metadata={"description": "put：完整文档（见 docs/sync.md）"})
    reason_code = fields.String(metadata={"description": "del：离开手机的原因代码"})
    reason = fields.String()


class PullOut(Schema):
    cursor = fields.String(metadata={"description": "下次拉取带上；保存到本地后再保存它"})
    has_more = fields.Boolean()
    last_mutation_id = fields.Integer(validate=validate.Range(min=0, max=MAX_MUTATION_ID),
                                      metadata={"description": "服务器已处理本设备的最后一条变更编号（新设备为 0）"})
    server_time = fields.String()
    changes = fields.List(fields.Nested(ChangeOut))


class SignerVerifyIn(BaseSchema):
    inspection_id = fields.Integer(required=True, validate=validate.Range(min=1, max=2**31 - 1))
    scope = fields.String(required=True, validate=validate.OneOf(["section", "record"]),
                          metadata={"description": "section：为某部门的检查内容签名；record：为汇总记录签名"})
    department_id = fields.Integer(allow_none=True, validate=validate.Range(min=1, max=2**31 - 1),
                                   metadata={"description": "scope 为 section 时必填：签名的是哪个部门的检查内容"
                                                            "（record 时不用）"})
    username = fields.String(required=True, validate=validate.Length(min=1, max=256))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256))


class SignerOut(BaseSchema):
    user_id = fields.Integer()
    inspector_id = fields.Integer()
    name = fields.String(metadata={"description": "签名人姓名"})
    department_id = fields.Integer()
    department_name = fields.String()


class DeviceOut(Schema):
    client_id = fields.String()
    user_id = fields.Integer()
    label = fields.String(allow_none=True, metadata={"description": "设备名称（推送或拉取时的 X-Device-Label）"})
    created_at = fields.DateTime()
    last_push_at = fields.DateTime(allow_none=True)
    last_pull_at = fields.DateTime(allow_none=True, metadata={"description": "最近一次拉取（按小时记）"})
    last_seen_at = fields.DateTime(allow_none=True, metadata={"description": "最近一次推送或拉取"})
    last_mutation_id = fields.Integer(validate=validate.Range(min=0, max=MAX_MUTATION_ID))
    retired_at = fields.DateTime(allow_none=True, metadata={"description": "停用时间；在用的为 null"})


# --- the office side of the inspection record ----------------------------------------------------------

class InspectionListArgs(QuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000))
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200))
    task_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    status = fields.String(validate=validate.OneOf(["assigned", "in_progress", "completed", "replaced", "superseded"]))
    deadline_state = fields.String(validate=validate.OneOf(["on_track", "due_soon", "overdue"]),
                                   metadata={"description": "公示期限状态：按期 / 5 个工作日内到期 / 已逾期"})
    reinspection = fields.Boolean(metadata={
        "description": "true：只列后续处置的复查（followup_id 非空）；false：只列摇号抽中的检查；不传：全部"})


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
    target_code = fields.String()
    target_name = fields.String()
    started_at = fields.DateTime(allow_none=True)
    completed_at = fields.DateTime(allow_none=True)
    completed_on = fields.Date(allow_none=True, metadata={"description": "检查完成日期：公示期限从其次日起算"})
    publication_due_on = fields.Date(allow_none=True)
    due_provisional = fields.Boolean()
    clock_start = fields.String(metadata={"enum": ["submission", "inspected", "task_end"],
                                          "description": "公示期限从哪一天起算（已完成的检查）"})
    clock_start_label = fields.String()
    start_on = fields.Date(allow_none=True, metadata={"description": "第 0 天（起算日）"})
    provisional_periods = fields.List(fields.Nested(DuePeriodOut), metadata={"description": PERIODS_HELP})
    published_at = fields.DateTime(allow_none=True)
    followup_id = fields.Integer(allow_none=True, metadata={
        "description": "复查：它所复查的后续处置（GET /api/v1/followups/<id>）；摇号抽中的检查为 null"})


class RecordPatchIn(BaseSchema):
    fields = fields.Dict(required=True, metadata={"description": "{路径: 值}，路径见 docs/sync.md 的 record.set"})


class ResolveIn(BaseSchema):
    choice = fields.String(required=True, validate=validate.OneOf(["server", "client"]))
    note = fields.String(validate=validate.Length(max=500))


class ResolveManyIn(BaseSchema):
    choice = fields.String(required=True, validate=validate.OneOf(["server", "client"]))
    conflict_ids = fields.List(fields.Integer(validate=validate.Range(min=1, max=2**31 - 1)),
                               validate=validate.Length(min=1, max=500), load_default=None, metadata={
                                   "description": "要处理的冲突；不给则处理全部未处理的冲突（给 department_id 时只限该部门）"})
    department_id = fields.Integer(load_default=None, allow_none=True)
    note = fields.String(validate=validate.Length(max=500), load_default=None, allow_none=True)


class EmptyIn(BaseSchema):
    pass


class ActionOut(BaseSchema):
    status = fields.String()
    inspection_id = fields.Integer()
    resolved = fields.List(fields.Integer(), metadata={"description": "一次处理多个冲突时：处理了哪些"})
    content_hash = fields.String()
    completed_on = fields.String()
    publication_due_on = fields.String()
    due_provisional = fields.Boolean()
    clock_start = fields.String(metadata={"enum": ["submission", "inspected", "task_end"],
                                          "description": "公示期限从哪一天起算（部署设置 PUBLICATION_CLOCK_START）"})
    clock_start_label = fields.String()
    start_on = fields.String(metadata={"description": "第 0 天（起算日）"})
    provisional_periods = fields.List(fields.Nested(DuePeriodOut), metadata={"description": PERIODS_HELP})
    revs = fields.Dict()
    etag = fields.String()


class TaskPublicationOut(BaseSchema):
    task_id = fields.Integer()
    task_code = fields.String()
    inspections = fields.Integer()
    by_status = fields.Dict()
    by_deadline_state = fields.Dict()
    latest_due_on = fields.String(allow_none=True)
    provisional = fields.Boolean(metadata={"description": "有检查的公示期限是暂定的"})
    provisional_periods = fields.List(fields.Nested(DuePeriodOut), metadata={
        "description": "本任务各户暂定的公示期限途经的暂定日子（合并）"})
    state = fields.String(allow_none=True)
    state_label = fields.String(allow_none=True)
