"""Figure facts (backend/figures/facts.py): kept by the services, in the transaction that changes them, equal at
every step to the facts computed again from scratch — through submission, publication, correction, exemption,
a follow-up carried to closure, a phone's sync writes and the rows a figure depends on changing under it."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import insert, select, update

from backend.auth.roles import Role
from backend.directory.models import Target
from backend.figures import facts, services
from backend.figures.facts import FigureFact, RegionCount
from backend.inspections.deadlines import today_shanghai
from backend.inspections.models import Inspection, Record
from backend.plans.models import Plan, Task
from sync.models import SyncClient, SyncMutation
from tests.api.publication.results_world import World
from tests.field.conftest import build_field
from tests.field.test_followups import RECTIFY, _rows, _step, evidence, submit_with_followups

PUBLISH = "/api/v1/publication/inspections/{}/publish"
CORRECT = "/api/v1/publication/inspections/{}/correct"
DECISION = "/api/v1/publication/inspections/{}/exemption/decision"


def _facts(session) -> list[tuple]:
    return [tuple(getattr(f, c) for c in facts.COLUMNS)
            for f in session.scalars(select(FigureFact).order_by(FigureFact.inspection_id)
                                     .execution_options(populate_existing=True))]


def _regions(session) -> dict[str, int]:
    return {r.region_code: r.registered for r in session.scalars(select(RegionCount).execution_options(
        populate_existing=True)) if r.registered}


def assert_equal_to_a_rebuild(session) -> list[tuple]:
    """The facts (and the registered businesses per region) as maintained — what a reader sees: this
    transaction's notes settled — equal a rebuild."""
    session.flush()
    facts.settle(session)
    kept, regions = _facts(session), _regions(session)
    facts.rebuild(session.connection())
    assert kept == _facts(session)
    assert regions == _regions(session)
    return kept


def test_the_facts_stay_equal_to_a_rebuild_through_a_sequence_of_changes(app, client, factory, auth, db_session):
    f = build_field(app, client, factory, auth, db_session, targets=5)
    world = World(f, factory.user(Role.PUBLISHER, f.lead_dept), factory.user(Role.DEPT_ADMIN, f.lead_dept),
                  factory.user(Role.PUBLISHER, f.other_dept), factory.user(Role.PUBLISHER, factory.department()))
    session = db_session
    ids = [i.id for i in f.inspections]
    drawn = assert_equal_to_a_rebuild(session)
    assert [row[0] for row in drawn] == sorted(ids)               # the draw made one fact per inspection
    assert {row[facts.COLUMNS.index("status")] for row in drawn} == {"assigned"}

    def post(user, url, body=None):
        r = client.post(url, json=body or {}, headers=world.headers(user))
        assert r.status_code in (200, 201), r.json
        return r

    def fact(inspection_id) -> dict:
        session.flush()
        facts.settle(session)
        row = session.scalars(select(FigureFact).where(FigureFact.inspection_id == inspection_id)
                              .execution_options(populate_existing=True)).one()
        return {c: getattr(row, c) for c in facts.COLUMNS}

    # submitted (by the service), then published, then corrected
    i0 = world.submit(0)
    assert fact(i0)["submitted"] and not fact(i0)["done"]
    assert_equal_to_a_rebuild(session)
    post(world.lead_publisher, PUBLISH.format(i0), {"remarks": "初稿"})
    assert fact(i0)["done"] and fact(i0)["published_on"] == today_shanghai()
    post(world.lead_publisher, CORRECT.format(i0), {"remarks": "更正", "change_note": "备注有误，更正"})
    assert_equal_to_a_rebuild(session)
    # 不适合公开, approved by another than the lead
    i1 = world.submit(1, not_public="涉及正在查办的案件")
    post(world.lead_admin, DECISION.format(i1), {"decision": "approve"})
    assert fact(i1)["exempt"] and fact(i1)["on_time_publication"]
    assert_equal_to_a_rebuild(session)
    # a record with follow-ups, one of them carried to closure on re-inspection
    i2 = submit_with_followups(f, session, ids[2])
    assert fact(i2)["problem"]
    admin = factory.user(Role.DEPT_ADMIN, f.lead_dept)
    _step(f, admin, _rows(session, i2)[RECTIFY].id, "reinspection",
          {"inspected_on": today_shanghai().isoformat(), "findings": "已悬挂", "outcome": "rectified",
           "evidence": [evidence(factory, admin)]})
    assert_equal_to_a_rebuild(session)
    # a phone's section writes, as the sync engine records them (one bulk statement)
    phone = SyncClient(id=str(uuid.uuid4()), user_id=f.lead_user.id, kind="phone")
    session.add(phone)
    session.flush()
    session.execute(insert(SyncMutation), [
        {"client_id": phone.id, "mutation_id": n + 1, "name": "section.set", "status": "applied",
         "inspection_id": iid} for n, iid in enumerate((i0, i1))])
    assert fact(i0)["from_phone"] and fact(i1)["from_phone"]
    # what the figures depend on changing under them: the record's categories, the business's region, the
    # task's end date, the plan's level, an inspection started by a bulk statement
    record = session.get(Record, i0)
    record.data = {**record.data, "result_categories": ["unreachable"]}
    region = factory.region("411203", "陕州区", "county")
    session.get(Target, f.inspections[3].target_id).region_code = region.code
    task = session.get(Task, f.task.id)
    task.end_date = task.end_date + dt.timedelta(days=3)
    session.get(Plan, task.plan_id).level = "province"
    session.execute(update(Inspection).where(Inspection.id == ids[4]).values(status="in_progress")
                    .execution_options(synchronize_session=False))
    session.flush()
    assert fact(i0)["problem"] and fact(ids[3])["region_code"] == "411203"
    assert fact(ids[4])["status"] == "in_progress" and fact(i0)["level"] == "province"
    assert fact(i0)["task_end_date"] == task.end_date
    assert_equal_to_a_rebuild(session)
    # businesses registered, moved, closed: the coverage's denominator follows
    session.get(Target, f.inspections[0].target_id).status = "closed"
    factory.target(region=region)
    factory.target(region=region, status="closed")
    assert_equal_to_a_rebuild(session)
    assert _regions(session)["411203"] >= 2
    # no longer drawn: no fact
    session.get(Inspection, ids[3]).status = "replaced"
    session.flush()
    kept = assert_equal_to_a_rebuild(session)
    assert ids[3] not in [row[0] for row in kept]


def test_coverage_by_the_level_that_set_the_task(app, client, factory, auth, db_session):
    f = build_field(app, client, factory, auth, db_session, targets=3)
    world = World(f, factory.user(Role.PUBLISHER, f.lead_dept), factory.user(Role.DEPT_ADMIN, f.lead_dept),
                  factory.user(Role.PUBLISHER, f.other_dept), factory.user(Role.PUBLISHER, factory.department()))
    for n in (0, 1):
        r = client.post(PUBLISH.format(world.submit(n)), json={}, headers=world.headers(world.lead_publisher))
        assert r.status_code == 201, r.json
    plan = db_session.get(Plan, f.task.plan_id)
    assert plan.level == "county"                        # the default
    plan.level = "city"
    db_session.flush()
    year = str(f.task.end_date.year)
    got = {x["key"]: x for x in client.get("/api/v1/figures", query_string={"period": year},
                                            headers=auth.headers(factory.user(Role.SUPERVISOR))).json["figures"]}
    registered = db_session.scalar(select(services.func.count()).select_from(Target).where(Target.status == "active"))
    coverage = got["coverage"]
    assert (coverage["numerator"], coverage["denominator"]) == (2, registered)
    assert [(x["level"], x["numerator"], x["denominator"], x["target"]) for x in coverage["by_level"]] == [
        ("province", 0, registered, 0.005), ("city", 2, registered, 0.005), ("county", 0, registered, 0.02)]
    assert "available" not in coverage


def test_the_repair_command_rebuilds_every_fact(app, client, factory, auth, db_session):
    f = build_field(app, client, factory, auth, db_session, targets=2)
    db_session.flush()
    facts.settle(db_session)
    db_session.execute(FigureFact.__table__.delete())          # lost (a bulk write that bypassed the hooks)
    result = app.test_cli_runner().invoke(args=["figures", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "已重新计算 2 条" in result.output
    assert [row[0] for row in _facts(db_session)] == sorted(i.id for i in f.inspections)


def test_a_commit_that_noted_nothing_waits_for_no_write_lock(tmp_path):
    """On SQLite a write session begins with BEGIN IMMEDIATE (the write lock). Committing a session that
    wrote nothing a fact reads opens no connection for the facts: it returns while another writer holds the
    lock (before, the refresh's connection waited for it, up to the 30 s busy timeout)."""
    import threading

    import backend.models  # noqa: F401 - every table
    from backend.db import Base, Database

    db = Database(f"sqlite:///{tmp_path / 'facts.sqlite'}")
    Base.metadata.create_all(db.engine)
    holder = db.session(write=True)
    holder.connection()                                 # another writer holds the lock (BEGIN IMMEDIATE)
    done = threading.Event()
    session = db.session(write=True)

    def commit():
        session.commit()
        done.set()

    worker = threading.Thread(target=commit, daemon=True)
    worker.start()
    try:
        assert done.wait(5), "the commit waited for the write lock"
    finally:
        holder.rollback()
        holder.close()
        worker.join(35)
        session.close()
        db.engine.dispose()
