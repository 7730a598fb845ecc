"""Access rules as plain functions (no Flask): services and routes share them."""
from __future__ import annotations

from typing import Iterable

from backend.actor import Actor
from backend.auth.roles import Role
from backend.errors import Forbidden


def ensure_role(actor: Actor, roles: Iterable[Role | str]) -> None:
    if actor.role not in {Role(r).value for r in roles}:
        label = Role(actor.role).label if actor.role in {r.value for r in Role} else str(actor.role)
        raise Forbidden(f"当前角色（{label}）无权执行此操作", code="forbidden.role")


def ensure_department(actor: Actor, department_id: int | None, what: str = "数据") -> None:
    """For changes: a system admin acts on every department, everyone else only on their own."""
    if actor.role == Role.SYSADMIN:
        return
    if department_id is None or actor.department_id != department_id:
        raise Forbidden(f"只能访问本部门的{what}", code="forbidden.department")


def department_scope(actor: Actor, requested: int | None) -> int | None:
    """The department a list is limited to: None means all (sysadmin, supervisor only).

    Anyone else sees their own department; an account of such a role left without one
    (a supervisor's account given another role, say) sees nothing rather than everything."""
    if actor.role in (Role.SYSADMIN, Role.SUPERVISOR):
        return requested
    if actor.department_id is None or (requested is not None and requested != actor.department_id):
        raise Forbidden("只能查看本部门的数据", code="forbidden.department")
    return actor.department_id
