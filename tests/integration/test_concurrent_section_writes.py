"""Two phones writing one section at the same moment, on PostgreSQL (backend/inspections/batch.py, ``StaleRead``).

A push reads the section, merges its writes into what it read, and writes the section whole. If another push
commits a change of that section between the read and the first push's lock, the first push merged into a
stale copy: written, it would put back the other's old values (a lost update). The lock statement reads each
touched inspection's ``updated_at`` under the lock; a push that finds it moved since its read keeps nothing
and is applied again from the start, merging into the other's values."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from backend.inspections import batch as batch_module
from backend.inspections.models import Section
from sync.client import Client
from tests.conftest import fresh_database, make_test_app, require_postgresql
from tests.factories import AuthActions, Factory
from tests.field.conftest import FlaskTransport, build_field


@pytest.fixture()
def pg(tmp_path_factory):
    require_postgresql("两部手机同时推送同一部门的检查内容")
    with fresh_database("postgresql", tmp_path_factory, "concurrent_sections") as db:
        yield db


def test_a_section_changed_between_a_pushs_read_and_its_lock_loses_nothing(pg, tmp_path, monkeypatch):
    app = make_test_app(pg, tmp_path / "app")
    with pg.session_scope() as session:
        factory = Factory(session)
        f = build_field(app, app.test_client(), factory, AuthActions(app, factory), session, targets=1)
        iid, dept = f.inspections[0].id, f.lead_dept.id
        first_officer, second_officer = f.lead_officer, f.lead_user
        first_id = first_officer.id

    def phone(user):
        c = Client(FlaskTransport(app.test_client()))
        c.access_token = AuthActions(app, None).token(user)
        return c

    first, second = phone(first_officer), phone(second_officer)
    second.set_section(iid, dept, {"arrived_at": "2026-04-08T09:00:00+08:00"})
    assert [r["status"] for r in second.push()] == ["applied"]
    first.pull()
    first.set_section(iid, dept, {"note": "甲：现场已检查"})
    second.set_section(iid, dept, {"arrived_at": "2026-04-08T10:30:00+08:00"})

    real = batch_module.FieldBatch._finish_pg
    finishes: list[int] = []
    errors: list[BaseException] = []

    def second_pushes_in_between(self, session, outcome=None):
        if self.actor.user_id == first_id:
            finishes.append(1)
            if len(finishes) == 1:      # the first phone has read the section; the second commits its change now
                def run():
                    try:
                        assert [r["status"] for r in second.push()] == ["applied"]
                    except BaseException as exc:   # noqa: BLE001 - reported by the test
                        errors.append(exc)
                t = threading.Thread(target=run)
                t.start()
                t.join(60)
                assert not t.is_alive(), "the second push waited for the first (nothing should be locked yet)"
        return real(self, session, outcome)

    monkeypatch.setattr(batch_module.FieldBatch, "_finish_pg", second_pushes_in_between)
    assert [r["status"] for r in first.push()] == ["applied"]
    assert not errors, errors
    assert len(finishes) == 2            # the first push found its read stale and was applied again

    with pg.session_scope(write=False) as s:
        section = s.scalar(select(Section).where(Section.inspection_id == iid, Section.department_id == dept))
        text = repr(section.data)
    assert "甲：现场已检查" in text and "2026-04-08T10:30:00+08:00" in text and "09:00:00" not in text, text


def test_one_devices_second_push_while_its_first_is_applied_loses_nothing(pg, tmp_path, monkeypatch):
    """A phone sends its outbox again while its first push is still being applied (the answer lost to a timeout),
    one more mutation added: the second push's claim waits for the first's lock on the device's row. The claim and
    the read of what the push names are one statement (``sync.engine.claim_client``'s ``along``), its snapshot
    taken before that wait: the read misses the first push's commit, the write statement finds it stale, and the
    push is applied again (docs/decisions.md, "The claim reads what a push names"). Nothing is lost; the mutation
    sent twice is answered as first applied."""
    from sqlalchemy import text

    app = make_test_app(pg, tmp_path / "app")
    with pg.session_scope() as session:
        factory = Factory(session)
        f = build_field(app, app.test_client(), factory, AuthActions(app, factory), session, targets=1)
        iid, dept, officer = f.inspections[0].id, f.lead_dept.id, f.lead_officer
    first = Client(FlaskTransport(app.test_client()))
    first.access_token = AuthActions(app, None).token(officer)
    first.set_section(iid, dept, {"arrived_at": "2026-04-08T09:00:00+08:00"})
    assert [r["status"] for r in first.push()] == ["applied"]      # the device registered, the section written
    first.set_section(iid, dept, {"note": "甲：现场已检查"})
    again = Client.from_state(FlaskTransport(app.test_client()), first.state())
    again.set_section(iid, dept, {"arrived_at": "2026-04-08T10:30:00+08:00"})

    real = batch_module.FieldBatch._finish_pg
    finishes: list[int] = []
    answers: list = []
    errors: list[BaseException] = []

    def waiting_claims() -> int:
        with pg.session_scope(write=False) as s:
            return s.scalar(text("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                 "AND query LIKE 'WITH claim AS%'"))

    def the_same_device_pushes_again(self, session, outcome=None):
        finishes.append(outcome["from"])
        if len(finishes) == 1:          # the first push has read the section and holds the device's row
            def run():
                try:
                    answers.append(again.push())
                except BaseException as exc:   # noqa: BLE001 - reported by the test
                    errors.append(exc)
            threading.Thread(target=run, daemon=True).start()
            for _ in range(300):
                if waiting_claims() or errors:
                    break
                threading.Event().wait(0.1)
            assert waiting_claims() == 1, errors
        return real(self, session, outcome)

    monkeypatch.setattr(batch_module.FieldBatch, "_finish_pg", the_same_device_pushes_again)
    assert [r["status"] for r in first.push()] == ["applied"]
    for _ in range(300):
        if answers or errors:
            break
        threading.Event().wait(0.1)
    assert not errors, errors
    assert [(r["id"], r["status"]) for r in answers[0]] == [(2, "applied"), (3, "applied")], answers
    assert finishes == [2, 3, 3]        # the second push read before the first's commit: found stale, applied again

    with pg.session_scope(write=False) as s:
        section = s.scalar(select(Section).where(Section.inspection_id == iid, Section.department_id == dept))
        text_ = repr(section.data)
    assert "甲：现场已检查" in text_ and "2026-04-08T10:30:00+08:00" in text_ and "09:00:00" not in text_, text_
