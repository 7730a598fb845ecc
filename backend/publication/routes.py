"""The working-day calendar: public year pages, the notice import (system admins), due dates. Thin."""
from __future__ import annotations

from flask.views import MethodView

from backend import get_session
from backend.api import blueprint
from backend.auth.access import ANY_USER, current_actor, public, requires
from backend.auth.roles import Role
from backend.publication import services
from backend.publication.notice import parse_notice
from schemas.publication import CalendarImportIn, CalendarImportOut, CalendarYearOut, DueArgs, DueOut

blp = blueprint("calendar", __name__, "/api/v1", "工作日日历与公示期限")
public_blp = blueprint("public_calendar", __name__, "/api/public", "公开的工作日日历（无需登录）")


@public_blp.route("/calendar/<int:year>")
class PublicCalendarYear(MethodView):
    @public
    @public_blp.response(200, CalendarYearOut)
    def get(self, year):
        """某年的放假日与调休上班日及其来源（管理员导入的通知、chinesecalendar，或暂按周一至周五）"""
        return services.year_view(get_session(), year)


@blp.route("/calendar/import")
class CalendarImport(MethodView):
    @requires(Role.SYSADMIN)
    @blp.arguments(CalendarImportIn)
    @blp.response(200, CalendarImportOut)
    def post(self, data):
        """导入某年的国务院节假日安排通知（校验后生效；该年已导入时须 replace=true，替换记入审计日志）"""
        replace = data.pop("replace")
        notice = parse_notice(data)
        return services.import_notice(get_session(), current_actor(), notice, replace=replace, source="api")


@blp.route("/calendar/due")
class CalendarDue(MethodView):
    @requires(ANY_USER)
    @blp.arguments(DueArgs, location="query")
    @blp.response(200, DueOut)
    def get(self, args):
        """计算某日之后第 N 个工作日（第 0 天不计）及其今天的状态"""
        return services.due_view(get_session(), args["from_"], args["days"], args.get("today"))
