"""Batch files for the national publicity system (国家企业信用信息公示系统) and the list of businesses found
unreachable at their registered address (for the 经营异常名录 review). No Flask.

The national file is built only from the published documents (``published_result.document``, the
whitelist of ``redaction``), in the field layout of DESIGN §7; every version published in the period is a row
(a correction goes out as a new row with its note), so an export can be made again for any period and gives
the same rows. Each export is kept (``publication_export``) and audited.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import String, cast, or_, select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit.services import record as audit
from backend.auth.roles import Role
from backend.directory.writers import write_csv, write_xlsx
from backend.errors import Forbidden, InvalidInput
from backend.publication.models import PublicationExport, PublishedResult

FORMATS = ("csv", "xlsx")
BATCH = 2000
MAX_DAYS = 366
NATIONAL_HEADERS = ["公示编号", "版本", "计划编号", "计划名称", "任务编号", "任务名称", "抽查类型", "是否联合抽查",
                    "检查实施机关", "公示部门", "企业名称", "统一社会信用代码/注册号", "检查事项", "检查完成日期",
                    "检查结果", "备注", "更正说明", "公示日期", "检查记录哈希"]
ABNORMAL_HEADERS = ["检查编号", "企业名称", "统一社会信用代码/注册号", "登记住所（经营场所）", "任务编号", "任务名称",
                    "牵头部门", "检查完成日期", "检查结果"]
_BEIJING = ZoneInfo("Asia/Shanghai")


def check_period(start: dt.date, end: dt.date, code: str = "export.bad_period") -> None:
    if start > end:
        raise InvalidInput("起始日期不能晚于截止日期", code=code, errors={"from": ["晚于 to"]})
    if (end - start).days >= MAX_DAYS:
        raise InvalidInput(f"一次最多导出 {MAX_DAYS} 天", code=code, errors={"to": [f"期间超过 {MAX_DAYS} 天"]})


def scope_department(actor: Actor, department_id: int | None) -> int | None:
    """The department a list or export covers: a department's own staff only their own; sysadmins and
    supervisors any (None: every department)."""
    if actor.role in (Role.SYSADMIN.value, Role.SUPERVISOR.value):
        return department_id
    if actor.department_id is None or (department_id and department_id != actor.department_id):
        raise Forbidden("只能查看和导出本部门的数据", code="forbidden.department")
    return actor.department_id


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), _BEIJING).astimezone(dt.timezone.utc)


def national_query(department_id: int | None, start: dt.date, end: dt.date):
    """Every version published (Beijing dates) in [start, end] by ``department_id`` (None: all)."""
    stmt = select(PublishedResult).where(PublishedResult.published_at >= _day_start(start),
                                         PublishedResult.published_at < _day_start(end + dt.timedelta(days=1)))
    if department_id:
        stmt = stmt.where(PublishedResult.department_id == department_id)
    return stmt.order_by(PublishedResult.published_at, PublishedResult.id)


# the columns a row of the file is made of (never the whole version: its notice, hashes, search copies)
_NATIONAL_COLUMNS = (PublishedResult.id, PublishedResult.version, PublishedResult.document,
                     PublishedResult.change_note, PublishedResult.published_at)


def national_row(row) -> list[str]:
    """One line of the file from a version (or a row of ``_NATIONAL_COLUMNS``)."""
    doc = row.document
    business = doc["business"]
    return [str(row.id), str(row.version), doc["plan"]["code"], doc["plan"]["name"], doc["task"]["code"],
            doc["task"]["name"], doc["task"]["type_label"], doc["task"]["joint_label"],
            "、".join(a["name"] for a in doc["authorities"]), doc["publisher"]["name"], business["name"],
            business.get("uscc") or business.get("reg_no") or "", "、".join(i["name"] for i in doc["items"]),
            doc["completed_on"], "；".join(c["label"] for c in doc["result_categories"]), doc.get("remarks") or "",
            row.change_note or "", row.published_at.astimezone(_BEIJING).date().isoformat(), doc.get("record_hash") or ""]


def national_rows(session: Session, department_id: int | None, start: dt.date, end: dt.date,
                  batch: int = BATCH) -> Iterator[list[str]]:
    """The file's lines in order (published_at, id), streamed: the ids of the period first (one narrow query:
    no wide rows sorted, no OFFSET re-reading the pages before), then each ``batch`` of them with only the
    columns the file shows, by primary key; the versions are never changed once published, so the lines are
    the period's as the first query saw it."""
    ids = session.scalars(national_query(department_id, start, end).with_only_columns(PublishedResult.id)).all()
    for i in range(0, len(ids), batch):
        chunk = ids[i:i + batch]
        by_id = {r.id: r for r in session.execute(select(*_NATIONAL_COLUMNS).where(PublishedResult.id.in_(chunk)))}
        yield from (national_row(by_id[row_id]) for row_id in chunk)


def write(out: BinaryIO, fmt: str, title: str, headers: list[str], rows) -> int:
    return write_csv(out, headers, rows) if fmt == "csv" else write_xlsx(out, title, headers, rows)


def national_file_name(start: dt.date, end: dt.date, fmt: str) -> str:
    return f"抽查检查结果_国家企业信用信息公示系统_{start:%Y%m%d}-{end:%Y%m%d}.{fmt}"


def export_national(session: Session, actor: Actor, media_dir: str, department_id: int | None, start: dt.date,
                    end: dt.date, fmt: str, *, source: str, job_id: str | None = None) -> PublicationExport:
    """Write the batch file into the media folder, keep a row for it, audit it."""
    from backend.media import holders, storage

    check_period(start, end)
    if fmt not in FORMATS:
        raise InvalidInput("导出格式应为 csv 或 xlsx", code="export.bad_format", errors={"format": ["csv 或 xlsx"]})
    tmp_dir = Path(media_dir) / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(dir=tmp_dir, prefix="publication-", suffix=f".{fmt}")
    try:
        with os.fdopen(fd, "wb") as out:
            rows = write(out, fmt, "抽查检查结果", NATIONAL_HEADERS, national_rows(session, department_id, start, end))
        holders.writing(session)      # stored in the transaction of the row naming it (committed by the caller)
        sha256, size = storage.get(media_dir).put_path(tmp_path, move=True)
    finally:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
    row = PublicationExport(department_id=department_id, period_from=start, period_to=end, format=fmt, rows=rows,
                            sha256=sha256, size=size, file_name=national_file_name(start, end, fmt), source=source,
                            job_id=job_id, created_by=actor.user_id)
    session.add(row)
    session.flush()
    audit(session, actor, "publication.export", "publication_export", row.id, department_id=department_id,
          detail={"from": start.isoformat(), "to": end.isoformat(), "format": fmt, "rows": rows, "sha256": sha256})
    return row


def exports_query(actor: Actor, args: dict):
    stmt = select(PublicationExport)
    if actor.role in (Role.SYSADMIN.value, Role.SUPERVISOR.value):
        if args.get("department_id"):
            stmt = stmt.where(PublicationExport.department_id == args["department_id"])
    else:
        stmt = stmt.where(PublicationExport.department_id == scope_department(actor, args.get("department_id")))
    return stmt.order_by(PublicationExport.id.desc())


def export_view(row: PublicationExport) -> dict:
    return {"id": row.id, "department_id": row.department_id, "from": row.period_from, "to": row.period_to,
            "format": row.format, "rows": row.rows, "sha256": row.sha256, "size": row.size,
            "file_name": row.file_name, "source": row.source, "job_id": row.job_id, "created_at": row.created_at,
            "download": f"/api/v1/publication/exports/{row.id}/file"}


def may_read_export(actor: Actor, row: PublicationExport) -> None:
    if actor.role in (Role.SYSADMIN.value, Role.SUPERVISOR.value):
        return
    if row.department_id is None or row.department_id != actor.department_id:
        raise Forbidden("只能下载本部门的导出文件", code="forbidden.department")


# --- 经营异常名录 review: businesses unreachable at their registered address --------------------------------

UNREACHABLE = "unreachable"


def _unreachable(data: dict | None) -> bool:
    data = data or {}
    outcome = data.get("outcome")
    return UNREACHABLE in (data.get("result_categories") or []) or (
        isinstance(outcome, dict) and outcome.get("code") == UNREACHABLE)


def abnormal_query(actor: Actor, args: dict):
    """Submitted records saying the business could not be reached at its registered address (the result
    category 通过登记的住所（经营场所）无法联系, or the visit's outcome), of tasks the department leads or
    whose group has its officers, completed in the period."""
    from backend.draws.models import GroupMember
    from backend.inspections.models import Inspection, Record
    from backend.plans.models import Task

    dept = scope_department(actor, args.get("department_id"))
    start, end = args.get("from_"), args.get("to")
    if start and end:
        check_period(start, end, "abnormal.bad_period")
    # the JSON's text holds the code in quotes (both databases); _unreachable checks each row exactly
    stmt = (select(Inspection, Record).join(Record, Record.inspection_id == Inspection.id)
            .where(Record.state == "submitted", Inspection.status == "completed",
                   cast(Record.data, String).like(f'%"{UNREACHABLE}"%')))
    if dept:
        stmt = stmt.where(or_(Inspection.task_id.in_(select(Task.id).where(Task.lead_department_id == dept)),
                              Inspection.group_id.in_(select(GroupMember.group_id)
                                                      .where(GroupMember.department_id == dept))))
    if start:
        stmt = stmt.where(Inspection.completed_on >= start)
    if end:
        stmt = stmt.where(Inspection.completed_on <= end)
    return stmt.order_by(Inspection.completed_on.desc(), Inspection.id.desc())


def abnormal_rows(session: Session, rows) -> list[dict]:
    from backend.directory.models import Department
    from backend.inspections.rules import RESULT_CATEGORIES

    out = []
    for inspection, rec in rows:
        if not _unreachable(rec.data):
            continue
        task, target = inspection.task, inspection.target
        lead = session.get(Department, task.lead_department_id)
        codes = list((rec.data or {}).get("result_categories") or [UNREACHABLE])
        out.append({"inspection_id": inspection.id, "target_id": target.id, "target_name": target.name,
                    "target_code": target.uscc or target.reg_no or target.code, "address": target.address,
                    "task_id": task.id, "task_code": task.code, "task_name": task.name,
                    "lead_department": {"id": lead.id, "code": lead.code, "name": lead.name},
                    "completed_on": inspection.completed_on,
                    "result_categories": [{"code": c, "label": RESULT_CATEGORIES.get(c, c)} for c in codes]})
    return out


def abnormal_table(row: dict) -> list[str]:
    return [str(row["inspection_id"]), row["target_name"], row["target_code"] or "", row["address"] or "",
            row["task_code"], row["task_name"], row["lead_department"]["name"], row["completed_on"].isoformat(),
            "；".join(c["label"] for c in row["result_categories"])]


def abnormal_file(session: Session, actor: Actor, args: dict, fmt: str, out: BinaryIO, limit: int = 50000) -> int:
    stmt = abnormal_query(actor, args).limit(limit)
    rows = abnormal_rows(session, session.execute(stmt))
    audit(session, actor, "abnormal.export", "inspection", None, department_id=actor.department_id,
          detail={"format": fmt, "rows": len(rows), "from": args["from_"].isoformat() if args.get("from_") else None,
                  "to": args["to"].isoformat() if args.get("to") else None})
    session.commit()
    return write(out, fmt, "经营异常名录待审", ABNORMAL_HEADERS, (abnormal_table(r) for r in rows))
