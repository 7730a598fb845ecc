"""The PRC working-day calendar as imported by an admin (one row per year, one per exceptional day), and the
published results with their exemptions (不适合公开)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, CheckConstraint, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow

DAY_KINDS = {"restday": "放假", "workday": "调休上班"}


class CalendarYear(Base):
    """A year whose State Council holiday notice an admin imported; it overrides chinesecalendar."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(16))               # cli | api: how it was imported
    file_name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))               # the notice's title
    ref: Mapped[str | None] = mapped_column(String(100))          # its document number (文号), if any
    issued_on: Mapped[dt.date | None] = mapped_column(Date)       # the notice's date
    sha256: Mapped[str] = mapped_column(String(64))               # of the file (CLI) or the canonical body (API)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    imported_by_label: Mapped[str] = mapped_column(String(128))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    days: Mapped[list["CalendarDay"]] = relationship(back_populates="calendar_year", order_by="CalendarDay.day",
                                                     cascade="all, delete-orphan")


class CalendarDay(Base):
    """A day of an imported year that is not what Monday to Friday says, or a weekend day inside a holiday:
    ``restday`` (放假) or ``workday`` (a weekend make-up working day, 调休上班)."""

    __tablename__ = "calendar_day"
    __table_args__ = (CheckConstraint("kind in ('restday', 'workday')", name="kind"),)

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_year.year"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(32))                 # the holiday: 春节, 国庆节, …

    calendar_year: Mapped[CalendarYear] = relationship(back_populates="days")


RESULT_KINDS = {"record": "检查结果（牵头部门发布的整条记录）", "department": "部门检查结果（参与部门发布的本部门部分）"}
RESULT_STATES = {"current": "现行", "superseded": "已被更正版本取代"}


class PublishedResult(Base):
    """One published version of an inspection's result, or of one department's part of it (谁检查、谁公开).

    ``document`` is the public text exactly as the public API answers it, built by
    ``backend.publication.redaction`` and never changed; a correction is a new row (``version`` + 1) that
    says what changed and why, and the row it replaces becomes ``superseded`` (still public)."""

    __tablename__ = "published_result"
    __table_args__ = (UniqueConstraint("inspection_id", "department_id", "version"),
                      CheckConstraint("kind in ('record', 'department')", name="kind"),
                      CheckConstraint("state in ('current', 'superseded')", name="state"),
                      # the public list's order (``results.public_query``): current versions, and every version
                      Index("ix_published_result_state_completed_id", "state", "completed_on", "id"),
                      Index("ix_published_result_completed_id", "completed_on", "id"),
                      # its search by a part of the business's name: trigrams (PostgreSQL, pg_trgm)
                      Index("ix_published_result_target_name_trgm", "target_name", postgresql_using="gin",
                            postgresql_ops={"target_name": "gin_trgm_ops"}).ddl_if(dialect="postgresql"),
                      # the national file's period and order (``exports.national_query``)
                      Index("ix_published_result_published", "published_at", "id"))

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)   # the publisher
    kind: Mapped[str] = mapped_column(String(12))                 # record (lead department) | department
    version: Mapped[int] = mapped_column(Integer)                 # 1, 2, … per (inspection, department)
    state: Mapped[str] = mapped_column(String(12), default="current")
    document: Mapped[dict] = mapped_column(JSON)                  # the public text (redaction.public_document)
    document_sha256: Mapped[str] = mapped_column(String(64))      # of its canonical JSON
    record_hash: Mapped[str | None] = mapped_column(String(64))   # the submitted record's content hash
    # search columns (copies of what the document says)
    task_id: Mapped[int] = mapped_column(Integer, index=True)
    task_code: Mapped[str] = mapped_column(String(32), index=True)
    target_name: Mapped[str] = mapped_column(String(200))
    target_code: Mapped[str | None] = mapped_column(String(32), index=True)   # USCC, else registration number
    completed_on: Mapped[dt.date] = mapped_column(Date)
    change_note: Mapped[str | None] = mapped_column(Text)         # a correction: what changed and why
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("published_result.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(Integer)
    published_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    superseded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    notice_sha256: Mapped[str | None] = mapped_column(String(64))   # the 检查结果告知书 PDF (business_notice)


class PublishedPhoto(Base):
    """A photo a publisher ticked for a published version: its metadata-free copy (``media.public_sha256``) is
    then public at ``/api/public/photos/<sha256>``, as long as a version naming it is (superseded ones stay)."""

    __tablename__ = "published_photo"

    result_id: Mapped[int] = mapped_column(ForeignKey("published_result.id"), primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)   # the public copy's


EXEMPTION_STATUSES = {"requested": "待审批", "approved": "已批准不公开", "refused": "不予批准（应当公示）"}


class PublicationExemption(Base):
    """不适合公开: the reason, who asked, and the decision of someone of the lead department who is not the
    group's lead. The lead's ``not_public`` in the record is a request; a publisher may also ask."""

    __tablename__ = "publication_exemption"
    __table_args__ = (CheckConstraint("status in ('requested', 'approved', 'refused')", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(8))                # record (the lead's not_public) | request
    requested_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="requested")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    decision_note: Mapped[str | None] = mapped_column(Text)



class PenaltyDecision(Base):
    """行政处罚决定 that follows an inspection, published apart within 7 working days of the decision (郴州).

    A department admin or publisher of a department taking part in the inspection records it; publishing
    freezes ``document`` (the whitelist of ``redaction.penalty_document``), never changed afterwards."""

    __tablename__ = "penalty_decision"
    __table_args__ = (UniqueConstraint("department_id", "decision_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)   # the deciding authority
    decision_no: Mapped[str] = mapped_column(String(64))           # 决定书文号
    decided_on: Mapped[dt.date] = mapped_column(Date)
    summary: Mapped[str] = mapped_column(Text)                     # written for the public by the publisher
    due_on: Mapped[dt.date] = mapped_column(Date, index=True)      # 7 working days after decided_on
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    document: Mapped[dict | None] = mapped_column(JSON)            # the public text, frozen at publication
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    published_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PublicationExport(Base):
    """One batch file for the national publicity system (国家企业信用信息公示系统): the published results of a
    period, written by a job or ``shuangsui publication export``; each export is kept (re-exportable)."""

    __tablename__ = "publication_export"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)  # None: all
    period_from: Mapped[dt.date] = mapped_column(Date)
    period_to: Mapped[dt.date] = mapped_column(Date)
    format: Mapped[str] = mapped_column(String(8))                 # csv | xlsx
    rows: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))                # the file in the media folder
    size: Mapped[int] = mapped_column(Integer)
    file_name: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(8))                 # api | cli
    job_id: Mapped[str | None] = mapped_column(String(32))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
