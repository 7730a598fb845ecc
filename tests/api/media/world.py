"""Media for the access table (tests/api/test_access_matrix.py): a stored photo named in department A's
section of the world's inspection, which A's linked officer takes part in, and an upload session in progress."""
from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from backend.actor import Actor
from backend.auth.roles import Role
from backend.db import utcnow
from backend.draws.models import GroupMember
from backend.inspections.models import Inspection, InspectionMember, Section
from backend.media import services, storage
from backend.media.models import Media, Upload
from tests.api.media import files


def media_values(app, factory, db_session, inspection_id: int, linked_inspector, lead_department) -> dict:
    media_dir = app.config["MEDIA_DIR"]
    data = files.photo(64, 48, quality=80)
    sha = storage.store_bytes(media_dir, data)
    thumb = storage.store_bytes(media_dir, files.photo(32, 24, quality=70))
    uploader = factory.user(Role.INSPECTOR)
    factory._add(Media(sha256=sha, kind="photo", media_type="image/jpeg", size=len(data), width=64, height=48,
                       status="ready", thumb_sha256=thumb, public_sha256=thumb, uploaded_by=uploader.id))
    # A's section names it (its officers, the lead, and the office view of the task's departments see it)
    factory._add(Section(inspection_id=inspection_id, department_id=lead_department.id, revs={}, rev=1, data={
        "outcome": {"code": "uncooperative", "photos": [{"id": "5e0c2a8e-1f3b-4d6a-8b9c-0a1b2c3d4e5f", "sha256": sha}]}}))
    services.add_references(db_session, [sha], inspection_id, Actor.system())
    inspection = db_session.get(Inspection, inspection_id)
    members = db_session.scalars(select(GroupMember).where(GroupMember.group_id == inspection.group_id,
                                                           GroupMember.department_id == lead_department.id)).all()
    if linked_inspector.id not in {m.inspector_id for m in members}:  # A's officer stands in for a member
        factory._add(InspectionMember(inspection_id=inspection_id, department_id=lead_department.id,
                                      out_inspector_id=members[0].inspector_id, in_inspector_id=linked_inspector.id))
    owner = factory.user(Role.INSPECTOR)
    upload_id = uuid.uuid4().hex
    (services.MediaSettings.from_config(app.config).uploads_dir).mkdir(parents=True, exist_ok=True)
    (services.MediaSettings.from_config(app.config).uploads_dir / upload_id).write_bytes(b"")
    factory._add(Upload(id=upload_id, user_id=owner.id, sha256="c" * 64, length=1000, media_type="image/jpeg",
                        kind="photo", tmp_name=upload_id, expires_at=utcnow() + dt.timedelta(hours=1)))
    return {"media": sha, "upload": upload_id, "new_sha": files.sha(uuid.uuid4().bytes)}
