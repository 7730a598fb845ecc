"""Penalty decisions (行政处罚决定, published apart), the national publicity system's batch exports, and the
经营异常名录 review list. Thin: parse, call ``penalties`` / ``exports``, dump."""
from __future__ import annotations


from flask import current_app, send_file
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import current_actor, public, requires
from backend.auth.roles import Role
from backend.directory.exports import content_disposition
from backend.directory.readers import FORMATS
from backend.errors import NotFound
from backend.media.sending import send_stored_file
from backend.publication import exports, penalties
from backend.publication.models import PublicationExport
from schemas.base import page_of
from schemas.publication_rest import (AbnormalArgs, AbnormalFileArgs, AbnormalRowOut, ExportArgs, ExportIn,
                                      ExportOut, PenaltyArgs, PenaltyIn, PenaltyOut, PenaltyPreviewOut,
                                      PublicPenaltyArgs, PublicPenaltyOut)
from schemas.exports import NationalFileArgs
from schemas.system import JobOut

blp = blueprint("publication_rest", __name__, "/api/v1/publication",
                "行政处罚决定公示、国家企业信用信息公示系统导出、经营异常名录待审名单")
public_blp = blueprint("public_penalties", __name__, "/api/public", "公示的行政处罚决定（无需登录）")
PUBLISHERS = (Role.DEPT_ADMIN, Role.PUBLISHER)
READERS = (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PUBLISHER)


def _attachment(data, file_name: str, fallback: str, fmt: str):
    response = send_file(data, mimetype=FORMATS.get(fmt, "application/octet-stream"), as_attachment=True,
                         download_name=file_name)
    response.headers["Content-Disposition"] = content_disposition(file_name, fallback)
    return response


def _stored_attachment(store, sha256: str, file_name: str, fallback: str, fmt: str):
    """A stored file (local or S3) as an attachment; ``FileNotFoundError`` when it is gone."""
    response = send_stored_file(store, sha256, mimetype=FORMATS.get(fmt, "application/octet-stream"),
                                as_attachment=True, download_name=file_name)
    response.headers["Content-Disposition"] = content_disposition(file_name, fallback)
    return response


# --- penalty decisions ---------------------------------------------------------------------------------

@blp.route("/inspections/<int:inspection_id>/penalties")
class PenaltyCreate(MethodView):
    @requires(*PUBLISHERS)
    @blp.arguments(PenaltyIn)
    @blp.response(201, PenaltyOut)
    def post(self, data, inspection_id):
        """登记检查之后作出的行政处罚决定（本部门参加的检查）；公示期限为决定之日起 7 个工作日"""
        return penalties.create(get_session(), current_actor(), inspection_id, data)


@blp.route("/penalties")
class PenaltyList(MethodView):
    @requires(*READERS)
    @blp.arguments(PenaltyArgs, location="query")
    @blp.response(200, page_of(PenaltyOut))
    def get(self, args):
        """本部门登记的行政处罚决定，按公示期限排序（系统管理员、监督人员：任一部门或全部）"""
        session = get_session()
        page = paginate(session, penalties.staff_query(current_actor(), args), args)
        return {**page, "items": [penalties.view(session, r) for r in page["items"]]}


@blp.route("/penalties/<int:decision_id>/preview")
class PenaltyPreview(MethodView):
    @requires(*PUBLISHERS)
    @blp.response(200, PenaltyPreviewOut)
    def get(self, decision_id):
        """预览：发布后公众看到的内容，逐字相同"""
        return penalties.preview(get_session(), current_actor(), decision_id)


@blp.route("/penalties/<int:decision_id>/publish")
class PenaltyPublish(MethodView):
    @requires(*PUBLISHERS)
    @blp.response(200, PenaltyOut)
    def post(self, decision_id):
        """发布本部门的行政处罚决定（发布后不可更改），记入审计日志"""
        return penalties.publish(get_session(), current_actor(), decision_id)


@public_blp.route("/penalties")
class PublicPenalties(MethodView):
    @public
    @public_blp.arguments(PublicPenaltyArgs, location="query")
    @public_blp.response(200, page_of(PublicPenaltyOut))
    def get(self, args):
        """公示的行政处罚决定：按文号、部门、决定日期查询"""
        session = get_session()
        page = paginate(session, penalties.public_query(args), args)
        return {**page, "items": [penalties.public_view(r) for r in page["items"]]}


@public_blp.route("/penalties/<int:decision_id>")
class PublicPenalty(MethodView):
    @public
    @public_blp.response(200, PublicPenaltyOut)
    def get(self, decision_id):
        """一条公示的行政处罚决定（永久链接）"""
        return penalties.public_one(get_session(), decision_id)


# --- exports for the national publicity system ---------------------------------------------------------

@blp.route("/exports")
class Exports(MethodView):
    @requires(Role.SYSADMIN, *PUBLISHERS)
    @blp.arguments(ExportIn)
    @blp.response(202, JobOut)
    def post(self, data):
        """提交后台导出：某期间公示的检查结果，国家企业信用信息公示系统的字段（CSV 或 XLSX）；每次导出均登记"""
        from backend.jobs import services as jobs

        actor = current_actor()
        department_id = exports.scope_department(actor, data.get("department_id"))
        exports.check_period(data["from_"], data["to"])
        session = get_session()
        job = jobs.enqueue(session, current_app.extensions["shuangsui.jobs"], "publication.export",
                           {"start": data["from_"].isoformat(), "end": data["to"].isoformat(),
                            "format": data["format"], "department_id": department_id}, actor, max_attempts=2)
        session.refresh(job)
        return job

    @requires(*READERS)
    @blp.arguments(ExportArgs, location="query")
    @blp.response(200, page_of(ExportOut))
    def get(self, args):
        """已完成的导出，新的在前（部门用户：本部门的）"""
        session = get_session()
        page = paginate(session, exports.exports_query(current_actor(), args), args)
        return {**page, "items": [exports.export_view(r) for r in page["items"]]}


@blp.route("/exports/file")
class ExportNow(MethodView):
    @requires(Role.SYSADMIN, *PUBLISHERS)
    @blp.arguments(NationalFileArgs, location="query")
    @blp.doc(responses={"200": {"description": "导出的文件（同时登记为一次导出）"},
                        "202": {"description": "数据较多（超过 EXPORT_ASYNC_ROWS 条）或 async=1：后台任务（JobOut），"
                                               "完成后从 /api/v1/jobs/<id>/file 下载"}})
    def get(self, args):
        """直接导出某期间公示的检查结果（国家企业信用信息公示系统的字段）；数据多时作为后台任务。每次导出均登记"""
        from backend.jobs import exports as file_exports

        actor = current_actor()
        params = {"from": args["from_"].isoformat(), "to": args["to"].isoformat(),
                  "department_id": exports.scope_department(actor, args.get("department_id"))}
        return file_exports.respond("publication.national", params, args["format"], force_async=args["async_"])


@blp.route("/exports/<int:export_id>/file")
class ExportFile(MethodView):
    @requires(*READERS)
    @blp.doc(responses={"200": {"description": "导出的文件"}})
    def get(self, export_id):
        """下载一次导出的文件"""
        from backend.media import storage

        row = get_session().get(PublicationExport, export_id)
        if row is None:
            raise NotFound("导出记录不存在", code="export.not_found")
        exports.may_read_export(current_actor(), row)
        try:
            return _stored_attachment(storage.get(current_app.config["MEDIA_DIR"]), row.sha256, row.file_name,
                               f"publication_{row.period_from:%Y%m%d}-{row.period_to:%Y%m%d}.{row.format}", row.format)
        except FileNotFoundError:
            raise NotFound("导出的文件已被清理，请重新导出", code="export.file_missing") from None


# --- the notice to the business (检查结果告知书) --------------------------------------------------------------

@blp.route("/results/<int:result_id>/notice.pdf")
class Notice(MethodView):
    @requires(*PUBLISHERS)
    @blp.doc(responses={"200": {"description": "检查结果告知书（PDF）"},
                        "202": {"description": "正在生成：{state, job_id, job_status, retry_after, message}"}})
    def get(self, result_id):
        """下载发布时生成的检查结果告知书（送达企业；仅发布部门的部门管理员、公示审核人员）"""
        from backend.inspections import pdf
        from backend.publication import business_notice

        settings = pdf.Settings.from_config(current_app.config)
        row, made = business_notice.fetch(get_session(), current_actor(), result_id, settings,
                                          current_app.extensions.get("shuangsui.jobs"))
        if isinstance(made, business_notice.Pending):
            return made.body(), 202, {"Retry-After": str(business_notice.RETRY_AFTER_S),
                                      "Location": f"/api/v1/jobs/{made.job_id}", "Cache-Control": "no-store"}
        from backend.media import storage

        try:
            response = send_stored_file(storage.get(settings.media_dir), made, mimetype="application/pdf",
                                        as_attachment=True, download_name=business_notice.file_name(row))
        except FileNotFoundError:
            raise NotFound("文件内容缺失，请联系管理员", code="media.file_missing") from None
        response.headers["Content-Disposition"] = content_disposition(
            business_notice.file_name(row), f"notice-{row.task_code}-{row.id}.pdf")
        return response


# --- 经营异常名录 review -----------------------------------------------------------------------------------

@blp.route("/abnormal")
class Abnormal(MethodView):
    @requires(*READERS)
    @blp.arguments(AbnormalArgs, location="query")
    @blp.response(200, page_of(AbnormalRowOut))
    def get(self, args):
        """通过登记的住所（经营场所）无法联系的企业（经营异常名录待审），按检查完成日期倒序"""
        session = get_session()
        page = paginate(session, exports.abnormal_query(current_actor(), args), args, scalars=False)
        return {**page, "items": exports.abnormal_rows(session, page["items"])}


@blp.route("/abnormal/file")
class AbnormalFile(MethodView):
    @requires(*READERS)
    @blp.arguments(AbnormalFileArgs, location="query")
    @blp.doc(responses={"200": {"description": "CSV 或 XLSX"}})
    def get(self, args):
        """导出经营异常名录待审名单（CSV 或 XLSX），记入审计日志；数据多时作为后台任务"""
        from backend.jobs import exports as file_exports

        params = {"department_id": args.get("department_id"),
                  "from": args["from_"].isoformat() if args.get("from_") else None,
                  "to": args["to"].isoformat() if args.get("to") else None}
        return file_exports.respond("publication.abnormal", params, args["format"], force_async=args["async_"])
