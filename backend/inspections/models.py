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
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"), index=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("inspection_group.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)               # position in S (the group's order)
    status: Mapped[str] = mapped_column(String(16), default="assigned", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    target = relationship("Target", lazy="joined")
    task = relationship("Task", lazy="joined")


class InspectionMember(Base):
    """Who inspects this target for a department when it differs from the group (a recusal replacement)."""

    __tablename__ = "inspection_member_override"
    __table_args__ = (UniqueConstraint("inspection_id", "out_inspector_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    out_inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"))
    in_inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"), index=True)
