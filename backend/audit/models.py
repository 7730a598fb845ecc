from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, String
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
