"""The inspection record: one section per department, the lead's merged record, signatures, conflicts, flags.

Content is stored as flat ``path → value`` maps with a revision per path (``sync.fields``):

* a section's check-point answers live one row per check point (``section_answer``: the fields
  of ``points.<id>.*``), everything else of the section (``items.<id>.*``, ``officers``, ``outcome``,
  ``note``, ``arrived_at``, ``departed_at``) in the section row's ``data``;
* the record's fields (result categories, follow-ups, …) in the record row's ``data``.

``docs/sync.md`` lists every path and its value.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, Date, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow

INSPECTION_STATUSES = {"assigned": "待检查", "in_progress": "检查中", "completed": "已完成",
                       "replaced": "已替换（对象无法检查）", "superseded": "已被重新抽取取代"}


class Inspection(Base):
    """A drawn target assigned to its group, and (once submitted) its completion and publication clock."""

    __tablename__ = "inspection"
    # a target once per draw; a re-inspection (复查, ``followup_id`` set) visits it again under the same draw
    __table_args__ = (Index("uq_inspection_draw_id_target_id", "draw_id", "target_id", unique=True,
                            sqlite_where=text("followup_id IS NULL"), postgresql_where=text("followup_id IS NULL")),
                      # the office list's order (a page of a million inspections without sorting them); also a
                      # task's inspections (task_id has no index of its own: one index less to write per row)
                      Index("ix_inspection_task_group_position", "task_id", "group_id", "position"),
                      # partial: a drawn inspection has neither, and nothing looks for the NULLs through them
                      # (30,000 index entries less to write per draw)
                      Index("ix_inspection_followup_id", "followup_id", sqlite_where=text("followup_id IS NOT NULL"),
                            postgresql_where=text("followup_id IS NOT NULL")),
                      Index("ix_inspection_publication_due_on", "publication_due_on",
                            sqlite_where=text("publication_due_on IS NOT NULL"),
                            postgresql_where=text("publication_due_on IS NOT NULL")))

    id: Mapped[int] = mapped_column(primary_key=True)
    # task_id and draw_id repeat what the group says (for queries); only target_id is a foreign key, because each
    # key costs a check per row when a draw saves 30,000 inspections (also on a NULL: completed_by and followup_id
    # are plain integers since migration 0022, group_id since 0024)
    task_id: Mapped[int] = mapped_column()
    draw_id: Mapped[int] = mapped_column()
    # no foreign key (migration 0024): written with its group in the draw's transaction; groups are never deleted
    group_id: Mapped[int] = mapped_column(Integer, index=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("target.id"), index=True)
    stratum: Mapped[str] = mapped_column(String(16))
    position: Mapped[int] = mapped_column(Integer)               # position in S (the group's order)
    status: Mapped[str] = mapped_column(String(16), default="assigned")
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    started_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # the user who submitted the record (deadlines.complete, from the signed-in user); not a foreign key (migration
    # 0022): a draw leaves it NULL, yet the key's check was queued and fired for each of its 30,000 rows
    completed_by: Mapped[int | None] = mapped_column(Integer)
    # the completion date in Beijing time, and the publication deadline counted from it
    completed_on: Mapped[dt.date | None] = mapped_column(Date)
    publication_due_on: Mapped[dt.date | None] = mapped_column(Date)
    due_provisional: Mapped[bool] = mapped_column(Boolean, default=False)
    # which day the publication clock counts from (deadlines.CLOCK_STARTS; None: before the setting, submission)
    clock_start: Mapped[str | None] = mapped_column(String(12))
    clock_start_on: Mapped[dt.date | None] = mapped_column(Date)
    published_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # 不适合公开 approved (backend/publication/results.py): exempt from publication, never "late"
    publication_exempt_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # a re-inspection (复查) of this follow-up (backend/followups/reinspections.py): no draw of its own, no
    # publication clock, left out of every figure; None for an inspection drawn. Not a foreign key (migration 0022,
    # as completed_by): set only by followups/reinspections.py, from the follow-up row it has locked
    followup_id: Mapped[int | None] = mapped_column(Integer)

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


class Section(Base):
    """One department's part of an inspection, written only by that department's officers."""

    __tablename__ = "inspection_section"
    __table_args__ = (UniqueConstraint("inspection_id", "department_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"))
    department_id: Mapped[int] = mapped_column(ForeignKey("department.id"))
    data: Mapped[dict] = mapped_column(JSON, default=dict)       # flat paths other than points.*
    revs: Mapped[dict] = mapped_column(JSON, default=dict)       # path → [rev, client id]
    rev: Mapped[int] = mapped_column(Integer, default=0)         # the last revision given out
    status: Mapped[str] = mapped_column(String(12), default="open")   # open | signed
    signed_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SectionAnswer(Base):
    """The fields of one check point in a section (``points.<check_point_id>.*``)."""

    __tablename__ = "section_answer"

    section_id: Mapped[int] = mapped_column(ForeignKey("inspection_section.id"), primary_key=True)
    check_point_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)       # field → value
    revs: Mapped[dict] = mapped_column(JSON, default=dict)       # field → [rev, client id]
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)   # server time it arrived
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(Integer)


class Record(Base):
    """The team lead's merged record (组长汇总): result, follow-ups, publication choice; then signatures."""

    __tablename__ = "inspection_record"
    # 问题发现率 (backend/figures): the records whose result categories say a problem was found (PostgreSQL)
    __table_args__ = (Index("ix_inspection_record_categories",
                            text("(CAST(data AS jsonb) -> 'result_categories')"),
                            postgresql_using="gin").ddl_if(dialect="postgresql"),)

    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), primary_key=True)
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    revs: Mapped[dict] = mapped_column(JSON, default=dict)
    rev: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(12), default="draft")    # draft | signing | submitted
    content_hash: Mapped[str | None] = mapped_column(String(64))       # fixed when signing starts
    version: Mapped[int] = mapped_column(Integer, default=1)           # the ETag: any change bumps it
    finalized_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    submitted_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


SIGNATURE_ROLES = {"officer": "检查人员", "representative": "被检查对象代表", "witness": "见证人"}


class Signature(Base):
    """A handwritten signature bound to the SHA-256 of what it signs (a section or the record)."""

    __tablename__ = "inspection_signature"
    __table_args__ = (Index("ix_inspection_signature_inspection", "inspection_id", "scope"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)      # client-generated UUID
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"))
    scope: Mapped[str] = mapped_column(String(8))                      # section | record
    department_id: Mapped[int | None] = mapped_column(Integer)         # the section's department
    role: Mapped[str] = mapped_column(String(16))                      # officer | representative | witness
    signer_user_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    signer_inspector_id: Mapped[int | None] = mapped_column(Integer)
    signer_name: Mapped[str] = mapped_column(String(64))
    signer_cert_no: Mapped[str | None] = mapped_column(String(32))
    signer_detail: Mapped[dict | None] = mapped_column(JSON)           # position, phone (representative, witness)
    content_hash: Mapped[str] = mapped_column(String(64))
    strokes: Mapped[list | None] = mapped_column(JSON)
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    via: Mapped[str] = mapped_column(String(16), default="own")        # own | lead_device
    device_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    client_id: Mapped[str | None] = mapped_column(String(36))
    mutation_id: Mapped[int | None] = mapped_column(BigInteger)
    void_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    void_reason: Mapped[str | None] = mapped_column(Text)
    void_by: Mapped[int | None] = mapped_column(Integer)


class Conflict(Base):
    """A write based on a stale revision: kept for the team lead, never a silent overwrite."""

    __tablename__ = "inspection_conflict"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    scope: Mapped[str] = mapped_column(String(8))                      # section | record
    department_id: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(80))
    base_rev: Mapped[int] = mapped_column(Integer)
    server_value: Mapped[dict | list | str | int | float | bool | None] = mapped_column(JSON)
    server_rev: Mapped[int] = mapped_column(Integer)
    server_client: Mapped[str | None] = mapped_column(String(36))
    client_value: Mapped[dict | list | str | int | float | bool | None] = mapped_column(JSON)
    client_user_id: Mapped[int | None] = mapped_column(Integer)
    client_id: Mapped[str | None] = mapped_column(String(36))
    mutation_id: Mapped[int | None] = mapped_column(BigInteger)
    device_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default="open")    # open | resolved
    choice: Mapped[str | None] = mapped_column(String(8))              # server | client
    resolved_by: Mapped[int | None] = mapped_column(Integer)
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    note: Mapped[str | None] = mapped_column(Text)


class Flag(Base):
    """Something the lead and supervisors should look at (a GPS fix far away, a clock off). Never dropped."""

    __tablename__ = "inspection_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    department_id: Mapped[int | None] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(80))
    code: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(300))
    detail: Mapped[dict | None] = mapped_column(JSON)
    rev: Mapped[int | None] = mapped_column(Integer)                   # the revision of the flagged value
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxImport(Base):
    """A phone's exported outbox, uploaded by an administrator (the office's 导入离线记录, import_desk.py): the
    file as checked and previewed, then, once confirmed, what its import did, mutation by mutation."""

    __tablename__ = "outbox_import"
    __table_args__ = (Index("ix_outbox_import_department_created", "department_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(12))          # previewed | imported | stopped | failed | cancelled
    file_name: Mapped[str] = mapped_column(String(200))
    file_sha256: Mapped[str] = mapped_column(String(64))     # the stored file (media storage) until it is imported
    file_size: Mapped[int] = mapped_column(BigInteger)
    client_id: Mapped[str] = mapped_column(String(36), index=True)
    officer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    department_id: Mapped[int | None] = mapped_column(Integer)   # the officer's (who may see and confirm it)
    preview: Mapped[dict] = mapped_column(JSON)
    close_gap: Mapped[bool] = mapped_column(Boolean, default=False)
    result: Mapped[dict | None] = mapped_column(JSON)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    created_by_label: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    imported_by_label: Mapped[str | None] = mapped_column(String(128))
    imported_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
