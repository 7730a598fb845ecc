"""Access tokens (short-lived JWT) and opaque refresh tokens."""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import time
import uuid

import jwt

from backend.db import utcnow
from backend.errors import NotAuthenticated


LEEWAY_S = 30              # clock difference allowed between servers on ``exp`` and ``iat``
VERIFIED_KEPT = 4096       # access tokens whose signature and claims were checked, remembered per app


class TokenSettings:
    def __init__(self, secret: str, issuer: str, audience: str, access_minutes: int):
        self.secret, self.issuer, self.audience, self.access_minutes = secret, issuer, audience, access_minutes
        # token text -> its claims, once PyJWT has checked it: an officer's phone sends the same token with
        # every request for its whole life, and the same bytes verify the same way under the same secret.
        # Only the expiry changes with time; it is checked again on every use (``decode_access_token``).
        self.verified: dict[str, dict] = {}


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
    claims = settings.verified.get(token)
    if claims is not None:
        if int(claims["exp"]) <= time.time() - LEEWAY_S:   # PyJWT's own test of ``exp``
            raise NotAuthenticated("登录已过期，请刷新令牌或重新登录", code="auth.token_expired")
        return claims
    try:
        claims = jwt.decode(token, settings.secret, algorithms=["HS256"], audience=settings.audience,
                            issuer=settings.issuer, leeway=LEEWAY_S,
                            options={"require": ["exp", "iat", "sub", "jti", "sid"]})
    except jwt.ExpiredSignatureError:
        raise NotAuthenticated("登录已过期，请刷新令牌或重新登录", code="auth.token_expired")
    except jwt.InvalidTokenError:
        raise NotAuthenticated("登录凭证无效，请重新登录", code="auth.token_invalid")
    if claims.get("typ") != "access" or not isinstance(claims.get("sid"), str):
        raise NotAuthenticated("登录凭证无效，请重新登录", code="auth.token_invalid")
    if len(settings.verified) >= VERIFIED_KEPT:
        settings.verified.clear()   # simpler than an LRU: the live tokens come back at their next request
    settings.verified[token] = claims
    return claims


def new_refresh_token() -> tuple[str, str]:
    """Return (token, its SHA-256 hex). Only the hash is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
