"""Publishing results (publishers of each department) and the public results (no login). Thin."""
from __future__ import annotations

from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import current_actor, public, requires
from backend.auth.roles import Role
from backend.publication import results
from schemas.base import page_of
from schemas.results import (CorrectIn, ExemptionDecisionIn, ExemptionRequestIn, ExemptionStateOut,
                             InspectionPublicationOut, PublicationPreviewOut, PublicResultArgs, PublishedOut, PublishIn,
                             QueueArgs, QueueRowOut, ResultOut, ResultRowOut)

blp = blueprint("publication", __name__, "/api/v1/publication", "检查结果公示：预览、发布、更正、不适合公开、公示队列")
public_blp = blueprint("public_results", __name__, "/api/public", "公示的检查结果（无需登录）")
PUBLISHERS = (Role.DEPT_ADMIN, Role.PUBLISHER)


def _notice(session, actor, result_id: int) -> None:
    """The 检查结果告知书 is made by a job once the publication has committed (it never delays the answer)."""
    from flask import current_app

    from backend.publication import business_notice

    business_notice.schedule(session, current_app.extensions.get("shuangsui.jobs"), actor, result_id)


@blp.route("/queue")
class Queue(MethodView):
    @requires(*PUBLISHERS)
    @blp.arguments(QueueArgs, location="query")
    @blp.response(200, page_of(QueueRowOut))
    def get(self, args):
        """本部门待公示的检查：已提交、本部门部分尚未公示、未经批准不公开，按公示期限排序"""
        session = get_session()
        actor = current_actor()
        page = paginate(session, results.queue_query(session, actor, args), args)
        return {**page, "items": results.queue_rows(session, actor, page["items"], args.get("today"))}


@blp.route("/inspections/<int:inspection_id>")
class InspectionPublication(MethodView):
    @requires(*PUBLISHERS)
    @blp.response(200, InspectionPublicationOut)
    def get(self, inspection_id):
        """一户检查的公示情况：各部门部分的已发布版本、不适合公开的申请与审批"""
        return results.inspection_status(get_session(), current_actor(), inspection_id)


@blp.route("/inspections/<int:inspection_id>/preview")
class Preview(MethodView):
    @requires(*PUBLISHERS)
    @blp.arguments(PublishIn)
    @blp.response(200, PublicationPreviewOut)
    def post(self, data, inspection_id):
        """预览：本部门发布（或更正）后公众看到的内容，逐字相同；不改变任何数据"""
        return results.preview(get_session(), current_actor(), inspection_id, data)


@blp.route("/inspections/<int:inspection_id>/publish")
class Publish(MethodView):
    @requires(*PUBLISHERS)
    @blp.arguments(PublishIn)
    @blp.response(201, PublishedOut)
    def post(self, data, inspection_id):
        """发布本部门的部分（牵头部门：整条检查结果），记入审计日志；随后生成检查结果告知书"""
        session, actor = get_session(), current_actor()
        row = results.publish(session, actor, inspection_id, data)
        _notice(session, actor, row["id"])
        return row


@blp.route("/inspections/<int:inspection_id>/correct")
class Correct(MethodView):
    @requires(*PUBLISHERS)
    @blp.arguments(CorrectIn)
    @blp.response(201, PublishedOut)
    def post(self, data, inspection_id):
        """更正已公示的结果：发布新版本并说明更正内容与理由，旧版本仍公开并标为已取代；新版本另生成告知书"""
        session, actor = get_session(), current_actor()
        row = results.correct(session, actor, inspection_id, data)
        _notice(session, actor, row["id"])
        return row


@blp.route("/inspections/<int:inspection_id>/exemption")
class ExemptionRequest(MethodView):
    @requires(*PUBLISHERS)
    @blp.arguments(ExemptionRequestIn)
    @blp.response(201, ExemptionStateOut)
    def post(self, data, inspection_id):
        """牵头部门申请不适合公开（组长在检查记录中填写的理由已是申请）"""
        return results.request_exemption(get_session(), current_actor(), inspection_id, data["reason"])


@blp.route("/inspections/<int:inspection_id>/exemption/decision")
class ExemptionDecision(MethodView):
    @requires(*PUBLISHERS)
    @blp.arguments(ExemptionDecisionIn)
    @blp.response(200, ExemptionStateOut)
    def post(self, data, inspection_id):
        """审批不适合公开：牵头部门的部门管理员或公示审核人员，且不是检查组组长、不是申请人"""
        return results.decide_exemption(get_session(), current_actor(), inspection_id, data["decision"],
                                        data.get("note"))


@public_blp.route("/results")
class PublicResults(MethodView):
    @public
    @public_blp.arguments(PublicResultArgs, location="query")
    @public_blp.response(200, page_of(ResultRowOut))
    def get(self, args):
        """公示的检查结果：按企业名称、统一社会信用代码、任务、发布部门、检查完成日期查询"""
        session = get_session()
        page = paginate(session, results.public_query(args), args)
        return {**page, "items": results.public_rows(session, page["items"])}


@public_blp.route("/photos/<string:sha256>")
class PublicPhoto(MethodView):
    @public
    @public_blp.doc(responses={"200": {"description": "JPEG，无 EXIF/GPS/ICC/XMP", "content": {"image/jpeg": {}}},
                               "404": {"description": "没有公示版本公开这张照片"}})
    def get(self, sha256):
        """公示结果中发布人勾选公开的照片（去除全部元数据的副本；原件从不公开）"""
        from backend.media.routes import send_stored

        return send_stored(results.public_photo(get_session(), sha256), "image/jpeg")


@public_blp.route("/results/<int:result_id>")
class PublicResult(MethodView):
    @public
    @public_blp.response(200, ResultOut)
    def get(self, result_id):
        """一条公示结果（永久链接；已被更正的旧版本仍可查看，并标明已取代）"""
        return results.public_result(get_session(), result_id)
