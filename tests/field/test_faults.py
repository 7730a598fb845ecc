"""Fault tests of the sync protocol, on SQLite and PostgreSQL (docs/sync.md §Guarantees)."""
from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from backend.auth.tokens import TokenSettings, issue_access_token
from backend.inspections import batch as batch_module
from backend.inspections.models import Section
from sync import changes
from sync.client import Client
from sync.models import SyncChange, SyncClient, SyncMutation
from tests.factories import PASSWORD, AuthActions, Factory
from tests.field.conftest import FlaskTransport, build_field


def test_a_push_cut_half_way_rolls_back_and_the_retry_succeeds(field, db_session, monkeypatch):
    phone = field.phone(field.lead_officer)
    for inspection in field.inspections:
        phone.set_section(inspection.id, field.lead_dept.id, field.full_section(field.lead_item))
    real_finish = batch_module.FieldBatch.finish
    calls = []

    def cut(self, session, summary=None):
        calls.append(1)
        if len(calls) == 1:   # the connection drops after the mutations were applied in memory and half written
            session.flush()
            raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
        return real_finish(self, session, summary)

    monkeypatch.setattr(batch_module.FieldBatch, "finish", cut)
    from sync.client import SyncError

    with pytest.raises(SyncError) as e:
        phone.push()
    assert e.value.status == 503 and e.value.body["code"] == "db.unavailable"
    assert phone.pending() == 2
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Section)) == 0
    client = db_session.get(SyncClient, phone.client_id)
    assert client is None or client.last_mutation_id == 0
    results = phone.push()
    assert [r["status"] for r in results] == ["applied", "applied"] and not any(r.get("replayed") for r in results)
    assert db_session.scalar(select(func.count()).select_from(Section)) == 2


class _Deadlock(Exception):
    sqlstate = "40P01"        # what psycopg's DeadlockDetected carries


def test_a_push_chosen_to_break_a_deadlock_is_applied_again_at_once(field, db_session, monkeypatch):
    """PostgreSQL rolls back one of two deadlocked transactions: the push is applied again from the start in
    the same request (nothing of the first attempt was kept), and each mutation is applied once."""
    phone = field.phone(field.lead_officer)
    for inspection in field.inspections:
        phone.set_section(inspection.id, field.lead_dept.id, field.full_section(field.lead_item))
    real_finish = batch_module.FieldBatch.finish
    calls = []

    def deadlocked(self, session, summary=None):
        calls.append(1)
        if len(calls) == 1:
            session.flush()
            raise OperationalError("UPDATE inspection", {}, _Deadlock("deadlock detected"))
        return real_finish(self, session, summary)

    monkeypatch.setattr(batch_module.FieldBatch, "finish", deadlocked)
    results = phone.push()
    assert len(calls) == 2
    assert [r["status"] for r in results] == ["applied", "applied"] and not any(r.get("replayed") for r in results)
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(Section)) == 2
    assert db_session.get(SyncClient, phone.client_id).last_mutation_id == 2
    assert db_session.scalar(select(func.count()).select_from(SyncMutation)
                             .where(SyncMutation.client_id == phone.client_id)) == 2


def test_a_token_expired_mid_sync_is_refreshed_and_the_same_outbox_goes_through(field, db_session):
    phone = field.phone(field.lead_officer)
    phone.login(field.lead_officer.username, PASSWORD)
    for i in range(150):  # two batches
        phone.set_section(field.inspection.id, field.lead_dept.id, {"note": f"第 {i} 次"})
    expired_settings = TokenSettings(field.app.config["SECRET_KEY"], "shuangsui", "shuangsui-api", -5)
    transport = phone.transport
    real = transport.request
    sent = []

    def expire_after_first_push(method, path, headers, body):
        r = real(method, path, headers, body)
        if path == "/api/sync/push" and r.status == 200 and not sent:
            sent.append(1)
            import jwt

            sid = jwt.decode(phone.access_token, options={"verify_signature": False})["sid"]
            phone.access_token = issue_access_token(expired_settings, field.lead_officer, sid)[0]
        return r

    transport.request = expire_after_first_push
    results = phone.push()
    assert len(results) == 150 and all(r["status"] == "applied" for r in results)
    assert phone.refreshes == 1 and phone.pending() == 0
    assert db_session.scalar(select(SyncClient.last_mutation_id).where(SyncClient.id == phone.client_id)) == 150


# --- real commits, several connections ------------------------------------------------------------

@pytest.fixture()
def committed_field(committed_db, app):
    with committed_db.session_scope() as session:
        factory = Factory(session)
        f = build_field(app, app.test_client(), factory, AuthActions(app, factory), session, targets=6)
        ids = {"inspections": [i.id for i in f.inspections], "lead_dept": f.lead_dept.id, "other_dept": f.other_dept.id,
               "lead_points": f.points(f.lead_item), "lead_item": f.lead_item.id,
               "officer": f.lead_officer, "lead": f.lead_user, "other": f.other_officer}
    return ids


def _phone(app, user, **kw):
    c = Client(FlaskTransport(app.test_client()), **kw)
    c.access_token = AuthActions(app, None).token(user)
    return c


@pytest.mark.committed
def test_two_pushes_of_one_client_at_once_apply_once(committed_field, committed_db, app):
    f = committed_field
    template = _phone(app, f["officer"])
    for n in range(20):
        template.set_section(f["inspections"][n % 6], f["lead_dept"], {"note": f"第 {n} 条"})
    phones = [Client.from_state(FlaskTransport(app.test_client()), template.state()) for _ in range(2)]
    barrier = threading.Barrier(2)
    outcomes = []

    def run(p):
        barrier.wait()
        try:
            outcomes.append(p.push())
        except Exception as exc:  # noqa: BLE001
            outcomes.append(exc)

    threads = [threading.Thread(target=run, args=(p,)) for p in phones]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(isinstance(o, list) for o in outcomes), outcomes
    fresh = [r for o in outcomes for r in o if not r.get("replayed")]
    assert len(fresh) == 20 and {r["id"] for r in fresh} == set(range(1, 21))
    with committed_db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(SyncMutation)) == 20
        assert session.scalar(select(SyncClient.last_mutation_id)) == 20
        revs = sorted(session.scalars(select(Section.rev)))
        assert sum(revs) == 20


@pytest.mark.committed
def test_a_pull_paging_while_others_commit_skips_nothing(committed_field, committed_db, app, monkeypatch):
    """Writers whose transactions overlap (one holds its change numbers while another commits) and a reader
    paging one inspection at a time: every change lands in the pull whose range covers it."""
    f = committed_field
    real_append = changes.append
    slow = threading.local()

    def append_then_linger(session, rows):
        out = real_append(session, rows)
        if getattr(slow, "on", False):
            time.sleep(0.05)   # hold the numbers (and, with the lock, everyone else) a while before commit
        return out

    monkeypatch.setattr(changes, "append", append_then_linger)
    monkeypatch.setattr(batch_module.changes, "append", append_then_linger)
    stop = threading.Event()
    errors = []

    def writer(user, dept, k, linger):
        slow.on = linger
        phone = _phone(app, user)
        n = 0
        while not stop.is_set() and n < 25:
            phone.set_section(f["inspections"][(k + n) % 6], dept, {"note": f"{k}-{n}"})
            try:
                phone.push()
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
            n += 1

    reader = _phone(app, f["lead"])
    reader.pull()        # start at the frontier, where transactions are in flight
    pages = []

    def one_pull():
        """Pages of one inspection until the pull is done: (from, to, the inspections it sent)."""
        before, seen = int(reader.cursor or 0), set()
        while True:
            query = f"/api/sync/pull?client_id={reader.client_id}&limit=1" + (f"&cursor={reader.cursor}" if reader.cursor else "")
            body = reader._ok(reader._send("GET", query))
            seen |= {c["id"] for c in body["changes"] if c["type"] == "inspection"}
            reader.cursor = body["cursor"]
            if not body["has_more"]:
                pages.append((before, int(body["cursor"]), seen))
                return

    def read():
        while not stop.is_set():
            one_pull()

    threads = [threading.Thread(target=writer, args=(f["officer"], f["lead_dept"], 0, True)),
               threading.Thread(target=writer, args=(f["lead"], f["lead_dept"], 3, False)),
               threading.Thread(target=writer, args=(f["other"], f["other_dept"], 1, False)),
               threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads[:3]:
        t.join(120)
    stop.set()
    threads[3].join(60)
    assert not errors, errors
    one_pull()   # drain
    with committed_db.session_scope() as session:
        rows = session.execute(select(SyncChange.seq, SyncChange.inspection_id)
                               .where(SyncChange.reason == "push")).all()
    assert len(rows) >= 40
    for seq, inspection_id in rows:
        covering = [p for p in pages if p[0] < seq <= p[1]]
        assert covering, f"change {seq} fell between pulls"
        assert any(inspection_id in p[2] for p in covering), f"change {seq} (inspection {inspection_id}) was skipped"


@pytest.mark.committed
def test_two_officers_writing_a_new_section_at_once_both_get_through(committed_field, committed_db, app):
    """The first writes of one department's section from two phones at the same instant: the section row is
    created once, both writes land (different fields), nobody gets an error."""
    f = committed_field
    outcomes = []
    for inspection_id in f["inspections"]:
        phones = [_phone(app, f["officer"]), _phone(app, f["lead"])]
        phones[0].set_section(inspection_id, f["lead_dept"], {"note": "甲"})
        phones[1].set_section(inspection_id, f["lead_dept"], {"arrived_at": "2026-04-08T09:00:00+08:00"})
        barrier = threading.Barrier(2)

        def run(phone):
            barrier.wait()
            try:
                outcomes.append([r["status"] for r in phone.push()])
            except Exception as exc:  # noqa: BLE001
                outcomes.append(repr(exc))

        threads = [threading.Thread(target=run, args=(p,)) for p in phones]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert outcomes == [["applied"]] * (2 * len(f["inspections"])), outcomes
    with committed_db.session_scope() as session:
        sections = session.scalars(select(Section).where(Section.department_id == f["lead_dept"])).all()
        assert len(sections) == len(f["inspections"]) and all(s.rev == 2 for s in sections)
