"""No input gives a 500: every endpoint, hostile bodies, query strings and path values.

For each row of the access table, an allowed caller sends bodies of the wrong shape, JSON texts
that break parsers (nesting 1,000 deep, 4,301 digits), every documented field set to values of
the wrong type or absurd size (ids 0 and beyond any column), every documented query parameter
set to junk and to numbers no column holds, and out-of-range path ids. Every answer must be
below 500 and, when an error, in the one error shape.
"""
from __future__ import annotations

import json
import re

import pytest

from backend.auth.roles import Role
from tests.api.shared_world import (_worlds, db_session_fixture,  # noqa: F401 (fixtures)
                                    worlds_fixture)
from tests.api.test_access_matrix import PUBLIC, ROWS, Row, _id
from tests.hostile import BAD_PATH_IDS, HOSTILE_QUERY_VALUES, HOSTILE_RAW_BODIES, HOSTILE_VALUES

HOSTILE_BODIES = ["not json at all", "[]", "12", '{"a":', '"text"', "null", *HOSTILE_RAW_BODIES]
HOSTILE_QUERIES = ["?page=0", "?page=abc", "?page_size=100000", "?page=99999999999999999999",
                   "?department_id=abc", "?q=" + "%25" * 300, "?status=%00", "?since=yesterday",
                   "?include_retired=maybe", "?format=exe", "?seq=-1"]


def _operation(app, row: Row) -> tuple[dict, dict]:
    spec = app.extensions["shuangsui.api"].spec.to_dict()
    openapi_path = re.sub(r"\{[A-Za-z_0-9]+\}", "{}", row.path)
    for path, operations in spec["paths"].items():
        if re.sub(r"\{[A-Za-z_0-9]+\}", "{}", path) == openapi_path:
            return spec, operations.get(row.method.lower(), {})
    return spec, {}


def _properties(app, row: Row) -> list[str]:
    spec, operation = _operation(app, row)
    schema = (operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}))
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return sorted(schema.get("properties", {}))


def _query_parameters(app, row: Row) -> list[str]:
    _spec, operation = _operation(app, row)
    return sorted(p["name"] for p in operation.get("parameters", []) if p.get("in") == "query")


def _assert_shape(r):
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:500])
    if r.status_code >= 400 and r.is_json and r.data:  # (HEAD answers carry no body)
        body = r.get_json()
        assert body["status"] == r.status_code and body["code"] and body["message"], body


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_no_input_gives_a_500(row, app, client, worlds):
    world = worlds.get("drawn", client)
    if row.allowed == PUBLIC:
        headers = {}
    else:
        role = Role.SYSADMIN if Role.SYSADMIN in row.allowed else sorted(row.allowed, key=lambda r: r.value)[0]
        headers = world.headers(role, row.right_in)
    url = str(world.fill(row.path))

    def send(path, **kwargs):
        r = client.open(path, method=row.method, headers={**headers, **kwargs.pop("headers", {})}, **kwargs)
        _assert_shape(r)
        return r

    for query in HOSTILE_QUERIES:
        send(url + query)
    for name in _query_parameters(app, row):  # every documented parameter, one at a time
        for value in HOSTILE_QUERY_VALUES:
            send(f"{url}{'&' if '?' in url else '?'}{name}={value}")
    for bad in BAD_PATH_IDS:
        for placeholder in re.findall(r"\{([a-z_0-9]+)\}", row.path):
            if str(world.values.get(placeholder, "")).isdigit():
                send(str(world.fill(row.path.replace("{" + placeholder + "}", bad))))
    if row.method in ("GET", "HEAD"):
        return
    for body in HOSTILE_BODIES:
        send(url, data=body, headers={"Content-Type": "application/json"})
    send(url, data=b"\xff\xfe garbage", headers={"Content-Type": "application/json"})
    send(url, data="a=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    properties = _properties(app, row)
    base = world.fill(row.body) or {}
    as_json = {"headers": {"Content-Type": "application/json"}}
    for value in HOSTILE_VALUES:  # json.dumps escapes lone surrogates, as a hostile client could
        send(url, data=json.dumps({**base, **{name: value for name in properties}}), **as_json)
        for name in properties:  # one field wrong at a time, the others valid
            send(url, data=json.dumps({**base, name: value}), **as_json)
