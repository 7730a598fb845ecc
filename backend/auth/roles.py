"""Roles. The team lead (组长) is not a role: the draw makes an inspector the leader of a group."""
from __future__ import annotations

import enum


class Role(str, enum.Enum):
    SYSADMIN = "sysadmin"
    DEPT_ADMIN = "dept_admin"
    PLANNER = "planner"
    INSPECTOR = "inspector"
    SUPERVISOR = "supervisor"
    PUBLISHER = "publisher"     # reviews and publishes its department's results (公示审核)

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.SYSADMIN: "系统管理员",
    Role.DEPT_ADMIN: "部门管理员",
    Role.PLANNER: "计划编制人员",
    Role.INSPECTOR: "执法检查人员",
    Role.SUPERVISOR: "监督人员",
    Role.PUBLISHER: "公示审核人员",
}

ALL_ROLES = frozenset(Role)
STAFF = frozenset({Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.SUPERVISOR})
ADMINS = frozenset({Role.SYSADMIN, Role.DEPT_ADMIN})
# who reviews and publishes a department's results (谁检查、谁公开): never an officer alone
PUBLISHERS = frozenset({Role.DEPT_ADMIN, Role.PUBLISHER})
