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


def test_contract_is_valid_openapi(app):
    """Contract-driven tools must be able to read it: the served and checked-in documents pass the
    OpenAPI 3.0 meta-schema (a bound written as a string, e.g. "maximum": "100.000", does not)."""
    from openapi_spec_validator import validate

    validate(app.test_client().get("/api/openapi.json").get_json())
    validate(json.loads(CONTRACT.read_text(encoding="utf-8")))


MAX_BIGINT = 2**63 - 1


def _integers(spec: dict, schema: dict, name: str, seen: set):
    """(name, schema) of every integer inside a schema, following $ref, items and properties."""
    if "$ref" in schema:
        ref = schema["$ref"].rsplit("/", 1)[-1]
        if ref in seen:
            return
        seen = seen | {ref}
        schema = spec["components"]["schemas"][ref]
    if schema.get("type") == "integer":
        yield name, schema
    if "items" in schema:
        yield from _integers(spec, schema["items"], name, seen)
    for prop, sub in schema.get("properties", {}).items():
        yield from _integers(spec, sub, prop, seen)
    for sub in schema.get("allOf", []) + schema.get("oneOf", []) + schema.get("anyOf", []):
        yield from _integers(spec, sub, name, seen)


def test_every_integer_input_is_bounded_to_its_column(app):
    """Every integer a client can send (body, query, path) has a documented, checked minimum and
    maximum that a column can hold (2**31-1 unless the schema says otherwise); ids (id, …_id, …_ids)
    start at 1, since no row has id 0."""
    spec = app.extensions["shuangsui.api"].spec.to_dict()
    problems = []
    for path, operations in spec["paths"].items():
        shared = operations.get("parameters", [])
        for method, operation in operations.items():
            if method == "parameters":
                continue
            inputs = [(p["name"], p.get("schema", {})) for p in shared + operation.get("parameters", [])
                      if p.get("in") in ("query", "path")]
            body = operation.get("requestBody", {}).get("content", {})
            for media in body.values():
                inputs.append(("", media.get("schema", {})))
            for name, schema in inputs:
                for field, integer in _integers(spec, schema, name, frozenset()):
                    is_id = field == "id" or field.endswith(("_id", "_ids"))
                    low, high = integer.get("minimum"), integer.get("maximum")
                    if low is None or high is None or high > MAX_BIGINT or low < (1 if is_id else -MAX_BIGINT):
                        problems.append(f"{method.upper()} {path} {field}: minimum={low} maximum={high}")
    assert not problems, "\n".join(problems)
