"""Follow-ups (后续处置): the register (台帐), the steps of the state machine, a business's past inspections.

Input schemas check types and lengths; the rules (which step from which state, evidence, who) are the
service's (``backend.followups.services``), with stable ``followup.*`` codes.
"""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.followups import services
from backend.followups.models import FOLLOWUP_STATES
from schemas.base import BaseSchema, PageArgs

DATE_HELP = "日期 YYYY-MM-DD（北京时间），不晚于今天"
SHA256 = fields.String(validate=validate.Regexp(r"^[0-9a-fA-F]{64}$", error="应为 64 位十六进制 SHA-256"))


def _text(max_len: int, **kw):
    return fields.String(validate=validate.Length(max=max_len), **kw)


def _evidence(what: str):
    return fields.List(SHA256, load_default=list, validate=validate.Length(max=services.MAX_EVIDENCE),
                       metadata={"description": f"证据：{what}的文件 SHA-256（先经 /api/uploads 上传，且本人可查看）"})


# --- input -----------------------------------------------------------------------------------------

class FollowupArgs(PageArgs):
    department_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1), metadata={
        "description": "负责部门（台帐所属部门）；监督人员、系统管理员可指定任一部门，其他角色只能是本部门"})
    state = fields.String(validate=validate.OneOf([*FOLLOWUP_STATES, "open", "closed"]), metadata={
        "description": "状态；open：未办结，closed：已办结"})
    action = fields.String(validate=validate.OneOf(list(services.ACTIONS)), metadata={
        "description": "处置方式：rectify 责令限期整改，transfer 移送办案机构，notify 抄告相关部门"})
    due_before = fields.Date(metadata={"description": "整改期限不晚于该日（含）"})
    overdue = fields.Boolean(metadata={"description": "1：只看已逾期未办结的"})
    task_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1))
    target_id = fields.Integer(validate=validate.Range(min=1, max=2**31 - 1), metadata={"description": "检查对象"})


class ReinspectIn(BaseSchema):
    inspected_on = fields.Date(required=True, metadata={"description": "复查日期，" + DATE_HELP})
    findings = _text(2000, required=True, metadata={"description": "复查情况"})
    outcome = fields.String(required=True, validate=validate.OneOf(["rectified", "unrectified"]), metadata={
        "description": "复查结论：rectified 已整改，unrectified 未整改"})
    evidence = _evidence("复查照片或文书（至少一个）")


class ReinspectionScheduleIn(BaseSchema):
    inspector_ids = fields.List(fields.Integer(strict=True), allow_none=True, load_default=None, metadata={
        "description": "复查人员（负责部门在岗的执法检查人员编号，1–10 名，第一名为组长）；不填则由首次检查中"
                       "本部门的检查人员复查（谁检查、谁复查）"})


class TransferIn(BaseSchema):
    filed_on = fields.Date(required=True, metadata={"description": "立案日期，" + DATE_HELP})
    agency = _text(200, required=True, metadata={"description": "办案机构"})
    case_no = _text(100, required=True, metadata={"description": "立案号（案件编号）"})
    note = _text(2000, allow_none=True, load_default=None)
    evidence = _evidence("立案文书（至少一个）")


class JudicialIn(BaseSchema):
    transferred_on = fields.Date(required=True, metadata={"description": "移送日期，" + DATE_HELP})
    authority = _text(200, required=True, metadata={"description": "接收的司法机关"})
    record_no = _text(100, required=True, metadata={"description": "告知移送记录编号"})
    note = _text(2000, allow_none=True, load_default=None)
    evidence = _evidence("告知移送记录（至少一个）")


class NotifyIn(BaseSchema):
    notified_on = fields.Date(required=True, metadata={"description": "抄告日期，" + DATE_HELP})
    department_id = fields.Integer(strict=True, required=True, metadata={"description": "接收抄告的部门（非本部门）"})
    note = _text(2000, allow_none=True, load_default=None, metadata={"description": "抄告内容"})
    evidence = _evidence("抄告函（可选）")


class AcknowledgeIn(BaseSchema):
    received_on = fields.Date(required=True, metadata={"description": "回执日期，" + DATE_HELP})
    note = _text(2000, allow_none=True, load_default=None)
    evidence = _evidence("回执（至少一个）")


# --- output ----------------------------------------------------------------------------------------

class FollowupStepOut(Schema):
    seq = fields.Integer()
    action = fields.String(metadata={"description": "open（检查记录提交）、schedule（安排复查：detail.inspection_id 为"
                                                    "复查检查）、reinspect、transfer、judicial、notify、acknowledge"})
    action_label = fields.Function(lambda s: services.STEP_LABELS.get(s.action, s.action))
    from_state = fields.String(allow_none=True)
    to_state = fields.String()
    on_date = fields.Date(allow_none=True, metadata={"description": "复查、立案、移送、抄告或回执之日"})
    detail = fields.Dict(metadata={"description": "该步的内容：inspection_id/officers（安排复查），findings/outcome"
                                                  "（复查；手机提交的复查另有 inspection_id 与 via: phone），"
                                                  "agency/case_no，authority/record_no，department_id/department，note"})
    evidence = fields.List(fields.String(), metadata={"description": "证据文件的 SHA-256（GET /api/media/<sha256>）"})
    actor_id = fields.Integer(allow_none=True)
    at = fields.DateTime()


class DeptRef(Schema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()


class FollowupOut(Schema):
    id = fields.Integer()
    uid = fields.String(metadata={"description": "检查记录中该项后续处置的 id"})
    inspection_id = fields.Integer()
    task_id = fields.Integer()
    task_code = fields.Function(lambda f: f.task.code if f.task else None)
    task_name = fields.Function(lambda f: f.task.name if f.task else None)
    target_id = fields.Integer()
    target_name = fields.Function(lambda f: f.target.name if f.target else None)
    target_uscc = fields.Function(lambda f: f.target.uscc if f.target else None)
    department = fields.Nested(DeptRef, metadata={"description": "负责部门"})
    lead_department_id = fields.Integer(metadata={"description": "任务的牵头部门"})
    action = fields.String(metadata={"description": "rectify / transfer / notify"})
    action_label = fields.Function(lambda f: services.ACTIONS.get(f.action, f.action))
    state = fields.String(metadata={"enum": list(FOLLOWUP_STATES)})
    state_label = fields.Function(lambda f: FOLLOWUP_STATES.get(f.state, f.state))
    next_step = fields.Function(lambda f: services.NEXT_STEP.get(f.state), allow_none=True,
                                metadata={"description": "下一步应办理的事项；已办结为 null"})
    closed = fields.Function(services.is_closed)
    overdue = fields.Function(lambda f: services.is_overdue(f), metadata={"description": "已过整改期限仍未办结"})
    due_on = fields.Date(allow_none=True, metadata={"description": "整改期限"})
    note = fields.String(allow_none=True)
    notified_department = fields.Nested(DeptRef, allow_none=True)
    case_no = fields.String(allow_none=True, metadata={"description": "立案号"})
    version = fields.Integer(metadata={"description": "版本；ETag 为 \"f<id>-<version>\""})
    etag = fields.Function(services.etag)
    closed_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    steps = fields.List(fields.Nested(FollowupStepOut))


class OpenFollowupOut(Schema):
    id = fields.Integer()
    action = fields.String()
    action_label = fields.Function(lambda f: services.ACTIONS.get(f.action, f.action))
    state = fields.String()
    state_label = fields.Function(lambda f: FOLLOWUP_STATES.get(f.state, f.state))
    department_id = fields.Integer()
    department_name = fields.Function(lambda f: f.department.name if f.department else None)
    due_on = fields.Date(allow_none=True)
    overdue = fields.Function(lambda f: services.is_overdue(f))


class TargetInspectionOut(Schema):
    id = fields.Integer(metadata={"description": "检查记录 id（GET /api/v1/inspections/<id>）"})
    task_id = fields.Integer()
    task_code = fields.String(allow_none=True)
    task_name = fields.String(allow_none=True)
    lead_department = fields.String(allow_none=True)
    completed_on = fields.Date(allow_none=True)
    publication_due_on = fields.Date(allow_none=True)
    clock_start = fields.String(metadata={"enum": ["submission", "inspected", "task_end"],
                                          "description": "公示期限从哪一天起算（已完成的检查）"})
    clock_start_label = fields.String()
    start_on = fields.Date(allow_none=True, metadata={"description": "第 0 天（起算日）"})
    published_at = fields.DateTime(allow_none=True)
    result_categories = fields.List(fields.String(), metadata={"description": "检查结果类别（docs/sync.md）"})
    open_followups = fields.List(fields.Nested(OpenFollowupOut), metadata={"description": "未办结的后续处置"})
