"""Login and refresh throttling, counted in ``login_attempt`` (so it holds across app instances).

* One account from one address: ``max_failures`` failures are free; after that each attempt must
  wait ``first_delay`` after the last failure, doubling with every further failure up to
  ``max_delay``. A success from that address, or ``memory_hours`` without failures, forgets them.
  An attacker at one address therefore slows only themselves: the owner elsewhere logs in.
* One address, all accounts: ``address_max_failures`` failed logins (and, separately, failed
  refreshes) within the window refuse that address until the oldest leaves the window.
* One account, all addresses: ``alert_failures`` failures within the window mark the account
  (``login_alert_at``) and write one ``auth.lockout_alert`` audit entry per window. It refuses nobody.

Refused attempts are not recorded, so a client writes at most a bounded number of rows.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import math

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.models import LoginAttempt, User
from backend.errors import TooManyRequests


@dataclasses.dataclass
class LoginPolicy:
    max_failures: int = 5  # one account from one address, before the delays start
    window_minutes: int = 15  # the window of the address limit and of the account alert
    address_max_failures: int = 20  # one address, all accounts (logins and refreshes counted apart)
    alert_failures: int = 50  # one account, all addresses: alert an admin
    first_delay_seconds: int = 60
    max_delay_minutes: int = 60
    memory_hours: int = 24

    @property
    def window(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.window_minutes)


def normalise_address(value: str | None) -> str | None:
    """The canonical text of an IP address, or None for anything that is not one."""
    if not value or len(value) > 64:
        return None
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return str(address)


def too_many(wait_seconds: int, what: str = "登录") -> TooManyRequests:
    wait = max(1, int(wait_seconds))
    when = f"{math.ceil(wait / 60)} 分钟" if wait >= 60 else f"{wait} 秒"
    return TooManyRequests(f"{what}失败次数过多，请 {when}后再试", code="auth.too_many_attempts",
                           retry_after=wait)


def _failures(kind: str):
    return select(func.count(), func.max(LoginAttempt.at)).where(
        LoginAttempt.kind == kind, LoginAttempt.success.is_(False))


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> int:
    return max(0, math.ceil((moment - now).total_seconds()))


def pair_wait(session: Session, policy: LoginPolicy, username: str, address: str | None, now: dt.datetime,
              exclude_id: int | None = None) -> int:
    """Seconds before ``address`` may try ``username`` again (0: now)."""
    since = now - dt.timedelta(hours=policy.memory_hours)
    last_success = session.scalar(select(func.max(LoginAttempt.at)).where(
        LoginAttempt.kind == "login", LoginAttempt.username == username, LoginAttempt.address == address,
        LoginAttempt.success.is_(True), LoginAttempt.id != (exclude_id or 0)))
    if last_success is not None and last_success > since:
        since = last_success
    count, last = session.execute(_failures("login").where(
        LoginAttempt.username == username, LoginAttempt.address == address, LoginAttempt.at >= since,
        LoginAttempt.id != (exclude_id or 0))).one()
    if count < policy.max_failures:
        return 0
    doublings = min(count - policy.max_failures, 30)
    delay = min(policy.first_delay_seconds * 2 ** doublings, policy.max_delay_minutes * 60)
    return _seconds_until(last + dt.timedelta(seconds=delay), now)


def address_wait(session: Session, policy: LoginPolicy, kind: str, address: str | None, now: dt.datetime,
                 exclude_id: int | None = None) -> int:
    """Seconds before ``address`` may try ``kind`` (login | refresh) again, whatever the account."""
    since = now - policy.window
    scope = (LoginAttempt.kind == kind, LoginAttempt.address == address, LoginAttempt.success.is_(False),
             LoginAttempt.at >= since, LoginAttempt.id != (exclude_id or 0))
    count = session.scalar(select(func.count()).select_from(LoginAttempt).where(*scope))
    if count < policy.address_max_failures:
        return 0
    # the failure whose leaving the window brings the count under the limit
    leaving = session.scalar(select(LoginAttempt.at).where(*scope).order_by(LoginAttempt.at, LoginAttempt.id)
                             .offset(count - policy.address_max_failures).limit(1))
    return _seconds_until(leaving + policy.window, now) if leaving is not None else 0


def login_wait(session: Session, policy: LoginPolicy, username: str, address: str | None, now: dt.datetime,
               exclude_id: int | None = None) -> int:
    return max(pair_wait(session, policy, username, address, now, exclude_id),
               address_wait(session, policy, "login", address, now, exclude_id))


def alert_if_besieged(session: Session, policy: LoginPolicy, user: User, address: str | None,
                      now: dt.datetime) -> bool:
    """After a failed login of ``user``: at the ceiling, mark the account and tell the admins once a window."""
    since = now - policy.window
    scope = (LoginAttempt.kind == "login", LoginAttempt.username == user.username,
             LoginAttempt.success.is_(False), LoginAttempt.at >= since)
    count = session.scalar(select(func.count()).select_from(LoginAttempt).where(*scope))
    if count < policy.alert_failures:
        return False
    claimed = session.execute(
        update(User).where(User.id == user.id, or_(User.login_alert_at.is_(None), User.login_alert_at < since))
        .values(login_alert_at=now, updated_at=User.updated_at)
        .execution_options(synchronize_session=False)).rowcount
    if not claimed:
        return False  # already told within this window
    addresses = session.scalar(select(func.count(func.distinct(LoginAttempt.address))).where(*scope))
    audit.record(session, Actor(user_id=None, label="登录防护", address=address), "auth.lockout_alert", "user",
                 user.id, detail={"failures": count, "addresses": addresses, "window_minutes": policy.window_minutes},
                 department_id=user.department_id)
    return True
