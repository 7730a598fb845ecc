"""Follow-ups (后续处置) to closure. No Flask here.

* ``open_from_record``: each follow-up a submitted record lists (except ``none``) becomes a ``Followup``,
  once (called by ``record.submit``; the record's follow-up id is the key).
* ``transition``: the state machine (``TRANSITIONS``), which cannot be skipped:

  ========================  =====================================  ==============================
  state                     transition (who)                       to
  ========================  =====================================  ==============================
  ordered 责令限期整改      reinspect 复查 (owner; usually by the  rectified 已整改 / unrectified
                            phones: reinspections.py)
  unrectified, to_transfer  transfer 移送办案机构，立案 (owner)    transferred
  unrectified, to_transfer  judicial 移送司法机关 (owner)          judicial
  to_notify                 notify 抄告相关部门 (owner)            notified
  notified                  acknowledge 回执 (receiving dept)      acknowledged
  ========================  =====================================  ==============================

  A step that closes a follow-up (and a re-inspection, whatever it found) needs its evidence: the sha256
  of stored files the actor may read (``followup.evidence_required``). Each transition names the version
  it was based on (``If-Match``: 428 without it, 412 when stale), is kept as a ``FollowupStep`` and audited.
* ``register_query`` and ``register_rows``: the department's register (台帐), and its XLSX.
* ``disposal_rate``: 后续处置率, closed follow-ups over follow-ups due in a period.
* ``target_inspections_query`` / ``history_rows``: a business's past inspections with their open follow-ups.
"""
from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any, Iterable, Mapping

from sqlalchemy import and_, case, func, or_, select
from sqlalchemy.orm import Session, selectinload

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.roles import Role
from backend.db import utcnow
from backend.directory.models import Department, Target
from backend.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound, check_if_match
from backend.followups.models import CLOSED_STATES, FOLLOWUP_STATES, INITIAL_STATES, Followup, FollowupStep
from backend.inspections import deadlines
from backend.inspections.models import Inspection, Record
from backend.plans.models import Task, TaskDepartment

ACTIONS = {"rectify": "责令限期整改", "transfer": "移送办案机构", "notify": "抄告相关部门"}
READ_ALL = (Role.SYSADMIN, Role.SUPERVISOR)
ACTORS = (Role.SYSADMIN, Role.DEPT_ADMIN, Role.INSPECTOR)        # the owner department's
ACKNOWLEDGERS = (Role.SYSADMIN, Role.DEPT_ADMIN)                 # the receiving department's
READERS = (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PLANNER, Role.INSPECTOR)
HISTORY_READERS = (Role.SYSADMIN, Role.SUPERVISOR, Role.DEPT_ADMIN, Role.PLANNER)
MAX_EVIDENCE = 20
EXPORT_MAX_ROWS = 5000
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

# name → (states it starts from, the evidence it needs (None: none), label)
TRANSITIONS: dict[str, tuple[frozenset, str | None, str]] = {
    "reinspect": (frozenset({"ordered"}), "复查的照片或文书", "复查"),
    "transfer": (frozenset({"unrectified", "to_transfer"}), "立案文书", "移送办案机构"),
    "judicial": (frozenset({"unrectified", "to_transfer"}), "告知移送记录", "移送司法机关"),
    "notify": (frozenset({"to_notify"}), None, "抄告相关部门"),
    "acknowledge": (frozenset({"notified"}), "对方部门的回执", "确认回执"),
}
NEXT_STEP = {"ordered": "复查", "unrectified": "移送办案机构或移送司法机关", "to_transfer": "移送办案机构或移送司法机关",
             "to_notify": "抄告相关部门", "notified": "对方部门确认回执"}


def _invalid(code: str, message: str, field: str | None = None) -> InvalidInput:
    return InvalidInput(message, code=code, errors={field: [message]} if field else None)


def etag(row: Followup) -> str:
    return f'"f{row.id}-{row.version}"'


def is_closed(row: Followup) -> bool:
    return row.state in CLOSED_STATES


def is_overdue(row: Followup, today: dt.date | None = None) -> bool:
    from backend.inspections.deadlines import today_shanghai

    return not is_closed(row) and row.due_on is not None and row.due_on < (today or today_shanghai())


# --- made from the submitted record -----------------------------------------------------------

def _due(value: Any) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def open_from_record(session: Session, inspection: Inspection, task: Task, followups: Any, *,
                     user_id: int | None) -> list[Followup]:
    """Each follow-up of the record (except ``none``) as a ``Followup`` in its first state; those already
    made (by the record's follow-up id) are left as they are. Part of the caller's transaction."""
    if not isinstance(followups, list) or not followups:
        return []
    made = set(session.scalars(select(Followup.uid).where(Followup.inspection_id == inspection.id)))
    out = []
    now = utcnow()
    for f in followups:
        if not isinstance(f, dict) or f.get("action") not in INITIAL_STATES or not isinstance(f.get("id"), str):
            continue
        if f["id"] in made or not isinstance(f.get("department_id"), int):
            continue
        state = INITIAL_STATES[f["action"]]
        note = f.get("note") if isinstance(f.get("note"), str) else None
        row = Followup(uid=f["id"], inspection_id=inspection.id, task_id=inspection.task_id,
                       target_id=inspection.target_id, department_id=f["department_id"],
                       lead_department_id=task.lead_department_id, action=f["action"], state=state,
                       due_on=_due(f.get("due_on")), note=note, version=1, created_by=user_id,
                       created_at=now, updated_at=now)
        row.steps.append(FollowupStep(seq=1, action="open", from_state=None, to_state=state, on_date=row.due_on,
                                      detail={"note": note} if note else {}, evidence=[], actor_id=user_id, at=now))
        session.add(row)
        made.add(f["id"])
        out.append(row)
    return out


# --- reading ------------------------------------------------------------------------------------

def _departments_of(row: Followup) -> set[int]:
    return {d for d in (row.department_id, row.lead_department_id, row.notified_department_id) if d is not None}


def get_followup(session: Session, followup_id: Any, *, lock: bool = False) -> Followup:
    if not isinstance(followup_id, int) or not 1 <= followup_id <= 2**31 - 1:
        raise NotFound("后续处置不存在", code="followup.not_found")
    if lock:
        session.execute(select(Followup.id).where(Followup.id == followup_id).with_for_update())
    row = session.get(Followup, followup_id, populate_existing=lock)
    if row is None:
        raise NotFound("后续处置不存在", code="followup.not_found")
    return row


def ensure_reader(actor: Actor, row: Followup) -> None:
    """Supervisors and system admins read all; others the follow-ups their department owns, leads the task
    of, or was sent (抄告)."""
    if actor.role in READ_ALL:
        return
    if actor.role not in READERS or actor.department_id not in _departments_of(row):
        raise Forbidden("只能查看本部门负责、牵头或被抄告的后续处置", code="forbidden.department")


def read(session: Session, actor: Actor, followup_id: Any) -> Followup:
    row = get_followup(session, followup_id)
    ensure_reader(actor, row)
    return row


def snapshot(row: Followup) -> dict:
    return {"inspection_id": row.inspection_id, "uid": row.uid, "department_id": row.department_id,
            "action": row.action, "state": row.state, "due_on": row.due_on.isoformat() if row.due_on else None,
            "notified_department_id": row.notified_department_id, "case_no": row.case_no, "version": row.version}


# --- the state machine --------------------------------------------------------------------------

def _ensure_actor(actor: Actor, row: Followup, name: str) -> None:
    if name == "acknowledge":
        if actor.role not in ACKNOWLEDGERS:
            raise Forbidden("回执须由接收抄告部门的部门管理员确认", code="forbidden.role")
        if actor.role != Role.SYSADMIN and actor.department_id != row.notified_department_id:
            raise Forbidden("只有接收抄告的部门可以确认回执", code="forbidden.department")
        return
    if actor.role not in ACTORS:
        raise Forbidden("后续处置由负责部门的部门管理员或执法检查人员办理", code="forbidden.role")
    if actor.role != Role.SYSADMIN and actor.department_id != row.department_id:
        raise Forbidden("只能办理本部门负责的后续处置", code="forbidden.department")


def _text(data: Mapping, key: str, label: str, *, required: bool = True, max_len: int = 2000) -> str | None:
    value = data.get(key)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise _invalid("followup.field_required", f"请填写{label}", key)
        return None
    if not isinstance(value, str) or "\x00" in value:
        raise _invalid("followup.bad_field", f"{label}应为文本", key)
    value = value.strip()
    if len(value) > max_len:
        raise _invalid("followup.bad_field", f"{label}长度不能超过 {max_len}", key)
    return value


def _day(data: Mapping, key: str, label: str, row: Followup) -> dt.date:
    from backend.inspections.deadlines import today_shanghai

    value = data.get(key)
    if value is None:
        raise _invalid("followup.field_required", f"请填写{label}", key)
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            raise _invalid("followup.bad_date", f"{label}格式应为 YYYY-MM-DD", key) from None
    if not isinstance(value, dt.date):
        raise _invalid("followup.bad_date", f"{label}格式应为 YYYY-MM-DD", key)
    if value > today_shanghai():
        raise _invalid("followup.bad_date", f"{label}不能晚于今天", key)
    created = row.created_at.date() if row.created_at else None
    if created is not None and value < created - dt.timedelta(days=1):
        raise _invalid("followup.bad_date", f"{label}不能早于检查记录提交之日", key)
    return value


def _evidence(session: Session, actor: Actor, row: Followup, values: Any, needed: str | None) -> list[str]:
    """The evidence files: stored, readable by ``actor``; referenced by the inspection so they are kept."""
    from backend.media import services as media

    if values is None:
        values = []
    if not isinstance(values, list) or len(values) > MAX_EVIDENCE:
        raise _invalid("followup.bad_evidence", f"证据应为文件 SHA-256 的列表（最多 {MAX_EVIDENCE} 个）", "evidence")
    hashes = []
    for value in values:
        if not isinstance(value, str) or not SHA256_RE.match(value.lower()):
            raise _invalid("followup.bad_evidence", "证据须为已上传文件的 SHA-256（64 位十六进制）", "evidence")
        if value.lower() not in hashes:
            hashes.append(value.lower())
    if needed and not hashes:
        raise _invalid("followup.evidence_required", f"须附{needed}（先上传照片或扫描件，再在 evidence 中列出其 SHA-256），"
                                                     "没有证据不能办理此步", "evidence")
    for sha in hashes:
        try:
            media.readable(session, actor, sha)
        except NotFound:
            raise _invalid("followup.evidence_unreadable", f"证据文件 {sha[:12]}… 不存在或你无权查看，请先上传",
                           "evidence") from None
    # through the references' own function: the files' rows are touched (locked), so a clean-up running now
    # re-checks them and keeps them (a reference inserted alone, uncommitted, was not seen by its DELETE: the
    # evidence could go with the files nobody used); bound, since the actor may read each
    media.add_references(session, hashes, row.inspection_id, actor)
    return hashes


def _check_version(row: Followup, if_match: str | None) -> None:
    check_if_match(if_match, etag(row), "followup", stale_details={"state": row.state},
                   required_details={"etag": etag(row)})


def transition(session: Session, actor: Actor, followup_id: Any, name: str, data: Mapping,
               if_match: str | None) -> Followup:
    """One step of the state machine (the module's table), checked, kept as a step, audited."""
    starts, needed, label = TRANSITIONS[name]
    row = get_followup(session, followup_id, lock=True)
    _ensure_actor(actor, row, name)
    _check_version(row, if_match)
    if row.state not in starts:
        now = FOLLOWUP_STATES.get(row.state, row.state)
        hint = "，已办结" if is_closed(row) else f"，下一步应为：{NEXT_STEP[row.state]}" if row.state in NEXT_STEP else ""
        raise Conflict(f"当前状态为「{now}」{hint}，不能{label}", code="followup.bad_state",
                       details={"state": row.state, "allowed_from": sorted(starts)})
    before = snapshot(row)
    detail: dict[str, Any] = {}
    if name == "reinspect":
        from backend.followups.reinspections import open_reinspection

        pending = open_reinspection(session, row.id)
        if pending is not None:
            raise Conflict("已安排手机复查（复查检查尚未提交），复查结论由该检查提交时记录", code="followup.reinspection_open",
                           details={"inspection_id": pending.id})
        on_date = _day(data, "inspected_on", "复查日期", row)
        outcome = data.get("outcome")
        if outcome not in ("rectified", "unrectified"):
            raise _invalid("followup.bad_outcome", "复查结论应为 rectified（已整改）或 unrectified（未整改）", "outcome")
        detail = {"findings": _text(data, "findings", "复查情况"), "outcome": outcome}
        to = outcome
    elif name in ("transfer", "judicial"):
        key = "filed_on" if name == "transfer" else "transferred_on"
        on_date = _day(data, key, "立案日期" if name == "transfer" else "移送日期", row)
        if name == "transfer":
            detail = {"agency": _text(data, "agency", "办案机构", max_len=200),
                      "case_no": _text(data, "case_no", "立案号（案件编号）", max_len=100)}
            row.case_no = detail["case_no"]
        else:
            detail = {"authority": _text(data, "authority", "司法机关", max_len=200),
                      "record_no": _text(data, "record_no", "告知移送记录编号", max_len=100)}
        detail["note"] = _text(data, "note", "说明", required=False)
        to = "transferred" if name == "transfer" else "judicial"
    elif name == "notify":
        on_date = _day(data, "notified_on", "抄告日期", row)
        dept_id = data.get("department_id")
        dept = session.get(Department, dept_id) if isinstance(dept_id, int) and 0 < dept_id < 2**31 else None
        if dept is None or dept.retired_at is not None:
            raise _invalid("followup.bad_department", "接收抄告的部门不存在或已停用", "department_id")
        if dept.id == row.department_id:
            raise _invalid("followup.bad_department", "不能抄告本部门，请选择相关的其他部门", "department_id")
        row.notified_department_id, row.notified_department = dept.id, dept
        detail = {"department_id": dept.id, "department": dept.name, "note": _text(data, "note", "抄告内容",
                                                                                  required=False)}
        to = "notified"
    else:  # acknowledge
        on_date = _day(data, "received_on", "回执日期", row)
        detail = {"note": _text(data, "note", "回执说明", required=False)}
        to = "acknowledged"
    evidence = _evidence(session, actor, row, data.get("evidence"), needed)
    detail = {k: v for k, v in detail.items() if v is not None}
    now = utcnow()
    row.steps.append(FollowupStep(seq=len(row.steps) + 1, action=name, from_state=row.state, to_state=to,
                                  on_date=on_date, detail=detail, evidence=evidence, actor_id=actor.user_id, at=now))
    row.state, row.version, row.updated_at = to, row.version + 1, now
    if to in CLOSED_STATES:
        row.closed_at = now
    audit.record(session, actor, f"followup.{name}", "followup", row.id, before=before, after=snapshot(row),
                 detail={"evidence": evidence, "on_date": on_date.isoformat(), **detail},
                 department_id=row.department_id)
    session.commit()
    return row


# --- the register (台帐) --------------------------------------------------------------------------

def register_query(session: Session, actor: Actor, args: Mapping):
    """The follow-ups ``actor`` may see, filtered, by deadline (none last), then id."""
    from backend.inspections.deadlines import today_shanghai

    stmt = select(Followup).options(selectinload(Followup.steps))
    requested = args.get("department_id")
    if actor.role in READ_ALL:
        if requested is not None:
            stmt = stmt.where(Followup.department_id == requested)
    else:
        if actor.role not in READERS or actor.department_id is None:
            raise Forbidden("无权查看后续处置台帐", code="forbidden.role")
        if requested is not None and requested != actor.department_id:
            raise Forbidden("只能查看本部门的后续处置台帐", code="forbidden.department")
        own = actor.department_id
        if requested is not None:
            stmt = stmt.where(Followup.department_id == own)
        else:
            stmt = stmt.where(or_(Followup.department_id == own, Followup.lead_department_id == own,
                                  Followup.notified_department_id == own))
    state = args.get("state")
    if state == "open":
        stmt = stmt.where(Followup.state.not_in(CLOSED_STATES))
    elif state == "closed":
        stmt = stmt.where(Followup.state.in_(CLOSED_STATES))
    elif state:
        stmt = stmt.where(Followup.state == state)
    if args.get("action"):
        stmt = stmt.where(Followup.action == args["action"])
    if args.get("due_before"):
        stmt = stmt.where(Followup.due_on <= args["due_before"])
    if args.get("overdue"):
        stmt = stmt.where(Followup.state.not_in(CLOSED_STATES), Followup.due_on < today_shanghai())
    if args.get("task_id"):
        stmt = stmt.where(Followup.task_id == args["task_id"])
    if args.get("target_id"):
        stmt = stmt.where(Followup.target_id == args["target_id"])
    return stmt.order_by(case((Followup.due_on.is_(None), 1), else_=0), Followup.due_on, Followup.id)


REGISTER_HEADERS = ["序号", "任务编号", "任务名称", "检查对象", "统一社会信用代码", "负责部门", "处置方式", "整改期限",
                    "状态", "是否逾期", "立案号", "抄告部门", "最近办理", "最近办理日期", "办结时间", "说明"]


def register_rows(rows: Iterable[Followup]) -> Iterable[list[str]]:
    from backend.inspections.deadlines import today_shanghai

    today = today_shanghai()
    for n, row in enumerate(rows, 1):
        last = row.steps[-1] if row.steps else None
        yield [str(n), row.task.code if row.task else "", row.task.name if row.task else "",
               row.target.name if row.target else "", (row.target.uscc or row.target.code) if row.target else "",
               row.department.name if row.department else "", ACTIONS.get(row.action, row.action),
               row.due_on.isoformat() if row.due_on else "", FOLLOWUP_STATES.get(row.state, row.state),
               "是" if is_overdue(row, today) else "否", row.case_no or "",
               row.notified_department.name if row.notified_department else "",
               STEP_LABELS.get(last.action, last.action) if last else "",
               last.on_date.isoformat() if last and last.on_date else "",
               row.closed_at.isoformat(timespec="seconds") if row.closed_at else "", row.note or ""]


STEP_LABELS = {"open": "检查记录提交", "schedule": "安排复查", **{k: v[2] for k, v in TRANSITIONS.items()}}


def register_xlsx(session: Session, actor: Actor, args: Mapping, *, limit: int = EXPORT_MAX_ROWS) -> bytes:
    from backend.directory.writers import write_xlsx

    stmt = register_query(session, actor, args)
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    if total > limit:
        raise DomainError(f"共 {total} 条，超过导出上限（{limit} 条），请缩小筛选范围", code="export.too_many_rows",
                          status=422, details={"total": total, "limit": limit})
    out = io.BytesIO()
    write_xlsx(out, "后续处置台帐", REGISTER_HEADERS, register_rows(session.scalars(stmt)))
    audit.record(session, actor, "followup.export", "followup", None, detail={"rows": total, **{
        k: (v.isoformat() if isinstance(v, dt.date) else v) for k, v in args.items() if k not in ("page", "page_size")}},
        department_id=actor.department_id)
    session.commit()
    return out.getvalue()


# --- 后续处置率 ----------------------------------------------------------------------------------

def disposal_rate(session: Session, first: dt.date, last: dt.date, *, department_id: int | None = None,
                  task_id: int | None = None) -> dict:
    """后续处置率 for the period ``first``..``last`` (inclusive): of the follow-ups due in it (their deadline;
    one without a deadline is due the day its inspection was completed), how many are closed now."""
    due_day = func.coalesce(Followup.due_on, Inspection.completed_on)
    stmt = (select(func.count(Followup.id), func.sum(case((Followup.state.in_(CLOSED_STATES), 1), else_=0)))
            .join(Inspection, Inspection.id == Followup.inspection_id)
            .where(and_(due_day >= first, due_day <= last)))
    if department_id is not None:
        stmt = stmt.where(Followup.department_id == department_id)
    if task_id is not None:
        stmt = stmt.where(Followup.task_id == task_id)
    due, closed = session.execute(stmt).one()
    due, closed = int(due or 0), int(closed or 0)
    return {"from": first, "to": last, "due": due, "closed": closed,
            "rate": None if not due else round(closed / due, 4)}


# --- the business's record ----------------------------------------------------------------------

def target_inspections_query(session: Session, actor: Actor, target_id: Any):
    """The target's completed inspections, newest first: all for supervisors and system admins, those of
    tasks their department takes part in for department admins and planners."""
    if actor.role not in HISTORY_READERS:
        raise Forbidden("无权查看检查对象的检查记录", code="forbidden.role")
    if not isinstance(target_id, int) or session.get(Target, target_id) is None:
        raise NotFound("检查对象不存在", code="target.not_found")
    stmt = select(Inspection).where(Inspection.target_id == target_id, Inspection.status == "completed")
    if actor.role not in READ_ALL:
        if actor.department_id is None:
            raise Forbidden("账号未归属部门，不能查看检查记录", code="forbidden.department")
        stmt = stmt.where(Inspection.task_id.in_(select(TaskDepartment.task_id).where(
            TaskDepartment.department_id == actor.department_id)))
    return stmt.order_by(Inspection.completed_at.desc(), Inspection.id.desc())


def history_rows(session: Session, inspections: list[Inspection]) -> list[dict]:
    ids = [i.id for i in inspections]
    records = {r.inspection_id: r for r in session.scalars(select(Record).where(Record.inspection_id.in_(ids)))} \
        if ids else {}
    open_rows: dict[int, list[Followup]] = {}
    if ids:
        for f in session.scalars(select(Followup).where(Followup.inspection_id.in_(ids),
                                                        Followup.state.not_in(CLOSED_STATES))
                                 .order_by(Followup.id)):
            open_rows.setdefault(f.inspection_id, []).append(f)
    out = []
    for i in inspections:
        data = records[i.id].data if i.id in records else {}
        task = i.task
        out.append({"id": i.id, "task_id": i.task_id, "task_code": task.code if task else None,
                    "task_name": task.name if task else None,
                    "lead_department": task.lead_department.name if task and task.lead_department else None,
                    "completed_on": i.completed_on, "publication_due_on": i.publication_due_on,
                    **(deadlines.clock_json(i, text=False) if i.completed_on else {}),
                    "published_at": i.published_at,
                    "result_categories": list(data.get("result_categories") or []),
                    "open_followups": open_rows.get(i.id, [])})
    return out
