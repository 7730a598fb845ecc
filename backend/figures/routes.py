"""The supervisors' figures: the table, a figure by month, the inspections behind a number, the table as a file.
Thin: services.py holds the rules."""
from __future__ import annotations

import tempfile

from flask import send_file
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint
from backend.auth.access import current_actor, requires
from backend.directory.exports import content_disposition
from backend.directory.readers import FORMATS
from backend.figures import services
from schemas.base import page_of
from schemas.figures import (ExportArgs, FigureItemOut, FiguresOut, FilterArgs, ItemsArgs, ItemsExportArgs, ReportIn,
                             SeriesArgs, SeriesOut)
from schemas.system import JobOut

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
        return services.items_page(get_session(), scope, figure, args["part"], args)


@blp.route("/<string:figure>/items/export")
class ItemsExport(MethodView):
    @requires(*READERS)
    @blp.arguments(ItemsExportArgs, location="query")
    @blp.doc(responses={"200": {"description": "文件下载（CSV 或 XLSX）"},
                        "202": {"description": "数据较多（超过 EXPORT_ASYNC_ROWS 条）或 async=1：后台任务（JobOut），"
                                               "完成后从 /api/v1/jobs/<id>/file 下载"}})
    def get(self, args, figure):
        """导出一个数字背后的检查清单（CSV 或 XLSX）；数据多时作为后台任务"""
        from backend.jobs import exports

        scope = services.scope_of(current_actor(), args)
        services.check_figure(figure)
        params = {"figure": figure, "part": args["part"], "period": scope.period.text,
                  "department_id": scope.department_id, "region": scope.region, "task_id": scope.task_id,
                  "plan_id": scope.plan_id}
        return exports.respond("figures.items", params, args["format"], force_async=args["async_"])


@blp.route("/report")
class Report(MethodView):
    @requires(*READERS)
    @blp.arguments(ReportIn)
    @blp.response(202, JobOut)
    def post(self, data):
        """生成季度通报（PDF，后台任务）：各项指标（总体、分部门、分区划）与逾期清单；在 /api/v1/jobs/<id> 查看进度，
        完成后从 /api/v1/figures/report/<任务 id> 下载"""
        from flask import current_app

        from backend.figures import report
        from backend.jobs import services as jobs

        actor = current_actor()
        scope = report.quarter_scope(actor, data["quarter"], data.get("department_id"), data.get("region"))
        session = get_session()
        job = jobs.enqueue(session, current_app.extensions["shuangsui.jobs"], report.JOB,
                           {"quarter": scope.period.text, "department_id": scope.department_id,
                            "region": scope.region}, actor, max_attempts=2)
        session.refresh(job)
        return job, 202, {"Location": f"/api/v1/jobs/{job.id}"}


@blp.route("/report/<string:job_id>")
class ReportFile(MethodView):
    @requires(*READERS)
    @blp.doc(responses={"200": {"description": "季度通报 PDF"},
                        "409": {"description": "job.not_ready：尚在生成（details 含进度）；job.failed：生成失败"}})
    def get(self, job_id):
        """下载生成的季度通报（PDF；仅限提交人或系统管理员）"""
        from backend.figures.report import JOB
        from backend.jobs.exports import send_job_file

        return send_job_file(job_id, (JOB,))
