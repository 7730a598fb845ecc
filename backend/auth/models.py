from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.db import Base, UTCDateTime, utcnow


class User(Base):
    __tablename__ = "user_account"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    department_id: Mapped[int | None] = mapped_column(ForeignKey("department.id"))
    region_code: Mapped[str | None] = mapped_column(String(12))
    inspector_id: Mapped[int | None] = mapped_column(ForeignKey("inspector.id"), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(16), default="active")  # active | frozen
    token_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)
    last_login_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    # when failed logins from all addresses last reached the alert ceiling (docs/api.md "Logging in")
    login_alert_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())

    department = relationship("Department", lazy="joined")

    @property
    def is_active(self) -> bool:
        return self.status == "active"


class RefreshToken(Base):
    """One rotation of a refresh token. Tokens of one login on one device share a family."""

    __tablename__ = "refresh_token"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    family_id: Mapped[str] = mapped_column(String(36), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    device_label: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    family_expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime())
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class LoginAttempt(Base):
    """One login, or one failed refresh (``kind``); what the throttles count."""

    __tablename__ = "login_attempt"
    __table_args__ = (Index("ix_login_attempt_username_at", "username", "at"),
                      Index("ix_login_attempt_address_at", "address", "at"))

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="login", server_default="login")  # login | refresh
    username: Mapped[str] = mapped_column(String(64))
    address: Mapped[str | None] = mapped_column(String(64))  # a valid IP address, or NULL when unknown
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime(), default=utcnow)
    success: Mapped[bool] = mapped_column(default=False)
