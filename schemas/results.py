"""Published results (公示): the publisher's requests, the queue, the public document and search."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from backend.inspections.rules import METHODS, RESULT_CATEGORIES
from backend.publication.models import EXEMPTION_STATUSES, RESULT_KINDS, RESULT_STATES
from backend.publication.redaction import AUTHORITY_ROLES, TASK_TYPES
from backend.publication.results import PHOTOS_MAX, REMARKS_MAX
from schemas.base import BaseSchema, PageArgs, QueryId

KINDS = {"enum": list(RESULT_KINDS), "description": "record：牵头部门发布的整条检查结果；department：参与部门发布的本部门部分"}


# --- requests ---------------------------------------------------------------------------------------------

class PublishIn(BaseSchema):
    remarks = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=REMARKS_MAX),
                            metadata={"description": f"备注（公开，≤ {REMARKS_MAX} 字）；检查人员的意见、问题描述等不公开"})
    result_categories = fields.List(
        fields.String(validate=validate.OneOf(list(RESULT_CATEGORIES))), load_default=None, allow_none=True,
        validate=validate.Length(min=1, max=len(RESULT_CATEGORIES)),
        metadata={"description": "参与部门可改定本部门部分的检查结果类别（默认按本部门检查内容推定）；"
                                 "牵头部门公示组长提交的类别，不能改"})
    photos = fields.List(
        fields.String(validate=validate.Regexp(r"^[0-9a-fA-F]{64}$", error="照片须以其 SHA-256（64 位十六进制）指明")),
        load_default=None, allow_none=True, validate=validate.Length(max=PHOTOS_MAX),
        metadata={"description": f"勾选公开的照片（原件的 SHA-256，≤ {PHOTOS_MAX} 张，须为本部门检查点的已处理照片；"
                                 "牵头部门可选任一部门的）：公开的是去除全部元数据的副本，原件不公开"})


class CorrectIn(PublishIn):
    change_note = fields.String(required=True, validate=validate.Length(min=4, max=500),
                                metadata={"description": "更正了什么、为什么更正（公开）"})


class ExemptionRequestIn(BaseSchema):
    reason = fields.String(required=True, validate=validate.Length(min=4, max=500),
                           metadata={"description": "不适合公开的理由"})


class ExemptionDecisionIn(BaseSchema):
    decision = fields.String(required=True, validate=validate.OneOf(["approve", "refuse"]),
                             metadata={"description": "approve 批准不公开；refuse 不予批准（应当公示）"})
    note = fields.String(load_default=None, allow_none=True, validate=validate.Length(max=500),
                         metadata={"description": "审批意见"})


class QueueArgs(PageArgs):
    task_id = QueryId(load_default=None)
    state = fields.String(load_default=None, validate=validate.OneOf(["on_track", "due_soon", "overdue"]),
                          metadata={"description": "on_track 按期；due_soon 5 个工作日内到期；overdue 已逾期"})
    today = fields.Date(load_default=None, metadata={"description": "按哪一天判断状态（默认北京时间今天）"})


class PublicResultArgs(PageArgs):
    q = fields.String(load_default=None, validate=validate.Length(max=100),
                      metadata={"description": "企业名称（包含）"})
    uscc = fields.String(load_default=None, validate=validate.Length(max=18),
                         metadata={"description": "统一社会信用代码或注册号（完全一致）"})
    task = fields.String(load_default=None, validate=validate.Length(max=32), metadata={"description": "任务编号"})
    department_id = QueryId(load_default=None, metadata={"description": "发布部门"})
    from_ = fields.Date(load_default=None, data_key="from", metadata={"description": "检查完成日期起（含）"})
    to = fields.Date(load_default=None, metadata={"description": "检查完成日期止（含）"})
    hash = fields.String(load_default=None, validate=validate.Regexp(r"^[0-9a-fA-F]{64}$",
                                                                      error="应为 64 位十六进制的 SHA-256"),
                         metadata={"description": "检查记录表 PDF 的 SHA-256，或检查记录的内容哈希：企业据此核对所持文件"})
    include_superseded = fields.Boolean(load_default=False,
                                        metadata={"description": "是否包括已被更正版本取代的旧版本"})


# --- the public document (redaction.PUBLIC_FIELDS) ------------------------------------------------------

class CodeName(Schema):
    code = fields.String()
    name = fields.String()


class TaskPublicOut(Schema):
    code = fields.String()
    name = fields.String()
    type = fields.String(metadata={"enum": list(TASK_TYPES)})
    type_label = fields.String()
    joint = fields.Boolean(metadata={"description": "多部门联合抽查"})
    joint_label = fields.String()


class AuthorityOut(Schema):
    code = fields.String()
    name = fields.String()
    role = fields.String(metadata={"enum": list(AUTHORITY_ROLES)})
    role_label = fields.String()


class BusinessOut(Schema):
    name = fields.String()
    uscc = fields.String(allow_none=True)
    reg_no = fields.String(allow_none=True)


class CodeLabel(Schema):
    code = fields.String()
    label = fields.String()


class MethodOut(CodeLabel):
    code = fields.String(metadata={"enum": list(METHODS)})


class CategoryOut(CodeLabel):
    code = fields.String(metadata={"enum": list(RESULT_CATEGORIES)})


class CheckedItemOut(Schema):
    code = fields.String()
    name = fields.String()
    department = fields.String(metadata={"description": "检查主体"})
    methods = fields.List(fields.Nested(MethodOut))


class PublicPhotoOut(Schema):
    sha256 = fields.String(metadata={"description": "公开副本的 SHA-256（不是原件的）"})
    url = fields.String(metadata={"description": "公开副本的地址（无需登录）"})


class PublicDocumentOut(Schema):
    kind = fields.String(metadata=KINDS)
    kind_label = fields.String()
    plan = fields.Nested(CodeName)
    task = fields.Nested(TaskPublicOut)
    authorities = fields.List(fields.Nested(AuthorityOut), metadata={"description": "检查机关"})
    publisher = fields.Nested(CodeName, metadata={"description": "发布部门"})
    business = fields.Nested(BusinessOut)
    items = fields.List(fields.Nested(CheckedItemOut), metadata={"description": "检查的抽查事项"})
    completed_on = fields.String(metadata={"format": "date", "description": "检查完成日期 YYYY-MM-DD"})
    result_categories = fields.List(fields.Nested(CategoryOut))
    remarks = fields.String(allow_none=True)
    record_hash = fields.String(allow_none=True, metadata={"description": "检查记录的内容哈希（SHA-256）"})
    photos = fields.List(fields.Nested(PublicPhotoOut),
                         metadata={"description": "发布人勾选公开的照片（仅在勾选时出现）：去除全部元数据的副本"})


class VersionOut(Schema):
    id = fields.Integer()
    version = fields.Integer()
    state = fields.String(metadata={"enum": list(RESULT_STATES)})
    published_at = fields.DateTime()


class ResultRowOut(Schema):
    id = fields.Integer(metadata={"description": "永久链接 /api/public/results/<id>"})
    inspection_id = fields.Integer()
    version = fields.Integer()
    kind = fields.String(metadata=KINDS)
    state = fields.String(metadata={"enum": list(RESULT_STATES)})
    state_label = fields.String()
    department = fields.Nested(Schema.from_dict({"id": fields.Integer(), "code": fields.String(),
                                                 "name": fields.String()}, name="ResultDepartmentOut"))
    task_code = fields.String()
    target_name = fields.String()
    target_code = fields.String(allow_none=True)
    completed_on = fields.Date()
    published_at = fields.DateTime()
    result_categories = fields.List(fields.Nested(CategoryOut))
    record_hash = fields.String(allow_none=True)
    change_note = fields.String(allow_none=True, metadata={"description": "更正版本：更正了什么、为什么"})
    supersedes_id = fields.Integer(allow_none=True)
    superseded_by_id = fields.Integer(allow_none=True)
    superseded_at = fields.DateTime(allow_none=True)


class ResultOut(ResultRowOut):
    pdf_sha256 = fields.String(allow_none=True, metadata={"description": "检查记录表 PDF 的 SHA-256（供企业核对）"})
    content = fields.Nested(PublicDocumentOut)
    content_sha256 = fields.String(metadata={"description": "content 的规范 JSON（RFC 8785）的 SHA-256"})
    versions = fields.List(fields.Nested(VersionOut))


class PublishedOut(ResultOut):
    published_by = fields.Integer(allow_none=True)


class BlockedOut(Schema):
    code = fields.String()
    message = fields.String()


class PublicationPreviewOut(Schema):
    inspection_id = fields.Integer()
    department_id = fields.Integer()
    kind = fields.String(metadata=KINDS)
    kind_label = fields.String()
    version = fields.Integer(metadata={"description": "发布后的版本号"})
    supersedes_id = fields.Integer(allow_none=True)
    blocked = fields.Nested(BlockedOut, allow_none=True, metadata={"description": "现在不能发布的原因"})
    content = fields.Nested(PublicDocumentOut, metadata={"description": "发布后公众看到的内容，逐字相同"})
    content_sha256 = fields.String()


class ExemptionOut(Schema):
    status = fields.String(metadata={"enum": list(EXEMPTION_STATUSES)})
    status_label = fields.String()
    reason = fields.String()
    source = fields.String(metadata={"enum": ["record", "request"],
                                     "description": "record：组长在检查记录中提出；request：公示审核人员申请"})
    requested_by = fields.Integer(allow_none=True)
    requested_at = fields.DateTime(allow_none=True)
    decided_by = fields.Integer(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)
    decision_note = fields.String(allow_none=True)


class ExemptionStateOut(Schema):
    inspection_id = fields.Integer()
    exemption = fields.Nested(ExemptionOut)


PartDepartmentOut = Schema.from_dict({"id": fields.Integer(), "code": fields.String(), "name": fields.String()},
                                     name="PartDepartmentOut")


class PartOut(Schema):
    department = fields.Nested(PartDepartmentOut)
    kind = fields.String(metadata=KINDS)
    current_id = fields.Integer(allow_none=True)
    versions = fields.List(fields.Nested(VersionOut))


class PhotoChoiceOut(Schema):
    sha256 = fields.String(metadata={"description": "原图的 SHA-256（勾选时提交此值）"})
    department = fields.Nested(PartDepartmentOut)
    item = fields.String(allow_none=True, metadata={"description": "抽查事项"})
    check_point = fields.String(allow_none=True, metadata={"description": "检查内容"})
    public_sha256 = fields.String(allow_none=True, metadata={"description": "去除元数据的公开副本；处理中为 null"})
    ready = fields.Boolean(metadata={"description": "公开副本已生成，可以勾选发布"})


class CategoryChoiceOut(Schema):
    code = fields.String()
    label = fields.String()


class InspectionPublicationOut(Schema):
    inspection_id = fields.Integer()
    my_part = fields.String(metadata=KINDS)
    department_id = fields.Integer()
    completed_on = fields.Date()
    publication_due_on = fields.Date()
    clock_start = fields.String(metadata={"enum": ["submission", "inspected", "task_end"],
                                          "description": "公示期限从哪一天起算"})
    clock_start_label = fields.String()
    start_on = fields.Date(allow_none=True, metadata={"description": "第 0 天（起算日）"})
    published_at = fields.DateTime(allow_none=True)
    exemption = fields.Nested(ExemptionOut, allow_none=True)
    parts = fields.List(fields.Nested(PartOut))
    categories_editable = fields.Boolean(metadata={"description": "本部门可自行选择检查结果类别（参与部门）"})
    category_choices = fields.List(fields.Nested(CategoryChoiceOut))
    photos = fields.List(fields.Nested(PhotoChoiceOut), metadata={"description": "本部门部分可勾选公开的现场照片"})
    photos_max = fields.Integer()


class QueueRowOut(Schema):
    inspection_id = fields.Integer()
    task_id = fields.Integer()
    task_code = fields.String()
    task_name = fields.String()
    target_name = fields.String()
    target_code = fields.String()
    kind = fields.String(metadata=KINDS)
    completed_on = fields.Date(metadata={"description": "第 0 天"})
    due_on = fields.Date()
    due_provisional = fields.Boolean()
    clock_start = fields.String(metadata={"enum": ["submission", "inspected", "task_end"],
                                          "description": "期限从哪一天起算（部署设置 PUBLICATION_CLOCK_START）"})
    clock_start_label = fields.String()
    start_on = fields.Date(allow_none=True, metadata={"description": "第 0 天（起算日）"})
    state = fields.String(metadata={"enum": ["on_track", "due_soon", "overdue"]})
    state_label = fields.String()
    working_days_left = fields.Integer(metadata={"description": "今天到期限还有几个工作日；逾期为负数"})
    exemption = fields.Nested(ExemptionOut, allow_none=True)
