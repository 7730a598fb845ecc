"""The supervisors' figures (issue 12 §5): every figure equals a count made here from docs/figures.md, on a
data set with late, exempt, unpublished and re-published (corrected) results."""
from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import pytest
from sqlalchemy import select

from backend.auth.roles import Role
from backend.figures import services
from backend.inspections.models import Inspection, Record, Section
from backend.plans.models import Task, TaskDepartment
from sync.models import SyncClient, SyncMutation
from tests.api.publication.results_world import World
from tests.field.conftest import build_field

FIGURES = "/api/v1/figures"
PUBLISH = "/api/v1/publication/inspections/{}/publish"
CORRECT = "/api/v1/publication/inspections/{}/correct"
DECISION = "/api/v1/publication/inspections/{}/exemption/decision"
BEIJING = dt.timezone(dt.timedelta(hours=8))
PAST_DUE = dt.date(2026, 5, 8)        # a due date long gone: publishing now is late
# what docs/figures.md calls a problem found
PROBLEMS = {"pending_followup", "unpublished_info", "false_info", "unreachable", "other_violation", "corrected"}


class Data:
    """The world and what each inspection was made to be."""

    def __init__(self, world, towns, extra_task):
        self.world, self.towns, self.extra_task = world, towns, extra_task

    @property
    def session(self):
        return self.world.session


def _sections_from(session, inspection_id, client):
    for n, _section in enumerate(session.scalars(select(Section).where(Section.inspection_id == inspection_id))):
        session.add(SyncMutation(client_id=client.id, mutation_id=inspection_id * 100 + n, name="section.set",
                                 status="applied", inspection_id=inspection_id))


def build_data(app, client, factory, auth, db_session) -> Data:
    """The data set (tests/api/figures/conftest.py builds it once per module and backend)."""
    f = build_field(app, client, factory, auth, db_session, targets=8)
    world = World(f, factory.user(Role.PUBLISHER, f.lead_dept), factory.user(Role.DEPT_ADMIN, f.lead_dept),
                  factory.user(Role.PUBLISHER, f.other_dept), factory.user(Role.PUBLISHER, factory.department()))
    county = factory.region("411203", "陕州区", "county")
    towns = [factory.region("411203001", "大营镇", "town", "411203"),
             factory.region("411203002", "原店镇", "town", "411203")]
    phone = SyncClient(id=str(uuid.uuid4()), user_id=f.lead_user.id, kind="phone")
    office = SyncClient(id=str(uuid.uuid4()), user_id=f.lead_user.id, kind="office")
    db_session.add_all([phone, office])
    db_session.flush()
    risks = ["A", "B", "C", "D", "D", "C", None, "B"]
    for n, inspection in enumerate(f.inspections):
        inspection.target.risk_class = risks[n]
        inspection.target.region_code = towns[n % 2].code
    for _ in range(6):     # registered businesses of the county not drawn (and one closed one, not counted)
        factory.target(region=towns[0])
    factory.target(region=towns[1], status="closed")
    factory.target(region=factory.region("411202", "湖滨区", "county"))
    db_session.flush()

    def submit(n, *, categories=None, completed_on=None, due_on=None, not_public=None):
        iid = world.submit(n, not_public=not_public)
        inspection = db_session.get(Inspection, iid)
        if categories:
            record = db_session.get(Record, iid)
            record.data = {**record.data, "result_categories": categories}
        if completed_on:
            inspection.completed_on = completed_on
        if due_on:
            inspection.publication_due_on = due_on
        db_session.flush()
        return iid

    def post(user, url, body=None):
        r = client.post(url, json=body or {}, headers=world.headers(user))
        assert r.status_code in (200, 201), r.json
        return r

    # 0: completed by the task's end, published on time, found a problem, from phones
    i0 = submit(0, categories=["corrected"], completed_on=dt.date(2026, 6, 10))
    post(world.lead_publisher, PUBLISH.format(i0))
    _sections_from(db_session, i0, phone)
    # 1: published late, then corrected (re-published): counted once, late as first published
    i1 = submit(1, completed_on=dt.date(2026, 4, 8), due_on=PAST_DUE)
    post(world.lead_publisher, PUBLISH.format(i1), {"remarks": "初稿"})
    post(world.lead_publisher, CORRECT.format(i1), {"remarks": "更正", "change_note": "备注有误，更正"})
    _sections_from(db_session, i1, phone)
    # 2: 不适合公开 approved after its due date: never late
    i2 = submit(2, completed_on=dt.date(2026, 4, 9), due_on=PAST_DUE, not_public="涉及正在查办的案件")
    post(world.lead_admin, DECISION.format(i2), {"decision": "approve"})
    _sections_from(db_session, i2, phone)
    # 3: submitted, never published, overdue (未公示即未检查); found a problem
    submit(3, categories=["pending_followup", "other_violation"], completed_on=dt.date(2026, 4, 10), due_on=PAST_DUE)
    # 4: submitted after the task's end, not yet due, not published
    submit(4, completed_on=dt.date(2026, 7, 2), due_on=dt.date(2026, 7, 30))
    # 5: in progress; 6: assigned
    f.inspections[5].status = "in_progress"
    # 7: completed after the task's end, published on time, written at the office
    i7 = submit(7, completed_on=dt.date(2026, 7, 1))
    post(world.lead_publisher, PUBLISH.format(i7))
    _sections_from(db_session, i7, office)
    # another drawn task of the lead department in the same quarter, sampling risk classes at different ratios
    extra = Task(code=f"SS-2026-X{f.lead_dept.code}", name="风险分级任务", plan_id=f.task.plan_id,
                 lead_department_id=f.lead_dept.id, status="drawn", strata_mode="risk",
                 strata={"A": {"num": 1, "den": 100}, "B": {"num": 2, "den": 100}, "C": {"num": 10, "den": 100},
                         "D": {"num": 30, "den": 100}}, start_date=dt.date(2026, 4, 1), end_date=dt.date(2026, 5, 31))
    extra.departments = [TaskDepartment(department_id=f.lead_dept.id, role="lead", status="confirmed")]
    db_session.add(extra)
    db_session.flush()
    assert county
    return Data(world, towns, extra)


# --- the independent count (docs/figures.md, in Python over the rows) ---------------------------------------

def _beijing_day(at: dt.datetime) -> dt.date:
    return at.astimezone(BEIJING).date()


def expected(session, *, region: str | None = None) -> dict:
    session.expire_all()
    rows = [i for i in session.scalars(select(Inspection)) if i.status in ("assigned", "in_progress", "completed")
            and i.task.end_date and dt.date(2026, 4, 1) <= i.task.end_date <= dt.date(2026, 6, 30)
            and (region is None or (i.target.region_code or "").startswith(region))]
    submitted = [i for i in rows if i.status == "completed"]
    done = [i for i in submitted if i.published_at or i.publication_exempt_at]
    on_time_done = [i for i in done if i.completed_on <= i.task.end_date]
    on_time_pub = [i for i in submitted if i.publication_exempt_at
                   or (i.published_at and _beijing_day(i.published_at) <= i.publication_due_on)]

    def kinds(i):
        return {c.kind for c, m in session.execute(select(SyncClient, SyncMutation)
                                                    .join(SyncMutation, SyncMutation.client_id == SyncClient.id)
                                                    .where(SyncMutation.inspection_id == i.id))}
    phone = [i for i in done if kinds(i) == {"phone"}]
    departments = sum(len(session.scalars(select(Section).where(Section.inspection_id == i.id)).all()) for i in done)

    def problem(i):
        return bool(set(session.get(Record, i.id).data.get("result_categories") or []) & PROBLEMS)
    registered = [t for t in session.scalars(select(Inspection.target.property.mapper.class_))
                  if t.status == "active" and (region is None or (t.region_code or "").startswith(region))]
    tasks = [t for t in session.scalars(select(Task)) if t.status == "drawn"
             and dt.date(2026, 4, 1) <= t.end_date <= dt.date(2026, 6, 30)]
    differ = [t for t in tasks if t.strata_mode == "risk"
              and len({r["num"] / r["den"] for k, r in t.strata.items() if k in "ABCD"}) > 1]
    by_risk = {}
    for i in done:
        k = i.stratum                     # the class the business was drawn in
        n, d = by_risk.get(k, (0, 0))
        by_risk[k] = (n + problem(i), d + 1)
    return {
        "completion": (len(done), len(rows)),
        "on_time_completion": (len(on_time_done), len(rows)),
        "publication": (len(done), len(submitted)),
        "on_time_publication": (len(on_time_pub), len(submitted)),
        "followup": None,    # the follow-ups module's own count (test_followups_light_up_when_the_module_exists)
        "coverage": (len({i.target_id for i in done}), len(registered)),
        "mobile": (len(phone), len(done)),
        "joint": (departments, len(done)),
        "risk_ratio": (len(differ), len(tasks)) if region is None else None,
        "problem_found": (sum(problem(i) for i in done), len(done)),
        "by_risk": by_risk,
    }


def _get(client, data, path, user=None, **query):
    user = user or data.world.field.factory.user(Role.SUPERVISOR)
    return client.get(path, query_string=query, headers=data.world.headers(user))


def _check(figures: list[dict], want: dict) -> None:
    got = {f["key"]: f for f in figures}
    for key, pair in want.items():
        if key == "by_risk" or pair is None:
            continue
        assert (got[key]["numerator"], got[key]["denominator"]) == pair, key
        if pair[0] is not None and pair[1]:
            assert got[key]["rate"] == pytest.approx(pair[0] / pair[1], abs=1e-6), key
        else:
            assert got[key]["rate"] is None, key
    assert {r["risk_class"]: (r["numerator"], r["denominator"]) for r in got["problem_found"]["by_risk_class"]
            if r["denominator"]} \
        == want["by_risk"]


def test_every_figure_equals_the_count_written_from_the_definitions(client, data):
    r = _get(client, data, FIGURES, period="2026-Q2")
    assert r.status_code == 200, r.json
    want = expected(data.session)
    _check(r.json["figures"], want)
    # the data set is what it claims: late, exempt, unpublished and corrected results in it
    got = {f["key"]: f for f in r.json["figures"]}
    assert want["completion"] == (4, 8) and want["publication"] == (4, 6) and want["on_time_publication"] == (3, 6)
    assert want["on_time_completion"] == (3, 8) and want["mobile"] == (3, 4) and want["risk_ratio"] == (1, 2)
    assert got["joint"]["spared_visits"] == want["joint"][0] - want["joint"][1] == 4
    # no follow-up in this data set: none due, none closed, no rate (never a made-up 0 %)
    assert (got["followup"]["numerator"], got["followup"]["denominator"], got["followup"]["rate"]) == (0, 0, None)
    assert r.json["scope"]["from"] == "2026-04-01" and r.json["scope"]["to"] == "2026-06-30"


def test_the_region_narrows_to_a_town_and_the_county_holds_both(client, data):
    county = _get(client, data, FIGURES, period="2026", region="411203").json["figures"]
    _check(county, expected(data.session, region="4112030"))
    town = _get(client, data, FIGURES, period="2026", region="411203001").json["figures"]
    want = expected(data.session, region="411203001")
    want["risk_ratio"] = None
    _check(town, want)
    assert want["completion"][1] == 4


def test_a_month_outside_the_tasks_is_empty_and_the_series_puts_everything_in_june(client, data):
    may = {f["key"]: f for f in _get(client, data, FIGURES, period="2026-05").json["figures"]}
    assert may["completion"]["denominator"] == 0 and may["completion"]["rate"] is None
    assert may["risk_ratio"]["numerator"] == may["risk_ratio"]["denominator"] == 1
    r = _get(client, data, FIGURES + "/series", figure="on_time_publication", period="2026")
    assert r.status_code == 200, r.json
    points = {p["period"]: p for p in r.json["points"]}
    assert list(points) == [f"2026-{m:02d}" for m in range(1, 13)]
    want = expected(data.session)["on_time_publication"]
    assert (points["2026-06"]["numerator"], points["2026-06"]["denominator"]) == want
    assert all(p["denominator"] == 0 and p["rate"] is None for k, p in points.items() if k != "2026-06")


def test_each_number_opens_the_inspections_behind_it(client, data):
    want = expected(data.session)
    session = data.session
    submitted = {i.id for i in session.scalars(select(Inspection).where(Inspection.status == "completed"))}
    late_or_unpublished = set()
    for i in session.scalars(select(Inspection).where(Inspection.status == "completed")):
        if not i.publication_exempt_at and not (i.published_at and _beijing_day(i.published_at) <= i.publication_due_on):
            late_or_unpublished.add(i.id)
    base = FIGURES + "/on_time_publication/items"
    num = _get(client, data, base, period="2026-Q2", part="numerator", page_size=2).json
    assert num["total"] == want["on_time_publication"][0] and len(num["items"]) == 2 and num["pages"] == 2
    den = _get(client, data, base, period="2026-Q2", part="denominator").json
    assert {i["id"] for i in den["items"]} == submitted
    missing = _get(client, data, base, period="2026-Q2", part="missing").json
    assert {i["id"] for i in missing["items"]} == late_or_unpublished
    row = missing["items"][0]
    assert row["record_url"] == f"/api/v1/inspections/{row['id']}" and row["pdf_url"].endswith("/record.pdf")
    assert {i["publication_state"] for i in missing["items"]} <= {"published", "overdue", "unpublished"}
    undone = _get(client, data, FIGURES + "/completion/items", period="2026-Q2", part="missing").json
    assert undone["total"] == want["completion"][1] - want["completion"][0]
    bad = _get(client, data, FIGURES + "/risk_ratio/items", period="2026-Q2")
    assert bad.status_code == 422 and bad.json["code"] == "figures.no_items"
    unknown = _get(client, data, FIGURES + "/nothing/items", period="2026-Q2")
    assert unknown.status_code == 404 and unknown.json["code"] == "figures.unknown_figure"


def test_bad_filters_get_a_stable_code(client, data):
    for query, code in (({"period": "2026-13"}, "figures.bad_period"), ({"period": "26"}, "figures.bad_period"),
                        ({"region": "41"}, "figures.bad_region")):
        r = _get(client, data, FIGURES, **query)
        assert r.status_code == 422 and r.json["code"] == code, r.json


def test_department_admins_see_their_own_department_and_others_are_refused(client, data, factory):
    f = data.world.field
    own = factory.user(Role.DEPT_ADMIN, f.lead_dept)
    r = _get(client, data, FIGURES, own, period="2026-Q2")
    assert r.status_code == 200 and r.json["scope"]["department_id"] == f.lead_dept.id
    _check(r.json["figures"], expected(data.session))
    outsider = factory.user(Role.DEPT_ADMIN, factory.department())
    empty = _get(client, data, FIGURES, outsider, period="2026-Q2").json["figures"]
    assert {x["key"]: x["denominator"] for x in empty}["completion"] == 0
    refused = _get(client, data, FIGURES, outsider, period="2026-Q2", department_id=f.lead_dept.id)
    assert refused.status_code == 403 and refused.json["code"] == "forbidden.department"
    for role in (Role.INSPECTOR, Role.PUBLISHER, Role.PLANNER):
        r = _get(client, data, FIGURES, factory.user(role, f.lead_dept), period="2026-Q2")
        assert r.status_code == 403 and r.json["code"] == "forbidden.role"


def test_the_table_exports_as_csv_and_xlsx(client, data):
    r = _get(client, data, FIGURES + "/export", period="2026-Q2", format="csv")
    assert r.status_code == 200 and "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig"))))
    table = {row[0]: row for row in rows[1:]}
    want = expected(data.session)
    assert table["按时公示率"][1:3] == [str(n) for n in want["on_time_publication"]]
    assert table["后续处置率"][1:3] == ["0", "0"]
    x = _get(client, data, FIGURES + "/export", period="2026-Q2", format="xlsx")
    assert x.status_code == 200 and x.data[:2] == b"PK"
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(x.data)).active
    values = {row[0]: row for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values["抽查完成率"][1:3] == tuple(str(n) for n in want["completion"])


def test_followups_closed_over_followups_due(client, data, db_session):
    """后续处置率 (docs/figures.md#followup): of the population's follow-ups due by today (the deadline, or the
    completion day without one), those closed; follow-ups not yet due and those of other inspections do not count."""
    from backend.followups.models import CLOSED_STATES, Followup

    f = data.world.field
    today = dt.date.today()
    made = [(0, "ordered", today - dt.timedelta(days=3)), (0, "rectified", today - dt.timedelta(days=10)),
            (1, "transferred", None), (3, "to_notify", None), (3, "acknowledged", today + dt.timedelta(days=30)),
            (7, "ordered", today + dt.timedelta(days=5))]
    for n, state, due_on in made:
        inspection = f.inspections[n]
        db_session.add(Followup(uid=str(uuid.uuid4()), inspection_id=inspection.id, task_id=inspection.task_id,
                                target_id=inspection.target_id, department_id=f.lead_dept.id,
                                lead_department_id=f.lead_dept.id, action="rectify", state=state, due_on=due_on))
    db_session.flush()
    db_session.expire_all()
    population = {i.id for i in db_session.scalars(select(Inspection))
                  if i.task.end_date and dt.date(2026, 4, 1) <= i.task.end_date <= dt.date(2026, 6, 30)
                  and i.status in ("assigned", "in_progress", "completed")}
    due = [x for x in db_session.scalars(select(Followup)) if x.inspection_id in population
           and (x.due_on or db_session.get(Inspection, x.inspection_id).completed_on) <= today]
    closed = [x for x in due if x.state in CLOSED_STATES]
    assert len(due) == 4 and len(closed) == 2                  # the data set is what the test means it to be
    got = {g["key"]: g for g in _get(client, data, FIGURES, period="2026-Q2").json["figures"]}
    assert (got["followup"]["numerator"], got["followup"]["denominator"]) == (len(closed), len(due))
    assert got["followup"]["rate"] == pytest.approx(len(closed) / len(due), abs=1e-4)


def test_a_region_is_its_code_and_everything_under_it():
    from sqlalchemy import column

    def matches(region, code):
        cond = services.in_region(column("c"), region)
        import sqlite3
        con = sqlite3.connect(":memory:")
        sql = str(cond.compile(compile_kwargs={"literal_binds": True}))
        return con.execute(f"SELECT {sql} FROM (SELECT ? AS c)", (code,)).fetchone()[0] == 1

    assert matches("411203", "411203001") and matches("411203", "411203") and not matches("411203", "411204001")
    assert matches("411200", "411299") and not matches("411200", "411300")
    assert matches("411203007", "411203007") and not matches("411203007", "411203008")
    assert matches("999999", "999999001") and not matches("999999", "99999")
