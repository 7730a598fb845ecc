"""The vocabulary of the inspection record (codes → Chinese), shared by the API, the sync handlers and the PDF."""
from __future__ import annotations

# result of one check point
POINT_RESULTS = {"pass": "符合", "fail": "不符合", "na": "不涉及"}

# 处置情况 of a problem found at a check point (several may apply)
HANDLING = {"none": "无须后续处置", "rectify": "责令限期整改", "transfer": "移送办案机构", "notify": "抄告相关部门"}

# no inspection took place: results to publish, each needing a photo and a GPS fix as evidence
OUTCOMES = {
    "unreachable": "通过登记的住所（经营场所）无法联系",
    "closed": "已关闭停业或正在组织清算",
    "uncooperative": "不配合检查",
    "no_activity": "未发现开展本次抽查涉及的经营活动",
}

# published result categories (DESIGN §7); several may apply. The children of pending_followup
# say what the problem is.
RESULT_CATEGORIES = {
    "no_problem": "未发现问题",
    "pending_followup": "发现问题待后续处理",
    "unpublished_info": "未按规定公示应当公示的信息",
    "false_info": "公示信息隐瞒真实情况弄虚作假",
    "unreachable": "通过登记的住所（经营场所）无法联系",
    "other_violation": "违反其他规定",
    "corrected": "发现问题经责令已改正",
    "no_activity": "未发现开展本次抽查涉及的经营活动",
    "closed": "已关闭停业或正在组织清算",
    "uncooperative": "不配合检查情节严重",
    "deregistered": "注销",
    "revoked": "吊销",
    "cancelled": "撤销",
    "moved_out": "迁出",
}
PENDING_CHILDREN = ("unpublished_info", "false_info", "unreachable", "other_violation")
# the result category an outcome implies
OUTCOME_CATEGORY = {"unreachable": "unreachable", "closed": "closed", "uncooperative": "uncooperative",
                    "no_activity": "no_activity"}

# 后续处置 actions the lead lists, each owned by a department
FOLLOWUP_ACTIONS = {"rectify": "责令限期整改", "transfer": "移送办案机构", "notify": "抄告相关部门",
                    "none": "无须后续处置"}

GPS_DATUMS = ("WGS-84", "GCJ-02")
GPS_SOURCES = {"gps": "卫星定位", "network": "网络定位", "manual": "手工标注", "exif": "照片 EXIF"}
ATTACHMENT_KINDS = {"pdf": "PDF 文件", "audio": "录音", "video": "视频"}

SECTION_STATUSES = {"open": "填写中", "signed": "已签名（只读）"}
RECORD_STATES = {"draft": "组长汇总中", "signing": "待会签", "submitted": "已提交"}
