"""Media: stored files (photos, signatures, PDFs, audio, video), upload sessions and references.

A file is known by the SHA-256 of its bytes. The original is kept unchanged as evidence; the
processing job adds a thumbnail and a copy stripped of metadata (both content-addressed too).
An upload session holds the declared facts of a resumable upload; its bytes are in a part file
whose size is the session's offset (no database write per chunk).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, BigInteger, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint, true
from sqlalchemy.orm import Mapped, mapped_column

from backend.db import Base, UTCDateTime, utcnow

KINDS = {"photo": "照片", "signature": "签名", "pdf": "PDF 文件", "audio": "录音", "video": "视频"}
MEDIA_STATUSES = {"processing": "处理中", "ready": "可用", "failed": "处理失败"}


class Media(Base):
    __tablename__ = "media"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    filename: Mapped[str | None] = mapped_column(String(255))
    width: Mapped[int | None] = mapped_column(Integer)
    height: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="processing")
    error: Mapped[str | None] = mapped_column(Text)
    # {"lat", "lon", "alt"?, "accuracy"?, "datum", "time"?, "source": "exif"} read from the photo
    exif_gps: Mapped[dict | None] = mapped_column(JSON)
    exif_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    exif_offset: Mapped[str | None] = mapped_column(String(8))   # from OffsetTimeOriginal; None: zone assumed
    orientation_fixed: Mapped[bool] = mapped_column(Boolean, default=False)
    thumb_sha256: Mapped[str | None] = mapped_column(String(64))
    public_sha256: Mapped[str | None] = mapped_column(String(64))
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    processed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # last sign of interest (stored, uploaded again, referenced): the orphan clean-up counts from here
    touched_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)


class Upload(Base):
    """A resumable upload in progress. Its offset is the size of its part file."""

    __tablename__ = "upload"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    length: Mapped[int] = mapped_column(BigInteger)
    media_type: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str | None] = mapped_column(String(255))
    tmp_name: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), index=True)


class MediaRef(Base):
    """An inspection refers to a file (it may arrive before the file itself: no foreign key to media).

    A hash is not a permission: a reference counts (``bound``) only when its writer holds the file (uploaded
    its bytes) or could already read it, or the server made the file; a reference to a file not stored yet,
    or one its writer may not read, waits, bound to its writer (``added_by``), until that writer uploads the
    bytes. Only bound references make a file readable to the record's readers and keep it from clean-up."""

    __tablename__ = "media_ref"
    __table_args__ = (UniqueConstraint("sha256", "inspection_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64))  # indexed by the unique pair
    inspection_id: Mapped[int] = mapped_column(ForeignKey("inspection.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    added_by: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))   # None: the server's own file
    bound: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())


class MediaHolder(Base):
    """A user who holds a stored file: they sent its bytes (the first upload, or the same bytes again)."""

    __tablename__ = "media_holder"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
