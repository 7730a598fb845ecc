"""The chainer (backend/audit/chainer.py) on PostgreSQL with real commits: pushes commit in parallel, each writing
one pending row; the chainer links them into the audit chain and numbers their changes after commit.

* a crash between a push's commit and its chain run leaves the row pending: its changes are not pullable yet,
  the next run links it, and the chain verifies;
* pushes from many threads (each its own connection), with other writers of the chain (``audit.record``) among
  them: a whole chain (verify), and change numbers without a gap at every moment a reader looks (a pull that
  sees number n sees every number below it), each push's change numbered once;
* several pending rows linked by one run (the triggers take a run of entries and the head's move onto its last);
* a pending row written in the database without the audit key is not linked as written."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select, text

from backend.actor import Actor
from backend.audit import chainer
from backend.audit import services as audit
from backend.audit.models import AuditEntry, AuditHead, ChainPending
from backend.audit.services import verify_chain
from sync import changes
from sync.client import Client
from sync.models import SyncChange, SyncHead
from tests.conftest import fresh_database, make_test_app, require_postgresql
from tests.factories import AuthActions, Factory
from tests.field.conftest import FlaskTransport, build_field


@pytest.fixture()
def pg(tmp_path_factory):
    require_postgresql("推送并行提交、审计记录入链")
    with fresh_database("postgresql", tmp_path_factory, "chainer") as db:
        yield db


def _field(pg, tmp_path, targets=1):
    app = make_test_app(pg, tmp_path / "app")
    with pg.session_scope() as session:
        factory = Factory(session)
        f = build_field(app, app.test_client(), factory, AuthActions(app, factory), session, targets=targets)
        ids, dept, officer = [i.id for i in f.inspections], f.lead_dept.id, f.lead_officer
    return app, ids, dept, officer


def _phone(app, officer) -> Client:
    phone = Client(FlaskTransport(app.test_client()))
    phone.access_token = AuthActions(app, None).token(officer)
    return phone


def _state(pg):
    with pg.session_scope(write=False) as s:
        return (s.scalar(select(func.count()).select_from(ChainPending)), s.get(AuditHead, 1).seq,
                s.scalar(select(SyncHead.seq).where(SyncHead.id == 1)))


def test_a_crash_between_commit_and_chain_leaves_a_pending_row_that_the_next_run_links(pg, tmp_path, monkeypatch):
    app, ids, dept, officer = _field(pg, tmp_path)
    phone = _phone(app, officer)
    pending0, head0, seq0 = _state(pg)
    assert pending0 == 0
    monkeypatch.setattr(chainer, "after_commit", lambda session, mine: None)     # the process died here
    phone.set_section(ids[0], dept, {"note": "现场已检查"})
    assert [r["status"] for r in phone.push()] == ["applied"]
    assert _state(pg) == (1, head0, seq0)          # committed, not in the chain, no change number: not pullable
    with pg.session_scope(write=False) as s:
        report = verify_chain(s)
        assert report.ok and report.pending == 1    # the chain so far is whole; one row waits
    monkeypatch.undo()
    with pg.session_scope() as s:
        assert chainer.run(s) == 1
    assert _state(pg) == (0, head0 + 1, seq0 + 1)
    with pg.session_scope(write=False) as s:
        assert verify_chain(s).ok
        entry = s.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1))
        assert entry.action == "sync.push" and entry.detail["inspections"] == [ids[0]] and entry.pending_id
        change = s.scalar(select(SyncChange).order_by(SyncChange.seq.desc()).limit(1))
        assert (change.seq, change.inspection_id, change.reason) == (seq0 + 1, ids[0], "push")
    # the next push finds nothing of the earlier one left and links its own
    phone.set_section(ids[0], dept, {"note": "复核无误"})
    assert [r["status"] for r in phone.push()] == ["applied"]
    assert _state(pg) == (0, head0 + 2, seq0 + 2)


def test_one_run_links_several_pending_rows_in_id_order(pg, tmp_path, monkeypatch):
    app, ids, dept, officer = _field(pg, tmp_path, targets=3)
    pending0, head0, seq0 = _state(pg)
    monkeypatch.setattr(chainer, "after_commit", lambda session, mine: None)
    phones = [_phone(app, officer) for _ in ids]
    for phone, iid in zip(phones, ids):
        phone.set_section(iid, dept, {"note": f"第 {iid} 户"})
        assert [r["status"] for r in phone.push()] == ["applied"]
    assert _state(pg) == (3, head0, seq0)
    with pg.session_scope() as s:
        pending_ids = list(s.scalars(select(ChainPending.id).order_by(ChainPending.id)))
        assert chainer.run(s, limit=2) == 3                   # two transactions: 2, then 1
    assert _state(pg) == (0, head0 + 3, seq0 + 3)
    with pg.session_scope(write=False) as s:
        assert verify_chain(s).ok
        entries = s.scalars(select(AuditEntry).where(AuditEntry.id > head0).order_by(AuditEntry.id)).all()
        assert [e.pending_id for e in entries] == pending_ids
        assert [e.detail["inspections"] for e in entries] == [[i] for i in ids]
        assert [c.inspection_id for c in s.scalars(select(SyncChange).where(SyncChange.seq > seq0)
                                                   .order_by(SyncChange.seq))] == ids


def test_a_pending_row_written_without_the_key_is_recorded_as_refused(pg):
    with pg.session_scope() as s:
        head0 = s.get(AuditHead, 1).seq
        seq0 = s.scalar(select(SyncHead.seq))
        fields = chainer.pending(s, Actor.system("forger"), "sync.push", "sync_client", "x",
                                 detail={"inspections": [1]}, changes=[("inspection", 1, 1, "push")],
                                 at=audit.utcnow())
        fields["actor_label"] = "someone else"          # changed after its MAC: as if written without the key
        s.execute(text("WITH " + chainer.PENDING_CTE.format(ok="true") + " SELECT id FROM chain_p"),
                  chainer.pending_params(fields))
    with pg.session_scope() as s:
        assert chainer.run(s) == 1
    with pg.session_scope(write=False) as s:
        entry = s.get(AuditEntry, head0 + 1)
        assert (entry.action, entry.entity_type, entry.detail["reason"]) == (chainer.REFUSED, "chain_pending", "mac")
        assert s.scalar(select(SyncHead.seq)) == seq0           # its changes are not numbered
        assert verify_chain(s).ok


def test_concurrent_pushes_give_a_whole_chain_and_change_numbers_without_gaps(pg, tmp_path):
    threads_n, pushes = 6, 5
    app, ids, dept, officer = _field(pg, tmp_path, targets=threads_n)
    _pending0, head0, seq0 = _state(pg)
    errors: list[BaseException] = []
    done = threading.Event()
    looks = [0]

    def pusher(iid):
        try:
            phone = _phone(app, officer)
            for n in range(pushes):
                phone.set_section(iid, dept, {"note": f"第 {n} 次"})
                assert [r["status"] for r in phone.push()] == ["applied"]
        except BaseException as exc:   # noqa: BLE001 - reported by the test
            errors.append(exc)

    def recorder():                    # another writer of the chain: the audit head then the sync head
        try:
            for n in range(pushes):
                with pg.session_scope() as s:
                    audit.record(s, Actor.system("test"), "test.other", "thing", n)
                    changes.append(s, [changes.Change("task", None, 1, "test")])
        except BaseException as exc:   # noqa: BLE001
            errors.append(exc)

    def reader():                      # what a pull sees: every number up to the head, none missing
        try:
            while not done.is_set():
                with pg.session_scope(write=False) as s:
                    head = s.scalar(select(SyncHead.seq))
                    seen = s.scalar(select(func.count()).select_from(SyncChange).where(
                        SyncChange.seq > seq0, SyncChange.seq <= head))
                    assert seen == head - seq0, (seen, head)
                looks[0] += 1
        except BaseException as exc:   # noqa: BLE001
            errors.append(exc)

    workers = [threading.Thread(target=pusher, args=(iid,)) for iid in ids] + [threading.Thread(target=recorder)]
    watch = threading.Thread(target=reader)
    watch.start()
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    done.set()
    watch.join(30)
    assert not errors, errors
    assert not any(t.is_alive() for t in workers)
    assert looks[0] > 0
    total = threads_n * pushes
    assert _state(pg) == (0, head0 + total + pushes, seq0 + total + pushes)
    with pg.session_scope(write=False) as s:
        report = verify_chain(s)
        assert report.ok, report.reason
        assert report.checked == head0 + total + pushes and report.pending == 0
        rows = s.execute(select(SyncChange.seq, SyncChange.inspection_id).where(SyncChange.seq > seq0)
                         .order_by(SyncChange.seq)).all()
        assert [r.seq for r in rows] == list(range(seq0 + 1, seq0 + total + pushes + 1))
        pushed = [r.inspection_id for r in rows if r.inspection_id is not None]
        assert sorted(pushed) == sorted(ids * pushes)
        # each push's changes are numbered in the order its entry is in the chain (one order: the chainer's)
        entries = s.scalars(select(AuditEntry).where(AuditEntry.id > head0, AuditEntry.action == "sync.push")
                            .order_by(AuditEntry.id)).all()
        assert [e.detail["inspections"][0] for e in entries] == pushed


def test_a_push_that_writes_more_audit_entries_links_its_own_row_in_its_transaction(pg):
    """``FieldBatch.send_final``'s safety net (``chainer.link_own``): the push's row linked before the entries that
    follow it in the same transaction, the heads held from there to commit."""
    with pg.session_scope() as s:
        head0, seq0 = s.get(AuditHead, 1).seq, s.scalar(select(SyncHead.seq))
        fields = chainer.pending(s, Actor.system("test"), "sync.push", "sync_client", "x",
                                 detail={"inspections": [7]}, changes=[("inspection", 7, 3, "push")],
                                 at=audit.utcnow())
        pid = s.execute(text("WITH " + chainer.PENDING_CTE.format(ok="true") + " SELECT id FROM chain_p"),
                        chainer.pending_params(fields)).scalar_one()
        chainer.link_own(s, pid, fields)
        audit.record(s, Actor.system("test"), "job.enqueue", "job", 1)      # after it, the head held already
    with pg.session_scope(write=False) as s:
        assert [e.action for e in s.scalars(select(AuditEntry).where(AuditEntry.id > head0)
                                            .order_by(AuditEntry.id))] == ["sync.push", "job.enqueue"]
        assert s.scalar(select(func.count()).select_from(ChainPending)) == 0
        assert s.execute(select(SyncChange.seq, SyncChange.inspection_id).where(SyncChange.seq > seq0)).all() \
            == [(seq0 + 1, 7)]
        assert verify_chain(s).ok


def test_audit_verify_links_what_a_crash_left_then_verifies(pg, tmp_path, monkeypatch):
    app, ids, dept, officer = _field(pg, tmp_path)
    phone = _phone(app, officer)
    monkeypatch.setattr(chainer, "after_commit", lambda session, mine: None)     # the process died here
    phone.set_section(ids[0], dept, {"note": "现场已检查"})
    assert [r["status"] for r in phone.push()] == ["applied"]
    monkeypatch.undo()
    _pending0, head0, seq0 = _state(pg)
    result = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "已将 1 条待入链的审计记录链入审计链" in result.output and "审计链完整" in result.output
    assert _state(pg) == (0, head0 + 1, seq0 + 1)
    result = app.test_cli_runner().invoke(args=["audit", "chain"])
    assert result.exit_code == 0 and "已链入 0 条" in result.output
