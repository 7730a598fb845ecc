from __future__ import annotations

from flask import Response, current_app
from flask.views import MethodView
from sqlalchemy import select

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import current_actor, public, requires
from backend.auth.roles import Role
from backend.draws import experts, services, services_record
from backend.draws.models import Draw
from backend.inspections.services import my_inspections_query
from backend.plans import services as plans
from schemas.base import PageArgs, page_of
from schemas.draws import (DrawOut, GroupOut, InspectionOut, MyInspectionArgs, PreviewOut, PublicDrawArgs,
                           PublicDrawListArgs, PublicDrawRowOut, RecordArgs, RedrawIn, ReopenIn, ReplaceIn, SeedIn,
                           TaskExpertsIn, TaskExpertsOut)

blp = blueprint("draws", __name__, "/api/v1", "摇号抽取与检查分组")
public_blp = blueprint("public_draws", __name__, "/api/public", "公开：摇号记录")

RUNNERS = (Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER)
READERS = (Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.SUPERVISOR)


def _settings() -> services.DrawSettings:
    return services.DrawSettings(max_visits=current_app.config.get("MAX_VISITS_PER_YEAR"))


@blp.route("/tasks/<int:task_id>/draws")
class TaskDraws(MethodView):
    @requires(*READERS)
    @blp.response(200, DrawOut(many=True))
    def get(self, task_id):
        """任务的全部摇号（含被重新抽取取代的）"""
        session = get_session()
        plans.read_task(session, current_actor(), task_id)
        return session.scalars(select(Draw).where(Draw.task_id == task_id).order_by(Draw.seq)).all()


@blp.route("/tasks/<int:task_id>/draw/preview")
class DrawPreview(MethodView):
    @requires(*RUNNERS)
    @blp.response(200, PreviewOut)
    def get(self, task_id):
        """预览：按当前名录可抽取、排除、应抽取的数量（不冻结、不产生随机数）"""
        return services.preview(get_session(), current_actor(), task_id, _settings())


@blp.route("/tasks/<int:task_id>/draw/commit")
class DrawCommit(MethodView):
    @requires(*RUNNERS)
    @blp.response(201, DrawOut)
    def post(self, task_id):
        """冻结抽取名单并公布承诺值（此时尚无任何随机数）"""
        return services.commit(get_session(), current_actor(), task_id, _settings())


@blp.route("/tasks/<int:task_id>/draw/seed")
class DrawSeed(MethodView):
    @requires(*RUNNERS)
    @blp.arguments(SeedIn)
    @blp.response(200, DrawOut)
    def post(self, data, task_id):
        """录入随机数（现场掷骰或系统随机数）并完成抽取：对象、分组、人员、回避替换、组长"""
        return services.seed_and_draw(get_session(), current_actor(), task_id, _settings(), source=data["source"],
                                      dice=data["dice"], witnesses=data["witnesses"])


@blp.route("/tasks/<int:task_id>/draw/redraw")
class DrawRedraw(MethodView):
    @requires(*RUNNERS)
    @blp.arguments(RedrawIn)
    @blp.response(201, DrawOut)
    def post(self, data, task_id):
        """重新抽取（须说明理由；原摇号保留并公开，标记为已被取代）"""
        return services.redraw(get_session(), current_actor(), task_id, _settings(), reason=data["reason"])


@blp.route("/tasks/<int:task_id>/draw/reopen")
class DrawReopen(MethodView):
    @requires(*RUNNERS)
    @blp.arguments(ReopenIn)
    @blp.response(200, DrawOut)
    def post(self, data, task_id):
        """重新开放已冻结名单、未能完成摇号的任务（须说明理由；该次摇号保留并公开，标记为已放弃）"""
        return services.reopen(get_session(), current_actor(), task_id, reason=data["reason"])


@blp.route("/tasks/<int:task_id>/experts")
class TaskExperts(MethodView):
    @requires(*READERS)
    @blp.response(200, TaskExpertsOut)
    def get(self, task_id):
        """任务选派的专家（按检查组）与摇号后的回避"""
        return experts.task_experts(get_session(), current_actor(), task_id)

    @requires(*RUNNERS)
    @blp.arguments(TaskExpertsIn)
    @blp.response(200, TaskExpertsOut)
    def put(self, data, task_id):
        """牵头部门从专家名录库选派专家到检查组（冻结名单前；随承诺值公开）"""
        session = get_session()
        experts.set_experts(session, current_actor(), task_id, data["experts"])
        return experts.task_experts(session, current_actor(), task_id)


@blp.route("/tasks/<int:task_id>/groups")
class TaskGroups(MethodView):
    @requires(*READERS)
    @blp.arguments(PageArgs, location="query")
    @blp.response(200, page_of(GroupOut))
    def get(self, args, task_id):
        """当前有效摇号的检查组（分页）：组长、成员与检查对象"""
        session = get_session()
        page = paginate(session, services_record.groups_query(session, current_actor(), task_id), args)
        page["items"] = services_record.group_rows(session, page["items"])
        return page


@blp.route("/inspections/<int:inspection_id>/replace")
class InspectionReplace(MethodView):
    @requires(*RUNNERS)
    @blp.arguments(ReplaceIn)
    @blp.response(201, InspectionOut)
    def post(self, data, inspection_id):
        """对象已关闭停业、注销或吊销：按其分层备选名单的顺序替换（记入审计并公开）；无法联系的不替换"""
        return services.replace_target(get_session(), current_actor(), inspection_id,
                                       reason_code=data["reason_code"], note=data["note"])


@blp.route("/my/inspections")
class MyInspections(MethodView):
    @requires(Role.INSPECTOR)
    @blp.arguments(MyInspectionArgs, location="query")
    @blp.response(200, page_of(InspectionOut))
    def get(self, args):
        """我的检查任务：本人所在检查组的检查对象（回避的除外，替补的包含）"""
        return paginate(get_session(), my_inspections_query(current_actor(), args.get("status"), args.get("task_id")),
                        args)


# --- public ----------------------------------------------------------------------------------

@public_blp.route("/draws")
class PublicDrawList(MethodView):
    @public
    @public_blp.arguments(PublicDrawListArgs, location="query")
    @public_blp.response(200, page_of(PublicDrawRowOut))
    def get(self, args):
        """已公布的摇号（分页，最新在前）：任务、牵头部门、日期、符合条件户数与抽取户数、复核链接（无需登录，不含个人信息）"""
        session = get_session()
        page = paginate(session, services_record.public_draw_list_query(args), args, scalars=False)
        return {**page, "items": [services_record.public_draw_row(*row) for row in page["items"]]}


@public_blp.route("/draws/<string:task_code>")
class PublicDraws(MethodView):
    @public
    @public_blp.arguments(PublicDrawArgs, location="query")
    @public_blp.response(200, page_of(DrawOut))
    def get(self, args, task_code):
        """任务的全部摇号（分页，按次序）：承诺值、随机数、种子与结果（无需登录）"""
        session = get_session()
        return paginate(session, services_record.public_draws_query(session, task_code), args)


@public_blp.route("/draws/<string:task_code>/record")
class PublicDrawRecord(MethodView):
    @public
    @public_blp.arguments(RecordArgs, location="query")
    @public_blp.response(200, description="摇号记录（与 draw-vectors.json 的条目同形，另含名称与日期），可用 "
                                          "`shuangsui draw verify` 或 /draw/verify.html 复核")
    def get(self, args, task_code):
        """公开的摇号记录（JSON），任何人可下载复核"""
        session = get_session()
        draw = services_record.get_public_draw(session, task_code, args.get("seq"))
        chunks = services_record.record_json_chunks(session, draw)
        filename = f"draw-{task_code}-{draw.seq}.json"
        return Response(chunks, mimetype="application/json",
                        headers={"Content-Disposition": f'inline; filename="{filename}"'})
