"""Accounts, login, token rotation, freezing. No Flask here."""
from __future__ import annotations

import dataclasses
import datetime as dt
import uuid

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.actor import Actor
from backend.audit import services as audit
from backend.auth.models import LoginAttempt, RefreshToken, User
from backend.auth.passwords import hash_password, needs_rehash, password_problem, verify_password
from backend.auth.roles import Role
from backend.auth.tokens import (TokenSettings, decode_access_token, hash_refresh_token, issue_access_token,
                                 new_refresh_token)
from backend.db import utcnow
from backend.errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound, TooManyRequests


@dataclasses.dataclass
class RefreshPolicy:
    token_days: int = 14
    family_days: int = 30


@dataclasses.dataclass
class LoginPolicy:
    max_failures: int = 5
    window_minutes: int = 15


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


# --- login and tokens ---------------------------------------------------------------------

def _throttle(session: Session, policy: LoginPolicy, username: str, address: str) -> None:
    since = utcnow() - dt.timedelta(minutes=policy.window_minutes)
    by_user = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.username == username, LoginAttempt.at >= since, LoginAttempt.success.is_(False)))
    by_address = session.scalar(select(func.count()).select_from(LoginAttempt).where(
        LoginAttempt.address == address, LoginAttempt.at >= since, LoginAttempt.success.is_(False)))
    if by_user >= policy.max_failures or by_address >= policy.max_failures * 4:
        raise TooManyRequests(f"登录失败次数过多，请 {policy.window_minutes} 分钟后再试",
                              code="auth.too_many_attempts")


def login(session: Session, settings: TokenSettings, refresh: RefreshPolicy, policy: LoginPolicy, *,
          username: str, password: str, address: str, device_label: str | None = None) -> TokenPair:
    username = username.strip()
    _throttle(session, policy, username, address)
    user = session.scalar(select(User).where(User.username == username))
    ok = verify_password(user.password_hash if user else None, password)
    session.add(LoginAttempt(username=username[:64], address=address[:64], success=ok and user is not None))
    if not ok or user is None:
        session.commit()  # the failure must count even though we refuse
        raise NotAuthenticated("用户名或密码错误", code="auth.invalid_credentials")
    if not user.is_active:
        session.commit()
        raise NotAuthenticated("账号已被冻结，请联系管理员", code="auth.account_frozen")
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    pair = _issue_pair(session, settings, refresh, user, family_id=str(uuid.uuid4()), device_label=device_label)
    audit.record(session, Actor.of_user(user, address), "auth.login", "user", user.id,
                 detail={"device": device_label}, department_id=user.department_id)
    session.commit()
    return pair


def _issue_pair(session: Session, settings: TokenSettings, refresh: RefreshPolicy, user: User, *, family_id: str,
                device_label: str | None, family_expires_at: dt.datetime | None = None) -> TokenPair:
    now = utcnow()
    family_expires_at = family_expires_at or now + dt.timedelta(days=refresh.family_days)
    token, token_hash = new_refresh_token()
    expires = min(now + dt.timedelta(days=refresh.token_days), family_expires_at)
    session.add(RefreshToken(user_id=user.id, family_id=family_id, token_hash=token_hash, device_label=device_label,
                             expires_at=expires, family_expires_at=family_expires_at))
    access, access_exp = issue_access_token(settings, user)
    return TokenPair(access, access_exp, token, expires, user)


def rotate_refresh_token(session: Session, settings: TokenSettings, refresh: RefreshPolicy, token: str,
                         address: str) -> TokenPair:
    """Trade a refresh token for a new pair. A token used twice revokes its whole family."""
    row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token)))
    if row is None:
        raise NotAuthenticated("刷新令牌无效，请重新登录", code="auth.refresh_invalid")
    user = session.get(User, row.user_id)
    now = utcnow()
    if row.used_at is not None or row.revoked_at is not None:
        if row.revoked_reason != "reuse":
            _revoke_family(session, row.family_id, "reuse")
            audit.record(session, Actor.of_user(user, address), "auth.refresh_reuse", "user", user.id,
                         detail={"family": row.family_id}, department_id=user.department_id)
            session.commit()
        raise NotAuthenticated("刷新令牌已被使用过，为安全起见该设备已退出登录，请重新登录",
                               code="auth.refresh_reused")
    if row.expires_at <= now:
        raise NotAuthenticated("登录已过期，请重新登录", code="auth.refresh_expired")
    if not user.is_active:
        raise NotAuthenticated("账号已被冻结，请联系管理员", code="auth.account_frozen")
    row.used_at = now
    pair = _issue_pair(session, settings, refresh, user, family_id=row.family_id, device_label=row.device_label,
                       family_expires_at=row.family_expires_at)
    session.commit()
    return pair


def logout(session: Session, actor: Actor, token: str | None) -> None:
    if token:
        row = session.scalar(select(RefreshToken).where(RefreshToken.token_hash == hash_refresh_token(token)))
        if row is not None and row.user_id == actor.user_id:
            _revoke_family(session, row.family_id, "logout")
    audit.record(session, actor, "auth.logout", "user", actor.user_id, department_id=actor.department_id)
    session.commit()


def _revoke_family(session: Session, family_id: str, reason: str) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.family_id == family_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow(), revoked_reason=reason))


def _revoke_user(session: Session, user_id: int, reason: str) -> None:
    session.execute(update(RefreshToken).where(RefreshToken.user_id == user_id, RefreshToken.revoked_at.is_(None))
                    .values(revoked_at=utcnow(), revoked_reason=reason))


def user_for_access_token(session: Session, settings: TokenSettings, token: str) -> User:
    claims = decode_access_token(settings, token)
    try:
        user = session.get(User, int(claims["sub"]))
    except (TypeError, ValueError):
        user = None
    if user is None:
        raise NotAuthenticated("登录凭证无效，请重新登录", code="auth.token_invalid")
    if not user.is_active:
        raise NotAuthenticated("账号已被冻结，请联系管理员", code="auth.account_frozen")
    if claims.get("tv") != user.token_version:
        raise NotAuthenticated("登录凭证已失效，请重新登录", code="auth.token_revoked")
    return user


# --- account management --------------------------------------------------------------------

_DEPT_ADMIN_MAY_GRANT = {Role.PLANNER, Role.INSPECTOR, Role.DEPT_ADMIN}


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
    if session.scalar(select(User.id).where(User.username == data["username"])):
        raise Conflict(f"用户名“{data['username']}”已存在", code="user.duplicate_username")
    _check_links(session, data)
    user = User(username=data["username"], display_name=data["display_name"], role=role.value,
                password_hash=hash_password(data["password"]), department_id=data.get("department_id"),
                region_code=data.get("region_code"), inspector_id=data.get("inspector_id"),
                phone=data.get("phone"), status="active", token_version=1)
    session.add(user)
    session.flush()
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
    if actor.user_id == user_id and not verify_password(user.password_hash, old_password or ""):
        raise InvalidInput("原密码不正确", code="auth.wrong_password", errors={"old_password": ["原密码不正确"]})
    problem = password_problem(new_password)
    if problem:
        raise InvalidInput(problem, code="auth.weak_password", errors={"password": [problem]})
    user.password_hash = hash_password(new_password)
    user.token_version += 1
    _revoke_user(session, user.id, "password")
    audit.record(session, actor, "user.password", "user", user.id, department_id=user.department_id)
    session.commit()
