"""Passwords: argon2id at argon2-cffi's default cost (RFC 9106's low-memory profile: 3 passes over 64 MiB, 4 lanes;
a few hundred ms of CPU a hash), the cost every app has unless its ``PASSWORD_HASH_COST`` says otherwise
(the test suite's setting: a cheap cost, so that its logins do not spend minutes of CPU; never read from the
environment). Each app keeps its own :class:`Passwords` (``app.extensions["shuangsui.passwords"]``); outside an
app context the production cost is used."""
from __future__ import annotations

from collections.abc import Mapping

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask import current_app, has_app_context

MIN_LENGTH = 8
EXTENSION = "shuangsui.passwords"


class Passwords:
    """An argon2 hasher of one cost (``cost``: ``time_cost``, ``memory_cost``, ``parallelism``; None: the
    production cost) and a fixed hash of that cost to verify against when the user does not exist (the same
    cost: no user enumeration by timing)."""

    def __init__(self, cost: Mapping | None = None):
        self.hasher = PasswordHasher(**cost) if cost else PasswordHasher()
        self._dummy: str | None = None

    @property
    def dummy(self) -> str:
        if self._dummy is None:
            self._dummy = self.hasher.hash("not-a-real-password")
        return self._dummy

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        try:
            return self.hasher.verify(stored or self.dummy, password) and stored is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        return self.hasher.check_needs_rehash(stored)


_PRODUCTION = Passwords()


def configure(app) -> Passwords:
    """The app's hasher, of the cost its ``PASSWORD_HASH_COST`` gives (unset: production's); the dummy hash is made
    now, not at an unknown user's first login."""
    passwords = Passwords(app.config.get("PASSWORD_HASH_COST")) if app.config.get("PASSWORD_HASH_COST") else _PRODUCTION
    passwords.dummy  # noqa: B018 - made at start, as the module-level hash was
    app.extensions[EXTENSION] = passwords
    return passwords


def current() -> Passwords:
    """The current app's hasher; the production one outside an app context."""
    if has_app_context():
        return current_app.extensions.get(EXTENSION, _PRODUCTION)
    return _PRODUCTION


def hash_password(password: str) -> str:
    return current().hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    return current().verify(stored, password)


def needs_rehash(stored: str) -> bool:
    return current().needs_rehash(stored)


def password_problem(password: str) -> str | None:
    """A Chinese reason the password is too weak, or None."""
    if len(password) < MIN_LENGTH:
        return f"密码至少 {MIN_LENGTH} 位"
    kinds = sum([any(c.isdigit() for c in password), any(c.isalpha() for c in password),
                 any(not c.isalnum() for c in password)])
    if kinds < 2:
        return "密码须包含字母、数字、符号中的至少两类"
    return None
