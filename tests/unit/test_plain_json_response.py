"""The sync push's answer written straight (``backend.api.plain_json_response``): the same bytes as flask-smorest's
dump through ``PushOut`` and ``jsonify``, or left to them when the schema would change something."""
from __future__ import annotations

import datetime as dt

import pytest
from flask import jsonify

from backend import create_app
from backend.api import plain_json_response
from backend.inspections.sync_routes import PLAIN_RESULT, PUSH_OUT

REVS = {f"points.{c}.{f}": 1 for c in range(30) for f in ("result", "checked", "note")}
BODIES = [
    {"client_id": "c", "last_mutation_id": 3, "results": [{"id": 3, "status": "applied", "inspection_id": 5,
                                                            "revs": REVS}]},
    {"results": [{"revs": {}, "status": "conflict", "id": 3, "message": "30 个字段与他人修改冲突",
                  "conflicts": [{"path": "p", "server_value": 1.5, "mine": None, "v": "中文", "big": 2**53 - 1}]},
                 {"replayed": True, "id": 4, "status": "rejected", "code": "x", "errors": {"a": ["b"]},
                  "details": {"k": 1, "when": dt.date(2026, 4, 8)}}],
     "client_id": "c", "last_mutation_id": 4, "stopped": {"code": "sync.gap", "expected": 5}},
    {"client_id": "c", "last_mutation_id": 0, "results": []},
]


@pytest.fixture()
def app(tmp_path):
    return create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "k" * 40, "TESTING": True,
                       "MEDIA_DIR": str(tmp_path / "media")})


@pytest.mark.parametrize("body", BODIES)
def test_the_same_bytes_as_the_schema_and_jsonify(app, body):
    with app.test_request_context():
        fast = plain_json_response(body, PUSH_OUT, PLAIN_RESULT)
        assert fast is not body
        usual = jsonify(PUSH_OUT.dump(body))
        assert fast.get_data() == usual.get_data() and fast.mimetype == usual.mimetype == "application/json"


@pytest.mark.parametrize("body", [
    {"client_id": "c", "last_mutation_id": 3, "results": [{"id": 3, "status": "applied", "completed_on": "2026-04-08"}]},
    {"client_id": "c", "last_mutation_id": 3, "results": [], "internal": 1},
    {"client_id": "c", "last_mutation_id": 3, "results": [{"id": 3, "status": "applied", "revs": {"a": 2**70}}]},
])
def test_left_to_the_schema_when_it_would_change_something(app, body):
    with app.test_request_context():
        assert plain_json_response(body, PUSH_OUT, PLAIN_RESULT) is body
