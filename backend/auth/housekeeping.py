"""Keeping the sign-in tables bounded: ``login_attempt`` gains a row for every login and every failed refresh,
``refresh_token`` one for every rotation, and neither was ever emptied. ``prune`` deletes what no rule reads any
more, after a retention kept for investigations (``LOGIN_RECORDS_DAYS``, 90 by default):

* login attempts older than the retention: the throttles look back at most ``LoginPolicy.memory_hours``
  (24 hours) and the alert one window (15 minutes);
* refresh tokens whose family ended (``family_expires_at``) longer ago than the retention: no token of such a
  family can be used again, and a replayed one is refused as unknown just as it was refused as expired.

One audit entry per run (``auth.records_pruned``) with the counts. Run daily from cron (docs/operations.md).
"""
from __future__ import annotations

import datetime as dt

from sqlalchemy import delete
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.models import LoginAttempt, RefreshToken
from backend.auth.throttle import LoginPolicy
from backend.errors import InvalidInput

MIN_RETENTION_DAYS = 7  # longer than anything the throttles read, with room to investigate a weekend's attack


def prune(session: Session, actor: Actor, now: dt.datetime, keep_days: int,
          policy: LoginPolicy | None = None) -> dict:
    """Delete login attempts and ended refresh-token families older than ``keep_days``; the counts."""
    policy = policy or LoginPolicy()
    floor = max(MIN_RETENTION_DAYS, -(-policy.memory_hours // 24), -(-policy.window_minutes // (24 * 60)))
    if keep_days < floor:
        raise InvalidInput(f"登录记录至少保留 {floor} 天", code="auth.retention_too_short",
                               details={"min_days": floor})
    before = now - dt.timedelta(days=keep_days)
    attempts = session.execute(delete(LoginAttempt).where(LoginAttempt.at < before)).rowcount
    tokens = session.execute(delete(RefreshToken).where(RefreshToken.family_expires_at < before)).rowcount
    counts = {"login_attempts": attempts, "refresh_tokens": tokens, "keep_days": keep_days,
              "before": before.isoformat()}
    audit.record(session, actor, "auth.records_pruned", "login_attempt", None, detail=counts)
    return counts
