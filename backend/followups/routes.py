"""/api/v1/followups: the register (台帐) and the steps of each follow-up; a business's past inspections.

Thin: parse, call ``backend.followups.services``, dump. A step names the version it was based on
(``If-Match`` with the ETag of ``GET /api/v1/followups/<id>``).
"""
from __future__ import annotations

import datetime as dt

from flask import request
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import current_actor, requires
from backend.followups import reinspections, services
from schemas.base import PageArgs, page_of
from schemas.exports import RegisterFileArgs
from schemas.followups import (AcknowledgeIn, FollowupArgs, FollowupOut, JudicialIn, NotifyIn, ReinspectIn,
                               ReinspectionScheduleIn, TargetInspectionOut, TransferIn)

blp = blueprint("followups", __name__, "/api/v1", "后续处置：台帐、复查、移送、抄告与回执；检查对象的检查记录")

_STEP_RESPONSES = {
    "409": {"description": "followup.bad_state：当前状态不能办理此步（不能跳过）；followup.reinspection_open："
                           "已安排手机复查（复查结论由该检查提交时记录）"},
    "412": {"description": "followup.stale：If-Match 不是当前版本（响应的 details.etag 为当前版本）"},
    "422": {"description": "followup.evidence_required：未附证据；followup.evidence_unreadable：证据文件不存在或无权查看；"
                           "validation_error / followup.bad_date 等：输入有误"},
    "428": {"description": "followup.if_match_required：缺少 If-Match"},
}


def _step(name: str, data: dict, followup_id: int):
    row = services.transition(get_session(), current_actor(), followup_id, name, data, request.headers.get("If-Match"))
    return row, 200, {"ETag": services.etag(row)}


@blp.route("/followups")
class Followups(MethodView):
    @requires(*services.READERS)
    @blp.arguments(FollowupArgs, location="query")
    @blp.response(200, page_of(FollowupOut))
    def get(self, args):
        """后续处置台帐：本部门负责、牵头或被抄告的（监督人员、系统管理员可看全部），按整改期限排序"""
        session = get_session()
        return paginate(session, services.register_query(session, current_actor(), args), args)


@blp.route("/followups/register.xlsx")
class FollowupRegisterXlsx(MethodView):
    @requires(*services.READERS)
    @blp.arguments(RegisterFileArgs, location="query")
    @blp.doc(responses={"200": {"description": "XLSX 文件下载（筛选条件与台帐列表相同，不分页）"},
                        "202": {"description": "数据较多（超过 EXPORT_ASYNC_ROWS 条）或 async=1：后台任务（JobOut），"
                                               "完成后从 /api/v1/jobs/<id>/file 下载"}})
    def get(self, args):
        """导出后续处置台帐（XLSX），可报送上级；数据多时作为后台任务"""
        from backend.jobs import exports

        params = {k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in args.items()
                  if k not in ("page", "page_size", "async_")}
        return exports.respond("followups.register", params, "xlsx", force_async=args["async_"])


@blp.route("/followups/<int:followup_id>")
class FollowupDetail(MethodView):
    @requires(*services.READERS)
    @blp.response(200, FollowupOut)
    def get(self, followup_id):
        """一项后续处置及其办理经过；响应头 ETag 为其版本（办理下一步时放在 If-Match 中）"""
        row = services.read(get_session(), current_actor(), followup_id)
        return row, 200, {"ETag": services.etag(row), "Cache-Control": "no-store"}


@blp.route("/followups/<int:followup_id>/reinspection")
class FollowupReinspection(MethodView):
    @requires(*services.ACTORS)
    @blp.arguments(ReinspectIn)
    @blp.response(200, FollowupOut)
    @blp.doc(responses=_STEP_RESPONSES)
    def post(self, data, followup_id):
        """复查（责令限期整改之后）：复查日期、情况、结论（已整改 / 未整改）与照片或文书；负责部门办理"""
        return _step("reinspect", data, followup_id)


@blp.route("/followups/<int:followup_id>/reinspections")
class FollowupReinspections(MethodView):
    @requires(*reinspections.SCHEDULERS)
    @blp.arguments(ReinspectionScheduleIn)
    @blp.response(200, FollowupOut)
    @blp.doc(responses={**_STEP_RESPONSES,
                        "409": {"description": "followup.bad_state：不是待复查（已责令限期整改）状态，如已办结；"
                                               "followup.reinspection_open：已安排复查尚未提交"},
                        "422": {"description": "followup.bad_officers：复查人员不是负责部门在岗的执法检查人员；"
                                               "followup.no_officers：首次检查中没有本部门人员，须指定；validation_error"}})
    def post(self, data, followup_id):
        """安排复查：在负责部门执法检查人员的手机上生成一次复查检查（与检查相同的同步、拍照与签名），提交后即记录复查结论

        负责部门的部门管理员办理；默认由首次检查中本部门的检查人员复查，也可指定本部门其他人员（第一名为组长）。"""
        row = reinspections.schedule(get_session(), current_actor(), followup_id, data, request.headers.get("If-Match"))
        return row, 200, {"ETag": services.etag(row)}


@blp.route("/followups/<int:followup_id>/transfer")
class FollowupTransfer(MethodView):
    @requires(*services.ACTORS)
    @blp.arguments(TransferIn)
    @blp.response(200, FollowupOut)
    @blp.doc(responses=_STEP_RESPONSES)
    def post(self, data, followup_id):
        """移送办案机构（复查未整改，或检查时即决定移送）：立案号与立案文书；办结"""
        return _step("transfer", data, followup_id)


@blp.route("/followups/<int:followup_id>/judicial")
class FollowupJudicial(MethodView):
    @requires(*services.ACTORS)
    @blp.arguments(JudicialIn)
    @blp.response(200, FollowupOut)
    @blp.doc(responses=_STEP_RESPONSES)
    def post(self, data, followup_id):
        """移送司法机关：告知移送记录编号与文书；办结"""
        return _step("judicial", data, followup_id)


@blp.route("/followups/<int:followup_id>/notify")
class FollowupNotify(MethodView):
    @requires(*services.ACTORS)
    @blp.arguments(NotifyIn)
    @blp.response(200, FollowupOut)
    @blp.doc(responses=_STEP_RESPONSES)
    def post(self, data, followup_id):
        """抄告相关部门：接收部门与抄告内容；待对方部门确认回执"""
        return _step("notify", data, followup_id)


@blp.route("/followups/<int:followup_id>/acknowledge")
class FollowupAcknowledge(MethodView):
    @requires(*services.ACKNOWLEDGERS)
    @blp.arguments(AcknowledgeIn)
    @blp.response(200, FollowupOut)
    @blp.doc(responses=_STEP_RESPONSES)
    def post(self, data, followup_id):
        """接收抄告的部门确认回执（附回执）；办结。由接收部门的部门管理员办理"""
        return _step("acknowledge", data, followup_id)


@blp.route("/targets/<int:target_id>/inspections")
class TargetInspections(MethodView):
    @requires(*services.HISTORY_READERS)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(TargetInspectionOut))
    def get(self, args, target_id):
        """检查对象名下的全部检查记录（已完成，新的在前）：检查结果与未办结的后续处置

        部门管理员、计划编制人员只见本部门参与的任务的检查。"""
        session = get_session()
        page = paginate(session, services.target_inspections_query(session, current_actor(), target_id), args)
        return {**page, "items": services.history_rows(session, page["items"])}
