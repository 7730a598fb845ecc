"""Issue 11 §4.4–4.5: a hash is not a permission; who may upload what; how much one user and one record may hold.

* reading a file takes reading a section (or the record, a signature) that names it, by the pull's rules;
* a reference counts only for a file its writer sent or could already read (else it waits for its writer's
  upload); an answer about a stored file says nothing the caller may not read;
* files are served under neutral names with the type found in them; an image's pixels must fit its bytes;
* only officers with an inspection still open upload; clips must be well-formed containers;
* unfinished uploads, unreferenced files and the files of one record are bounded, with clear codes.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import io
import struct
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from backend.actor import Actor
from backend.auth.roles import Role
from backend.inspections.models import Record
from backend.media import services, storage
from backend.media.models import Media, MediaRef
from tests.api.media import files
from tests.api.media.conftest import Uploader
from tests.field.conftest import build_field


@pytest.fixture()
def field(app, client, factory, auth, db_session):
    return build_field(app, client, factory, auth, db_session)


def _photo_of(field, user, seed: int, *, exif=None) -> tuple[bytes, str]:
    data = files.photo(320, 240, seed=seed, exif=exif)
    r = Uploader(field.client, field.auth.headers(user)).upload(data, filename="门头.jpg")
    assert r.status_code == 200, r.json
    return data, files.sha(data)


def _put_photo(field, user, department_id, item, sha, *, inspection=None):
    phone = field.phone(user)
    point = field.points(item)[0]
    phone.set_section((inspection or field.inspection).id, department_id,
                      {f"points.{point}.photos": [{"id": str(uuid.uuid4()), "sha256": sha}]})
    return phone.push()


def _get(field, user, sha, suffix=""):
    return field.client.get(f"/api/media/{sha}{suffix}", headers=field.auth.headers(user))


def _finalised(field, db_session):
    db_session.add(Record(inspection_id=field.inspection.id, state="signing", data={}, revs={}, rev=1,
                          content_hash="0" * 64))
    db_session.flush()


def test_reading_a_file_takes_reading_a_section_that_names_it(field, factory, db_session):
    """Before finalisation another department's officer downloaded a section's original photo (with its GPS)
    by its hash, though the pull hid the section: 200 where it must be 404."""
    _data, sha = _photo_of(field, field.lead_officer, seed=1, exif=files.camera_exif())
    assert _put_photo(field, field.lead_officer, field.lead_dept.id, field.lead_item, sha)[0]["status"] == "applied"
    member = field.other_officer                       # the same inspection, another department's section
    lead_planner = factory.user(Role.PLANNER, field.lead_dept)
    outsider = factory.user(Role.DEPT_ADMIN, factory.department())
    stranger = factory.user(Role.INSPECTOR, inspector=factory.inspector(field.lead_dept))

    readers = (field.lead_officer, field.lead_user, lead_planner, factory.user(Role.SUPERVISOR),
               factory.user(Role.SYSADMIN))
    for user in readers:
        assert [_get(field, user, sha, s).status_code for s in ("", "/thumb", "/public")] == [200, 200, 200], user.role
        assert field.client.head(f"/api/media/{sha}", headers=field.auth.headers(user)).status_code == 200
    phone = field.phone(member)
    phone.pull()
    assert all(s["department_id"] == field.other_dept.id
               for s in phone.docs["inspection"][field.inspection.id]["sections"])      # the pull hides it
    for user in (member, outsider, stranger):
        r = _get(field, user, sha)
        assert r.status_code == 404 and r.json["code"] == "media.not_found", user.role
        assert field.client.head(f"/api/media/{sha}", headers=field.auth.headers(user)).status_code == 404
    # once the lead has finalised the record, every member sees (and signs) all of it
    _finalised(field, db_session)
    assert _get(field, member, sha).status_code == 200
    assert _get(field, stranger, sha).status_code == 404


def test_declaring_a_known_hash_says_nothing_of_the_file(field, factory, db_session, app):
    """``length: 1`` with a known hash answered the file's GPS, name and uploader to anyone who may upload."""
    data, sha = _photo_of(field, field.lead_officer, seed=2, exif=files.camera_exif())
    _put_photo(field, field.lead_officer, field.lead_dept.id, field.lead_item, sha)
    assert db_session.get(Media, sha).exif_gps                                          # processed: it has a fix
    other = Uploader(field.client, field.auth.headers(field.other_officer))
    r = other.create(data, sha256=sha, length=1)
    assert r.status_code == 201 and r.json["complete"] is False and r.json["media"] is None, r.json
    assert "exif" not in r.get_data(as_text=True) and "门头" not in r.get_data(as_text=True)
    # the bytes prove possession: the same upload then completes, saying what the bytes are, never who sent them
    r = other.upload(data)
    assert r.status_code == 200 and r.json["complete"] is True, r.json
    assert set(r.json["media"]) >= {"sha256", "kind", "media_type", "exif_gps"}
    assert "uploaded_by" not in r.json["media"] and "filename" not in r.json["media"]
    # one who may read the file need not send it again
    lead = Uploader(field.client, field.auth.headers(field.lead_user))
    r = lead.create(data)
    assert r.status_code == 200 and r.json["complete"] is True


def test_a_known_hash_in_ones_own_section_gives_nothing(field, factory, db_session, app):
    """Putting a known hash into one's own section made the file readable (403 → 200) and kept it from clean-up."""
    data, sha = _photo_of(field, field.lead_officer, seed=3, exif=files.camera_exif())   # sent, never used
    thief = field.other_officer
    results = _put_photo(field, thief, field.other_dept.id, field.other_item, sha)
    assert results[0]["status"] == "applied"                            # nothing is said of the file either
    assert _get(field, thief, sha).status_code == 404
    phone = field.phone(thief)
    phone.pull()
    assert phone.docs["inspection"][field.inspection.id]["media"] == {sha: None}   # no fix, no status: not arrived
    lead = field.phone(field.lead_user)
    lead.pull()
    assert lead.docs["inspection"][field.inspection.id]["media"] == {sha: None}    # the lead sees no photo there
    [ref] = db_session.scalars(select(MediaRef).where(MediaRef.sha256 == sha)).all()
    assert (ref.bound, ref.added_by) == (False, thief.id)
    # the clean-up is not held back by such a reference
    settings = services.MediaSettings.from_config(app.config)
    later = dt.datetime.now(dt.timezone.utc) + settings.orphan_grace + dt.timedelta(days=1)
    assert services.cleanup(db_session, settings, Actor.system(), now=later)["media_deleted"] >= 1
    assert services.info(db_session, sha) is None and not storage.exists(settings.media_dir, sha)


def test_a_reference_before_its_upload_waits_for_its_writer(field, db_session):
    """A phone pushes the record first and uploads the photo after: the reference binds when its writer
    sends the bytes (not when anyone else does)."""
    data = files.photo(320, 240, seed=4)
    sha = files.sha(data)
    writer = field.lead_officer
    assert _put_photo(field, writer, field.lead_dept.id, field.lead_item, sha)[0]["status"] == "applied"
    [ref] = db_session.scalars(select(MediaRef).where(MediaRef.sha256 == sha)).all()
    assert (ref.bound, ref.added_by) == (False, writer.id)
    # someone else with the same bytes sends them: the writer's reference still waits
    assert Uploader(field.client, field.auth.headers(field.other_officer)).upload(data).status_code == 200
    db_session.refresh(ref)
    assert ref.bound is False and _get(field, field.lead_user, sha).status_code == 404
    # the writer's phone sends them: bound, the group's lead reads the photo
    assert Uploader(field.client, field.auth.headers(writer)).upload(data).status_code == 200
    db_session.refresh(ref)
    assert ref.bound is True and _get(field, field.lead_user, sha).status_code == 200
    # a plain photo: ready, its thumbnail made when first asked for; the pull names it once made
    lead = field.phone(field.lead_user)
    lead.pull()
    entry = lead.docs["inspection"][field.inspection.id]["media"][sha]
    assert entry["status"] == "ready" and entry["thumb_sha256"] is None
    thumb = _get(field, field.lead_user, sha, "/thumb")
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    db_session.expire_all()
    assert services.info(db_session, sha).thumb_sha256 == files.sha(thumb.data)


def test_files_are_served_under_neutral_names_with_the_type_found_in_them(field):
    """A JPEG with HTML appended kept the name ``invoice.html``."""
    data = files.photo(320, 240, seed=5) + b"<html><script>alert(1)</script></html>"
    headers = field.auth.headers(field.lead_officer)
    r = Uploader(field.client, headers).upload(data, filename="invoice.html")
    assert r.status_code == 200, r.json
    sha = files.sha(data)
    r = field.client.get(f"/api/media/{sha}", headers=headers)
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    disposition = r.headers["Content-Disposition"]
    assert "invoice" not in disposition and f'filename={sha[:16]}.jpg' in disposition.replace('"', "")
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_an_image_claiming_more_pixels_than_its_bytes_can_hold_is_refused(field, db_session):
    """A 331-byte JPEG claiming 8000 × 6214 (49.7 MP, under the 50 MP limit) was accepted."""
    small = io.BytesIO()
    Image.new("L", (8, 8), 128).save(small, "JPEG")
    data = bytearray(small.getvalue())
    struct.pack_into(">HH", data, data.find(b"\xff\xc0") + 5, 6214, 8000)
    data = bytes(data)
    r = Uploader(field.client, field.auth.headers(field.lead_officer)).upload(data)
    assert r.status_code == 422 and r.json["code"] == "media.too_many_pixels", r.json
    assert "8000×6214" in r.json["message"] and "解压炸弹" in r.json["message"]
    assert services.info(db_session, files.sha(data)) is None
    # a real photo of an empty wall is far from that: kept
    wall = io.BytesIO()
    Image.new("RGB", (4000, 3000), (240, 240, 236)).save(wall, "JPEG", quality=85)
    assert Uploader(field.client, field.auth.headers(field.lead_officer)).upload(wall.getvalue()).status_code == 200


def test_who_may_upload(field, factory, db_session, client, auth):
    """A planner of an unrelated department stored random bytes behind an ftyp header as a video."""
    clip = files.mp4()[:24] + files.random_bytes(5000, seed=9)
    for role, department in ((Role.PLANNER, factory.department()), (Role.DEPT_ADMIN, field.lead_dept),
                             (Role.SYSADMIN, None), (Role.SUPERVISOR, None)):
        _, headers = auth.as_role(role, department)
        r = Uploader(client, headers).upload(files.mp4(), "video/mp4")
        assert r.status_code == 403 and r.json["code"] == "forbidden.role", (role, r.json)
        photo = files.photo(64, 48)
        r = Uploader(client, headers).create_tus(photo, body=photo)   # the whole file in one request
        assert r.status_code == 403 and r.json["code"] == "forbidden.role", (role, r.json)
    idle = factory.user(Role.INSPECTOR, inspector=factory.inspector(field.lead_dept))   # in no drawn group
    r = Uploader(client, auth.headers(idle)).upload(files.photo(64, 48))
    assert r.status_code == 403 and r.json["code"] == "upload.no_inspection"
    photo = files.photo(64, 48, seed=5)
    r = Uploader(client, auth.headers(idle)).create_tus(photo, body=photo)
    assert r.status_code == 403 and r.json["code"] == "upload.no_inspection"
    officer = Uploader(client, auth.headers(field.lead_officer))
    r = officer.upload(clip, "video/mp4")
    assert r.status_code == 422 and r.json["code"] == "media.bad_container", r.json
    assert officer.upload(files.mp4(), "video/mp4").status_code == 200
    # once the officer's inspections are all submitted, nothing needs uploading any more
    for inspection in field.inspections:
        inspection.status = "completed"
    db_session.flush()
    r = officer.upload(files.photo(64, 48, seed=8))
    assert r.status_code == 403 and r.json["code"] == "upload.no_inspection"
    photo = files.photo(64, 48, seed=8)
    r = officer.create_tus(photo, body=photo)
    assert r.status_code == 403 and r.json["code"] == "upload.no_inspection"


def test_unfinished_uploads_are_bounded_in_bytes_per_user(field):
    """50 sessions of 200 MB reserved 10 GB for one account."""
    officer = Uploader(field.client, field.auth.headers(field.lead_officer))
    answers = [officer.create(b"", "video/mp4", sha256=f"{n:064x}", length=200 << 20) for n in range(1, 7)]
    assert [r.status_code for r in answers] == [201] * 5 + [429]
    assert answers[-1].json["code"] == "upload.reserved_full"
    assert answers[-1].json["details"] == {"reserved": 1000 << 20, "length": 200 << 20, "limit": 1024 << 20,
                                           "retry_after": 60}
    field.client.delete(answers[0].headers["Location"], headers=officer.headers)
    assert officer.create(b"", "video/mp4", sha256=f"{7:064x}", length=200 << 20).status_code == 201


def test_files_no_record_uses_are_bounded_per_user(field, app):
    settings = services.MediaSettings.from_config(app.config)
    app.extensions["shuangsui.media"] = dataclasses.replace(settings, max_unreferenced_files=2)
    try:
        officer = Uploader(field.client, field.auth.headers(field.lead_officer))
        shas = []
        for seed in (11, 12):
            data = files.photo(64, 48, seed=seed)
            assert officer.upload(data).status_code == 200
            shas.append(files.sha(data))
        r = officer.upload(files.photo(64, 48, seed=13))
        assert r.status_code == 429 and r.json["code"] == "upload.unreferenced_full", r.json
        assert r.json["details"]["files"] == 2 and r.json["details"]["max_files"] == 2
        photo = files.photo(64, 48, seed=14)
        r = officer.create_tus(photo, body=photo)   # the whole file in one request: the same bound
        assert r.status_code == 429 and r.json["code"] == "upload.unreferenced_full", r.json
        assert r.json["details"]["files"] == 2 and r.json["details"]["bytes"] == sum(
            len(files.photo(64, 48, seed=seed)) for seed in (11, 12))
        # the record refers to them: room again
        phone = field.phone(field.lead_officer)
        point = field.points(field.lead_item)[0]
        phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{point}.photos": [
            {"id": str(uuid.uuid4()), "sha256": sha} for sha in shas]})
        assert phone.push()[0]["status"] == "applied"
        assert officer.upload(files.photo(64, 48, seed=13)).status_code == 200
    finally:
        app.extensions["shuangsui.media"] = settings


def test_the_files_of_one_record_are_bounded(field, app, monkeypatch):
    monkeypatch.setitem(app.config, "MEDIA_MAX_FILES_PER_INSPECTION", 3)
    phone = field.phone(field.lead_officer)
    points = field.points(field.lead_item)
    photo = lambda n: {"id": str(uuid.uuid4()), "sha256": f"{n:064x}"}  # noqa: E731 - not uploaded yet
    phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{points[0]}.photos": [photo(1), photo(2)]})
    phone.set_section(field.inspection.id, field.lead_dept.id, {f"points.{points[1]}.photos": [photo(3), photo(4)]})
    first, second = phone.push()
    assert first["status"] == "applied"
    assert second["status"] == "rejected" and second["code"] == "media.inspection_full", second
    assert second["details"] == {"limit": 3, "referenced": 2, "adding": 2}
