"""The app factory, configuration, the error shape, the API documents."""
from __future__ import annotations

import os
import stat

import jwt
import pytest

from backend import create_app
from backend.auth import passwords
from backend.auth.models import User
from backend.auth.roles import Role
from tests.conftest import TEST_AUDIT_KEY, TEST_PASSWORD_COST, TEST_SECRET
from tests.factories import PASSWORD_HASH

# the development default that used to sit in backend/config.py: public, so never a signing key
OLD_PUBLIC_KEY = "dev-insecure-secret-key-change-me"


def _bare_config(tmp_path, **extra):
    return {"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "MEDIA_DIR": str(tmp_path),
            "SECRET_KEY_FILE": str(tmp_path / "instance" / "secret_key"),
            "AUDIT_KEY_FILE": str(tmp_path / "instance" / "audit.key"), "AUDIT_ANCHOR_FILE": None, **extra}


def test_production_refuses_a_missing_public_or_short_secret(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):  # no key file in production: instances share the key
        create_app(_bare_config(tmp_path, ENV_NAME="production"))
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_bare_config(tmp_path, ENV_NAME="production", SECRET_KEY=OLD_PUBLIC_KEY))
    with pytest.raises(RuntimeError):
        create_app(_bare_config(tmp_path, ENV_NAME="production", SECRET_KEY="short"))
    app = create_app(_bare_config(tmp_path, ENV_NAME="production", SECRET_KEY="x" * 40))
    assert app.config["ENV_NAME"] == "production"


def test_the_public_default_key_is_refused_in_every_mode(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", OLD_PUBLIC_KEY)
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_bare_config(tmp_path))
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app(_bare_config(tmp_path, SECRET_KEY=OLD_PUBLIC_KEY))


def test_embedded_default_makes_its_own_key_once_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app(_bare_config(tmp_path))
    key_file = tmp_path / "instance" / "secret_key"
    key = app.extensions["shuangsui.tokens"].secret
    assert key == key_file.read_text().strip() and len(key) >= 32 and key != OLD_PUBLIC_KEY
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    # the next start (or the CLI, or another worker) signs with the same key
    assert create_app(_bare_config(tmp_path)).extensions["shuangsui.tokens"].secret == key
    # another instance directory gets another key
    other = create_app(_bare_config(tmp_path, SECRET_KEY_FILE=str(tmp_path / "other" / "secret_key")))
    assert other.extensions["shuangsui.tokens"].secret != key
    # a key file others can read is refused
    os.chmod(key_file, 0o644)
    with pytest.raises(RuntimeError, match="权限"):
        create_app(_bare_config(tmp_path))


def test_a_token_forged_with_the_old_public_key_is_refused_by_the_default_app(
        database, db_session, factory, tmp_path, monkeypatch):
    """The issue's attack: sign `sub` of an admin (with its live login and the right `tv`) with the old key."""
    monkeypatch.delenv("SECRET_KEY", raising=False)
    app = create_app({"TESTING": True, "DATABASE": database, "DATABASE_URL": database.url,
                      "MEDIA_DIR": str(tmp_path / "media"), "JOBS_INLINE_THREAD": False, "REDIS_URL": None,
                      "SECRET_KEY_FILE": str(tmp_path / "instance" / "secret_key"),
                      # the suite's audit settings: this app shares the suite's database engine
                      "AUDIT_KEY": TEST_AUDIT_KEY, "AUDIT_ANCHOR_FILE": None})
    from tests.factories import AuthActions

    admin = factory.user(Role.SYSADMIN)
    genuine = AuthActions(app, factory).pair(admin)
    claims = jwt.decode(genuine.access_token, options={"verify_signature": False})
    forged = jwt.encode(claims, OLD_PUBLIC_KEY, algorithm="HS256")
    client = app.test_client()
    r = client.get("/api/v1/users", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json["code"] == "auth.token_invalid"
    also_forged = jwt.encode(claims, TEST_SECRET, algorithm="HS256")  # nor a key from the test suite
    assert client.get("/api/v1/users", headers={"Authorization": f"Bearer {also_forged}"}).status_code == 401
    r = client.get("/api/v1/users", headers={"Authorization": f"Bearer {genuine.access_token}"})
    assert r.status_code == 200 and admin.id in [u["id"] for u in r.json["items"]]
    assert db_session.get(User, admin.id).role == "sysadmin"


def test_an_app_hashes_passwords_at_the_production_cost_unless_its_config_says_otherwise(monkeypatch, tmp_path, app):
    """argon2id at RFC 9106's low-memory cost (3 passes, 64 MiB, 4 lanes) in every app that is not told otherwise;
    the suite's apps (``PASSWORD_HASH_COST``) hash at a cheap cost, and that setting is never read from the
    environment."""
    monkeypatch.setenv("PASSWORD_HASH_COST", "1")
    production = create_app(_bare_config(tmp_path))
    assert production.config["PASSWORD_HASH_COST"] is None
    with production.app_context():
        stored = passwords.hash_password("Passw0rd!")
        assert passwords.verify_password(stored, "Passw0rd!") and not passwords.needs_rehash(stored)
        assert passwords.current().dummy.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert passwords.hash_password("Passw0rd!").startswith("$argon2id$v=19$m=65536,t=3,p=4$")  # outside any app
    with app.app_context():   # the suite's: cheap, and a production hash is one to upgrade at the next login
        cheap = passwords.hash_password("Passw0rd!")
        assert passwords.verify_password(stored, "Passw0rd!") and passwords.needs_rehash(stored)
    params = ",".join(f"{k[0]}={v}" for k, v in zip(("memory_cost", "time_cost", "parallelism"),
                                                    (TEST_PASSWORD_COST["memory_cost"], TEST_PASSWORD_COST["time_cost"],
                                                     TEST_PASSWORD_COST["parallelism"])))
    assert cheap.startswith(f"$argon2id$v=19${params}$") and PASSWORD_HASH.startswith(f"$argon2id$v=19${params}$")


def test_config_mapping_overrides_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCESS_TOKEN_MINUTES", "7")
    app = create_app(_bare_config(tmp_path))
    assert app.config["ACCESS_TOKEN_MINUTES"] == 7
    app = create_app(_bare_config(tmp_path, ACCESS_TOKEN_MINUTES=3))
    assert app.config["ACCESS_TOKEN_MINUTES"] == 3


def test_unknown_api_path_and_method_use_the_error_shape(client):
    r = client.get("/api/v1/no-such-thing")
    assert r.status_code == 404 and r.json["code"] == "not_found" and r.json["message"]
    r = client.delete("/api/v1/auth/login")
    assert r.status_code == 405 and r.json["code"] == "method_not_allowed" and "方法" in r.json["message"]


def test_unknown_fields_are_refused_in_chinese(client, auth):
    _, headers = auth.as_role("sysadmin")
    r = client.post("/api/v1/jobs/selfcheck", json={"stepz": 3}, headers=headers)
    assert r.status_code == 422 and r.json["errors"]["json"]["stepz"] == ["不允许的字段"]
    assert r.json["message"].startswith("提交的数据有误")


def test_openapi_and_swagger_ui_are_served_locally(client):
    spec = client.get("/api/openapi.json")
    assert spec.status_code == 200 and spec.json["openapi"].startswith("3.")
    assert "bearerAuth" in spec.json["components"]["securitySchemes"]
    page = client.get("/api/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "/api/docs/static/swagger-ui-bundle.js" in html and "cdn" not in html.lower()
    assert client.get("/api/docs/static/swagger-ui-bundle.js").status_code == 200


def test_malformed_json_is_explained_in_chinese(client):
    r = client.post("/api/v1/auth/login", data="{not json", content_type="application/json")
    assert r.status_code in (400, 422)
    assert r.json["errors"]["json"] == ["请求体不是有效的 JSON"] and "JSON" in r.json["message"]
