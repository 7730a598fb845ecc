from __future__ import annotations

from marshmallow import fields, validate

from backend.auth.roles import Role
from schemas.base import BaseSchema, Id, PageArgs, QueryId

ROLE_VALUES = [r.value for r in Role]


class LoginIn(BaseSchema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=256), load_only=True)
    device_label = fields.String(load_default=None, validate=validate.Length(max=128),
                                 metadata={"description": "设备名称，如“张三的手机”"})


class RefreshIn(BaseSchema):
    refresh_token = fields.String(required=True, validate=validate.Length(min=10, max=200))


class LogoutIn(BaseSchema):
    refresh_token = fields.String(load_default=None, validate=validate.Length(max=200), metadata={
        "description": "可选：另一登录的刷新令牌（须属于本人），一并退出；本次登录总会退出"})


class UserOut(BaseSchema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    role = fields.String(metadata={"enum": ROLE_VALUES})
    role_label = fields.Function(lambda u: Role(u.role).label)
    department_id = fields.Integer(allow_none=True)
    department_code = fields.Function(lambda u: u.department.code if u.department else None)
    department_name = fields.Function(lambda u: u.department.name if u.department else None)
    region_code = fields.String(allow_none=True)
    inspector_id = fields.Integer(allow_none=True)
    phone = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": ["active", "frozen"]})
    created_at = fields.DateTime()
    last_login_at = fields.DateTime(allow_none=True)
    login_alert_at = fields.DateTime(allow_none=True, metadata={
        "description": "最近一次因失败登录过多（所有地址合计）触发管理员告警的时间；见审计日志 auth.lockout_alert"})


class TokenOut(BaseSchema):
    access_token = fields.String()
    access_expires_at = fields.DateTime()
    refresh_token = fields.String()
    refresh_expires_at = fields.DateTime()
    token_type = fields.String(dump_default="Bearer")
    user = fields.Nested(UserOut)


class UserCreate(BaseSchema):
    username = fields.String(required=True, validate=[validate.Length(min=2, max=64),
                                                       validate.Regexp(r"^[A-Za-z0-9_.\-]+$",
                                                                       error="只能包含字母、数字、下划线、点和连字符")])
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=256))
    role = fields.String(required=True, validate=validate.OneOf(ROLE_VALUES))
    department_id = Id(load_default=None, allow_none=True)
    region_code = fields.String(load_default=None, validate=validate.Length(max=12))
    inspector_id = Id(load_default=None, allow_none=True)
    phone = fields.String(load_default=None, validate=validate.Length(max=20))


class UserUpdate(BaseSchema):
    display_name = fields.String(validate=validate.Length(min=1, max=64))
    role = fields.String(validate=validate.OneOf(ROLE_VALUES))
    department_id = Id(allow_none=True)
    region_code = fields.String(allow_none=True, validate=validate.Length(max=12))
    inspector_id = Id(allow_none=True)
    phone = fields.String(allow_none=True, validate=validate.Length(max=20))


class FreezeIn(BaseSchema):
    frozen = fields.Boolean(required=True)
    reason = fields.String(load_default=None, validate=validate.Length(max=200))


class PasswordIn(BaseSchema):
    password = fields.String(required=True, load_only=True, validate=validate.Length(max=256))
    old_password = fields.String(load_default=None, load_only=True)


class UserArgs(PageArgs):
    department_id = QueryId()
    role = fields.String(validate=validate.OneOf(ROLE_VALUES))
    status = fields.String(validate=validate.OneOf(["active", "frozen"]))
    q = fields.String(validate=validate.Length(max=64))
