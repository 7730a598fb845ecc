from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime


class AuditEntry(Base):
    """Append-only (triggers), hash-chained under the audit key (全程留痕). ``id`` is the chain position,
    1, 2, 3, … without gaps."""

    __tablename__ = "audit_entry"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True,
                                    autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)
    actor_id: Mapped[int | None] = mapped_column(index=True)
    actor_label: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64), index=True)
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[int | None] = mapped_column(index=True)
    before_digest: Mapped[str | None] = mapped_column(String(64))
    after_digest: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    # the pending row this entry was linked from (``backend.audit.chainer``; not hashed): what lets that row go
    pending_id: Mapped[int | None] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_audit_entry_pending_id", "pending_id", unique=True),)


class AuditHead(Base):
    """One row: the chain's last position and hash. Updating it serialises appends.

    Triggers let it move only one step forward, onto the entry just appended.
    ``legacy_seq``: entries up to this position were hashed before the chain was keyed
    (plain SHA-256); set once by the migration that keyed the chain, never changed.
    """

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))
    legacy_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class ChainPending(Base):
    """An audit entry and the change rows of one committed push, not linked into the chain yet
    (``backend.audit.chainer``). Triggers: no UPDATE, no TRUNCATE, DELETE only once an entry names it
    (``AuditEntry.pending_id``). ``mac``: HMAC under the audit key of the rest (a row written in the database
    without the key is not linked as written)."""

    __tablename__ = "chain_pending"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                    autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    actor_id: Mapped[int | None]
    actor_label: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    entity_type: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    department_id: Mapped[int | None]
    detail: Mapped[dict | None] = mapped_column(JSON)
    changes: Mapped[list | None] = mapped_column(JSON)     # [[inspection_id, task_id, reason], …]
    mac: Mapped[str] = mapped_column(String(64))
