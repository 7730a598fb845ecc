"""Accounts, login, token rotation, freezing. No Flask here.

Password hashing is slow on purpose (argon2, ~0.2 s): it never runs inside a write transaction.
Login, refresh, password changes and account creation read first (and end that transaction),
do the slow work, then write in one short transaction whose first statement is a write, so
SQLite takes its write lock at the start instead of upgrading a read half-way.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from typing import NamedTuple

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth import throttle
from backend.auth.models import LoginAttempt, RefreshToken, User
from backend.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from backend.auth.roles import Role
from backend.auth.throttle import LoginPolicy, normalise_address
from backend.auth.tokens import (TokenSettings, decode_access_token, hash_refresh_token, issue_access_token,
                                 new_refresh_token)
from backend.db import dialect_of, raw_rows, utcnow
from backend.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound

@dataclasses.dataclass
class RefreshPolicy:
    token_days: int = 14
    family_days: int = 30
    # a token spent this recently, whose successor was never used, is a retry whose answer was lost
    retry_seconds: int = 60


@dataclasses.dataclass
class TokenPair:
    access_token: str
    access_expires_at: dt.datetime
    refresh_token: str
    refresh_expires_at: dt.datetime
    user: User


def user_snapshot(user: User) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "role": user.role,
            "department_id": user.department_id, "region_code": user.region_code,
            "inspector_id": user.inspector_id, "phone": user.phone, "status": user.status}


def _end_reads(session: Session) -> None:
    """End the transaction the reads so far opened (nothing is pending), before slow work."""
    session.commit()


# --- login and tokens ---------------------------------------------------------------------

def _bad_credentials() -> NotAuthenticated:
    return NotAuthenticated("用户名或密码错误", code="auth.invalid_credentials")


def _frozen() -> NotAuthenticated:
    return NotAuthenticated("账号已被冻结，请联系管理员", code="auth.account_frozen")


def _read_account(session: Session, policy: LoginPolicy, username: str, address: str | None,
                  what: str = "登录") -> tuple[User | None, str | None]:
    """A login's (or a signer check's) reads: the account and its password hash, ending the read transaction
    before the slow hash; 429 at once when the throttle already holds this name or address."""
    wait = throttle.login_wait(session, policy, username, address, utcnow())
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user else None
    _end_reads(session)
    if wait:
        raise throttle.too_many(wait, what)
    return user, stored


def _record_attempt(session: Session, policy: LoginPolicy, username: str, address: str | None,
                    user: User | None, ok: bool, what: str = "登录") -> LoginAttempt:
    """The one short write of a password check: the attempt, under the account's row lock (one attempt of an
    account at a time on PostgreSQL), the throttle asked again (attempts that raced this one count too) and,
    for a failure, the alert when the account is besieged. The caller commits (or raises after committing)."""
    attempt = LoginAttempt(kind="login", username=username, address=address, success=ok, at=utcnow())
    session.add(attempt)
    session.flush()
    if user is not None:
        session.execute(select(User.id).where(User.id == user.id).with_for_update())
    wait = throttle.login_wait(session, policy, username, address, attempt.at, exclude_id=attempt.id)
    if wait:
        session.rollback()
        raise throttle.too_many(wait, what)
    if not ok and user is not None:
        throttle.alert_if_besieged(session, policy, user, address, attempt.at)
    return attempt


def login(session: Session, settings: TokenSettings, refresh: RefreshPolicy, policy: LoginPolicy, *,
          username: str, password: str, address: str | None, device_label: str | None = None) -> TokenPair:
    username, address = username.strip()[:64], normalise_address(address)
    # 1. reads: is this account open to this address, and what is its password hash
    user, stored = _read_account(session, policy, username, address)
    # 2. the slow part, outside any transaction
    ok = verify_password(stored, password) and user is not None
    new_hash = hash_password(password) if ok and needs_rehash(stored) else None
    # 3. one short write; its first statement takes the write lock
    attempt = _record_attempt(session, policy, username, address, user, ok)
    if not ok:
        session.commit()  # the failure must count even though we refuse
        raise _bad_credentials()
    # still active, and the password still the one just verified
    values = {"last_login_at": attempt.at, **({"password_hash": new_hash} if new_hash else {})}
    current = session.execute(update(User).where(User.id == user.id, User.status == "active",
                                                 User.password_hash == stored).values(**values)
                              .execution_options(synchronize_session=False)).rowcount
    session.refresh(user)
    if not current:
        if user.password_hash != stored:  # changed while we were verifying: the old one no longer opens
            attempt.success = False
        session.commit()
        if not attempt.success:
            raise _bad_credentials()
        raise _frozen()
    pair = start_session(session, settings, refresh, user, device_label=device_label)
    audit.record(session, Actor.of_user(user, address), "auth.login", "user", user.id,
                 detail={"device": device_label}, department_id=user.department_id)
    session.commit()
    return pair


class SignerInvalid(InvalidInput):
    """A co-signer's check failed: one answer whatever the reason (unknown account, wrong password, frozen,
    not allowed to sign there), so the check tells nothing about any account."""

    code = "signature.signer_invalid"
    message = ("签名人核验未通过：用户名或密码不正确，或此人不能在此签名（须为本检查组成员；为部门检查内容签名须是"
               "该部门的检查人员；账号须未冻结）")


def check_signer(session: Session, policy: LoginPolicy, actor: Actor, *, username: str, password: str,
                 address: str | None, eligible: set[int], context: dict | None = None) -> User:
    """A group member's password typed on another member's phone (a co-signature), checked as a login is: the
    same throttle and counters (``login_attempt``), one attempt recorded, an audit entry
    (``auth.signer_failed``) for a failure; no session is opened and nothing else changes.

    ``eligible``: the accounts that may sign there. Anyone else (and an unknown or frozen account) fails
    exactly as a wrong password does, without the slow hash. Raises :class:`SignerInvalid` or 429
    ``auth.too_many_attempts``; commits (call it outside any write transaction of the caller's)."""
    username, address = username.strip()[:64], normalise_address(address)
    # 1. reads
    user, stored = _read_account(session, policy, username, address, "签名人核验")
    # 2. the slow part, only for someone who may sign here
    member = user is not None and user.is_active and user.id in eligible
    ok = member and verify_password(stored, password)
    # 3. one short write, as a login's
    _record_attempt(session, policy, username, address, user, ok, "签名人核验")
    if not ok:
        audit.record(session, actor, "auth.signer_failed", "user", user.id if user else None,
                     detail={"username": username, **(context or {})}, department_id=actor.department_id)
        session.commit()
        raise SignerInvalid()
    session.commit()
    return user


def start_session(session: Session, settings: TokenSettings, refresh: RefreshPolicy, user: User, *,
                  device_label: str | None = None) -> TokenPair:
    """A new login (a refresh-token family) for ``user``; the caller commits."""
    return _issue_pair(session, settings, refresh, user, family_id=str(uuid.uuid4()), device_label=device_label)


def _issue_pair(session: Session, settings: TokenSettings, refresh: RefreshPolicy, user: User, *, family_id: str,
                device_label: str | None, family_expires_at: dt.datetime | None = None) -> TokenPair:
    now = utcnow()
    family_expires_at = family_expires_at or now + dt.timedelta(days=refresh.family_days)
    token, token_hash = new_refresh_token()
    expires = min(now + dt.timedelta(days=refresh.token_days), family_expires_at)
    session.add(RefreshToken(user_id=user.id, family_id=family_id, token_hash=token_hash, device_label=device_label,
                             expires_at=expires, family_expires_at=family_expires_at))
    access, access_exp = issue_access_token(settings, user, family_id)
    return TokenPair(access, access_exp, token, expires, user)


def rotate_refresh_token(session: Session, settings: TokenSettings, refresh: RefreshPolicy, policy: LoginPolicy,
                         token: str, address: str | None) -> TokenPair:
    """Trade a refresh token for a new pair.

    A token spent by rotation and presented again while its login is still live was copied:
    the login ends (one audit entry per login, however often it is replayed). A token whose
    login ended (logout, freezing, a password change) is simply refused. Failures count
    against the caller's address.
    """
    address = normalise_address(address)
    token_hash = hash_refresh_token(token)
    wait = throttle.address_wait(session, policy, "refresh", address, utcnow())
    _end_reads(session)
    if wait:
        raise throttle.too_many(wait, "刷新令牌")
    now = utcnow()
    # claim the token: the first statement is the write
    claimed = session.execute(
        update(RefreshToken).where(RefreshToken.token_hash == token_hash, RefreshToken.used_at.is_(None),
                                   RefreshToken.revoked_at.is_(None), RefreshToken.expires_at > now)
        .values(used_at=now).execution_options(synchronize_session=False)).rowcount
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == token_hash)
                         .execution_options(populate_existing=True))
    user = session.get(User, row.user_id, populate_existing=True) if row is not None else None
    username = user.username if user else ""
    if claimed and user.is_active:
        pair = _issue_pair(session, settings, refresh, user, family_id=row.family_id, device_label=row.device_label,
                           family_expires_at=row.family_expires_at)
        session.commit()
        return pair
    if claimed:
        session.rollback()  # frozen meanwhile: leave the token as it was
        error = _frozen()
    elif user is not None and user.is_active and _lost_answer(session, refresh, row, now):
        # the answer to this token's rotation never reached the device: its unused successor is revoked
        # and the device gets a new pair, in the same login
        pair = _issue_pair(session, settings, refresh, user, family_id=row.family_id, device_label=row.device_label,
                           family_expires_at=row.family_expires_at)
        session.commit()
        return pair
    else:
        error = _refused_refresh(session, row, user, address, now)
    session.add(LoginAttempt(kind="refresh", username=username, address=address, success=False, at=utcnow()))
    session.commit()
    raise error


def _lost_answer(session: Session, refresh: RefreshPolicy, row: RefreshToken | None, now: dt.datetime) -> bool:
    """A token spent by rotation less than ``retry_seconds`` ago, whose successor is the family's only live
    token and was never used: the device sent it again because the answer was lost (a phone on a bad
    network). Revokes that successor (``retry``) and says so; anything else is not a retry."""
    if (row is None or row.used_at is None or row.revoked_at is not None or row.expires_at <= now
            or now - row.used_at > dt.timedelta(seconds=refresh.retry_seconds)):
        return False
    # what the family issued since this token was spent: only its own successor, never used, still live
    later = [t for t in session.scalars(select(RefreshToken).where(RefreshToken.family_id == row.family_id,
                                                                   RefreshToken.created_at >= row.used_at))
             if t.revoked_reason != "retry"]   # an answer lost twice is still the same retry
    if len(later) != 1 or later[0].used_at is not None or later[0].revoked_at is not None:
        return False
    claimed = session.execute(update(RefreshToken).where(RefreshToken.id == later[0].id, RefreshToken.used_at.is_(None),
                                                         RefreshToken.revoked_at.is_(None))
                              .values(revoked_at=now, revoked_reason="retry")
                              .execution_options(synchronize_session=False)).rowcount
    return bool(claimed)


def _refused_refresh(session: Session, row: RefreshToken | None, user: User | None, address: str | None,
                     now: dt.datetime) -> NotAuthenticated:
    if row is None:
        return NotAuthenticated("刷新令牌无效，请重新登录", code="auth.refresh_invalid")
    reused = NotAuthenticated("刷新令牌已被使用过，为安全起见该设备已退出登录，请重新登录", code="auth.refresh_reused")
    if row.revoked_at is not None:
        if row.revoked_reason == "reuse":
            return reused
        if row.revoked_reason == "retry":
            return NotAuthenticated("该刷新令牌已被重发的刷新请求替换（上次的应答已丢失），请使用新的令牌或重新登录",
                                    code="auth.refresh_superseded")
        return NotAuthenticated("该登录已结束（已退出、账号被冻结或密码已修改），请重新登录", code="auth.refresh_revoked")
    if row.expires_at <= now:
        return NotAuthenticated("登录已过期，请重新登录", code="auth.refresh_expired")
    if row.used_at is None:  # not spent, not revoked, not expired, yet not claimed: cannot happen
        return NotAuthenticated("刷新令牌无效，请重新登录", code="auth.refresh_invalid")
    # spent by rotation while its login is live: a copy is in use. End the login; tell once.
    if _revoke_family(session, row.family_id, "reuse"):
        audit.record(session, Actor.of_user(user, address), "auth.refresh_reuse", "user", user.id,
                     detail={"family": row.family_id}, department_id=user.department_id)
    return reused


def logout(session: Session, actor: Actor, session_id: str | None, token: str | None = None) -> None:
    """End the caller's login (its access token stops at once), and the login of ``token`` if it is theirs."""
    if session_id:
        _revoke_family(session, session_id, "logout", user_id=actor.user_id)
    if token:
        family = session.scalar(select(RefreshToken.family_id).where(
            RefreshToken.token_hash == hash_refresh_token(token), RefreshToken.user_id == actor.user_id))
        if family is not None and family != session_id:
            _revoke_family(session, family, "logout", user_id=actor.user_id)
    audit.record(session, actor, "auth.logout", "user", actor.user_id, department_id=actor.department_id)
    session.commit()


def _revoke_family(session: Session, family_id: str, reason: str, user_id: int | None = None) -> int:
    """Revoke what is left of a login; the number of tokens revoked (0: it had ended already)."""
    stmt = update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
    if user_id is not None:
        stmt = stmt.where(RefreshToken.user_id == user_id)
    return session.execute(stmt.values(revoked_at=utcnow(), revoked_reason=reason)
                           .execution_options(synchronize_session=False)).rowcount


def _revoke_user(session: Session, user_id: int, reason: str) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow(), revoked_reason=reason)
                    .execution_options(synchronize_session=False))


# The account of an access token and whether its login is live, in one statement built once and run without
# the ORM (the columns an Actor needs, not the account's row and its department): every authenticated request
# runs it, and building the statement anew, then an ORM object from its row, cost several times the CPU the
# database spends answering it.
_ACCOUNT_OF_TOKEN = select(
    User.id, User.username, User.display_name, User.role, User.department_id, User.region_code, User.inspector_id,
    User.status, User.token_version,
    select(RefreshToken.id).where(
        RefreshToken.family_id == bindparam("sid"), RefreshToken.user_id == User.id,
        RefreshToken.revoked_at.is_(None), RefreshToken.family_expires_at > bindparam("now")).exists().label("live"),
).where(User.id == bindparam("user_id"))


class AccountOfToken(NamedTuple):
    """A row of ``_ACCOUNT_OF_TOKEN``."""
    id: int
    username: str
    display_name: str
    role: str
    department_id: int | None
    region_code: str | None
    inspector_id: int | None
    status: str
    token_version: int
    live: bool


# PostgreSQL: the same statement (as SQLAlchemy compiles it for psycopg, casts included, so the same plan) sent on
# the raw psycopg connection (``backend.db.raw_rows``): SQLAlchemy's execution and result cost ~4× the statement's
# own CPU in the app. tests/unit/test_auth_token_statement.py holds the two to the same text.
_ACCOUNT_OF_TOKEN_PG = (
    "SELECT user_account.id, user_account.username, user_account.display_name, user_account.role, "
    "user_account.department_id, user_account.region_code, user_account.inspector_id, user_account.status, "
    "user_account.token_version, EXISTS (SELECT refresh_token.id \nFROM refresh_token \n"
    "WHERE refresh_token.family_id = %(sid)s::VARCHAR AND refresh_token.user_id = user_account.id "
    "AND refresh_token.revoked_at IS NULL AND refresh_token.family_expires_at > %(now)s::TIMESTAMP WITH TIME ZONE) "
    "AS live \nFROM user_account \nWHERE user_account.id = %(user_id)s::INTEGER")


def _account_of_token(session: Session, params: dict) -> AccountOfToken | None:
    if dialect_of(session) == "postgresql":
        rows = raw_rows(session, _ACCOUNT_OF_TOKEN_PG, params)
        return AccountOfToken._make(rows[0]) if rows else None
    return session.connection().execute(_ACCOUNT_OF_TOKEN, params).first()


def user_for_access_token(session: Session, settings: TokenSettings, token: str):
    """The account (its id, username, display_name, role, department_id, region_code, inspector_id, status and
    token_version: what ``Actor.of_user`` reads) and the login (``sid``) an access token stands for, checked
    against the database."""
    claims = decode_access_token(settings, token)
    try:
        user_id = int(claims["sub"])
    except (TypeError, ValueError):
        user_id = None
    row = None
    if user_id is not None and abs(user_id) < 2**63:
        row = _account_of_token(session, {"user_id": user_id, "sid": claims["sid"], "now": utcnow()})
    if row is None:
        raise NotAuthenticated("登录凭证无效，请重新登录", code="auth.token_invalid")
    if row.status != "active":        # User.is_active
        raise _frozen()
    if claims.get("tv") != row.token_version:
        raise NotAuthenticated("登录凭证已失效，请重新登录", code="auth.token_revoked")
    if not row.live:
        raise NotAuthenticated("该登录已结束（已退出或被注销），请重新登录", code="auth.token_revoked")
    return row, claims["sid"]


# --- account management --------------------------------------------------------------------

_DEPT_ADMIN_MAY_GRANT = {Role.PLANNER, Role.INSPECTOR, Role.DEPT_ADMIN, Role.PUBLISHER}


def _ensure_manages(actor: Actor, department_id: int | None, role: str | None = None) -> None:
    if actor.role == Role.SYSADMIN:
        return
    if actor.role != Role.DEPT_ADMIN or department_id is None or department_id != actor.department_id:
        raise Forbidden("只能管理本部门的账号", code="forbidden.department")
    if role is not None and Role(role) not in _DEPT_ADMIN_MAY_GRANT:
        raise Forbidden(f"部门管理员不能设置“{Role(role).label}”角色", code="forbidden.role")


def get_user(session: Session, actor: Actor, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("账号不存在")
    if actor.user_id != user_id:
        _ensure_manages(actor, user.department_id)
    return user


def users_query(actor: Actor, filters: dict):
    """A select of the accounts the actor may see, filtered."""
    if actor.role not in (Role.SYSADMIN, Role.DEPT_ADMIN):
        raise Forbidden("无权查看账号列表", code="forbidden.role")
    stmt = select(User).order_by(User.id)
    department_id = filters.get("department_id")
    if actor.role == Role.DEPT_ADMIN:
        if department_id not in (None, actor.department_id):
            raise Forbidden("只能查看本部门的账号", code="forbidden.department")
        department_id = actor.department_id
    if department_id is not None:
        stmt = stmt.where(User.department_id == department_id)
    if filters.get("role"):
        stmt = stmt.where(User.role == Role(filters["role"]).value)
    if filters.get("status"):
        stmt = stmt.where(User.status == filters["status"])
    if filters.get("q"):
        like = f"%{filters['q']}%"
        stmt = stmt.where(User.username.like(like) | User.display_name.like(like))
    return stmt


def create_user(session: Session, actor: Actor, data: dict) -> User:
    role = Role(data["role"])
    _ensure_manages(actor, data.get("department_id"), role)
    if role != Role.SYSADMIN and role != Role.SUPERVISOR and not data.get("department_id"):
        raise InvalidInput("该角色的账号必须属于一个部门", errors={"department_id": ["必填项"]})
    problem = password_problem(data["password"])
    if problem:
        raise InvalidInput(problem, code="auth.weak_password", errors={"password": [problem]})
    duplicate = Conflict(f"用户名“{data['username']}”已存在", code="user.duplicate_username")
    if session.scalar(select(User.id).where(User.username == data["username"])):
        raise duplicate
    _check_links(session, data)
    _end_reads(session)
    password_hash = hash_password(data["password"])  # slow: outside any transaction
    user = User(username=data["username"], display_name=data["display_name"], role=role.value,
                password_hash=password_hash, department_id=data.get("department_id"),
                region_code=data.get("region_code"), inspector_id=data.get("inspector_id"),
                phone=data.get("phone"), status="active", token_version=1)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        if session.scalar(select(User.id).where(User.username == data["username"])):
            raise duplicate  # taken while the password was being hashed
        raise
    audit.record(session, actor, "user.create", "user", user.id, after=user_snapshot(user),
                 department_id=user.department_id)
    session.commit()
    return user


def _check_links(session: Session, data: dict) -> None:
    from backend.directory.models import Department, Inspector, Region

    if data.get("department_id") and session.get(Department, data["department_id"]) is None:
        raise InvalidInput("部门不存在", errors={"department_id": ["部门不存在"]})
    if data.get("region_code") and session.get(Region, data["region_code"]) is None:
        raise InvalidInput("行政区划不存在", errors={"region_code": ["行政区划代码不存在"]})
    if data.get("inspector_id"):
        inspector = session.get(Inspector, data["inspector_id"])
        if inspector is None:
            raise InvalidInput("检查人员不存在", errors={"inspector_id": ["检查人员不存在"]})
        if data.get("department_id") and inspector.department_id != data["department_id"]:
            raise InvalidInput("检查人员不属于该部门", errors={"inspector_id": ["检查人员不属于该部门"]})
        if session.scalar(select(User.id).where(User.inspector_id == inspector.id)):
            raise Conflict("该检查人员已绑定其他账号", code="user.inspector_taken")


def update_user(session: Session, actor: Actor, user_id: int, data: dict) -> User:
    user = get_user(session, actor, user_id)
    _ensure_manages(actor, user.department_id, data.get("role"))
    if "department_id" in data:
        _ensure_manages(actor, data["department_id"])
    before = user_snapshot(user)
    _check_links(session, {**data, "department_id": data.get("department_id", user.department_id)}
                 if data.get("inspector_id") not in (None, user.inspector_id) else
                 {k: v for k, v in data.items() if k != "inspector_id"})
    for key in ("display_name", "role", "department_id", "region_code", "inspector_id", "phone"):
        if key in data:
            setattr(user, key, data[key].value if isinstance(data[key], Role) else data[key])
    if user.role != before["role"] or user.department_id != before["department_id"]:
        user.token_version += 1  # new rights: old tokens stop at once
    audit.record(session, actor, "user.update", "user", user.id, before=before, after=user_snapshot(user),
                 department_id=user.department_id)
    session.commit()
    return user


def set_frozen(session: Session, actor: Actor, user_id: int, frozen: bool, reason: str | None = None) -> User:
    """冻结: the account's access and refresh tokens stop working at once."""
    user = get_user(session, actor, user_id)
    if user.id == actor.user_id:
        raise InvalidInput("不能冻结或解冻自己的账号", code="user.self_freeze")
    before = user_snapshot(user)
    user.status = "frozen" if frozen else "active"
    if frozen:
        user.token_version += 1
        _revoke_user(session, user.id, "frozen")
    audit.record(session, actor, "user.freeze" if frozen else "user.unfreeze", "user", user.id, before=before,
                 after=user_snapshot(user), detail={"reason": reason}, department_id=user.department_id)
    session.commit()
    return user


def set_password(session: Session, actor: Actor, user_id: int, new_password: str,
                 old_password: str | None = None) -> None:
    user = get_user(session, actor, user_id)
    stored = user.password_hash
    _end_reads(session)
    # the slow part, outside any transaction
    if actor.user_id == user_id and not verify_password(stored, old_password or ""):
        raise InvalidInput("原密码不正确", code="auth.wrong_password", errors={"old_password": ["原密码不正确"]})
    problem = password_problem(new_password)
    if problem:
        raise InvalidInput(problem, code="auth.weak_password", errors={"password": [problem]})
    new_hash = hash_password(new_password)
    # a short write, only if nobody changed the password meanwhile
    changed = session.execute(
        update(User).where(User.id == user_id, User.password_hash == stored)
        .values(password_hash=new_hash, token_version=User.token_version + 1)
        .execution_options(synchronize_session=False)).rowcount
    if not changed:
        session.rollback()
        raise Conflict("密码刚被修改过，请刷新后重试", code="user.password_changed")
    _revoke_user(session, user.id, "password")
    audit.record(session, actor, "user.password", "user", user.id, department_id=user.department_id)
    session.commit()
