"""The notification list of a user, and the reminder sweep. No Flask.

``sweep(session, today)`` asks every registered source what is due soon or overdue and inserts one
notification per (user, kind, subject, state) that does not exist yet: the few (tasks: ``sources.SOURCES``)
as reminders built here, the many (inspections, follow-ups: ``sources.SQL_SOURCES``) set-based, one
``INSERT … SELECT`` each with the due state and text computed in SQL. Every insert is
``INSERT … ON CONFLICT DO NOTHING`` on the unique key: a second sweep, or one running at the same time
(another worker, the server's timer), inserts nothing twice and sends nothing twice: only the rows this
sweep inserted go out by SMS / e-mail, after the commit.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.auth.models import User
from backend.db import analyze, dialect_of, utcnow
from backend.errors import NotFound
from backend.notifications import sources as src
from backend.notifications.models import Notification
from backend.publication.calendar import beijing_date

log = logging.getLogger(__name__)


@dataclasses.dataclass
class SweepResult:
    today: dt.date
    created: int = 0
    by_kind: dict = dataclasses.field(default_factory=dict)
    sent: int = 0

    def to_dict(self) -> dict:
        return {"today": self.today.isoformat(), "created": self.created, "by_kind": self.by_kind, "sent": self.sent}


def _insert_once(session: Session, rows: list[dict], chunk: int = 5000) -> list[tuple[int, str, str]]:
    """Insert the rows whose (user, kind, subject, state) is new; (id, kind, state) of those inserted. A row another
    sweep inserted first (even one not yet committed: the insert waits for it) conflicts and is skipped."""
    if not rows:
        return []
    if dialect_of(session) == "postgresql":
        return _insert_once_copy(session, rows)
    from sqlalchemy.dialects.sqlite import insert

    table = Notification.__table__
    stmt = insert(table).on_conflict_do_nothing(
        index_elements=["kind", "subject_type", "subject_id", "state", "user_id"]).returning(
        table.c.id, table.c.kind, table.c.state)
    out: list[tuple[int, str, str]] = []
    connection = session.connection()
    for i in range(0, len(rows), chunk):     # executemany: SQLAlchemy batches it as multi-row VALUES, compiled once
        out.extend(tuple(r) for r in connection.execute(stmt, rows[i:i + chunk]))
    return sorted(out)


_COLUMNS = ("user_id", "kind", "subject_type", "subject_id", "state", "title", "body", "link", "due_on", "created_at")


def _insert_once_copy(session: Session, rows: list[dict]) -> list[tuple[int, str, str]]:
    """PostgreSQL: COPY the rows into a temporary table, then one INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING
    into ``notification`` (the same conflict rule, without sending a statement of 100,000 parameters)."""
    from sqlalchemy import text

    session.execute(text("DROP TABLE IF EXISTS notification_new"))
    session.execute(text(
        "CREATE TEMPORARY TABLE notification_new (user_id integer, kind varchar(32), subject_type varchar(32), "
        "subject_id varchar(64), state varchar(32), title varchar(200), body text, link varchar(300), due_on date, "
        "created_at timestamptz) ON COMMIT DROP"))
    raw = session.connection().connection.driver_connection
    names = ", ".join(_COLUMNS)
    with raw.cursor() as cursor, cursor.copy(f"COPY notification_new ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row[c] for c in _COLUMNS))
    result = session.execute(text(
        f"INSERT INTO notification ({names}) SELECT {names} FROM notification_new "
        "ON CONFLICT (kind, subject_type, subject_id, state, user_id) DO NOTHING RETURNING id, kind, state"))
    out = sorted(tuple(r) for r in result)
    session.execute(text("DROP TABLE notification_new"))
    return out


_CONFLICT_KEY = ["kind", "subject_type", "subject_id", "state", "user_id"]


def _insert_selected(session: Session, stmt, now) -> list[tuple[int, str, str]]:
    """A set-based source: ``INSERT INTO notification … SELECT …`` its rows, ``ON CONFLICT DO NOTHING`` on the
    unique key (a sweep running at the same time inserted it first: this one waits for it, then skips it);
    (id, kind, state) of those inserted."""
    from sqlalchemy import bindparam

    if dialect_of(session) == "postgresql":
        from sqlalchemy import text
        from sqlalchemy.dialects.postgresql import insert

        # the per-row look-ups (the business's name) make the estimate cross jit_above_cost: compiling the
        # plan cost more than running it (90 ms against none for a sweep that finds nothing new)
        session.execute(text("SET LOCAL jit = off"))
    else:
        from sqlalchemy.dialects.sqlite import insert
    table = Notification.__table__
    rows = stmt.add_columns(bindparam("sweep_now", now, type_=table.c.created_at.type).label("created_at"))
    ins = (insert(table).from_select([*src.NOTIFICATION_COLUMNS, "created_at"], rows)
           .on_conflict_do_nothing(index_elements=_CONFLICT_KEY)
           .returning(table.c.id, table.c.kind, table.c.state))
    return [tuple(r) for r in session.execute(ins)]


def _existing(session: Session, reminders: list[src.Reminder]) -> set[tuple]:
    """The (user, kind, subject_type, subject_id, state) already recorded among the reminders' subjects."""
    keys: set[tuple] = set()
    by_kind: dict[tuple, set[str]] = {}
    for r in reminders:
        by_kind.setdefault((r.kind, r.subject_type), set()).add(r.subject_id)
    for (kind, subject_type), ids in by_kind.items():
        ids_list = sorted(ids)
        for i in range(0, len(ids_list), 1000):
            keys.update(session.execute(
                select(Notification.user_id, Notification.kind, Notification.subject_type, Notification.subject_id,
                       Notification.state)
                .where(Notification.kind == kind, Notification.subject_type == subject_type,
                       Notification.subject_id.in_(ids_list[i:i + 1000]))))
    return keys


def _active_users(session: Session, user_ids: set[int]) -> set[int]:
    """Of ``user_ids``, the accounts that are active (a frozen account is reminded of nothing)."""
    ids, out = sorted(user_ids), set()
    for i in range(0, len(ids), 1000):
        out.update(session.scalars(select(User.id).where(User.id.in_(ids[i:i + 1000]), User.status == "active")))
    return out


def sweep(session: Session, today: dt.date | None = None, notifiers: Iterable = (), *,
          only: Iterable[str] | None = None) -> SweepResult:
    """Ask every source, record each new reminder once, commit, then send the new ones by the notifiers."""
    from backend.publication.services import work_calendar

    src.load_sources()
    today = today or beijing_date()
    ctx = src.SweepContext(today=today, calendar=work_calendar(session))
    result = SweepResult(today)
    reminders: list[src.Reminder] = []
    for name, fn in src.SOURCES.items():
        if only is not None and name not in only:
            continue
        reminders.extend(r for r in fn(session, ctx) if r.user_ids)
    known = _existing(session, reminders)
    wanted = set().union(*(r.user_ids for r in reminders)) if reminders else set()
    active = _active_users(session, wanted)
    rows = []
    now = utcnow()
    for r in reminders:
        for user_id in sorted(r.user_ids & active):
            if (user_id, r.kind, r.subject_type, r.subject_id, r.state) in known:
                continue
            rows.append({"user_id": user_id, "kind": r.kind, "subject_type": r.subject_type,
                         "subject_id": r.subject_id, "state": r.state, "title": r.title[:200], "body": r.body,
                         "link": r.link, "due_on": r.due_on, "created_at": now})
    inserted = _insert_once(session, rows)
    for name, fn in src.SQL_SOURCES.items():
        if only is None or name in only:
            inserted.extend(_insert_selected(session, fn(session, ctx), now))
    inserted.sort()
    if len(inserted) > 10_000:       # a big first sweep: the next one's plan needs the table's new size
        analyze(session, "notification")
    session.commit()
    ids = [i for i, _kind, _state in inserted]
    result.created = len(ids)
    for _id, kind, state in inserted:
        key = f"{kind}:{state}"
        result.by_kind[key] = result.by_kind.get(key, 0) + 1
    notifiers = list(notifiers)
    if ids and notifiers:
        result.sent = _send(session, ids, notifiers)
    log.info("提醒扫描 %s：新增 %s 条提醒", today.isoformat(), result.created)
    return result


def _send(session: Session, ids: list[int], notifiers: list) -> int:
    sent = 0
    for i in range(0, len(ids), 1000):
        rows = session.execute(select(Notification, User.phone).join(User, User.id == Notification.user_id)
                               .where(Notification.id.in_(ids[i:i + 1000])).order_by(Notification.id)).all()
        for n, phone in rows:
            for notifier in notifiers:
                address = phone if notifier.channel == "sms" else None   # no e-mail address is kept yet
                try:
                    notifier.send(user_id=n.user_id, address=address, title=n.title, body=n.body, link=n.link)
                    sent += 1
                except Exception as exc:  # noqa: BLE001 - a channel down never loses the in-app notification
                    log.warning("通知 %s 经 %s 发送失败：%s", n.id, notifier.channel, exc)
    return sent


# --- the user's own list -------------------------------------------------------------------------------

def notifications_query(actor: Actor, read: bool | None = None, kind: str | None = None):
    stmt = select(Notification).where(Notification.user_id == actor.user_id)
    if read is True:
        stmt = stmt.where(Notification.read_at.is_not(None))
    elif read is False:
        stmt = stmt.where(Notification.read_at.is_(None))
    if kind:
        stmt = stmt.where(Notification.kind == kind)
    return stmt.order_by(Notification.id.desc())


def unread_count(session: Session, actor: Actor) -> int:
    return session.scalar(select(func.count()).select_from(Notification)
                          .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))) or 0


def own_notification(session: Session, actor: Actor, notification_id: int) -> Notification:
    """The caller's notification; another user's is not there (404), never a 403 that says it exists."""
    n = session.get(Notification, notification_id)
    if n is None or n.user_id != actor.user_id:
        raise NotFound("通知不存在", code="notification.not_found")
    return n


def mark_read(session: Session, actor: Actor, notification_id: int) -> Notification:
    n = own_notification(session, actor, notification_id)
    if n.read_at is None:
        n.read_at = utcnow()
    session.commit()
    return n


def mark_all_read(session: Session, actor: Actor) -> int:
    count = session.execute(update(Notification)
                            .where(Notification.user_id == actor.user_id, Notification.read_at.is_(None))
                            .values(read_at=utcnow())).rowcount
    session.commit()
    return count or 0
