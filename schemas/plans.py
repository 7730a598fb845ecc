"""Plans (年度抽查计划) and tasks (抽查任务): the wire contract.

Input schemas check types and lengths; the rules (vocabularies, ratios, caps, who may do
what) are the services' (``backend.plans.services``), with stable ``plan.*`` / ``task.*`` codes.
"""
from __future__ import annotations

from marshmallow import ValidationError, fields, validate

from backend.directory.rules import ITEM_KINDS
from backend.plans.models import PLAN_STATUSES, TASK_DEPT_STATUSES, TASK_STATUSES
from backend.plans.common import PLAN_LEVELS
from backend.plans.services import DEPT_ROLES, MAX_ID, PLAN_KINDS, RATIO_KEYS, STRATA_MODES
from schemas.base import BaseSchema, PageArgs

CODE_RE = r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,31}$"  # no "|" or spaces: the code is part of the draw's messages


def no_nul(value: str) -> None:
    if "\x00" in value:
        raise ValidationError("不能包含空字符")


def _id(strict: bool = True, **kw):
    """A row id: a JSON integer in bodies (strict), digits in query strings."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_ID), **kw)


def _text(max_len: int, min_len: int = 0, **kw):
    return fields.String(validate=[validate.Length(min=min_len, max=max_len), no_nul], **kw)


def _code(**kw):
    return fields.String(validate=[validate.Regexp(CODE_RE, error="只能包含字母、数字、点、下划线和连字符（不超过 32 位）"),
                                   no_nul], **kw)


# --- input -----------------------------------------------------------------------------------

def _level(**kw):
    """The level that set the plan: checked by the service (``plan.bad_level``, a Chinese message)."""
    return fields.String(validate=validate.Length(max=16), metadata={
        "enum": list(PLAN_LEVELS),
        "description": "下达该计划的层级：province 省级 | city 市级 | county 县级（默认）；抽查覆盖率按层级统计"}, **kw)


class StratumRatioIn(BaseSchema):
    num = fields.Integer(strict=True, required=True, validate=validate.Range(min=0, max=1_000_000),
                         metadata={"description": "分子"})
    den = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=1_000_000),
                         metadata={"description": "分母（> 0，且分子 ≤ 分母）"})
    min = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=0, max=1_000_000_000),
                         metadata={"description": "最少抽取数（可选）"})
    cap = fields.Integer(strict=True, allow_none=True, validate=validate.Range(min=1, max=1_000_000_000),
                         metadata={"description": "最多抽取数（可选，≥ 最少抽取数）"})


def _ratios(keys, **kw):
    return fields.Dict(keys=fields.String(validate=validate.OneOf(keys)), values=fields.Nested(StratumRatioIn),
                       **kw)


class PlanBatchIn(BaseSchema):
    seq = fields.Integer(strict=True, required=True, validate=validate.Range(min=1, max=1000))
    name = _text(100, 1, required=True)
    months = fields.List(fields.Integer(strict=True, validate=validate.Range(min=1, max=12)), required=True,
                         validate=validate.Length(min=1, max=12), metadata={"description": "月份 1–12"})
    planned_count = fields.Integer(strict=True, allow_none=True, load_default=None,
                                   validate=validate.Range(min=0, max=1_000_000_000),
                                   metadata={"description": "计划抽查数量"})


class PlanCreate(BaseSchema):
    code = _code(load_default=None, metadata={"description": "不填则自动生成 JH-<年度>-<牵头部门代码>-<序号>"})
    year = fields.Integer(strict=True, required=True, validate=validate.Range(min=2000, max=2100))
    name = _text(200, 1, required=True)
    kind = fields.String(load_default="department", validate=validate.OneOf(list(PLAN_KINDS)),
                         metadata={"description": "department 部门计划 | joint 联合计划"})
    level = _level(load_default="county")
    lead_department_id = _id(load_default=None, metadata={"description": "牵头部门（不填为本部门）"})
    participant_department_ids = fields.List(_id(), load_default=list, validate=validate.Length(max=100),
                                             metadata={"description": "参与部门（联合计划至少一个）"})
    item_ids = fields.List(_id(), load_default=list, validate=validate.Length(max=1000),
                           metadata={"description": "抽查事项（其检查主体须为牵头或参与部门）"})
    batches = fields.List(fields.Nested(PlanBatchIn), load_default=list, validate=validate.Length(max=100))
    ratio_rules = _ratios(list(RATIO_KEYS), load_default=dict,
                          metadata={"description": "按分层（A/B/C/D/U/all）的抽取比例 {num, den, min?, cap?}"})
    description = _text(5000, allow_none=True, load_default=None)


class PlanUpdate(BaseSchema):
    code = _code()
    year = fields.Integer(strict=True, validate=validate.Range(min=2000, max=2100))
    name = _text(200, 1)
    kind = fields.String(validate=validate.OneOf(list(PLAN_KINDS)))
    level = _level()
    lead_department_id = _id()
    participant_department_ids = fields.List(_id(), validate=validate.Length(max=100))
    item_ids = fields.List(_id(), validate=validate.Length(max=1000))
    batches = fields.List(fields.Nested(PlanBatchIn), validate=validate.Length(max=100))
    ratio_rules = _ratios(list(RATIO_KEYS))
    description = _text(5000, allow_none=True)
    reason = _text(2000, allow_none=True, metadata={"description": "调整说明：计划公布后修改时必填"})


class PlanReasonIn(BaseSchema):
    reason = _text(2000, allow_none=True, load_default=None)


class TaskCancelIn(BaseSchema):
    reason = _text(2000, 1, required=True)


class PlanArgs(PageArgs):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))
    status = fields.String(validate=validate.OneOf(list(PLAN_STATUSES)))
    kind = fields.String(validate=validate.OneOf(list(PLAN_KINDS)))
    department_id = _id(strict=False, metadata={"description": "牵头或参与的部门"})
    q = _text(64, metadata={"description": "按名称或编号查找"})
    include_retired = fields.Boolean(load_default=False)


class PublicPlanArgs(PageArgs):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))
    kind = fields.String(validate=validate.OneOf(list(PLAN_KINDS)))
    department_id = _id(strict=False, metadata={"description": "牵头或参与的部门"})
    q = _text(64, metadata={"description": "按名称或编号查找"})


class TaskFiltersIn(BaseSchema):
    regions = fields.List(_text(12), validate=validate.Length(max=500),
                          metadata={"description": "行政区划代码前缀，如 4112、411203"})
    industries = fields.List(_text(8), validate=validate.Length(max=200),
                             metadata={"description": "国民经济行业代码前缀，如 F、F52"})
    types = fields.List(_text(16), validate=validate.Length(max=20), metadata={"description": "对象类型"})
    risk_classes = fields.List(_text(1), validate=validate.Length(max=4), metadata={"description": "A–D"})
    tags = fields.List(_text(32), validate=validate.Length(max=100))


class TaskExclusionsIn(BaseSchema):
    inspected_this_year = fields.Boolean(metadata={"description": "排除本年度已就同一事项检查过的对象（默认是）"})
    a_class_exempt = fields.Boolean(metadata={"description": "A 类（信用风险低）无事不扰（默认是）"})


class TaskDepartmentIn(BaseSchema):
    department_id = _id(required=True)
    members_per_group = fields.Integer(strict=True, load_default=1, validate=validate.Range(min=0, max=50),
                                       metadata={"description": "每组人数：牵头部门 ≥ 1，其他 ≥ 0，每组合计 ≥ 2"})


class _TaskFields(BaseSchema):
    name = _text(200, 1)
    batch_id = _id(allow_none=True)
    departments = fields.List(fields.Nested(TaskDepartmentIn), validate=validate.Length(max=100),
                              metadata={"description": "参与部门及每组人数（牵头部门可列出以设定人数，默认 2）"})
    item_ids = fields.List(_id(), validate=validate.Length(max=500))
    filters = fields.Nested(TaskFiltersIn, metadata={"description": "定向抽查条件；为空即不定向"})
    strata_mode = fields.String(validate=validate.OneOf(list(STRATA_MODES)))
    strata = _ratios(list(RATIO_KEYS), allow_none=True,
                     metadata={"description": "各分层比例；未给出的分层沿用原值，否则取计划的比例规则，再取系统默认"})
    exclusions = fields.Nested(TaskExclusionsIn)
    group_load = fields.Integer(strict=True, validate=validate.Range(min=1, max=10_000),
                                metadata={"description": "每组检查对象数"})
    methods = fields.List(_text(16), validate=validate.Length(max=20))
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    draw_date = fields.Date(allow_none=True)
    description = _text(5000, allow_none=True)


class TaskCreate(_TaskFields):
    plan_id = _id(required=True)
    code = _code(load_default=None, metadata={"description": "不填则自动生成 SS-<年度>-<序号>"})
    name = _text(200, 1, required=True)
    item_ids = fields.List(_id(), required=True, validate=validate.Length(min=1, max=500))


class TaskUpdate(_TaskFields):
    pass


class TaskDecisionIn(BaseSchema):
    decision = fields.String(required=True, validate=validate.OneOf(["confirm", "decline"]),
                             metadata={"description": "confirm 确认 | decline 退回（须说明理由）"})
    reason = _text(2000, allow_none=True, load_default=None)
    department_id = _id(load_default=None, metadata={"description": "代表的部门（系统管理员须填写）"})


class TaskArgs(PageArgs):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))
    status = fields.String(validate=validate.OneOf(list(TASK_STATUSES)))
    department_id = _id(strict=False, metadata={"description": "牵头或参与的部门"})
    plan_id = _id(strict=False)
    q = _text(64, metadata={"description": "按名称或编号查找"})
    decision = fields.String(validate=validate.OneOf(list(TASK_DEPT_STATUSES)), metadata={
        "description": "会审待办：department_id（默认本部门）作为参与部门的会审结果（pending 待会审、confirmed 已确认、declined 已退回）"})


# --- output ----------------------------------------------------------------------------------

class PlanDeptRef(BaseSchema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class PlanDepartmentOut(BaseSchema):
    department_id = fields.Integer()
    code = fields.Function(lambda r: r.department.code)
    name = fields.Function(lambda r: r.department.name)
    role = fields.String(metadata={"enum": list(DEPT_ROLES)})
    role_label = fields.Function(lambda r: DEPT_ROLES.get(r.role, r.role))


def _cap(item):
    return None if item.ratio_cap_percent is None else float(item.ratio_cap_percent)


class PlanItemRowOut(BaseSchema):
    item_id = fields.Integer()
    code = fields.Function(lambda r: r.item.code)
    name = fields.Function(lambda r: r.item.name)
    category = fields.Function(lambda r: r.item.category)
    kind = fields.Function(lambda r: r.item.kind)
    kind_label = fields.Function(lambda r: ITEM_KINDS.get(r.item.kind, r.item.kind))
    ratio_cap_percent = fields.Function(lambda r: _cap(r.item), metadata={"description": "一般事项的比例上限（%）"})
    department_id = fields.Integer()
    department_code = fields.Function(lambda r: r.item.department.code if r.item.department else None)
    retired = fields.Function(lambda r: r.item.retired_at is not None)


class PlanBatchOut(BaseSchema):
    id = fields.Integer()
    seq = fields.Integer()
    name = fields.String()
    months = fields.List(fields.Integer())
    planned_count = fields.Integer(allow_none=True)


class PublicPlanOut(BaseSchema):
    code = fields.String()
    year = fields.Integer()
    name = fields.String()
    kind = fields.String(metadata={"enum": list(PLAN_KINDS)})
    kind_label = fields.Function(lambda p: PLAN_KINDS.get(p.kind, p.kind))
    level = fields.String(metadata={"enum": list(PLAN_LEVELS), "description": "下达该计划的层级"})
    level_label = fields.Function(lambda p: PLAN_LEVELS.get(p.level, p.level))
    lead_department = fields.Nested(PlanDeptRef)
    departments = fields.List(fields.Nested(PlanDepartmentOut))
    items = fields.List(fields.Nested(PlanItemRowOut))
    batches = fields.List(fields.Nested(PlanBatchOut))
    ratio_rules = fields.Dict()
    description = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": list(PLAN_STATUSES)})
    status_label = fields.Function(lambda p: PLAN_STATUSES.get(p.status, p.status))
    version = fields.Integer()
    published_at = fields.DateTime(allow_none=True)
    updated_at = fields.DateTime()


class PlanOut(PublicPlanOut):
    id = fields.Integer()
    lead_department_id = fields.Integer()
    created_by = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    approved_by = fields.Integer(allow_none=True)
    approved_at = fields.DateTime(allow_none=True)
    retire_reason = fields.String(allow_none=True, metadata={"description": "停用理由"})
    retired_at = fields.DateTime(allow_none=True)


class PublicPlanVersionOut(BaseSchema):
    version = fields.Integer(metadata={"description": "被调整前的版本号"})
    snapshot = fields.Dict(metadata={"description": "该版本的计划内容"})
    reason = fields.String(metadata={"description": "调整说明"})
    changed_at = fields.DateTime()


class PlanVersionOut(PublicPlanVersionOut):
    changed_by = fields.Integer(allow_none=True)


class TaskDepartmentOut(BaseSchema):
    department_id = fields.Integer()
    code = fields.Function(lambda r: r.department.code)
    name = fields.Function(lambda r: r.department.name)
    role = fields.String(metadata={"enum": list(DEPT_ROLES)})
    role_label = fields.Function(lambda r: DEPT_ROLES.get(r.role, r.role))
    members_per_group = fields.Integer()
    status = fields.String(metadata={"enum": list(TASK_DEPT_STATUSES)})
    status_label = fields.Function(lambda r: TASK_DEPT_STATUSES.get(r.status, r.status))
    reason = fields.String(allow_none=True)
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class TaskPlanRef(BaseSchema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    year = fields.Integer()


class TaskOut(BaseSchema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    plan = fields.Nested(TaskPlanRef)
    batch = fields.Function(lambda t: next(({"id": b.id, "seq": b.seq, "name": b.name, "months": list(b.months)}
                                             for b in t.plan.batches if b.id == t.batch_id), None))
    lead_department = fields.Nested(PlanDeptRef)
    status = fields.String(metadata={"enum": list(TASK_STATUSES)})
    status_label = fields.Function(lambda t: TASK_STATUSES.get(t.status, t.status))
    departments = fields.List(fields.Nested(TaskDepartmentOut))
    items = fields.List(fields.Nested(PlanItemRowOut))
    filters = fields.Dict()
    directed = fields.Function(lambda t: bool(t.filters), metadata={"description": "定向（有筛选条件）/ 不定向"})
    strata_mode = fields.String(metadata={"enum": list(STRATA_MODES)})
    strata = fields.Dict()
    exclusions = fields.Dict()
    group_load = fields.Integer()
    members_per_group = fields.Function(lambda t: sum(r.members_per_group for r in t.departments),
                                        metadata={"description": "每组检查人员合计"})
    methods = fields.List(fields.String())
    start_date = fields.Date(allow_none=True)
    end_date = fields.Date(allow_none=True)
    draw_date = fields.Date(allow_none=True)
    cancel_reason = fields.String(allow_none=True, metadata={"description": "撤销理由"})
    cancelled_at = fields.DateTime(allow_none=True)
    description = fields.String(allow_none=True)
    created_by = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()
