"""Import, export and templates of the lists (一单两库) as files.

* ``POST /api/v1/imports/<list>``: multipart upload (field ``file``, optional ``dry_run``,
  ``department``) → 202 with the job; poll ``GET /api/v1/jobs/<id>`` for progress and the result
  (counts, or the numbered bad rows under ``result.errors``). The request only stores the file
  (content-addressed, within the byte limit) and checks its container (an XLSX's ZIP central
  directory against the unpacked-size limits); nothing is parsed before the job runs.
* ``GET /api/v1/exports/<list>?format=csv|xlsx&<list filters>``: a small export as a download.
* ``POST /api/v1/exports/<list>?format=…&<list filters>`` → 202 job for a big one; then
  ``GET /api/v1/exports/files/<job_id>`` (its creator or a system admin) downloads the file.
* ``GET /api/v1/templates/<list>.<csv|xlsx>``: the import template (public).
"""
from __future__ import annotations

import functools
import io
import tempfile
from pathlib import PurePosixPath, PureWindowsPath

from flask import current_app, request, send_file
from flask.views import MethodView
from flask_smorest.fields import Upload
from marshmallow import ValidationError, fields, validate

from backend import get_session
from backend.api import blueprint, body_limit
from backend.auth.access import ANY_USER, current_actor, public, requires
from backend.auth.roles import Role
from backend.directory import exports, imports, readers, specs, templates
from backend.errors import DomainError, Forbidden, InvalidInput, NotFound
from backend.jobs import retention
from backend.jobs import services as jobs
from backend.media import holders, storage
from backend.media.sending import send_stored_file
from schemas.base import QuerySchema
from schemas.system import JobOut

blp = blueprint("directory_io", __name__, "/api/v1", "名录导入导出：CSV/XLSX 导入、导出与模板")

LIST_CHOICES = "、".join(specs.LIST_KINDS)
STAFF = (Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.SUPERVISOR)
EXPORT_DIRECT_MAX_ROWS = 20000


# --- schemas (query and form of these endpoints only) -------------------------------------------------

class ImportArgs(QuerySchema):
    """Options of an upload: in the query string, or as form fields next to the file."""

    dry_run = fields.Boolean(load_default=False, metadata={"description": "只校验不写入（true/false），也可作为表单字段"})
    department = fields.String(validate=validate.Length(max=64), load_default=None,
                               metadata={"description": "系统管理员：文件中未填部门的行归入此部门（部门代码或全称），"
                                                        "也可作为表单字段"})


def _upload_options(args: dict) -> dict:
    """The query's options, completed by the same fields sent in the multipart form."""
    form = {k: request.form[k] for k in ("dry_run", "department") if request.form.get(k) not in (None, "")}
    if not form:
        return args
    try:
        extra = ImportArgs().load(form)
    except ValidationError as err:
        field, messages = next(iter(err.messages.items()))
        raise InvalidInput(f"提交的数据有误：{field}：{messages[0]}", errors={"form": err.messages}) from None
    return {"dry_run": args["dry_run"] or extra["dry_run"], "department": args["department"] or extra["department"]}


class UploadFiles(QuerySchema):
    file = Upload(metadata={"description": "CSV（UTF-8 或 GBK）或 XLSX 文件，第 1 行为中文表头"})


class ExportArgs(QuerySchema):
    """The file format; the other query parameters are the list's own filters (validated as there)."""

    format = fields.String(load_default="xlsx", validate=validate.OneOf(["csv", "xlsx"]),
                           metadata={"description": "文件格式：xlsx（默认）或 csv。其余查询参数即该名录列表接口的筛选条件"
                                                    "（如 GET /api/v1/targets 的 region、risk_class、status…），含义相同"})


def _list_filters(kind: str) -> dict:
    """The query's filters, parsed by the list endpoint's own schema (same names, same checks)."""
    from schemas import directory as schemas

    schema = {"targets": schemas.TargetArgs, "inspectors": schemas.InspectorArgs, "experts": schemas.ExpertArgs,
              "items": schemas.ItemArgs, "departments": schemas.DepartmentArgs, "regions": schemas.RegionArgs}[kind]
    raw = {k: v for k, v in request.args.items() if k != "format"}
    try:
        filters = schema().load(raw)
    except ValidationError as err:
        field, messages = next(iter(err.messages.items()))
        first = messages[0] if isinstance(messages, list) else messages
        raise InvalidInput(f"提交的数据有误：{field}：{first}", errors={"query": err.messages}) from None
    for key in ("page", "page_size"):
        filters.pop(key, None)
    return filters


# --- helpers -------------------------------------------------------------------------------------------

IMPORT_LIMIT = "IMPORT_MAX_BYTES"     # unset: MAX_CONTENT_LENGTH (MAX_UPLOAD_MB)


def _upload_limit() -> int:
    return int(current_app.config.get("IMPORT_MAX_BYTES") or current_app.config.get("MAX_CONTENT_LENGTH")
               or 64 * 1024 * 1024)


def _too_large(limit: int) -> DomainError:
    return DomainError(f"文件过大：上限为 {limit / 1024 / 1024:g} MB，请拆分后分批导入",
                       code="import.too_large", status=413)


def _display_name(raw: str) -> str:
    """The upload's own name (browsers may send a path), kept for messages and the audit entry."""
    name = PureWindowsPath(PurePosixPath(raw).name).name.strip()
    return name[-200:] or "upload"


def _attachment(response, file_name: str, fallback: str):
    response.headers["Content-Disposition"] = exports.content_disposition(file_name, fallback)
    return response


def _ascii_name(kind: str, file_name: str) -> str:
    suffix = file_name.rsplit(".", 1)[-1]
    stem = file_name.rsplit(".", 1)[0]
    date = stem.rsplit("_", 1)[-1] if "_" in stem else ""
    return f"{kind}_{date}.{suffix}" if date.isdigit() else f"{kind}.{suffix}"


def _spec(list_name: str, code: str) -> specs.ListSpec:
    return specs.spec_for(list_name, code)


# --- imports ---------------------------------------------------------------------------------------------

@blp.route("/imports/<string:list_name>")
class ImportUpload(MethodView):
    @requires(Role.SYSADMIN, Role.DEPT_ADMIN)
    @body_limit(IMPORT_LIMIT, code="import.too_large", message="文件过大：上限为 {mb} MB，请拆分后分批导入")
    @blp.arguments(ImportArgs, location="query")
    @blp.arguments(UploadFiles, location="files")
    @blp.response(202, JobOut)
    def post(self, args, files, list_name):
        """上传文件导入名录：返回后台任务，轮询 /api/v1/jobs/<id> 查看进度与结果

        全部行校验通过才写入，否则不改动任何数据，结果中列出出错的行号和原因。
        请求只保存文件并检查其容器（XLSX 的压缩目录：解压后大小、压缩比、文件数），表头和数据行在后台任务中读取：
        表头有误、没有数据行、超过行数或单元格长度上限等，均在任务结果中报告（error_code 为 import.*）。
        检查对象、执法检查人员、专家、抽查事项：系统管理员、部门管理员（本部门）；部门、行政区划：系统管理员。
        """
        actor = current_actor()
        spec = _spec(list_name, "import.unknown_list")
        imports.ensure_can_import(actor, spec.kind)
        options = _upload_options(args)
        session = get_session()
        department_id = imports.department_id_for(session, options["department"])
        if department_id is not None and actor.role != Role.SYSADMIN and department_id != actor.department_id:
            raise Forbidden("只能导入到本部门", code="forbidden.department")
        upload = files.get("file")
        if upload is None or not (upload.filename or "").strip():
            raise DomainError("请选择要导入的文件（表单字段 file）", code="import.no_file", status=400)
        file_name = _display_name(upload.filename)
        fmt = readers.format_of(file_name)
        media_dir = current_app.config["MEDIA_DIR"]
        limit = _upload_limit()
        store = storage.get(media_dir)
        try:
            with store.spool(upload.stream, max_bytes=limit) as (path, sha256, size):
                if size == 0:
                    raise DomainError("上传的文件是空的", code="import.empty_file", status=400)
                # the container only (an XLSX's central directory: sizes, ratio, members); rows are read in the job
                readers.precheck(path, fmt, readers.Limits.from_config(current_app.config))
                holders.writing(session)   # the upload stored in the transaction of the job naming it
                store.put_file(path, sha256, move=True)
                job = jobs.enqueue(session, current_app.extensions["shuangsui.jobs"], "directory.import",
                                   {"kind": spec.kind, "sha256": sha256, "file_name": file_name, "format": fmt,
                                    "dry_run": bool(options["dry_run"]), "department_id": department_id},
                                   actor, max_attempts=1)
        except storage.TooLarge:   # while the upload was read (spool)
            raise _too_large(limit) from None
        session.refresh(job)
        return job


# --- exports ---------------------------------------------------------------------------------------------

@blp.route("/exports/<string:list_name>")
class Export(MethodView):
    @requires(*STAFF)
    @blp.arguments(ExportArgs, location="query")
    @blp.doc(responses={"200": {"description": "文件下载（Content-Disposition 中为中文文件名）"}})
    def get(self, args, list_name):
        """导出名录（直接下载，适合较小的数据量）

        筛选条件与名录列表相同；执法检查人员、专家按部门权限限定范围。数据较多时请用 POST 提交后台导出。
        """
        actor = current_actor()
        spec = _spec(list_name, "export.unknown_list")
        filters = _list_filters(spec.kind)
        session = get_session()
        total = exports.export_count(session, actor, spec.kind, filters)
        limit = int(current_app.config.get("EXPORT_DIRECT_MAX_ROWS") or EXPORT_DIRECT_MAX_ROWS)
        if total > limit:
            raise DomainError(f"共 {total} 条，超过直接下载的上限（{limit} 条），请使用后台导出（POST 同一地址）",
                              code="export.too_many_rows", status=422, details={"total": total, "limit": limit})
        fmt = args["format"]
        out = tempfile.TemporaryFile()
        try:
            exports.export_to(out, session, actor, spec.kind, fmt, filters)
            out.seek(0)
        except BaseException:
            out.close()
            raise
        file_name = spec.file_name(fmt)
        response = send_file(out, mimetype=readers.FORMATS[fmt], as_attachment=True, download_name=file_name)
        return _attachment(response, file_name, _ascii_name(spec.kind, file_name))

    @requires(*STAFF)
    @blp.arguments(ExportArgs, location="query")
    @blp.response(202, JobOut)
    def post(self, args, list_name):
        """提交后台导出任务（数据量大时）；完成后从 /api/v1/exports/files/<任务 id> 下载"""
        actor = current_actor()
        spec = _spec(list_name, "export.unknown_list")
        filters = _list_filters(spec.kind)
        session = get_session()
        exports.export_count(session, actor, spec.kind, filters)  # access and filters are checked now, not in the job
        queue = current_app.extensions["shuangsui.jobs"]
        job = jobs.enqueue(session, queue, "directory.export",
                           {"kind": spec.kind, "format": args["format"], "filters": filters}, actor,
                           max_attempts=2)
        session.refresh(job)
        return job


@blp.route("/exports/files/<string:job_id>")
class ExportFile(MethodView):
    @requires(ANY_USER)
    @blp.doc(responses={"200": {"description": "导出的文件"}})
    def get(self, job_id):
        """下载后台导出的文件（仅限提交人或系统管理员）"""
        actor = current_actor()
        session = get_session()
        job = jobs.get_job(session, job_id[:32])
        if job.name != "directory.export":
            raise NotFound("导出任务不存在", code="export.not_found")
        if actor.role != Role.SYSADMIN and job.created_by != actor.user_id:
            raise Forbidden("只能下载自己提交的导出文件", code="forbidden.owner")
        if job.status != "done" or not job.result:
            raise DomainError("导出尚未完成，请稍后再试", code="export.not_ready", status=409,
                              details={"status": job.status})
        retention.check_not_expired(job.result)
        file_name = job.result["file_name"]
        fmt = job.result.get("format", "xlsx")
        try:
            response = send_stored_file(storage.get(current_app.config["MEDIA_DIR"]), job.result["sha256"],
                                        mimetype=readers.FORMATS.get(fmt, "application/octet-stream"),
                                        as_attachment=True, download_name=file_name)
        except FileNotFoundError:
            raise NotFound("导出的文件已被清理，请重新导出", code="export.file_missing") from None
        return _attachment(response, file_name, _ascii_name(job.result.get("list", "export"), file_name))


# --- templates -------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=32)
def _template(kind: str, fmt: str) -> bytes:
    return templates.template_bytes(specs.SPECS[kind], fmt)


@blp.route("/templates/<string:file_name>")
class Template(MethodView):
    @public
    @blp.doc(responses={"200": {"description": "导入模板（XLSX 含“填写说明”工作表）"}})
    def get(self, file_name):
        """下载导入模板，如 targets.xlsx、inspectors.csv（公开）"""
        kind, _, fmt = file_name.rpartition(".")
        spec = specs.SPECS.get(kind)
        if spec is None or fmt not in readers.FORMATS:
            raise NotFound(f"没有模板“{file_name}”：可选名录 {LIST_CHOICES}，格式 .xlsx 或 .csv",
                           code="template.not_found")
        name = spec.template_name(fmt)
        response = send_file(io.BytesIO(_template(kind, fmt)), mimetype=readers.FORMATS[fmt], as_attachment=True,
                             download_name=name)
        return _attachment(response, name, f"{kind}_template.{fmt}")
