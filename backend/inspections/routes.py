"""/api/v1/inspections: the record on the office side; the lead's merge with ETag / If-Match."""
from __future__ import annotations

import io

from flask import Response, current_app, request, send_file
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import ANY_USER, current_actor, requires
from backend.auth.roles import Role
from backend.errors import NotFound
from backend.inspections import office, pdf, record_pdf
from backend.media.sending import send_stored_file
from schemas.base import page_of
from schemas.sync import (ActionOut, EmptyIn, InspectionListArgs, InspectionRowOut, RecordPatchIn, RecordPdfArgs,
                          RecordPdfPendingOut, ResolveIn, ResolveManyIn, TaskPublicationOut)

blp = blueprint("inspections", __name__, "/api/v1", "检查记录：组长汇总（办公端）、公示期限")
STAFF = (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PLANNER)


def _with_etag(session, inspection_id: int, body: dict) -> tuple[dict, int, dict]:
    tag = office.etag(inspection_id, office.version(session, inspection_id))
    return {**body, "etag": tag}, 200, {"ETag": tag}


@blp.route("/inspections")
class Inspections(MethodView):
    @requires(*STAFF)
    @blp.arguments(InspectionListArgs, location="query")
    @blp.response(200, page_of(InspectionRowOut))
    def get(self, args):
        """检查记录列表：按任务、状态、公示期限状态筛选"""
        session = get_session()
        page = paginate(session, office.list_query(session, current_actor(), args), args)
        return {**page, "items": office.rows(session, page["items"])}


@blp.route("/inspections/<int:inspection_id>")
class InspectionDetail(MethodView):
    @requires(ANY_USER)
    @blp.response(200, description="检查记录（与手机拉取的文档同形，见 docs/sync.md §4.2），响应头 ETag 为其版本")
    def get(self, inspection_id):
        """一户检查的完整记录：各部门部分、签名、冲突、提示、汇总、公示期限"""
        data, tag = office.read(get_session(), current_actor(), inspection_id)
        return data, 200, {"ETag": tag, "Cache-Control": "no-store"}


@blp.route("/inspections/<int:inspection_id>/record")
class RecordFields(MethodView):
    @requires(Role.INSPECTOR)
    @blp.arguments(RecordPatchIn)
    @blp.response(200, ActionOut)
    def patch(self, data, inspection_id):
        """组长修改汇总记录（须带 If-Match；过期版本返回 412）"""
        session = get_session()
        result = office.record_fields(session, current_actor(), inspection_id, request.headers.get("If-Match"),
                                      data["fields"])
        return _with_etag(session, inspection_id, result)


@blp.route("/inspections/<int:inspection_id>/conflicts/<int:conflict_id>/resolve")
class ResolveConflict(MethodView):
    @requires(Role.INSPECTOR)
    @blp.arguments(ResolveIn)
    @blp.response(200, ActionOut)
    def post(self, data, inspection_id, conflict_id):
        """组长处理冲突：保留服务器上的值（server）或采用冲突提交的值（client），选择记入审计"""
        session = get_session()
        result = office.act(session, current_actor(), inspection_id, request.headers.get("If-Match"),
                            "conflict.resolve", {"conflict_id": conflict_id, **data})
        return _with_etag(session, inspection_id, result)


@blp.route("/inspections/<int:inspection_id>/conflicts/resolve")
class ResolveConflicts(MethodView):
    @requires(Role.INSPECTOR)
    @blp.arguments(ResolveManyIn)
    @blp.response(200, ActionOut)
    def post(self, data, inspection_id):
        """组长一次处理多个冲突（列出的，或全部未处理的；可限一个部门），同一选择，记一条审计"""
        session = get_session()
        result = office.act(session, current_actor(), inspection_id, request.headers.get("If-Match"),
                            "conflict.resolve_many", {k: v for k, v in data.items() if v is not None})
        return _with_etag(session, inspection_id, result)


@blp.route("/inspections/<int:inspection_id>/record/finalize")
class FinalizeRecord(MethodView):
    @requires(Role.INSPECTOR)
    @blp.arguments(EmptyIn)
    @blp.response(200, ActionOut)
    def post(self, _data, inspection_id):
        """组长定稿（之后各成员会签）"""
        session = get_session()
        result = office.finalize(session, current_actor(), inspection_id, request.headers.get("If-Match"))
        return _with_etag(session, inspection_id, result)


@blp.route("/inspections/<int:inspection_id>/record/submit")
class SubmitRecord(MethodView):
    @requires(Role.INSPECTOR)
    @blp.arguments(EmptyIn)
    @blp.response(200, ActionOut)
    def post(self, _data, inspection_id):
        """组长提交：检查完成，开始计算 20 个工作日的公示期限"""
        session = get_session()
        result = office.submit(session, current_actor(), inspection_id, request.headers.get("If-Match"),
                               queue=current_app.extensions["shuangsui.jobs"])
        return _with_etag(session, inspection_id, result)


def _content_disposition(file_name: str, fallback: str) -> str:
    """``inline`` with an ASCII fallback and the Chinese name as ``filename*`` (RFC 6266, RFC 8187)."""
    from urllib.parse import quote

    return f'inline; filename="{fallback}"; filename*=UTF-8\'\'{quote(file_name, safe="")}'


@blp.route("/inspections/<int:inspection_id>/record.pdf")
class RecordPdf(MethodView):
    @requires(ANY_USER)
    @blp.arguments(RecordPdfArgs, location="query")
    @blp.doc(responses={
        "200": {"description": "PDF 检查记录表（Content-Disposition 中为中文文件名）；ETag 为其 SHA-256",
                "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
        "304": {"description": "If-None-Match 与当前 PDF 相同"},
        "202": {"description": "正在生成：body 给出后台任务 job_id（Location 为 /api/v1/jobs/<job_id>），"
                               "Retry-After 秒后再取同一地址", "content": {"application/json": {"schema": RecordPdfPendingOut}}},
        "409": {"description": "record.not_submitted：尚未提交（组长可加 ?draft=1 预览草稿）"},
        "429": {"description": "pdf.busy：本人已有 PDF_MAX_ACTIVE_JOBS 份正在生成（见 Retry-After）"},
        "503": {"description": "pdf.font_missing：服务器未安装中文字体；pdf.render_failed：生成失败（见 Retry-After）"}})
    def get(self, args, inspection_id):
        """检查记录表 PDF：已提交的记录（组员、参与部门工作人员、系统管理员、监督人员）；提交前组长可预览草稿

        生成需要时间：尚未生成时答 202 与生成它的后台任务（稍后再取同一地址，或查询该任务）。"""
        settings = pdf.Settings.from_config(current_app.config)
        result = record_pdf.fetch(get_session(), current_actor(), inspection_id, settings, draft=args["draft"],
                                  queue=current_app.extensions["shuangsui.jobs"],
                                  max_active=int(current_app.config.get("PDF_MAX_ACTIVE_JOBS")
                                                 or record_pdf.MAX_ACTIVE_JOBS))
        if isinstance(result, record_pdf.Pending):
            body = RecordPdfPendingOut().dump(result.body())
            return body, 202, {"Retry-After": str(result.retry_after), "Location": f"/api/v1/jobs/{result.job_id}",
                               "Cache-Control": "no-store"}
        options = dict(mimetype="application/pdf", conditional=not result.draft,
                       etag=False if result.draft else result.sha256, max_age=None, last_modified=None)
        if result.store is not None:
            try:
                response: Response = send_stored_file(result.store, result.sha256, **options)
            except FileNotFoundError:   # removed since it was found
                raise NotFound("文件内容缺失，请联系管理员", code="media.file_missing") from None
        else:
            response = send_file(io.BytesIO(result.data), **options)
        response.headers["Content-Disposition"] = _content_disposition(result.file_name, result.fallback)
        response.headers["Cache-Control"] = "private, no-store" if result.draft else "private, no-cache"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


@blp.route("/tasks/<int:task_id>/publication")
class TaskPublication(MethodView):
    @requires(*STAFF)
    @blp.response(200, TaskPublicationOut)
    def get(self, task_id):
        """任务的检查完成与公示期限情况（最晚到期日、按期/即将到期/逾期）"""
        return office.task_publication(get_session(), current_actor(), task_id)
