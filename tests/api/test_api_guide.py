"""docs/api.md is exact: every example request in it runs against the app, in order, on the
demo county, and answers as the guide says; every endpoint it names exists, and every
endpoint of the API is named in it. The format is described in tests/api/api_guide.py and at
the top of docs/api.md.

To see what the app answers to each example (when writing one):

    .venv/bin/python -m tests.api.test_api_guide            # every example, the problems
    .venv/bin/python -m tests.api.test_api_guide --show 12  # and the full answer of example 12
"""
from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

import pytest

from tests.api import api_guide as guide

GUIDE = Path(__file__).parents[2] / "docs" / "api.md"
# the demo county without its year of history (backend/demo/history.py): the guide's examples walk one task
# from its draw to its follow-ups and show the empty lists (the queue, the register) it starts from
DEMO = {"targets": 300, "inspectors": 100, "seed": 11, "today": dt.date(2026, 6, 15), "past_year": False}

# endpoint families that must have at least one example that runs (not only a mention)
MUST_RUN = [
    ("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh"), ("POST", "/api/v1/auth/logout"),
    ("GET", "/api/v1/auth/me"), ("GET", "/api/v1/users"), ("PATCH", "/api/v1/users/<int:user_id>"),
    ("GET", "/api/v1/regions"), ("GET", "/api/v1/departments"), ("GET", "/api/v1/items"),
    ("GET", "/api/v1/targets"), ("GET", "/api/v1/inspectors"), ("GET", "/api/v1/experts"),
    ("GET", "/api/v1/templates/<string:file_name>"), ("POST", "/api/v1/imports/<string:list_name>"),
    ("GET", "/api/v1/jobs/<string:job_id>"), ("GET", "/api/v1/exports/<string:list_name>"),
    ("POST", "/api/v1/exports/<string:list_name>"), ("GET", "/api/v1/exports/files/<string:job_id>"),
    ("POST", "/api/v1/plans"), ("POST", "/api/v1/plans/<int:plan_id>/approve"),
    ("POST", "/api/v1/plans/<int:plan_id>/publish"), ("GET", "/api/public/plans/<code>"),
    ("POST", "/api/v1/tasks"), ("PATCH", "/api/v1/tasks/<int:task_id>"), ("POST", "/api/v1/tasks/<int:task_id>/send"),
    ("POST", "/api/v1/tasks/<int:task_id>/decision"), ("POST", "/api/v1/tasks/<int:task_id>/cancel"),
    ("GET", "/api/v1/tasks/<int:task_id>/draw/preview"), ("POST", "/api/v1/tasks/<int:task_id>/draw/commit"),
    ("POST", "/api/v1/tasks/<int:task_id>/draw/seed"), ("POST", "/api/v1/tasks/<int:task_id>/draw/redraw"),
    ("GET", "/api/v1/tasks/<int:task_id>/draws"), ("GET", "/api/v1/tasks/<int:task_id>/groups"),
    ("POST", "/api/v1/inspections/<int:inspection_id>/replace"), ("GET", "/api/v1/my/inspections"),
    ("GET", "/api/public/draws/<string:task_code>"), ("GET", "/api/public/draws/<string:task_code>/record"),
    ("GET", "/api/v1/audit"),
]


def seed_demo_county(database) -> None:
    from backend.demo.seed import seed_demo
    from tests.conftest import at_test_password_cost

    with at_test_password_cost():   # the demo password hashed as the suite's app hashes (the guide logs in)
        seed_demo(database, **DEMO)


@pytest.fixture()
def guide_client(app, database, db_session):
    seed_demo_county(database)  # inside the test's transaction, rolled back afterwards
    return app.test_client()


def test_every_example_in_the_guide_runs_as_documented(guide_client):
    examples, files = guide.parse(GUIDE.read_text(encoding="utf-8"))
    outcomes = guide.run(guide_client, examples, files)
    failures = [f"{o.example.title}\n    " + "\n    ".join(o.problems) for o in outcomes if o.problems]
    assert not failures, f"{len(failures)} / {len(outcomes)} 个示例与实际不符：\n" + "\n".join(failures)


def test_the_guide_names_every_endpoint_and_only_real_ones(app):
    text = GUIDE.read_text(encoding="utf-8")
    endpoints = guide.app_endpoints(app)
    named = set()
    unknown = []
    for line, method, path in guide.mentions(text):
        found = guide.match_endpoint(endpoints, method, path)
        if found is None:
            unknown.append(f"docs/api.md:{line}: {method} {path}")
        else:
            named.add(found)
    assert not unknown, "文档提到的接口不存在：\n" + "\n".join(unknown)
    missing = [f"{m} {r}" for m, r in endpoints if (m, r) not in named]
    assert not missing, "这些接口在 docs/api.md 中没有提到（在接口一览中加一行，或写一个示例）：\n" + "\n".join(missing)


def test_every_endpoint_family_has_an_example_that_runs(app):
    examples, _ = guide.parse(GUIDE.read_text(encoding="utf-8"))
    endpoints = guide.app_endpoints(app)
    ran = {guide.match_endpoint(endpoints, ex.method, ex.target.split("?")[0]) for ex in examples}
    assert None not in ran, [ex.title for ex in examples
                             if guide.match_endpoint(endpoints, ex.method, ex.target.split("?")[0]) is None]
    assert [e for e in MUST_RUN if e not in ran] == []


# --------------------------------------------------------------------------- the harness itself


def _doc(*parts: str) -> str:
    return "\n".join(parts) + "\n"


OK_REQUEST = "```http\nGET /api/public/regions?page_size=1\n```\n"


@pytest.mark.parametrize(("text", "complaint"), [
    ("```http\nGET\n```\n```json\n// 200\n{}\n```", "第一行应为“方法 路径”"),
    ("```http\nGET /api/v1/items\n```\nsome prose\n```json\n// 200\n{}\n```", "应紧跟"),
    (OK_REQUEST, "应紧跟"),
    (OK_REQUEST + "```json\n200\n{}\n```", "第一行应为“// 状态码"),
    (OK_REQUEST + "```json\n// 200\n{not json}\n```", "不是有效的 JSON"),
    (OK_REQUEST + "```python\n// 200\n{}\n```", "应为 ```json 或 ```text"),
    (OK_REQUEST + "```text\n// 200\n```", "应写内容类型"),
    ("```http\nGET /api/v1/items\nAuthorization Bearer x\n```\n```json\n// 200\n{}\n```", "请求头格式"),
    ("```http\nGET /x\n", "没有结束"),
])
def test_malformed_examples_are_refused(text, complaint):
    with pytest.raises(guide.GuideError) as err:
        guide.parse(text)
    assert complaint in str(err.value)


def test_parse_a_request_and_its_answer():
    text = _doc("# t", "```csv a.csv", "x,y", "```", "```http", "POST /api/v1/plans?x=1",
                "Authorization: Bearer {{who.access_token}}", "Content-Type: application/json", "",
                '{"item_ids": [{{items.items[0].id}}]}', "```", "", "```json", "// 201 Created → plan",
                '{"id": 1, "…": "…"}', "```")
    (ex,), files = guide.parse(text)
    assert (ex.line, ex.method, ex.target, ex.status, ex.save_as) == (5, "POST", "/api/v1/plans?x=1", 201, "plan")
    assert ex.headers == [("Authorization", "Bearer {{who.access_token}}"), ("Content-Type", "application/json")]
    assert ex.body == ['{"item_ids": [{{items.items[0].id}}]}'] and ex.expected == {"id": 1, "…": "…"}
    assert files == {"a.csv": b"x,y\n"}
    saved = {"items": {"items": [{"id": 7}]}, "who": {"access_token": "t"}}
    assert guide.substitute(ex.body[0], saved) == '{"item_ids": [7]}'
    with pytest.raises(KeyError, match="没有保存名为 plan"):
        guide.substitute("{{plan.id}}", saved)
    with pytest.raises(KeyError, match="中没有 \\[3\\]"):
        guide.substitute("{{items.items[3].id}}", saved)


HINT = '（列出它们，或写 "…": "…" 表示省略）'


@pytest.mark.parametrize(("shown", "actual", "problems"), [
    ({"a": 1, "b": "x"}, {"a": 2, "b": "y"}, []),
    ({"a": 1}, {"a": 1, "b": 2}, ["应答: 实际应答多出文档未列的键 ['b']" + HINT]),
    ({"a": 1, "…": "…"}, {"a": 1, "b": 2}, []),
    ({"a": 1, "c": 1}, {"a": 1}, ["c: 文档中有，实际应答没有"]),
    ({"a": 1}, {"a": "1"}, ["a: 文档为 number，实际为 string（\"1\"）"]),
    ({"a": None}, {"a": 0}, ["a: 文档为 null，实际为 number（0）"]),
    ({"a": "…"}, {"a": [1]}, []),
    ({"a": 1.5}, {"a": 2}, []),
    ({"a": True}, {"a": 1}, ["a: 文档为 boolean，实际为 number（1）"]),
    ({"l": []}, {"l": [1]}, ["l: 文档为空数组，实际有 1 项"]),
    ({"l": [{"x": 1}]}, {"l": []}, ["l: 文档列出了元素，实际为空数组"]),
    ({"l": [{"x": 1}]}, {"l": [{"x": 1}, {"y": 2}]}, ["l[1].x: 文档中有，实际应答没有",
                                                     "l[1]: 实际应答多出文档未列的键 ['y']" + HINT]),
    ({"l": ["s", 1]}, {"l": ["a", 2, 3, "b"]}, ["l[3]: 文档为 number，实际为 string（\"b\"）"]),
    ({"<code>": "name"}, {"a": "x", "b": "y"}, []),
    ({"<code>": "name"}, {}, []),
    ({"total": 1, "<code>": ["s"]}, {"total": 2, "a": ["x"], "b": [1]}, ["b[0]: 文档为 string，实际为 number（1）"]),
])
def test_shape_check(shown, actual, problems):
    assert guide.shape_problems(shown, actual) == problems


def test_mentions_and_endpoint_matching():
    text = "POST /api/v1/tasks/<id>/draw/commit, and `GET /api/public/draws/<task code>` and GET /api/v1/nothing."
    assert guide.mentions(text) == [(1, "POST", "/api/v1/tasks/<id>/draw/commit"),
                                    (1, "GET", "/api/public/draws/<task"), (1, "GET", "/api/v1/nothing")]
    endpoints = [("POST", "/api/v1/tasks/<int:task_id>/draw/commit"), ("GET", "/api/public/draws/<string:task_code>")]
    assert guide.match_endpoint(endpoints, "POST", "/api/v1/tasks/<id>/draw/commit") == endpoints[0]
    assert guide.match_endpoint(endpoints, "POST", "/api/v1/tasks/{{task.id}}/draw/commit") == endpoints[0]
    assert guide.match_endpoint(endpoints, "GET", "/api/v1/tasks/7/draw/commit") is None
    assert guide.match_endpoint(endpoints, "GET", "/api/public/draws/SS-1/record") is None


# --------------------------------------------------------------------------- writing examples


def _main(argv: list[str]) -> int:
    """Run the guide on a fresh SQLite demo county; print each example's problems (and answers asked for)."""
    import tempfile

    from sqlalchemy.orm import sessionmaker

    from backend import migrate
    from backend.db import Database
    from tests.conftest import make_test_app

    show = {int(x) for x in argv[argv.index("--show") + 1:]} if "--show" in argv else set()
    tmp = Path(tempfile.mkdtemp(prefix="api-guide-"))
    url = f"sqlite:///{tmp / 'guide.db'}"
    migrate.upgrade(url)
    database = Database(url)
    app = make_test_app(database, tmp)  # before the seed: it configures the audit key
    # as the db_session fixture does: one connection, the app's sessions as savepoints in it
    # (the test app runs jobs inline, inside the request that queued them)
    connection = database.engine.connect()
    connection.begin()
    database.sessionmaker = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                                         expire_on_commit=False)
    seed_demo_county(database)
    examples, files = guide.parse(GUIDE.read_text(encoding="utf-8"))
    bad = 0
    for n, o in enumerate(guide.run(app.test_client(), examples, files)):
        bad += bool(o.problems)
        print(f"[{n}] {'✗' if o.problems else '✓'} {o.example.title} → {o.status}")
        for p in o.problems:
            print(f"      {p}")
        if n in show:
            print(json.dumps(o.answer, ensure_ascii=False, indent=2))
    print(f"{len(examples) - bad} / {len(examples)} 个示例与实际一致")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
