"""Who may call what. Every API view declares its rule with ``@requires`` or ``@public``.

The rule is attached to the view function (``_access``) so that a test can walk the
URL map and prove that no endpoint was left without one.
"""
from __future__ import annotations

import functools
from typing import Callable

from flask import current_app, g, request

from backend.actor import Actor
from backend.auth.roles import Role
from backend.auth.rules import department_scope, ensure_department, ensure_role  # noqa: F401
from backend.errors import Forbidden, NotAuthenticated

PUBLIC = "public"
ANY_USER = "any_user"


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def client_address() -> str | None:
    """The caller's IP address: the connecting peer, or, behind ``TRUSTED_PROXIES`` proxies, the
    address they forwarded (ProxyFix, in ``create_app``). None when it is not a valid address."""
    from backend.auth.throttle import normalise_address

    address = normalise_address(request.remote_addr)
    if address is None:  # a proxy forwarded garbage: the peer that connected is all we know
        original = request.environ.get("werkzeug.proxy_fix.orig", {}).get("REMOTE_ADDR")
        address = normalise_address(original)
    return address


def authenticate(required: bool) -> Actor | None:
    """Resolve the caller from the bearer token; checks freeze and token version on every call."""
    from backend.auth import services  # local import: services import models

    if "actor" in g:
        return g.actor
    token = _bearer()
    if token is None:
        if required:
            raise NotAuthenticated()
        g.actor = None
        return None
    account, session_id = services.user_for_access_token(current_app.extensions["shuangsui.session"](),
                                                         current_app.extensions["shuangsui.tokens"], token)
    g.actor = Actor.of_user(account, address=client_address())
    g.session_id = session_id
    return g.actor


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        raise NotAuthenticated()
    return actor


def current_session_id() -> str | None:
    """The login (refresh-token family) the caller's access token belongs to."""
    return g.get("session_id")


def optional_actor() -> Actor | None:
    return authenticate(required=False)


def _document(wrapper, roles_text: str, secured: bool) -> None:
    apidoc = getattr(wrapper, "_apidoc", None)
    if apidoc is None:
        apidoc = wrapper._apidoc = {}
    manual = apidoc.setdefault("manual_doc", {})
    if secured:
        manual["security"] = [{"bearerAuth": []}]
    manual["description"] = (manual.get("description", "") + f"\n\n权限：{roles_text}").strip()


def requires(*roles: Role | str, refusal: tuple[str, str] | None = None) -> Callable:
    """Only callers with one of ``roles`` (or any logged-in user with ``ANY_USER``). ``refusal``: the
    (code, message) of the 403 to other roles, where an endpoint's contract names its own."""
    allowed = frozenset(Role(r) if r != ANY_USER else r for r in roles)

    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            actor = authenticate(required=True)
            if ANY_USER not in allowed and Role(actor.role) not in allowed:
                if refusal is not None:
                    raise Forbidden(refusal[1], code=refusal[0])
                raise Forbidden(f"当前角色（{Role(actor.role).label}）无权执行此操作", code="forbidden.role")
            return fn(*args, **kwargs)

        wrapper._access = allowed
        text = "任何已登录用户" if ANY_USER in allowed else "、".join(
            Role(r).label for r in sorted(allowed, key=lambda r: list(Role).index(Role(r))))
        _document(wrapper, text, secured=True)
        return wrapper

    return decorate


def public(fn):
    """Readable without login (a logged-in caller is still recognised)."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        authenticate(required=False)
        return fn(*args, **kwargs)

    wrapper._access = frozenset({PUBLIC})
    _document(wrapper, "公开（无需登录）", secured=False)
    return wrapper
