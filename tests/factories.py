"""Test data factories (Warehouse style): small, explicit, each returns a flushed row."""
from __future__ import annotations

import itertools
import random

from backend.auth.models import User
from backend.auth.passwords import Passwords
from backend.auth.roles import Role
from backend.directory.models import (CheckPoint, Department, Expert, Inspector, InspectorConflict, Item, Region,
                                      Target)
from backend.directory.rules import USCC_ALPHABET, tags_text, uscc_check_char
from tests.conftest import TEST_PASSWORD_COST

PASSWORD = "Passw0rd!"
PASSWORD_HASH = Passwords(TEST_PASSWORD_COST).hash(PASSWORD)  # the suite's apps' cost (tests/conftest.py)
_seq = itertools.count(1)


def make_uscc(rng: random.Random | None = None, region: str = "411203") -> str:
    rng = rng or random.Random()
    body = "91" + region + "".join(rng.choice(USCC_ALPHABET) for _ in range(9))
    return body + uscc_check_char(body)


class Factory:
    def __init__(self, session):
        self.session = session
        self.rng = random.Random(42)

    def _add(self, obj):
        self.session.add(obj)
        self.session.flush()
        return obj

    def region(self, code: str = "411203", name: str = "陕州区", level: str = "county", parent_code=None) -> Region:
        existing = self.session.get(Region, code)
        return existing or self._add(Region(code=code, name=name, level=level, parent_code=parent_code))

    def department(self, code: str | None = None, name: str | None = None) -> Department:
        n = next(_seq)
        code = code or f"D{n:04d}"
        return self._add(Department(code=code, name=name or f"测试部门{code}", short_name=code[:8]))

    def user(self, role: Role | str = Role.PLANNER, department: Department | None = None, *,
             username: str | None = None, inspector: Inspector | None = None, status: str = "active") -> User:
        role = Role(role)
        if department is None and role not in (Role.SYSADMIN, Role.SUPERVISOR):
            department = inspector.department if inspector else self.department()
        n = next(_seq)
        return self._add(User(username=username or f"{role.value}{n}", display_name=f"测试{role.label}{n}",
                              password_hash=PASSWORD_HASH, role=role.value,
                              department_id=department.id if department else None,
                              inspector_id=inspector.id if inspector else None, status=status))

    def item(self, department: Department | None = None, *, kind: str = "general", code: str | None = None,
             check_points: int = 2, **fields) -> Item:
        department = department or self.department()
        n = next(_seq)
        item = Item(code=code or f"IT-{n:05d}", category=fields.pop("category", "登记事项检查"),
                    name=fields.pop("name", f"测试抽查事项{n}"), object_types=fields.pop("object_types", ["enterprise"]),
                    kind=kind, methods=fields.pop("methods", ["onsite"]), legal_basis=fields.pop("legal_basis", "《条例》"),
                    department_id=department.id, ratio_cap_percent=fields.pop("ratio_cap_percent", 5 if kind == "general" else None),
                    **fields)
        for i in range(check_points):
            item.check_points.append(CheckPoint(seq=i + 1, text=f"检查内容{i + 1}", answer_type="compliance"))
        return self._add(item)

    def target(self, *, risk_class: str | None = "B", status: str = "active", region: Region | None = None,
               department: Department | None = None, tags: list[str] | None = None, **fields) -> Target:
        uscc = fields.pop("uscc", None) or make_uscc(self.rng)
        n = next(_seq)
        return self._add(Target(code=fields.pop("code", uscc), uscc=uscc, name=fields.pop("name", f"测试企业{n}有限公司"),
                                type=fields.pop("type", "enterprise"), risk_class=risk_class, status=status,
                                region_code=region.code if region else None, tags_text=tags_text(tags or []),
                                department_id=department.id if department else None, **fields))

    def inspector(self, department: Department | None = None, *, status: str = "active", **fields) -> Inspector:
        department = department or self.department()
        n = next(_seq)
        return self._add(Inspector(department_id=department.id, cert_no=fields.pop("cert_no", f"{department.code}-{n:06d}"),
                                   name=fields.pop("name", f"检查员{n}"), status=status, **fields))

    def conflict(self, inspector: Inspector, target: Target, reason: str = "亲属关系") -> InspectorConflict:
        return self._add(InspectorConflict(inspector_id=inspector.id, target_id=target.id, reason=reason))

    def expert(self, department: Department | None = None, **fields) -> Expert:
        department = department or self.department()
        n = next(_seq)
        return self._add(Expert(code=fields.pop("code", f"EX-{n:05d}"), name=fields.pop("name", f"专家{n}"),
                                department_id=department.id, **fields))


class AuthActions:
    """Log in as anyone without the password: a login (refresh family) is opened directly
    (login itself is tested separately). With no factory, it is committed in its own session."""

    def __init__(self, app, factory: Factory | None):
        self.app, self.factory = app, factory

    def pair(self, user: User):
        from backend.auth.services import start_session

        args = (self.app.extensions["shuangsui.tokens"], self.app.extensions["shuangsui.refresh"], user)
        if self.factory is not None:
            pair = start_session(self.factory.session, *args)
            self.factory.session.flush()
            return pair
        with self.app.extensions["shuangsui.db"].session_scope() as session:
            return start_session(session, *args)

    def token(self, user: User) -> str:
        return self.pair(user).access_token

    def headers(self, user: User) -> dict:
        return {"Authorization": f"Bearer {self.token(user)}"}

    def as_role(self, role: Role | str, department: Department | None = None, **kw) -> tuple[User, dict]:
        user = self.factory.user(role, department, **kw)
        return user, self.headers(user)


# --- directory helpers (tests/api/directory) -----------------------------------------------------------

def make_reg_no(rng: random.Random | None = None, region: str = "411203") -> str:
    """A 15-digit registration number with a valid GB 15624 check digit."""
    from backend.directory.rules import reg_no_check_digit

    rng = rng or random.Random()
    body = region + "".join(rng.choice("0123456789") for _ in range(8))
    return body + reg_no_check_digit(body)


def item_history(factory: Factory, target: Target, item: Item, on, source: str | None = "测试"):
    """The last inspection of ``target`` for ``item`` (target_item_history)."""
    from backend.directory.models import TargetItemHistory

    return factory._add(TargetItemHistory(target_id=target.id, item_id=item.id, last_inspected_on=on, source=source))


def audit_actions(session, entity_type: str, entity_id) -> list[str]:
    """The audit actions recorded for one entity, oldest first."""
    from sqlalchemy import select

    from backend.audit.models import AuditEntry

    return list(session.scalars(select(AuditEntry.action).where(
        AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id)).order_by(AuditEntry.id)))
