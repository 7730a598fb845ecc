"""Fixtures of the import/export tests."""
from __future__ import annotations

import pytest

from backend.auth.roles import Role


@pytest.fixture()
def world(factory, auth):
    """A county with a town, two departments, a system admin and a department admin."""
    county = factory.region("411203", "陕州区", "county")
    town = factory.region("411203100", "大营镇", "town", parent_code="411203")
    dept = factory.department()
    other = factory.department()
    admin, admin_headers = auth.as_role(Role.SYSADMIN)
    dept_admin, dept_headers = auth.as_role(Role.DEPT_ADMIN, dept)

    class World:
        pass

    w = World()
    w.county, w.town, w.dept, w.other = county, town, dept, other
    w.admin, w.admin_headers = admin, admin_headers
    w.dept_admin, w.dept_headers = dept_admin, dept_headers
    return w
