"""Two draws of one task at the same time, on real commits: one wins, the other is refused."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from backend.actor import Actor
from backend.draws import services
from backend.draws.models import Draw, InspectionGroup
from backend.errors import Conflict
from backend.inspections.models import Inspection
from tests.api.draws.conftest import build_scenario
from tests.factories import AuthActions, Factory


def _race(database, fn):
    barrier = threading.Barrier(2)
    outcomes: list = []

    def run():
        session = database.session()
        try:
            barrier.wait()
            outcomes.append(("ok", fn(session)))
        except Conflict as exc:
            outcomes.append(("refused", exc.code))
        except Exception as exc:  # noqa: BLE001 - anything else is a failure of the test
            outcomes.append(("error", repr(exc)))
        finally:
            session.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return outcomes


def test_concurrent_commits_and_draws(committed_db, app):
    with committed_db.session_scope() as session:
        factory = Factory(session)
        s = build_scenario(factory, AuthActions(app, factory), per_class=300, inspectors=(300, 150))
        planner = factory.user("planner", s.lead)
        actor = Actor.of_user(planner)
        task_id = s.task.id
    settings = services.DrawSettings()

    outcomes = _race(committed_db, lambda session: services.commit(session, actor, task_id, settings).id)
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"], outcomes
    assert [o[1] for o in outcomes if o[0] == "refused"][0] in ("draw.concurrent", "draw.already_committed")

    outcomes = _race(committed_db, lambda session: services.seed_and_draw(
        session, actor, task_id, settings, source="csprng").seed)
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"], outcomes
    assert [o[1] for o in outcomes if o[0] == "refused"][0] in ("draw.concurrent", "draw.already_drawn")
    with committed_db.session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Draw)) == 1
        draw = session.scalar(select(Draw))
        assert draw.status == "drawn" and draw.seed == [o[1] for o in outcomes if o[0] == "ok"][0]
        groups = session.scalar(select(func.count()).select_from(InspectionGroup))
        assert groups == len(draw.result["groups"]) > 0
        assert session.scalar(select(func.count()).select_from(Inspection)) == sum(
            len(v) for v in draw.result["selected"].values())
