from __future__ import annotations

from marshmallow import fields, validate

from backend.draws.models import DRAW_STATUSES
from backend.draws.services import REPLACE_REASONS
from backend.inspections.models import INSPECTION_STATUSES
from backend.plans.services import MAX_ID
from schemas.base import BaseSchema, PageArgs, QuerySchema


class DrawOut(BaseSchema):
    task = fields.Function(lambda d: d.task.code)
    seq = fields.Integer(metadata={"description": "第几次摇号（1 为首次；重新抽取依次递增）"})
    status = fields.String(metadata={"enum": list(DRAW_STATUSES)})
    status_label = fields.Function(lambda d: DRAW_STATUSES.get(d.status, d.status))
    algorithm = fields.String()
    plan = fields.Dict()
    plan_hash = fields.String()
    targets_hash = fields.String()
    inspectors_hash = fields.String()
    commitment = fields.String(metadata={"description": "承诺值：在任何随机数产生之前公布"})
    counts = fields.Dict(metadata={"description": "各分层可抽取、排除（按原因）、应抽取数，需要的检查人员数"})
    committed_at = fields.DateTime()
    seed_source = fields.String(allow_none=True, metadata={"enum": ["dice", "csprng"]})
    dice = fields.String(allow_none=True, metadata={"description": "所用的骰子数字（种子由它计算）"})
    dice_entered = fields.String(allow_none=True, metadata={"description": "现场录入的原文（含分隔空格）"})
    witnesses = fields.List(fields.String(), allow_none=True)
    seed = fields.String(allow_none=True)
    drawn_at = fields.DateTime(allow_none=True)
    result = fields.Dict(allow_none=True)
    reason = fields.String(allow_none=True)
    superseded_reason = fields.String(allow_none=True)
    failed_attempts = fields.Function(
        lambda d: list(d.failed_attempts or []),
        metadata={"description": "未能完成抽取的随机数（每个都公开）：at、source、dice、seed、witnesses、error、message、details"})
    abandoned_reason = fields.String(allow_none=True, metadata={"description": "重新开放任务、放弃本次摇号的理由"})
    abandoned_at = fields.DateTime(allow_none=True)
    record_url = fields.Function(lambda d: f"/api/public/draws/{d.task.code}/record?seq={d.seq}")
    verify_url = fields.Function(
        lambda d: f"/draw/verify.html?record=/api/public/draws/{d.task.code}/record%3Fseq%3D{d.seq}")


class ReasonOut(BaseSchema):
    code = fields.String(metadata={"description": "稳定的原因代码，如 draw.too_few_inspectors"})
    message = fields.String(metadata={"description": "中文说明"})
    details = fields.Dict(metadata={"description": "原因的数据，如 {dept, have, need}"})


class PreviewDepartmentOut(BaseSchema):
    code = fields.String()
    name = fields.String()
    members_per_group = fields.Integer()
    available = fields.Integer(metadata={"description": "可抽取的检查人员数（在岗、具备所需执法资质）"})
    needed = fields.Integer(metadata={"description": "需要的人数：检查组数 × 每组人数"})
    unqualified = fields.Integer(metadata={"description": "因不具备所需执法资质而未纳入的在岗人员数"})
    required_qualifications = fields.List(fields.String(), metadata={"description": "本部门事项要求的执法资质"})


class PreviewOut(BaseSchema):
    can_draw = fields.Boolean(metadata={"description": "现在能否冻结名单并摇号；为 false 时 reasons 说明原因"})
    reasons = fields.List(fields.Nested(ReasonOut), metadata={"description": "不能摇号的原因（冻结名单时同样拒绝）"})
    warnings = fields.List(fields.Nested(ReasonOut),
                           metadata={"description": "能摇号，但可能失败的情形（如回避替换人员可能不足）"})
    departments = fields.List(fields.Nested(PreviewDepartmentOut),
                              metadata={"description": "各部门可抽取与需要的检查人员数"})
    targets = fields.Dict(metadata={"description": "各分层可抽取的对象数"})
    excluded = fields.Dict(metadata={"description": "按原因排除的对象数"})
    inspectors = fields.Dict(metadata={"description": "各部门可抽取的检查人员数"})
    unqualified = fields.Dict(metadata={"description": "各部门因不具备所需执法资质而未纳入的人数"})
    conflicts = fields.Integer()
    selected = fields.Dict(metadata={"description": "各分层应抽取数 k"})
    groups = fields.Integer()
    inspectors_needed = fields.Dict()


class ReopenIn(BaseSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500),
                           metadata={"description": "重新开放的理由（至少 4 个字），随摇号记录公开"})


class TaskExpertIn(BaseSchema):
    expert_id = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=2**31 - 1))
    group = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=99_999),
                           metadata={"description": "检查组编号（从 0 开始，与摇号记录一致）"})


class TaskExpertsIn(BaseSchema):
    experts = fields.List(fields.Nested(TaskExpertIn), required=True, validate=validate.Length(max=200),
                          metadata={"description": "选派的全部专家（整体替换；空列表即不选派）"})


class TaskExpertOut(BaseSchema):
    group = fields.Integer(attribute="group_number")
    expert_id = fields.Integer()
    code = fields.Function(lambda r: r.expert.code)
    name = fields.Function(lambda r: r.expert.name)
    organization = fields.Function(lambda r: r.expert.organization)
    title = fields.Function(lambda r: r.expert.title)
    department_code = fields.Function(lambda r: r.expert.department.code)
    attached_at = fields.DateTime()


class ExpertRefOut(BaseSchema):
    group = fields.Integer()
    id = fields.String(metadata={"description": "专家编号"})


class ExpertRecusalOut(BaseSchema):
    group = fields.Integer()
    expert = fields.String(metadata={"description": "专家编号"})
    target = fields.String(metadata={"description": "须回避的检查对象代码"})


class TaskExpertsOut(BaseSchema):
    task = fields.String()
    experts = fields.List(fields.Nested(TaskExpertOut), metadata={"description": "当前选派（摇号前可修改）"})
    committed = fields.List(fields.Nested(ExpertRefOut), allow_none=True,
                            metadata={"description": "当前摇号承诺值中的专家（plan.experts）；尚未冻结名单为 null"})
    recusals = fields.List(fields.Nested(ExpertRecusalOut), metadata={"description": "摇号后：专家须回避的检查对象"})


class CommitIn(BaseSchema):
    pass


class SeedIn(BaseSchema):
    source = fields.String(required=True, validate=validate.OneOf(["dice", "csprng"]),
                           metadata={"description": "dice：现场掷骰录入；csprng：无现场仪式时由服务器随机数生成（记录操作人）"})
    dice = fields.String(load_default=None, validate=validate.Length(max=1000),
                         metadata={"description": "见证人掷出的数字：20 至 200 位 0–9 半角数字，数字之间可用空格或换行"
                                                  "分隔（不计入）；其他字符一律拒绝并指明位置。原文与所用数字都保存并公开"})
    witnesses = fields.List(fields.String(validate=validate.Length(min=1, max=64)), load_default=None,
                            validate=validate.Length(max=20))


class RedrawIn(BaseSchema):
    reason = fields.String(required=True, validate=validate.Length(min=1, max=500))


class ReplaceIn(BaseSchema):
    # checked by the service, which explains why "unreachable" is not a reason (it is a result)
    reason_code = fields.String(required=True, validate=validate.Length(max=32),
                                metadata={"enum": list(REPLACE_REASONS),
                                          "description": "closed 已关闭停业 | deregistered 已注销 | revoked 已吊销。"
                                                         "无法联系的对象不替换，作为检查结果公示"})
    note = fields.String(load_default=None, validate=validate.Length(max=500))


class MemberOut(BaseSchema):
    inspector_id = fields.Integer()
    cert_no = fields.Function(lambda m: m.inspector.cert_no)
    name = fields.Function(lambda m: m.inspector.name)
    department = fields.Function(lambda m: m.inspector.department.code)
    department_name = fields.Function(lambda m: m.inspector.department.name)


class InspectionOut(BaseSchema):
    id = fields.Integer()
    task_id = fields.Integer()
    task_code = fields.Function(lambda i: i.task.code)
    task_name = fields.Function(lambda i: i.task.name)
    group_id = fields.Integer()
    stratum = fields.String()
    position = fields.Integer()
    status = fields.String(metadata={"enum": list(INSPECTION_STATUSES)})
    status_label = fields.Function(lambda i: INSPECTION_STATUSES.get(i.status, i.status))
    target_id = fields.Integer()
    target_code = fields.Function(lambda i: i.target.code)
    target_name = fields.Function(lambda i: i.target.name)
    target_address = fields.Function(lambda i: i.target.address)


class GroupOut(BaseSchema):
    id = fields.Integer()
    number = fields.Integer(metadata={"description": "组号，从 0 起，与摇号记录 result.groups 的下标一致"})
    leader_id = fields.Integer(metadata={"description": "组长的检查人员 id（/inspectors/<id>）"})
    leader_cert_no = fields.String(metadata={"description": "组长的执法证号，与摇号记录的 leader 相同"})
    leader_name = fields.String()
    members = fields.List(fields.Nested(MemberOut))
    inspections = fields.List(fields.Nested(InspectionOut))


class MyInspectionArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(list(INSPECTION_STATUSES)))
    task_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={"description": "只看这个任务的"})


class PublicDrawArgs(PageArgs):
    pass


class PublicDrawListArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=64), metadata={"description": "任务名称或编号的一部分"})
    department_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={"description": "牵头部门"})
    year = fields.Integer(validate=validate.Range(min=2000, max=2100), metadata={"description": "计划年度"})
    status = fields.String(validate=validate.OneOf(["committed", "drawn"]),
                           metadata={"description": "committed 已公布承诺值（待摇号）、drawn 已抽取"})


class PublicDrawRowOut(BaseSchema):
    task_code = fields.String()
    task_name = fields.String()
    seq = fields.Integer()
    status = fields.String(metadata={"enum": ["committed", "drawn"]})
    status_label = fields.String()
    department = fields.Nested(BaseSchema.from_dict({"id": fields.Integer(), "code": fields.String(),
                                                     "name": fields.String()}, name="PublicDrawDepartmentOut"))
    committed_at = fields.DateTime()
    drawn_at = fields.DateTime(allow_none=True)
    date = fields.Date(metadata={"description": "摇号（未摇号时为公布承诺值）的日期，北京时间"})
    candidates = fields.Integer(metadata={"description": "符合条件的检查对象户数（各分层合计）"})
    drawn = fields.Integer(metadata={"description": "抽取户数（各分层合计）"})
    url = fields.String(metadata={"description": "公示网站上该任务摇号的页面（打开即复核）"})
    record_url = fields.String()
    verify_url = fields.String()


class RecordArgs(QuerySchema):
    seq = fields.Integer(validate=validate.Range(min=1, max=MAX_ID), metadata={"description": "第几次摇号；缺省为当前有效的一次"})
