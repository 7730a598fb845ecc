"""A task's draws: the frozen lists, the commitment, the seed, the result, the groups."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow

DRAW_STATUSES = {"committed": "已冻结并公布承诺值", "drawn": "已抽取", "superseded": "已被重新抽取取代",
                 "failed": "摇号未能完成（待重新开放任务）", "abandoned": "已放弃（任务已重新开放）",
                 "void": "已作废"}


class Draw(Base):
    """One draw of a task (seq 1, 2, …). A re-draw adds a row; the earlier one stays, marked superseded."""

    __tablename__ = "draw"
    __table_args__ = (UniqueConstraint("task_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    seq: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="committed")
    algorithm: Mapped[str] = mapped_column(String(16), default="dsr/v1")
    plan: Mapped[dict] = mapped_column(JSON)                    # the draw's plan object as published
    plan_hash: Mapped[str] = mapped_column(String(64))
    targets_hash: Mapped[str] = mapped_column(String(64))
    inspectors_hash: Mapped[str] = mapped_column(String(64))
    commitment: Mapped[str] = mapped_column(String(64))
    counts: Mapped[dict] = mapped_column(JSON)                   # eligible/excluded per stratum, k per stratum
    committed_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    committed_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    # the randomness, entered after the commitment
    seed_source: Mapped[str | None] = mapped_column(String(8))   # dice | csprng
    dice: Mapped[str | None] = mapped_column(String(200))       # the digits used (the seed's input)
    dice_entered: Mapped[str | None] = mapped_column(Text)       # as typed in, spaces and all
    witnesses: Mapped[list | None] = mapped_column(JSON)
    seed: Mapped[str | None] = mapped_column(String(64))
    drawn_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    drawn_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    result: Mapped[dict | None] = mapped_column(JSON)            # result object of the record
    # why this draw replaced the one before (a re-draw); why it was superseded
    reason: Mapped[str | None] = mapped_column(Text)
    superseded_reason: Mapped[str | None] = mapped_column(Text)
    # seeds entered that could not complete the draw (every seed is public): dice, seed, error, time
    failed_attempts: Mapped[list | None] = mapped_column(JSON)
    # a committed draw given up when its task was reopened: it stays public, with the reason
    abandoned_reason: Mapped[str | None] = mapped_column(Text)
    abandoned_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    abandoned_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    task = relationship("Task", lazy="joined")


# the public list's order (``services.public_draw_list_query``: newest first by drawn-or-committed time, then id);
# the expression must stay the very one the query sorts on, or the index is not used
Index("ix_draw_public_order", func.coalesce(Draw.drawn_at, Draw.committed_at), Draw.id)


class DrawList(Base):
    """A frozen list of the draw, zlib-compressed canonical text (one "key|id" line per entry).

    kinds: targets ("stratum|id"), inspectors ("dept|id"), conflicts ("inspector|target"),
    excluded ("reason|id"), names ("id|name") for the published record.
    """

    __tablename__ = "draw_list"
    __table_args__ = (UniqueConstraint("draw_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"))
    kind: Mapped[str] = mapped_column(String(16))
    count: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))              # of the uncompressed text
    data: Mapped[bytes] = mapped_column(LargeBinary)


class InspectionGroup(Base):
    """检查组: the inspectors of several departments who visit the same targets together."""

    __tablename__ = "inspection_group"
    __table_args__ = (UniqueConstraint("draw_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)                 # 0, 1, 2, … as in the record
    leader_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"))

    # group_member.group_id has no foreign key (migration 0024): the join is said here
    members: Mapped[list["GroupMember"]] = relationship(
        order_by="GroupMember.id", primaryjoin="InspectionGroup.id == foreign(GroupMember.group_id)")
    leader = relationship("Inspector", lazy="joined")


class GroupMember(Base):
    __tablename__ = "group_member"
    __table_args__ = (UniqueConstraint("group_id", "inspector_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # no index of its own (migration 0022): the unique (group_id, inspector_id) serves the group's lookups; no
    # foreign key (0024): written with its group in the draw's transaction, and groups are never deleted
    group_id: Mapped[int] = mapped_column(Integer)
    inspector_id: Mapped[int] = mapped_column(ForeignKey("inspector.id"), index=True)
    department_id: Mapped[int] = mapped_column()                 # the inspector's (repeated for queries)
    position: Mapped[int] = mapped_column(Integer)               # order as drawn within the department

    inspector = relationship("Inspector", lazy="joined")


class TargetReplacement(Base):
    """A drawn target found closed, deregistered or revoked, replaced by the next one of its stratum's
    reserve (DRAW.md step 3). Published, in id order, as the record's ``target_replacements``."""

    __tablename__ = "target_replacement"

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("draw.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(16))
    out_code: Mapped[str] = mapped_column(String(32))
    in_code: Mapped[str] = mapped_column(String(32))
    reason_code: Mapped[str] = mapped_column(String(32))         # algorithm.TARGET_REPLACEMENT_REASONS
    note: Mapped[str | None] = mapped_column(Text)
    replaced_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    replaced_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TaskExpert(Base):
    """An expert of the 专家名录库 attached by the lead department to one group (by number) of a task.

    Attached before the commitment: the draw's plan object names them, so they are committed
    with the lists and cannot be chosen after the targets are known.
    """

    __tablename__ = "task_expert"
    __table_args__ = (UniqueConstraint("task_id", "expert_id", "group_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("task.id"), index=True)
    expert_id: Mapped[int] = mapped_column(ForeignKey("expert.id"), index=True)
    group_number: Mapped[int] = mapped_column(Integer)           # 0, 1, 2, … as in the record
    attached_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    attached_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    expert = relationship("Expert", lazy="joined")
