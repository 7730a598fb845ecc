"""Who may try to log in how often (issue 6, 1.2 and 1.7): per account and address with growing
delays, per address, an admin alert per account; forwarded addresses only behind trusted proxies."""
from __future__ import annotations

import datetime as dt
import ipaddress

import pytest
from sqlalchemy import func, select, update

from backend.audit.models import AuditEntry
from backend.auth.models import LoginAttempt, User
from backend.auth.roles import Role
from backend.db import utcnow
from tests.conftest import make_test_app
from tests.factories import PASSWORD

ATTACKER, OWNER = "203.0.113.66", "198.51.100.7"


def login(client, username, password=PASSWORD, address=None, **headers):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address} if address else {}, headers=headers)


def _age_attempts(db_session, seconds: int, **where) -> None:
    """Move recorded attempts into the past (no waiting in tests)."""
    conditions = [getattr(LoginAttempt, k) == v for k, v in where.items()]
    for row in db_session.scalars(select(LoginAttempt).where(*conditions)).all():
        row.at = row.at - dt.timedelta(seconds=seconds)
    db_session.flush()


def _stored_addresses(db_session) -> set:
    addresses = set(db_session.scalars(select(LoginAttempt.address)))
    for detail in db_session.scalars(select(AuditEntry.detail)):
        if detail and "address" in detail:
            addresses.add(detail["address"])
    return addresses


@pytest.fixture()
def proxied(database, db_session, tmp_path):
    """The app behind one reverse proxy (TRUSTED_PROXIES=1)."""
    return make_test_app(database, tmp_path, TRUSTED_PROXIES=1).test_client()


# --- 1.2: X-Forwarded-For ------------------------------------------------------------------------------------

def test_forwarded_for_is_ignored_by_default(client, factory, db_session):
    # a different forged address on every try does not escape the per-address limit
    users = [factory.user() for _ in range(21)]
    forged = [f"1.2.3.{i}" for i in range(20)] + ["203.0.113.1300"]
    answers = [login(client, u.username, "guess", **{"X-Forwarded-For": f}).status_code
               for u, f in zip(users, forged)]
    assert answers == [401] * 20 + [429]
    r = login(client, users[0].username, **{"X-Forwarded-For": "9.9.9.9"})  # the right password, still refused
    assert r.status_code == 429 and r.json["code"] == "auth.too_many_attempts"
    assert _stored_addresses(db_session) == {"127.0.0.1"}


def test_forwarded_for_is_honoured_behind_a_trusted_proxy_and_only_valid_addresses_are_stored(
        proxied, factory, db_session):
    user = factory.user()
    for _ in range(5):
        assert login(proxied, user.username, "bad", **{"X-Forwarded-For": "1.2.3.4"}).status_code == 401
    assert login(proxied, user.username, **{"X-Forwarded-For": "1.2.3.4"}).status_code == 429
    # the proxy appends the real peer: what the client itself put first is not believed
    assert login(proxied, user.username, **{"X-Forwarded-For": "5.6.7.8, 1.2.3.4"}).status_code == 429
    ok = login(proxied, user.username, **{"X-Forwarded-For": "9.9.9.9"})
    assert ok.status_code == 200
    # garbage forwarded by a broken proxy: the connecting peer is stored, never the garbage
    assert login(proxied, user.username, "bad", **{"X-Forwarded-For": "203.0.113.1300"}).status_code == 401
    stored = _stored_addresses(db_session)
    assert stored == {"1.2.3.4", "9.9.9.9", "127.0.0.1"}
    assert all(ipaddress.ip_address(a) for a in stored)
    last = db_session.scalar(select(LoginAttempt).order_by(LoginAttempt.id.desc()).limit(1))
    assert last.address == "127.0.0.1"


# --- 1.7: nobody can keep someone else locked out -------------------------------------------------------------

def test_failures_from_one_address_do_not_lock_the_owner_out_elsewhere(client, factory):
    user = factory.user()
    answers = [login(client, user.username, "guess", ATTACKER).status_code for _ in range(8)]
    assert answers == [401] * 5 + [429] * 3
    assert login(client, user.username, address=OWNER).status_code == 200
    assert login(client, user.username, address=ATTACKER).status_code == 429  # even with the right password


def test_delays_grow_with_each_failure_and_a_success_forgets_them(client, factory, db_session):
    user = factory.user()
    for _ in range(5):
        login(client, user.username, "guess", ATTACKER)
    waits = []
    for _ in range(3):
        refused = login(client, user.username, "guess", ATTACKER)
        assert refused.status_code == 429
        wait = int(refused.headers["Retry-After"])
        assert refused.json["details"]["retry_after"] == wait and "分钟后再试" in refused.json["message"]
        waits.append(wait)
        _age_attempts(db_session, wait, username=user.username)
        assert login(client, user.username, "guess", ATTACKER).status_code == 401  # allowed again, once
    assert [w // 60 for w in waits] == [1, 2, 4]  # seconds rounded up: 60, 120, 240
    # refused attempts are not recorded
    assert db_session.scalar(select(func.count()).select_from(LoginAttempt)
                             .where(LoginAttempt.username == user.username)) == 8
    _age_attempts(db_session, 8 * 60, username=user.username)
    assert login(client, user.username, address=ATTACKER).status_code == 200
    assert login(client, user.username, "typo", ATTACKER).status_code == 401  # a fresh start after a success
    assert login(client, user.username, address=ATTACKER).status_code == 200


def test_the_delay_is_capped_and_old_failures_are_forgotten(client, factory, db_session):
    user = factory.user()
    now = utcnow()
    db_session.add_all([LoginAttempt(username=user.username, address=ATTACKER, success=False,
                                     at=now - dt.timedelta(minutes=1)) for _ in range(40)])
    db_session.flush()
    r = login(client, user.username, address=ATTACKER)
    assert r.status_code == 429 and 58 * 60 <= int(r.headers["Retry-After"]) <= 60 * 60
    _age_attempts(db_session, 24 * 3600, username=user.username)
    assert login(client, user.username, address=ATTACKER).status_code == 200


def test_one_address_trying_many_accounts_is_stopped(client, factory):
    users = [factory.user() for _ in range(21)]
    answers = [login(client, u.username, "guess", ATTACKER).status_code for u in users]
    assert answers == [401] * 20 + [429]
    r = login(client, "whoever", "guess", ATTACKER)
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 15 * 60
    assert login(client, users[0].username, address=OWNER).status_code == 200


def test_many_failures_for_one_account_alert_an_admin_once_a_window(client, factory, auth, db_session):
    dept = factory.department()
    user = factory.user(Role.INSPECTOR, dept)
    _, admin = auth.as_role(Role.DEPT_ADMIN, dept)
    now = utcnow()
    # 49 failures from 10 addresses in the last minutes (a distributed attempt), then one more
    db_session.add_all([LoginAttempt(username=user.username, address=f"192.0.2.{i % 10}", success=False,
                                     at=now - dt.timedelta(minutes=2)) for i in range(49)])
    db_session.flush()

    def alerts():
        return db_session.scalars(select(AuditEntry).where(AuditEntry.action == "auth.lockout_alert",
                                                           AuditEntry.entity_id == str(user.id))).all()

    assert client.get(f"/api/v1/users/{user.id}", headers=admin).json["login_alert_at"] is None
    assert login(client, user.username, "guess", ATTACKER).status_code == 401
    [alert] = alerts()
    assert alert.department_id == dept.id and alert.actor_id is None
    assert alert.detail["failures"] == 50 and alert.detail["addresses"] == 11
    assert alert.detail["window_minutes"] == 15 and alert.detail["address"] == ATTACKER
    seen = client.get(f"/api/v1/users/{user.id}", headers=admin).json["login_alert_at"]
    assert seen is not None
    assert client.get("/api/v1/audit?action=auth.lockout_alert", headers=admin).json["total"] >= 1
    # more failures in the same window: no second alert
    assert login(client, user.username, "guess", "192.0.2.200").status_code == 401
    assert len(alerts()) == 1
    # the ceiling refuses nobody: the owner logs in from their own address
    assert login(client, user.username, address=OWNER).status_code == 200
    # a window later it alerts again
    db_session.execute(update(User).where(User.id == user.id)
                       .values(login_alert_at=utcnow() - dt.timedelta(minutes=16)))
    assert login(client, user.username, "guess", "192.0.2.201").status_code == 401
    assert len(alerts()) == 2


def test_unknown_accounts_are_throttled_alike(client):
    answers = [login(client, "no-such-account", "guess", ATTACKER).status_code for _ in range(6)]
    assert answers == [401] * 5 + [429]
