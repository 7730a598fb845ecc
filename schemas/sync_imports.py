"""An exported outbox imported in the office (/api/sync/imports, backend/inspections/import_desk.py)."""
from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import Schema, fields, validate

from backend.inspections.import_desk import STATUS_LABELS, shown_status
from schemas.base import BaseSchema, PageArgs, QuerySchema


class ImportFiles(QuerySchema):
    file = Upload(metadata={"description": "手机“导出未发送记录”生成的 JSON 文件"})


class ImportArgs(PageArgs):
    status = fields.String(validate=validate.OneOf(list(STATUS_LABELS)),
                           metadata={"description": "只列出该状态的导入"})


class ConfirmIn(BaseSchema):
    close_gap = fields.Boolean(load_default=False, metadata={
        "description": "补上缺口：文件的变更编号不接续服务器已收到的（手机提示 sync.gap）时，先停用该设备，再把缺口之后的"
                       "变更按服务器期待的编号送达；预览有缺口而未设为 true 则不导入（sync.import_gap_unconfirmed）"})


class ImportOfficerOut(Schema):
    id = fields.Integer()
    username = fields.String()
    display_name = fields.String()
    department_id = fields.Integer(allow_none=True)
    department_name = fields.String(allow_none=True)


class ImportDeviceOut(Schema):
    label = fields.String(allow_none=True, metadata={"description": "设备名称"})
    last_mutation_id = fields.Integer(metadata={"description": "服务器已收到的该设备最后一条变更的编号"})
    retired_at = fields.String(allow_none=True, metadata={"description": "停用时间；null：在用"})


class ImportGapOut(Schema):
    expected = fields.Integer(metadata={"description": "服务器期待的下一条编号"})
    got = fields.Integer(metadata={"description": "文件中接下来的编号"})
    lost = fields.List(fields.Integer(), metadata={"description": "[首, 末]：不在文件中的编号（手机上已丢失）"})
    after = fields.Integer(metadata={"description": "缺口之后的变更条数（补上缺口时按新编号送达）"})


class ImportPreviewOut(Schema):
    officer = fields.Nested(ImportOfficerOut)
    client_id = fields.String()
    exported_at = fields.String(allow_none=True)
    device = fields.Nested(ImportDeviceOut, allow_none=True, metadata={"description": "null：服务器上还没有这台设备"})
    mutations = fields.Integer(metadata={"description": "文件中的变更条数"})
    first_id = fields.Integer(allow_none=True)
    last_id = fields.Integer(allow_none=True)
    already_received = fields.Integer(metadata={"description": "服务器已收到的（不会重复采用）"})
    to_deliver = fields.Integer(metadata={"description": "将送达的（缺口之前的；补上缺口时另加 gap.after 条）"})
    photos = fields.Integer()
    photos_on_server = fields.Integer(metadata={"description": "服务器上已有的照片"})
    photos_without_data = fields.Integer(metadata={"description": "导出时没有内容的照片"})
    unverifiable_signatures = fields.Integer(metadata={
        "description": "导出删去了密码的代签：无法核验，将被拒（sync.signer_not_exported）"})
    gap = fields.Nested(ImportGapOut, allow_none=True, metadata={"description": "null：编号接续，没有缺口"})


class ImportOutcomeOut(Schema):
    id = fields.Integer(metadata={"description": "变更编号（补上缺口后为新编号）"})
    name = fields.String(allow_none=True)
    status = fields.String(metadata={"enum": ["applied", "conflict", "rejected"]})
    replayed = fields.Boolean(metadata={"description": "此前已收到（按当时的结果答复，未再次采用）"})
    code = fields.String(allow_none=True, metadata={"description": "被拒或冲突的代码"})
    message = fields.String(allow_none=True)


class ImportSummaryOut(Schema):
    applied = fields.Integer()
    conflict = fields.Integer()
    rejected = fields.Integer()
    replayed = fields.Integer()


class ImportResultOut(Schema):
    mutations = fields.Integer()
    summary = fields.Nested(ImportSummaryOut)
    outcomes = fields.List(fields.Nested(ImportOutcomeOut))
    refused = fields.List(fields.Dict())
    stopped = fields.Dict(allow_none=True, metadata={"description": "在何处停止（code、message、got）；null：全部处理"})
    photos_stored = fields.Integer()
    photos_known = fields.Integer()
    photos_missing = fields.List(fields.String())
    gap = fields.Dict(allow_none=True, metadata={"description": "补上的缺口：lost [首, 末]，renumbered [[原编号, 新编号], …]"})
    gap_closing = fields.Dict(metadata={"description": "导入中（或中断）时：正在补上的缺口 {expected, got}，停用设备之前记下；"
                                                      "再次确认时按同样的新编号补上"})
    code = fields.String(metadata={"description": "导入失败时：错误代码"})
    message = fields.String(metadata={"description": "导入失败时：说明"})


class OutboxImportOut(Schema):
    id = fields.Integer()
    status = fields.Function(shown_status, metadata={
        "type": "string", "enum": list(STATUS_LABELS),
        "description": "interrupted（导入中断）：导入中的进程已不在（5 分钟没有进展），可再次确认，从头续完，已送达的不会重复采用"})
    status_label = fields.Function(lambda r: STATUS_LABELS.get(shown_status(r), r.status))
    file_name = fields.String()
    file_size = fields.Integer()
    client_id = fields.String()
    officer = fields.Nested(ImportOfficerOut, attribute="preview.officer", metadata={"description": "文件的账号"})
    department_id = fields.Integer(allow_none=True)
    close_gap = fields.Boolean()
    preview = fields.Nested(ImportPreviewOut)
    result = fields.Nested(ImportResultOut, allow_none=True, metadata={"description": "确认导入后：导入的结果"})
    created_by_label = fields.String(metadata={"description": "上传人"})
    created_at = fields.DateTime()
    imported_by_label = fields.String(allow_none=True, metadata={"description": "确认（或取消）人"})
    imported_at = fields.DateTime(allow_none=True)


class OutboxImportRowOut(OutboxImportOut):
    class Meta:
        exclude = ("result",)

    summary = fields.Nested(ImportSummaryOut, attribute="result.summary", metadata={"description": "结果的计数（确认导入后）"})
