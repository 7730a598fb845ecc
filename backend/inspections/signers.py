"""Co-signatures: a member signs on another member's phone with their own username and password.

The password is checked as a login is (``backend.auth.services.check_signer``): the login throttle and its
counters, one ``login_attempt`` per check, an audit entry per failure, and one answer for every failure
(unknown account, wrong password, frozen, not a member of the group, not of the section's department), so
the check is no oracle for anyone's password. Who may sign is settled first, from the group: nobody else
costs a password hash. A push checks at most ``MAX_SIGNER_CHECKS`` co-signers; it stops before the next
(``sync.signer_limit``: push the rest again), so a push can cost the server at most that many hashes.

Two ways in: ``POST /api/sync/signers/verify`` (the phone asks online before it keeps a co-signature), and
the push itself (``section.sign`` / ``record.sign`` with ``signer``), which checks again.
"""
from __future__ import annotations

import dataclasses
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.auth import services as auth
from backend.auth.throttle import LoginPolicy
from backend.errors import Conflict, Forbidden, InvalidInput, NotFound, TooManyRequests
from backend.inspections.access import GONE_REASONS, Participation, participation
from backend.inspections.models import Inspection
from sync import protocol
from sync.engine import Refused
from sync.models import SyncClient

MAX_SIGNER_CHECKS = 10            # per push
SIGNED_BY = {"section.sign": "section", "record.sign": "record"}
SIGNER_INVALID = auth.SignerInvalid.code
SIGNER_INVALID_MESSAGE = auth.SignerInvalid.message


def invalid() -> Refused:
    return Refused(SIGNER_INVALID, SIGNER_INVALID_MESSAGE)


def eligible(part: Participation, scope: str, department_id: int | None) -> set[int]:
    """The accounts that may sign there: the group's members (recusals applied), of ``department_id`` for a
    section."""
    return {p.user_id for p in part.participants if p.user_id is not None
            and (scope == "record" or p.department_id == department_id)}


def signer_problem(signer: Any) -> str | None:
    if (not isinstance(signer, dict) or set(signer) != {"username", "password"}
            or not all(isinstance(v, str) and 0 < len(v) <= 256 for v in signer.values())):
        return "signer 须为 {username, password}（各 1–256 个字符）"
    return None


def _positive(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31


# --- POST /api/sync/signers/verify ------------------------------------------------------------------

def verify(session: Session, policy: LoginPolicy, actor: Actor, data: dict, address: str | None) -> dict:
    """Is this the member who may sign there, with their password? (The phone asks before it keeps the
    co-signature.) Changes nothing but the login counters and, on failure, the audit log."""
    if actor.inspector_id is None:
        raise Forbidden("当前账号未关联执法检查人员，不能核验签名人", code="forbidden.not_inspector")
    scope = data["scope"]
    department_id = data.get("department_id") if scope == "section" else None   # a record is not a department's
    if scope == "section" and department_id is None:
        raise InvalidInput("为部门检查内容签名须指明部门（department_id）", errors={"department_id": ["必填项"]})
    inspection = session.get(Inspection, data["inspection_id"])
    if inspection is None:
        raise NotFound("检查记录不存在", code="inspection.not_found")
    part = participation(session, [inspection])[inspection.id]
    if part.by_user(actor.user_id) is None:
        raise Forbidden("你不是该检查的检查组成员（或已回避）", code="sync.not_participant")
    if inspection.status in GONE_REASONS:
        raise Conflict(GONE_REASONS[inspection.status][1], code="inspection.gone")
    if inspection.status == "completed":
        raise Conflict("该检查已提交完成，不能再签名", code="inspection.completed")
    who = eligible(part, scope, department_id)
    user = auth.check_signer(session, policy, actor, username=data["username"], password=data["password"],
                             address=address, eligible=who,
                             context={"inspection_id": inspection.id, "scope": scope, "via": "verify",
                                      **({"department_id": department_id} if scope == "section" else {})})
    person = part.by_user(user.id)
    return {"user_id": user.id, "inspector_id": person.inspector_id, "name": person.name,
            "department_id": person.department_id, "department_name": person.department_name}


# --- in a push --------------------------------------------------------------------------------------

@dataclasses.dataclass
class SignerChecks:
    """What a push's co-signer checks found: mutation id → the signer's user id or the refusal to answer
    with; ``stop``: where the push stops (the next co-signer beyond the limit)."""

    verified: dict[int, Any] = dataclasses.field(default_factory=dict)
    stop: dict | None = None


def check_push(session: Session, policy: LoginPolicy, actor: Actor, client_id: str,
               mutations: list[protocol.Mutation], address: str | None) -> SignerChecks:
    """Check the co-signers of a push's new mutations, before its write transaction (the hashes are slow).

    Only mutations the push will apply are checked (a replay is answered from what was stored), and only
    where the handler would look at the signer: a mutation it refuses earlier (an inspection the pusher
    is not in, one gone or completed, a bad department) costs nothing."""
    out = SignerChecks()
    signed = [m for m in mutations if m.name in SIGNED_BY and isinstance(m.args, dict)
              and m.args.get("signer") is not None]
    if not signed:                       # most pushes: nothing to read
        return out
    client = session.get(SyncClient, client_id)
    if client is not None and client.user_id != actor.user_id:
        return out                       # the push is refused whole (sync.client_not_yours)
    last = client.last_mutation_id if client is not None else 0
    fresh = [m for m in signed if m.id > last]
    if not fresh:
        return out
    ids = {m.args.get("inspection_id") for m in fresh if _positive(m.args.get("inspection_id"))}
    rows = list(session.scalars(select(Inspection).where(Inspection.id.in_(ids)))) if ids else []
    parts = participation(session, rows)
    status = {r.id: r.status for r in rows}
    plan = []                            # (mutation, signer, eligible accounts, audit context): all read first
    for m in fresh:
        problem = signer_problem(m.args["signer"])
        if problem:
            out.verified[m.id] = Refused("validation_error", problem, errors={"signer": [problem]})
            continue
        inspection_id, scope = m.args.get("inspection_id"), SIGNED_BY[m.name]
        department_id = m.args.get("department_id") if scope == "section" else None
        part = parts.get(inspection_id) if _positive(inspection_id) else None
        if (part is None or part.by_user(actor.user_id) is None or status[inspection_id] not in ("assigned", "in_progress")
                or (scope == "section" and not _positive(department_id))):
            continue                     # refused by the handler before it looks at the signer
        if len(plan) == MAX_SIGNER_CHECKS:
            out.stop = {"id": m.id, "code": "sync.signer_limit",
                        "message": f"一次推送最多核验 {MAX_SIGNER_CHECKS} 个代签；第 {m.id} 条起的变更未处理，"
                                   f"请再推送一次（不会丢失）"}
            break
        plan.append((m, m.args["signer"], eligible(part, scope, department_id),
                     {"inspection_id": inspection_id, "scope": scope, "mutation_id": m.id, "client_id": client_id,
                      **({"department_id": department_id} if scope == "section" else {})}))
    for m, signer, who, context in plan:
        try:
            user = auth.check_signer(session, policy, actor, username=signer["username"], password=signer["password"],
                                     address=address, eligible=who, context=context)
        except auth.SignerInvalid:
            out.verified[m.id] = invalid()
        except TooManyRequests as exc:
            out.verified[m.id] = Refused(exc.code, exc.message, details={"retry_after": exc.retry_after})
        else:
            out.verified[m.id] = user.id
    return out
