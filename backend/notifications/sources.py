"""Reminder sources: each says what is due soon or overdue today, and to whom.

A source is a function ``(session, ctx) -> iterable of Reminder``, registered by name with ``@source``.
The sweep (``services.sweep``) asks each and records each reminder once per (user, kind, subject,
state). Built here: the task's end date, the publication deadline, the year's tasks not done by
30 November (石家庄). The follow-ups' own deadlines register theirs the same way (``@source(...)`` in
``backend/followups``, imported by ``load_sources``).

Published: the lead department published the record (``inspection.published_at``) or 不适合公开 was approved
(``publication_exempt_at``); the publication reminder goes to the lead department's admins and publishers.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import importlib
from typing import Callable, Iterable

from sqlalchemy import String, and_, case, cast, exists, func, literal, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import FunctionElement, Select

from backend.auth.models import User
from backend.auth.roles import Role

SOON_DAYS = 5               # due soon: at most 5 working days ahead (the due day included)
YEAR_END = (11, 30)         # 石家庄: the year's tasks done by 30 November
OPEN_INSPECTION = ("assigned", "in_progress")


@dataclasses.dataclass(frozen=True)
class Reminder:
    user_ids: frozenset[int]
    kind: str
    subject_type: str
    subject_id: str
    state: str
    title: str
    body: str
    link: str | None = None
    due_on: dt.date | None = None


@dataclasses.dataclass
class SweepContext:
    today: dt.date
    calendar: object          # backend.publication.services.WorkCalendar
    soon_days: int = SOON_DAYS

    @property
    def horizon(self) -> dt.date:
        """The last due day that is 'due soon' today: the ``soon_days``-th working day after today."""
        return self.calendar.add_working_days(self.today, self.soon_days).day

    def state(self, due: dt.date) -> str:
        return self.calendar.deadline_state(due, self.today, self.soon_days)


SOURCES: dict[str, Callable[[Session, SweepContext], Iterable[Reminder]]] = {}
# set-based sources (the many: one per inspection or follow-up): ``(session, ctx) -> SELECT`` of the notification
# rows due (``NOTIFICATION_COLUMNS``, one per user), which the sweep inserts as they are (INSERT … SELECT)
SQL_SOURCES: dict[str, Callable[[Session, SweepContext], Select]] = {}
NOTIFICATION_COLUMNS = ("user_id", "kind", "subject_type", "subject_id", "state", "title", "body", "link", "due_on")
TITLE_LENGTH = 200
# modules that define sources besides this one (the follow-ups' after the merge); a missing one is skipped
SOURCE_MODULES = ["backend.followups.reminders"]


def source(name: str):
    def register(fn):
        SOURCES[name] = fn
        return fn
    return register


def sql_source(name: str):
    def register(fn):
        SQL_SOURCES[name] = fn
        return fn
    return register


def load_sources() -> None:
    for module in SOURCE_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if not (exc.name and module.startswith(exc.name)):
                raise


# --- published -------------------------------------------------------------------------------------

def unpublished():
    """An SQL condition on Inspection: its result is neither published by the lead department nor approved
    不适合公开 (backend/publication: ``published_at``, ``publication_exempt_at``)."""
    from backend.inspections.models import Inspection

    return and_(Inspection.published_at.is_(None), Inspection.publication_exempt_at.is_(None))


def is_published(inspection) -> bool:
    """The same for one inspection."""
    return inspection.published_at is not None or inspection.publication_exempt_at is not None


# --- who ------------------------------------------------------------------------------------------

def users_with_role(session: Session, role: Role, department_ids: Iterable[int] | None) -> dict[int | None, set[int]]:
    """Active users of ``role`` by department (``None``: every department, keyed None)."""
    stmt = select(User.id, User.department_id).where(User.role == role.value, User.status == "active")
    if department_ids is not None:
        ids = set(department_ids)
        if not ids:
            return {}
        stmt = stmt.where(User.department_id.in_(ids))
    out: dict[int | None, set[int]] = {}
    for user_id, department_id in session.execute(stmt):
        out.setdefault(department_id if department_ids is not None else None, set()).add(user_id)
    return out


STATE_WORDS = {"due_soon": "即将到期", "overdue": "已逾期"}


def _reminded(kind: str, subject_type: str, id_column, state):
    """A notification of ``kind`` about this subject in ``state`` exists (for anyone)."""
    from backend.notifications.models import Notification

    return exists().where(Notification.kind == kind, Notification.subject_type == subject_type,
                          Notification.subject_id == cast(id_column, String), Notification.state == state)


def _reminded_user(kind: str, subject_type: str, id_column, state, user_column):
    """A notification of ``kind`` about this subject in ``state`` exists for this user."""
    from backend.notifications.models import Notification

    return exists().where(Notification.kind == kind, Notification.subject_type == subject_type,
                          Notification.subject_id == cast(id_column, String), Notification.state == state,
                          Notification.user_id == user_column)


class iso_date(FunctionElement):
    """A date as ``YYYY-MM-DD`` text (``date.isoformat()``), whatever the server's DateStyle."""

    type = String()
    inherit_cache = True


@compiles(iso_date)
def _iso_date_default(element, compiler, **kw):          # SQLite keeps dates as this text already
    return compiler.process(cast(list(element.clauses)[0], String), **kw)


@compiles(iso_date, "postgresql")
def _iso_date_postgresql(element, compiler, **kw):
    return f"to_char({compiler.process(list(element.clauses)[0], **kw)}, 'YYYY-MM-DD')"


def deadline_columns(due_column, ctx: SweepContext):
    """(state, its words) of a deadline already known to be at most ``ctx.horizon``: overdue after the due day,
    else due soon (what ``ctx.state`` says of such a day)."""
    late = due_column < ctx.today
    return (case((late, "overdue"), else_="due_soon"),
            case((late, STATE_WORDS["overdue"]), else_=STATE_WORDS["due_soon"]))


def business_name(target, target_id_column):
    """The business's name, looked up by primary key for each row the sweep inserts (a subquery, not a join:
    a join let the planner read all the businesses of the county before it knew no row was new)."""
    return select(target.name).where(target.id == target_id_column).scalar_subquery()


def notification_row(user_id, kind: str, subject_type: str, subject_id, state, title, body, link, due_on) -> list:
    """The labelled columns of a set-based source's SELECT (``NOTIFICATION_COLUMNS``); text is concatenated
    in SQL (``||``), the title cut to its column's length as the sweep cuts a reminder's."""
    values = (user_id, literal(kind), literal(subject_type), subject_id, state,
              func.substr(title, 1, TITLE_LENGTH), body, link, due_on)
    return [v.label(name) for v, name in zip(values, NOTIFICATION_COLUMNS)]


def _open_inspections(task_id_column):
    """The task has an inspection still open. ``IN`` (one hashed list of the tasks with open inspections),
    not a correlated ``EXISTS``: that one scanned the inspections again for every task without any."""
    from backend.inspections.models import Inspection

    return task_id_column.in_(select(Inspection.task_id).where(
        Inspection.status.in_(OPEN_INSPECTION),
        Inspection.followup_id.is_(None)))   # a 复查 has its follow-up's deadline instead


def _not_done(task):
    """A task is done when drawn with no inspection left open; a cancelled one is never due."""
    return (task.status != "cancelled") & ((task.status != "drawn") | _open_inspections(task.id))


# --- the task's end date ----------------------------------------------------------------------------

@source("task.end_date")
def task_end_date(session: Session, ctx: SweepContext) -> Iterable[Reminder]:
    """A task not done by its end date (not cancelled, and not drawn or with inspections still open): due soon /
    overdue, to the planners of the lead department, the task's author, and the leader of each group with open
    inspections."""
    from backend.draws.models import InspectionGroup
    from backend.inspections.models import Inspection
    from backend.plans.models import Task

    tasks = session.execute(
        select(Task.id, Task.code, Task.name, Task.end_date, Task.lead_department_id, Task.created_by, Task.status)
        .where(Task.end_date.is_not(None), Task.end_date <= ctx.horizon, _not_done(Task))).all()
    if not tasks:
        return []
    planners = users_with_role(session, Role.PLANNER, {t.lead_department_id for t in tasks})
    task_ids = [t.id for t in tasks]
    leaders: dict[int, set[int]] = {}
    opened: dict[int, int] = {}
    rows = session.execute(
        select(Inspection.task_id, User.id, Inspection.id)
        .join(InspectionGroup, InspectionGroup.id == Inspection.group_id)
        .outerjoin(User, and_(User.inspector_id == InspectionGroup.leader_id, User.status == "active"))
        .where(Inspection.task_id.in_(task_ids), Inspection.status.in_(OPEN_INSPECTION),
               Inspection.followup_id.is_(None)))
    for task_id, leader_user, _inspection in rows:
        opened[task_id] = opened.get(task_id, 0) + 1
        if leader_user is not None:
            leaders.setdefault(task_id, set()).add(leader_user)
    out = []
    for t in tasks:
        state = ctx.state(t.end_date)
        users = set(planners.get(t.lead_department_id, ())) | leaders.get(t.id, set())
        if t.created_by is not None:
            users.add(t.created_by)
        title = f"抽查任务{STATE_WORDS[state]}：{t.name}"
        left = f"尚有 {opened.get(t.id, 0)} 户检查未完成" if t.status == "drawn" else "尚未完成抽取"
        body = f"抽查任务「{t.name}」（{t.code}）的结束日期为 {t.end_date.isoformat()}，{left}。"
        out.append(Reminder(frozenset(users), "task.end_date", "task", str(t.id), state, title, body,
                            f"/office/tasks/{t.id}", t.end_date))
    return out


# --- publication -------------------------------------------------------------------------------------

@sql_source("publication.due")
def publication_due(session: Session, ctx: SweepContext) -> Select:
    """A completed inspection not yet published by its due day (20 working days): due soon / overdue, to the
    admins and publishers of the task's lead department. An inspection whose admins were already told of its
    state is left out (the many overdue ones cost nothing hour after hour): an admin who joins later sees it
    in the office lists, not as a reminder. One statement: the sweep inserts what it selects."""
    from backend.directory.models import Target
    from backend.inspections.models import Inspection
    from backend.plans.models import Task

    due = Inspection.publication_due_on
    state, words = deadline_columns(due, ctx)
    subject = cast(Inspection.id, String)
    name = business_name(Target, Inspection.target_id)
    title = literal("检查结果公示") + words + "：" + name
    body = ("「" + Task.name + "」对「" + name + "」的检查于 "
            + func.coalesce(iso_date(Inspection.completed_on), "—") + " 完成，结果应于 " + iso_date(due)
            + " 前公示（20 个工作日）。")
    recipient = and_(User.department_id == Task.lead_department_id, User.status == "active",
                     User.role.in_((Role.DEPT_ADMIN.value, Role.PUBLISHER.value)))
    return (select(*notification_row(User.id, "publication.due", "inspection", subject, state, title, body,
                                     literal("/office/inspections/") + subject, due))
            .join_from(Inspection, Task, Task.id == Inspection.task_id).join(User, recipient)
            .where(Inspection.status == "completed", due.is_not(None), due <= ctx.horizon, unpublished(),
                   ~_reminded("publication.due", "inspection", Inspection.id, state))
            .order_by(Inspection.id, User.id))


# --- the year's tasks by 30 November (石家庄) -----------------------------------------------------------

@source("task.year_end")
def year_end(session: Session, ctx: SweepContext) -> Iterable[Reminder]:
    """From 1 December: each task of this year's plans not done (not cancelled, not drawn, or with inspections
    still open) is flagged to the planners of its lead department; the supervisors get one list of them."""
    from backend.plans.models import Plan, Task

    deadline = dt.date(ctx.today.year, *YEAR_END)
    if ctx.today <= deadline:
        return []
    tasks = session.execute(
        select(Task.id, Task.code, Task.name, Task.lead_department_id, Task.created_by)
        .join(Plan, Plan.id == Task.plan_id)
        .where(Plan.year == ctx.today.year, _not_done(Task))
        .order_by(Task.code)).all()
    if not tasks:
        return []
    planners = users_with_role(session, Role.PLANNER, {t.lead_department_id for t in tasks})
    out = []
    for t in tasks:
        users = set(planners.get(t.lead_department_id, ()))
        if t.created_by is not None:
            users.add(t.created_by)
        out.append(Reminder(frozenset(users), "task.year_end", "task", str(t.id), "flagged",
                            f"年度抽查任务未按期完成：{t.name}",
                            f"抽查任务「{t.name}」（{t.code}）未在 {ctx.today.year} 年 11 月 30 日前完成。",
                            f"/office/tasks/{t.id}", deadline))
    supervisors = users_with_role(session, Role.SUPERVISOR, None).get(None, set())
    codes = "、".join(t.code for t in tasks[:20]) + ("等" if len(tasks) > 20 else "")
    out.append(Reminder(frozenset(supervisors), "task.year_end", "plan_year", str(ctx.today.year), "flagged",
                        f"{ctx.today.year} 年有 {len(tasks)} 项抽查任务未在 11 月 30 日前完成",
                        f"未完成的任务：{codes}。", f"/office/tasks?year={ctx.today.year}&open=1", deadline))
    return out
