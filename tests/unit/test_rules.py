"""backend.auth.rules, every branch, for every role: who may act, on which department, and
which department a list is limited to (the exact message and code of every refusal)."""
from __future__ import annotations

import pytest

from backend.actor import Actor
from backend.auth.roles import Role
from backend.auth.rules import department_scope, ensure_department, ensure_role
from backend.errors import Forbidden

OWN, OTHER = 7, 8
EVERY_DEPARTMENT = (Role.SYSADMIN, Role.SUPERVISOR)
ONE_DEPARTMENT = (Role.DEPT_ADMIN, Role.PLANNER, Role.INSPECTOR)


def actor(role, department_id: int | None = OWN) -> Actor:
    return Actor(user_id=1, label="测试", role=role if isinstance(role, str) else role.value,
                 department_id=department_id)


def refused(call, message: str, code: str) -> None:
    with pytest.raises(Forbidden) as info:
        call()
    assert (info.value.message, info.value.code, info.value.status) == (message, code, 403)


# --- ensure_role --------------------------------------------------------------------------------

@pytest.mark.parametrize("role", list(Role))
def test_ensure_role_lets_the_listed_roles_through(role):
    assert ensure_role(actor(role), [role]) is None
    assert ensure_role(actor(role), [role.value]) is None          # roles given as text
    assert ensure_role(actor(role), set(Role)) is None
    assert ensure_role(actor(role), (r for r in Role)) is None      # any iterable, read once


@pytest.mark.parametrize("role", list(Role))
def test_ensure_role_refuses_the_others_naming_the_role(role):
    others = [r for r in Role if r != role]
    refused(lambda: ensure_role(actor(role), others), f"当前角色（{role.label}）无权执行此操作", "forbidden.role")
    refused(lambda: ensure_role(actor(role), []), f"当前角色（{role.label}）无权执行此操作", "forbidden.role")


def test_ensure_role_refuses_an_unknown_or_missing_role():
    refused(lambda: ensure_role(actor("ghost"), list(Role)), "当前角色（ghost）无权执行此操作", "forbidden.role")
    nobody = Actor(user_id=None, label="x", role=None)
    refused(lambda: ensure_role(nobody, list(Role)), "当前角色（None）无权执行此操作", "forbidden.role")


def test_ensure_role_refuses_an_unknown_role_in_the_list():
    with pytest.raises(ValueError):
        ensure_role(actor(Role.PLANNER), ["ghost"])


# --- ensure_department --------------------------------------------------------------------------

@pytest.mark.parametrize("department_id", [OWN, OTHER, None])
@pytest.mark.parametrize("own", [OWN, None])
def test_the_system_admin_acts_on_every_department(department_id, own):
    assert ensure_department(actor(Role.SYSADMIN, own), department_id) is None
    assert ensure_department(actor(Role.SYSADMIN, own), department_id, "计划") is None


@pytest.mark.parametrize("role", ONE_DEPARTMENT + (Role.SUPERVISOR,))
def test_everyone_else_acts_on_their_own_department_only(role):
    assert ensure_department(actor(role, OWN), OWN) is None
    assert ensure_department(actor(role, OWN), OWN, "计划") is None
    refused(lambda: ensure_department(actor(role, OWN), OTHER), "只能访问本部门的数据", "forbidden.department")
    refused(lambda: ensure_department(actor(role, OWN), OTHER, "计划"), "只能访问本部门的计划", "forbidden.department")
    refused(lambda: ensure_department(actor(role, None), OTHER), "只能访问本部门的数据", "forbidden.department")


@pytest.mark.parametrize("role", ONE_DEPARTMENT + (Role.SUPERVISOR,))
@pytest.mark.parametrize("own", [OWN, None])
def test_nothing_without_a_department_is_anyones_own(role, own):
    """A change to something of no department: refused even to a user without a department."""
    refused(lambda: ensure_department(actor(role, own), None), "只能访问本部门的数据", "forbidden.department")
    refused(lambda: ensure_department(actor(role, own), None, "专家"), "只能访问本部门的专家", "forbidden.department")


# --- department_scope ---------------------------------------------------------------------------

@pytest.mark.parametrize("role", EVERY_DEPARTMENT)
@pytest.mark.parametrize("own", [OWN, None])
def test_sysadmin_and_supervisor_lists_are_what_they_ask_for(role, own):
    assert department_scope(actor(role, own), None) is None        # everything
    assert department_scope(actor(role, own), OTHER) == OTHER
    assert department_scope(actor(role, own), OWN) == OWN


@pytest.mark.parametrize("role", ONE_DEPARTMENT)
def test_everyone_else_lists_their_own_department(role):
    assert department_scope(actor(role, OWN), None) == OWN         # not everything
    assert department_scope(actor(role, OWN), OWN) == OWN
    refused(lambda: department_scope(actor(role, OWN), OTHER), "只能查看本部门的数据", "forbidden.department")


@pytest.mark.parametrize("role", ONE_DEPARTMENT)
def test_a_user_without_a_department_is_not_given_everything(role):
    """None from department_scope means "all departments": never for these roles (an account of theirs
    can lose its department, e.g. a supervisor's account given the planner role)."""
    for requested in (None, OWN):
        refused(lambda: department_scope(actor(role, None), requested), "只能查看本部门的数据",
                "forbidden.department")
