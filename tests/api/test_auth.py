"""Login, token rotation, reuse detection, freezing, throttling."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.models import LoginAttempt, RefreshToken
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
    third = client.post("/api/v1/auth/refresh", json={"refresh_token": second.json["refresh_token"]})
    assert third.status_code == 200   # the device got its answers and moved on
    # the old token again: reuse → the whole family (including the newest token) is revoked
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json["code"] == "auth.refresh_reused"
    fourth = client.post("/api/v1/auth/refresh", json={"refresh_token": third.json["refresh_token"]})
    assert fourth.status_code == 401
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


# --- an access token lives and dies with its login (issue 6, 1.5) ----------------------------------------------

def _bearer(tokens) -> dict:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def test_logout_stops_the_access_token_at_once(client, factory):
    user = factory.user(Role.INSPECTOR)
    tokens = login(client, user.username).json
    other_device = login(client, user.username).json
    assert client.get("/api/v1/auth/me", headers=_bearer(tokens)).status_code == 200
    assert client.post("/api/v1/auth/logout", json={}, headers=_bearer(tokens)).status_code == 200
    me = client.get("/api/v1/auth/me", headers=_bearer(tokens))
    assert me.status_code == 401 and me.json["code"] == "auth.token_revoked"
    # the login is over even though no refresh token was sent with the logout
    refreshed = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert refreshed.status_code == 401 and refreshed.json["code"] == "auth.refresh_revoked"
    # another device's login is another login
    assert client.get("/api/v1/auth/me", headers=_bearer(other_device)).status_code == 200
    assert client.post("/api/v1/auth/logout", json={}, headers=_bearer(tokens)).status_code == 401


def test_reuse_revocation_stops_the_access_tokens_of_that_login(client, factory):
    user = factory.user(Role.INSPECTOR)
    first = login(client, user.username).json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    assert client.get("/api/v1/auth/me", headers=_bearer(second)).status_code == 200
    client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})   # moved on
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.json["code"] == "auth.refresh_reused"
    for tokens in (first, second):
        me = client.get("/api/v1/auth/me", headers=_bearer(tokens))
        assert me.status_code == 401 and me.json["code"] == "auth.token_revoked"


def test_an_access_token_without_a_login_is_refused(client, factory, app):
    import jwt

    from backend.auth.tokens import issue_access_token

    user = factory.user(Role.SYSADMIN)
    settings = app.extensions["shuangsui.tokens"]
    made_up = issue_access_token(settings, user, "no-such-login")[0]
    assert client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {made_up}"}).status_code == 401
    claims = jwt.decode(made_up, options={"verify_signature": False})
    del claims["sid"]
    no_sid = jwt.encode(claims, settings.secret, algorithm="HS256")
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {no_sid}"})
    assert r.status_code == 401 and r.json["code"] == "auth.token_invalid"


def test_a_token_already_verified_is_refused_once_it_expires(client, factory, monkeypatch):
    """The app remembers the claims of tokens it has verified (``TokenSettings.verified``); the expiry is still
    checked on every request, with PyJWT's 30 s leeway, and a token changed by one byte is verified anew."""
    from backend.auth import tokens

    user = factory.user(Role.PLANNER)
    access = login(client, user.username).json["access_token"]
    headers = {"Authorization": f"Bearer {access}"}
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    exp = next(c["exp"] for t, c in client.application.extensions["shuangsui.tokens"].verified.items() if t == access)
    monkeypatch.setattr(tokens.time, "time", lambda: exp + tokens.LEEWAY_S - 1)
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    monkeypatch.setattr(tokens.time, "time", lambda: exp + tokens.LEEWAY_S)
    r = client.get("/api/v1/auth/me", headers=headers)
    assert r.status_code == 401 and r.json["code"] == "auth.token_expired"
    monkeypatch.undo()
    forged = access[:-2] + ("A" if access[-2] != "A" else "B") + access[-1]
    r = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json["code"] == "auth.token_invalid"
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200


# --- a spent refresh token is not always a theft (issue 6, 1.6) -------------------------------------------------

def _audit_count(db_session, action: str) -> int:
    return db_session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == action))


def _ended_logins(client, factory, auth):
    """Refresh tokens whose login ended without any theft: (how, token)."""
    dept = factory.department()
    _, admin = auth.as_role(Role.DEPT_ADMIN, dept)
    out = []
    user = factory.user(Role.INSPECTOR, dept)
    tokens = login(client, user.username).json
    client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=_bearer(tokens))
    out.append(("logout", tokens["refresh_token"]))
    # rotated, then logged out: the spent token comes back
    user = factory.user(Role.INSPECTOR, dept)
    first = login(client, user.username).json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    client.post("/api/v1/auth/logout", json={}, headers=_bearer(second))
    out.append(("rotated, then logout", first["refresh_token"]))
    user = factory.user(Role.INSPECTOR, dept)
    tokens = login(client, user.username).json
    client.post(f"/api/v1/users/{user.id}/freeze", json={"frozen": True}, headers=admin)
    out.append(("frozen", tokens["refresh_token"]))
    user = factory.user(Role.INSPECTOR, dept)
    tokens = login(client, user.username).json
    assert client.post(f"/api/v1/users/{user.id}/password", json={"password": "Another-pass-1"},
                       headers=admin).status_code == 200
    out.append(("password reset", tokens["refresh_token"]))
    user = factory.user(Role.INSPECTOR, dept)
    tokens = login(client, user.username).json
    assert client.post("/api/v1/auth/me/password", json={"password": "Another-pass-1", "old_password": PASSWORD},
                       headers=_bearer(tokens)).status_code == 200
    out.append(("own password change", tokens["refresh_token"]))
    return out


def test_tokens_of_ended_logins_are_refused_without_alarm(client, factory, auth, db_session):
    ended = _ended_logins(client, factory, auth)
    before = _audit_count(db_session, "auth.refresh_reuse")
    for how, token in ended:
        for _ in range(2):
            r = client.post("/api/v1/auth/refresh", json={"refresh_token": token})
            assert r.status_code == 401 and r.json["code"] == "auth.refresh_revoked", (how, r.json)
    assert _audit_count(db_session, "auth.refresh_reuse") == before


def test_a_copied_token_ends_its_login_with_one_audit_entry_however_often_replayed(client, factory, db_session):
    user = factory.user(Role.INSPECTOR)
    first = login(client, user.username).json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json
    client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})   # moved on
    codes = [client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json["code"]
             for _ in range(5)]
    assert codes == ["auth.refresh_reused"] * 5
    entries = db_session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.refresh_reuse",
                                                          AuditEntry.entity_id == str(user.id))).all()
    assert len(entries) == 1


def test_refresh_failures_are_throttled_per_address_and_bound_what_a_client_writes(client, factory, db_session):
    user = factory.user(Role.INSPECTOR)
    tokens = login(client, user.username).json
    client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}, headers=_bearer(tokens))
    audit_before = db_session.scalar(select(func.count()).select_from(AuditEntry))
    answers = [client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
               for _ in range(25)]
    assert [r.status_code for r in answers] == [401] * 20 + [429] * 5
    limited = answers[-1]
    assert limited.json["code"] == "auth.too_many_attempts"
    assert 1 <= int(limited.headers["Retry-After"]) <= 15 * 60
    assert limited.json["details"]["retry_after"] == int(limited.headers["Retry-After"])
    # made-up tokens count too; another address is not affected
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up-token-123"}).status_code == 429
    elsewhere = client.post("/api/v1/auth/refresh", json={"refresh_token": "made-up-token-123"},
                            environ_base={"REMOTE_ADDR": "198.51.100.7"})
    assert elsewhere.status_code == 401 and elsewhere.json["code"] == "auth.refresh_invalid"
    # what 27 replays wrote: 21 throttle rows, no audit entry
    assert db_session.scalar(select(func.count()).select_from(AuditEntry)) == audit_before
    rows = db_session.scalar(select(func.count()).select_from(LoginAttempt).where(LoginAttempt.kind == "refresh"))
    assert rows == 21


def test_a_refresh_whose_answer_was_lost_may_be_sent_again_once_its_successor_is_unused(client, factory, db_session):
    """A phone on a bad network loses the answer to its refresh and sends the same token again: within the
    grace and with the successor never used, it gets a new pair (the lost successor is revoked), not a logout."""
    user = factory.user(Role.INSPECTOR)
    first = login(client, user.username).json
    lost = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}).json   # never arrives
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 200 and again.json["refresh_token"] not in (first["refresh_token"],
                                                                           lost["refresh_token"])
    assert client.get("/api/v1/auth/me", headers=_bearer(again.json)).status_code == 200
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})   # lost twice
    assert again.status_code == 200
    gone = client.post("/api/v1/auth/refresh", json={"refresh_token": lost["refresh_token"]})
    assert gone.status_code == 401 and gone.json["code"] == "auth.refresh_superseded"
    assert not db_session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.refresh_reuse"))
    # past the grace it is a copy again: the login ends
    rows = db_session.scalars(select(RefreshToken).where(RefreshToken.user_id == user.id,
                                                         RefreshToken.used_at.is_not(None))).all()
    for row in rows:
        row.used_at -= dt.timedelta(minutes=5)
    db_session.flush()
    late = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert late.status_code == 401 and late.json["code"] == "auth.refresh_reused"
    assert client.get("/api/v1/auth/me", headers=_bearer(again.json)).status_code == 401
