"""The inputs issue 6 found giving a 500, each answered with a clear 4xx that changes nothing.

The sweep over every endpoint is in ``test_no_500.py``; here each case is checked for its exact
answer: nesting and number size are refused before parsing, ids 0 and ids beyond any column
are validation errors, and the database's own constraints are the last guard (never a 500).
"""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, text

from backend.audit.models import AuditEntry
from backend.auth.models import User
from backend.auth.roles import Role
from tests.conftest import make_test_app

TOO_BIG = "18446744073709551616"  # 2**64


def _post_raw(client, url, raw, headers=None):
    return client.post(url, data=raw, content_type="application/json", headers=headers or {})


def _audit_count(session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEntry))


@pytest.mark.parametrize("raw, reason", [
    ("[" * 1000 + "]" * 1000, "嵌套层级过深"),
    ('{"username":' * 1000 + '"x"' + "}" * 1000, "嵌套层级过深"),
    ('{"username": "a", "password": ' + "1" * 4301 + "}", "数字过长"),
])
def test_login_body_too_deep_or_too_long_is_422(client, raw, reason):
    r = _post_raw(client, "/api/v1/auth/login", raw)
    assert r.status_code == 422, r.get_json()
    assert reason in r.json["message"] and r.json["code"] == "validation_error"


def test_json_depth_limit_is_exact(client):
    depth_32 = '{"username": "a", "password": "b", "device_label": ' + "[" * 31 + "]" * 31 + "}"
    r = _post_raw(client, "/api/v1/auth/login", depth_32)
    assert r.status_code == 422 and "嵌套" not in r.json["message"]  # parsed; refused by the schema
    r = _post_raw(client, "/api/v1/auth/login", '{"device_label": ' + "[" * 32 + "]" * 32 + "}")
    assert r.status_code == 422 and "嵌套层级过深" in r.json["message"]


def test_brackets_that_never_close_are_not_json(client):
    r = _post_raw(client, "/api/v1/auth/login", "[" * 100000)
    assert r.status_code == 400 and r.json["errors"]["json"] == ["请求体不是有效的 JSON"]


def test_inspector_id_zero_is_a_validation_error(client, factory, auth, db_session):
    _, headers = auth.as_role(Role.SYSADMIN)
    user = factory.user(Role.PLANNER)
    before = _audit_count(db_session)
    r = client.patch(f"/api/v1/users/{user.id}", json={"inspector_id": 0}, headers=headers)
    assert r.status_code == 422 and r.json["errors"]["json"]["inspector_id"], r.json
    assert "编号无效" in r.json["message"]
    db_session.expire_all()
    assert db_session.get(User, user.id).inspector_id is None and _audit_count(db_session) == before


@pytest.mark.parametrize("role", ["supervisor", "planner"])
def test_department_id_zero_when_creating_an_account_is_a_validation_error(client, auth, db_session, role):
    _, headers = auth.as_role(Role.SYSADMIN)
    r = client.post("/api/v1/users", json={"username": "zero.dept", "display_name": "零部门", "role": role,
                                           "password": "Str0ng!pw", "department_id": 0}, headers=headers)
    assert r.status_code == 422 and r.json["errors"]["json"]["department_id"], r.json
    assert db_session.scalar(select(User.id).where(User.username == "zero.dept")) is None


@pytest.mark.parametrize("url", [
    f"/api/v1/audit?actor_id={TOO_BIG}",
    f"/api/v1/audit?department_id={TOO_BIG}",
    f"/api/v1/users?department_id={TOO_BIG}",
    "/api/v1/users?department_id=0",
    "/api/v1/audit?actor_id=2147483648",
])
def test_query_ids_beyond_any_column_are_validation_errors(client, auth, url):
    _, headers = auth.as_role(Role.SYSADMIN)
    r = client.get(url, headers=headers)
    assert r.status_code == 422, r.get_json()
    assert "编号无效" in r.json["message"]


@pytest.mark.parametrize("bad", [TOO_BIG, "2147483648", "0", "9" * 5000])
def test_path_ids_beyond_any_column_are_the_views_own_404(client, auth, bad):
    _, headers = auth.as_role(Role.SYSADMIN)
    r = client.get(f"/api/v1/users/{bad}", headers=headers)
    assert r.status_code == 404 and r.json["message"] == "账号不存在", r.json


def test_the_database_constraints_are_the_last_guard(database, tmp_path, factory, db_session):
    """A rule a service forgot still ends as a 4xx with a Chinese message, never a 500."""
    app = make_test_app(database, tmp_path)
    department = factory.department()
    factory.user(Role.PLANNER, department, username="taken.name")
    from backend import get_session

    @app.post("/_test/insert")
    def _insert():
        from flask import request

        get_session().execute(text(
            "INSERT INTO user_account (username, display_name, role, password_hash, department_id, status, "
            "token_version, created_at, updated_at) VALUES (:u, 'x', 'planner', 'x', :d, 'active', 1, "
            "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"), json.loads(request.get_data()))
        return {}

    client = app.test_client()
    r = client.post("/_test/insert", data=json.dumps({"u": "dangling", "d": 999999}), content_type="application/json")
    assert r.status_code == 422 and r.json["message"] == "引用的记录不存在，请检查编号", r.json
    r = client.post("/_test/insert", data=json.dumps({"u": "taken.name", "d": department.id}),
                    content_type="application/json")
    assert r.status_code == 409 and r.json["code"] == "conflict.duplicate", r.json
