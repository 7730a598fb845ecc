"""Anchors: the chain's head written down outside the database, at intervals.

An anchor says "entry ``seq`` of the chain had hash ``hash`` at time ``at``". The anchor
file (``instance/audit-anchors.jsonl``) gets one JSON line per anchor, appended, each line
carrying the MAC of the line before it and its own MAC under the audit key, so a line
cannot be forged, edited or removed from the middle without the key. ``verify`` then
finds a chain cut back below an anchor (rows deleted at the end and the head moved back),
and, should the key leak, a chain rewritten and re-hashed past an anchor.

Anchors are written after the commit of an entry that makes one due (every
``anchor_every`` entries, when the last anchor is older than ``anchor_minutes``, and for
every draw commitment and seed), by ``shuangsui audit verify`` when the chain is whole,
and every published draw record carries the chain's head at commitment and at seed.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import hmac
import json
import logging
import os
import threading
import time
from hashlib import sha256
from pathlib import Path

from sqlalchemy import event, text
from sqlalchemy.orm import Session

from backend.audit.keys import AuditSettings
from sync.canonical import canonical_json

log = logging.getLogger(__name__)

GENESIS = "0" * 64
ANCHORED_ACTIONS = frozenset({"draw.commit", "draw.seed"})
_PENDING = "shuangsui.audit_anchor_due"
_lock = threading.Lock()
_last_anchor: dict[Path, float] = {}


@dataclasses.dataclass(frozen=True)
class Anchor:
    seq: int
    hash: str
    at: str
    source: str                       # where the anchor came from, for the report
    legacy_seq: int | None = None


def _mac(key: bytes, fields: dict) -> str:
    return hmac.new(key, canonical_json(fields), sha256).hexdigest()


def _last_line(handle) -> bytes | None:
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    tail = b""
    pos = size
    while pos > 0:
        step = min(4096, pos)
        pos -= step
        handle.seek(pos)
        tail = handle.read(step) + tail
        lines = tail.rstrip(b"\n").split(b"\n")
        if len(lines) > 1 or pos == 0:
            return lines[-1] or None
    return None


def append(settings: AuditSettings, seq: int, head_hash: str, legacy_seq: int) -> dict | None:
    """Append one anchor line; returns it (None when no anchor file is configured)."""
    path = settings.anchor_file
    if path is None:
        return None
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    with _lock, os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            last = _last_line(handle)
            prev = json.loads(last)["mac"] if last else GENESIS
            line = {"seq": seq, "hash": head_hash, "legacy_seq": legacy_seq,
                    "at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z"),
                    "prev": prev}
            line["mac"] = _mac(settings.key, line)
            handle.seek(0, os.SEEK_END)
            handle.write(json.dumps(line, separators=(",", ":")).encode() + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
    _last_anchor[path] = time.monotonic()
    return line


def read(settings: AuditSettings) -> tuple[list[Anchor], str | None]:
    """The anchors of the file, and what is wrong with the file (None when nothing)."""
    path = settings.anchor_file
    if path is None or not path.exists():
        return [], None
    anchors: list[Anchor] = []
    prev = GENESIS
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            where = f"锚点文件 {path.name} 第 {number} 行"
            try:
                line = json.loads(raw)
                fields = {k: line[k] for k in ("seq", "hash", "legacy_seq", "at", "prev")}
                mac = line["mac"]
            except (ValueError, KeyError, TypeError):
                return anchors, f"{where}无法读取（锚点文件被改动）"
            if not hmac.compare_digest(str(mac), _mac(settings.key, fields)):
                return anchors, f"{where}的校验码不符（锚点被伪造或改动，或审计密钥不对）"
            if fields["prev"] != prev:
                return anchors, f"{where}与上一行不相接（锚点文件中有行被删除或调换）"
            prev = mac
            anchors.append(Anchor(int(fields["seq"]), fields["hash"], fields["at"], where, fields["legacy_seq"]))
    return anchors, None


def from_record(record: dict, name: str) -> list[Anchor]:
    """The anchors a published draw record carries (``audit_anchor``)."""
    out = []
    for moment, value in sorted((record.get("audit_anchor") or {}).items()):
        if isinstance(value, dict) and isinstance(value.get("seq"), int) and isinstance(value.get("hash"), str):
            out.append(Anchor(value["seq"], value["hash"], str(value.get("at")), f"摇号记录 {name} 的 {moment} 锚点"))
    return out


# --- anchoring after commit ------------------------------------------------------------------

def is_due(settings: AuditSettings, seq: int, action: str) -> bool:
    if settings.anchor_file is None:
        return False
    if action in ANCHORED_ACTIONS or (settings.anchor_every and seq % settings.anchor_every == 0):
        return True
    if settings.anchor_minutes:
        last = _last_anchor.get(settings.anchor_file)
        return last is None or time.monotonic() - last >= settings.anchor_minutes * 60
    return False


def mark_due(session: Session, settings: AuditSettings) -> None:
    session.info[_PENDING] = settings


def anchor_head(engine, settings: AuditSettings) -> dict | None:
    """Anchor the committed head, read on a connection of its own."""
    with engine.connect() as conn:
        row = conn.execute(text("SELECT seq, hash, legacy_seq FROM audit_head WHERE id = 1")).one()
        conn.rollback()
    return append(settings, int(row.seq), row.hash, int(row.legacy_seq))


@event.listens_for(Session, "after_commit")
def _anchor_after_commit(session: Session) -> None:
    settings = session.info.pop(_PENDING, None)
    if settings is None:
        return
    try:
        bind = session.get_bind()
        anchor_head(getattr(bind, "engine", bind), settings)
    except Exception:  # the change is committed; a missed anchor is logged, not the change undone
        log.exception("审计链锚点写入失败")


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
