"""The supervisors' figures: the table, a figure by month, the inspections behind a number, the table as a file.
Thin: services.py holds the rules."""
from __future__ import annotations

import tempfile

from flask import send_file
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import current_actor, requires
from backend.directory.exports import content_disposition
from backend.directory.readers import FORMATS
from backend.figures import services
from schemas.base import page_of
from schemas.figures import ExportArgs, FigureItemOut, FiguresOut, FilterArgs, ItemsArgs, SeriesArgs, SeriesOut

blp = blueprint("figures", __name__, "/api/v1/figures",
                "监督统计指标：完成率、公示率、覆盖率等，按部门、区划、任务、计划、期间，附每个数字背后的检查清单")
READERS = services.READERS


@blp.route("")
class Figures(MethodView):
    @requires(*READERS)
    @blp.arguments(FilterArgs, location="query")
    @blp.response(200, FiguresOut)
    def get(self, args):
        """全部指标：分子、分母、比率（分母为 0 时为 null）与定义（docs/figures.md）"""
        scope = services.scope_of(current_actor(), args)
        return {"scope": scope.to_dict(), "figures": services.figures(get_session(), scope)}


@blp.route("/series")
class Series(MethodView):
    @requires(*READERS)
    @blp.arguments(SeriesArgs, location="query")
    @blp.response(200, SeriesOut)
    def get(self, args):
        """一个指标的月度序列（期间内逐月，按任务截止日期归属）"""
        scope = services.scope_of(current_actor(), args)
        return {"scope": scope.to_dict(), "figure": args["figure"],
                "points": services.series(get_session(), scope, args["figure"])}


@blp.route("/export")
class Export(MethodView):
    @requires(*READERS)
    @blp.arguments(ExportArgs, location="query")
    @blp.doc(responses={"200": {"description": "文件下载（Content-Disposition 中为中文文件名）"}})
    def get(self, args):
        """导出指标表（CSV 或 XLSX），筛选条件同 GET /api/v1/figures"""
        scope = services.scope_of(current_actor(), args)
        fmt = args["format"]
        out = tempfile.TemporaryFile()
        try:
            services.export_table(out, get_session(), scope, fmt)
            out.seek(0)
        except BaseException:
            out.close()
            raise
        file_name = f"抽查统计指标-{scope.period.text}.{fmt}"
        response = send_file(out, mimetype=FORMATS[fmt], as_attachment=True, download_name=file_name)
        response.headers["Content-Disposition"] = content_disposition(file_name, f"figures-{scope.period.text}.{fmt}")
        return response


@blp.route("/<string:figure>/items")
class Items(MethodView):
    @requires(*READERS)
    @blp.arguments(ItemsArgs, location="query")
    @blp.response(200, page_of(FigureItemOut))
    def get(self, args, figure):
        """一个数字背后的检查（分子、分母或缺口），分页；每条附检查记录与 PDF 的链接"""
        scope = services.scope_of(current_actor(), args)
        session = get_session()
        page = paginate(session, services.items_query(session, scope, figure, args["part"]), args)
        return {**page, "items": services.item_rows(session, page["items"])}
