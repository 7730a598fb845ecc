"""Helpers of the media tests: a logged-in officer and the upload protocol in a few calls."""
from __future__ import annotations

import base64

import pytest

from backend.auth.roles import Role
from tests.api.media import files

OCTETS = "application/offset+octet-stream"


class Uploader:
    def __init__(self, client, headers):
        self.client, self.headers = client, headers

    def create(self, data: bytes, media_type: str = "image/jpeg", *, sha256: str | None = None,
               length: int | None = None, **extra):
        body = {"sha256": sha256 or files.sha(data), "length": len(data) if length is None else length,
                "media_type": media_type, **extra}
        return self.client.post("/api/uploads", json=body, headers=self.headers)

    def create_tus(self, data: bytes, media_type: str = "image/jpeg", *, body: bytes | None = None,
                   sha256: str | None = None, **meta):
        pairs = {"sha256": sha256 or files.sha(data), "filetype": media_type, **meta}
        header = ",".join(f"{k} {base64.b64encode(str(v).encode()).decode()}" for k, v in pairs.items())
        headers = {**self.headers, "Upload-Length": str(len(data)), "Upload-Metadata": header,
                   "Tus-Resumable": "1.0.0"}
        if body is None:
            return self.client.post("/api/uploads", headers=headers)
        return self.client.post("/api/uploads", data=body, headers={**headers, "Content-Type": OCTETS})

    def patch(self, location: str, offset: int, chunk: bytes, **headers):
        return self.client.patch(location, data=chunk, headers={**self.headers, "Upload-Offset": str(offset),
                                                                "Content-Type": OCTETS, **headers})

    def offset(self, location: str) -> int:
        r = self.client.head(location, headers=self.headers)
        assert r.status_code == 200, r.status_code
        return int(r.headers["Upload-Offset"])

    def upload(self, data: bytes, media_type: str = "image/jpeg", chunk: int = 1 << 20, **extra):
        """The whole protocol: create, then PATCH chunk by chunk; returns the last answer."""
        r = self.create(data, media_type, **extra)
        if r.status_code != 201:
            return r
        location, offset = r.headers["Location"], 0
        while True:
            r = self.patch(location, offset, data[offset:offset + chunk])
            if r.status_code != 204:
                return r
            offset = int(r.headers["Upload-Offset"])

    def derive(self, sha256: str) -> None:
        """Ask for the photo's thumbnail, as an office screen does: a plain photo's copies are made now."""
        r = self.client.get(f"/api/media/{sha256}/thumb", headers=self.headers)
        assert r.status_code == 200, r.json

    def head_media(self, sha256: str):
        return self.client.head(f"/api/media/{sha256}", headers=self.headers)


def drawn(factory, auth, db_session, *, lead=4, other=2):
    """A drawn joint task: (scenario, its first inspection, that inspection's group members)."""
    from sqlalchemy import select

    from backend.actor import Actor
    from backend.draws import services as draws
    from backend.draws.models import GroupMember
    from backend.inspections.models import Inspection
    from tests.api.draws.conftest import build_scenario

    s = build_scenario(factory, auth, risk=("D",), per_class=2, strata={"D": {"num": 1, "den": 1}},
                       inspectors=(lead, other), group_load=2)
    actor = Actor.of_user(factory.user(Role.SYSADMIN))
    settings = draws.DrawSettings()
    draws.commit(db_session, actor, s.task.id, settings)
    draws.seed_and_draw(db_session, actor, s.task.id, settings, source="csprng")
    inspection = db_session.scalars(select(Inspection).where(Inspection.task_id == s.task.id)
                                    .order_by(Inspection.id)).first()
    members = db_session.scalars(select(GroupMember).where(GroupMember.group_id == inspection.group_id)
                                 .order_by(GroupMember.department_id, GroupMember.position)).all()
    return s, inspection, members


def on_duty(factory, db_session, member):
    """An account for a drawn group member: an officer with an inspection still open (who may upload)."""
    from backend.directory.models import Inspector

    inspector = db_session.get(Inspector, member.inspector_id)
    return factory.user(Role.INSPECTOR, inspector.department, inspector=inspector)


@pytest.fixture()
def duty(factory, auth, db_session):
    """(scenario, inspection, members) of a drawn task."""
    return drawn(factory, auth, db_session)


@pytest.fixture()
def officer(auth, factory, db_session, duty):
    """An officer taking part in an inspection still open: (user, headers)."""
    user = on_duty(factory, db_session, duty[2][0])
    return user, auth.headers(user)


@pytest.fixture()
def uploader(client, officer):
    return Uploader(client, officer[1])


@pytest.fixture()
def media_dir(app):
    return app.config["MEDIA_DIR"]
