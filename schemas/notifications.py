from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.notifications.models import KINDS, STATES
from schemas.base import PageArgs


class NotificationOut(Schema):
    id = fields.Integer()
    kind = fields.String(metadata={"enum": list(KINDS)})
    kind_label = fields.Function(lambda n: KINDS.get(n.kind, n.kind))
    subject_type = fields.String(metadata={"description": "task | inspection | plan_year | followup"})
    subject_id = fields.String()
    state = fields.String(metadata={"description": "due_soon | overdue | flagged"})
    state_label = fields.Function(lambda n: STATES.get(n.state, n.state))
    title = fields.String()
    body = fields.String()
    link = fields.String(allow_none=True)
    due_on = fields.Date(allow_none=True)
    created_at = fields.DateTime()
    read = fields.Function(lambda n: n.read_at is not None)
    read_at = fields.DateTime(allow_none=True)


class NotificationArgs(PageArgs):
    read = fields.Boolean(metadata={"description": "true: 只看已读；false: 只看未读；不填：全部"})
    kind = fields.String(validate=validate.OneOf(list(KINDS)))


class NotificationPage(Schema):
    items = fields.List(fields.Nested(NotificationOut), required=True)
    total = fields.Integer(required=True, metadata={"description": "符合条件的总条数"})
    page = fields.Integer(required=True)
    page_size = fields.Integer(required=True)
    pages = fields.Integer(required=True, metadata={"description": "总页数"})
    unread = fields.Integer(required=True, metadata={"description": "我的未读通知数（不受筛选影响）"})


class MarkedOut(Schema):
    marked = fields.Integer(required=True, metadata={"description": "这次标为已读的条数"})
    unread = fields.Integer(required=True)
