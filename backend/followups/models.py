"""Follow-ups (后续处置) and the steps that carried each one (a re-inspection, a transfer, a receipt).

A follow-up is made from a submitted record's ``followups`` list (``services.open_from_record``); its
``state`` moves only by the transitions of ``services.TRANSITIONS``, each kept as a ``FollowupStep`` with
its date, its details and the sha256 of its evidence files.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow

FOLLOWUP_STATES = {
    "ordered": "已责令限期整改（待复查）",
    "unrectified": "复查未整改（待移送）",
    "rectified": "复查已整改",
    "to_transfer": "待移送办案机构",
    "transferred": "已移送办案机构（已立案）",
    "to_notify": "待抄告相关部门",
    "notified": "已抄告（待对方回执）",
    "acknowledged": "已抄告（对方已回执）",
    "judicial": "已移送司法机关",
}
CLOSED_STATES = frozenset({"rectified", "transferred", "acknowledged", "judicial"})
INITIAL_STATES = {"rectify": "ordered", "transfer": "to_transfer", "notify": "to_notify"}


class Followup(Base):
    """One follow-up of a submitted record, owned by a department of the group."""

    __tablename__ = "followup"
    __table_args__ = (UniqueConstraint("inspection_id", "uid"),
                      Index("ix_followup_department_state_due", "department_id", "state", "due_on"))

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(36))                    # the record's follow-up id (uuid)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))      # the owner
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    action: Mapped[str] = mapped_column(String(16))                # rectify | transfer | notify (the record's)
    state: Mapped[str] = mapped_column(String(16), index=True)
    due_on: Mapped[dt.date | None] = mapped_column(Date, index=True)
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)        # the ETag: every transition bumps it
    notified_department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)
    case_no: Mapped[str | None] = mapped_column(String(100))        # 立案 number (移送办案机构)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    department = relationship("Department", lazy="joined", foreign_keys=[department_id])
    notified_department = relationship("Department", lazy="joined", foreign_keys=[notified_department_id])
    target = relationship("Target", lazy="joined")
    task = relationship("Task", lazy="joined")
    steps: Mapped[list["FollowupStep"]] = relationship(order_by="FollowupStep.seq", cascade="all, delete-orphan")


class FollowupStep(Base):
    """One transition of a follow-up: who, when, from and to which state, its details and evidence."""

    __tablename__ = "followup_step"
    __table_args__ = (UniqueConstraint("followup_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    followup_id: Mapped[int] = mapped_column(ForeignKey("followup.id"))
    seq: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))       # open | reinspect | transfer | notify | acknowledge | judicial
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    on_date: Mapped[dt.date | None] = mapped_column(Date)  # the re-inspection's, the filing's, the receipt's day
    detail: Mapped[dict] = mapped_column(JSON, default=dict)
    evidence: Mapped[list] = mapped_column(JSON, default=list)   # sha256 of stored files
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
