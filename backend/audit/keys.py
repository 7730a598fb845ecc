"""The audit key and where the chain is anchored: settings kept outside the database.

The chain's entry hashes are HMAC-SHA256 under a key that never enters the database, so
someone who can only write to the database cannot append an entry or re-hash a rewritten
one. The key comes from ``AUDIT_KEY`` (text, at least 32 characters) or from the file
``AUDIT_KEY_FILE`` (``instance/audit.key``, owner-only), which is made on first start.

Services receive a session, not the app, so the settings are registered per engine when
the app is built (``configure``) and looked up from the session (``settings_for``).
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import weakref
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from backend.config import create_key_file

MIN_KEY_CHARS = 32


@dataclasses.dataclass(frozen=True)
class AuditSettings:
    key: bytes
    anchor_file: Path | None = None      # None: no anchor file (tests that do not test anchoring)
    anchor_every: int = 100              # anchor after this many entries (0: never by count)
    anchor_minutes: int = 10             # … or when the last anchor is older than this (0: never by time)

    def __post_init__(self):
        if len(self.key) < MIN_KEY_CHARS:
            raise RuntimeError(f"审计密钥过短（至少 {MIN_KEY_CHARS} 个字符）")

    @classmethod
    def ephemeral(cls) -> "AuditSettings":
        """A throw-away key (benchmarks on scratch databases)."""
        return cls(key=secrets.token_hex(32).encode())


_BY_ENGINE: "weakref.WeakKeyDictionary[Engine, AuditSettings]" = weakref.WeakKeyDictionary()


def configure(engine: Engine, settings: AuditSettings) -> None:
    _BY_ENGINE[engine] = settings


def settings_for(session: Session) -> AuditSettings:
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    settings = _BY_ENGINE.get(engine)
    if settings is None:
        raise RuntimeError("审计密钥未配置：请通过 create_app 启动，或先调用 backend.audit.keys.configure")
    return settings


def read_or_create_key_file(path: Path, create: bool = True) -> bytes:
    """The key in ``path`` (64 hex digits); made owner-only on first use when ``create``."""
    path = Path(path)
    if not path.exists():
        if not create:
            raise RuntimeError(f"审计密钥文件 {path} 不存在：请设置 AUDIT_KEY 或放置密钥文件")
        create_key_file(path, secrets.token_hex(32))
    key = path.read_text(encoding="ascii").strip()
    if len(key) < MIN_KEY_CHARS:
        raise RuntimeError(f"审计密钥文件 {path} 内容无效（至少 {MIN_KEY_CHARS} 个字符）")
    if os.name == "posix" and path.stat().st_mode & 0o077:
        raise RuntimeError(f"审计密钥文件 {path} 的权限过宽：请执行 chmod 600 {path}")
    return key.encode()


def settings_from_config(config) -> AuditSettings:
    """Build the settings from the app's configuration.

    The key file is made on first start, except in production on PostgreSQL: several
    instances may serve one database there, and each making its own key would split the
    chain, so the key must be given (``AUDIT_KEY``) or the file put in place beforehand.
    """
    text = config.get("AUDIT_KEY")
    if text:
        key = text.encode()
    else:
        may_create = not (config.get("ENV_NAME") == "production"
                          and str(config.get("DATABASE_URL", "")).startswith("postgresql"))
        key = read_or_create_key_file(Path(config["AUDIT_KEY_FILE"]), create=may_create)
    anchor_file = config.get("AUDIT_ANCHOR_FILE")
    return AuditSettings(key=key, anchor_file=Path(anchor_file) if anchor_file else None,
                         anchor_every=int(config.get("AUDIT_ANCHOR_EVERY", 100)),
                         anchor_minutes=int(config.get("AUDIT_ANCHOR_MINUTES", 10)))
