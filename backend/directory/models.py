"""The lists of the double-random system. Nothing referenced is ever hard-deleted: rows are retired."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (JSON, CheckConstraint, Date, Float, ForeignKey, Index, Integer, Numeric, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow
from backend.directory.rules import tags_from_text


class TimestampMixin:
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    @property
    def retired(self) -> bool:
        return self.retired_at is not None


class Region(Base):
    """行政区划: 6-digit county-level codes, 9-digit town codes."""

    __tablename__ = "region"

    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    level: Mapped[str] = mapped_column(String(16))
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class Department(TimestampMixin, Base):
    __tablename__ = "department"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    short_name: Mapped[str | None] = mapped_column(String(16))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))


class Item(TimestampMixin, Base):
    """抽查事项 of the item list (抽查事项清单)."""

    __tablename__ = "item"
    __table_args__ = (CheckConstraint("kind in ('key', 'general')", name="kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    category: Mapped[str] = mapped_column(String(64), index=True)       # 抽查类别
    name: Mapped[str] = mapped_column(String(200))                     # 抽查事项
    object_types: Mapped[list] = mapped_column(JSON, default=list)     # 检查对象 (target types)
    kind: Mapped[str] = mapped_column(String(8))                       # key 重点 | general 一般
    methods: Mapped[list] = mapped_column(JSON, default=list)          # 检查方式
    # 执法资质 an inspector must hold to be drawn for this item's department (all of them)
    required_qualifications: Mapped[list] = mapped_column(JSON, default=list)
    legal_basis: Mapped[str] = mapped_column(Text, default="")         # 检查依据
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)  # 检查主体
    ratio_cap_percent: Mapped[Decimal | None] = mapped_column(Numeric(6, 3))  # general items only
    frequency: Mapped[str | None] = mapped_column(String(64))          # 抽查频次, free text
    remark: Mapped[str | None] = mapped_column(Text)

    department = relationship("Department", lazy="joined")
    check_points: Mapped[list["CheckPoint"]] = relationship(
        back_populates="item", order_by="CheckPoint.seq", cascade="all, delete-orphan")


class CheckPoint(Base):
    """检查内容: one line of an item's checklist and the kind of answer it takes."""

    __tablename__ = "check_point"
    __table_args__ = (UniqueConstraint("item_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"))
    seq: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(500))
    answer_type: Mapped[str] = mapped_column(String(16), default="compliance")
    options: Mapped[list | None] = mapped_column(JSON)
    required: Mapped[bool] = mapped_column(default=True)
    guidance: Mapped[str | None] = mapped_column(Text)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    item: Mapped[Item] = relationship(back_populates="check_points")


TARGET_SEARCHED = ("name", "code", "uscc", "reg_no", "address", "legal_rep")
INSPECTOR_SEARCHED = ("name", "cert_no", "phone", "position")


class Target(TimestampMixin, Base):
    """检查对象: a business, or a product / project / activity with a directory code."""

    __tablename__ = "target"
    __table_args__ = (
        Index("ix_target_region_risk", "region_code", "risk_class"),
        Index("ix_target_status_risk", "status", "risk_class"),
        # the list's search (contains, any case) over six columns: trigram indexes (PostgreSQL, pg_trgm)
        *(Index(f"ix_target_{c}_trgm", c, postgresql_using="gin", postgresql_ops={c: "gin_trgm_ops"})
          .ddl_if(dialect="postgresql") for c in TARGET_SEARCHED),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # the public key used by the draw: USCC, else the 15-digit registration number, else a directory code
    code: Mapped[str] = mapped_column(String(32), unique=True)
    uscc: Mapped[str | None] = mapped_column(String(18), unique=True)
    reg_no: Mapped[str | None] = mapped_column(String(15), unique=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    type: Mapped[str] = mapped_column(String(16))
    address: Mapped[str | None] = mapped_column(String(300))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    industry_code: Mapped[str | None] = mapped_column(String(8), index=True)
    risk_class: Mapped[str | None] = mapped_column(String(1))
    tags_text: Mapped[str] = mapped_column(String(500), default="")
    latitude: Mapped[float | None] = mapped_column(Float)
    longitude: Mapped[float | None] = mapped_column(Float)
    datum: Mapped[str | None] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(16), default="active")
    legal_rep: Mapped[str | None] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"), index=True)  # who maintains it

    @property
    def tags(self) -> list[str]:
        return tags_from_text(self.tags_text)


class TargetItemHistory(Base):
    """The last inspection of a target for an item (feeds "inspected this year" exclusions)."""

    __tablename__ = "target_item_history"

    target_id: Mapped[int] = mapped_column(ForeignKey("target.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("item.id"), primary_key=True)
    last_inspected_on: Mapped[dt.date] = mapped_column(Date)
    source: Mapped[str | None] = mapped_column(String(64))


class Inspector(TimestampMixin, Base):
    """执法检查人员 of the roster (执法检查人员名录库)."""

    __tablename__ = "inspector"
    __table_args__ = (
        Index("ix_inspector_department_cert", "department_id", "cert_no", "id"),   # the list's order
        *(Index(f"ix_inspector_{c}_trgm", c, postgresql_using="gin", postgresql_ops={c: "gin_trgm_ops"})
          .ddl_if(dialect="postgresql") for c in INSPECTOR_SEARCHED),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    cert_no: Mapped[str] = mapped_column(String(32), unique=True)   # 执法证号, the draw's id
    name: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str | None] = mapped_column(String(32))
    region_code: Mapped[str | None] = mapped_column(ForeignKey("region.code"))
    position: Mapped[str | None] = mapped_column(String(64))
    qualifications: Mapped[list] = mapped_column(JSON, default=list)
    expertise_text: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(16), default="active")

    department = relationship("Department", lazy="joined")
    conflicts: Mapped[list["InspectorConflict"]] = relationship(back_populates="inspector")

    @property
    def expertise(self) -> list[str]:
        return tags_from_text(self.expertise_text)


class InspectorConflict(Base):
    """A declared conflict of interest: the inspector must not inspect the target (回避)."""

    __tablename__ = "inspector_conflict"
    __table_args__ = (UniqueConstraint("inspector_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    inspector: Mapped[Inspector] = relationship(back_populates="conflicts")
    target: Mapped[Target] = relationship(lazy="joined")


class Expert(TimestampMixin, Base):
    """专家库: outside experts who may join a group."""

    __tablename__ = "expert"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))
    organization: Mapped[str | None] = mapped_column(String(128))
    title: Mapped[str | None] = mapped_column(String(64))
    fields_text: Mapped[str] = mapped_column(String(500), default="")
    phone: Mapped[str | None] = mapped_column(String(32))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="active")

    department = relationship("Department", lazy="joined")

    @property
    def fields(self) -> list[str]:
        return tags_from_text(self.fields_text)


class ExpertConflict(Base):
    """A declared conflict of interest of an expert: they take no part in inspecting the target (回避)."""

    __tablename__ = "expert_conflict"
    __table_args__ = (UniqueConstraint("expert_id", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"), index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id"), index=True)
    reason: Mapped[str] = mapped_column(String(200))
    declared_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    expert: Mapped[Expert] = relationship(lazy="joined")
    target: Mapped[Target] = relationship(lazy="joined")
