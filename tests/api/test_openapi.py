"""The checked-in contract (schemas/openapi.json) is what the app serves; regenerate it when it is stale."""
from __future__ import annotations

import json
from pathlib import Path

CONTRACT = Path(__file__).resolve().parents[2] / "schemas" / "openapi.json"


def test_checked_in_contract_is_current(app):
    served = app.test_client().get("/api/openapi.json").get_json()
    checked_in = json.loads(CONTRACT.read_text(encoding="utf-8"))
    assert checked_in == served, (
        "schemas/openapi.json 已过期：请运行 `shuangsui openapi write schemas/openapi.json` 并提交")


def test_every_operation_documents_its_access_rule(app):
    spec = app.extensions["shuangsui.api"].spec.to_dict()
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if method == "parameters":
                continue
            assert "权限：" in operation.get("description", ""), f"{method.upper()} {path}"
