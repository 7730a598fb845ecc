"""Plans and tasks: staff API (/api/v1) and the public plan pages (/api/public). Thin: parse, call, dump."""
from __future__ import annotations

from flask import current_app
from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import current_actor, public, requires
from backend.auth.roles import Role
from backend.plans import services
from schemas.base import page_of
from schemas.plans import (PlanArgs, PlanCreate, PlanOut, PlanReasonIn, PlanUpdate, PlanVersionOut, PublicPlanArgs,
                           PublicPlanOut, PublicPlanVersionOut, TaskArgs, TaskCancelIn, TaskCreate, TaskDecisionIn,
                           TaskOut, TaskUpdate)

blp = blueprint("plans", __name__, "/api/v1", "年度抽查计划与抽查任务")
public_blp = blueprint("public_plans", __name__, "/api/public", "公开的年度抽查计划（无需登录）")

READERS = (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PLANNER)
EDITORS = (Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER)
APPROVERS = (Role.SYSADMIN, Role.DEPT_ADMIN)


def _ratios():
    return current_app.config["RISK_RATIOS"]


# --- plans -----------------------------------------------------------------------------------

@blp.route("/plans")
class Plans(MethodView):
    @requires(*READERS)
    @blp.arguments(PlanArgs, location="query")
    @blp.response(200, page_of(PlanOut))
    def get(self, args):
        """年度抽查计划列表（计划编制人员、部门管理员只见本部门牵头或参与的计划）"""
        return paginate(get_session(), services.plans_query(current_actor(), args), args)

    @requires(*EDITORS)
    @blp.arguments(PlanCreate)
    @blp.response(201, PlanOut)
    def post(self, data):
        """新建计划（草稿），牵头部门为本部门"""
        return services.create_plan(get_session(), current_actor(), data)


@blp.route("/plans/<int:plan_id>")
class PlanDetail(MethodView):
    @requires(*READERS)
    @blp.response(200, PlanOut)
    def get(self, plan_id):
        """计划详情"""
        return services.read_plan(get_session(), current_actor(), plan_id)

    @requires(*EDITORS)
    @blp.arguments(PlanUpdate)
    @blp.response(200, PlanOut)
    def patch(self, data, plan_id):
        """修改计划：草稿可随意修改；已审批的须先退回草稿；已公布的须填写调整说明，旧版本留存"""
        return services.update_plan(get_session(), current_actor(), plan_id, data)


@blp.route("/plans/<int:plan_id>/approve")
class PlanApprove(MethodView):
    @requires(*APPROVERS)
    @blp.response(200, PlanOut)
    def post(self, plan_id):
        """审批计划（草稿 → 已审批），牵头部门的部门管理员"""
        return services.approve_plan(get_session(), current_actor(), plan_id)


@blp.route("/plans/<int:plan_id>/reopen")
class PlanReopen(MethodView):
    @requires(*APPROVERS)
    @blp.arguments(PlanReasonIn)
    @blp.response(200, PlanOut)
    def post(self, data, plan_id):
        """撤回审批（已审批、未公布 → 草稿），以便修改"""
        return services.reopen_plan(get_session(), current_actor(), plan_id, data.get("reason"))


@blp.route("/plans/<int:plan_id>/publish")
class PlanPublish(MethodView):
    @requires(*APPROVERS)
    @blp.response(200, PlanOut)
    def post(self, plan_id):
        """公布计划（已审批 → 已公布），公布后任何人可查阅"""
        return services.publish_plan(get_session(), current_actor(), plan_id)


@blp.route("/plans/<int:plan_id>/retire")
class PlanRetire(MethodView):
    @requires(*EDITORS)
    @blp.arguments(PlanReasonIn)
    @blp.response(200, PlanOut)
    def post(self, data, plan_id):
        """停用草稿计划（不删除）"""
        return services.retire_plan(get_session(), current_actor(), plan_id, data.get("reason"))


@blp.route("/plans/<int:plan_id>/versions")
class PlanVersions(MethodView):
    @requires(*READERS)
    @blp.response(200, PlanVersionOut(many=True))
    def get(self, plan_id):
        """计划公布后的调整记录：每次调整前的版本及调整说明"""
        return services.plan_versions(services.read_plan(get_session(), current_actor(), plan_id))


# --- tasks -----------------------------------------------------------------------------------

@blp.route("/tasks")
class Tasks(MethodView):
    @requires(*READERS)
    @blp.arguments(TaskArgs, location="query")
    @blp.response(200, page_of(TaskOut))
    def get(self, args):
        """抽查任务列表（计划编制人员、部门管理员只见本部门牵头或参与的任务）"""
        return paginate(get_session(), services.tasks_query(current_actor(), args), args)

    @requires(*EDITORS)
    @blp.arguments(TaskCreate)
    @blp.response(201, TaskOut)
    def post(self, data):
        """从已公布的计划新建任务（草稿），由计划的牵头部门创建"""
        return services.create_task(get_session(), current_actor(), data, _ratios())


@blp.route("/tasks/<int:task_id>")
class TaskDetail(MethodView):
    @requires(*READERS)
    @blp.response(200, TaskOut)
    def get(self, task_id):
        """任务详情"""
        return services.read_task(get_session(), current_actor(), task_id)

    @requires(*EDITORS)
    @blp.arguments(TaskUpdate)
    @blp.response(200, TaskOut)
    def patch(self, data, task_id):
        """修改任务（牵头部门）；已发送会审的任务修改后退回草稿，须重新发送"""
        return services.update_task(get_session(), current_actor(), task_id, data, _ratios())


@blp.route("/tasks/<int:task_id>/send")
class TaskSend(MethodView):
    @requires(*EDITORS)
    @blp.response(200, TaskOut)
    def post(self, task_id):
        """发送参与部门会审（没有参与部门的任务直接会审通过）"""
        return services.send_task(get_session(), current_actor(), task_id)


@blp.route("/tasks/<int:task_id>/decision")
class TaskDecision(MethodView):
    @requires(*EDITORS)
    @blp.arguments(TaskDecisionIn)
    @blp.response(200, TaskOut)
    def post(self, data, task_id):
        """参与部门会审：确认，或说明理由后退回"""
        return services.decide_task(get_session(), current_actor(), task_id, data)


@blp.route("/tasks/<int:task_id>/cancel")
class TaskCancel(MethodView):
    @requires(*EDITORS)
    @blp.arguments(TaskCancelIn)
    @blp.response(200, TaskOut)
    def post(self, data, task_id):
        """撤销任务（摇号前，须说明理由）"""
        return services.cancel_task(get_session(), current_actor(), task_id, data["reason"])


# --- public ----------------------------------------------------------------------------------

@public_blp.route("/plans")
class PublicPlans(MethodView):
    @public
    @public_blp.arguments(PublicPlanArgs, location="query")
    @public_blp.response(200, page_of(PublicPlanOut))
    def get(self, args):
        """已公布的年度抽查计划"""
        return paginate(get_session(), services.public_plans_query(args), args)


@public_blp.route("/plans/<code>")
class PublicPlanDetail(MethodView):
    @public
    @public_blp.response(200, PublicPlanOut)
    def get(self, code):
        """已公布计划的内容（当前版本）"""
        return services.get_public_plan(get_session(), code)


@public_blp.route("/plans/<code>/versions")
class PublicPlanVersions(MethodView):
    @public
    @public_blp.response(200, PublicPlanVersionOut(many=True))
    def get(self, code):
        """已公布计划的调整记录：每次调整前的版本及调整说明"""
        return services.plan_versions(services.get_public_plan(get_session(), code))
