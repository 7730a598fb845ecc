"""Every API endpoint × every role × the wrong department (table-driven).

The table states the policy; the test proves the code follows it:
* a role not in ``allowed`` gets 403 and no data; no token gets 401 (unless public);
* a role in ``wrong_dept`` working in another department gets 403;
* the right role in the right department is let through (any answer but 401/403).
A completeness test fails when an endpoint is added without a row here.
"""
from __future__ import annotations

import dataclasses

import pytest

from backend.actor import Actor
from backend.auth.roles import Role
from backend.draws import services as draws
from backend.jobs.models import Job
from tests.api.draws.conftest import build_scenario

S, DA, P, I, SV = Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.INSPECTOR, Role.SUPERVISOR
ALL = frozenset(Role)
PUBLIC = "public"
STAFF_READ = frozenset({S, DA, P, SV})
RUNNERS = frozenset({S, DA, P})
ADMINS = frozenset({S, DA})


@dataclasses.dataclass(frozen=True)
class Row:
    method: str
    path: str
    allowed: frozenset | str
    wrong_dept: tuple = ()        # roles that get 403 when they belong to another department
    wrong_in: str = "C"           # which department is "wrong": C (outsider) or B (participant)
    body: dict | None = None
    query: str = ""
    right_in: str = "A"           # the department whose users are let through
    positive: frozenset | None = None   # roles checked for being let through (default: all allowed)


ROWS = [
    # auth and accounts
    # (login and refresh answer 401 to bad credentials whoever asks: nothing to let through)
    Row("POST", "/api/v1/auth/login", PUBLIC, body={"username": "nobody", "password": "x"}, positive=frozenset()),
    Row("POST", "/api/v1/auth/refresh", PUBLIC, body={"refresh_token": "not-a-real-token"}, positive=frozenset()),
    Row("POST", "/api/v1/auth/logout", ALL, body={}),
    Row("GET", "/api/v1/auth/me", ALL),
    Row("POST", "/api/v1/auth/me/password", ALL, body={"password": "Another1!", "old_password": "wrong"}),
    Row("GET", "/api/v1/users", ADMINS, body=None, wrong_dept=(DA,), query="?department_id={A}"),
    Row("POST", "/api/v1/users", ADMINS, (DA,), body={"username": "new.user", "display_name": "新用户",
                                                      "password": "Str0ng!pw", "role": "planner",
                                                      "department_id": "{A}"}),
    Row("GET", "/api/v1/users/{user}", ADMINS, (DA,)),
    Row("PATCH", "/api/v1/users/{user}", ADMINS, (DA,), body={"display_name": "改名"}),
    Row("POST", "/api/v1/users/{user}/freeze", ADMINS, (DA,), body={"frozen": True}),
    Row("POST", "/api/v1/users/{user}/password", ADMINS, (DA,), body={"password": "Str0ng!pw2"}),
    # audit and jobs
    Row("GET", "/api/v1/audit", frozenset({S, DA, SV}), (DA,), query="?department_id={A}"),
    Row("GET", "/api/v1/audit/verify", frozenset({S, SV})),
    Row("GET", "/api/v1/jobs", ALL),
    Row("GET", "/api/v1/jobs/{job}", ALL, (DA, P, I), positive=frozenset({S, DA})),
    Row("POST", "/api/v1/jobs/{job}/retry", frozenset({S})),
    Row("POST", "/api/v1/jobs/selfcheck", frozenset({S}), body={}),
    # regions and departments
    Row("GET", "/api/v1/regions", PUBLIC),
    Row("POST", "/api/v1/regions", frozenset({S}), body={"code": "411299", "name": "测试区", "level": "county"}),
    Row("GET", "/api/v1/regions/{region}", PUBLIC),
    Row("PATCH", "/api/v1/regions/{region}", frozenset({S}), body={"name": "改名区"}),
    Row("POST", "/api/v1/regions/{region}/retire", frozenset({S}), body={"retired": True}),
    Row("GET", "/api/v1/departments", PUBLIC),
    Row("POST", "/api/v1/departments", frozenset({S}), body={"code": "NEWD", "name": "新部门"}),
    Row("GET", "/api/v1/departments/{A}", PUBLIC),
    Row("PATCH", "/api/v1/departments/{A}", frozenset({S}), body={"short_name": "改"}),
    Row("POST", "/api/v1/departments/{A}/retire", frozenset({S}), body={"retired": True}),
    # items
    Row("GET", "/api/v1/items", PUBLIC),
    Row("POST", "/api/v1/items", ADMINS, (DA,), body={
        "code": "NEW-1", "category": "登记事项检查", "name": "新事项", "object_types": ["enterprise"],
        "kind": "key", "methods": ["onsite"], "legal_basis": "《条例》", "department_id": "{A}"}),
    Row("GET", "/api/v1/items/{item}", PUBLIC),
    Row("PATCH", "/api/v1/items/{item}", ADMINS, (DA,), body={"name": "改名事项"}),
    Row("POST", "/api/v1/items/{item}/retire", ADMINS, (DA,), body={"retired": True}),
    Row("GET", "/api/v1/items/{item}/check-points", PUBLIC),
    Row("POST", "/api/v1/items/{item}/check-points", ADMINS, (DA,), body={"text": "新检查内容",
                                                                          "answer_type": "yes_no"}),
    Row("PATCH", "/api/v1/items/{item}/check-points/{check_point}", ADMINS, (DA,), body={"text": "改"}),
    Row("POST", "/api/v1/items/{item}/check-points/{check_point}/retire", ADMINS, (DA,), body={"retired": True}),
    # targets: read across departments (shared directory), changed by the maintaining department
    Row("GET", "/api/v1/targets", STAFF_READ),
    Row("POST", "/api/v1/targets", ADMINS, body={"name": "新对象", "type": "product", "code": "CP-NEW-1"}),
    Row("GET", "/api/v1/targets/{target}", STAFF_READ),
    Row("PATCH", "/api/v1/targets/{target}", ADMINS, (DA,), body={"address": "新地址"}),
    Row("POST", "/api/v1/targets/{target}/retire", ADMINS, (DA,), body={"retired": True}),
    Row("GET", "/api/v1/targets/{target}/history", STAFF_READ),
    Row("GET", "/api/v1/targets/{target}/conflicts", STAFF_READ),
    # inspectors and experts: their own department only
    Row("GET", "/api/v1/inspectors", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("POST", "/api/v1/inspectors", ADMINS, (DA,), body={"department_id": "{A}", "cert_no": "NEW-CERT-1",
                                                           "name": "新检查员"}),
    Row("GET", "/api/v1/inspectors/{inspector}", STAFF_READ, (DA, P)),
    Row("PATCH", "/api/v1/inspectors/{inspector}", ADMINS, (DA,), body={"phone": "13800000000"}),
    Row("POST", "/api/v1/inspectors/{inspector}/retire", ADMINS, (DA,), body={"retired": True}),
    Row("GET", "/api/v1/inspectors/{inspector}/conflicts", STAFF_READ, (DA, P)),
    Row("POST", "/api/v1/inspectors/{inspector}/conflicts", ADMINS, (DA,), body={"target_id": "{target2}",
                                                                                 "reason": "亲属"}),
    Row("POST", "/api/v1/inspectors/{inspector}/conflicts/{conflict}/retire", ADMINS, (DA,), body={"retired": True}),
    Row("GET", "/api/v1/me/inspector", frozenset({I})),
    Row("GET", "/api/v1/experts", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("POST", "/api/v1/experts", ADMINS, (DA,), body={"code": "EX-NEW", "name": "新专家", "department_id": "{A}"}),
    Row("GET", "/api/v1/experts/{expert}", STAFF_READ, (DA, P)),
    Row("PATCH", "/api/v1/experts/{expert}", ADMINS, (DA,), body={"title": "高级工程师"}),
    Row("POST", "/api/v1/experts/{expert}/retire", ADMINS, (DA,), body={"retired": True}),
    # import, export, templates
    Row("POST", "/api/v1/imports/departments", frozenset({S})),
    Row("GET", "/api/v1/exports/inspectors", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("POST", "/api/v1/exports/inspectors", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("GET", "/api/v1/exports/files/{job}", ALL, (DA, P, I), positive=frozenset({S, DA})),
    Row("GET", "/api/v1/templates/targets.xlsx", PUBLIC),
    # plans and tasks: the lead department changes them; lead and participants read them
    Row("GET", "/api/v1/plans", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("POST", "/api/v1/plans", RUNNERS, (DA, P), body={"year": 2027, "name": "新计划", "kind": "department",
                                                       "lead_department_id": "{A}"}),
    Row("GET", "/api/v1/plans/{plan}", STAFF_READ, (DA, P)),
    Row("PATCH", "/api/v1/plans/{plan}", RUNNERS, (DA, P), "B", body={"description": "调整", "reason": "调整说明"}),
    Row("POST", "/api/v1/plans/{plan}/approve", ADMINS, (DA,), "B", body={}),
    Row("POST", "/api/v1/plans/{plan}/publish", ADMINS, (DA,), "B", body={}),
    Row("POST", "/api/v1/plans/{plan}/reopen", ADMINS, (DA,), "B", body={}),
    Row("POST", "/api/v1/plans/{plan}/retire", RUNNERS, (DA, P), "B", body={}),
    Row("GET", "/api/v1/plans/{plan}/versions", STAFF_READ, (DA, P)),
    Row("GET", "/api/v1/tasks", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("POST", "/api/v1/tasks", RUNNERS, (DA, P), "B", body={"plan_id": "{plan}", "name": "新任务",
                                                                  "item_ids": ["{plan_item}"]}),
    Row("GET", "/api/v1/tasks/{task}", STAFF_READ, (DA, P)),
    Row("PATCH", "/api/v1/tasks/{task}", RUNNERS, (DA, P), "B", body={"name": "改名任务"}),
    Row("POST", "/api/v1/tasks/{task}/send", RUNNERS, (DA, P), "B", body={}),
    Row("POST", "/api/v1/tasks/{task}/decision", RUNNERS, (DA, P), body={"decision": "confirm"}, right_in="B"),
    Row("POST", "/api/v1/tasks/{task}/cancel", RUNNERS, (DA, P), "B", body={"reason": "不再需要"}),
    # the draw
    Row("GET", "/api/v1/tasks/{task}/draws", STAFF_READ, (DA, P)),
    Row("GET", "/api/v1/tasks/{task}/draw/preview", RUNNERS, (DA, P), "B"),
    Row("POST", "/api/v1/tasks/{task}/draw/commit", RUNNERS, (DA, P), "B", body={}),
    Row("POST", "/api/v1/tasks/{task}/draw/seed", RUNNERS, (DA, P), "B", body={"source": "csprng"}),
    Row("POST", "/api/v1/tasks/{task}/draw/redraw", RUNNERS, (DA, P), "B", body={"reason": "测试重新抽取"}),
    Row("GET", "/api/v1/tasks/{task}/groups", STAFF_READ, (DA, P)),
    Row("POST", "/api/v1/inspections/{inspection}/replace", RUNNERS, (DA, P), "B", body={"reason_code": "closed"}),
    Row("GET", "/api/v1/my/inspections", frozenset({I})),
    # the officers' phones
    Row("POST", "/api/sync/push", frozenset({I}), body={
        "client_id": "0b7c4a52-8d1e-4c55-9f7e-0f6a2b3c4d5e",
        "mutations": [{"id": 1, "name": "section.set", "args": {"inspection_id": "{inspection}"}}]}),
    Row("GET", "/api/sync/pull", frozenset({I}), query="?client_id=0b7c4a52-8d1e-4c55-9f7e-0f6a2b3c4d5e"),
    # the inspection record on the office side (writes: the group's lead, checked in the service)
    Row("GET", "/api/v1/inspections", STAFF_READ, query="?task_id={task}"),
    Row("GET", "/api/v1/inspections/{inspection}", ALL, (DA, P), positive=frozenset({S, SV, DA, P})),
    Row("PATCH", "/api/v1/inspections/{inspection}/record", frozenset({I}), body={"fields": {"opinion": "意见"}}),
    Row("POST", "/api/v1/inspections/{inspection}/conflicts/1/resolve", frozenset({I}), body={"choice": "server"}),
    Row("POST", "/api/v1/inspections/{inspection}/record/finalize", frozenset({I}), body={}),
    Row("POST", "/api/v1/inspections/{inspection}/record/submit", frozenset({I}), body={}),
    Row("GET", "/api/v1/tasks/{task}/publication", STAFF_READ, (DA, P)),
    # public pages
    Row("GET", "/api/public/plans", PUBLIC),
    Row("GET", "/api/public/plans/{plan_code}", PUBLIC),
    Row("GET", "/api/public/plans/{plan_code}/versions", PUBLIC),
    Row("GET", "/api/public/draws/{task_code}", PUBLIC),
    Row("GET", "/api/public/draws/{task_code}/record", PUBLIC),
]


class World:
    """Departments A (lead), B (participant), C (outsider), and one of everything, owned by A."""

    def __init__(self, app, factory, auth, db_session):
        self.factory, self.auth = factory, auth
        s = build_scenario(factory, auth, risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}},
                           inspectors=(4, 2), group_load=2)
        self.depts = {"A": s.lead, "B": s.other, "C": factory.department()}
        admin = factory.user(S)
        actor = Actor.of_user(admin)
        settings = draws.DrawSettings()
        draws.commit(db_session, actor, s.task.id, settings)
        draws.seed_and_draw(db_session, actor, s.task.id, settings, source="csprng")
        from sqlalchemy import select

        from backend.inspections.models import Inspection

        inspection = db_session.scalars(select(Inspection).where(Inspection.task_id == s.task.id)).first()
        item = factory.item(s.lead)
        target = factory.target(department=s.lead)
        inspector = s.inspectors[s.lead.code][0]
        conflict = factory.conflict(inspector, target)
        region = factory.region()
        self.users: dict = {}
        owner = self.user(DA, "A")
        job = factory._add(Job(id="f" * 32, name="directory.export", status="failed", params={},
                               created_by=owner.id, department_id=s.lead.id))
        self.values = {
            "A": s.lead.id, "user": factory.user(P, s.lead).id, "job": job.id, "region": region.code,
            "item": item.id, "check_point": item.check_points[0].id, "target": target.id,
            "target2": s.targets[1].id, "inspector": inspector.id, "conflict": conflict.id,
            "expert": factory.expert(s.lead).id, "plan": s.task.plan_id, "plan_code": s.task.plan.code,
            "task": s.task.id, "task_code": s.task.code, "inspection": inspection.id, "plan_item": s.item.id,
        }
        self.linked_inspector = {"A": s.inspectors[s.lead.code][-1], "B": s.inspectors[s.other.code][-1],
                                 "C": factory.inspector(self.depts["C"])}

    def user(self, role, dept: str):
        key = (role, dept)
        if key not in self.users:
            department = None if role in (S, SV) else self.depts[dept]
            inspector = self.linked_inspector[dept] if role == I and hasattr(self, "linked_inspector") else None
            self.users[key] = self.factory.user(role, department, inspector=inspector)
        return self.users[key]

    def headers(self, role, dept: str) -> dict:
        return self.auth.headers(self.user(role, dept))

    def fill(self, text):
        if isinstance(text, str):
            for key, value in self.values.items():
                text = text.replace("{" + key + "}", str(value))
            return int(text) if text.isdigit() and len(text) < 10 else text
        if isinstance(text, dict):
            return {k: self.fill(v) for k, v in text.items()}
        if isinstance(text, list):
            return [self.fill(v) for v in text]
        return text


def _call(client, world, row: Row, headers):
    url = world.fill(row.path + row.query)
    body = world.fill(row.body) if row.body is not None else None
    kwargs = {"headers": headers or {}}
    if row.method != "GET":
        kwargs["json"] = body if body is not None else {}
    return client.open(str(url), method=row.method, **kwargs)


def _id(row: Row) -> str:
    return f"{row.method} {row.path}"


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_access(row, app, client, factory, auth, db_session):
    world = World(app, factory, auth, db_session)
    if row.allowed != PUBLIC:
        r = _call(client, world, row, None)
        assert r.status_code == 401, (r.status_code, r.get_json())
        assert r.json["code"].startswith("auth.")
        for role in Role:
            if role in row.allowed:
                continue
            r = _call(client, world, row, world.headers(role, "A"))
            assert r.status_code == 403, (role, r.status_code, r.get_json())
            assert r.json["code"].startswith("forbidden") and "items" not in r.json
        for role in row.wrong_dept:
            r = _call(client, world, row, world.headers(role, row.wrong_in))
            assert r.status_code == 403, ("wrong department", role, r.status_code, r.get_json())
            assert r.json["code"].startswith("forbidden")
    allowed = ALL if row.allowed == PUBLIC else row.allowed
    for role in sorted(allowed if row.positive is None else row.positive, key=lambda r: r.value):
        r = _call(client, world, row, world.headers(role, row.right_in))
        assert r.status_code not in (401, 403, 500), ("let through", role, r.status_code, r.get_json())


def test_every_endpoint_has_a_row_and_a_rule(app):
    covered = {(r.method, r.path) for r in ROWS}
    missing, unruled = [], []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule.startswith(("/api/docs", "/api/openapi")):
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            fn = getattr(view_class, method.lower(), None) if view_class else view
            if not getattr(fn, "_access", None):
                unruled.append(f"{method} {rule.rule}")
            if not any(m == method and _matches(p, rule.rule) for m, p in covered):
                missing.append(f"{method} {rule.rule}")
    assert not unruled, f"endpoints without an access rule: {unruled}"
    assert not missing, f"endpoints missing from the access table: {missing}"


def _matches(template: str, rule: str) -> bool:
    import re

    rule_pattern = "".join("[^/]+" if part.startswith("<") else re.escape(part)
                           for part in re.split(r"(<[^>]+>)", rule))
    return re.fullmatch(rule_pattern, re.sub(r"\{[a-z_0-9A-Z]+\}", "1", template)) is not None
