"""The audit chain: append one entry per change, verify the whole chain.

entry.hash = HMAC-SHA256( audit key, prev_hash + "\\n" + canonical JSON of the entry's fields )

The key lives outside the database (``backend.audit.keys``), so the chain cannot be
extended or re-hashed from the database alone. Entries written before the chain was
keyed (positions up to ``audit_head.legacy_seq``) keep their plain SHA-256 hashes; the
first keyed entry covers the last of them through its ``prev_hash``.

Appends are serialised by touching the single ``audit_head`` row first (a row lock on
PostgreSQL, the write lock on SQLite), so two transactions can never take the same
position. The entry is written in the same transaction as the change it records: a
change that rolls back leaves no entry, and no change commits without one. Triggers
refuse UPDATE and DELETE on ``audit_entry`` and let ``audit_head`` move only one step
forward, onto the entry just appended. The head is also anchored outside the database
(``backend.audit.anchors``), which ``verify`` checks.
"""
from __future__ import annotations

import dataclasses
import hashlib
import hmac
from typing import Any, Iterable

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import anchors
from backend.audit.anchors import Anchor
from backend.audit.keys import settings_for
from backend.audit.models import AuditEntry, AuditHead, ChainPending
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


def entry_hash(prev_hash: str, fields: dict, key: bytes | None) -> str:
    """HMAC-SHA256 under the audit key; plain SHA-256 (``key`` None) for entries from before the key."""
    message = prev_hash.encode() + b"\n" + canonical_json(fields)
    if key is None:
        return sha256_hex(message)
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _hashed_fields(entry: AuditEntry) -> dict:
    return {
        "id": entry.id, "at": entry.at, "actor_id": entry.actor_id, "actor_label": entry.actor_label,
        "action": entry.action, "entity_type": entry.entity_type, "entity_id": entry.entity_id,
        "department_id": entry.department_id, "before": entry.before_digest, "after": entry.after_digest,
        "detail": entry.detail,
    }


def _info(actor: Actor, before: dict | None, after: dict | None, detail: dict | None) -> dict:
    info = dict(detail or {})
    changes = changed_fields(before, after)
    if changes:
        info.setdefault("changed", changes)
    if actor.address:
        info.setdefault("address", actor.address)
    return info


def _entry(settings, seq: int, prev: str, actor: Actor, action: str, entity_type: str, entity_id: Any,
           before: dict | None, after: dict | None, info: dict, department_id: int | None) -> AuditEntry:
    """The entry at position ``seq`` after the head ``prev``, with its hash."""
    entry = AuditEntry(
        id=seq, at=utcnow(), actor_id=actor.user_id,
        actor_label=actor.label, action=action, entity_type=entity_type,
        entity_id=None if entity_id is None else str(entity_id), department_id=department_id,
        before_digest=snapshot_digest(before), after_digest=snapshot_digest(after),
        detail=plain(info) or None, prev_hash=prev,
    )
    entry.hash = entry_hash(prev, _hashed_fields(entry), settings.key)
    return entry


_TOUCH_HEAD = update(AuditHead).where(AuditHead.id == 1).values(seq=AuditHead.seq).returning(AuditHead.seq,
                                                                                               AuditHead.hash)


def record(session: Session, actor: Actor, action: str, entity_type: str, entity_id: Any = None, *,
           before: dict | None = None, after: dict | None = None, detail: dict | None = None,
           department_id: int | None = None) -> AuditEntry:
    """Append one entry for a change made in ``session``'s transaction."""
    settings = settings_for(session)
    info = _info(actor, before, after, detail)
    session.flush()
    # touch the head first: the lock that serialises appends (the triggers let this no-op through)
    # (and read it in the same statement)
    seq, prev = session.execute(_TOUCH_HEAD).one()
    session.info["audit_head_tx"] = session.get_transaction()   # this transaction holds the head's lock now
    entry = _entry(settings, seq + 1, prev, actor, action, entity_type, entity_id, before, after, info,
                   department_id)
    session.add(entry)
    session.flush()
    # the head moves one step, onto the entry just written (the only move the triggers allow)
    session.execute(update(AuditHead).where(AuditHead.id == 1).values(seq=entry.id, hash=entry.hash))
    if anchors.is_due(settings, entry.id, action):
        anchors.mark_due(session, settings)
    return entry


# PostgreSQL: the head's lock and read as a part (CTE) of the caller's write statement, taken last: its ``{after}``
# is a condition that reads the statement's other parts (a one-time filter, evaluated before the head's row is
# scanned), so that they are written first and the head is held only from there to commit
HEAD_LOCK_CTE = "audit_l AS (UPDATE audit_head SET seq = seq WHERE id = 1 AND {after} RETURNING seq, hash)"

# PostgreSQL: the entry and the head's move as two parts (CTEs) of the caller's one statement; the head's move
# reads the entry's RETURNING, so the entry is written first (the triggers see it, as with two statements)
APPEND_CTES = (
    "audit_e AS (INSERT INTO audit_entry (id, at, actor_id, actor_label, action, entity_type, entity_id, "
    "department_id, before_digest, after_digest, detail, prev_hash, hash) VALUES (:ae_id, :ae_at, :ae_actor_id, "
    ":ae_actor_label, :ae_action, :ae_entity_type, :ae_entity_id, :ae_department_id, :ae_before, :ae_after, "
    "CAST(:ae_detail AS json), :ae_prev_hash, :ae_hash) RETURNING id, hash)",
    "audit_h AS (UPDATE audit_head SET seq = audit_e.id, hash = audit_e.hash FROM audit_e WHERE audit_head.id = 1)",
)


def append_after(session: Session, seq: int, prev: str, actor: Actor, action: str, entity_type: str,
                 entity_id: Any = None, *, detail: dict | None = None, department_id: int | None = None
                 ) -> tuple[AuditEntry, dict]:
    """PostgreSQL, :func:`record` in two statements, the head held the shortest time: the caller's write
    statement took the head's lock last and read it (``HEAD_LOCK_CTE``: ``seq``, ``prev``); the entry, built and
    hashed here exactly as ``record`` does, is written with the head's move by the caller's next statement
    (``APPEND_CTES`` with the returned parameters), right before commit. Call :func:`appended` after that
    statement."""
    from backend.db import _json_dumps

    settings = settings_for(session)
    info = _info(actor, None, None, detail)
    session.info["audit_head_tx"] = session.get_transaction()   # this transaction holds the head's lock now
    entry = _entry(settings, seq + 1, prev, actor, action, entity_type, entity_id, None, None, info, department_id)
    params = {"ae_id": entry.id, "ae_at": entry.at, "ae_actor_id": entry.actor_id, "ae_actor_label": entry.actor_label,
              "ae_action": entry.action, "ae_entity_type": entry.entity_type, "ae_entity_id": entry.entity_id,
              "ae_department_id": entry.department_id, "ae_before": entry.before_digest,
              "ae_after": entry.after_digest,
              "ae_detail": None if entry.detail is None else _json_dumps(entry.detail),
              "ae_prev_hash": entry.prev_hash, "ae_hash": entry.hash}
    return entry, params


def appended(session: Session, entry: AuditEntry) -> None:
    """After the statement that wrote ``append_after``'s entry."""
    settings = settings_for(session)
    if anchors.is_due(settings, entry.id, entry.action):
        anchors.mark_due(session, settings)


@dataclasses.dataclass
class ChainReport:
    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str | None = None
    anchors: int = 0                 # anchors compared with the chain
    head_seq: int | None = None
    head_hash: str | None = None
    legacy_seq: int = 0
    pending: int = 0                 # entries committed, not linked into the chain yet (``chainer``): not a break


def verify_chain(session: Session, batch: int = 5000, extra_anchors: Iterable[Anchor] = ()) -> ChainReport:
    """Walk the chain from the start; name the first broken link.

    Each entry must follow the one before (position, ``prev_hash``), carry the hash of its
    own fields under the audit key (plain SHA-256 up to ``legacy_seq``), and match every
    anchor taken at its position; the head must be the last entry; no anchor may lie
    beyond it.
    """
    settings = settings_for(session)
    head = session.get(AuditHead, 1, populate_existing=True)
    if head is None:
        return ChainReport(False, 0, None, "审计链头记录缺失")
    legacy = head.legacy_seq
    file_anchors, file_problem = anchors.read(settings)
    known = file_anchors + list(extra_anchors)
    by_seq: dict[int, list[Anchor]] = {}
    for a in known:
        by_seq.setdefault(a.seq, []).append(a)
    # the keyed chain starts after legacy_seq; an anchor records where, and that must not move
    moved = [a for a in file_anchors if a.legacy_seq is not None and a.legacy_seq != legacy]
    boundary_break = min((min(a.legacy_seq, legacy) + 1 for a in moved), default=None)

    pending = session.scalar(select(func.count()).select_from(ChainPending))

    def report(ok, checked, broken_at=None, reason=None):
        return ChainReport(ok, checked, broken_at, reason, anchors=len(known), head_seq=head.seq,
                           head_hash=head.hash, legacy_seq=legacy, pending=pending)

    prev_hash, expected_id, checked, last_id, last_good_anchor = GENESIS, 1, 0, 0, 0
    while True:
        rows: Iterable[AuditEntry] = session.scalars(
            select(AuditEntry).where(AuditEntry.id > last_id).order_by(AuditEntry.id).limit(batch)
            .execution_options(populate_existing=True)).all()
        if not rows:
            break
        for entry in rows:
            if entry.id != expected_id:
                return report(False, checked, expected_id, f"第 {expected_id} 条记录缺失（下一条是第 {entry.id} 条）")
            if boundary_break is not None and entry.id >= boundary_break:
                return report(False, checked, entry.id,
                              f"审计链头记录的旧格式记录数（{legacy}）与锚点记下的（{moved[0].legacy_seq}）不符："
                              f"第 {entry.id} 条起的记录不可信")
            if entry.prev_hash != prev_hash:
                return report(False, checked, entry.id, f"第 {entry.id} 条记录的前序哈希与第 {entry.id - 1} 条不符")
            key = None if entry.id <= legacy else settings.key
            if not hmac.compare_digest(entry_hash(entry.prev_hash, _hashed_fields(entry), key), entry.hash):
                return report(False, checked, entry.id,
                              f"第 {entry.id} 条记录的内容与其哈希不符（记录被改动或伪造：没有审计密钥算不出正确的哈希）")
            for a in by_seq.get(entry.id, ()):
                if a.hash != entry.hash:
                    return report(False, checked, entry.id,
                                  f"第 {entry.id} 条记录与{a.source}（{a.at}）不符：第 {last_good_anchor + 1} 至第 "
                                  f"{entry.id} 条之间的记录被改写后重新计算了哈希")
            if entry.id in by_seq:
                last_good_anchor = entry.id
            prev_hash, expected_id, checked, last_id = entry.hash, entry.id + 1, checked + 1, entry.id
    if head.seq != checked or head.hash != prev_hash:
        return report(False, checked, checked + 1 if head.seq > checked else checked,
                      f"审计链头（第 {head.seq} 条）与实际最后一条记录（第 {checked} 条）不符，记录可能被删除")
    if boundary_break is not None:
        return report(False, checked, boundary_break,
                      f"审计链头记录的旧格式记录数（{legacy}）与锚点记下的（{moved[0].legacy_seq}）不符")
    beyond = [a for a in known if a.seq > checked]
    if beyond:
        last = max(beyond, key=lambda a: a.seq)
        return report(False, checked, checked + 1,
                      f"第 {checked + 1} 至第 {last.seq} 条记录已不存在，但{last.source}（{last.at}）记下链已到第 "
                      f"{last.seq} 条：链尾被删除，链头被移回")
    if file_problem:
        return report(False, checked, None, file_problem)
    return report(True, checked)
