"""一单两库: the API of the lists. Thin: parse, call a service, dump.

| list | read | write |
| --- | --- | --- |
| regions, departments | public | system admin |
| items, check points | public | system admin; department admin of the item's department |
| targets | system admin, department admin, planner, supervisor (every department) | system admin; admin of the maintaining department |
| inspectors, experts and their conflicts | system admin, supervisor: all; department admin, planner: own department |
  system admin; admin of that department |
| /me/inspector | the inspector themself | — |
"""
from __future__ import annotations

from flask.views import MethodView

from backend import get_session
from backend.api import blueprint, paginate
from backend.auth.access import current_actor, public, requires
from backend.auth.roles import Role
from backend.directory import conflicts, departments, experts, inspectors, items, regions, targets
from schemas.base import page_of
from schemas.directory import (CheckPointIn, CheckPointOut, CheckPointUpdate, ConflictIn, ConflictOut, DepartmentArgs,
                               DepartmentIn, DepartmentOut, DepartmentUpdate, ExpertArgs, ExpertConflictOut, ExpertIn,
                               ExpertOut, ExpertUpdate, InspectorArgs, InspectorDetailOut, InspectorIn, InspectorOut,
                               InspectorUpdate, ItemArgs, ItemDetailOut, ItemIn, ItemOut, ItemUpdate, RegionArgs,
                               RegionIn, RegionOut, RegionUpdate, RetireIn, SubListArgs, TargetArgs, TargetHistoryOut,
                               TargetIn, TargetOut, TargetUpdate)

blp = blueprint("directory", __name__, "/api/v1", "一单两库：区划、部门、抽查事项、检查对象、执法人员、专家")

SYSADMIN = (Role.SYSADMIN,)
ADMINS = (Role.SYSADMIN, Role.DEPT_ADMIN)
STAFF = (Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.SUPERVISOR)


# --- regions ---------------------------------------------------------------------------------------

@blp.route("/regions")
class Regions(MethodView):
    @public
    @blp.arguments(RegionArgs, location="query")
    @blp.response(200, page_of(RegionOut))
    def get(self, args):
        """行政区划列表（按代码排序）"""
        return paginate(get_session(), regions.regions_query(args), args)

    @requires(*SYSADMIN)
    @blp.arguments(RegionIn)
    @blp.response(201, RegionOut)
    def post(self, data):
        """新增行政区划"""
        return regions.create_region(get_session(), current_actor(), data)


@blp.route("/regions/<string:code>")
class RegionDetail(MethodView):
    @public
    @blp.response(200, RegionOut)
    def get(self, code):
        """行政区划详情"""
        return regions.get_region(get_session(), code)

    @requires(*SYSADMIN)
    @blp.arguments(RegionUpdate)
    @blp.response(200, RegionOut)
    def patch(self, data, code):
        """修改行政区划（代码不可改）"""
        return regions.update_region(get_session(), current_actor(), code, data)


@blp.route("/regions/<string:code>/retire")
class RegionRetire(MethodView):
    @requires(*SYSADMIN)
    @blp.arguments(RetireIn)
    @blp.response(200, RegionOut)
    def post(self, data, code):
        """停用或恢复行政区划"""
        return regions.set_region_retired(get_session(), current_actor(), code, data["retired"], data["reason"])


# --- departments -----------------------------------------------------------------------------------

@blp.route("/departments")
class Departments(MethodView):
    @public
    @blp.arguments(DepartmentArgs, location="query")
    @blp.response(200, page_of(DepartmentOut))
    def get(self, args):
        """部门列表（按部门代码排序）"""
        return paginate(get_session(), departments.departments_query(args), args)

    @requires(*SYSADMIN)
    @blp.arguments(DepartmentIn)
    @blp.response(201, DepartmentOut)
    def post(self, data):
        """新增部门"""
        return departments.create_department(get_session(), current_actor(), data)


@blp.route("/departments/<int:department_id>")
class DepartmentDetail(MethodView):
    @public
    @blp.response(200, DepartmentOut)
    def get(self, department_id):
        """部门详情"""
        return departments.get_department(get_session(), department_id)

    @requires(*SYSADMIN)
    @blp.arguments(DepartmentUpdate)
    @blp.response(200, DepartmentOut)
    def patch(self, data, department_id):
        """修改部门（部门代码不可改）"""
        return departments.update_department(get_session(), current_actor(), department_id, data)


@blp.route("/departments/<int:department_id>/retire")
class DepartmentRetire(MethodView):
    @requires(*SYSADMIN)
    @blp.arguments(RetireIn)
    @blp.response(200, DepartmentOut)
    def post(self, data, department_id):
        """停用或恢复部门"""
        return departments.set_department_retired(get_session(), current_actor(), department_id, data["retired"],
                                                  data["reason"])


# --- items and check points ------------------------------------------------------------------------

@blp.route("/items")
class Items(MethodView):
    @public
    @blp.arguments(ItemArgs, location="query")
    @blp.response(200, page_of(ItemOut))
    def get(self, args):
        """抽查事项清单（按事项编码排序）"""
        return paginate(get_session(), items.items_query(args), args)

    @requires(*ADMINS)
    @blp.arguments(ItemIn)
    @blp.response(201, ItemDetailOut)
    def post(self, data):
        """新增抽查事项（可一并录入检查内容）；部门管理员只能为本部门新增"""
        return items.create_item(get_session(), current_actor(), data)


@blp.route("/items/<int:item_id>")
class ItemDetail(MethodView):
    @public
    @blp.response(200, ItemDetailOut)
    def get(self, item_id):
        """抽查事项详情，含现行检查内容"""
        return items.get_item(get_session(), item_id)

    @requires(*ADMINS)
    @blp.arguments(ItemUpdate)
    @blp.response(200, ItemDetailOut)
    def patch(self, data, item_id):
        """修改抽查事项（检查主体部门的管理员或系统管理员）"""
        return items.update_item(get_session(), current_actor(), item_id, data)


@blp.route("/items/<int:item_id>/retire")
class ItemRetire(MethodView):
    @requires(*ADMINS)
    @blp.arguments(RetireIn)
    @blp.response(200, ItemDetailOut)
    def post(self, data, item_id):
        """停用或恢复抽查事项"""
        return items.set_item_retired(get_session(), current_actor(), item_id, data["retired"], data["reason"])


@blp.route("/items/<int:item_id>/check-points")
class CheckPoints(MethodView):
    @public
    @blp.arguments(SubListArgs, location="query")
    @blp.response(200, CheckPointOut(many=True))
    def get(self, args, item_id):
        """抽查事项的检查内容（按序号）"""
        return items.check_points(get_session(), item_id, args["include_retired"])

    @requires(*ADMINS)
    @blp.arguments(CheckPointIn)
    @blp.response(201, CheckPointOut)
    def post(self, data, item_id):
        """新增检查内容"""
        return items.add_check_point(get_session(), current_actor(), item_id, data)


@blp.route("/items/<int:item_id>/check-points/<int:check_point_id>")
class CheckPointDetail(MethodView):
    @requires(*ADMINS)
    @blp.arguments(CheckPointUpdate)
    @blp.response(200, CheckPointOut)
    def patch(self, data, item_id, check_point_id):
        """修改检查内容"""
        return items.update_check_point(get_session(), current_actor(), item_id, check_point_id, data)


@blp.route("/items/<int:item_id>/check-points/<int:check_point_id>/retire")
class CheckPointRetire(MethodView):
    @requires(*ADMINS)
    @blp.arguments(RetireIn)
    @blp.response(200, CheckPointOut)
    def post(self, data, item_id, check_point_id):
        """停用或恢复检查内容"""
        return items.set_check_point_retired(get_session(), current_actor(), item_id, check_point_id,
                                             data["retired"], data["reason"])


# --- targets ---------------------------------------------------------------------------------------

@blp.route("/targets")
class Targets(MethodView):
    @requires(*STAFF)
    @blp.arguments(TargetArgs, location="query")
    @blp.response(200, page_of(TargetOut))
    def get(self, args):
        """检查对象名录库（各部门共用，按代码排序）"""
        return paginate(get_session(), targets.targets_query(current_actor(), args), args)

    @requires(*ADMINS)
    @blp.arguments(TargetIn)
    @blp.response(201, TargetOut)
    def post(self, data):
        """新增检查对象；部门管理员新增的由本部门维护"""
        return targets.create_target(get_session(), current_actor(), data)


@blp.route("/targets/<int:target_id>")
class TargetDetail(MethodView):
    @requires(*STAFF)
    @blp.response(200, TargetOut)
    def get(self, target_id):
        """检查对象详情"""
        return targets.get_target(get_session(), current_actor(), target_id)

    @requires(*ADMINS)
    @blp.arguments(TargetUpdate)
    @blp.response(200, TargetOut)
    def patch(self, data, target_id):
        """修改检查对象（维护部门的管理员或系统管理员）"""
        return targets.update_target(get_session(), current_actor(), target_id, data)


@blp.route("/targets/<int:target_id>/retire")
class TargetRetire(MethodView):
    @requires(*ADMINS)
    @blp.arguments(RetireIn)
    @blp.response(200, TargetOut)
    def post(self, data, target_id):
        """停用或恢复检查对象"""
        return targets.set_target_retired(get_session(), current_actor(), target_id, data["retired"],
                                          data["reason"])


@blp.route("/targets/<int:target_id>/history")
class TargetHistory(MethodView):
    @requires(*STAFF)
    @blp.response(200, TargetHistoryOut(many=True))
    def get(self, target_id):
        """各抽查事项最近一次检查该对象的日期（新的在前）"""
        return targets.target_history(get_session(), current_actor(), target_id)


@blp.route("/targets/<int:target_id>/conflicts")
class TargetConflicts(MethodView):
    @requires(*STAFF)
    @blp.arguments(SubListArgs, location="query")
    @blp.response(200, ConflictOut(many=True))
    def get(self, args, target_id):
        """申报与该对象有利害关系（须回避）的执法人员；部门管理员、计划编制人员只见本部门人员"""
        return targets.target_conflicts(get_session(), current_actor(), target_id, args["include_retired"])


# --- inspectors ------------------------------------------------------------------------------------

@blp.route("/inspectors")
class Inspectors(MethodView):
    @requires(*STAFF)
    @blp.arguments(InspectorArgs, location="query")
    @blp.response(200, page_of(InspectorOut))
    def get(self, args):
        """执法检查人员名录库；部门管理员、计划编制人员只能查本部门"""
        return paginate(get_session(), inspectors.inspectors_query(current_actor(), args), args)

    @requires(*ADMINS)
    @blp.arguments(InspectorIn)
    @blp.response(201, InspectorDetailOut)
    def post(self, data):
        """新增执法检查人员（执法证号不能重复）"""
        return inspectors.create_inspector(get_session(), current_actor(), data)


@blp.route("/inspectors/<int:inspector_id>")
class InspectorDetail(MethodView):
    @requires(*STAFF)
    @blp.response(200, InspectorDetailOut)
    def get(self, inspector_id):
        """执法检查人员详情，含现行利害关系申报"""
        return inspectors.get_inspector(get_session(), current_actor(), inspector_id)

    @requires(*ADMINS)
    @blp.arguments(InspectorUpdate)
    @blp.response(200, InspectorDetailOut)
    def patch(self, data, inspector_id):
        """修改执法检查人员"""
        return inspectors.update_inspector(get_session(), current_actor(), inspector_id, data)


@blp.route("/inspectors/<int:inspector_id>/retire")
class InspectorRetire(MethodView):
    @requires(*ADMINS)
    @blp.arguments(RetireIn)
    @blp.response(200, InspectorDetailOut)
    def post(self, data, inspector_id):
        """停用或恢复执法检查人员"""
        return inspectors.set_inspector_retired(get_session(), current_actor(), inspector_id, data["retired"],
                                                data["reason"])


@blp.route("/inspectors/<int:inspector_id>/conflicts")
class InspectorConflicts(MethodView):
    @requires(*STAFF)
    @blp.arguments(SubListArgs, location="query")
    @blp.response(200, ConflictOut(many=True))
    def get(self, args, inspector_id):
        """该执法人员申报的利害关系（须回避的检查对象）"""
        return conflicts.listed(get_session(), current_actor(), conflicts.INSPECTORS, inspector_id,
                                args["include_retired"])

    @requires(*ADMINS)
    @blp.arguments(ConflictIn)
    @blp.response(201, ConflictOut)
    def post(self, data, inspector_id):
        """申报利害关系：该执法人员不得检查此对象（回避）"""
        return conflicts.declare(get_session(), current_actor(), conflicts.INSPECTORS, inspector_id, data)


@blp.route("/inspectors/<int:inspector_id>/conflicts/<int:conflict_id>/retire")
class InspectorConflictRetire(MethodView):
    @requires(*ADMINS)
    @blp.arguments(RetireIn)
    @blp.response(200, ConflictOut)
    def post(self, data, inspector_id, conflict_id):
        """撤销或恢复利害关系申报"""
        return conflicts.set_retired(get_session(), current_actor(), conflicts.INSPECTORS, inspector_id, conflict_id,
                                     data["retired"], data["reason"])


@blp.route("/me/inspector")
class MyInspector(MethodView):
    @requires(Role.INSPECTOR)
    @blp.response(200, InspectorDetailOut)
    def get(self):
        """本人在执法检查人员名录库中的信息"""
        return inspectors.my_inspector(get_session(), current_actor())


# --- experts ---------------------------------------------------------------------------------------

@blp.route("/experts")
class Experts(MethodView):
    @requires(*STAFF)
    @blp.arguments(ExpertArgs, location="query")
    @blp.response(200, page_of(ExpertOut))
    def get(self, args):
        """专家库；部门管理员、计划编制人员只能查本部门"""
        return paginate(get_session(), experts.experts_query(current_actor(), args), args)

    @requires(*ADMINS)
    @blp.arguments(ExpertIn)
    @blp.response(201, ExpertOut)
    def post(self, data):
        """新增专家"""
        return experts.create_expert(get_session(), current_actor(), data)


@blp.route("/experts/<int:expert_id>")
class ExpertDetail(MethodView):
    @requires(*STAFF)
    @blp.response(200, ExpertOut)
    def get(self, expert_id):
        """专家详情"""
        return experts.get_expert(get_session(), current_actor(), expert_id)

    @requires(*ADMINS)
    @blp.arguments(ExpertUpdate)
    @blp.response(200, ExpertOut)
    def patch(self, data, expert_id):
        """修改专家信息"""
        return experts.update_expert(get_session(), current_actor(), expert_id, data)


@blp.route("/experts/<int:expert_id>/retire")
class ExpertRetire(MethodView):
    @requires(*ADMINS)
    @blp.arguments(RetireIn)
    @blp.response(200, ExpertOut)
    def post(self, data, expert_id):
        """停用或恢复专家"""
        return experts.set_expert_retired(get_session(), current_actor(), expert_id, data["retired"],
                                          data["reason"])


@blp.route("/experts/<int:expert_id>/conflicts")
class ExpertConflicts(MethodView):
    @requires(*STAFF)
    @blp.arguments(SubListArgs, location="query")
    @blp.response(200, ExpertConflictOut(many=True))
    def get(self, args, expert_id):
        """该专家申报的利害关系（参加检查组时须回避的检查对象）"""
        return conflicts.listed(get_session(), current_actor(), conflicts.EXPERTS, expert_id, args["include_retired"])

    @requires(*ADMINS)
    @blp.arguments(ConflictIn)
    @blp.response(201, ExpertConflictOut)
    def post(self, data, expert_id):
        """申报利害关系：该专家不参加对此对象的检查（回避）"""
        return conflicts.declare(get_session(), current_actor(), conflicts.EXPERTS, expert_id, data)


@blp.route("/experts/<int:expert_id>/conflicts/<int:conflict_id>/retire")
class ExpertConflictRetire(MethodView):
    @requires(*ADMINS)
    @blp.arguments(RetireIn)
    @blp.response(200, ExpertConflictOut)
    def post(self, data, expert_id, conflict_id):
        """撤销或恢复专家的利害关系申报"""
        return conflicts.set_retired(get_session(), current_actor(), conflicts.EXPERTS, expert_id, conflict_id,
                                     data["retired"], data["reason"])
