"""Shared schema pieces: Chinese validation messages, pagination, the error shape."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields, validate

# --- Chinese default messages for every field and validator used in the API -------------
fields.Field.default_error_messages.update({
    "required": "必填项",
    "null": "不能为空",
    "validator_failed": "取值无效",
})
Schema._default_error_messages.update({"type": "数据类型有误", "unknown": "不允许的字段"})
_FIELD_MESSAGES = {
    fields.String: {"invalid": "应为文本", "invalid_utf8": "不是有效的 UTF-8 文本"},
    fields.Integer: {"invalid": "应为整数", "too_large": "数值过大"},
    fields.Float: {"invalid": "应为数字", "special": "不允许特殊数值"},
    fields.Decimal: {"invalid": "应为数字", "special": "不允许特殊数值"},
    fields.Boolean: {"invalid": "应为是/否"},
    fields.List: {"invalid": "应为列表"},
    fields.Tuple: {"invalid": "应为元组"},
    fields.Dict: {"invalid": "应为对象"},
    fields.Nested: {"type": "应为对象"},
    fields.UUID: {"invalid_uuid": "不是有效的 UUID"},
    fields.Email: {"invalid": "不是有效的电子邮件地址"},
    fields.URL: {"invalid": "不是有效的网址"},
    fields.Enum: {"unknown": "取值必须是：{choices}"},
}
for _cls, _msgs in _FIELD_MESSAGES.items():
    _cls.default_error_messages = {**_cls.default_error_messages, **_msgs}
for _cls in (fields.DateTime, fields.Date, fields.Time, fields.NaiveDateTime, fields.AwareDateTime):
    _cls.default_error_messages = {**_cls.default_error_messages,
                                   "invalid": "日期时间格式有误", "format": "无法格式化日期时间",
                                   "invalid_awareness": "日期时间须带时区"}
validate.Range.message_min = "不能{min_op} {{min}}"
validate.Range.message_max = "不能{max_op} {{max}}"
validate.Range.message_all = "应在 {{min}} 与 {{max}} 之间"
validate.Range.message_gte = "小于"
validate.Range.message_gt = "小于或等于"
validate.Range.message_lte = "大于"
validate.Range.message_lt = "大于或等于"
validate.Length.message_min = "长度不能少于 {min}"
validate.Length.message_max = "长度不能超过 {max}"
validate.Length.message_all = "长度应在 {min} 与 {max} 之间"
validate.Length.message_equal = "长度应为 {equal}"
validate.OneOf.default_message = "取值必须是：{choices}"
validate.Regexp.default_message = "格式不正确"
validate.Email.default_message = "不是有效的电子邮件地址"


# --- integers the database can store ------------------------------------------------------
MAX_INT = 2**31 - 1  # PostgreSQL ``integer``: the type of every id and count column
ID_ERROR = "编号无效（应为 1 至 2147483647 的整数）"
INT_ERROR = "整数超出允许范围（-2147483647 至 2147483647）"


def is_id_name(name: str | None) -> bool:
    """``id``, ``…_id`` and ``…_ids`` name row ids, which start at 1 (0 is never a row)."""
    return bool(name) and (name == "id" or name.endswith("_id") or name.endswith("_ids"))


def Id(*, strict: bool = True, **kwargs) -> fields.Integer:
    """A row id: a JSON integer in bodies (``strict``), 1 to 2**31-1."""
    return fields.Integer(strict=strict, validate=validate.Range(min=1, max=MAX_INT, error=ID_ERROR), **kwargs)


def QueryId(**kwargs) -> fields.Integer:
    """A row id in a query string (digits)."""
    return Id(strict=False, **kwargs)


def bound_integers(field: fields.Field, name: str | None) -> None:
    """Give every integer inside ``field`` the range of an integer column where it has no bound.

    Called for every field of every request schema (``on_bind_field``), so no integer reaches
    a query or a column unbounded, however the schema was written: a missing minimum or maximum
    becomes that of an integer column (ids: 1..2**31-1, others: -(2**31-1)..2**31-1). A field's
    own bounds are kept (a byte count may go beyond 2**31 when its column is a BIGINT), except
    that an id never goes below 1.
    """
    if isinstance(field, fields.List):
        bound_integers(field.inner, name)
    elif isinstance(field, fields.Tuple):
        for inner in field.tuple_fields:
            bound_integers(inner, name)
    elif isinstance(field, fields.Dict) and field.value_field is not None:
        bound_integers(field.value_field, None)
    if not isinstance(field, fields.Integer):
        return
    is_id = is_id_name(name)
    ranges = [v for v in field.validators if isinstance(v, validate.Range)]
    has_low = any(r.min is not None and (r.min >= 1 or not is_id) for r in ranges)
    has_high = any(r.max is not None for r in ranges)
    if has_low and has_high:
        return
    low, high = (1, MAX_INT) if is_id else (-MAX_INT, MAX_INT)
    # a new list: bound copies of a field share the declared field's validators list
    field.validators = [*field.validators, validate.Range(min=None if has_low else low,
                                                          max=None if has_high else high,
                                                          error=ID_ERROR if is_id else INT_ERROR)]


class _BoundedIntegers(Schema):
    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        super().on_bind_field(field_name, field_obj)
        bound_integers(field_obj, field_obj.data_key or field_name)


class BaseSchema(_BoundedIntegers):
    """Request bodies refuse unknown fields (a typo must not silently do nothing)."""


class QuerySchema(_BoundedIntegers):
    class Meta:
        unknown = EXCLUDE


class PageArgs(QuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100000),
                          metadata={"description": "页码，从 1 开始"})
    page_size = fields.Integer(load_default=20, validate=validate.Range(min=1, max=200),
                               metadata={"description": "每页条数（1–200）"})


_page_schemas: dict[type, type] = {}


def page_of(item_schema: type[Schema]) -> type[Schema]:
    """A page envelope ``{items, total, page, page_size, pages}`` around ``item_schema``."""
    if item_schema not in _page_schemas:
        name = item_schema.__name__.removesuffix("Schema") + "Page"
        _page_schemas[item_schema] = type(name, (Schema,), {
            "items": fields.List(fields.Nested(item_schema), required=True),
            "total": fields.Integer(required=True, metadata={"description": "总条数"}),
            "page": fields.Integer(required=True),
            "page_size": fields.Integer(required=True),
            "pages": fields.Integer(required=True, metadata={"description": "总页数"}),
            "total_estimated": fields.Boolean(metadata={
                "description": "仅在 total 为估计值时出现且为 true（匹配超过 10000 条时，PostgreSQL 按统计信息估计）"}),
        })
    return _page_schemas[item_schema]


class ErrorSchema(Schema):
    status = fields.Integer(metadata={"description": "HTTP 状态码"})
    code = fields.String(metadata={"description": "稳定的错误代码，如 validation_error、auth.invalid_credentials"})
    message = fields.String(metadata={"description": "中文错误说明"})
    errors = fields.Dict(metadata={"description": "字段或行的错误详情"})
    details = fields.Dict(metadata={"description": "附加信息"})


class MessageSchema(Schema):
    message = fields.String()
