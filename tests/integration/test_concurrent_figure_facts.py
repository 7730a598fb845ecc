"""Figure facts under concurrent writers, on PostgreSQL (backend/figures/facts.py, ``_lock``).

Two transactions change rows of one inspection that its fact reads (one its task's end date, the other its
business's region) and refresh its fact side by side: the second to refresh waits for the first's commit and
computes the fact from both changes. Without that wait it computed the fact from what was committed before
either (its statement's snapshot), then waited for the first's fact row and overwrote it: the task's new end
date was lost from the fact. The facts after both commits equal a rebuild."""
from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from backend.db import Database
from backend.directory.models import Region, Target
from backend.figures import facts
from backend.figures.facts import FigureFact
from backend.plans.models import Task
from tests.conftest import fresh_database, make_test_app, require_postgresql
from tests.factories import AuthActions, Factory
from tests.field.conftest import build_field


@pytest.fixture()
def pg(tmp_path_factory):
    require_postgresql("两个事务同时刷新同一检查的统计事实")
    with fresh_database("postgresql", tmp_path_factory, "concurrent_facts") as db:
        yield db


def _fact(db: Database, inspection_id: int) -> tuple:
    with db.session_scope(write=False) as s:
        f = s.get(FigureFact, inspection_id)
        return f.task_end_date, f.region_code


def test_two_transactions_refreshing_one_inspection_keep_both_changes(pg, tmp_path):
    app = make_test_app(pg, tmp_path / "setup")
    with pg.session_scope() as session:
        factory = Factory(session)
        f = build_field(app, app.test_client(), factory, AuthActions(app, factory), session, targets=3)
        session.add(Region(code="411203099", name="第九十九镇", level="town"))
        inspection = f.inspections[0]
        iid, task_id, target_id = inspection.id, inspection.task_id, inspection.target_id
        end = session.get(Task, task_id).end_date
    assert _fact(pg, iid)[0] == end

    first = pg.session()
    first.get(Task, task_id).end_date = end + dt.timedelta(days=7)
    first.flush()
    assert facts.settle(first) == 3                      # the task's three inspections: refreshed, not committed
    errors: list[BaseException] = []

    def second_commits():
        try:
            with pg.session_scope() as second:
                second.get(Target, target_id).region_code = "411203099"
        except BaseException as exc:                    # noqa: BLE001 - reported by the test
            errors.append(exc)

    worker = threading.Thread(target=second_commits, daemon=True)
    worker.start()
    worker.join(1.5)
    assert worker.is_alive(), "the second refresh did not wait for the first transaction"
    first.commit()
    first.close()
    worker.join(30)
    assert not worker.is_alive() and not errors, errors

    assert _fact(pg, iid) == (end + dt.timedelta(days=7), "411203099")
    with pg.session() as s:
        kept = [tuple(getattr(x, c) for c in facts.COLUMNS)
                for x in s.scalars(select(FigureFact).order_by(FigureFact.inspection_id))]
        facts.rebuild(s.connection())
        again = [tuple(getattr(x, c) for c in facts.COLUMNS)
                 for x in s.scalars(select(FigureFact).order_by(FigureFact.inspection_id)
                                    .execution_options(populate_existing=True))]
        assert kept == again and len(kept) == 3
        s.rollback()
