"""The wire contract of the lists (一单两库): regions, departments, items, targets, inspectors, experts.

Input schemas check each field with the rules of ``backend.directory.rules`` and say what is
wrong in Chinese; rules that need the database or the stored row (uniqueness, a region that
exists, a cap on an item that is already key) are the services' job.
"""
from __future__ import annotations

import re
from typing import Callable

from marshmallow import ValidationError, fields, validate, validates_schema
from webargs.fields import DelimitedList as _DelimitedList

from backend.directory import rules
from schemas.base import BaseSchema, PageArgs, QuerySchema

MAX_ID = 2**31 - 1
_CONTROL = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
DIRECTORY_CODE_RE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$"
PHONE_RE = r"^[0-9+\-()（） ,，/转]{3,32}$"
PHONE = validate.Regexp(PHONE_RE, error="电话号码格式不正确")


# --- field helpers ---------------------------------------------------------------------------------

class Text(fields.String):
    """A trimmed string without control characters (NUL and lone surrogates break databases)."""

    default_error_messages = {"control": "不能包含控制字符"}

    def __init__(self, *args, multiline: bool = False, upper: bool = False, blank_as_none: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        self.multiline, self.upper, self.blank_as_none = multiline, upper, blank_as_none

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs).strip()
        if (_CONTROL_MULTILINE if self.multiline else _CONTROL).search(text):
            raise self.make_error("control")
        if self.upper:
            text = text.upper()
        if self.blank_as_none and text == "":
            return None
        return text

    def _validate(self, value):
        if value is not None:  # blank became None: nothing to check
            super()._validate(value)


def _validators(first, extra) -> list:
    return [first] + (list(extra) if isinstance(extra, (list, tuple)) else [extra] if extra else [])


def NonBlank(max_length: int, validate_also=None, **kwargs) -> Text:
    """A text that may not be blank, at most ``max_length`` characters."""
    return Text(validate=_validators(validate.Length(min=1, max=max_length, error=_length_error(max_length)),
                                     validate_also), **kwargs)


def OptionalText(max_length: int, validate_also=None, **kwargs) -> Text:
    """An optional text; blank or null means none."""
    kwargs.setdefault("allow_none", True)
    return Text(blank_as_none=True, validate=_validators(validate.Length(max=max_length), validate_also), **kwargs)


def _length_error(max_length: int) -> str:
    return f"不能为空，且不超过 {max_length} 个字符"


def Id(**kwargs) -> fields.Integer:
    return fields.Integer(strict=True, validate=validate.Range(min=1, max=MAX_ID, error="编号无效"), **kwargs)


def QueryId(**kwargs) -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=1, max=MAX_ID, error="编号无效"), **kwargs)


def rule(check: Callable[[str], str | None]) -> Callable[[str], None]:
    """A marshmallow validator from a ``rules`` function that returns a Chinese problem or None."""

    def validator(value):
        if value is not None:
            problem = check(value)
            if problem:
                raise ValidationError(problem)

    return validator


def one_of(mapping, what: str) -> validate.OneOf:
    return validate.OneOf(list(mapping), error=f"{what}必须是：{'、'.join(mapping)}")


class Tags(fields.Field):
    """Tags as a list of strings, or as text separated by ，,；;、 or spaces."""

    default_error_messages = {"invalid": "应为标签列表或以逗号分隔的文本", "control": "不能包含控制字符",
                              "too_long": "标签总长度不能超过 500 个字符", "tag_too_long": "单个标签不能超过 32 个字符"}

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            parts = value
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            parts = [p for v in value for p in v.split(",")]  # "," separates tags in storage
        else:
            raise self.make_error("invalid")
        pieces = re.split(r"[，,；;、\s]+", parts) if isinstance(parts, str) else [p.strip() for p in parts]
        if any(len(piece) > 32 for piece in pieces):
            raise self.make_error("tag_too_long")
        tags = rules.split_tags(parts)
        if any(_CONTROL.search(tag) for tag in tags):
            raise self.make_error("control")
        if len(rules.tags_text(tags)) > 500:
            raise self.make_error("too_long")
        return tags

    def _serialize(self, value, attr, obj, **kwargs):
        return list(value or [])


class ActiveList(fields.List):
    """Dumps only the rows that are not retired."""

    def _serialize(self, value, attr, obj, **kwargs):
        active = [row for row in (value or []) if row.retired_at is None]
        return super()._serialize(active, attr, obj, **kwargs)


class DelimitedList(_DelimitedList):
    default_error_messages = {"invalid": "应为以逗号分隔的取值"}


def codes_of(mapping, what: str) -> DelimitedList:
    return DelimitedList(fields.String(validate=one_of(mapping, what)),
                         metadata={"description": f"{what}，多个以逗号分隔：{'、'.join(mapping)}"})


def label(mapping, attr: str) -> fields.Function:
    return fields.Function(lambda obj: mapping.get(getattr(obj, attr)) if getattr(obj, attr) else None)


def labels(mapping, attr: str) -> fields.Function:
    return fields.Function(lambda obj: [mapping.get(code, code) for code in (getattr(obj, attr) or [])])


def _unique(what: str):
    def validator(values):
        if len(set(values)) != len(values):
            raise ValidationError(f"{what}不能重复")

    return validator


_retired = fields.Function(lambda obj: obj.retired_at is not None, metadata={"description": "是否已停用"})


class RetireIn(BaseSchema):
    retired = fields.Boolean(required=True, metadata={"description": "true 停用，false 恢复"})
    reason = OptionalText(200, load_default=None, metadata={"description": "原因（记入审计日志）"})


class ListArgs(PageArgs):
    q = Text(validate=validate.Length(max=100), metadata={"description": "关键字"})
    include_retired = fields.Boolean(load_default=False, metadata={"description": "是否包含已停用的记录"})


class SubListArgs(QuerySchema):
    include_retired = fields.Boolean(load_default=False, metadata={"description": "是否包含已停用的记录"})


REGION_PREFIX = Text(validate=validate.Regexp(r"^\d{2,9}$", error="应为 2–9 位数字的行政区划代码或其前缀"),
                     metadata={"description": "行政区划代码（含下级，如 411200 即三门峡市全部）"})


# --- regions ---------------------------------------------------------------------------------------

REGION_CODE = validate.Regexp(rules.REGION_CODE_RE, error="行政区划代码应为 6 位或 9 位数字")


class RegionIn(BaseSchema):
    code = Text(required=True, validate=REGION_CODE)
    name = NonBlank(64, required=True)
    level = fields.String(validate=one_of(rules.REGION_LEVELS, "级别"),
                          metadata={"description": "不填则按代码推断"})
    parent_code = Text(load_default=None, allow_none=True, validate=REGION_CODE)


class RegionUpdate(BaseSchema):
    name = NonBlank(64)
    level = fields.String(validate=one_of(rules.REGION_LEVELS, "级别"))
    parent_code = Text(allow_none=True, validate=REGION_CODE)


class RegionOut(BaseSchema):
    code = fields.String()
    name = fields.String()
    level = fields.String()
    level_label = label(rules.REGION_LEVELS, "level")
    parent_code = fields.String(allow_none=True)
    retired = _retired
    retired_at = fields.DateTime(allow_none=True)


class RegionArgs(ListArgs):
    parent_code = Text(validate=REGION_CODE, metadata={"description": "上级区划代码（只列直接下级）"})
    prefix = REGION_PREFIX
    level = fields.String(validate=one_of(rules.REGION_LEVELS, "级别"))


# --- departments -----------------------------------------------------------------------------------

class DepartmentIn(BaseSchema):
    code = Text(required=True, upper=True,
                validate=validate.Regexp(rules.DEPT_CODE_RE,
                                         error="部门代码应以字母开头，由字母、数字和下划线组成，2–16 位"))
    name = NonBlank(64, required=True)
    short_name = OptionalText(16, load_default=None)
    region_code = Text(load_default=None, allow_none=True, validate=REGION_CODE)


class DepartmentUpdate(BaseSchema):
    name = NonBlank(64)
    short_name = OptionalText(16)
    region_code = Text(allow_none=True, validate=REGION_CODE)


class DepartmentOut(BaseSchema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    short_name = fields.String(allow_none=True)
    region_code = fields.String(allow_none=True)
    retired = _retired
    retired_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class DepartmentArgs(ListArgs):
    region = REGION_PREFIX


# --- items and check points ------------------------------------------------------------------------

class CheckPointFields(BaseSchema):
    seq = fields.Integer(strict=True, validate=validate.Range(min=1, max=9999),
                         metadata={"description": "序号；不填则排在最后"})
    text = NonBlank(500, metadata={"description": "检查内容"})
    answer_type = fields.String(validate=one_of(rules.ANSWER_TYPES, "作答方式"))
    options = fields.List(Text(validate=validate.Length(min=1, max=100, error=_length_error(100))),
                          allow_none=True, validate=[validate.Length(max=50, error="选项不能超过 50 个"),
                                                     _unique("选项")],
                          metadata={"description": "单选、多选题的选项"})
    required = fields.Boolean(metadata={"description": "是否必答"})
    guidance = OptionalText(2000, multiline=True, metadata={"description": "检查指引"})


class CheckPointIn(CheckPointFields):
    text = NonBlank(500, required=True, metadata={"description": "检查内容"})

    @validates_schema
    def _options(self, data, **kwargs):
        answer_type = data.get("answer_type", "compliance")
        options = data.get("options")
        if answer_type in ("choice", "multi") and (not options or len(options) < 2):
            raise ValidationError("单选、多选题至少需要两个选项", field_name="options")
        if answer_type not in ("choice", "multi") and options:
            raise ValidationError("只有单选、多选题可以设置选项", field_name="options")


class CheckPointUpdate(CheckPointFields):
    pass


class CheckPointOut(BaseSchema):
    id = fields.Integer()
    item_id = fields.Integer()
    seq = fields.Integer()
    text = fields.String()
    answer_type = fields.String()
    answer_type_label = label(rules.ANSWER_TYPES, "answer_type")
    options = fields.List(fields.String(), allow_none=True)
    required = fields.Boolean()
    guidance = fields.String(allow_none=True)
    retired = _retired
    retired_at = fields.DateTime(allow_none=True)


ITEM_CODE = validate.Regexp(DIRECTORY_CODE_RE, error="事项编码由字母、数字、点、下划线和连字符组成，不超过 32 位")


class ItemFields(BaseSchema):
    code = Text(validate=ITEM_CODE, metadata={"description": "事项编码"})
    category = NonBlank(64, metadata={"description": "抽查类别"})
    name = NonBlank(200, metadata={"description": "抽查事项"})
    object_types = fields.List(fields.String(validate=one_of(rules.TARGET_TYPES, "检查对象类型")),
                               validate=[validate.Length(min=1, error="至少选择一类检查对象"), _unique("检查对象类型")],
                               metadata={"description": "检查对象类型：" + "、".join(rules.TARGET_TYPES)})
    kind = fields.String(validate=one_of(rules.ITEM_KINDS, "事项类型"),
                         metadata={"description": "key 重点检查事项 / general 一般检查事项"})
    methods = fields.List(fields.String(validate=one_of(rules.METHODS, "检查方式")),
                          validate=[validate.Length(min=1, error="至少选择一种检查方式"), _unique("检查方式")],
                          metadata={"description": "检查方式：" + "、".join(rules.METHODS)})
    legal_basis = NonBlank(10000, multiline=True, metadata={"description": "检查依据"})
    department_id = Id(metadata={"description": "检查主体（部门）；部门管理员不填即本部门"})
    ratio_cap_percent = fields.Decimal(places=3, allow_none=True, allow_nan=False,
                                       validate=validate.Range(min=0, max=100, min_inclusive=False,
                                                               error="抽查比例上限应大于 0 且不超过 100"),
                                       metadata={"description": "抽查比例上限（%），仅一般检查事项"})
    frequency = OptionalText(64, metadata={"description": "抽查频次"})
    remark = OptionalText(2000, multiline=True, metadata={"description": "备注"})
    required_qualifications = fields.List(
        Text(validate=validate.Length(min=1, max=64, error=_length_error(64))),
        validate=[validate.Length(max=20, error="执法资质不能超过 20 项"), _unique("执法资质")],
        metadata={"description": "执法资质要求：检查主体部门参加抽查的人员须具备全部所列资质（与人员的 qualifications "
                                 "逐字比对）；不填即无要求"})

    @validates_schema
    def _key_has_no_cap(self, data, **kwargs):
        if data.get("kind") == "key" and data.get("ratio_cap_percent") is not None:
            raise ValidationError("重点检查事项不设抽查比例上限", field_name="ratio_cap_percent")


class ItemIn(ItemFields):
    code = Text(required=True, validate=ITEM_CODE, metadata={"description": "事项编码"})
    category = NonBlank(64, required=True, metadata={"description": "抽查类别"})
    name = NonBlank(200, required=True, metadata={"description": "抽查事项"})
    object_types = fields.List(fields.String(validate=one_of(rules.TARGET_TYPES, "检查对象类型")), required=True,
                               validate=[validate.Length(min=1, error="至少选择一类检查对象"), _unique("检查对象类型")],
                               metadata={"description": "检查对象类型：" + "、".join(rules.TARGET_TYPES)})
    kind = fields.String(required=True, validate=one_of(rules.ITEM_KINDS, "事项类型"),
                         metadata={"description": "key 重点检查事项 / general 一般检查事项"})
    methods = fields.List(fields.String(validate=one_of(rules.METHODS, "检查方式")), required=True,
                          validate=[validate.Length(min=1, error="至少选择一种检查方式"), _unique("检查方式")],
                          metadata={"description": "检查方式：" + "、".join(rules.METHODS)})
    legal_basis = NonBlank(10000, required=True, multiline=True, metadata={"description": "检查依据"})
    check_points = fields.List(fields.Nested(CheckPointIn), validate=validate.Length(max=200, error="检查内容不能超过 200 条"),
                               metadata={"description": "检查内容（可随事项一并录入）"})

    @validates_schema
    def _check_point_seqs(self, data, **kwargs):
        seqs = [cp["seq"] for cp in data.get("check_points") or [] if cp.get("seq") is not None]
        if len(set(seqs)) != len(seqs):
            raise ValidationError("检查内容序号不能重复", field_name="check_points")


class ItemUpdate(ItemFields):
    pass


class ItemOut(BaseSchema):
    id = fields.Integer()
    code = fields.String()
    category = fields.String()
    name = fields.String()
    object_types = fields.List(fields.String())
    object_type_labels = labels(rules.TARGET_TYPES, "object_types")
    kind = fields.String()
    kind_label = label(rules.ITEM_KINDS, "kind")
    methods = fields.List(fields.String())
    method_labels = labels(rules.METHODS, "methods")
    legal_basis = fields.String()
    department_id = fields.Integer()
    department_code = fields.Function(lambda item: item.department.code)
    department_name = fields.Function(lambda item: item.department.name)
    ratio_cap_percent = fields.Float(allow_none=True)
    frequency = fields.String(allow_none=True)
    remark = fields.String(allow_none=True)
    required_qualifications = fields.Function(lambda item: list(item.required_qualifications or []),
                                              metadata={"description": "执法资质要求"})
    retired = _retired
    retired_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class ItemDetailOut(ItemOut):
    check_points = ActiveList(fields.Nested(CheckPointOut), metadata={"description": "现行检查内容（不含已停用的）"})


class ItemArgs(ListArgs):
    department_id = QueryId(metadata={"description": "检查主体（部门）"})
    category = Text(validate=validate.Length(max=64), metadata={"description": "抽查类别（完全一致）"})
    kind = fields.String(validate=one_of(rules.ITEM_KINDS, "事项类型"))
    method = fields.String(validate=one_of(rules.METHODS, "检查方式"))
    object_type = fields.String(validate=one_of(rules.TARGET_TYPES, "检查对象类型"))


# --- targets ---------------------------------------------------------------------------------------

class TargetFields(BaseSchema):
    uscc = Text(upper=True, blank_as_none=True, allow_none=True, validate=rule(rules.uscc_problem),
                metadata={"description": "统一社会信用代码（GB 32100-2015，校验位须正确）"})
    reg_no = Text(blank_as_none=True, allow_none=True, validate=rule(rules.reg_no_problem),
                  metadata={"description": "15 位注册号（无统一社会信用代码时）"})
    code = Text(upper=True, blank_as_none=True, allow_none=True,
                validate=validate.Regexp(DIRECTORY_CODE_RE, flags=re.IGNORECASE,
                                         error="名录代码由字母、数字、点、下划线和连字符组成，不超过 32 位"),
                metadata={"description": "名录代码：产品、项目、活动类对象必填；登记主体自动取统一社会信用代码或注册号"})
    name = NonBlank(200)
    type = fields.String(validate=one_of(rules.TARGET_TYPES, "对象类型"))
    address = OptionalText(300)
    region_code = Text(allow_none=True, validate=REGION_CODE)
    industry_code = Text(upper=True, blank_as_none=True, allow_none=True,
                         validate=validate.Regexp(rules.INDUSTRY_RE,
                                                  error="行业代码应为国民经济行业分类代码，如 C1311、F52"))
    risk_class = fields.String(allow_none=True, validate=one_of(rules.RISK_CLASSES, "信用风险分类"))
    tags = Tags(metadata={"description": "标签：列表，或以逗号、顿号、空格分隔的文本"})
    latitude = fields.Float(allow_none=True, allow_nan=False,
                            validate=validate.Range(min=3, max=54, error="纬度应在 3 与 54 之间（中国境内）"))
    longitude = fields.Float(allow_none=True, allow_nan=False,
                             validate=validate.Range(min=73, max=136, error="经度应在 73 与 136 之间（中国境内）"))
    datum = fields.String(allow_none=True, validate=validate.OneOf(rules.DATUMS, error="坐标系必须是：WGS-84、GCJ-02"))
    status = fields.String(validate=one_of(rules.TARGET_STATUSES, "经营状态"))
    legal_rep = OptionalText(64, metadata={"description": "法定代表人（负责人）"})
    phone = OptionalText(32, validate_also=PHONE)
    department_id = Id(allow_none=True, metadata={"description": "维护部门；部门管理员不填即本部门"})

    @validates_schema
    def _location(self, data, **kwargs):
        if "latitude" in data and "longitude" in data:
            lat, lon = data["latitude"], data["longitude"]
            if (lat is None) != (lon is None):
                raise ValidationError("经度和纬度须同时填写或同时不填",
                                      field_name="longitude" if lon is None else "latitude")


class TargetIn(TargetFields):
    name = NonBlank(200, required=True)
    type = fields.String(required=True, validate=one_of(rules.TARGET_TYPES, "对象类型"))

    @validates_schema
    def _identity(self, data, **kwargs):
        if data.get("type") in rules.REGISTERED_TYPES:
            if not data.get("uscc") and not data.get("reg_no"):
                raise ValidationError("企业、个体工商户、农民专业合作社和分支机构须填写统一社会信用代码，"
                                      "无统一社会信用代码的填写 15 位注册号", field_name="uscc")
        elif data.get("type") is not None:
            if data.get("uscc") or data.get("reg_no"):
                raise ValidationError("产品、项目、活动类检查对象使用名录代码，不填统一社会信用代码或注册号",
                                      field_name="uscc" if data.get("uscc") else "reg_no")
            if not data.get("code"):
                raise ValidationError("产品、项目、活动类检查对象须填写名录代码", field_name="code")
        if ("latitude" in data) != ("longitude" in data):
            raise ValidationError("经度和纬度须同时填写或同时不填",
                                  field_name="longitude" if "latitude" in data else "latitude")
        if data.get("latitude") is not None and data.get("datum") is None:
            raise ValidationError("填写经纬度时须注明坐标系（WGS-84 或 GCJ-02）", field_name="datum")


class TargetUpdate(TargetFields):
    pass


class TargetOut(BaseSchema):
    id = fields.Integer()
    code = fields.String(metadata={"description": "摇号用代码：统一社会信用代码，否则注册号，否则名录代码"})
    uscc = fields.String(allow_none=True)
    reg_no = fields.String(allow_none=True)
    name = fields.String()
    type = fields.String()
    type_label = label(rules.TARGET_TYPES, "type")
    address = fields.String(allow_none=True)
    region_code = fields.String(allow_none=True)
    industry_code = fields.String(allow_none=True)
    risk_class = fields.String(allow_none=True)
    risk_class_label = label(rules.RISK_CLASSES, "risk_class")
    tags = fields.List(fields.String())
    latitude = fields.Float(allow_none=True)
    longitude = fields.Float(allow_none=True)
    datum = fields.String(allow_none=True)
    status = fields.String()
    status_label = label(rules.TARGET_STATUSES, "status")
    legal_rep = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    department_id = fields.Integer(allow_none=True)
    retired = _retired
    retired_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class TargetArgs(ListArgs):
    department_id = QueryId(metadata={"description": "维护部门"})
    region = REGION_PREFIX
    type = codes_of(rules.TARGET_TYPES, "对象类型")
    risk_class = codes_of(rules.RISK_CLASSES, "信用风险分类")
    unclassified = fields.Boolean(metadata={"description": "只列未做信用风险分类的对象"})
    status = codes_of(rules.TARGET_STATUSES, "经营状态")
    tag = Text(validate=validate.Length(min=1, max=32), metadata={"description": "标签"})
    industry = Text(upper=True, validate=validate.Regexp(r"^[A-Za-z]\d{0,4}$", error="应为行业代码或其前缀，如 C、C13"),
                    metadata={"description": "行业代码或其前缀"})
    has_location = fields.Boolean(metadata={"description": "是否有经纬度"})


class TargetHistoryOut(BaseSchema):
    item_id = fields.Integer()
    item_code = fields.String()
    item_name = fields.String()
    item_category = fields.String()
    item_kind = fields.String()
    item_kind_label = fields.Function(lambda row: rules.ITEM_KINDS.get(row["item_kind"]))
    department_id = fields.Integer()
    department_name = fields.String(allow_none=True)
    last_inspected_on = fields.Date()
    source = fields.String(allow_none=True)


# --- inspectors ------------------------------------------------------------------------------------

CERT_NO = validate.Regexp(r"^[0-9A-Za-z\u4e00-\u9fff\-_/()（）\s]{1,32}$",
                          error="执法证号由汉字、字母、数字和连字符组成，不超过 32 位")


class InspectorFields(BaseSchema):
    department_id = Id(metadata={"description": "所属部门；部门管理员不填即本部门"})
    cert_no = Text(validate=[validate.Length(min=1, max=32, error=_length_error(32)), CERT_NO],
                   metadata={"description": "执法证号（唯一，同一人不能重复录入）"})
    name = NonBlank(64)
    phone = OptionalText(32, validate_also=PHONE)
    region_code = Text(allow_none=True, validate=REGION_CODE)
    position = OptionalText(64, metadata={"description": "职务"})
    qualifications = fields.List(Text(validate=validate.Length(min=1, max=64, error=_length_error(64))),
                                 validate=[validate.Length(max=20, error="资格不能超过 20 项"), _unique("资格")],
                                 metadata={"description": "执法资格"})
    expertise = Tags(metadata={"description": "专长标签"})
    status = fields.String(validate=one_of(rules.INSPECTOR_STATUSES, "状态"))


class InspectorIn(InspectorFields):
    cert_no = Text(required=True, validate=[validate.Length(min=1, max=32, error=_length_error(32)), CERT_NO],
                   metadata={"description": "执法证号（唯一，同一人不能重复录入）"})
    name = NonBlank(64, required=True)


class InspectorUpdate(InspectorFields):
    pass


class InspectorOut(BaseSchema):
    id = fields.Integer()
    department_id = fields.Integer()
    department_code = fields.Function(lambda i: i.department.code)
    department_name = fields.Function(lambda i: i.department.name)
    cert_no = fields.String()
    name = fields.String()
    phone = fields.String(allow_none=True)
    region_code = fields.String(allow_none=True)
    position = fields.String(allow_none=True)
    qualifications = fields.List(fields.String())
    expertise = fields.List(fields.String())
    status = fields.String()
    status_label = label(rules.INSPECTOR_STATUSES, "status")
    retired = _retired
    retired_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class InspectorArgs(ListArgs):
    department_id = QueryId(metadata={"description": "部门（部门管理员、计划编制人员只能查本部门）"})
    status = codes_of(rules.INSPECTOR_STATUSES, "状态")
    expertise = Text(validate=validate.Length(min=1, max=32), metadata={"description": "专长标签"})
    qualification = Text(validate=validate.Length(min=1, max=64), metadata={"description": "执法资格（包含）"})
    region = REGION_PREFIX


class ConflictIn(BaseSchema):
    target_id = Id(metadata={"description": "检查对象编号（与 target_code 二选一）"})
    target_code = Text(upper=True, validate=validate.Length(min=1, max=32),
                       metadata={"description": "检查对象代码：统一社会信用代码、注册号或名录代码"})
    reason = NonBlank(200, required=True, metadata={"description": "利害关系说明，如“配偶任该企业法定代表人”"})

    @validates_schema
    def _one_target(self, data, **kwargs):
        if data.get("target_id") is None and not data.get("target_code"):
            raise ValidationError("请指定检查对象（target_id 或 target_code）", field_name="target_id")
        if data.get("target_id") is not None and data.get("target_code"):
            raise ValidationError("target_id 与 target_code 只能填一个", field_name="target_code")


def _declaration_out(name: str, **person: fields.Field) -> type[BaseSchema]:
    """A declared conflict (回避) as the API shows it: its id, the person's fields, then the target
    and the declaration. Inspectors' (``ConflictOut``) and experts' (``ExpertConflictOut``) alike."""
    return BaseSchema.from_dict({
        "id": fields.Integer(), **person,
        "target_id": fields.Integer(),
        "target_code": fields.Function(lambda c: c.target.code),
        "target_name": fields.Function(lambda c: c.target.name),
        "reason": fields.String(),
        "declared_at": fields.DateTime(),
        "retired": _retired,
        "retired_at": fields.DateTime(allow_none=True),
    }, name=name)


ConflictOut = _declaration_out(
    "ConflictOut",
    inspector_id=fields.Integer(),
    inspector_name=fields.Function(lambda c: c.inspector.name),
    inspector_cert_no=fields.Function(lambda c: c.inspector.cert_no),
    department_id=fields.Function(lambda c: c.inspector.department_id))


class InspectorDetailOut(InspectorOut):
    conflicts = ActiveList(fields.Nested(ConflictOut), metadata={"description": "现行的利害关系申报（须回避的检查对象）"})


# --- experts ---------------------------------------------------------------------------------------

EXPERT_CODE = validate.Regexp(DIRECTORY_CODE_RE, error="专家编号由字母、数字、点、下划线和连字符组成，不超过 32 位")


class ExpertFields(BaseSchema):
    code = Text(upper=True, validate=EXPERT_CODE, metadata={"description": "专家编号"})
    name = NonBlank(64)
    organization = OptionalText(128, metadata={"description": "工作单位"})
    title = OptionalText(64, metadata={"description": "职称"})
    expert_fields = Tags(data_key="fields", attribute="fields", metadata={"description": "专业领域标签"})
    phone = OptionalText(32, validate_also=PHONE)
    department_id = Id(metadata={"description": "所属部门；部门管理员不填即本部门"})
    status = fields.String(validate=one_of(rules.EXPERT_STATUSES, "状态"))


class ExpertIn(ExpertFields):
    code = Text(required=True, upper=True, validate=EXPERT_CODE, metadata={"description": "专家编号"})
    name = NonBlank(64, required=True)


class ExpertUpdate(ExpertFields):
    pass


class ExpertOut(BaseSchema):
    id = fields.Integer()
    code = fields.String()
    name = fields.String()
    organization = fields.String(allow_none=True)
    title = fields.String(allow_none=True)
    expert_fields = fields.List(fields.String(), data_key="fields", attribute="fields")
    phone = fields.String(allow_none=True)
    department_id = fields.Integer()
    department_code = fields.Function(lambda e: e.department.code)
    department_name = fields.Function(lambda e: e.department.name)
    status = fields.String()
    status_label = label(rules.EXPERT_STATUSES, "status")
    retired = _retired
    retired_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


ExpertConflictOut = _declaration_out(
    "ExpertConflictOut",
    expert_id=fields.Integer(),
    expert_code=fields.Function(lambda c: c.expert.code),
    expert_name=fields.Function(lambda c: c.expert.name),
    department_id=fields.Function(lambda c: c.expert.department_id))


class ExpertArgs(ListArgs):
    department_id = QueryId(metadata={"description": "部门（部门管理员、计划编制人员只能查本部门）"})
    status = codes_of(rules.EXPERT_STATUSES, "状态")
    field = Text(validate=validate.Length(min=1, max=32), metadata={"description": "专业领域标签"})
