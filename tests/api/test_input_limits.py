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
    r = _post_raw(client, "/api/v1/departments", "[" * 100000)   # within the 1 MB of an ordinary endpoint
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


# --- how big a body may be, whatever the transfer encoding (issue 11 §4.4, §4.6) ------------------------------

def _served(app):
    """The app behind Werkzeug's threaded server (which marks a chunked body ``wsgi.input_terminated``)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _raw(port: int, head: str, body: bytes = b"") -> tuple[int, dict]:
    """Send a request as bytes (headers as given), then read the answer's status and JSON body."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
        try:
            sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n" + body)
        except (BrokenPipeError, ConnectionResetError):
            pass   # the server answered and stopped reading: the answer is still there to read
        data = b""
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                head_part, _, rest = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head_part.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), None)
                if length is not None and len(rest) >= length:
                    break
    head_part, _, rest = data.partition(b"\r\n\r\n")
    return int(head_part.split()[1]), json.loads(rest)


def _chunked(body: bytes, size: int = 65536) -> bytes:
    out = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size))
    return out + b"0\r\n\r\n"


@pytest.fixture()
def served(committed_db, tmp_path):
    app = make_test_app(committed_db, tmp_path)
    server = _served(app)
    try:
        yield app, server.server_port
    finally:
        server.shutdown()


@pytest.mark.committed
def test_a_chunked_push_over_the_batch_limit_is_refused_while_reading(served, committed_db):
    """17 MB pushed with Transfer-Encoding: chunked were accepted (no Content-Length to compare)."""
    from sync.models import SyncMutation
    from tests.factories import AuthActions, Factory

    app, port = served
    with committed_db.session_scope() as session:
        token = AuthActions(app, Factory(session)).token(Factory(session).user(Role.INSPECTOR))
    note = "现场记录" * 500
    mutations = [{"id": i, "name": "section.set", "device_time": "2026-04-08T09:00:00+08:00",
                  "args": {"inspection_id": 1, "department_id": 1,
                           "fields": {f"note{k}": {"value": note, "base_rev": 0} for k in range(40)}}}
                 for i in range(1, 101)]
    body = json.dumps({"client_id": "6d8f0c1e-8b0a-4c57-9d3e-1a2b3c4d5e6f", "mutations": mutations},
                      ensure_ascii=False).encode()
    assert len(body) > 2 * 1024 * 1024
    status, answer = _raw(port, "POST /api/sync/push HTTP/1.1\nHost: x\nContent-Type: application/json\n"
                                f"Authorization: Bearer {token}\nTransfer-Encoding: chunked\n", _chunked(body))
    assert status == 413 and answer["code"] == "sync.batch_too_large", answer
    assert answer["details"] == {"limit": 1024 * 1024} and "1 MB" in answer["message"]
    with committed_db.session_scope(write=False) as session:
        assert session.scalar(select(func.count()).select_from(SyncMutation)) == 0


@pytest.mark.committed
def test_every_endpoint_has_a_body_limit_whatever_the_encoding(served):
    app, port = served
    small = json.dumps({"username": "a", "password": "b" * 40_000}).encode()   # 40 KB: over the login's 16 KB
    status, answer = _raw(port, "POST /api/v1/auth/login HTTP/1.1\nHost: x\nContent-Type: application/json\n"
                                "Transfer-Encoding: chunked\n", _chunked(small, 4096))
    assert status == 413 and answer["code"] == "too_large" and answer["details"] == {"limit": 16 * 1024}, answer
    assert answer["message"] == "请求体过大：该接口最多接受 16 KB，未读取也未处理"
    big = json.dumps({"name": "x" * (1100 * 1024)}).encode()   # any other JSON endpoint: 1 MB
    status, answer = _raw(port, "POST /api/v1/departments HTTP/1.1\nHost: x\nContent-Type: application/json\n"
                                "Transfer-Encoding: chunked\n", _chunked(big))
    assert status == 413 and answer["details"] == {"limit": 1024 * 1024}, answer


@pytest.mark.committed
def test_a_60_mb_login_is_refused_from_its_content_length_before_a_byte_is_read(served):
    """An anonymous 60 MB login was read and parsed for 12 s before its 422: now the headers decide."""
    _app, port = served
    status, answer = _raw(port, "POST /api/v1/auth/login HTTP/1.1\nHost: x\nContent-Type: application/json\n"
                                f"Content-Length: {60 * 1024 * 1024}\n")      # the body never comes
    assert status == 413 and answer["code"] == "too_large" and answer["details"] == {"limit": 16 * 1024}


def test_body_limits_by_content_length(client, auth):
    r = client.post("/api/v1/auth/login", data=b"{" + b" " * 20_000 + b"}", content_type="application/json")
    assert r.status_code == 413 and r.json["code"] == "too_large"
    r = client.post("/api/v1/auth/login", data=json.dumps({"username": "a", "password": "b"}),
                    content_type="application/json")
    assert r.status_code == 401          # a login of normal size is read as before
    _, headers = auth.as_role(Role.INSPECTOR)
    r = client.post("/api/sync/push", data=b" " * (1024 * 1024 + 1), content_type="application/json", headers=headers)
    assert r.status_code == 413 and r.json["code"] == "sync.batch_too_large"
