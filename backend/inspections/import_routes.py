"""/api/sync/imports: the office's 导入离线记录 (an exported outbox uploaded, previewed, confirmed; import_desk.py)."""
from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath

from flask import current_app
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, body_limit, paginate
from backend.auth.access import current_actor, requires
from backend.auth.roles import Role
from backend.errors import DomainError
from backend.inspections import import_desk
from backend.media.services import MediaSettings
from schemas.base import page_of
from schemas.sync_imports import ConfirmIn, ImportArgs, ImportFiles, OutboxImportOut, OutboxImportRowOut

blp = blueprint("sync_imports", __name__, "/api/sync/imports",
                "导入离线记录：管理员上传手机“导出未发送记录”的文件，预览后确认导入（docs/sync.md §10）")

# one request: the file is read whole to be checked (MAX_UPLOAD_MB, docs/decisions.md)
LIMIT = "MAX_CONTENT_LENGTH"
LIMIT_MESSAGE = "文件过大：上限为 {mb} MB（MAX_UPLOAD_MB）；更大的文件请由运维人员在服务器上用 shuangsui sync import 导入"


def _stored() -> import_desk.Stored:
    return import_desk.Stored(current_app.config["MEDIA_DIR"], int(current_app.config["MAX_CONTENT_LENGTH"]))


def _display_name(raw: str) -> str:
    name = PureWindowsPath(PurePosixPath(raw).name).name.strip()
    return name[-200:] or "outbox.json"


@blp.route("")
class Imports(MethodView):
    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @blp.arguments(ImportArgs, location="query")
    @blp.response(200, page_of(OutboxImportRowOut))
    def get(self, args):
        """导入离线记录的列表（最新的在前）：部门管理员看本部门人员的，系统管理员看全部"""
        return paginate(get_session(), import_desk.page_query(current_actor(), args.get("status")), args)

    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @body_limit(LIMIT, code="sync.import_too_large", message=LIMIT_MESSAGE)
    @blp.arguments(ImportFiles, location="files")
    @blp.response(201, OutboxImportOut, description="已校验并保存的文件及其预览（status previewed）；尚未导入任何记录")
    @blp.alt_response(400, description="sync.import_no_file：没有文件；sync.import_empty_file：文件是空的")
    @blp.alt_response(403, description="forbidden.department：不是本部门人员的文件；sync.client_not_yours：设备属于其他账号")
    @blp.alt_response(404, description="sync.import_unknown_user：文件中的账号不存在")
    @blp.alt_response(409, description="sync.import_gap_closed：这台设备的缺口已由一次导入补上")
    @blp.alt_response(413, description="sync.import_too_large：超过 MAX_UPLOAD_MB")
    @blp.alt_response(422, description="sync.import_bad_file：不是导出文件、版本不符、编号无序、照片与 SHA-256 不符等；"
                                       "forbidden.not_inspector：账号不是执法检查人员")
    def post(self, files):
        """上传手机“导出未发送记录”的文件：整份校验（与 shuangsui sync import 相同），返回预览，尚不导入

        预览：账号、设备、变更条数（服务器已收到的、将送达的）、照片、无法核验的代签、编号缺口。确认导入见 /confirm。
        """
        upload = files.get("file")
        if upload is None or not (upload.filename or "").strip():
            raise DomainError("请选择要导入的文件（表单字段 file）", code="sync.import_no_file", status=400)
        raw = upload.stream.read()
        return import_desk.preview(get_session(), current_actor(), _stored(), raw, _display_name(upload.filename))


@blp.route("/<int:import_id>")
class ImportDetail(MethodView):
    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @blp.response(200, OutboxImportOut)
    @blp.alt_response(403, description="forbidden.department：不是本部门人员的")
    @blp.alt_response(404, description="sync.import_not_found")
    def get(self, import_id):
        """一次导入：预览，确认后的结果（逐条变更：采用、此前已收到、被拒及代码）"""
        return import_desk.get(get_session(), current_actor(), import_id)

    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @blp.response(200, OutboxImportOut, description="已取消（status cancelled），文件已删除")
    @blp.alt_response(409, description="sync.import_not_pending：已导入或已取消")
    def delete(self, import_id):
        """取消一次尚未确认的导入（删除上传的文件，保留这一行）"""
        return import_desk.cancel(get_session(), current_actor(), _stored(), import_id)


@blp.route("/<int:import_id>/confirm")
class ImportConfirm(MethodView):
    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @blp.arguments(ConfirmIn)
    @blp.response(200, OutboxImportOut, description="导入后的这一行：status imported，或 stopped（在某条停止，见 "
                                                   "result.stopped）")
    @blp.alt_response(403, description="forbidden.department：不是本部门人员的")
    @blp.alt_response(404, description="sync.import_not_found")
    @blp.alt_response(409, description="sync.import_gap_unconfirmed：有缺口而未设 close_gap（未导入任何记录）；"
                                       "sync.import_not_pending：已导入、已取消或正在导入；sync.import_gap_closed；"
                                       "sync.import_file_missing：文件已不在服务器上；sync.import_reupload：中断后"
                                       "设备编号已有变化，须重新上传")
    def post(self, data, import_id):
        """确认导入：重新预览后按手机推送的方式送达（已收到的不重复采用）；记入审计日志 sync.import

        导入中断（status interrupted：进程已不在）的也可再次确认：从头续完，已送达的答为此前已收到，记入 sync.import_resume。
        """
        app = current_app
        return import_desk.confirm(get_session(), current_actor(), _stored(), import_id, close_gap=data["close_gap"],
                                   media_settings=MediaSettings.from_config(app.config), settings=app.config,
                                   queue=app.extensions["shuangsui.jobs"])
