"""The publication clock: the working-day calendar, a year's holiday notice, due dates."""
from __future__ import annotations

from marshmallow import Schema, fields, post_load, validate

from backend.publication.calendar import MAX_DAYS, SOURCE_LABELS, STATES
from backend.publication.notice import MAX_HOLIDAYS, MAX_WORKDAYS, MAX_YEAR, MIN_YEAR
from schemas.base import BaseSchema, QuerySchema

MAX_DUE_DAYS = 250
DATE_HELP = "日期 YYYY-MM-DD（北京时间的日历日）"


class HolidayIn(BaseSchema):
    name = fields.String(required=True, validate=validate.Length(min=1, max=32),
                         metadata={"description": "节日名称，如 春节"})
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "放假首日（含）"})
    to = fields.Date(required=True, metadata={"description": "放假末日（含）；首末日之间每天都是放假日"})
    workdays = fields.List(fields.Date(), load_default=list, validate=validate.Length(max=MAX_WORKDAYS),
                           metadata={"description": "调休上班日（须为星期六或星期日），可为空"})

    @post_load
    def _document_keys(self, data, **_):
        data["from"] = data.pop("from_")
        return data


class CalendarImportIn(BaseSchema):
    year = fields.Integer(required=True, validate=validate.Range(min=MIN_YEAR, max=MAX_YEAR))
    title = fields.String(required=True, validate=validate.Length(min=1, max=200),
                          metadata={"description": "通知标题，如 国务院办公厅关于2026年部分节假日安排的通知"})
    ref = fields.String(allow_none=True, load_default=None, validate=validate.Length(max=100),
                        metadata={"description": "文号（如有）"})
    issued_on = fields.Date(allow_none=True, load_default=None, metadata={"description": "通知发布日期"})
    holidays = fields.List(fields.Nested(HolidayIn), required=True,
                           validate=validate.Length(min=1, max=MAX_HOLIDAYS))
    replace = fields.Boolean(load_default=False,
                             metadata={"description": "该年已导入时是否替换（替换记入审计日志）；内容相同则不变"})


class CalendarDayOut(Schema):
    day = fields.Date()
    weekday = fields.String(metadata={"description": "星期一 … 星期日"})
    name = fields.String(allow_none=True, metadata={"description": "所属节日"})


class DifferenceOut(Schema):
    day = fields.Date()
    weekday = fields.String()
    notice = fields.String(metadata={"enum": ["workday", "restday"], "description": "导入的通知"})
    library = fields.String(metadata={"enum": ["workday", "restday"], "description": "chinesecalendar"})


class PublicNoticeOut(Schema):
    title = fields.String()
    ref = fields.String(allow_none=True)
    issued_on = fields.Date(allow_none=True)
    imported_at = fields.DateTime()


class NoticeOut(PublicNoticeOut):
    file_name = fields.String(allow_none=True)
    sha256 = fields.String()
    source = fields.String(metadata={"enum": ["cli", "api"]})
    imported_by = fields.String()


class CalendarYearOut(Schema):
    year = fields.Integer()
    source = fields.String(metadata={"enum": list(SOURCE_LABELS),
                                     "description": "notice：管理员导入的通知；chinesecalendar：内置数据；"
                                                    "weekdays：尚无该年安排，暂按周一至周五（期限为暂定）"})
    source_label = fields.String()
    provisional = fields.Boolean(metadata={"description": "该年期限是否为暂定"})
    library_knows_year = fields.Boolean(metadata={"description": "chinesecalendar 是否有该年数据"})
    notice = fields.Nested(PublicNoticeOut, allow_none=True)
    restdays = fields.List(fields.Nested(CalendarDayOut), metadata={"description": "放假日（含假期中的周末）"})
    workdays = fields.List(fields.Nested(CalendarDayOut), metadata={"description": "调休上班的周末"})
    differences_from_library = fields.List(fields.Nested(DifferenceOut),
                                           metadata={"description": "导入的通知与 chinesecalendar 不一致的日期"})


class CalendarImportOut(CalendarYearOut):
    notice = fields.Nested(NoticeOut, allow_none=True)
    action = fields.String(metadata={"enum": ["created", "replaced", "unchanged"]})


class DueArgs(QuerySchema):
    from_ = fields.Date(required=True, data_key="from", metadata={"description": "第 0 天（如办结日期）；" + DATE_HELP})
    days = fields.Integer(load_default=20, validate=validate.Range(min=1, max=min(MAX_DUE_DAYS, MAX_DAYS)),
                          metadata={"description": "N 个工作日（公示 20，处罚决定 7）"})
    today = fields.Date(load_default=None, metadata={"description": "按哪一天判断状态（默认北京时间今天）"})


class YearSourceOut(Schema):
    year = fields.Integer()
    source = fields.String(metadata={"enum": list(SOURCE_LABELS)})
    source_label = fields.String()


class DueOut(Schema):
    from_ = fields.Date(data_key="from")
    days = fields.Integer()
    due = fields.Date(metadata={"description": "第 N 个工作日（from 之后，不含 from 当天）"})
    provisional = fields.Boolean(metadata={"description": "途经尚无节假日安排的年份，按周一至周五暂定"})
    today = fields.Date()
    state = fields.String(metadata={"enum": list(STATES)})
    state_label = fields.String()
    working_days_left = fields.Integer(metadata={"description": "今天到期限还有几个工作日；逾期为负数"})
    sources = fields.List(fields.Nested(YearSourceOut))
