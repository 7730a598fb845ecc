"""Tables of the sync protocol: clients, applied mutations and the change sequence.

* ``sync_client``: a device's outbox identity, bound to one user, with the last mutation id applied.
* ``sync_mutation``: one row per mutation id the server has processed, with its outcome, so a
  replayed push can be answered with what happened the first time.
* ``sync_head`` / ``sync_change``: the change sequence that pulls page by. A change row names the
  inspection (or task) that changed; its ``seq`` is allocated under the ``sync_head`` row lock,
  which is held until commit, so sequence order is commit order and a pull never skips a change.
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, utcnow


class SyncClient(Base):
    __tablename__ = "sync_client"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)          # client-generated UUID
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    # phone: a device's app (counted against the user's device limit); office: the user's office screens
    kind: Mapped[str] = mapped_column(String(8), default="phone", server_default="phone")
    label: Mapped[str | None] = mapped_column(String(128))
    last_mutation_id: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_push_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    last_pull_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # retired by its owner or an admin (a lost or replaced device): it may no longer push or pull, and no
    # longer counts against the device limit; its history stays (so its ids are never applied twice)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())


class SyncMutation(Base):
    """What happened to one mutation: applied, conflict (applied in part) or rejected."""

    __tablename__ = "sync_mutation"
    # the writes of one inspection (掌上执法率, backend/figures: where its sections came from)
    __table_args__ = (Index("ix_sync_mutation_inspection", "inspection_id"),)

    client_id: Mapped[str] = mapped_column(ForeignKey("sync_client.id"), primary_key=True)
    mutation_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(12))                     # applied | conflict | rejected
    code: Mapped[str | None] = mapped_column(String(64))
    message: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)
    # SHA-256 of the mutation as sent (RFC 8785 of {name, args, device_time}): a replay must match it
    payload_sha256: Mapped[str | None] = mapped_column(String(64))
    inspection_id: Mapped[int | None] = mapped_column(Integer)
    device_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    applied_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SyncHead(Base):
    """The last change sequence number given out (one row, id 1)."""

    __tablename__ = "sync_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class SyncChange(Base):
    """Something a phone may need to pull again changed: an inspection's bundle, or a task's."""

    __tablename__ = "sync_change"
    __table_args__ = (Index("ix_sync_change_inspection_seq", "inspection_id", "seq"),
                      Index("ix_sync_change_task_seq", "task_id", "seq"))

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    entity: Mapped[str] = mapped_column(String(16))                     # inspection | task
    inspection_id: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(String(32))              # what changed (for diagnostics)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
