"""Two imports of one year at the same time, on real commits: one wins, the other is refused, never a 500
and never a mixture of the two notices."""
from __future__ import annotations

import threading

from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from backend.actor import Actor
from backend.audit.models import AuditEntry
from backend.errors import Conflict
from backend.publication.models import CalendarDay, CalendarYear
from backend.publication.notice import parse_notice
from backend.publication.services import import_notice


def notice(last_day: str, title: str):
    return parse_notice({"year": 2031, "title": title,
                         "holidays": [{"name": "元旦", "from": "2031-01-01", "to": last_day}]})


def test_two_imports_of_one_year_at_once(committed_db):
    barrier = threading.Barrier(2)
    outcomes: list = []
    notices = {"甲": notice("2031-01-01", "甲"), "乙": notice("2031-01-03", "乙")}

    def run(name):
        session = committed_db.session()
        try:
            barrier.wait()
            outcomes.append(("ok", name, import_notice(session, Actor.system("t"), notices[name])["action"]))
        except Conflict as exc:
            outcomes.append(("refused", name, exc.code))
        except OperationalError as exc:  # SQLite: the loser of the write lock; the API answers 503 busy
            assert "locked" in str(exc.orig).lower()
            outcomes.append(("refused", name, "busy"))
        except Exception as exc:  # noqa: BLE001 - anything else is a failure of the test
            outcomes.append(("error", name, repr(exc)))
        finally:
            session.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in notices]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(o[0] for o in outcomes) == ["ok", "refused"], outcomes
    winner = next(o[1] for o in outcomes if o[0] == "ok")
    assert next(o[2] for o in outcomes if o[0] == "refused") in ("calendar.concurrent", "calendar.year_exists", "busy")
    with committed_db.session_scope() as session:
        assert session.get(CalendarYear, 2031).title == winner
        days = session.scalar(select(func.count()).select_from(CalendarDay))
        assert days == len(notices[winner].days)
        assert session.scalar(select(func.count()).select_from(AuditEntry)
                              .where(AuditEntry.action == "calendar.import")) == 1
