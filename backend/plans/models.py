"""Plans and tasks. A task is one joint campaign drawn with the verifiable draw (backend.draws)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Date, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow

PLAN_STATUSES = {"draft": "草稿", "approved": "已审批", "published": "已公布"}
TASK_STATUSES = {
    "draft": "草稿", "consulting": "会审中", "declined": "被退回", "confirmed": "会审通过",
    "committed": "已冻结名单（待摇号）", "drawn": "已抽取", "cancelled": "已撤销",
}
TASK_DEPT_STATUSES = {"pending": "待会审", "confirmed": "已确认", "declined": "已退回"}


class Plan(Base):
    """年度抽查计划: per department or joint. Published plans are public; later changes are versioned."""

    __tablename__ = "plan"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    year: Mapped[int] = mapped_column(Integer, index=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16), default="department")  # department | joint
    # the level that set the plan (and its tasks): province | city | county (抽查覆盖率 split, docs/figures.md)
    level: Mapped[str] = mapped_column(String(16), default="county", server_default="county")
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    description: Mapped[str | None] = mapped_column(Text)
    # ratio rules per stratum: {"A": {"num": 1, "den": 100, "min": 1, "cap": 50}, ...} (see DRAW.md)
    ratio_rules: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    retire_reason: Mapped[str | None] = mapped_column(Text)

    lead_department = relationship("Department", lazy="joined")
    departments: Mapped[list["PlanDepartment"]] = relationship(cascade="all, delete-orphan",
                                                               order_by="PlanDepartment.id")
    items: Mapped[list["PlanItem"]] = relationship(cascade="all, delete-orphan", order_by="PlanItem.id")
    batches: Mapped[list["PlanBatch"]] = relationship(cascade="all, delete-orphan", order_by="PlanBatch.seq")
    versions: Mapped[list["PlanVersion"]] = relationship(cascade="all, delete-orphan",
                                                         order_by="PlanVersion.version")


class PlanDepartment(Base):
    __tablename__ = "plan_department"
    __table_args__ = (UniqueConstraint("plan_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    role: Mapped[str] = mapped_column(String(16))  # lead | participant

    department = relationship("Department", lazy="joined")


class PlanItem(Base):
    __tablename__ = "plan_item"
    __table_args__ = (UniqueConstraint("plan_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))

    item = relationship("Item", lazy="joined")


class PlanBatch(Base):
    """批次: when a part of the plan runs (months) and roughly how many targets."""

    __tablename__ = "plan_batch"
    __table_args__ = (UniqueConstraint("plan_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    seq: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(100))
    months: Mapped[list] = mapped_column(JSON, default=list)  # e.g. [4, 5, 6]
    planned_count: Mapped[int | None] = mapped_column(Integer)


class PlanVersion(Base):
    """The plan as it was before a change made after publishing (调整), with the reason."""

    __tablename__ = "plan_version"
    __table_args__ = (UniqueConstraint("plan_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"))
    version: Mapped[int] = mapped_column(Integer)
    snapshot: Mapped[dict] = mapped_column(JSON)
    reason: Mapped[str] = mapped_column(Text)   # why the next version changed it
    changed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    changed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Task(Base):
    """抽查任务: one joint campaign. Its `code` is the draw's task id (e.g. SS-2026-001)."""

    __tablename__ = "task"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    plan_id: Mapped[int] = mapped_column(ForeignKey("plan.id"), index=True)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("plan_batch.id"))
    lead_department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="draft", index=True)
    # 定向 (directed) filters: {"regions": ["411203"], "industries": ["F52"], "types": ["enterprise"],
    #                          "risk_classes": ["C", "D"], "tags": ["食品经营"]}; empty = 不定向
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    # "risk": one stratum per risk class A/B/C/D (unclassified targets go to "U"); "all": one stratum
    strata_mode: Mapped[str] = mapped_column(String(8), default="risk")
    # {"A": {"num": 1, "den": 100, "min": 1, "cap": 50}, ...}, defaults from the risk class settings
    strata: Mapped[dict] = mapped_column(JSON, default=dict)
    # exclusions decided before the draw: {"inspected_this_year": true, "a_class_exempt": true}
    exclusions: Mapped[dict] = mapped_column(JSON, default=dict)
    group_load: Mapped[int] = mapped_column(Integer, default=5)     # targets per group
    methods: Mapped[list] = mapped_column(JSON, default=list)
    start_date: Mapped[dt.date | None] = mapped_column(Date)
    end_date: Mapped[dt.date | None] = mapped_column(Date)
    draw_date: Mapped[dt.date | None] = mapped_column(Date)
    description: Mapped[str | None] = mapped_column(Text)
    # bumped by every draw attempt inside its transaction: the row lock that lets one of two
    # concurrent draws win
    draw_seq: Mapped[int] = mapped_column(Integer, default=0)
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    cancelled_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)

    plan = relationship("Plan", lazy="joined")
    lead_department = relationship("Department", lazy="joined")
    departments: Mapped[list["TaskDepartment"]] = relationship(cascade="all, delete-orphan",
                                                               order_by="TaskDepartment.id")
    items: Mapped[list["TaskItem"]] = relationship(cascade="all, delete-orphan", order_by="TaskItem.id")


class TaskDepartment(Base):
    """A department's part in a task: its members per group and its 会审 decision."""

    __tablename__ = "task_department"
    __table_args__ = (UniqueConstraint("task_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    role: Mapped[str] = mapped_column(String(16))                  # lead | participant
    members_per_group: Mapped[int] = mapped_column(Integer, default=1)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    reason: Mapped[str | None] = mapped_column(Text)

    department = relationship("Department", lazy="joined")


class TaskItem(Base):
    """An item a department checks in this task."""

    __tablename__ = "task_item"
    __table_args__ = (UniqueConstraint("task_id", "item_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))

    item = relationship("Item", lazy="joined")
