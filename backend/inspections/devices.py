"""An officer's devices (sync clients): the list, and retiring one (a lost or replaced phone).

A user may have at most ``SYNC_MAX_CLIENTS`` active devices (docs/sync.md §1): a new device beyond them is
refused (409 ``sync.too_many_devices``). The way out is to retire one that is no longer used: its owner
does it (``POST /api/sync/clients/<id>/retire``), or an admin of the owner's department, or the system admin.
A retired device may no longer push or pull (403 ``sync.client_retired``) and no longer counts; what it
pushed stays on record, so its mutation ids are never applied a second time.
"""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.models import User
from backend.auth.roles import Role
from backend.db import utcnow
from backend.errors import Forbidden, NotFound
from sync.models import SyncClient


def _row(client: SyncClient) -> dict:
    seen = max((t for t in (client.last_push_at, client.last_pull_at) if t is not None), default=None)
    return {"client_id": client.id, "user_id": client.user_id, "label": client.label,
            "created_at": client.created_at, "last_push_at": client.last_push_at,
            "last_pull_at": client.last_pull_at, "last_seen_at": seen,
            "last_mutation_id": client.last_mutation_id, "retired_at": client.retired_at}


def mine(session: Session, actor: Actor) -> list[dict]:
    """The caller's devices, newest first (the office screens' client is not a device)."""
    rows = session.scalars(select(SyncClient).where(SyncClient.user_id == actor.user_id, SyncClient.kind == "phone")
                           .order_by(SyncClient.created_at.desc(), SyncClient.id))
    return [_row(c) for c in rows]


def retire(session: Session, actor: Actor, client_id: str) -> dict:
    client = session.get(SyncClient, client_id) if isinstance(client_id, str) and len(client_id) <= 36 else None
    if client is None or client.kind != "phone":
        raise NotFound("设备不存在", code="sync.client_not_found")
    owner = session.get(User, client.user_id)
    if actor.role == Role.INSPECTOR:
        if client.user_id != actor.user_id:
            raise NotFound("设备不存在", code="sync.client_not_found")   # another officer's: not shown
    elif actor.role == Role.DEPT_ADMIN:
        if owner.department_id != actor.department_id:
            raise Forbidden("只能停用本部门人员的设备", code="forbidden.department")
    elif actor.role != Role.SYSADMIN:
        raise Forbidden("无权停用设备", code="forbidden.role")
    if client.retired_at is None:
        client.retired_at = utcnow()
        audit.record(session, actor, "sync.client_retire", "sync_client", client.id,
                     detail={"owner": owner.username, "label": client.label,
                             "last_mutation_id": client.last_mutation_id},
                     department_id=owner.department_id)
        session.commit()
    return _row(client)
