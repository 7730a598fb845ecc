"""Who is acting: carried from the request (or the CLI, or a job) into services and the audit log."""
from __future__ import annotations

import dataclasses
import getpass


@dataclasses.dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str
    role: str | None = None
    department_id: int | None = None
    region_code: str | None = None
    inspector_id: int | None = None
    address: str | None = None

    @classmethod
    def system(cls, label: str | None = None) -> "Actor":
        if label is None:
            try:
                label = f"cli:{getpass.getuser()}"
            except Exception:  # pragma: no cover - no user database in some containers
                label = "cli"
        return cls(user_id=None, label=label, role="sysadmin")

    @classmethod
    def of_user(cls, user, address: str | None = None) -> "Actor":
        return cls(user_id=user.id, label=f"{user.username}（{user.display_name}）", role=user.role,
                   department_id=user.department_id, region_code=user.region_code,
                   inspector_id=user.inspector_id, address=address)

    @property
    def is_system(self) -> bool:
        return self.user_id is None
