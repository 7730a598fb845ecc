"""Login, token rotation, reuse detection, freezing, throttling."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from backend.audit.models import AuditEntry
from backend.auth.models import RefreshToken
from backend.auth.roles import Role
from tests.factories import PASSWORD


def login(client, username, password=PASSWORD, **kw):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password, **kw})


def test_login_returns_tokens_and_me_works(client, factory):
    user = factory.user(Role.PLANNER)
    r = login(client, user.username, device_label="测试手机")
    assert r.status_code == 200, r.json
    body = r.json
    assert body["token_type"] == "Bearer" and body["user"]["username"] == user.username
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json["role"] == "planner" and me.json["role_label"] == "计划编制人员"


def test_refresh_token_lasts_longer_than_an_offline_week(client, factory):
    user = factory.user(Role.INSPECTOR)
    body = login(client, user.username).json
    expires = dt.datetime.fromisoformat(body["refresh_expires_at"])
    assert expires - dt.datetime.now(dt.timezone.utc) > dt.timedelta(days=7)
    access_expires = dt.datetime.fromisoformat(body["access_expires_at"])
    assert access_expires - dt.datetime.now(dt.timezone.utc) <= dt.timedelta(minutes=15)


def test_wrong_password_is_refused_in_chinese(client, factory):
    user = factory.user()
    r = login(client, user.username, "wrong-password")
    assert r.status_code == 401
    assert r.json["code"] == "auth.invalid_credentials" and r.json["message"] == "用户名或密码错误"
    assert login(client, "nobody-here").json["code"] == "auth.invalid_credentials"


def test_login_is_rate_limited(client, factory):
    user = factory.user()
    for _ in range(5):
        assert login(client, user.username, "bad").status_code == 401
    r = login(client, user.username)  # even the right password is refused while throttled
    assert r.status_code == 429 and r.json["code"] == "auth.too_many_attempts"


def test_refresh_rotates_and_reuse_revokes_the_family(client, factory, db_session):
    user = factory.user(Role.INSPECTOR)
    first = login(client, user.username).json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200 and second.json["refresh_token"] != first["refresh_token"]
    # the old token again: reuse → the whole family (including the new token) is revoked
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json["code"] == "auth.refresh_reused"
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second.json["refresh_token"]})
    assert third.status_code == 401
    rows = db_session.scalars(select(RefreshToken).where(RefreshToken.user_id == user.id)).all()
    assert rows and all(r.revoked_at is not None or r.used_at is not None for r in rows)
    assert db_session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.refresh_reuse"))


def test_refresh_tokens_are_stored_hashed(client, factory, db_session):
    user = factory.user()
    token = login(client, user.username).json["refresh_token"]
    stored = db_session.scalars(select(RefreshToken.token_hash)).all()
    assert token not in stored and all(len(h) == 64 for h in stored)


def test_freeze_cuts_tokens_at_once(client, factory, auth):
    dept = factory.department()
    admin, admin_headers = auth.as_role(Role.DEPT_ADMIN, dept)
    officer = factory.user(Role.INSPECTOR, dept)
    tokens = login(client, officer.username).json
    officer_headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.get("/api/v1/auth/me", headers=officer_headers).status_code == 200
    r = client.post(f"/api/v1/users/{officer.id}/freeze", json={"frozen": True, "reason": "调离"},
                    headers=admin_headers)
    assert r.status_code == 200 and r.json["status"] == "frozen"
    me = client.get("/api/v1/auth/me", headers=officer_headers)
    assert me.status_code == 401 and me.json["code"] == "auth.account_frozen"
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401
    assert login(client, officer.username).json["code"] == "auth.account_frozen"


def test_no_token_and_bad_token(client):
    r = client.get("/api/v1/auth/me")
    assert r.status_code == 401 and r.json["code"] == "auth.required" and r.json["message"] == "请先登录"
    r = client.get("/api/v1/auth/me", headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401 and r.json["code"] == "auth.token_invalid"


def test_bad_login_body_gets_field_errors(client):
    r = client.post("/api/v1/auth/login", json={"username": ""})
    assert r.status_code == 422 and r.json["code"] == "validation_error"
    assert "password" in r.json["errors"]["json"]
    r = client.post("/api/v1/auth/login", data="not json", content_type="application/json")
    assert r.status_code in (400, 422) and r.json["message"]
