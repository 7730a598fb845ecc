"""A publisher may tick photos of an inspection to publish: their copies without metadata go out, never the
original, and only photos of the publisher's own part (issue 12 §1.2)."""
from __future__ import annotations

import io
import uuid

import pytest
from PIL import Image
from sqlalchemy import select

from backend.inspections.models import Section, SectionAnswer
from backend.media.models import Media
from backend.publication.models import PublishedPhoto
from tests.api.media import files
from tests.api.media.conftest import Uploader
from tests.api.publication.results_world import build_world

PUBLISH = "/api/v1/publication/inspections/{}/publish"
PREVIEW = "/api/v1/publication/inspections/{}/preview"
CORRECT = "/api/v1/publication/inspections/{}/correct"


@pytest.fixture()
def world(app, client, factory, auth, db_session):
    return build_world(app, client, factory, auth, db_session)


def _upload(client, world, user, seed: int, orientation: int = 6) -> str:
    """An officer's camera photo (EXIF with GPS and time), uploaded while the inspection is open."""
    data = files.photo(640, 480, seed=seed, exif=files.camera_exif(orientation=orientation))
    r = Uploader(client, world.headers(user)).upload(data, filename="门头.jpg")
    assert r.status_code in (200, 204), r.json
    return files.sha(data)


def _in_section(world, sha, department_id, item) -> str:
    """The submitted section names the photo at one of its check points."""
    f = world.field
    section = world.session.scalar(select(Section).where(Section.inspection_id == f.inspections[0].id,
                                                         Section.department_id == department_id))
    world.session.add(SectionAnswer(section_id=section.id, check_point_id=f.points(item)[0],
                                    data={"checked": True, "result": "pass",
                                          "photos": [{"id": str(uuid.uuid4()), "sha256": sha}]}))
    world.session.flush()
    return sha


def test_a_ticked_photo_goes_out_as_its_copy_without_metadata(client, world):
    f = world.field
    own = _upload(client, world, f.lead_user, 1)
    iid = world.submit(0)
    _in_section(world, own, f.lead_dept.id, f.lead_item)
    media = world.session.get(Media, own)
    assert media.public_sha256 and media.public_sha256 != own
    body = {"photos": [own]}
    preview = client.post(PREVIEW.format(iid), json=body, headers=world.headers(world.lead_publisher))
    assert preview.status_code == 200, preview.json
    assert preview.json["content"]["photos"] == [{"sha256": media.public_sha256,
                                                   "url": f"/api/public/photos/{media.public_sha256}"}]
    published = client.post(PUBLISH.format(iid), json=body, headers=world.headers(world.lead_publisher))
    assert published.status_code == 201, published.json
    assert published.json["content"] == preview.json["content"]
    # the public reads the copy without logging in; it carries no EXIF, GPS or time
    r = client.get(published.json["content"]["photos"][0]["url"])
    assert r.status_code == 200 and r.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(r.data)) as im:
        assert not im.getexif() and "exif" not in im.info and "icc_profile" not in im.info
    assert own not in r.get_data(as_text=False).hex()
    # the original is never public, nor a photo no published version names
    assert client.get(f"/api/public/photos/{own}").status_code == 404
    assert client.get(f"/api/public/photos/{'e5' * 32}").json["code"] == "photo.not_found"
    # a correction without the photo: the old version (superseded, still public) keeps it public
    fixed = client.post(CORRECT.format(iid), json={"change_note": "撤下照片，改为文字说明"},
                        headers=world.headers(world.lead_publisher))
    assert fixed.status_code == 201, fixed.json
    assert "photos" not in fixed.json["content"]
    assert client.get(published.json["content"]["photos"][0]["url"]).status_code == 200
    assert world.session.scalars(select(PublishedPhoto.result_id)).all() == [published.json["id"]]


def test_only_photos_of_the_publishers_own_part_may_be_ticked(client, world):
    f = world.field
    lead_photo = _upload(client, world, f.lead_user, 1)
    iid = world.submit(0)
    _in_section(world, lead_photo, f.lead_dept.id, f.lead_item)
    before = world.session.scalar(select(PublishedPhoto.sha256).limit(1))
    # a participating department may not publish the lead department's photo
    r = client.post(PUBLISH.format(iid), json={"photos": [lead_photo]}, headers=world.headers(world.other_publisher))
    assert r.status_code == 422 and r.json["code"] == "publication.bad_photos" and "照片" in r.json["message"]
    # a hash that is no photo of this inspection, and a malformed one
    r = client.post(PUBLISH.format(iid), json={"photos": ["ab" * 32]}, headers=world.headers(world.lead_publisher))
    assert r.status_code == 422 and r.json["code"] == "publication.bad_photos"
    r = client.post(PUBLISH.format(iid), json={"photos": ["xyz"]}, headers=world.headers(world.lead_publisher))
    assert r.status_code == 422 and "SHA-256" in str(r.json)
    r = client.post(PUBLISH.format(iid), json={"photos": [lead_photo] * 10},
                    headers=world.headers(world.lead_publisher))
    assert r.status_code == 422
    # a photo whose public copy is not made yet waits
    world.session.get(Media, lead_photo).public_sha256 = None
    world.session.flush()
    r = client.post(PUBLISH.format(iid), json={"photos": [lead_photo]}, headers=world.headers(world.lead_publisher))
    assert r.status_code == 409 and r.json["code"] == "publication.photos_processing"
    assert world.session.scalar(select(PublishedPhoto.sha256).limit(1)) == before is None


STATUS = "/api/v1/publication/inspections/{}"


def test_a_phone_photo_s_public_copy_is_made_when_it_is_first_ticked(client, world):
    """The app's photos (upright, no profile) have their copies made on first need: the status lists them as
    ready with no copy yet; a preview (or the publication) makes the copy, without metadata, in its request."""
    f = world.field
    own = _upload(client, world, f.lead_user, 4, orientation=1)
    iid = world.submit(0)
    _in_section(world, own, f.lead_dept.id, f.lead_item)
    media = world.session.get(Media, own)
    assert media.status == "ready" and media.thumb_sha256 is None and media.public_sha256 is None
    [photo] = client.get(STATUS.format(iid), headers=world.headers(world.lead_publisher)).json["photos"]
    assert photo["ready"] is True and photo["public_sha256"] is None
    preview = client.post(PUBLISH.format(iid), json={"photos": [own]}, headers=world.headers(world.lead_publisher))
    assert preview.status_code == 201, preview.json
    world.session.refresh(media)
    assert media.public_sha256 and media.public_sha256 != own and media.thumb_sha256
    assert preview.json["content"]["photos"] == [{"sha256": media.public_sha256,
                                                   "url": f"/api/public/photos/{media.public_sha256}"}]
    r = client.get(preview.json["content"]["photos"][0]["url"])
    assert r.status_code == 200
    with Image.open(io.BytesIO(r.data)) as im:
        assert not im.getexif() and "exif" not in im.info


def test_the_status_lists_the_photos_each_publisher_may_tick(client, world):
    f = world.field
    lead_photo = _upload(client, world, f.lead_user, 1)
    iid = world.submit(0)
    _in_section(world, lead_photo, f.lead_dept.id, f.lead_item)
    lead = client.get(STATUS.format(iid), headers=world.headers(world.lead_publisher))
    assert lead.status_code == 200, lead.json
    media = world.session.get(Media, lead_photo)
    [photo] = lead.json["photos"]
    assert photo["sha256"] == lead_photo and photo["ready"] is True
    assert photo["public_sha256"] == media.public_sha256
    assert photo["department"]["id"] == f.lead_dept.id and photo["check_point"] and photo["item"]
    assert lead.json["photos_max"] == 9
    # the lead publishes the submitted categories; a participant chooses its own
    assert lead.json["categories_editable"] is False
    other = client.get(STATUS.format(iid), headers=world.headers(world.other_publisher))
    assert other.status_code == 200 and other.json["photos"] == []
    assert other.json["categories_editable"] is True
    assert {"code": "no_problem", "label": "未发现问题"} in other.json["category_choices"]
    # a photo still being processed is listed, not ready
    media.public_sha256 = None
    world.session.flush()
    [photo] = client.get(STATUS.format(iid), headers=world.headers(world.lead_publisher)).json["photos"]
    assert photo["ready"] is False and photo["public_sha256"] is None


def test_the_publisher_sees_the_thumbnail_and_the_public_copy_of_a_photo_to_tick(client, world):
    """The office shows each photo to tick by /api/media/<sha256>/thumb and the preview's copy by …/public, read
    with the publisher's login (the photo named by the record, as a phone's push leaves it)."""
    from backend.actor import Actor
    from backend.media import services as media

    f = world.field
    sha = _upload(client, world, f.lead_user, 3)
    iid = world.submit(0)
    _in_section(world, sha, f.lead_dept.id, f.lead_item)
    media.add_references(world.session, [sha], iid, Actor.system("test"))
    world.session.flush()
    for path in (f"/api/media/{sha}/thumb", f"/api/media/{sha}/public"):
        r = client.get(path, headers=world.headers(world.lead_publisher))
        assert r.status_code == 200 and r.mimetype == "image/jpeg", path
    assert client.get(f"/api/media/{sha}/thumb").status_code == 401
