"""Access tokens (short-lived JWT) and opaque refresh tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid

import jwt

from backend.db import utcnow
from backend.errors import NotAuthenticated


class TokenSettings:
    def __init__(self, secret: str, issuer: str, audience: str, access_minutes: int):
        self.secret, self.issuer, self.audience, self.access_minutes = secret, issuer, audience, access_minutes


def issue_access_token(settings: TokenSettings, user, session_id: str) -> tuple[str, dt.datetime]:
    """A JWT for ``user`` that lives as long as its login (``sid``: the refresh-token family)."""
    now = utcnow()
    exp = now + dt.timedelta(minutes=settings.access_minutes)
    claims = {
        "iss": settings.issuer, "aud": settings.audience, "sub": str(user.id), "iat": now, "exp": exp,
        "jti": uuid.uuid4().hex, "typ": "access", "tv": user.token_version, "role": user.role,
        "dept": user.department_id, "sid": session_id,
    }
    return jwt.encode(claims, settings.secret, algorithm="HS256"), exp


def decode_access_token(settings: TokenSettings, token: str) -> dict:
    try:
        claims = jwt.decode(token, settings.secret, algorithms=["HS256"], audience=settings.audience,
                            issuer=settings.issuer, leeway=30,
                            options={"require": ["exp", "iat", "sub", "jti", "sid"]})
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("登录已过期，请刷新令牌或重新登录", code="auth.token_expired")
    except jwt.InvalidTokenError:
        raise NotAuthenticated("登录凭证无效，请重新登录", code="auth.token_invalid")
    if claims.get("typ") != "access" or not isinstance(claims.get("sid"), str):
        raise NotAuthenticated("登录凭证无效，请重新登录", code="auth.token_invalid")
    return claims


def new_refresh_token() -> tuple[str, str]:
    """Return (token, its SHA-256 hex). Only the hash is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
