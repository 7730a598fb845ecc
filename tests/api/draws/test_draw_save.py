"""A draw's rows (groups, members, inspections, facts) as the result says, whether sent while the targets were
ranked (PostgreSQL: ``services_save.Saver``'s thread) or at the end; nothing kept when any part fails."""
from __future__ import annotations

from sqlalchemy import func, select, text

from backend.directory.models import Department, Inspector, Target
from backend.draws import services_save
from backend.draws.models import Draw, GroupMember, InspectionGroup
from backend.figures.facts import FigureFact
from backend.inspections.models import Inspection
from backend.plans.models import Task
from tests.api.draws.test_draw_flow import commit, seed


def test_the_rows_are_the_result_and_each_inspection_has_its_fact(client, scenario, db_session):
    s = scenario()
    assert commit(client, s).status_code == 201
    r = seed(client, s)
    assert r.status_code == 200, r.json
    result = r.json["result"]
    draw_id = db_session.scalar(select(Draw.id).where(Draw.task_id == s.task.id))
    groups = db_session.execute(select(InspectionGroup.id, InspectionGroup.number, Inspector.cert_no)
                                .join(Inspector, Inspector.id == InspectionGroup.leader_id)
                                .where(InspectionGroup.draw_id == draw_id).order_by(InspectionGroup.id)).all()
    assert [g.number for g in groups] == list(range(len(result["groups"])))   # ids in the groups' order
    assert [g.cert_no for g in groups] == [g["leader"] for g in result["groups"]]
    number = {g.id: g.number for g in groups}
    members = db_session.execute(select(GroupMember.group_id, Department.code, GroupMember.position, Inspector.cert_no)
                                 .join(Inspector, Inspector.id == GroupMember.inspector_id)
                                 .join(Department, Department.id == GroupMember.department_id)
                                 .where(GroupMember.group_id.in_(list(number)))).all()
    drawn = {}
    for m in sorted(members, key=lambda m: (number[m.group_id], m.code, m.position)):
        drawn.setdefault(number[m.group_id], {}).setdefault(m.code, []).append(m.cert_no)
    assert [drawn[n] for n in range(len(groups))] == [g["members"] for g in result["groups"]]
    rows = db_session.execute(select(Inspection.id, Inspection.group_id, Inspection.position, Inspection.stratum,
                                     Target.code, Inspection.status, Inspection.target_id, Target.region_code)
                              .join(Target, Target.id == Inspection.target_id)
                              .where(Inspection.draw_id == draw_id).order_by(Inspection.id)).all()
    n_groups = len(groups)
    # every drawn business once; each group's targets, read by position, in the result's order (the ids follow
    # the order the strata were ranked in: nothing reads them in order)
    assert sorted(r.code for r in rows) == sorted(code for codes in result["selected"].values() for code in codes)
    assert len({r.id for r in rows}) == len(rows)
    by_group = {}
    for r in sorted(rows, key=lambda r: r.position):
        by_group.setdefault(number[r.group_id], []).append(r.code)
    assert [by_group.get(n, []) for n in range(n_groups)] == [g["targets"] for g in result["groups"]]
    assert all(r.position == result["groups"][number[r.group_id]]["targets"].index(r.code) * n_groups
               + number[r.group_id] for r in rows)
    stratum_of = {code: st for st, codes in result["selected"].items() for code in codes}
    assert all(r.stratum == stratum_of[r.code] and r.status == "assigned" for r in rows)
    # one fact per inspection, of its business, region and stratum, and none for anything else
    facts = {f.inspection_id: (f.target_id, f.region_code, f.stratum, f.status) for f in db_session.execute(
        select(FigureFact.inspection_id, FigureFact.target_id, FigureFact.region_code, FigureFact.stratum,
               FigureFact.status).where(FigureFact.task_id == s.task.id))}
    assert facts == {r.id: (r.target_id, r.region_code, r.stratum, "assigned") for r in rows}


def test_a_failure_in_what_was_sent_while_ranking_keeps_nothing(client, scenario, db_session, monkeypatch):
    s = scenario()
    assert commit(client, s).status_code == 201
    sent = []

    def lost(self, codes, stratum):
        sent.append(self.group_ids)   # the groups and members were sent before
        self.conn.execute(text("SELECT 1 / 0"))   # an error of the database, in the thread

    monkeypatch.setattr(services_save.Saver, "_lock_targets", lost)
    r = seed(client, s)
    if db_session.get_bind().dialect.name != "postgresql":
        # SQLite: nothing is sent while ranking (one writer; the rows go after the ranking, as before)
        assert r.status_code == 200, r.json
        assert not sent
        assert db_session.scalar(select(func.count()).select_from(Inspection)) > 0
        return
    assert r.status_code == 422, r.json   # the database error of the thread is the request's
    assert r.json["code"] == "invalid_value"
    assert sent and sent[0]   # the groups were inserted by then
    assert db_session.scalar(select(func.count()).select_from(InspectionGroup)) == 0
    assert db_session.scalar(select(func.count()).select_from(GroupMember)) == 0
    assert db_session.scalar(select(func.count()).select_from(Inspection)) == 0
    assert db_session.scalar(select(func.count()).select_from(FigureFact)) == 0
    assert db_session.scalar(select(Task.status).where(Task.id == s.task.id)
                             .execution_options(populate_existing=True)) == "committed"


def test_a_failure_after_the_facts_were_sent_keeps_no_fact(client, scenario, db_session, monkeypatch):
    """PostgreSQL: the facts go in while the strata are ranked, the inspections after: a failure of the
    inspections' statement takes the facts (and groups, members) with it."""
    s = scenario()
    assert commit(client, s).status_code == 201
    seen = []
    insert_inspections = services_save._pg_insert_inspections

    def fails(conn, *args):
        seen.append(conn.scalar(select(func.count()).select_from(FigureFact)))   # the facts, sent before
        conn.execute(text("SELECT 1 / 0"))
        return insert_inspections(conn, *args)

    monkeypatch.setattr(services_save, "_pg_insert_inspections", fails)
    r = seed(client, s)
    if db_session.get_bind().dialect.name != "postgresql":
        assert r.status_code == 200, r.json   # SQLite saves otherwise (facts.note), all at the end
        assert not seen
        return
    assert r.status_code == 422, r.json
    assert seen and seen[0] > 0
    for model in (FigureFact, Inspection, InspectionGroup, GroupMember):
        assert db_session.scalar(select(func.count()).select_from(model)) == 0, model
    assert db_session.scalar(select(Task.status).where(Task.id == s.task.id)
                             .execution_options(populate_existing=True)) == "committed"


def test_a_failed_draw_after_the_crew_was_sent_keeps_no_group(client, scenario, factory, db_session):
    """The recusal fails after the groups and members were sent (PostgreSQL): they go with the rollback; the
    failure itself is kept (test_draw_flow)."""
    s = scenario(risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}}, inspectors=(2, 1), group_load=2)
    for inspector in s.inspectors[s.lead.code]:
        factory.conflict(inspector, s.targets[0])
    assert commit(client, s).status_code == 201
    r = seed(client, s)
    assert r.status_code == 422 and r.json["code"] == "draw.no_replacement"
    assert db_session.scalar(select(func.count()).select_from(InspectionGroup)) == 0
    assert db_session.scalar(select(func.count()).select_from(GroupMember)) == 0
    assert db_session.scalar(select(func.count()).select_from(FigureFact)) == 0
