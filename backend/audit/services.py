"""The audit chain: append one entry per change, verify the whole chain.

entry.hash = SHA-256( prev_hash + "\\n" + canonical JSON of the entry's fields )

Appends are serialised by updating the single ``audit_head`` row first (a row lock on
PostgreSQL, the write lock on SQLite), so two transactions can never take the same
position. The entry is written in the same transaction as the change it records: a
change that rolls back leaves no entry, and no change commits without one.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit.models import AuditEntry, AuditHead
from backend.db import utcnow
from sync.canonical import canonical_json, digest, plain, sha256_hex

GENESIS = "0" * 64


def snapshot_digest(snapshot: dict | None) -> str | None:
    return None if snapshot is None else digest(snapshot)


def changed_fields(before: dict | None, after: dict | None, limit: int = 40) -> dict:
    """Field → [old, new] for the fields that differ (small values only)."""
    if not before or not after:
        return {}
    out = {}
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key), after.get(key)
        if old != new:
            pair = [plain(old), plain(new)]
            if len(canonical_json(pair)) > 500:
                pair = ["…", "…"]
            out[key] = pair
            if len(out) >= limit:
                break
    return out


def entry_hash(prev_hash: str, fields: dict) -> str:
    return sha256_hex(prev_hash.encode() + b"\n" + canonical_json(fields))


def _hashed_fields(entry: AuditEntry) -> dict:
    return {
        "id": entry.id, "at": entry.at, "actor_id": entry.actor_id, "actor_label": entry.actor_label,
        "action": entry.action, "entity_type": entry.entity_type, "entity_id": entry.entity_id,
        "department_id": entry.department_id, "before": entry.before_digest, "after": entry.after_digest,
        "detail": entry.detail,
    }


def record(session: Session, actor: Actor, action: str, entity_type: str, entity_id: Any = None, *,
           before: dict | None = None, after: dict | None = None, detail: dict | None = None,
           department_id: int | None = None) -> AuditEntry:
    """Append one entry for a change made in ``session``'s transaction."""
    info = dict(detail or {})
    changes = changed_fields(before, after)
    if changes:
        info.setdefault("changed", changes)
    if actor.address:
        info.setdefault("address", actor.address)
    session.flush()
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq + 1))
    seq, prev = session.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).one()
    entry = AuditEntry(
        id=seq, at=utcnow(), actor_id=actor.user_id,
        actor_label=actor.label, action=action, entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id), department_id=department_id,
        before_digest=snapshot_digest(before), after_digest=snapshot_digest(after),
        detail=plain(info) or None, prev_hash=prev,
    )
    entry.hash = entry_hash(prev, _hashed_fields(entry))
    session.add(entry)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=entry.hash))
    session.flush()
    return entry


@dataclasses.dataclass
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None


def verify_chain(session: Session, batch: int = 5000) -> ChainReport:
    """Walk the chain from the start; name the first broken link."""
    prev_hash, expected_id, checked = GENESIS, 1, 0
    last_id = 0
    while True:
        rows: Iterable[AuditEntry] = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
            .execution_options(populate_existing=True)).all()
        if not rows:
            break
        for entry in rows:
            if entry.id != expected_id:
                return ChainReport(False, checked, expected_id, f"第 {expected_id} 条记录缺失（下一条是第 {entry.id} 条）")
            if entry.prev_hash != prev_hash:
                return ChainReport(False, checked, entry.id, f"第 {entry.id} 条记录的前序哈希与第 {entry.id - 1} 条不符")
            if entry_hash(entry.prev_hash, _hashed_fields(entry)) != entry.hash:
                return ChainReport(False, checked, entry.id, f"第 {entry.id} 条记录的内容与其哈希不符（记录被改动）")
            prev_hash, expected_id, checked, last_id = entry.hash, entry.id + 1, checked + 1, entry.id
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None:
        return ChainReport(False, checked, None, "审计链头记录缺失")
    if head.seq != checked or head.hash != prev_hash:
        return ChainReport(False, checked, checked + 1 if head.seq > checked else checked,
                           f"审计链头（第 {head.seq} 条）与实际最后一条记录（第 {checked} 条）不符，记录可能被删除")
    return ChainReport(True, checked)
