"""Two publishers of one department publish (or correct) one result at the same time, on real commits: one
version goes out, the other publisher is told, never a 500 and never two current versions."""
from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from backend.actor import Actor
from backend.auth.roles import Role
from backend.directory.models import Inspector
from backend.draws import services as draws
from backend.errors import Conflict
from backend.inspections.models import Inspection
from backend.publication import results
from backend.publication.models import PublishedResult
from tests.api.draws.conftest import build_scenario
from tests.factories import AuthActions, Factory
from tests.field.builders import led_inspection


def _race(database, calls):
    barrier = threading.Barrier(len(calls))
    outcomes: list = []

    def run(fn):
        session = database.session()
        try:
            barrier.wait()
            outcomes.append(("ok", fn(session)))
        except Conflict as exc:
            outcomes.append(("refused", exc.code))
        except OperationalError as exc:  # SQLite: the loser of the write lock; the API answers 503 busy
            assert "locked" in str(exc.orig).lower()
            outcomes.append(("refused", "busy"))
        except Exception as exc:  # noqa: BLE001 - anything else is a failure of the test
            outcomes.append(("error", repr(exc)))
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(fn,)) for fn in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_two_publishers_at_once(committed_db, app):
    with committed_db.session_scope() as session:
        factory = Factory(session)
        s = build_scenario(factory, AuthActions(app, factory), risk=("D",), per_class=1, strata={"D": {"num": 1, "den": 1}},
                           inspectors=(2, 1), members=(2, 1), group_load=1)
        admin = Actor.of_user(factory.user(Role.SYSADMIN))
        settings = draws.DrawSettings()
        draws.commit(session, admin, s.task.id, settings)
        draws.seed_and_draw(session, admin, s.task.id, settings, source="csprng")
        inspection = session.scalar(select(Inspection).where(Inspection.task_id == s.task.id))
        led_inspection(session, inspection.id, session.get(Inspector, s.inspectors[s.lead.code][0].id), "submitted")
        publishers = [Actor.of_user(factory.user(Role.PUBLISHER, s.lead)) for _ in range(2)]
        inspection_id = inspection.id

    outcomes = _race(committed_db, [lambda session, a=a, n=n: results.publish(session, a, inspection_id,
                                                                                {"remarks": f"第{n}位"})["id"]
                                    for n, a in enumerate(publishers)])
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"], outcomes
    assert next(o[1] for o in outcomes if o[0] == "refused") in (
        "publication.concurrent", "publication.already_published", "busy")

    notes = ["更正备注甲", "更正备注乙"]
    outcomes = _race(committed_db, [lambda session, a=a, n=n: results.correct(
        session, a, inspection_id, {"remarks": n, "change_note": n})["id"] for a, n in zip(publishers, notes)])
    # PostgreSQL: both read version 1, one writes version 2, the other is refused; SQLite: the second waits for
    # the write lock and then corrects version 2 (two corrections in turn)
    assert "error" not in [o[0] for o in outcomes] and "ok" in [o[0] for o in outcomes], outcomes
    assert all(o[1] in ("publication.concurrent", "busy") for o in outcomes if o[0] == "refused"), outcomes
    made = sum(1 for o in outcomes if o[0] == "ok")

    with committed_db.session_scope() as session:
        rows = list(session.scalars(select(PublishedResult).order_by(PublishedResult.version)))
        assert [r.version for r in rows] == list(range(1, made + 2))
        assert [r.state for r in rows] == ["superseded"] * made + ["current"]
        assert all(a.superseded_by_id == b.id and b.supersedes_id == a.id for a, b in zip(rows, rows[1:]))
        assert session.scalar(select(func.count()).select_from(PublishedResult)
                              .where(PublishedResult.state == "current")) == 1
