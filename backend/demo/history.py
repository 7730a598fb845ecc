"""A year of history in the demo county, so that the supervisors' figures, the publication queue and the
follow-up register show real numbers on a fresh ``./run.sh``.

Five past joint tasks (市场监管 leads, 税务 takes part), one town each, spread over the year before ``today``,
each drawn through the real draw services (committed lists, then dice digits made from the task's date).
Each drawn inspection is then completed as the field loop leaves it: every department's section signed
with the items' methods, the merged record signed by every member and the business's representative,
submitted (``deadlines.complete`` starts the publication clock, ``followups.open_from_record`` opens the
record's follow-ups: what ``record.submit`` does). The sections and signatures are written as rows, as
``tests/field/builders.py`` does (the phone's push path needs a phone per member), each section with the
mutations its officer's phone would have left (``sync_mutation`` of a phone client: 掌上执法率 counts them;
an officer of the roster without an account gets a frozen one without a password); everything after the
submission goes through the services: ``publication.results.publish`` / ``correct`` / ``decide_exemption``
by the demo publishers, ``followups.transition`` by the department admin with a stored photo as evidence.

The services stamp their own clock (``utcnow``); the history needs past dates, so each step's times are set
afterwards to the day the story says (marked ``# backdated``). The audit trail keeps the seed's real time.

What each inspection becomes is fixed by its place in its task (``FATES``): published on time, published
late, corrected (a second published version), 不适合公开 approved, unpublished and overdue, or (the last task)
recent and not yet due. Some records list a problem with a follow-up (``PROBLEMS``): closed after a
re-inspection with a photo, transferred to a case (立案) with its document, notified to another department,
or still open (overdue or not yet due). Nothing here runs when the first history task exists.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import struct
import tempfile
import time
import uuid
import zlib
from collections import Counter

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.auth.models import User
from backend.auth.roles import Role
from backend.db import Database, utcnow
from backend.demo import data
from backend.directory.models import Department, Inspector, Item
from backend.errors import DomainError, Forbidden
from backend.draws import services as draws
from backend.followups import services as followups
from backend.followups.models import Followup
from backend.inspections import deadlines
from backend.inspections.access import participation
from backend.inspections.batch import FieldBatch
from backend.inspections.handlers import current_record_hash
from backend.inspections.models import Inspection, Record, Section, Signature
from backend.plans.models import Plan, PlanDepartment, PlanItem, Task, TaskDepartment, TaskItem
from backend.publication import results
from backend.publication.models import PublicationExemption, PublishedResult
from sync.canonical import section_hash
from sync.models import SyncClient, SyncMutation

SHANGHAI = dt.timezone(dt.timedelta(hours=8))
ITEMS = {"SAMR": "SAMR-001", "TAX": "TAX-001"}
PER_TASK = 6
DEMO_OFFICERS = ("samr_lead", "samr_inspector", "tax_inspector")   # backend/demo/field.py links them
GROUP_LOAD = 3
NAMESPACE = uuid.UUID("5e1f0d3c-8c55-4c6e-9d0e-2b7a1e6d0c12")   # follow-up ids: the same for the same county

# (days before today the task started, town index in data.TOWNS, the fate of each drawn inspection in order)
TASKS: tuple[tuple[int, int, tuple[str, ...]], ...] = (
    (330, 1, ("on_time", "late", "corrected", "on_time", "exempt", "on_time")),
    (240, 2, ("on_time", "on_time", "late", "overdue", "on_time", "on_time")),
    (150, 3, ("on_time", "exempt", "on_time", "late", "overdue", "on_time")),
    (65, 4, ("on_time", "overdue", "on_time", "on_time", "overdue", "on_time")),
    (27, 5, ("recent", "on_time", "recent", "on_time", "recent", "recent")),   # the first due within days
)
# (task index, inspection index) → the follow-up's fate; the record then lists a problem
PROBLEMS: dict[tuple[int, int], str] = {
    (0, 1): "closed", (0, 3): "closed",
    (1, 0): "transferred", (1, 4): "closed", (1, 5): "notified",
    (2, 2): "closed", (2, 5): "open_overdue",
    (3, 0): "closed", (3, 3): "open_overdue",
    (4, 0): "open", (4, 3): "open",
}
FATE_LABELS = {"on_time": "按时公示", "late": "逾期公示", "corrected": "公示后更正", "exempt": "经批准不公开",
               "overdue": "未公示且已逾期", "recent": "未公示（未到期）"}
FOLLOWUP_LABELS = {"closed": "复查已整改（附照片）", "transferred": "移送立案", "notified": "已抄告待回执",
                   "open_overdue": "逾期未办结", "open": "整改期内"}
EXEMPT_REASON = "涉及正在立案调查的案件，公开可能影响调查处理"


@dataclasses.dataclass
class HistoryDemo:
    tasks: int = 0
    inspections: int = 0
    publication: Counter = dataclasses.field(default_factory=Counter)   # fate → inspections
    followups: Counter = dataclasses.field(default_factory=Counter)     # fate → follow-ups
    published_versions: int = 0
    skipped: list[str] = dataclasses.field(default_factory=list)   # tasks whose draw found nobody to draw
    note: str = ""


def task_code(today: dt.date, n: int) -> str:
    return f"SS-{today.year}-H{n + 1:02d}"


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), SHANGHAI).astimezone(dt.timezone.utc)


def _weekday(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


def _png(rgb: tuple[int, int, int], size: int = 32) -> bytes:
    """A small solid-colour PNG: the demo's re-inspection photo (each follow-up its own colour)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + bytes(rgb) * size for _ in range(size))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def seed_history(db: Database, today: dt.date, media_dir: str | None = None) -> HistoryDemo:
    started = time.perf_counter()
    out = HistoryDemo()
    with db.session_scope() as session:
        if session.scalar(select(Task.id).where(Task.code == task_code(today, 0))) is not None:
            out.note = f"演示历史任务 {task_code(today, 0)} 等已存在，未改动"
            return out
        dept = {d.code: d for d in session.scalars(select(Department).where(Department.code.in_(ITEMS)))}
        items = {i.code: i for i in session.scalars(select(Item).where(Item.code.in_(ITEMS.values())))}
        users = {u.username: u for u in session.scalars(select(User).where(User.username.in_(
            ["samr_planner", "samr_admin", "tax_admin", "samr_publisher", "tax_publisher"])))}
        if len(dept) < 2 or len(items) < 2 or len(users) < 5:
            out.note = "缺少市场监管、税务部门、演示事项或演示账号，未生成演示历史"
            return out
        plan_id = _write_plan(session, today, dept, items)
    media_dir = media_dir or tempfile.mkdtemp(prefix="shuangsui-demo-media-")
    for n, (days_ago, town, fates) in enumerate(TASKS):
        start = _weekday(today - dt.timedelta(days=days_ago))
        with db.session_scope() as session:
            task_id = _write_task(session, today, n, plan_id, start, data.TOWNS[town], dept, items)
        # the demo officers' own officers sit out the past draws (on leave for the draw, back at once), so that
        # their phones open on the demo task alone
        with db.session_scope() as session:
            mine = list(session.scalars(select(Inspector.id).join(User, User.inspector_id == Inspector.id).where(
                User.username.in_(DEMO_OFFICERS), Inspector.status == "active")))
            session.execute(update(Inspector).where(Inspector.id.in_(mine)).values(status="on_leave"))
        try:
            with db.session_scope() as session:
                actor = Actor.of_user(session.scalar(select(User).where(User.username == "samr_planner")))
                settings = draws.DrawSettings()
                draws.commit(session, actor, task_id, settings)
                draws.seed_and_draw(session, actor, task_id, settings, source="dice",
                                    dice=f"{start:%Y%m%d}" * 3 + "7", witnesses=["演示数据（自动生成，非真实摇号）"])
        except DomainError as exc:   # a small county: a town with no business to draw
            out.skipped.append(f"{task_code(today, n)}（{exc.message}）")
            continue
        finally:
            with db.session_scope() as session:
                session.execute(update(Inspector).where(Inspector.id.in_(mine)).values(status="active"))
        with db.session_scope() as session:
            _backdate_draw(session, task_id, start)
            ids = list(session.scalars(select(Inspection.id).where(Inspection.task_id == task_id)
                                       .order_by(Inspection.group_id, Inspection.position)))
        out.tasks += 1
        for k, inspection_id in enumerate(ids):
            fate = fates[k % len(fates)]
            problem = PROBLEMS.get((n, k))
            with db.session_scope() as session:
                _history_of(session, today, media_dir, inspection_id, start, k, fate, problem, n, out)
            out.inspections += 1
    with db.session_scope() as session:
        out.published_versions = len(list(session.scalars(select(PublishedResult.id).join(
            Task, Task.id == PublishedResult.task_id).where(Task.plan_id == plan_id))))
    pubs = "、".join(f"{FATE_LABELS[f]} {c}" for f, c in out.publication.items())
    fus = "、".join(f"{FOLLOWUP_LABELS[f]} {c}" for f, c in out.followups.items())
    out.note = (f"演示历史：过去一年 {out.tasks} 个联合抽查任务、{out.inspections} 户已检查（{pubs}），"
                f"后续处置 {sum(out.followups.values())} 件（{fus}）"
                + (f"；未能摇号：{'；'.join(out.skipped)}" if out.skipped else "")
                + f"（用时 {time.perf_counter() - started:.1f} 秒）")
    return out


def _write_plan(session: Session, today: dt.date, dept: dict, items: dict) -> int:
    samr, tax = dept["SAMR"], dept["TAX"]
    plan = Plan(code=f"JH-{today.year}-HIST", year=today.year,
                name="过去一年市场监管与税务部门联合抽查计划（演示历史）", kind="joint", lead_department_id=samr.id,
                status="published", ratio_rules={},
                description="演示数据：已完成的检查、公示（按时、逾期、更正、不适合公开）和后续处置，供统计和公示演示")
    plan.departments = [PlanDepartment(department_id=samr.id, role="lead"),
                        PlanDepartment(department_id=tax.id, role="participant")]
    plan.items = [PlanItem(item_id=items[ITEMS[c]].id, department_id=dept[c].id) for c in ITEMS]
    session.add(plan)
    session.flush()
    return plan.id


def _write_task(session: Session, today: dt.date, n: int, plan_id: int, start: dt.date, town: data.Town,
                dept: dict, items: dict) -> int:
    samr, tax = dept["SAMR"], dept["TAX"]
    task = Task(code=task_code(today, n), name=f"{town.name}企业登记事项与发票管理联合检查（演示历史）", plan_id=plan_id,
                lead_department_id=samr.id, status="confirmed", strata_mode="all",
                filters={"regions": [town.code], "types": ["enterprise"]},
                strata={"all": {"num": 1, "den": 100, "min": PER_TASK, "cap": PER_TASK}}, exclusions={},
                group_load=GROUP_LOAD, start_date=start, end_date=start + dt.timedelta(days=45), draw_date=start,
                description=f"演示数据：{start:%Y年%m月}{town.name}企业，市场监管局牵头、税务局参与")
    task.departments = [TaskDepartment(department_id=samr.id, role="lead", members_per_group=2, status="confirmed"),
                        TaskDepartment(department_id=tax.id, role="participant", members_per_group=1,
                                       status="confirmed")]
    task.items = [TaskItem(item_id=items[ITEMS[c]].id, department_id=dept[c].id) for c in ITEMS]
    session.add(task)
    session.flush()
    return task.id


def _backdate_draw(session: Session, task_id: int, start: dt.date) -> None:
    # backdated: the draw services stamp now; the task was drawn on its start day
    from backend.draws.models import Draw

    when = _at(start, 9)
    for draw in session.scalars(select(Draw).where(Draw.task_id == task_id)):
        draw.committed_at = when
        if draw.drawn_at is not None:
            draw.drawn_at = when
    for inspection in session.scalars(select(Inspection).where(Inspection.task_id == task_id)):
        inspection.created_at = inspection.updated_at = when


def _signature(inspection_id: int, scope: str, p, content_hash: str, when: dt.datetime, department_id=None,
               role: str = "officer", name: str | None = None) -> Signature:
    # the representative signs on the lead's phone; the times are the visit's (backdated)
    return Signature(id=str(uuid.uuid4()), inspection_id=inspection_id, scope=scope, department_id=department_id,
                     role=role, signer_user_id=p.user_id if p else None,
                     signer_inspector_id=p.inspector_id if p else None, signer_name=p.name if p else name,
                     signer_cert_no=p.cert_no if p else None, content_hash=content_hash,
                     strokes=[{"points": [[0, 0, 0], [12, 4, 40]]}], via="own" if p else "lead_device",
                     device_time=when, created_at=when)


def _phone_of(session: Session, p) -> str:
    """The sync client of ``p``'s phone (made once; backdated use only). An officer of the roster without an
    account gets one, frozen and without a password: the history's officers worked on phones, as the figure
    掌上执法率 counts it, but nobody logs in as them."""
    user_id = p.user_id or session.scalar(select(User.id).where(User.inspector_id == p.inspector_id))
    if user_id is None:
        inspector = session.get(Inspector, p.inspector_id)
        user = User(username=f"officer_{inspector.cert_no}".lower()[:64], display_name=inspector.name,
                    password_hash="!", role=Role.INSPECTOR, department_id=inspector.department_id,
                    inspector_id=inspector.id, status="frozen")
        session.add(user)
        session.flush()
        user_id = user.id
    client_id = str(uuid.uuid5(NAMESPACE, f"phone-{user_id}"))
    if session.get(SyncClient, client_id) is None:
        session.add(SyncClient(id=client_id, user_id=user_id, kind="phone", label="演示历史（手机）",
                               last_mutation_id=0, created_at=utcnow(), retired_at=utcnow()))
        session.flush()
    return client_id


def _pushed_from_phone(session: Session, inspection_id: int, p, department_id: int, when: dt.datetime) -> None:
    """The section's writes and signature as the mutations of its officer's phone, as a push keeps them
    (``sync_mutation``): what 掌上执法率 reads (docs/figures.md)."""
    client = session.get(SyncClient, _phone_of(session, p))
    for name, minutes in (("section.set", 50), ("section.sign", 5)):
        client.last_mutation_id += 1
        session.add(SyncMutation(client_id=client.id, mutation_id=client.last_mutation_id, name=name,
                                 status="applied", result={"status": "applied", "inspection_id": inspection_id},
                                 inspection_id=inspection_id, device_time=when - dt.timedelta(minutes=minutes),
                                 applied_at=when - dt.timedelta(minutes=minutes)))   # backdated
    client.last_push_at = when


def _submit(session: Session, inspection_id: int, completed_at: dt.datetime, record_data: dict) -> Inspection:
    """Signed sections and a signed merged record, then what ``record.submit`` does, at ``completed_at``."""
    inspection = session.get(Inspection, inspection_id)
    part = participation(session, [inspection])[inspection_id]
    methods = {i.department_id: (i.id, i.methods[0]) for i in session.scalars(
        select(Item).join(TaskItem, TaskItem.item_id == Item.id).where(TaskItem.task_id == inspection.task_id))}
    for dept_id in part.departments():
        code = part.of_department(dept_id)[0].department_code
        item_id, method = methods[dept_id]
        content = {f"items.{item_id}.method": method}
        h = section_hash(inspection_id, code, content)
        session.add(Section(inspection_id=inspection_id, department_id=dept_id, data=content,
                            revs={k: [1, None] for k in content}, rev=1, status="signed", signed_hash=h))
        for p in part.of_department(dept_id):
            session.add(_signature(inspection_id, "section", p, h, completed_at, dept_id))
        _pushed_from_phone(session, inspection_id, part.of_department(dept_id)[0], dept_id, completed_at)
    session.add(Record(inspection_id=inspection_id, data=record_data, revs={k: [1, None] for k in record_data}, rev=1))
    session.flush()
    batch = FieldBatch(session, Actor.system("demo-seed"))
    h = current_record_hash(batch, batch.inspection(inspection_id))
    record = session.get(Record, inspection_id)
    record.state, record.content_hash = "signing", h
    for p in part.participants:
        session.add(_signature(inspection_id, "record", p, h, completed_at))
    session.add(_signature(inspection_id, "record", None, h, completed_at, role="representative",
                           name=record_data["representative"]["name"]))
    session.flush()
    # record.submit: the record submitted, the clock started at the phone's time, the follow-ups opened
    record.state, record.submitted_at, record.finalized_at = "submitted", completed_at, completed_at
    inspection.started_at = completed_at - dt.timedelta(hours=1)
    deadlines.complete(session, inspection, user_id=None, device_time=completed_at)
    followups.open_from_record(session, inspection, inspection.task, record_data.get("followups"), user_id=None)
    session.flush()
    return inspection


def _actor(session: Session, username: str) -> Actor:
    return Actor.of_user(session.scalar(select(User).where(User.username == username)))


def _history_of(session: Session, today: dt.date, media_dir: str, inspection_id: int, start: dt.date, k: int,
                fate: str, problem: str | None, n: int, out: HistoryDemo) -> None:
    calendar = deadlines._calendar(session)
    last_day = today - dt.timedelta(days=1)
    spacing = 1 if fate == "recent" or n == len(TASKS) - 1 else 4
    completed_on = min(_weekday(start + dt.timedelta(days=2 + spacing * k)), last_day)
    completed_at = _at(completed_on, 10, 30)
    depts = {d.code: d.id for d in session.scalars(select(Department).where(Department.code.in_(ITEMS)))}
    record_data: dict = {"arrived_at": _at(completed_on, 9, 30).astimezone(SHANGHAI).isoformat(),
                         "departed_at": completed_at.astimezone(SHANGHAI).isoformat(),
                         "representative": {"name": "演示代表"}, "result_categories": ["no_problem"],
                         "followups": [{"id": str(uuid.uuid5(NAMESPACE, f"{inspection_id}-none")), "action": "none"}]}
    if problem:
        due = completed_on + dt.timedelta(days=30 if n == len(TASKS) - 1 else 15)
        action, owner = {"transferred": ("transfer", "SAMR"), "notified": ("notify", "TAX")}.get(problem,
                                                                                                 ("rectify", "SAMR"))
        record_data["result_categories"] = ["pending_followup", "unpublished_info"]
        record_data["opinion"] = "未按规定公示年度报告，责令限期改正"
        record_data["followups"] = [{"id": str(uuid.uuid5(NAMESPACE, f"{task_code(today, n)}-{k}")), "action": action,
                                     "department_id": depts[owner], "due_on": due.isoformat(),
                                     "note": {"rectify": "责令 15 日内补报年度报告并公示",
                                              "transfer": "涉嫌提交虚假材料，移送办案机构",
                                              "notify": "发票使用问题抄告相关部门"}[action]}]
    if fate == "exempt":
        record_data["not_public"] = {"reason": EXEMPT_REASON}
    inspection = _submit(session, inspection_id, completed_at, record_data)
    session.commit()
    due_on = inspection.publication_due_on

    def publish_at(day: dt.date) -> dt.datetime:
        return _at(min(day, last_day), 15)

    if fate in ("on_time", "corrected", "late"):
        if fate == "late":
            when = publish_at(calendar.add_working_days(due_on, 2 + k % 5).day)
        else:
            when = publish_at(calendar.add_working_days(completed_on, 3 + (k * 2) % 9).day)
        for username in ("samr_publisher", "tax_publisher"):
            try:
                view = results.publish(session, _actor(session, username), inspection_id, {})
            except Forbidden:   # 税务 did not take part (its member recused): nothing of its own to publish
                session.rollback()
                continue
            row = session.get(PublishedResult, view["id"])
            row.published_at = when   # backdated
        session.get(Inspection, inspection_id).published_at = when   # backdated
        session.commit()
        if fate == "corrected":
            fixed = publish_at(when.astimezone(SHANGHAI).date() + dt.timedelta(days=21))
            view = results.correct(session, _actor(session, "samr_publisher"), inspection_id, {
                "remarks": "企业已于检查后补报年度报告",
                "change_note": "原公示未附备注，补充企业在检查后的整改情况"})
            new = session.get(PublishedResult, view["id"])
            new.published_at = fixed   # backdated
            session.get(PublishedResult, new.supersedes_id).superseded_at = fixed   # backdated
            session.commit()
        out.publication[fate] += 1
    elif fate == "exempt":
        results.decide_exemption(session, _actor(session, "samr_publisher"), inspection_id, "approve",
                                 "经审核，涉及案件调查，同意不予公开")
        when = publish_at(calendar.add_working_days(completed_on, 2).day)
        row = session.scalar(select(PublicationExemption).where(PublicationExemption.inspection_id == inspection_id))
        row.requested_at, row.decided_at = completed_at, when   # backdated
        session.get(Inspection, inspection_id).publication_exempt_at = when   # backdated
        session.commit()
        out.publication[fate] += 1
    else:   # overdue or recent: nobody has published it
        out.publication["overdue" if due_on < today else "recent"] += 1

    if problem:
        _followup(session, today, media_dir, inspection_id, completed_at, problem, out)


def _followup(session: Session, today: dt.date, media_dir: str, inspection_id: int, opened_at: dt.datetime,
              fate: str, out: HistoryDemo) -> None:
    from backend.media import services as media

    row = session.scalar(select(Followup).where(Followup.inspection_id == inspection_id))
    row.created_at = row.updated_at = opened_at   # backdated: opened at the submission
    row.steps[0].at = opened_at
    session.commit()
    done_on = min(row.due_on - dt.timedelta(days=3), today - dt.timedelta(days=1))
    if fate in ("closed", "transferred"):
        photo = _png((40 + (inspection_id * 37) % 200, 120 + (inspection_id * 11) % 120, 90))
        stored = media.add_generated(session, media_dir, photo, kind="photo", media_type="image/png",
                                     filename=f"复查照片-{inspection_id}.png", actor=Actor.system("demo-seed"))
        owner = _actor(session, "samr_admin")
        media._hold(session, stored, owner)   # the department admin uploaded it (what an upload leaves)
        session.commit()
        if fate == "closed":
            args = {"inspected_on": done_on.isoformat(), "outcome": "rectified",
                    "findings": "已补报年度报告并在公示系统公示，现场核实无误", "evidence": [stored.sha256]}
            name = "reinspect"
        else:
            args = {"filed_on": done_on.isoformat(), "agency": "陕州区市场监督管理局执法稽查股",
                    "case_no": f"陕市监立〔{done_on.year}〕{inspection_id:03d}号", "evidence": [stored.sha256]}
            name = "transfer"
        row = followups.transition(session, owner, row.id, name, args, followups.etag(row))
    elif fate == "notified":
        mem = session.scalar(select(Department.id).where(Department.code == "MEM"))
        args = {"notified_on": done_on.isoformat(), "department_id": mem, "note": "抄告应急管理部门核查"}
        row = followups.transition(session, _actor(session, "tax_admin"), row.id, "notify", args, followups.etag(row))
    if fate in ("closed", "transferred", "notified"):
        when = _at(done_on, 16)
        row.steps[-1].at = row.updated_at = when   # backdated
        if row.closed_at is not None:
            row.closed_at = when   # backdated
        session.commit()
    out.followups[fate] += 1
