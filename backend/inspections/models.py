from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow

INSPECTION_STATUSES = {"assigned": "待检查", "in_progress": "检查中", "completed": "已完成",
                       "replaced": "已替换（对象无法检查）", "superseded": "已被重新抽取取代"}


class Inspection(Base):
    """A drawn target assigned to its group. Later issues add sections, answers, photos, signatures."""

    __tablename__ = "inspection"
    __table_args__ = (UniqueConstraint("draw_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # task_id and draw_id repeat what the group says (for queries); only group_id and target_id are
    # foreign keys, because each key costs a check per row when a draw saves 30,000 inspections
    task_id: Mapped[int] = mapped_column(index=True)
    draw_id: Mapped[int] = mapped_column()
    group_id: Mapped[int] = mapped_column(ForeignKey("inspection_group.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)               # position in S (the group's order)
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    target = relationship("Target", lazy="joined")
    task = relationship("Task", lazy="joined", primaryjoin="Inspection.task_id == Task.id",
                        foreign_keys="Inspection.task_id")


class InspectionMember(Base):
    """Who inspects this target for a department when it differs from the group (a recusal replacement)."""

    __tablename__ = "inspection_member_override"
    __table_args__ = (UniqueConstraint("inspection_id", "out_inspector_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    out_inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"))
    in_inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"), index=True)
