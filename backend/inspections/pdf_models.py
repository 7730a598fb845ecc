"""The PDFs of records, rendered by jobs and kept by what they show (``record_pdf``)."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, utcnow


class RenderedPdf(Base):
    """One rendering of a record as PDF, known by the hash of what it shows (``key``).

    A submitted record's key is made from its content hash; a draft's from everything the page prints (a
    draft has no fixed hash yet). While the job runs, ``job_id`` names it; once it has run, ``sha256`` is
    the stored PDF. The same content asked again is served from here, never rendered twice."""

    __tablename__ = "rendered_pdf"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    draft: Mapped[bool] = mapped_column(Boolean, default=False)
    job_id: Mapped[str | None] = mapped_column(String(32))
    sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
