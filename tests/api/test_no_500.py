"""No input gives a 500: every endpoint, hostile bodies, query strings and path values.

For each row of the access table, an allowed caller sends bodies of the wrong shape, every
documented field set to values of the wrong type or absurd size, junk query strings and
out-of-range ids. Every answer must be below 500 and, when an error, in the one error shape.
"""
from __future__ import annotations

import json
import re

import pytest

from backend.auth.roles import Role
from tests.api.test_access_matrix import PUBLIC, ROWS, Row, World, _id
from tests.hostile import HOSTILE_VALUES

HOSTILE_BODIES = ["not json at all", "[]", "12", '{"a":', '"text"', "null"]
HOSTILE_QUERIES = ["?page=0", "?page=abc", "?page_size=100000", "?page=99999999999999999999",
                   "?department_id=abc", "?q=" + "%25" * 300, "?status=%00", "?since=yesterday",
                   "?include_retired=maybe", "?format=exe", "?seq=-1"]
BAD_IDS = ["0", "999999999", str(2**40)]


def _properties(app, row: Row) -> list[str]:
    spec = app.extensions["shuangsui.api"].spec.to_dict()
    openapi_path = re.sub(r"\{[A-Za-z_0-9]+\}", "{}", row.path)
    for path, operations in spec["paths"].items():
        if re.sub(r"\{[A-Za-z_0-9]+\}", "{}", path) != openapi_path:
            continue
        operation = operations.get(row.method.lower(), {})
        schema = (operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {}))
        if "$ref" in schema:
            schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
        return sorted(schema.get("properties", {}))
    return []


def _assert_shape(r):
    assert r.status_code < 500, (r.status_code, r.get_data(as_text=True)[:500])
    if r.status_code >= 400 and r.is_json and r.data:  # (HEAD answers carry no body)
        body = r.get_json()
        assert body["status"] == r.status_code and body["code"] and body["message"], body


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_no_input_gives_a_500(row, app, client, factory, auth, db_session):
    world = World(app, factory, auth, db_session)
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
    for bad in BAD_IDS:
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
