"""The app factory, configuration, the error shape, the API documents."""
from __future__ import annotations

import pytest

from backend import create_app
from backend.config import DEFAULT_SECRET_KEY


def test_production_refuses_the_default_secret(tmp_path):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app({"ENV_NAME": "production", "SECRET_KEY": DEFAULT_SECRET_KEY,
                    "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "MEDIA_DIR": str(tmp_path)})
    with pytest.raises(RuntimeError):
        create_app({"ENV_NAME": "production", "SECRET_KEY": "short",
                    "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "MEDIA_DIR": str(tmp_path)})
    app = create_app({"ENV_NAME": "production", "SECRET_KEY": "x" * 40,
                      "DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "MEDIA_DIR": str(tmp_path)})
    assert app.config["ENV_NAME"] == "production"


def test_config_mapping_overrides_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("ACCESS_TOKEN_MINUTES", "7")
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "MEDIA_DIR": str(tmp_path)})
    assert app.config["ACCESS_TOKEN_MINUTES"] == 7
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/x.db", "MEDIA_DIR": str(tmp_path),
                      "ACCESS_TOKEN_MINUTES": 3})
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
