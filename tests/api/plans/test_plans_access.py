"""Every plans/tasks endpoint: the wrong role and the wrong department get 403, no token 401, never data."""
from __future__ import annotations

import pytest

from backend.auth.access import PUBLIC


def _setup(w):
    """A draft, an approved and a published plan of the lead department, a task in consulting and one in draft."""
    draft = w.create_plan(name="草稿")
    approved = w.create_plan(name="已审批")
    w.ok("post", f"/api/v1/plans/{approved['id']}/approve", "lead_admin")
    published = w.published_plan(name="已公布")
    task = w.create_task(published)
    consulting = w.create_task(published)
    w.ok("post", f"/api/v1/tasks/{consulting['id']}/send", "lead_planner")
    return {"draft": draft["id"], "approved": approved["id"], "published": published["id"],
            "published_code": published["code"], "task": task["id"], "consulting": consulting["id"]}


# (method, url template, body, allowed callers, wrong roles, wrong departments)
ENDPOINTS = [
    ("get", "/api/v1/plans", None, ["lead_planner", "part_admin", "supervisor", "sysadmin"],
     ["lead_inspector"], []),
    ("get", "/api/v1/plans?department_id={lead}", None, ["lead_planner", "supervisor"],
     ["lead_inspector"], ["other_planner", "part_admin"]),
    ("post", "/api/v1/plans", "PLAN", ["lead_planner", "lead_admin"],
     ["lead_inspector", "supervisor"], ["part_planner", "other_admin"]),
    ("get", "/api/v1/plans/{draft}", None, ["lead_planner", "part_planner", "supervisor", "sysadmin"],
     ["lead_inspector", "part_inspector"], ["other_planner", "other_admin"]),
    ("patch", "/api/v1/plans/{draft}", {"description": "改"}, ["lead_planner"],
     ["lead_inspector", "supervisor"], ["part_planner", "part_admin", "other_admin"]),
    ("post", "/api/v1/plans/{draft}/approve", None, ["lead_admin"],
     ["lead_planner", "lead_inspector", "supervisor"], ["part_admin", "other_admin"]),
    ("post", "/api/v1/plans/{approved}/reopen", {}, ["lead_admin"],
     ["lead_planner", "lead_inspector", "supervisor"], ["part_admin", "other_admin"]),
    ("post", "/api/v1/plans/{approved}/publish", None, ["sysadmin"],
     ["lead_planner", "lead_inspector", "supervisor"], ["part_admin", "other_admin"]),
    ("post", "/api/v1/plans/{draft}/retire", {}, ["lead_planner"],
     ["lead_inspector", "supervisor"], ["part_planner", "other_admin"]),
    ("get", "/api/v1/plans/{published}/versions", None, ["lead_planner", "part_admin", "supervisor"],
     ["lead_inspector"], ["other_planner", "other_admin"]),
    ("get", "/api/v1/tasks", None, ["lead_planner", "part_planner", "supervisor", "sysadmin"],
     ["lead_inspector", "part_inspector"], []),
    ("get", "/api/v1/tasks?department_id={lead}", None, ["lead_admin", "supervisor"],
     ["lead_inspector"], ["other_planner", "part_planner"]),
    ("post", "/api/v1/tasks", "TASK", ["lead_planner", "lead_admin"],
     ["lead_inspector", "supervisor"], ["part_planner", "part_admin", "other_planner"]),
    ("get", "/api/v1/tasks/{task}", None, ["lead_planner", "part_planner", "part_admin", "supervisor"],
     ["lead_inspector", "part_inspector"], ["other_planner", "other_admin"]),
    ("patch", "/api/v1/tasks/{task}", {"description": "改"}, ["lead_admin"],
     ["lead_inspector", "supervisor"], ["part_planner", "part_admin", "other_planner"]),
    ("post", "/api/v1/tasks/{task}/send", None, ["lead_planner"],
     ["lead_inspector", "supervisor"], ["part_planner", "other_admin"]),
    ("post", "/api/v1/tasks/{consulting}/decision", {"decision": "confirm"}, ["part_planner"],
     ["part_inspector", "supervisor"], ["lead_planner", "lead_admin", "other_planner"]),
    ("post", "/api/v1/tasks/{task}/cancel", {"reason": "不再需要"}, ["lead_admin"],
     ["lead_inspector", "supervisor"], ["part_planner", "part_admin", "other_admin"]),
]


@pytest.mark.parametrize("method, url, body, allowed, wrong_roles, wrong_departments", ENDPOINTS,
                         ids=[f"{e[0]} {e[1]}" for e in ENDPOINTS])
def test_access(w, method, url, body, allowed, wrong_roles, wrong_departments):
    ids = _setup(w)
    url = url.format(lead=w.lead.id, **ids)
    if body == "PLAN":
        body = w.plan_body(lead_department_id=w.lead.id)
    elif body == "TASK":
        body = w.task_body({"id": ids["published"]})
    r = w.call(method, url, None, body)
    assert r.status_code == 401 and r.json["code"] == "auth.required", r.json
    for who in wrong_roles:
        r = w.call(method, url, who, body)
        assert r.status_code == 403 and r.json["code"] == "forbidden.role", (who, r.json)
        assert "items" not in r.json and "code" in r.json
    for who in wrong_departments:
        r = w.call(method, url, who, body)
        assert r.status_code == 403 and r.json["code"] == "forbidden.department", (who, r.json)
    for who in allowed:
        r = w.call(method, url, who, body)
        assert r.status_code in (200, 201), (who, r.json)


def test_lists_show_only_the_departments_own(w):
    ids = _setup(w)
    for who in ("other_planner", "other_admin"):
        assert w.ok("get", "/api/v1/plans", who)["items"] == []
        assert w.ok("get", "/api/v1/tasks", who)["items"] == []
    seen = {p["id"] for p in w.ok("get", "/api/v1/plans", "part_planner")["items"]}
    assert seen == {ids["draft"], ids["approved"], ids["published"]}


def test_public_endpoints_need_no_login_and_show_published_plans_only(w):
    ids = _setup(w)
    code = ids["published_code"]
    for url in ("/api/public/plans", f"/api/public/plans/{code}", f"/api/public/plans/{code}/versions"):
        assert w.client.get(url).status_code == 200
        assert w.call("get", url, "lead_inspector").status_code == 200  # a token is fine too
    items = w.client.get("/api/public/plans?page_size=200").json["items"]
    assert code in {p["code"] for p in items} and all(p["status"] == "published" for p in items)
    draft_code = w.ok("get", f"/api/v1/plans/{ids['draft']}", "lead_planner")["code"]
    assert w.call("get", f"/api/public/plans/{draft_code}", "sysadmin").status_code == 404


def test_every_view_declares_its_access(app):
    rules = [r for r in app.url_map.iter_rules() if r.endpoint.startswith(("plans.", "public_plans."))]
    assert len(rules) == 15
    for rule in rules:
        view = app.view_functions[rule.endpoint]
        cls = view.view_class
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            fn = getattr(cls, method.lower())
            assert getattr(fn, "_access", None), (rule.rule, method)
            assert (PUBLIC in fn._access) == rule.rule.startswith("/api/public"), (rule.rule, method)
