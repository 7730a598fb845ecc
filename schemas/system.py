from __future__ import annotations

from marshmallow import fields, validate

from schemas.base import BaseSchema, PageArgs, QueryId


class AuditOut(BaseSchema):
    id = fields.Integer()
    at = fields.DateTime()
    actor_id = fields.Integer(allow_none=True)
    actor_label = fields.String()
    action = fields.String()
    entity_type = fields.String()
    entity_id = fields.String(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    before_digest = fields.String(allow_none=True)
    after_digest = fields.String(allow_none=True)
    detail = fields.Dict(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class AuditArgs(PageArgs):
    action = fields.String(validate=validate.Length(max=64))
    entity_type = fields.String(validate=validate.Length(max=32))
    entity_id = fields.String(validate=validate.Length(max=64))
    actor_id = QueryId()
    department_id = QueryId()
    since = fields.AwareDateTime()
    until = fields.AwareDateTime()


class ChainReportOut(BaseSchema):
    ok = fields.Boolean()
    checked = fields.Integer()
    broken_at = fields.Integer(allow_none=True)
    reason = fields.String(allow_none=True)


class JobOut(BaseSchema):
    id = fields.String()
    name = fields.String()
    status = fields.String(metadata={"enum": ["queued", "running", "retrying", "done", "failed"]})
    status_label = fields.Function(lambda j: JOB_STATUS_LABELS.get(j.status, j.status))
    result = fields.Raw(allow_none=True)
    error_code = fields.String(allow_none=True)
    error = fields.String(allow_none=True)
    progress_done = fields.Integer()
    progress_total = fields.Integer(allow_none=True)
    progress_percent = fields.Function(
        lambda j: 100 if j.status == "done" else (int(j.progress_done * 100 / j.progress_total)
                                                   if j.progress_total else None))
    progress_message = fields.String(allow_none=True)
    attempts = fields.Integer()
    max_attempts = fields.Integer()
    backend = fields.String()
    created_by = fields.Integer(allow_none=True)
    created_at = fields.DateTime()
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)


JOB_STATUS_LABELS = {"queued": "排队中", "running": "执行中", "retrying": "等待重试", "done": "已完成",
                     "failed": "失败"}


class JobArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(list(JOB_STATUS_LABELS)))


class SelfCheckIn(BaseSchema):
    steps = fields.Integer(load_default=3, validate=validate.Range(min=1, max=100))
    fail_times = fields.Integer(load_default=0, validate=validate.Range(min=0, max=5))
    max_attempts = fields.Integer(load_default=1, validate=validate.Range(min=1, max=5))
