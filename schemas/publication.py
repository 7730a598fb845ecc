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


class ProvisionalPeriodOut(Schema):
    from_ = fields.Date(data_key="from", metadata={"description": "首日（含）"})
    to = fields.Date(metadata={"description": "末日（含）"})
    year = fields.Integer(metadata={"description": "在等哪一年的国务院节假日安排通知"})
    holiday = fields.String(allow_none=True, metadata={"description": "在等哪个节日的放假调休安排；"
                                                                       "null：该年不在 2000–2100 年，暂按周一至周五"})
    label = fields.String(metadata={"description": "给人看的一句话，如 2027-02-09 至 2027-02-18：2027 年春节前后，"
                                                   "放假调休待国务院通知"})


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
                                                    "statutory：该年通知未发布，按《全国年节及纪念日放假办法》的节日"
                                                    "休息，节日前后的调休待定；weekdays：暂按周一至周五"})
    source_label = fields.String()
    provisional = fields.Boolean(metadata={"description": "该年的放假安排尚未发布（节日前后的日子为暂定）"})
    library_knows_year = fields.Boolean(metadata={"description": "chinesecalendar 是否有该年数据"})
    law = fields.String(allow_none=True, metadata={"description": "source 为 statutory 时据以计算节日的放假办法"})
    provisional_periods = fields.List(fields.Nested(ProvisionalPeriodOut),
                                      metadata={"description": "该年中暂定的日子：放假调休尚待通知（含年末几天，"
                                                               "若下一年的通知尚未发布）"})
    notice = fields.Nested(PublicNoticeOut, allow_none=True)
    restdays = fields.List(fields.Nested(CalendarDayOut),
                           metadata={"description": "放假日（含假期中的周末）；statutory 时为法定节日当天"})
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
    provisional = fields.Boolean(metadata={"description": "途经的日子中有暂定的（放假调休尚待通知），"
                                                          "见 provisional_periods"})
    provisional_periods = fields.List(fields.Nested(ProvisionalPeriodOut),
                                      metadata={"description": "from 之后到 due 之间暂定的日子"})
    statutory_days = fields.List(fields.Nested(CalendarDayOut),
                                 metadata={"description": "from 之后到 due 之间按法定节日计为休息日的日子"
                                                          "（该年通知尚未发布）"})
    today = fields.Date()
    state = fields.String(metadata={"enum": list(STATES)})
    state_label = fields.String()
    working_days_left = fields.Integer(metadata={"description": "今天到期限还有几个工作日；逾期为负数"})
    sources = fields.List(fields.Nested(YearSourceOut))
