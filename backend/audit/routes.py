from __future__ import annotations

from flask.views import MethodView
from sqlalchemy import select

from backend import get_session
from backend.api import blueprint, paginate
from backend.audit.models import AuditEntry
from backend.audit.services import verify_chain
from backend.auth.access import current_actor, department_scope, requires
from backend.auth.roles import Role
from schemas.base import page_of
from schemas.system import AuditArgs, AuditOut, ChainReportOut

blp = blueprint("audit", __name__, "/api/v1/audit", "审计日志（全程留痕）")


@blp.route("")
class AuditList(MethodView):
    @requires(Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN)
    @blp.arguments(AuditArgs, location="query")
    @blp.response(200, page_of(AuditOut))
    def get(self, args):
        """审计日志（部门管理员只见本部门的记录），新的在前"""
        stmt = select(AuditEntry).order_by(AuditEntry.id.desc())
        department_id = department_scope(current_actor(), args.get("department_id"))
        if department_id is not None:
            stmt = stmt.where(AuditEntry.department_id == department_id)
        for key in ("action", "entity_type", "entity_id", "actor_id"):
            if args.get(key) is not None:
                stmt = stmt.where(getattr(AuditEntry, key) == args[key])
        if args.get("since"):
            stmt = stmt.where(AuditEntry.at >= args["since"])
        if args.get("until"):
            stmt = stmt.where(AuditEntry.at < args["until"])
        return paginate(get_session(), stmt, args)


@blp.route("/verify")
class AuditVerify(MethodView):
    @requires(Role.SYSADMIN, Role.SUPERVISOR)
    @blp.response(200, ChainReportOut)
    def get(self):
        """校验整条审计链，指出第一处断裂"""
        return verify_chain(get_session())
