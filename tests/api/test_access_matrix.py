"""Every API endpoint × every role × the wrong department (table-driven).

The table states the policy; the test proves the code follows it:
* a role not in ``allowed`` gets 403 and no data; no token gets 401 (unless public);
* a role in ``wrong_dept`` working in another department gets 403;
* the right role in the right department is let through: a 2xx answer. Every role checked gets a
  world of its own for a request that changes something (the second commit of one task would be a
  409), built in the state the request needs (``state``: the task's status; ``{draft_plan}``,
  ``{approved_plan}``, ``{export_job}`` are made when a row names them).
* public rows are let through for every role and for no login at all; login and refresh send real
  credentials (the role's own account, a refresh token from a real login).
A completeness test fails when an endpoint is added without a row here.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import re
import uuid

import pytest
from sqlalchemy import select

from backend.actor import Actor
from backend.auth.roles import Role
from backend.db import utcnow
from backend.directory.models import ExpertConflict
from backend.draws import services as draws
from backend.inspections.models import Inspection
from backend.jobs.models import Job
from backend.plans.models import Plan, PlanDepartment, PlanItem
from tests.api.draws.conftest import build_scenario
from tests.api.shared_world import (_worlds, db_session_fixture,  # noqa: F401 (fixtures)
                                    worlds_fixture)
from tests.factories import PASSWORD

S, DA, P, I, SV = Role.SYSADMIN, Role.DEPT_ADMIN, Role.PLANNER, Role.INSPECTOR, Role.SUPERVISOR
PUB = Role.PUBLISHER
ALL = frozenset(Role)
PUBLIC = "public"
STAFF_READ = frozenset({S, DA, P, SV})
RUNNERS = frozenset({S, DA, P})
ADMINS = frozenset({S, DA})
PUBLISHERS = frozenset({DA, PUB})  # department admins and publishers of a department taking part
FIGURE_READERS = frozenset({S, SV, DA})
PUB_READ = frozenset({S, SV, DA, PUB})  # publication lists: a department's own; sysadmins and supervisors any
UPLOADERS = frozenset({I})      # officers with an inspection still open (nobody else has a record to add files to)
TUS = (("Tus-Resumable", "1.0.0"),)
IF_MATCH_ANY = (("If-Match", "*"),)
FOLLOWUP_READ = frozenset({S, DA, P, I, SV})
FOLLOWUP_ACT = frozenset({S, DA, I})


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
    state: str = "drawn"          # the scenario task's status: draft, consulting, confirmed, committed, drawn
    upload: bool = False          # send the list's import template as the multipart field "file"
    export: bool = False          # send an exported outbox of A's officer as the multipart field "file"
    headers: tuple = ()           # extra request headers, as (name, value) pairs
    raw: bytes | None = None      # a raw body (sent as it is, with the content type given in ``headers``)
    hidden: bool = False          # the wrong department gets 404 (what one may not read is not there), not 403


ROWS = [
    # auth and accounts
    # login and refresh: the role's own account and a refresh token from its real login
    Row("POST", "/api/v1/auth/login", PUBLIC, body={"username": "{username}", "password": "{password}"}),
    Row("POST", "/api/v1/auth/refresh", PUBLIC, body={"refresh_token": "{refresh}"}),
    Row("POST", "/api/v1/auth/logout", ALL, body={"refresh_token": "{refresh}"}),
    Row("GET", "/api/v1/auth/me", ALL),
    Row("POST", "/api/v1/auth/me/password", ALL, body={"password": "An0ther!pass", "old_password": "{password}"}),
    Row("GET", "/api/v1/users", ADMINS, body=None, wrong_dept=(DA,), query="?department_id={A}"),
    Row("POST", "/api/v1/users", ADMINS, (DA,), body={"username": "new.user{n}", "display_name": "新用户",
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
    # notifications: each user's own (another's is not there: tests/api/notifications)
    Row("GET", "/api/v1/notifications", ALL),
    Row("POST", "/api/v1/notifications/{my_notification}/read", ALL),
    Row("POST", "/api/v1/notifications/read-all", ALL),
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
        "code": "NEW-{n}", "category": "登记事项检查", "name": "新事项", "object_types": ["enterprise"],
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
    Row("POST", "/api/v1/targets", ADMINS, body={"name": "新对象", "type": "product", "code": "CP-NEW-{n}"}),
    Row("GET", "/api/v1/targets/{target}", STAFF_READ),
    Row("PATCH", "/api/v1/targets/{target}", ADMINS, (DA,), body={"address": "新地址"}),
    Row("POST", "/api/v1/targets/{target}/retire", ADMINS, (DA,), body={"retired": True}),
    Row("GET", "/api/v1/targets/{target}/history", STAFF_READ),
    Row("GET", "/api/v1/targets/{target}/conflicts", STAFF_READ),
    # inspectors and experts: their own department only
    Row("GET", "/api/v1/inspectors", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("POST", "/api/v1/inspectors", ADMINS, (DA,), body={"department_id": "{A}", "cert_no": "NEW-CERT-{n}",
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
    Row("POST", "/api/v1/experts", ADMINS, (DA,), body={"code": "EX-NEW-{n}", "name": "新专家", "department_id": "{A}"}),
    Row("GET", "/api/v1/experts/{expert}", STAFF_READ, (DA, P)),
    Row("PATCH", "/api/v1/experts/{expert}", ADMINS, (DA,), body={"title": "高级工程师"}),
    Row("POST", "/api/v1/experts/{expert}/retire", ADMINS, (DA,), body={"retired": True}),
    Row("GET", "/api/v1/experts/{expert}/conflicts", STAFF_READ, (DA, P)),
    Row("POST", "/api/v1/experts/{expert}/conflicts", ADMINS, (DA,), body={"target_id": "{target2}", "reason": "亲属"}),
    Row("POST", "/api/v1/experts/{expert}/conflicts/{expert_conflict}/retire", ADMINS, (DA,), body={"retired": True}),
    # import, export, templates
    Row("POST", "/api/v1/imports/departments", frozenset({S}), upload=True),
    Row("GET", "/api/v1/exports/inspectors", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("POST", "/api/v1/exports/inspectors", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("GET", "/api/v1/exports/files/{export_job}", ALL, (DA, P, I), positive=frozenset({S, DA})),
    Row("GET", "/api/v1/jobs/{export_job}/file", ALL, (DA, P, I), positive=frozenset({S, DA})),
    Row("GET", "/api/v1/templates/targets.xlsx", PUBLIC),
    # plans and tasks: the lead department changes them; lead and participants read them
    Row("GET", "/api/v1/plans", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("POST", "/api/v1/plans", RUNNERS, (DA, P), body={"year": 2027, "name": "新计划", "kind": "department",
                                                       "lead_department_id": "{A}"}),
    Row("GET", "/api/v1/plans/{plan}", STAFF_READ, (DA, P)),
    Row("PATCH", "/api/v1/plans/{plan}", RUNNERS, (DA, P), "B", body={"description": "调整", "reason": "调整说明"}),
    Row("POST", "/api/v1/plans/{draft_plan}/approve", ADMINS, (DA,), "B", body={}),
    Row("POST", "/api/v1/plans/{approved_plan}/publish", ADMINS, (DA,), "B", body={}),
    Row("POST", "/api/v1/plans/{approved_plan}/reopen", ADMINS, (DA,), "B", body={}),
    Row("POST", "/api/v1/plans/{draft_plan}/retire", RUNNERS, (DA, P), "B", body={}),
    Row("GET", "/api/v1/plans/{plan}/versions", STAFF_READ, (DA, P)),
    Row("GET", "/api/v1/tasks", STAFF_READ, (DA, P), query="?department_id={A}"),
    Row("POST", "/api/v1/tasks", RUNNERS, (DA, P), "B", body={"plan_id": "{plan}", "name": "新任务",
                                                                  "item_ids": ["{plan_item}"]}),
    Row("GET", "/api/v1/tasks/{task}", STAFF_READ, (DA, P)),
    Row("PATCH", "/api/v1/tasks/{task}", RUNNERS, (DA, P), "B", body={"name": "改名任务"}, state="draft"),
    Row("POST", "/api/v1/tasks/{task}/send", RUNNERS, (DA, P), "B", body={}, state="draft"),
    Row("POST", "/api/v1/tasks/{task}/decision", RUNNERS, (DA, P), body={"decision": "confirm", "department_id": "{B}"},
        right_in="B",
        state="consulting"),
    Row("POST", "/api/v1/tasks/{task}/cancel", RUNNERS, (DA, P), "B", body={"reason": "不再需要"}, state="confirmed"),
    # the draw
    Row("GET", "/api/v1/tasks/{task}/draws", STAFF_READ, (DA, P)),
    Row("GET", "/api/v1/tasks/{task}/draw/preview", RUNNERS, (DA, P), "B", state="confirmed"),
    Row("POST", "/api/v1/tasks/{task}/draw/commit", RUNNERS, (DA, P), "B", body={}, state="confirmed"),
    Row("POST", "/api/v1/tasks/{task}/draw/seed", RUNNERS, (DA, P), "B", body={"source": "csprng"}, state="committed"),
    Row("POST", "/api/v1/tasks/{task}/draw/redraw", RUNNERS, (DA, P), "B", body={"reason": "测试重新抽取"}),
    Row("POST", "/api/v1/tasks/{task}/draw/reopen", RUNNERS, (DA, P), "B", body={"reason": "测试重新开放"},
        state="committed"),
    Row("GET", "/api/v1/tasks/{task}/experts", STAFF_READ, (DA, P)),
    Row("PUT", "/api/v1/tasks/{task}/experts", RUNNERS, (DA, P), "B", body={"experts": []}),
    Row("GET", "/api/v1/tasks/{task}/groups", STAFF_READ, (DA, P)),
    Row("POST", "/api/v1/inspections/{inspection}/replace", RUNNERS, (DA, P), "B", body={"reason_code": "closed"}),
    Row("GET", "/api/v1/my/inspections", frozenset({I})),
    # the officers' phones
    Row("POST", "/api/sync/push", frozenset({I}), body={
        "client_id": "0b7c4a52-8d1e-4c55-9f7e-0f6a2b3c4d5e",
        "mutations": [{"id": 1, "name": "section.set", "args": {"inspection_id": "{inspection}"}}]}),
    Row("GET", "/api/sync/pull", frozenset({I}), query="?client_id=0b7c4a52-8d1e-4c55-9f7e-0f6a2b3c4d5e"),
    # a co-signer's password, checked online (the caller is in the group: the officer of A leads {led_draft})
    Row("POST", "/api/sync/signers/verify", frozenset({I}), body={
        "inspection_id": "{led_draft}", "scope": "record", "username": "{username}", "password": "{password}"}),
    # a user's devices: their own list; retired by the owner, an admin of the owner's department or the sysadmin
    Row("GET", "/api/sync/clients", frozenset({I})),
    Row("POST", "/api/sync/clients/{sync_client}/retire", frozenset({I, DA, S}), (DA,)),
    # an exported outbox imported in the office: the system admin, or an admin of the officer's department
    Row("GET", "/api/sync/imports", ADMINS),
    Row("POST", "/api/sync/imports", ADMINS, (DA,), export=True),
    Row("GET", "/api/sync/imports/{outbox_import}", ADMINS, (DA,)),
    Row("DELETE", "/api/sync/imports/{outbox_import}", ADMINS, (DA,)),
    Row("POST", "/api/sync/imports/{outbox_import}/confirm", ADMINS, (DA,), body={}),
    # the inspection record on the office side (writes: the group's lead, checked in the service)
    Row("GET", "/api/v1/inspections", STAFF_READ, query="?task_id={task}"),
    Row("GET", "/api/v1/inspections/{inspection}", ALL, (DA, P), positive=frozenset({S, SV, DA, P})),
    # (only the group's lead; the officer of A leads {led_*} inspections, each at the stage its step needs)
    Row("PATCH", "/api/v1/inspections/{led_draft}/record", frozenset({I}), body={"fields": {"opinion": "意见"}}, headers=IF_MATCH_ANY),
    Row("POST", "/api/v1/inspections/{led_conflict}/conflicts/{open_conflict}/resolve", frozenset({I}),
        body={"choice": "server"}, headers=IF_MATCH_ANY),
    Row("POST", "/api/v1/inspections/{led_conflict}/conflicts/resolve", frozenset({I}), body={"choice": "server"},
        headers=IF_MATCH_ANY),
    Row("POST", "/api/v1/inspections/{led_finalizable}/record/finalize", frozenset({I}), body={}, headers=IF_MATCH_ANY),
    Row("POST", "/api/v1/inspections/{led_submittable}/record/submit", frozenset({I}), body={}, headers=IF_MATCH_ANY),
    # the record's PDF: as the record (members, staff of the departments taking part, sysadmin, supervisor)
    Row("GET", "/api/v1/inspections/{led_submitted}/record.pdf", ALL, (DA, P, I)),
    Row("GET", "/api/v1/tasks/{task}/publication", STAFF_READ, (DA, P)),
    # follow-ups (后续处置): owned by A (the task's lead); A's admins and officers act, the lead department and
    # supervisors read; the 回执 is the receiving department's (A receives {followup_notified}, owned by B)
    Row("GET", "/api/v1/followups", FOLLOWUP_READ, (DA, P, I), query="?department_id={A}"),
    Row("GET", "/api/v1/followups/register.xlsx", FOLLOWUP_READ, (DA, P, I), query="?department_id={A}"),
    Row("GET", "/api/v1/followups/{followup}", FOLLOWUP_READ, (DA, P, I)),
    Row("POST", "/api/v1/followups/{followup}/reinspection", FOLLOWUP_ACT, (DA, I), "B", headers=IF_MATCH_ANY,
        body={"inspected_on": "{today}", "findings": "已整改", "outcome": "rectified", "evidence": ["{my_file}"]}),
    Row("POST", "/api/v1/followups/{followup}/reinspections", ADMINS, (DA,), "B", headers=IF_MATCH_ANY, body={}),
    Row("POST", "/api/v1/followups/{followup_to_transfer}/transfer", FOLLOWUP_ACT, (DA, I), "B", headers=IF_MATCH_ANY,
        body={"filed_on": "{today}", "agency": "执法大队", "case_no": "立-1", "evidence": ["{my_file}"]}),
    Row("POST", "/api/v1/followups/{followup_to_transfer}/judicial", FOLLOWUP_ACT, (DA, I), "B", headers=IF_MATCH_ANY,
        body={"transferred_on": "{today}", "authority": "公安分局", "record_no": "移-1", "evidence": ["{my_file}"]}),
    Row("POST", "/api/v1/followups/{followup_to_notify}/notify", FOLLOWUP_ACT, (DA, I), "B", headers=IF_MATCH_ANY,
        body={"notified_on": "{today}", "department_id": "{B}"}),
    Row("POST", "/api/v1/followups/{followup_notified}/acknowledge", ADMINS, (DA,), "B", headers=IF_MATCH_ANY,
        body={"received_on": "{today}", "evidence": ["{my_file}"]}),
    Row("GET", "/api/v1/targets/{target}/inspections", STAFF_READ),
    # publication (公示): each department publishes its own part; the lead department the whole record
    Row("GET", "/api/v1/publication/queue", PUBLISHERS),
    Row("GET", "/api/v1/publication/inspections/{led_submitted}", PUBLISHERS, (DA, PUB)),
    Row("POST", "/api/v1/publication/inspections/{led_submitted}/preview", PUBLISHERS, (DA, PUB), body={}),
    Row("POST", "/api/v1/publication/inspections/{led_submitted}/publish", PUBLISHERS, (DA, PUB), body={}),
    Row("POST", "/api/v1/publication/inspections/{led_published}/correct", PUBLISHERS, (DA, PUB),
        body={"remarks": "更正后的备注", "change_note": "备注有误，更正"}),
    Row("POST", "/api/v1/publication/inspections/{led_submitted}/exemption", PUBLISHERS, (DA, PUB),
        body={"reason": "涉及正在查办的案件"}),
    Row("POST", "/api/v1/publication/inspections/{led_not_public}/exemption/decision", PUBLISHERS, (DA, PUB),
        body={"decision": "approve"}),
    # the supervisors' figures: read-only; supervisors and sysadmins read all, a department admin its own
    Row("GET", "/api/v1/figures", FIGURE_READERS, (DA,), query="?period=2026&department_id={A}"),
    Row("GET", "/api/v1/figures/series", FIGURE_READERS, (DA,), query="?figure=completion&department_id={A}"),
    Row("GET", "/api/v1/figures/completion/items", FIGURE_READERS, (DA,), query="?part=missing&department_id={A}"),
    Row("GET", "/api/v1/figures/export", FIGURE_READERS, (DA,), query="?format=csv&department_id={A}"),
    Row("GET", "/api/v1/figures/completion/items/export", FIGURE_READERS, (DA,),
        query="?part=missing&format=csv&department_id={A}"),
    Row("POST", "/api/v1/figures/report", FIGURE_READERS, (DA,), body={"quarter": "2026-Q2", "department_id": "{A}"}),
    # the 通报's file: only its maker (an admin of A) or a system admin
    Row("GET", "/api/v1/figures/report/{report_job}", FIGURE_READERS, (DA,), positive=frozenset({S, DA})),
    Row("GET", "/api/public/results", PUBLIC),
    Row("GET", "/api/public/results/{result}", PUBLIC),
    Row("GET", "/api/public/photos/{published_photo}", PUBLIC),
    # penalty decisions published apart; the national system's exports; the 经营异常名录 review list
    Row("GET", "/api/v1/publication/results/{result}/notice.pdf", PUBLISHERS, (DA, PUB)),
    Row("POST", "/api/v1/publication/inspections/{led_submitted}/penalties", PUBLISHERS, (DA, PUB),
        body={"decision_no": "罚〔2026〕1号", "decided_on": "{today}", "summary": "责令改正并处罚款"}),
    Row("GET", "/api/v1/publication/penalties", PUB_READ, (DA, PUB), query="?department_id={A}"),
    Row("GET", "/api/v1/publication/penalties/{penalty}/preview", PUBLISHERS, (DA, PUB)),
    Row("POST", "/api/v1/publication/penalties/{penalty}/publish", PUBLISHERS, (DA, PUB)),
    Row("GET", "/api/public/penalties", PUBLIC),
    Row("GET", "/api/public/penalties/{penalty_published}", PUBLIC),
    Row("POST", "/api/v1/publication/exports", frozenset({S, DA, PUB}), (DA, PUB),
        body={"from": "{today}", "to": "{today}", "format": "csv", "department_id": "{A}"}),
    Row("GET", "/api/v1/publication/exports", PUB_READ, (DA, PUB), query="?department_id={A}"),
    Row("GET", "/api/v1/publication/exports/file", frozenset({S, DA, PUB}), (DA, PUB),
        query="?from={today}&to={today}&format=csv&department_id={A}"),
    Row("GET", "/api/v1/publication/exports/{publication_export}/file", PUB_READ, (DA, PUB)),
    Row("GET", "/api/v1/publication/abnormal", PUB_READ, (DA, PUB), query="?department_id={A}"),
    Row("GET", "/api/v1/publication/abnormal/file", PUB_READ, (DA, PUB), query="?department_id={A}&format=csv"),
    # public pages
    Row("GET", "/api/public/plans", PUBLIC),
    Row("GET", "/api/public/plans/{plan_code}", PUBLIC),
    Row("GET", "/api/public/plans/{plan_code}/versions", PUBLIC),
    Row("GET", "/api/public/draws", PUBLIC),
    Row("GET", "/api/public/draws/{task_code}", PUBLIC),
    Row("GET", "/api/public/draws/{task_code}/record", PUBLIC),
    # the working-day calendar: public years, the notice import (system admins), due dates (anyone logged in)
    Row("GET", "/api/public/calendar/2026", PUBLIC),
    Row("POST", "/api/v1/calendar/import", frozenset({S}), body={
        "year": 2031, "title": "测试通知", "holidays": [{"name": "元旦", "from": "2031-01-01", "to": "2031-01-01"}]}),
    Row("GET", "/api/v1/calendar/due", ALL, query="?from=2026-02-13&days=20"),
    # photos and attachments: HEAD by hash for anyone logged in; reading for those who see a record using it
    # a file is read by whoever sees a record naming it; to anyone else it is not there (404, not 403)
    Row("HEAD", "/api/media/{media}", ALL, (DA, P, I), hidden=True),
    Row("GET", "/api/media/{media}", ALL, (DA, P, I), hidden=True),
    Row("GET", "/api/media/{media}/thumb", ALL, (DA, P, I), hidden=True),
    Row("GET", "/api/media/{media}/public", ALL, (DA, P, I), hidden=True),
    Row("POST", "/api/uploads", UPLOADERS, body={"sha256": "{new_sha}", "length": 1000, "media_type": "image/jpeg"}),
    # (an upload session is its creator's: another user's is "not found"; each caller has its own here)
    Row("HEAD", "/api/uploads/{my_upload}", UPLOADERS, headers=TUS),
    Row("PATCH", "/api/uploads/{my_upload}", UPLOADERS, raw=b"0123456789",
        headers=TUS + (("Upload-Offset", "0"), ("Content-Type", "application/offset+octet-stream"))),
    Row("DELETE", "/api/uploads/{my_upload}", UPLOADERS, headers=TUS),
]


class World:
    """Departments A (lead), B (participant), C (outsider), and one of everything, owned by A.

    The scenario's task is in the row's ``state``; values a row names that need more work (a draft
    or approved plan, a finished export) are made on first use."""

    def __init__(self, app, factory, auth, db_session, state: str = "drawn", client=None):
        self.app, self.factory, self.auth, self.session = app, factory, auth, db_session
        self.client = client or app.test_client()
        # three businesses, two drawn: one left in the reserve for the replacement
        s = build_scenario(factory, auth, risk=("D",), per_class=3, strata={"D": {"num": 2, "den": 3}},
                           inspectors=(4, 2), group_load=2,
                           status=state if state in ("draft", "consulting") else "confirmed")
        self.scenario = s
        self.depts = {"A": s.lead, "B": s.other, "C": factory.department()}
        admin = factory.user(S)
        self.admin = Actor.of_user(admin)
        settings = draws.DrawSettings()
        inspection = None
        if state in ("committed", "drawn"):
            draws.commit(db_session, self.admin, s.task.id, settings)
        if state == "drawn":
            draws.seed_and_draw(db_session, self.admin, s.task.id, settings, source="csprng")
            inspection = db_session.scalars(select(Inspection).where(Inspection.task_id == s.task.id)).first().id
        item = factory.item(s.lead)
        target = factory.target(department=s.lead)
        inspector = s.inspectors[s.lead.code][0]
        conflict = factory.conflict(inspector, target)
        expert = factory.expert(s.lead)
        expert_conflict = factory._add(ExpertConflict(expert_id=expert.id, target_id=target.id, reason="亲属"))
        region = factory.region()
        self.users: dict = {}
        self.linked_inspector = {"A": s.inspectors[s.lead.code][-1], "B": s.inspectors[s.other.code][-1],
                                 "C": factory.inspector(self.depts["C"])}
        owner = self.user(DA, "A")
        job = factory._add(Job(id=uuid.uuid4().hex, name="directory.export", status="failed", params={},
                               created_by=owner.id, department_id=s.lead.id))
        self.values = {
            "A": s.lead.id, "B": s.other.id, "user": factory.user(P, s.lead).id, "job": job.id, "region": region.code,
            "item": item.id, "check_point": item.check_points[0].id, "target": target.id,
            "target2": s.targets[1].id, "inspector": inspector.id, "conflict": conflict.id,
            "expert": expert.id, "expert_conflict": expert_conflict.id, "plan": s.task.plan_id,
            "plan_code": s.task.plan.code, "task": s.task.id, "task_code": s.task.code, "inspection": inspection,
            "plan_item": s.item.id, "n": next(_numbers),
        }
        self.made = {"draft_plan": lambda: self._plan("draft"), "approved_plan": lambda: self._plan("approved"),
                     "export_job": self._export_job,
                     "report_job": self._report_job,
                     "led_draft": lambda: self._led("draft")["inspection"],
                     "led_conflict": lambda: self._led("conflict")["inspection"],
                     "open_conflict": lambda: self._led_conflict["conflict"],
                     "led_finalizable": lambda: self._led("finalizable")["inspection"],
                     "led_submittable": lambda: self._led("submittable")["inspection"],
                     "led_submitted": lambda: self._led("submitted")["inspection"],
                     "led_published": lambda: self._published()["inspection"],
                     "result": lambda: self._published()["result"],
                     "published_photo": self._published_photo,
                     "led_not_public": self._led_not_public,
                     "penalty": lambda: self._penalty(False), "penalty_published": lambda: self._penalty(True),
                     "publication_export": self._publication_export}
        self.made.update({"followup": lambda: self._followup("rectify", "ordered", "A"),
                          "followup_to_transfer": lambda: self._followup("transfer", "to_transfer", "A"),
                          "followup_to_notify": lambda: self._followup("notify", "to_notify", "A"),
                          "followup_notified": lambda: self._followup("notify", "notified", "B", notified="A")})
        self.made["media"] = lambda: self._media()["media"]
        self.made["sync_client"] = self._sync_client
        self.made["outbox_import"] = self._outbox_import
        # a new file: its uploader, A's officer, takes part in the inspection (officers upload only then)
        self.made["new_sha"] = lambda: (self._media(), hashlib.sha256(uuid.uuid4().bytes).hexdigest())[1]

    def keep(self) -> None:
        """What the world has made so far is what ``restore`` comes back to (a world shared by a module's tests,
        tests/api/shared_world.py: its rows are rolled back after each test, its lazily made values forgotten)."""
        self._kept = (dict(self.values), dict(self.users))

    def restore(self, client) -> None:
        self.values, self.users = dict(self._kept[0]), dict(self._kept[1])
        for made in ("_published_values", "_media_values", "_led_conflict"):
            self.__dict__.pop(made, None)
        self.client = client

    def user(self, role, dept: str):
        key = (role, dept)
        if key not in self.users:
            department = None if role in (S, SV) else self.depts[dept]
            inspector = self.linked_inspector[dept] if role == I else None
            self.users[key] = self.factory.user(role, department, inspector=inspector)
        return self.users[key]

    def headers(self, role, dept: str) -> dict:
        return self.auth.headers(self.user(role, dept))

    def _plan(self, status: str) -> int:
        s = self.scenario
        plan = Plan(code=f"JH-M{next(_numbers)}", year=2026, name="待审批的计划", kind="joint",
                    lead_department_id=s.lead.id, status=status, ratio_rules={},
                    approved_by=self.admin.user_id if status == "approved" else None,
                    approved_at=utcnow() if status == "approved" else None)
        plan.departments = [PlanDepartment(department_id=s.lead.id, role="lead"),
                            PlanDepartment(department_id=s.other.id, role="participant")]
        plan.items = [PlanItem(item_id=s.item.id, department_id=s.lead.id)]
        return self.factory._add(plan).id

    def _led(self, stage: str) -> dict:
        """An inspection the officer of A leads, at ``stage`` of the merge (every participant has an account)."""
        from tests.field.builders import led_inspection

        lead = self.linked_inspector["A"]
        self.user(I, "A")
        out = led_inspection(self.session, self.values["inspection"], lead, stage)
        from backend.inspections.access import participation
        from backend.inspections.models import Inspection as Insp

        part = participation(self.session, [self.session.get(Insp, out["inspection"])])[out["inspection"]]
        for p in part.participants:
            if p.user_id is None:
                self.factory.user(I, self.session.get(type(lead), p.inspector_id).department,
                                  inspector=self.session.get(type(lead), p.inspector_id))
        if stage == "conflict":
            self._led_conflict = out
        return out

    def _followup(self, action: str, state: str, owner: str, notified: str | None = None) -> int:
        """A follow-up of the world's inspection (task led by A), owned by ``owner``, in ``state``."""
        from backend.followups.models import Followup, FollowupStep

        inspection = self.session.get(Inspection, self.values["inspection"])
        row = Followup(uid=str(uuid.uuid4()), inspection_id=inspection.id, task_id=inspection.task_id,
                       target_id=inspection.target_id, department_id=self.depts[owner].id,
                       lead_department_id=self.scenario.lead.id, action=action, state=state, version=1,
                       notified_department_id=self.depts[notified].id if notified else None)
        row.steps.append(FollowupStep(seq=1, action="open", to_state=state, detail={}, evidence=[]))
        return self.factory._add(row).id

    def _my_file(self, user) -> str:
        """A stored file ``user`` sent (and so may read): the evidence of a follow-up's step."""
        from backend.media.models import Media, MediaHolder

        sha = hashlib.sha256(uuid.uuid4().bytes).hexdigest()
        self.factory._add(Media(sha256=sha, kind="photo", media_type="image/jpeg", size=100, status="ready",
                                uploaded_by=user.id))
        self.factory._add(MediaHolder(sha256=sha, user_id=user.id, created_at=utcnow()))
        return sha

    def _published(self) -> dict:
        """The submitted inspection, its record published by A's department admin."""
        if not hasattr(self, "_published_values"):
            from backend.publication import results

            inspection = self.value("led_submitted", None, "A")
            row = results.publish(self.session, Actor.of_user(self.user(DA, "A")), inspection, {})
            self._published_values = {"inspection": inspection, "result": row["id"]}
        return self._published_values

    def _published_photo(self) -> str:
        """A photo's public copy (stored bytes) that the published result shows."""
        from backend.media import storage
        from backend.publication.models import PublishedPhoto

        sha = storage.store_bytes(self.app.config["MEDIA_DIR"], uuid.uuid4().bytes)
        self.factory._add(PublishedPhoto(result_id=self._published()["result"], sha256=sha))
        return sha

    def _penalty(self, published: bool) -> int:
        """A penalty decision of A's department following the submitted inspection (published when asked)."""
        from backend.inspections.deadlines import today_shanghai
        from backend.publication import penalties

        inspection = self.value("led_submitted", None, "A")
        actor = Actor.of_user(self.user(DA, "A"))
        row = penalties.create(self.session, actor, inspection, {
            "decision_no": f"罚〔2026〕{next(_numbers)}号", "decided_on": today_shanghai(), "summary": "责令改正"})
        if published:
            penalties.publish(self.session, actor, row["id"])
        return row["id"]

    def _publication_export(self) -> int:
        """A national-system export of A's department (today's published results)."""
        from backend.inspections.deadlines import today_shanghai
        from backend.publication import exports

        today = today_shanghai()
        return exports.export_national(self.session, Actor.of_user(self.user(DA, "A")), self.app.config["MEDIA_DIR"],
                                       self.depts["A"].id, today, today, "csv", source="api").id

    def _led_not_public(self) -> int:
        """The submitted inspection, its lead having written 不适合公开 in the record (a request to decide)."""
        from backend.inspections.models import Record

        inspection = self.value("led_submitted", None, "A")
        record = self.session.get(Record, inspection)
        record.data = {**record.data, "not_public": {"reason": "涉及正在查办的案件"}}
        self.session.flush()
        return inspection

    def _media(self) -> dict:
        """A stored photo used by the world's inspection, which A's linked officer takes part in."""
        if not hasattr(self, "_media_values"):
            from tests.api.media.world import media_values

            self._media_values = media_values(self.app, self.factory, self.session, self.values["inspection"],
                                              self.linked_inspector["A"], self.scenario.lead)
        return self._media_values

    def _upload_of(self, user) -> str:
        """An upload session of ``user``'s, just started."""
        import datetime as dt

        from backend.media.models import Upload
        from backend.media.services import MediaSettings

        upload_id = uuid.uuid4().hex
        uploads = MediaSettings.from_config(self.app.config).uploads_dir
        uploads.mkdir(parents=True, exist_ok=True)
        (uploads / upload_id).write_bytes(b"")
        self.factory._add(Upload(id=upload_id, user_id=user.id, sha256="c" * 64, length=1000, media_type="image/jpeg",
                                 kind="photo", tmp_name=upload_id, expires_at=utcnow() + dt.timedelta(hours=1)))
        return upload_id

    def _sync_client(self) -> str:
        """A device of the officer of A (retired by its owner, an admin of A, or the system admin)."""
        from sync.models import SyncClient

        client_id = str(uuid.uuid4())
        self.factory._add(SyncClient(id=client_id, user_id=self.user(I, "A").id, kind="phone", last_mutation_id=0))
        return client_id

    def outbox_file(self) -> bytes:
        """A phone's exported outbox (nothing left to send) of the officer of A, from a new device."""
        import json

        return json.dumps({"kind": "shuangsui-outbox-export", "version": 1, "client_id": str(uuid.uuid4()),
                           "user": {"username": self.user(I, "A").username}, "outbox": [], "photos": []}).encode()

    def _outbox_import(self) -> int:
        """An uploaded export of A's officer, previewed, not yet confirmed."""
        r = self.client.post("/api/sync/imports", data={"file": (io.BytesIO(self.outbox_file()), "outbox.json")},
                             content_type="multipart/form-data", headers=self.headers(S, "A"))
        assert r.status_code == 201, r.json
        return r.json["id"]

    def _export_job(self) -> str:
        r = self.client.post("/api/v1/exports/inspectors?format=csv", headers=self.headers(DA, "A"))
        assert r.status_code == 202, r.json
        return r.json["id"]

    def _report_job(self) -> str:
        r = self.client.post("/api/v1/figures/report", json={"quarter": "2026-Q2"}, headers=self.headers(DA, "A"))
        assert r.status_code == 202, r.json
        return r.json["id"]

    def value(self, key: str, role, dept: str):
        if key in self.values:
            return self.values[key]
        if key in self.made:
            self.values[key] = self.made[key]()
            return self.values[key]
        # the calling role's own account (no login: a planner of A)
        user = self.user(role or P, dept)
        if key == "username":
            return user.username
        if key == "password":
            return PASSWORD
        if key == "my_notification":
            from backend.notifications.models import Notification

            return self.factory._add(Notification(user_id=user.id, kind="task.end_date", subject_type="task",
                                                  subject_id=str(self.values["task"]), state="due_soon",
                                                  title="抽查任务即将到期", body="测试")).id
        if key == "my_upload":
            return self._upload_of(user)
        if key == "my_file":
            return self._my_file(user)
        if key == "today":
            from backend.inspections.deadlines import today_shanghai

            return today_shanghai().isoformat()
        if key == "refresh":
            r = self.client.post("/api/v1/auth/login", json={"username": user.username, "password": PASSWORD})
            assert r.status_code == 200, r.json
            return r.json["refresh_token"]
        raise KeyError(key)

    def fill(self, text, role=None, dept: str = "A"):
        if isinstance(text, str):
            whole = re.fullmatch(r"\{([a-z_0-9A-Z]+)\}", text)
            if whole:  # one placeholder: its value as it is (an id stays a number)
                return self.value(whole.group(1), role, dept)
            for key in re.findall(r"\{([a-z_0-9A-Z]+)\}", text):
                text = text.replace("{" + key + "}", str(self.value(key, role, dept)))
            return text
        if isinstance(text, dict):
            return {k: self.fill(v, role, dept) for k, v in text.items()}
        if isinstance(text, list):
            return [self.fill(v, role, dept) for v in text]
        return text


_numbers = itertools.count(1)


def _call(client, world, row: Row, role=None, dept: str = "A", anonymous: bool = False):
    """The row's request as ``role`` of ``dept`` (no token when ``anonymous``)."""
    headers = {} if anonymous else world.headers(role, dept)
    headers.update(dict(row.headers))
    url = world.fill(row.path + row.query, role, dept)
    kwargs = {"headers": headers}
    if row.upload:
        list_name = row.path.rsplit("/", 1)[-1]
        template = client.get(f"/api/v1/templates/{list_name}.csv").data
        kwargs["data"] = {"file": (io.BytesIO(template), f"{list_name}.csv")}
        kwargs["content_type"] = "multipart/form-data"
    elif row.export:
        kwargs["data"] = {"file": (io.BytesIO(world.outbox_file()), "outbox.json")}
        kwargs["content_type"] = "multipart/form-data"
    elif row.raw is not None:
        kwargs["data"] = row.raw
    elif row.method not in ("GET", "HEAD"):
        kwargs["json"] = world.fill(row.body, role, dept) if row.body is not None else {}
    return client.open(str(url), method=row.method, **kwargs)


def _id(row: Row) -> str:
    return f"{row.method} {row.path}"


@pytest.mark.parametrize("row", ROWS, ids=_id)
def test_access(row, client, worlds):
    world = worlds.get(row.state, client)
    if row.allowed != PUBLIC:
        r = _call(client, world, row, anonymous=True)
        assert r.status_code == 401, (r.status_code, r.get_json(silent=True))
        assert row.method == "HEAD" or r.json["code"].startswith("auth.")
        for role in Role:
            if role in row.allowed:
                continue
            r = _call(client, world, row, role, "A")
            assert r.status_code == 403, (role, r.status_code, r.get_json(silent=True))
            assert row.method == "HEAD" or r.json["code"].startswith("forbidden") and "items" not in r.json
        for role in row.wrong_dept:
            r = _call(client, world, row, role, row.wrong_in)
            refused = 404 if row.hidden else 403
            assert r.status_code == refused, ("wrong department", role, r.status_code, r.get_json(silent=True))
            assert row.method == "HEAD" or r.json["code"].startswith("forbidden") or (
                row.hidden and r.json["code"].endswith("not_found") and "items" not in r.json)
    allowed = ALL if row.allowed == PUBLIC else row.allowed
    callers = [(role, False) for role in sorted(allowed if row.positive is None else row.positive,
                                                key=lambda r: r.value)]
    if row.allowed == PUBLIC:
        callers.append((None, True))
    assert callers, "a row must let someone through"
    for n, (role, anonymous) in enumerate(callers):
        # a request that changes something gets a world of its own per caller
        if n and row.method not in ("GET", "HEAD"):
            world = worlds.afresh(row.state, client)
        r = _call(client, world, row, role, row.right_in, anonymous=anonymous)
        assert 200 <= r.status_code < 300, ("let through", role, r.status_code, r.get_json(silent=True))


def test_a_shared_world_starts_afresh(client, worlds):
    """What one caller (or test) changed in the module's shared world is gone for the next: the same new account
    is made twice (a leak would be a 409), the values made on first use are made again."""
    row = next(r for r in ROWS if (r.method, r.path) == ("POST", "/api/v1/users"))
    for _ in range(2):
        world = worlds.afresh("drawn", client)
        assert "draft_plan" not in world.values and (DA, "B") not in world.users
        world.value("draft_plan", None, "A")
        r = _call(client, world, row, DA, "B")
        assert r.status_code == 403, r.get_json(silent=True)
        r = _call(client, world, row, S, "A")
        assert r.status_code == 201, r.get_json(silent=True)


def test_every_endpoint_has_a_row_and_a_rule(app):
    covered = {(r.method, r.path) for r in ROWS}
    missing, unruled = [], []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule.startswith(("/api/docs", "/api/openapi")):
            continue
        view = app.view_functions[rule.endpoint]
        view_class = getattr(view, "view_class", None)
        explicit_head = view_class is not None and hasattr(view_class, "head")  # a HEAD with its own rule
        for method in sorted(rule.methods - {"OPTIONS"} - (set() if explicit_head else {"HEAD"})):
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
