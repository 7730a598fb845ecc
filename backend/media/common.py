"""What the media services share (no Flask): their settings, what an upload's client learns, hashes and names.

The services: ``uploads`` (resumable uploads and whole files: who may upload, quotas, checking and storing),
``references`` (stored files, who holds and who reads them, the inspections' references to them),
``upkeep`` (the jobs' work: processing a stored photo, the clean-up); ``services`` re-exports them all.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import re
from pathlib import Path
from typing import Iterable, Mapping

from backend.errors import InvalidInput
from backend.media import processing, storage
from backend.media.checks import Limits
from backend.media.models import Media, Upload

PROCESSED_KINDS = ("photo",)          # kinds a job processes; the others are ready when stored


def on_first_need(kind: str | None, status: str | None, thumb_sha256: str | None) -> bool:
    """A photo stored ready whose thumbnail and public copy are made when first asked for (``upkeep.derived``):
    a plain photo (``processing.plain_facts``), its facts read in its upload request, its copies not made yet."""
    return kind in PROCESSED_KINDS and status == "ready" and thumb_sha256 is None


def app_settings() -> "MediaSettings":
    """The Flask app's media settings, made once (for code called from a request or the CLI with no settings)."""
    from flask import current_app

    extensions = current_app.extensions
    if "shuangsui.media" not in extensions:
        extensions["shuangsui.media"] = MediaSettings.from_config(current_app.config)
    return extensions["shuangsui.media"]


@dataclasses.dataclass(frozen=True)
class MediaSettings:
    media_dir: str
    limits: Limits
    upload_expiry: dt.timedelta
    max_open_uploads: int
    orphan_grace: dt.timedelta
    max_open_bytes: int              # declared bytes of one user's unfinished uploads
    max_unreferenced_files: int      # files one user sent that no record uses (yet)
    max_unreferenced_bytes: int
    max_files_per_inspection: int    # files one inspection may refer to
    thumb_edge: int
    public_max_edge: int
    timezone: str
    job_attempts: int
    export_retention: dt.timedelta | None = None   # export jobs' files, list imports' uploads (EXPORT_RETENTION_DAYS; None: forever)

    @classmethod
    def from_config(cls, config: Mapping) -> "MediaSettings":
        from backend.jobs.retention import retention

        return cls(media_dir=str(config["MEDIA_DIR"]), limits=Limits.from_config(config),
                   upload_expiry=dt.timedelta(hours=int(config.get("MEDIA_UPLOAD_EXPIRY_HOURS", 72))),
                   max_open_uploads=int(config.get("MEDIA_MAX_OPEN_UPLOADS", 50)),
                   orphan_grace=dt.timedelta(days=int(config.get("MEDIA_ORPHAN_GRACE_DAYS", 7))),
                   max_open_bytes=int(config.get("MEDIA_MAX_OPEN_MB", 1024)) << 20,
                   max_unreferenced_files=int(config.get("MEDIA_MAX_UNREFERENCED_FILES", 1000)),
                   max_unreferenced_bytes=int(config.get("MEDIA_MAX_UNREFERENCED_MB", 2048)) << 20,
                   max_files_per_inspection=int(config.get("MEDIA_MAX_FILES_PER_INSPECTION", 600)),
                   thumb_edge=int(config.get("MEDIA_THUMB_EDGE", 320)),
                   public_max_edge=int(config.get("MEDIA_PUBLIC_MAX_EDGE", 2560)),
                   timezone=str(config.get("TIMEZONE", "Asia/Shanghai")),
                   job_attempts=max(1, int(config.get("JOB_RETRIES", 2))),
                   export_retention=retention(config))

    @property
    def store(self) -> storage.Store:
        """Where stored files live (the local folder or S3: ``storage.configure``)."""
        return storage.get(self.media_dir)

    @property
    def uploads_dir(self) -> Path:
        return Path(self.media_dir) / "uploads"

    def part_path(self, upload: Upload) -> Path:
        return self.uploads_dir / upload.tmp_name


@dataclasses.dataclass
class UploadState:
    """What a client learns about its upload: the session (None once stored) and, when stored, the file."""

    upload: Upload | None
    offset: int
    length: int
    media: Media | None = None
    deduplicated: bool = False    # the file was already stored: nothing was uploaded

    @property
    def id(self) -> str | None:
        return self.upload.id if self.upload else None

    @property
    def expires_at(self) -> dt.datetime | None:
        return self.upload.expires_at if self.upload else None

    @property
    def complete(self) -> bool:
        return self.media is not None


def normalise_hash(value) -> str:
    text = value.strip().lower() if isinstance(value, str) else ""
    if not storage.SHA256_RE.match(text):
        raise InvalidInput("SHA-256 应为 64 位十六进制字符", code="upload.bad_hash")
    return text


def _hashes(values: Iterable) -> list[str]:
    return sorted({normalise_hash(v) for v in values})


def clean_filename(name) -> str | None:
    """The last part of a client's file name, without control characters, at most 255 characters."""
    if not isinstance(name, str):
        return None
    name = re.split(r"[\\/]", name)[-1]
    name = "".join(ch for ch in name if ch.isprintable())[:255].strip()
    return name or None


def _processed(media: Media, derived: processing.Derived, thumb_sha256: str, public_sha256: str,
               now: dt.datetime) -> None:
    facts = derived.facts
    media.thumb_sha256, media.public_sha256 = thumb_sha256, public_sha256
    media.exif_gps, media.exif_time, media.exif_offset = facts.gps, facts.time, facts.offset
    media.orientation_fixed = derived.orientation_fixed
    media.status, media.error, media.processed_at = "ready", None, now


def _facts_read(media: Media, facts: processing.PhotoFacts, now: dt.datetime) -> None:
    """A plain photo's row: its EXIF facts, ready; its copies made on first need (``upkeep.derived``)."""
    media.exif_gps, media.exif_time, media.exif_offset = facts.gps, facts.time, facts.offset
    media.orientation_fixed = False
    media.status, media.error, media.processed_at = "ready", None, now


def _processed_detail(media: Media, facts: processing.PhotoFacts) -> dict:
    return {"thumb_sha256": media.thumb_sha256, "public_sha256": media.public_sha256, "gps": facts.gps is not None,
            "exif_time": facts.time, "orientation_fixed": media.orientation_fixed}
