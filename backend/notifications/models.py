"""One notification of one user. A reminder is one notification per (user, kind, subject, state)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, utcnow

# what a reminder is about (the kinds the sources of backend/notifications/sources.py yield)
KINDS = {
    "task.end_date": "任务到期",
    "publication.due": "结果公示到期",
    "task.year_end": "年度任务未完成",
    "followup.deadline": "后续处置到期",
}
STATES = {"due_soon": "5 个工作日内到期", "overdue": "已逾期", "flagged": "11 月 30 日前未完成"}


class Notification(Base):
    """A message to one user, in-app always (and by SMS / e-mail when the deployment sends them).

    The unique key (user, kind, subject, state) makes a reminder once per state change: a second sweep, or
    two sweeps at once, finds the row there (or conflicts on insert) and sends nothing."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("kind", "subject_type", "subject_id", "state", "user_id", name="uq_notification_once"),
        Index("ix_notification_user_unread", "user_id", "read_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    kind: Mapped[str] = mapped_column(String(32))
    subject_type: Mapped[str] = mapped_column(String(32))     # task | inspection | plan_year | followup …
    subject_id: Mapped[str] = mapped_column(String(64))       # its id as text (a year, a UUID, a number)
    state: Mapped[str] = mapped_column(String(32))            # due_soon | overdue | flagged …
    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))     # where the office screens open it
    due_on: Mapped[dt.date | None] = mapped_column()
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
