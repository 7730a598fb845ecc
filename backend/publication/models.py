"""The PRC working-day calendar as imported by an admin: one row per year, one per exceptional day."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow

DAY_KINDS = {"restday": "放假", "workday": "调休上班"}


class CalendarYear(Base):
    """A year whose State Council holiday notice an admin imported; it overrides chinesecalendar."""

    __tablename__ = "calendar_year"

    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    source: Mapped[str] = mapped_column(String(16))               # cli | api: how it was imported
    file_name: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(200))               # the notice's title
    ref: Mapped[str | None] = mapped_column(String(100))          # its document number (文号), if any
    issued_on: Mapped[dt.date | None] = mapped_column(Date)       # the notice's date
    sha256: Mapped[str] = mapped_column(String(64))               # of the file (CLI) or the canonical body (API)
    imported_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    imported_by_label: Mapped[str] = mapped_column(String(128))
    imported_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)

    days: Mapped[list["CalendarDay"]] = relationship(back_populates="calendar_year", order_by="CalendarDay.day",
                                                     cascade="all, delete-orphan")


class CalendarDay(Base):
    """A day of an imported year that is not what Monday to Friday says, or a weekend day inside a holiday:
    ``restday`` (放假) or ``workday`` (a weekend make-up working day, 调休上班)."""

    __tablename__ = "calendar_day"
    __table_args__ = (CheckConstraint("kind in ('restday', 'workday')", name="kind"),)

    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    year: Mapped[int] = mapped_column(ForeignKey("calendar_year.year"), index=True)
    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(32))                 # the holiday: 春节, 国庆节, …

    calendar_year: Mapped[CalendarYear] = relationship(back_populates="days")
