"""The demo county: valid identifiers, a full item list, a roster every draw can use, working
accounts, the same data for the same seed, and no second seeding without --force."""
from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from types import SimpleNamespace

import pytest
from sqlalchemy import func, select

from backend.audit.models import AuditEntry
from backend.auth.models import User
from backend.demo import data
from backend.demo.seed import build_demo, seed_demo
from backend.directory import rules
from backend.directory.models import (CheckPoint, Department, Expert, Inspector, InspectorConflict, Item, Region,
                                      Target, TargetItemHistory)
from backend.errors import InvalidInput
from backend.followups.models import Followup
from backend.inspections.models import Inspection
from backend.plans.models import Task
from backend.publication.models import PublishedResult
from tests.conftest import at_test_password_cost, fresh_database, make_test_app, rolled_back_session

TODAY = dt.date(2026, 6, 15)
SMALL = {"targets": 500, "inspectors": 120, "seed": 11, "today": TODAY}


@pytest.fixture()
def seeded(database, db_session, tmp_path):
    """The demo county seeded for a test that changes it (rolled back after)."""
    with at_test_password_cost():
        return seed_demo(database, **SMALL, media_dir=str(tmp_path / "media"))


@pytest.fixture(scope="module")
def demo_county(database, tmp_path_factory):
    """The demo county seeded once per module and database kind, in a database of its own, for the tests that
    only read it (seeding takes seconds; a dozen tests each seeding their own cost a minute of the suite)."""
    root = tmp_path_factory.mktemp("demo")
    with fresh_database(database.dialect, tmp_path_factory, "demo") as db:
        with at_test_password_cost():   # the demo password hashed as the suite's apps hash (the tests log in)
            result = seed_demo(db, **SMALL, media_dir=str(root / "media"))
        yield SimpleNamespace(db=db, seeded=result, app=make_test_app(db, root), media=root / "media")


@pytest.fixture()
def demo(demo_county):
    """The shared demo county: what its seeding answered, a session and a client, in a transaction rolled back
    after the test (a login's writes never reach the next test)."""
    with rolled_back_session(demo_county.db) as session:
        yield SimpleNamespace(seeded=demo_county.seeded, session=session, client=demo_county.app.test_client(),
                              media=demo_county.media)


def test_departments_and_regions(demo):
    depts = demo.session.scalars(select(Department)).all()
    assert len(depts) >= 12
    assert {"SAMR", "TAX", "PSB", "HRSS", "MOHURD", "MEE", "MEM", "MCT", "NHC", "FIRE"} <= {d.code for d in depts}
    assert all(rules.DEPT_CODE_RE.match(d.code) and d.name and d.region_code == data.COUNTY_CODE for d in depts)
    regions = {r.code: r for r in demo.session.scalars(select(Region))}
    assert regions["410000"].level == "province" and regions["411200"].parent_code == "410000"
    assert regions["411203"].name == "陕州区" and regions["411203"].parent_code == "411200"
    towns = [r for r in regions.values() if r.level == "town"]
    assert len(towns) >= 10 and all(re.fullmatch(r"411203\d{3}", t.code) and t.parent_code == "411203" for t in towns)


def test_every_identifier_is_valid_and_unique(demo):
    targets = demo.session.scalars(select(Target)).all()
    assert len(targets) == 500 and demo.seeded.counts["targets"] == 500
    with_uscc = [t for t in targets if t.uscc]
    assert all(rules.uscc_problem(t.uscc) is None for t in with_uscc)
    assert all(t.uscc[2:8] == data.COUNTY_CODE and t.code == t.uscc for t in with_uscc)
    assert len({t.uscc[8:17] for t in with_uscc}) == len(with_uscc)  # organisation codes unique
    prefix = {"enterprise": "91", "branch": "91", "individual": "92", "cooperative": "93"}
    assert all(t.uscc[:2] == prefix[t.type] for t in with_uscc)
    types = Counter(t.type for t in targets)
    assert types["individual"] >= 3 and types["cooperative"] >= 1 and types["enterprise"] > 400
    reg_only = [t for t in targets if t.uscc is None and t.reg_no]
    assert reg_only and all(rules.reg_no_problem(t.reg_no) is None and t.code == t.reg_no for t in reg_only)
    directory = [t for t in targets if t.type not in rules.REGISTERED_TYPES]
    assert {t.type for t in directory} >= {"product", "project"}
    assert all(t.uscc is None and t.reg_no is None and re.fullmatch(r"[A-Z]{2}-411203-[0-9-]+", t.code)
               for t in directory)


def test_targets_look_like_a_county(demo):
    targets = demo.session.scalars(select(Target)).all()
    towns = {t.code for t in data.TOWNS}
    samr = demo.session.scalar(select(Department.id).where(Department.code == "SAMR"))
    for t in targets:
        assert t.region_code in towns and t.address.startswith(data.AREA_PREFIX)
        assert t.status in rules.TARGET_STATUSES and t.risk_class in (None, *rules.RISK_CLASSES)
        assert t.industry_code and rules.INDUSTRY_RE.match(t.industry_code)
        if t.latitude is not None:
            assert 34.5 < t.latitude < 34.9 and 110.85 < t.longitude < 111.45 and t.datum in rules.DATUMS
        if t.type in rules.REGISTERED_TYPES:
            assert t.department_id == samr and t.legal_rep and t.phone
    businesses = [t for t in targets if t.type in rules.REGISTERED_TYPES]
    risk = Counter(t.risk_class for t in businesses)
    assert risk["B"] > risk["A"] > risk["C"] > risk["D"] > 0
    assert Counter(t.status for t in targets)["active"] > 0.85 * len(targets)
    assert {"GCJ-02", "WGS-84"} <= {t.datum for t in targets}
    assert any("食品经营" in t.tags for t in targets) and any("特种设备使用" in t.tags for t in targets)
    history = demo.session.scalars(select(TargetItemHistory)).all()
    assert history and all(dt.date(2026, 1, 1) <= h.last_inspected_on <= TODAY for h in history)


def test_item_list(demo):
    items = demo.session.scalars(select(Item)).unique().all()
    assert len(items) >= 60
    assert len({i.department_id for i in items}) >= 12
    categories = {i.category for i in items}
    assert {"登记事项检查", "信息公示检查", "食品安全检查", "特种设备安全检查", "发票管理检查", "排污许可检查",
            "安全生产检查", "消防安全检查"} <= categories
    for item in items:
        assert item.legal_basis.startswith("《") and item.name.endswith("检查")
        assert item.methods and set(item.methods) <= set(rules.METHODS)
        assert item.object_types and set(item.object_types) <= set(rules.TARGET_TYPES)
        if item.kind == "general":
            assert item.ratio_cap_percent is not None and 0 < item.ratio_cap_percent <= 100
        else:
            assert item.kind == "key" and item.ratio_cap_percent is None
        points = item.check_points
        assert 3 <= len(points) <= 6 and [p.seq for p in points] == list(range(1, len(points) + 1))
        for p in points:
            assert p.answer_type in rules.ANSWER_TYPES
            assert (p.answer_type in ("choice", "multi")) == bool(p.options)
    assert demo.session.scalar(select(func.count()).select_from(CheckPoint)) == demo.seeded.counts["check_points"]
    licence = next(i for i in items if i.name == "营业执照（登记证）规范使用情况的检查")
    assert "《市场主体登记管理条例》第三十六条" in licence.legal_basis and licence.kind == "general"


def test_roster_every_draw_can_use(demo):
    assert demo.seeded.counts["inspectors"] == 128 and demo.seeded.notes  # 120 asked: raised to 8 per department
    inspectors = demo.session.scalars(select(Inspector)).unique().all()
    active = Counter(i.department.code for i in inspectors if i.status == "active")
    assert set(active) == set(data.DEPARTMENT_CODES)
    assert all(n >= data.MIN_INSPECTORS_PER_DEPARTMENT for n in active.values())
    assert all(re.fullmatch(rf"{i.department.code}-411203-\d{{4}}", i.cert_no) for i in inspectors)
    assert len({i.cert_no for i in inspectors}) == len(inspectors)
    assert all(i.name and i.position and i.qualifications and i.expertise for i in inspectors)
    conflicts = demo.session.scalars(select(InspectorConflict)).all()
    assert len(conflicts) >= 3 and all(c.reason for c in conflicts)
    assert demo.session.scalar(select(func.count()).select_from(Expert)) == 20


def test_bigger_roster_favours_samr():
    demo = build_demo(targets=100, inspectors=300, seed=1, today=TODAY)
    per_dept = Counter(i["department"] for i in demo.inspectors)
    assert sum(per_dept.values()) == 300 and per_dept.most_common(1)[0][0] == "SAMR"
    assert min(per_dept.values()) >= data.MIN_INSPECTORS_PER_DEPARTMENT


def test_one_audit_entry_for_the_seeding(demo):
    entries = demo.session.scalars(select(AuditEntry).where(AuditEntry.action == "demo.seed")).all()
    assert len(entries) == 1
    assert entries[0].actor_label == "demo-seed" and entries[0].detail["counts"]["targets"] == 500


def test_demo_accounts_log_in(demo):
    users = {u.username: u for u in demo.session.scalars(select(User)).unique()}
    roles = {u.role for u in users.values()}
    assert roles == {"sysadmin", "dept_admin", "planner", "inspector", "supervisor", "publisher"}
    publishers = {u.department.code for u in users.values() if u.role == "publisher"}
    assert publishers == set(data.DEPARTMENT_CODES)  # one 公示审核人员 per department
    for account in demo.seeded.accounts:
        assert account.created and account.password == data.DEMO_PASSWORD
        r = demo.client.post("/api/v1/auth/login", json={"username": account.username, "password": account.password})
        assert r.status_code == 200, r.json
        assert r.json["user"]["role"] == account.role
    inspector_user = users["samr_inspector"]
    linked = demo.session.get(Inspector, inspector_user.inspector_id)
    assert linked.department.code == "SAMR" and linked.status == "active" and linked.name == inspector_user.display_name
    tax = users["tax_inspector"]
    assert demo.session.get(Inspector, tax.inspector_id).department.code == "TAX"
    assert users["tax_admin"].department.code == "TAX" and users["samr_planner"].department.code == "SAMR"
    assert users["admin"].department_id is None and users["supervisor"].department_id is None


def test_same_seed_same_data(demo):
    again = build_demo(**SMALL)
    assert again == build_demo(**SMALL)
    stored = demo.session.execute(select(Target.code, Target.name, Target.risk_class).order_by(Target.id)).all()
    assert [tuple(r) for r in stored] == [(t["code"], t["name"], t["risk_class"]) for t in again.targets]
    certs = demo.session.scalars(select(Inspector.cert_no).order_by(Inspector.id)).all()
    assert certs == [i["cert_no"] for i in again.inspectors]
    other = build_demo(**{**SMALL, "seed": 12})
    assert [t["code"] for t in other.targets] != [t["code"] for t in again.targets]


def test_too_few_targets_is_refused():
    with pytest.raises(InvalidInput):
        build_demo(targets=10)


def test_cli_refuses_to_seed_twice_without_force(app, database, db_session):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["demo", "seed", "--targets", "200", "--inspectors", "130", "--seed", "5"])
    assert result.exit_code == 0, result.output
    assert "samr_inspector" in result.output and data.DEMO_PASSWORD in result.output
    assert db_session.scalar(select(func.count()).select_from(Target)) == 200
    assert "演示历史：过去一年" in result.output
    history = {m: db_session.scalar(select(func.count()).select_from(m)) for m in (Task, Inspection, PublishedResult,
                                                                                   Followup)}
    assert all(history.values())

    again = runner.invoke(args=["demo", "seed", "--targets", "200", "--seed", "5"])
    assert again.exit_code == 1 and "已有数据" in again.output and "--force" in again.output
    assert data.DEMO_PASSWORD not in again.output

    skip = runner.invoke(args=["demo", "seed", "--if-empty"])
    assert skip.exit_code == 0 and "跳过" in skip.output
    assert db_session.scalar(select(func.count()).select_from(Target)) == 200
    assert {m: db_session.scalar(select(func.count()).select_from(m)) for m in history} == history

    forced = runner.invoke(args=["demo", "seed", "--targets", "200", "--inspectors", "130", "--seed", "5", "--force"])
    assert forced.exit_code == 0, forced.output
    assert "已存在而跳过" in forced.output and "账号已存在" in forced.output
    assert db_session.scalar(select(func.count()).select_from(Target)) == 200  # same seed: nothing new
    more = runner.invoke(args=["demo", "seed", "--targets", "100", "--seed", "6", "--force"])
    assert more.exit_code == 0, more.output
    assert db_session.scalar(select(func.count()).select_from(Target)) > 200
    assert db_session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "demo.seed")) == 3


def test_cli_refuses_production(database, db_session, tmp_path):
    app = make_test_app(database, tmp_path, ENV_NAME="production")
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--targets", "100"])
    assert result.exit_code == 1 and "生产环境" in result.output
    assert db_session.scalar(select(func.count()).select_from(Target)) == 0


def test_force_links_a_free_inspector_when_the_usual_one_is_taken(seeded, database, db_session):
    user = db_session.scalar(select(User).where(User.username == "samr_inspector"))
    user.username = "samr_inspector_old"  # the account was renamed; its inspector stays linked to it
    db_session.flush()
    with at_test_password_cost():
        again = seed_demo(database, **SMALL, force=True)
    created = {a.username: a for a in again.accounts if a.created}
    assert set(created) == {"samr_inspector"} and again.counts["targets"] == 0
    fresh = db_session.scalar(select(User).where(User.username == "samr_inspector"))
    linked = db_session.get(Inspector, fresh.inspector_id)
    assert fresh.inspector_id != user.inspector_id and linked.department.code == "SAMR"
    assert linked.status == "active" and fresh.display_name == linked.name
    assert created["samr_inspector"].inspector_cert_no == linked.cert_no


def test_the_demo_officers_have_a_drawn_joint_task(demo):
    """``./run.sh`` opens the officers' app on real work: the demo officers of 市场监管 and 税务 and
    their group's lead pull the same drawn businesses, with both departments' checklists."""
    from sync.client import Client
    from tests.field.conftest import FlaskTransport

    assert demo.seeded.counts["field_inspections"] == 4
    seen = {}
    for username in ("samr_lead", "samr_inspector", "tax_inspector"):
        phone = Client(FlaskTransport(demo.client))
        phone.login(username, data.DEMO_PASSWORD)
        phone.pull()
        docs = list(phone.docs["inspection"].values())
        [task] = phone.docs["task"].values()
        assert task["code"] == "SS-2026-DEMO" and {d["code"] for d in task["departments"]} == {"SAMR", "TAX"}
        assert all(len(d["items"]) == 1 and d["items"][0]["check_points"] for d in task["departments"])
        seen[username] = ({d["id"] for d in docs}, {d["me"]["is_lead"] for d in docs})
    assert seen["samr_lead"][0] == seen["samr_inspector"][0] == seen["tax_inspector"][0] and len(seen["samr_lead"][0]) == 4
    assert seen["samr_lead"][1] == {True} and seen["samr_inspector"][1] == seen["tax_inspector"][1] == {False}
    lead = demo.session.scalar(select(User).where(User.username == "samr_lead"))
    assert demo.session.get(Inspector, lead.inspector_id).department.code == "SAMR"


def _shanghai_day(when: dt.datetime) -> dt.date:
    return (when.replace(tzinfo=when.tzinfo or dt.timezone.utc).astimezone(dt.timezone(dt.timedelta(hours=8)))).date()


def test_a_year_of_history(demo):
    """``./run.sh`` shows real figures: past tasks drawn, inspected and submitted over the year before today,
    published on time or late, corrected, exempt, unpublished and overdue, with follow-ups closed (a photo)
    and open; each state counted here from the rows, not from the seed's own summary."""
    from backend.followups.models import CLOSED_STATES, Followup
    from backend.inspections.models import Inspection, Record, Signature
    from backend.media import storage
    from backend.media.models import Media
    from backend.plans.models import Task
    from backend.publication.models import PublicationExemption, PublishedResult

    tasks = demo.session.scalars(select(Task).where(Task.code.like("SS-2026-H%"))).all()
    assert len(tasks) == demo.seeded.counts["past_tasks"] >= 4
    assert all(TODAY - dt.timedelta(days=366) <= t.start_date < TODAY and t.status == "drawn" for t in tasks)
    inspections = demo.session.scalars(select(Inspection).where(Inspection.task_id.in_([t.id for t in tasks]))).all()
    assert len(inspections) == demo.seeded.counts["past_inspections"] >= 20
    for i in inspections:
        record = demo.session.get(Record, i.id)
        assert i.status == "completed" and record.state == "submitted" and record.content_hash
        assert TODAY - dt.timedelta(days=366) < i.completed_on < TODAY and i.publication_due_on > i.completed_on
        signers = demo.session.scalars(select(Signature.role).where(Signature.inspection_id == i.id,
                                                                  Signature.scope == "record")).all()
        assert "representative" in signers and "officer" in signers
    months = {i.completed_on.replace(day=1) for i in inspections}
    assert len(months) >= 5  # spread over the year
    # 掌上执法率 (docs/figures.md): each section written from its officer's phone, none from an office demo.client
    from sync.models import SyncClient, SyncMutation

    writes = demo.session.execute(select(SyncMutation.inspection_id, SyncClient.kind, SyncClient.user_id, User.inspector_id)
                                .join(SyncClient, SyncClient.id == SyncMutation.client_id)
                                .join(User, User.id == SyncClient.user_id)
                                .where(SyncMutation.name.like("section.%"),
                                       SyncMutation.inspection_id.in_([i.id for i in inspections]))).all()
    assert {w.kind for w in writes} == {"phone"} and {w.inspection_id for w in writes} == {i.id for i in inspections}
    writers = {w.inspector_id for w in writes}
    assert writers <= set(demo.session.scalars(select(Signature.signer_inspector_id).where(
        Signature.inspection_id.in_([i.id for i in inspections]), Signature.scope == "section")))

    state = Counter()
    for i in inspections:
        if i.published_at is not None:
            state["published_on_time" if _shanghai_day(i.published_at) <= i.publication_due_on
                  else "published_late"] += 1
        elif i.publication_exempt_at is not None:
            assert demo.session.scalar(select(PublicationExemption.status).where(
                PublicationExemption.inspection_id == i.id)) == "approved"
            state["exempt"] += 1
        elif i.publication_due_on < TODAY:
            state["overdue"] += 1
        else:
            state["not_yet_due"] += 1
    assert all(state[k] >= 1 for k in ("published_on_time", "published_late", "exempt", "overdue", "not_yet_due")), \
        state
    assert state["published_on_time"] > state["published_late"] and 1 <= state["exempt"] <= 2
    assert state["published_on_time"] + state["published_late"] == (
        demo.seeded.counts["past.publication.on_time"] + demo.seeded.counts["past.publication.late"]
        + demo.seeded.counts["past.publication.corrected"])
    assert state["overdue"] == demo.seeded.counts["past.publication.overdue"]

    results = demo.session.scalars(select(PublishedResult).where(PublishedResult.task_id.in_([t.id for t in tasks]))).all()
    assert len(results) == demo.seeded.counts["past.published_versions"]
    corrected = [r for r in results if r.version == 2]
    assert len(corrected) == 1 and corrected[0].change_note and corrected[0].state == "current"
    old = demo.session.get(PublishedResult, corrected[0].supersedes_id)
    assert old.state == "superseded" and old.superseded_at == corrected[0].published_at > old.published_at
    assert {r.kind for r in results} == {"record", "department"}  # the lead's record and 税务's own part
    public = demo.client.get("/api/public/results", query_string={"task": tasks[0].code})
    assert public.status_code == 200 and public.json["total"] >= 1

    rows = demo.session.scalars(select(Followup).where(Followup.task_id.in_([t.id for t in tasks]))).all()
    follow = Counter()
    for f in rows:
        if f.state in CLOSED_STATES:
            [evidence] = f.steps[-1].evidence
            assert storage.exists(demo.media, evidence) and demo.session.get(Media, evidence).kind == "photo"
            assert f.closed_at is not None and _shanghai_day(f.closed_at) < TODAY
            follow["closed"] += 1
        elif f.due_on < TODAY:
            follow["open_overdue"] += 1
        else:
            follow["open"] += 1
    assert follow["closed"] >= 3 and follow["open_overdue"] >= 1 and follow["open"] >= 1, follow
    assert len(rows) == sum(v for k, v in demo.seeded.counts.items() if k.startswith("past.followups."))
    assert {f.state for f in rows} >= {"rectified", "transferred", "ordered", "notified"}


def test_history_is_seeded_once(seeded, database, db_session):
    from backend.demo.history import seed_history
    from backend.plans.models import Task
    from backend.publication.models import PublishedResult

    tasks = db_session.scalar(select(func.count()).select_from(Task))
    results = db_session.scalar(select(func.count()).select_from(PublishedResult))
    again = seed_history(database, TODAY)
    assert again.inspections == 0 and "已存在" in again.note
    assert db_session.scalar(select(func.count()).select_from(Task)) == tasks
    assert db_session.scalar(select(func.count()).select_from(PublishedResult)) == results
