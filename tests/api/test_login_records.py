"""The sign-in tables stay bounded: ``shuangsui user prune`` deletes old login attempts and ended refresh-token
families after the retention, keeps everything the throttles and live sessions read, and says so in the audit."""
from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from backend.actor import Actor
from backend.audit.models import AuditEntry
from backend.auth import housekeeping
from backend.auth.models import LoginAttempt, RefreshToken
from backend.db import utcnow
from backend.errors import InvalidInput
from tests.factories import PASSWORD

ADDRESS = "203.0.113.9"


def _login(client, username, password=PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": ADDRESS})


def _count(db_session, model, *where) -> int:
    return db_session.scalar(select(func.count()).select_from(model).where(*where))


def _age(db_session, username: str, days: int) -> None:
    for row in db_session.scalars(select(LoginAttempt).where(LoginAttempt.username == username)):
        row.at -= dt.timedelta(days=days)
    for row in db_session.scalars(select(RefreshToken)):
        row.created_at -= dt.timedelta(days=days)
        row.expires_at -= dt.timedelta(days=days)
        row.family_expires_at -= dt.timedelta(days=days)
    db_session.flush()


def test_old_attempts_and_ended_token_families_go_recent_ones_stay(app, client, factory, db_session):
    old, recent = factory.user(), factory.user()
    assert _login(client, old.username, "guess").status_code == 401
    first = _login(client, old.username)
    assert first.status_code == 200
    _age(db_session, old.username, 200)  # the old account's attempts and every token so far: 200 days ago
    assert _login(client, recent.username, "guess").status_code == 401
    live = _login(client, recent.username)
    assert live.status_code == 200
    tokens_before = _count(db_session, RefreshToken)

    result = app.test_cli_runner().invoke(args=["user", "prune"])
    assert result.exit_code == 0, result.output
    assert "登录记录 2 条" in result.output and "失效的刷新令牌 1 个" in result.output and "保留 90 天" in result.output
    assert _count(db_session, LoginAttempt, LoginAttempt.username == old.username) == 0
    assert _count(db_session, LoginAttempt, LoginAttempt.username == recent.username) == 2
    assert _count(db_session, RefreshToken) == tokens_before - 1
    entry = db_session.scalar(select(AuditEntry).where(AuditEntry.action == "auth.records_pruned"))
    assert entry.detail["login_attempts"] == 2 and entry.detail["refresh_tokens"] == 1
    assert entry.detail["keep_days"] == 90
    # the live session still refreshes; the pruned one is refused as before (it had ended anyway)
    fresh = client.post("/api/v1/auth/refresh", json={"refresh_token": live.json["refresh_token"]})
    assert fresh.status_code == 200
    gone = client.post("/api/v1/auth/refresh", json={"refresh_token": first.json["refresh_token"]})
    assert gone.status_code == 401


def test_the_throttle_still_counts_what_it_reads(client, factory, db_session):
    user = factory.user()
    for _ in range(5):
        assert _login(client, user.username, "guess").status_code == 401
    counts = housekeeping.prune(db_session, Actor.system(), utcnow(), housekeeping.MIN_RETENTION_DAYS)
    assert counts["login_attempts"] == 0
    assert _login(client, user.username).status_code == 429  # the five failures still delay this address


@pytest.mark.parametrize("days", [1, 6])
def test_a_retention_shorter_than_a_week_is_refused_and_deletes_nothing(app, factory, db_session, days):
    user = factory.user()
    db_session.add(LoginAttempt(username=user.username, address=ADDRESS, success=False,
                                at=utcnow() - dt.timedelta(days=30)))
    db_session.flush()
    with pytest.raises(InvalidInput) as refused:
        housekeeping.prune(db_session, Actor.system(), utcnow(), days)
    assert refused.value.code == "auth.retention_too_short" and refused.value.details == {"min_days": 7}
    result = app.test_cli_runner().invoke(args=["user", "prune", "--days", str(days)])
    assert result.exit_code != 0 and "至少保留 7 天" in result.output
    assert _count(db_session, LoginAttempt, LoginAttempt.username == user.username) == 1
    assert _count(db_session, AuditEntry, AuditEntry.action == "auth.records_pruned") == 0
